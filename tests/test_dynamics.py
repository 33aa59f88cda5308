import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from infoplane.analysis import dynamics

N_EPOCHS = 130
LOG_EPOCHS = np.unique(np.round(np.logspace(0, np.log10(8000), 200)).astype(int))[-N_EPOCHS:]


def ar1(n, phi, scale, rng):
    """Return an AR(1) series x_t = phi x_{t-1} + noise, started from its stationary law."""
    series = np.empty(n)
    series[0] = rng.normal(scale=scale / np.sqrt(1 - phi**2))
    for index in range(1, n):
        series[index] = phi * series[index - 1] + rng.normal(scale=scale)
    return series


def test_detrend_removes_quadratic():
    positions = np.linspace(-1, 1, 50)
    residuals = dynamics.detrend(3 + 2 * positions - 5 * positions**2, degree=2)
    np.testing.assert_allclose(residuals, 0, atol=1e-10)


def test_smooth_matches_window_means():
    values = np.array([1.0, 2.0, 6.0, 4.0, 5.0])
    np.testing.assert_allclose(dynamics.smooth(values, 3), [1.5, 3.0, 4.0, 5.0, 4.5])


def test_block_permutations_keep_blocks():
    orders = dynamics.block_permutations(10, 3, 50, random_state=0)
    for order in orders:
        assert sorted(order) == list(range(10))
        starts = [index for index, value in enumerate(order) if value % 3 == 0]
        for start in starts:
            block = order[start:start + (1 if order[start] == 9 else 3)]
            assert list(block) == list(range(order[start], order[start] + len(block)))


def test_trend_of_falling_series():
    rng = np.random.default_rng(0)
    values = np.linspace(1.0, 0.2, N_EPOCHS) + ar1(N_EPOCHS, 0.7, 0.05, rng)
    result = dynamics.trend_test(values)
    assert result.rho < -0.9
    assert result.p_value < 0.01


def test_trend_rho_equals_scipy_spearman():
    values = np.random.default_rng(3).normal(size=40)
    expected = stats.spearmanr(values, np.arange(40)).statistic
    assert dynamics.trend_test(values).rho == pytest.approx(expected, abs=1e-12)


def test_trend_of_autocorrelated_noise_not_called():
    calls = 0
    for seed in range(20):
        values = ar1(N_EPOCHS, 0.7, 0.1, np.random.default_rng(seed))
        calls += dynamics.trend_test(values, random_state=seed).p_value < 0.05
    assert calls <= 3


def test_planted_correlation_recovered():
    rng = np.random.default_rng(4)
    accuracy = 0.5 + 0.3 * (1 - np.exp(-np.arange(N_EPOCHS) / 30)) + ar1(N_EPOCHS, 0.5, 0.04, rng)
    unit_accuracy = (accuracy - accuracy.mean()) / accuracy.std()
    noise = ar1(N_EPOCHS, 0.5, 1.0, rng)
    noise -= noise.mean()
    noise -= (noise @ unit_accuracy) / N_EPOCHS * unit_accuracy
    noise /= noise.std()
    planted = 0.8
    series = planted * unit_accuracy + np.sqrt(1 - planted**2) * noise

    result = dynamics.correlation_test(series, accuracy, method="pearson")
    assert result.r == pytest.approx(planted, abs=1e-9)
    assert result.p_value < 0.01
    spearman = dynamics.correlation_test(series, accuracy, method="spearman")
    assert spearman.r == pytest.approx(stats.spearmanr(series, accuracy).statistic, abs=1e-12)
    assert spearman.p_value < 0.01


def test_independent_trending_series_not_called_correlated():
    calls, raw_correlations = 0, []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        positions = np.arange(N_EPOCHS)
        falling = np.exp(-positions / 40) + ar1(N_EPOCHS, 0.6, 0.03, rng)
        rising = np.log1p(positions) / 5 + ar1(N_EPOCHS, 0.6, 0.03, rng)
        result = dynamics.correlation_test(falling, rising, random_state=seed)
        raw_correlations.append(result.r)
        calls += result.p_value < 0.05
    assert np.median(raw_correlations) < -0.8
    assert calls <= 3


