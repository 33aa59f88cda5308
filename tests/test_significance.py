"""Tests of surrogate and analytic significance for transfer entropy, and of Benjamini-Hochberg."""

import numpy as np
import pytest
from scipy import stats

from infoplane import estimators as est


def independent_pair(seed, n_steps=3000):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n_steps), rng.integers(0, 2, n_steps)


# Surrogate test of one pair


def test_lagged_copy_is_significant():
    rng = np.random.default_rng(0)
    source = (rng.random(3000) < 0.3).astype(int)
    target = np.concatenate([[0], source[:-1]])
    result = est.transfer_entropy_significance(source, target, n_surrogates=200, random_state=1)
    assert result.p_value < 0.01
    assert result.p_value == pytest.approx(1 / 201)
    assert result.te == pytest.approx(est.entropy(source), abs=0.01)
    assert result.bias_corrected == pytest.approx(result.te - result.surrogate_mean)
    assert result.n_surrogates == 200


def test_independent_series_are_not_significant():
    results = [
        est.transfer_entropy_significance(*independent_pair(seed), n_surrogates=100, random_state=seed)
        for seed in range(20)
    ]
    assert sum(result.p_value > 0.05 for result in results) >= 17
    for result in results:
        assert abs(result.bias_corrected) < 0.01
        assert result.surrogate_mean > 0


def test_p_value_counts_surrogates_at_or_above():
    source, target = independent_pair(2, n_steps=500)
    result = est.transfer_entropy_significance(source, target, n_surrogates=50, random_state=3)
    orders = est.surrogate_permutations(50, 500, random_state=3)
    surrogates = np.array([est.transfer_entropy(source[order], target) for order in orders])
    assert result.p_value == (1 + np.sum(surrogates >= result.te)) / 51
    assert result.surrogate_mean == pytest.approx(surrogates.mean(), abs=1e-15)
    assert result.surrogate_std == pytest.approx(surrogates.std(), abs=1e-15)


def test_explicit_permutations_equal_seeded():
    source, target = independent_pair(4, n_steps=400)
    rng = np.random.default_rng(5)
    permutations = np.stack([rng.permutation(400) for _ in range(30)])
    seeded = est.transfer_entropy_significance(source, target, n_surrogates=30, random_state=5, k=2)
    explicit = est.transfer_entropy_significance(source, target, permutations=permutations, k=2)
    assert explicit == seeded


def test_trials_share_one_permutation():
    rng = np.random.default_rng(6)
    source, target = rng.integers(0, 2, (3, 200)), rng.integers(0, 2, (3, 200))
    permutations = est.surrogate_permutations(10, 200, random_state=7)
    result = est.transfer_entropy_significance(source, target, permutations=permutations)
    surrogates = [est.transfer_entropy(source[:, order], target) for order in permutations]
    assert result.surrogate_mean == pytest.approx(np.mean(surrogates), abs=1e-15)


def test_rejects_invalid_permutations():
    source, target = independent_pair(8, n_steps=20)
    repeated = np.tile(np.arange(20), (3, 1))
    repeated[1, 0] = 1
    with pytest.raises(ValueError, match="permutations row 1 is not a permutation of 0..19"):
        est.transfer_entropy_significance(source, target, permutations=repeated)
    with pytest.raises(ValueError, match=r"shape \(n_surrogates, 20\).*got dtype int64 and shape \(3, 19\)"):
        est.transfer_entropy_significance(source, target, permutations=np.zeros((3, 19), np.int64))
    with pytest.raises(ValueError, match="integer array.*got dtype float64"):
        est.transfer_entropy_significance(source, target, permutations=np.zeros((3, 20)))
    with pytest.raises(ValueError, match="either permutations or random_state"):
        est.transfer_entropy_significance(source, target, random_state=1, permutations=np.tile(np.arange(20), (3, 1)))
    with pytest.raises(ValueError, match="n_surrogates=5 disagrees with the 3 rows"):
        est.transfer_entropy_significance(source, target, n_surrogates=5, permutations=np.tile(np.arange(20), (3, 1)))
    with pytest.raises(ValueError, match="n_surrogates must be an integer >= 1, got 0"):
        est.transfer_entropy_significance(source, target, n_surrogates=0)


# Surrogates of the whole matrix


def test_matrix_surrogates_share_one_permutation():
    rng = np.random.default_rng(9)
    sources, targets = rng.integers(0, 2, (300, 4)), rng.integers(0, 2, (300, 3))
    permutations = est.surrogate_permutations(5, 300, random_state=10)
    surrogates = est.transfer_entropy_matrix_surrogates(sources, targets, permutations=permutations, delay=0)
    assert surrogates.shape == (5, 4, 3)
    for s, order in enumerate(permutations):
        for i in range(4):
            for j in range(3):
                expected = est.transfer_entropy(sources[order, i], targets[:, j], delay=0)
                assert surrogates[s, i, j] == pytest.approx(expected, abs=1e-9)
    seeded = est.transfer_entropy_matrix_surrogates(sources, targets, n_surrogates=5, random_state=10, delay=0)
    np.testing.assert_array_equal(seeded, surrogates)


