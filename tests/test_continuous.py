"""Tests of the Gaussian and KSG estimators against closed-form values and a brute-force KSG."""

import math
import warnings

import numpy as np
import pytest
from scipy.special import digamma

from infoplane.estimators import (
    continuous_conditional_mutual_information,
    continuous_mutual_information,
    continuous_transfer_entropy,
)
from infoplane.estimators.continuous import _ksg_nats

# Sampling spread of each method at the sample sizes below, with margin.
TOLERANCE = {"gaussian": 0.02, "ksg": 0.04}


def _correlated_pair(rho, n_samples, rng):
    x, noise = rng.standard_normal((2, n_samples))
    return x, rho * x + math.sqrt(1 - rho**2) * noise


def _coupled_process(a, c, n_steps, rng):
    """Y_{t+1} = a Y_t + c X_t + e_t with X and e independent standard normal."""
    x, noise = rng.standard_normal((2, n_steps))
    y = np.zeros(n_steps)
    for t in range(n_steps - 1):
        y[t + 1] = a * y[t] + c * x[t] + noise[t]
    return x, y


def _brute_force_ksg(x, y, z, k):
    """KSG algorithm 1 (Frenzel-Pompe form when z has columns) from full max-norm distance matrices."""

    def distances(points):
        return np.max(np.abs(points[:, None, :] - points[None, :, :]), axis=2)

    joint = distances(np.hstack([x, y, z]))
    np.fill_diagonal(joint, np.inf)
    radii = np.sort(joint, axis=1)[:, k - 1]

    def count(points):
        within = distances(points) < radii[:, None]
        np.fill_diagonal(within, False)
        return within.sum(axis=1)

    if z.shape[1] == 0:
        return digamma(k) + digamma(len(x)) - np.mean(digamma(count(x) + 1) + digamma(count(y) + 1))
    n_xz, n_yz, n_z = count(np.hstack([x, z])), count(np.hstack([y, z])), count(z)
    return digamma(k) - np.mean(digamma(n_xz + 1) + digamma(n_yz + 1) - digamma(n_z + 1))


@pytest.mark.parametrize("method", ["gaussian", "ksg"])
def test_mi_correlated_gaussians(method):
    rng = np.random.default_rng(0)
    x, y = _correlated_pair(0.8, 5000, rng)
    expected = -0.5 * math.log2(1 - 0.8**2)
    assert continuous_mutual_information(x, y, method=method, random_state=1) == pytest.approx(
        expected, abs=TOLERANCE[method]
    )


@pytest.mark.parametrize("method", ["gaussian", "ksg"])
def test_mi_multivariate_pairs_add(method):
    rng = np.random.default_rng(1)
    x1, y1 = _correlated_pair(0.6, 5000, rng)
    x2, y2 = _correlated_pair(0.9, 5000, rng)
    expected = -0.5 * (math.log2(1 - 0.6**2) + math.log2(1 - 0.9**2))
    value = continuous_mutual_information(np.column_stack([x1, x2]), np.column_stack([y1, y2]), method=method, random_state=2)
    assert value == pytest.approx(expected, abs=2 * TOLERANCE[method])


@pytest.mark.parametrize("method", ["gaussian", "ksg"])
def test_cmi_shared_cause_and_residual_correlation(method):
    rng = np.random.default_rng(2)
    z = rng.standard_normal(5000)
    a, b = _correlated_pair(0.7, 5000, rng)
    expected = -0.5 * math.log2(1 - 0.7**2)
    value = continuous_conditional_mutual_information(z + a, z + b, z, method=method, random_state=3)
    assert value == pytest.approx(expected, abs=TOLERANCE[method])

    independent = rng.standard_normal(5000)
    value = continuous_conditional_mutual_information(z + a, z + independent, z, method=method, random_state=3)
    assert value == pytest.approx(0.0, abs=TOLERANCE[method])


@pytest.mark.parametrize("method", ["gaussian", "ksg"])
def test_te_coupled_linear_process(method):
    rng = np.random.default_rng(3)
    x, y = _coupled_process(a=0.5, c=0.8, n_steps=8000, rng=rng)
    expected = 0.5 * math.log2((0.8**2 * 1.0 + 1.0) / 1.0)
    forward = continuous_transfer_entropy(x, y, method=method, random_state=4)
    reverse = continuous_transfer_entropy(y, x, method=method, random_state=4)
    assert forward == pytest.approx(expected, abs=TOLERANCE[method])
    assert reverse == pytest.approx(0.0, abs=TOLERANCE[method])