def test_planted_phase_boundary_found():
    rng = np.random.default_rng(5)
    boundary = 50
    positions = np.arange(N_EPOCHS)
    curve = np.where(positions <= boundary, 2.0 + 0.04 * positions, 4.0 - 0.02 * (positions - boundary))
    values = curve + rng.normal(scale=0.05, size=N_EPOCHS)

    result = dynamics.detect_phases(LOG_EPOCHS, values)
    # The moving average shifts an asymmetric peak toward its flatter side, by at most half a window.
    assert abs(result.peak_index - boundary) <= result.window // 2
    assert result.peak_epoch == LOG_EPOCHS[result.peak_index]
    noiseless = dynamics.smooth(curve, result.window)
    assert result.fitting_bits == pytest.approx(noiseless.max() - noiseless[0], abs=0.05)
    assert result.compression_bits == pytest.approx(noiseless.max() - noiseless[-1], abs=0.05)
    assert result.compression_rho < -0.9
    assert result.compression_p_value < 0.01


def test_symmetric_peak_found_exactly():
    rng = np.random.default_rng(6)
    positions = np.arange(N_EPOCHS)
    values = 3.0 - 0.03 * np.abs(positions - 70) + rng.normal(scale=0.02, size=N_EPOCHS)
    assert abs(dynamics.detect_phases(LOG_EPOCHS, values).peak_index - 70) <= 2


def test_phases_without_compression():
    values = np.linspace(0, 1, 30)
    result = dynamics.detect_phases(np.arange(1, 31), values)
    assert result.peak_index == 29
    assert result.compression_bits == 0.0
    assert np.isnan(result.compression_p_value)


def test_layer_shares_sum_to_one():
    values = pd.DataFrame({"epoch": [1, 1, 1, 2, 2, 2], "source": ["x", "a", "b"] * 2,
                           "target": ["a", "b", "output"] * 2, "value": [1.0, 1.0, 2.0, 0.0, 0.0, 0.0]})
    shares = dynamics.layer_shares(values)
    np.testing.assert_allclose(shares["share"][:3], [0.25, 0.25, 0.5])
    assert shares["share"][3:].isna().all()


def test_concentration_exact_p_value():
    rho, p_value = dynamics.concentration_test([0.05, 0.1, 0.15, 0.2, 0.5])
    assert rho == pytest.approx(1.0)
    assert p_value == pytest.approx(1 / 120)
    rho, p_value = dynamics.concentration_test([0.5, 0.2, 0.15, 0.1, 0.05])
    assert rho == pytest.approx(-1.0)
    assert p_value == pytest.approx(1.0)


def test_concentration_matches_enumeration():
    shares = np.array([0.3, 0.1, 0.2, 0.4])
    rho, p_value = dynamics.concentration_test(shares)
    count = sum(stats.spearmanr(shares[list(order)], np.arange(4)).statistic >= rho - 1e-12
                for order in itertools.permutations(range(4)))
    assert p_value == pytest.approx(count / 24)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: dynamics.trend_test([1.0, 2.0]), "at least 4 values"),
    (lambda: dynamics.trend_test([1.0, np.nan, 2.0, 3.0]), "NaN or inf at positions \\[1\\]"),
    (lambda: dynamics.correlation_test([1.0] * 5, [1.0] * 4), "got 5 and 4"),
    (lambda: dynamics.correlation_test([1.0] * 5, [1.0] * 5, method="kendall"), "'pearson' or 'spearman'"),
    (lambda: dynamics.correlation_test([1.0] * 5, [1.0] * 5, detrend_method="linear"), "polynomial degree >= 0"),
])
def test_bad_series_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_constant_series_gives_nan():
    result = dynamics.trend_test(np.ones(10))
    assert np.isnan(result.rho)
    assert np.isnan(result.p_value)