def test_matrix_surrogates_null_of_layer_mean():
    rng = np.random.default_rng(11)
    sources = rng.integers(0, 2, (2000, 6))
    targets = np.vstack([[0] * 6, sources[:-1]]) ^ (rng.random((2000, 6)) < 0.4)
    observed_mean = est.transfer_entropy_matrix(sources, targets).mean()
    surrogates = est.transfer_entropy_matrix_surrogates(sources, targets, n_surrogates=40, random_state=12)
    layer_means = surrogates.mean(axis=(1, 2))
    assert np.all(layer_means < observed_mean)


# Analytic chi-square floor


def test_degrees_of_freedom():
    assert est.te_degrees_of_freedom() == 2
    assert est.te_degrees_of_freedom(k=2, l=1) == 4
    assert est.te_degrees_of_freedom(k=1, l=2, source_alphabet=3, target_alphabet=2) == 8 * 1 * 2
    with pytest.raises(ValueError, match="source_alphabet must be an integer >= 2, got 1"):
        est.te_degrees_of_freedom(source_alphabet=1)


def test_analytic_p_value_and_floor():
    floor = est.analytic_te_floor(1000, 2, alpha=0.05)
    assert floor == pytest.approx(stats.chi2.isf(0.05, 2) / (2000 * np.log(2)))
    assert est.analytic_te_p_value(floor, 1000, 2) == pytest.approx(0.05)
    assert est.analytic_te_p_value(0.0, 1000, 2) == 1.0
    floor_nats = est.analytic_te_floor(1000, 2, base=np.e)
    assert floor_nats == pytest.approx(floor * np.log(2))


def test_analytic_p_value_is_vectorised():
    te = np.array([[0.0, 0.001], [np.nan, 0.1]])
    p_values = est.analytic_te_p_value(te, 5000, 2)
    assert p_values.shape == (2, 2)
    assert np.isnan(p_values[1, 0])
    assert p_values[0, 0] == 1.0
    assert p_values[1, 1] < 1e-100
    assert isinstance(est.analytic_te_p_value(0.001, 5000, 2), float)


def test_analytic_p_values_track_surrogates():
    differences = []
    for seed in range(12):
        source, target = independent_pair(100 + seed, n_steps=4000)
        result = est.transfer_entropy_significance(source, target, n_surrogates=200, random_state=seed)
        analytic = est.analytic_te_p_value(result.te, 3999, est.te_degrees_of_freedom())
        differences.append(analytic - result.p_value)
    assert np.mean(np.abs(differences)) < 0.1
    assert abs(np.mean(differences)) < 0.05


def test_analytic_floor_matches_surrogate_quantile():
    source, target = independent_pair(13, n_steps=4000)
    surrogates = est.transfer_entropy_matrix_surrogates(
        source[:, None], target[:, None], n_surrogates=400, random_state=14
    )
    floor = est.analytic_te_floor(3999, est.te_degrees_of_freedom(), alpha=0.05)
    assert np.quantile(surrogates, 0.95) == pytest.approx(floor, rel=0.25)


def test_analytic_rejects_bad_alpha():
    with pytest.raises(ValueError, match=r"alpha must be a significance level strictly between 0 and 1 \(such as 0.05\), got 1.5"):
        est.analytic_te_floor(100, 2, alpha=1.5)
    with pytest.raises(ValueError, match="n_observations must be an integer >= 1, got 0"):
        est.analytic_te_p_value(0.1, 0, 2)


# Benjamini-Hochberg


def test_benjamini_hochberg_hand_worked():
    # Sorted: 0.005, 0.01, 0.03, 0.04; m p / rank = 0.02, 0.02, 0.04, 0.04 (already monotone).
    adjusted = est.benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(adjusted[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjusted[4])
    # m p / rank = 0.06, 0.045, 0.5: the step-up minimum lowers the first to 0.045.
    np.testing.assert_allclose(est.benjamini_hochberg([0.02, 0.03, 0.5]), [0.045, 0.045, 0.5])
    np.testing.assert_allclose(est.benjamini_hochberg([0.9, 0.8]), [0.9, 0.9])


def test_benjamini_hochberg_matches_scipy():
    p_values = np.random.default_rng(15).random((4, 5)) ** 3
    adjusted = est.benjamini_hochberg(p_values)
    assert adjusted.shape == (4, 5)
    np.testing.assert_allclose(adjusted.ravel(), stats.false_discovery_control(p_values.ravel()))


def test_benjamini_hochberg_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\].*from 0.1 to 1.5"):
        est.benjamini_hochberg([0.1, 1.5])