@pytest.mark.parametrize(("k", "l", "delay"), [(1, 1, 1), (2, 3, 2), (3, 1, 0), (1, 2, 4)])
def test_te_embedding_matches_hand_built_cmi(k, l, delay):
    rng = np.random.default_rng(4)
    source = rng.standard_normal((3, 60))
    target = np.cumsum(rng.standard_normal((3, 60)), axis=1) + 0.5 * np.roll(source, 1, axis=1)
    rows_next, rows_source, rows_past = [], [], []
    first = max(k - 1, delay + l - 2)
    for trial in range(3):
        for t in range(first, 59):
            rows_next.append([target[trial, t + 1]])
            rows_source.append([source[trial, t + 1 - delay - i] for i in range(l - 1, -1, -1)])
            rows_past.append([target[trial, t - i] for i in range(k - 1, -1, -1)])
    expected = continuous_conditional_mutual_information(
        np.array(rows_next), np.array(rows_source), np.array(rows_past), method="gaussian"
    )
    value = continuous_transfer_entropy(source, target, k=k, l=l, delay=delay, method="gaussian")
    assert value == pytest.approx(expected, abs=1e-12)


def test_ksg_kernel_matches_brute_force():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 2))
    y = x[:, :1] + rng.standard_normal((300, 1))
    z = rng.standard_normal((300, 1)) + y
    for condition in (np.empty((300, 0)), z):
        for k in (1, 4):
            assert _ksg_nats(x, y, condition, k) == pytest.approx(_brute_force_ksg(x, y, condition, k), abs=1e-12)


def test_ksg_public_matches_brute_force_on_normalised_data():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((400, 1)) * 3.0 + 1.0
    y = x + rng.standard_normal((400, 1))
    normalised = [(v - v.mean()) / v.std() for v in (x, y)]
    expected = _brute_force_ksg(*normalised, np.empty((400, 0)), 4) / math.log(2)
    assert continuous_mutual_information(x, y, random_state=0) == pytest.approx(expected, abs=1e-9)


def test_ksg_duplicated_rows_stay_finite():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4, size=1000)
    y = x + rng.integers(0, 2, size=1000)
    value = continuous_mutual_information(x, y, random_state=0)
    assert np.isfinite(value)
    assert value > 0.5
    te = continuous_transfer_entropy(x, np.roll(x, 1), random_state=0)
    assert np.isfinite(te)


@pytest.mark.parametrize("method", ["gaussian", "ksg"])
def test_integer_input_equals_float_copy(method):
    rng = np.random.default_rng(8)
    x = rng.integers(-50, 50, size=(500, 2))
    y = x[:, :1] + rng.integers(-20, 20, size=(500, 1))
    by_int = continuous_mutual_information(x, y, method=method, random_state=5)
    by_float = continuous_mutual_information(x.astype(float), y.astype(float), method=method, random_state=5)
    assert by_int == by_float
    te_int = continuous_transfer_entropy(x[:, 0], y[:, 0], method=method, random_state=5)
    te_float = continuous_transfer_entropy(x[:, 0].astype(float), y[:, 0].astype(float), method=method, random_state=5)
    assert te_int == te_float


def test_ksg_constant_unit_adds_nothing():
    rng = np.random.default_rng(9)
    x, y = _correlated_pair(0.5, 1000, rng)
    with_dead = np.column_stack([x, np.full(1000, 3.0)])
    assert continuous_mutual_information(with_dead, y, random_state=0) == continuous_mutual_information(
        x, y, random_state=0
    )
    assert continuous_mutual_information(np.zeros(1000), y, random_state=0) == 0.0
    assert continuous_conditional_mutual_information(x, y, np.ones(1000), random_state=0) == (
        continuous_mutual_information(x, y, random_state=0)
    )
    assert continuous_transfer_entropy(x, np.full(1000, 2.0), random_state=0) == 0.0
    assert continuous_transfer_entropy(np.full(1000, 2.0), y, random_state=0) == 0.0


