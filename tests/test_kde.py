"""Tests of kde_information against closed-form limits and a direct implementation."""

import tracemalloc

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.special import logsumexp

from infoplane.estimators import kde, kde_information


def _reference_term(points, divisor):
    """-mean_i log mean_j exp(-||h_i - h_j||^2 / divisor) in nats, from the full distance matrix."""
    distances = cdist(points, points, "sqeuclidean")
    return float(-np.mean(logsumexp(-distances / divisor, axis=1) - np.log(len(points))))


def _reference_kde(activations, labels, noise_variance, divisor_per_variance):
    divisor = divisor_per_variance * noise_variance
    entropy_all = _reference_term(activations, divisor)
    entropy_given_label = sum(
        np.mean(labels == label) * _reference_term(activations[labels == label], divisor) for label in np.unique(labels)
    )
    return entropy_all / np.log(2), (entropy_all - entropy_given_label) / np.log(2)


@pytest.mark.parametrize("bound", ["upper", "lower"])
def test_well_separated_points_give_log2_n(bound):
    activations = np.arange(64, dtype=float)[:, None] * 100.0
    labels = np.arange(64) % 4
    information_x_t, information_t_y = kde_information(activations, labels, bound=bound)
    assert type(information_x_t) is float
    assert type(information_t_y) is float
    assert information_x_t == pytest.approx(6.0, abs=1e-12)
    assert information_t_y == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("bound", ["upper", "lower"])
def test_identical_points_give_zero(bound):
    activations = np.tile([0.3, -1.2, 5.0], (50, 1))
    information_x_t, information_t_y = kde_information(activations, np.arange(50) % 3, bound=bound)
    assert information_x_t == 0.0
    assert information_t_y == pytest.approx(0.0, abs=1e-12)


def test_identical_within_class_gives_label_entropy():
    labels = np.array([0] * 30 + [1] * 10)
    activations = np.where(labels[:, None] == 0, 0.0, 50.0) * np.ones((40, 3))
    information_x_t, information_t_y = kde_information(activations, labels)
    label_entropy = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    assert information_x_t == pytest.approx(label_entropy, abs=1e-12)
    assert information_t_y == pytest.approx(label_entropy, abs=1e-12)


def test_two_points_closed_form():
    # Upper bound for points at distance 1 with sigma^2 = 0.5: -log((1 + e^-1) / 2) nats.
    information_x_t, _ = kde_information(np.array([[0.0], [1.0]]), np.array([0, 0]), noise_variance=0.5)
    assert information_x_t == pytest.approx(-np.log2((1 + np.exp(-1.0)) / 2), abs=1e-12)


@pytest.mark.parametrize(("bound", "divisor_per_variance"), [("upper", 2.0), ("lower", 8.0)])
def test_matches_full_distance_matrix(bound, divisor_per_variance):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=300)
    activations = np.tanh(labels[:, None] + rng.normal(size=(300, 6)))
    got = kde_information(activations, labels, noise_variance=0.05, bound=bound)
    expected = _reference_kde(activations, labels, 0.05, divisor_per_variance)
    assert got[0] == pytest.approx(expected[0], abs=1e-10)
    assert got[1] == pytest.approx(expected[1], abs=1e-10)


def test_chunk_size_does_not_change_result(monkeypatch):
    rng = np.random.default_rng(1)
    activations = rng.normal(size=(257, 4))
    labels = rng.integers(0, 2, size=257)
    whole = kde_information(activations, labels)
    monkeypatch.setattr(kde, "CHUNK_BYTES", 8 * 257 * 10)
    chunked = kde_information(activations, labels)
    assert chunked == pytest.approx(whole, abs=1e-12)


def test_upper_bound_exceeds_lower_bound():
    rng = np.random.default_rng(2)
    activations = rng.normal(scale=0.5, size=(200, 3))
    labels = rng.integers(0, 2, size=200)
    upper, _ = kde_information(activations, labels, bound="upper")
    lower, _ = kde_information(activations, labels, bound="lower")
    assert upper > lower > 0.0


def test_dead_unit_adds_nothing():
    rng = np.random.default_rng(3)
    activations = rng.normal(size=(100, 3))
    labels = rng.integers(0, 2, size=100)
    with_dead = np.column_stack([activations, np.full(100, 0.7)])
    assert kde_information(with_dead, labels) == pytest.approx(kde_information(activations, labels), abs=1e-10)


def test_memory_bounded_by_chunk(monkeypatch):
    monkeypatch.setattr(kde, "CHUNK_BYTES", 2 * 2**20)
    rng = np.random.default_rng(4)
    activations = rng.normal(size=(4000, 16))
    labels = rng.integers(0, 2, size=4000)
    tracemalloc.start()
    kde_information(activations, labels)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The full 4000 x 4000 distance matrix would take 128 MB.
    assert peak < 4 * 2**20


def test_nan_activations_rejected():
    activations = np.zeros((5, 2))
    activations[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"activations contains 1 non-finite .* index \(3, 1\)"):
        kde_information(activations, np.zeros(5, int))


def test_mismatched_sample_counts_rejected():
    with pytest.raises(ValueError, match="labels has 4 samples but activations has 5"):
        kde_information(np.zeros((5, 2)), np.zeros(4, int))


def test_unknown_bound_lists_valid_ones():
    with pytest.raises(ValueError, match=r"bound must be one of \['lower', 'upper'\], got 'kl'"):
        kde_information(np.zeros((5, 2)), np.zeros(5, int), bound="kl")


@pytest.mark.parametrize(
    ("noise_variance", "error", "message"),
    [(0.0, ValueError, "noise_variance must be finite and > 0"), (np.nan, ValueError, "got nan"), ("0.1", TypeError, "positive real")],
)
def test_invalid_noise_variance_rejected(noise_variance, error, message):
    with pytest.raises(error, match=message):
        kde_information(np.zeros((5, 2)), np.zeros(5, int), noise_variance=noise_variance)