def test_gaussian_constant_unit_warns_and_adds_nothing():
    rng = np.random.default_rng(10)
    x, y = _correlated_pair(0.5, 1000, rng)
    with_dead = np.column_stack([np.full(1000, 3.0), x])
    with pytest.warns(RuntimeWarning, match=r"x: dropped 1 of 2 columns \(indices \[0\]\)"):
        value = continuous_mutual_information(with_dead, y, method="gaussian")
    assert value == pytest.approx(continuous_mutual_information(x, y, method="gaussian"), abs=1e-12)
    with pytest.warns(RuntimeWarning, match="dropped 1 of 1 columns"):
        assert continuous_transfer_entropy(x, np.full(1000, 2.0), method="gaussian") == 0.0


def test_gaussian_rank_deficient_columns_dropped():
    rng = np.random.default_rng(11)
    x, y = _correlated_pair(0.5, 1000, rng)
    other = rng.standard_normal(1000)
    redundant = np.column_stack([x, other, 2.0 * x - other])
    with pytest.warns(RuntimeWarning, match=r"x: dropped 1 of 3 columns"):
        value = continuous_mutual_information(redundant, y, method="gaussian")
    expected = continuous_mutual_information(np.column_stack([x, other]), y, method="gaussian")
    assert np.isfinite(value)
    assert value == pytest.approx(expected, abs=1e-9)


def test_gaussian_identical_variables_infinite():
    x = np.random.default_rng(12).standard_normal(100)
    with pytest.warns(RuntimeWarning, match="infinite"):
        assert continuous_mutual_information(x, 2 * x + 1, method="gaussian") == math.inf


def test_base_converts_units():
    rng = np.random.default_rng(13)
    x, y = _correlated_pair(0.6, 500, rng)
    for method in ("gaussian", "ksg"):
        bits = continuous_mutual_information(x, y, method=method, random_state=0)
        nats = continuous_mutual_information(x, y, method=method, base=math.e, random_state=0)
        assert nats == pytest.approx(bits * math.log(2), rel=1e-12)


def test_seeded_noise_is_reproducible():
    rng = np.random.default_rng(14)
    x, y = _correlated_pair(0.6, 500, rng)
    first = continuous_transfer_entropy(x, y, random_state=np.random.default_rng(3))
    second = continuous_transfer_entropy(x, y, random_state=np.random.default_rng(3))
    assert first == second


def test_nan_input_rejected():
    x = np.zeros((10, 2))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains 1 non-finite .* index \(4, 1\)"):
        continuous_mutual_information(x, np.zeros(10))
    series = np.ones(20)
    series[[3, 7]] = np.inf
    with pytest.raises(ValueError, match=r"target contains 2 non-finite .* index \(3,\)"):
        continuous_transfer_entropy(np.arange(20.0), series)


def test_mismatched_sample_counts_rejected():
    with pytest.raises(ValueError, match="x has 10, y has 9"):
        continuous_mutual_information(np.arange(10.0), np.arange(9.0))
    with pytest.raises(ValueError, match="x has 10, y has 10, z has 8"):
        continuous_conditional_mutual_information(np.arange(10.0), np.arange(10.0), np.arange(8.0))
    with pytest.raises(ValueError, match=r"same shape .* got \(1, 20\) and \(1, 19\)"):
        continuous_transfer_entropy(np.arange(20.0), np.arange(19.0))


def test_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match=r"method must be one of \['gaussian', 'ksg'\], got 'kernel'"):
        continuous_mutual_information(np.arange(10.0), np.arange(10.0), method="kernel")
    with pytest.raises(ValueError, match=r"method must be one of"):
        continuous_transfer_entropy(np.arange(10.0), np.arange(10.0), method="KSG")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_neighbors": 0}, ValueError, "n_neighbors must be an integer >= 1, got 0"),
        ({"n_neighbors": 19}, ValueError, r"n_neighbors must be smaller than the number of samples \(19\)"),
        ({"k": 0}, ValueError, "k must be an integer >= 1, got 0"),
        ({"l": 1.0}, TypeError, "l must be an integer"),
        ({"delay": -1}, ValueError, "delay must be an integer >= 0, got -1"),
        ({"k": 20}, ValueError, "each trial needs at least 21 steps for k=20"),
        ({"base": 1.0}, ValueError, "base must be a finite number greater than 1"),
    ],
)
def test_invalid_settings_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        continuous_transfer_entropy(np.sin(np.arange(20.0)), np.cos(np.arange(20.0)), **kwargs)
