"""Tests of binned_information against hand-worked and closed-form values."""

import warnings

import numpy as np
import pytest

from infoplane.datasets import load_szt
from infoplane.estimators import binned_information


def _plug_in_entropy(symbols):
    """Entropy in bits of a list of hashable symbols, by a plain dictionary count."""
    counts = {}
    for symbol in symbols:
        counts[symbol] = counts.get(symbol, 0) + 1
    probabilities = np.array(list(counts.values())) / len(symbols)
    return float(-np.sum(probabilities * np.log2(probabilities)))


def _reference_binned(activations, inputs, labels, n_bins, low, high):
    """Independent per-sample implementation: np.digitize on explicit edges, tuples as symbols."""
    edges = np.linspace(low, high, n_bins + 1)[1:-1]
    layer = [tuple(np.digitize(row, edges, right=False)) for row in activations]
    xs = [tuple(np.atleast_1d(row)) for row in inputs]
    ys = [int(v) for v in labels]
    # H(T|X) as the frequency-weighted sum over distinct inputs.
    conditional = 0.0
    for x in set(xs):
        members = [t for t, xi in zip(layer, xs) if xi == x]
        conditional += len(members) / len(xs) * _plug_in_entropy(members)
    h_t = _plug_in_entropy(layer)
    information_x_t = h_t - conditional
    information_t_y = h_t + _plug_in_entropy(ys) - _plug_in_entropy(list(zip(layer, ys)))
    return information_x_t, information_t_y


@pytest.fixture(scope="module")
def szt_task():
    data = load_szt()
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    return x, y


def test_szt_identity_layer_gives_12_bits(szt_task):
    x, y = szt_task
    with pytest.warns(RuntimeWarning, match="saturated"):
        information_x_t, information_t_y = binned_information(x, x, y)
    _, counts = np.unique(y, return_counts=True)
    p = counts / counts.sum()
    assert information_x_t == pytest.approx(12.0, abs=1e-9)
    assert information_t_y == pytest.approx(float(-np.sum(p * np.log2(p))), abs=1e-9)


def test_szt_integer_input_ids_match_rows(szt_task):
    x, y = szt_task
    ids = x.astype(np.int64) @ (1 << np.arange(12))
    rng = np.random.default_rng(0)
    activations = np.tanh(x @ rng.normal(size=(12, 5)))
    by_rows = binned_information(activations, x, y)
    by_ids = binned_information(activations, ids, y)
    assert by_rows == pytest.approx(by_ids, abs=1e-12)


def test_matches_reference_with_repeated_inputs():
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, 6, size=300)
    labels = inputs % 2
    activations = np.tanh(inputs[:, None] * 0.3 + rng.normal(scale=0.4, size=(300, 3)))
    got = binned_information(activations, inputs, labels, n_bins=5, value_range=(-1.0, 1.0))
    expected = _reference_binned(activations, inputs, labels, 5, -1.0, 1.0)
    assert got[0] == pytest.approx(expected[0], abs=1e-9)
    assert got[1] == pytest.approx(expected[1], abs=1e-9)


def test_matches_reference_observed_range():
    rng = np.random.default_rng(2)
    inputs = rng.integers(0, 2, size=(200, 4))
    labels = inputs[:, 0] ^ inputs[:, 1]
    activations = inputs @ rng.normal(size=(4, 2)) + rng.normal(scale=0.1, size=(200, 2))
    got = binned_information(activations, inputs, labels, n_bins=7)
    expected = _reference_binned(activations, inputs, labels, 7, activations.min(), activations.max())
    assert got[0] == pytest.approx(expected[0], abs=1e-9)
    assert got[1] == pytest.approx(expected[1], abs=1e-9)


@pytest.mark.filterwarnings("ignore:the layer has 4 distinct")
def test_two_bit_copy_example():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert binned_information(x.astype(float), x, x[:, 0], n_bins=2) == (2.0, 1.0)


def test_one_hot_labels_equal_integer_labels():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, size=100)
    inputs = np.arange(100)
    activations = labels[:, None] + rng.normal(scale=0.5, size=(100, 2))
    one_hot = np.eye(3)[labels]
    by_one_hot = binned_information(activations, inputs, one_hot)
    by_integers = binned_information(activations, inputs, labels)
    assert by_one_hot == pytest.approx(by_integers, abs=1e-12)


def test_value_equal_to_high_in_last_bin():
    activations = np.array([[0.0], [0.5], [1.0], [1.0]])
    inputs = np.arange(4)
    # Two bins over [0, 1]: 0 -> bin 0; 0.5 and 1.0 -> bin 1.
    information_x_t, _ = binned_information(activations, inputs, np.zeros(4, int), n_bins=2, value_range=(0, 1))
    assert information_x_t == pytest.approx(_plug_in_entropy([0, 1, 1, 1]), abs=1e-12)


def test_dead_unit_adds_nothing():
    rng = np.random.default_rng(4)
    inputs = rng.integers(0, 8, size=400)
    labels = inputs // 4
    activations = np.tanh(inputs[:, None] - 3.5 + rng.normal(scale=0.3, size=(400, 2)))
    with_dead = np.column_stack([activations, np.zeros(400)])
    value_range = (-1.0, 1.0)
    with_dead_value = binned_information(with_dead, inputs, labels, value_range=value_range)
    without_value = binned_information(activations, inputs, labels, value_range=value_range)
    assert with_dead_value == pytest.approx(without_value, abs=1e-12)


def test_constant_layer_gives_zero():
    result = binned_information(np.full((50, 3), 0.2), np.arange(50), np.arange(50) % 2)
    assert result == (0.0, 0.0)


def test_no_saturation_warning_when_few_patterns():
    activations = np.repeat(np.eye(4), 25, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        binned_information(activations, np.arange(100) % 4, np.arange(100) % 2)


def test_nan_activations_rejected():
    activations = np.zeros((10, 3))
    activations[2, 1] = np.nan
    activations[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"activations contains 2 non-finite .* index \(2, 1\)"):
        binned_information(activations, np.arange(10), np.zeros(10, int))


def test_values_outside_range_rejected():
    activations = np.array([[-2.0], [0.0], [3.0], [0.5]])
    with pytest.raises(ValueError, match=r"2 values outside value_range \[-1.0, 1.0\]"):
        binned_information(activations, np.arange(4), np.zeros(4, int), value_range=(-1, 1))


def test_mismatched_sample_counts_rejected():
    with pytest.raises(ValueError, match="inputs has 9 samples but activations has 10"):
        binned_information(np.zeros((10, 2)), np.arange(9), np.zeros(10, int))
    with pytest.raises(ValueError, match="labels has 11 samples but activations has 10"):
        binned_information(np.zeros((10, 2)), np.arange(10), np.zeros(11, int))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_bins": 0}, ValueError, "n_bins must be an integer >= 1, got 0"),
        ({"n_bins": 2.5}, TypeError, "n_bins must be an integer"),
        ({"value_range": (1.0, -1.0)}, ValueError, r"low < high, got \(1.0, -1.0\)"),
        ({"value_range": (0.0, np.inf)}, ValueError, "must be finite"),
        ({"value_range": (0.0, 1.0, 2.0)}, TypeError, "pair"),
        ({"value_range": "0,1"}, TypeError, "pair"),
    ],
)
def test_invalid_settings_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        binned_information(np.zeros((4, 1)), np.arange(4), np.zeros(4, int), **kwargs)


def test_non_numeric_inputs_rejected():
    with pytest.raises(TypeError, match="inputs must be a numeric array"):
        binned_information(np.zeros((2, 1)), np.array(["a", "b"]), np.zeros(2, int))


def test_hash_collisions_fall_back_to_exact_grouping(monkeypatch):
    from infoplane.estimators import binning

    rng = np.random.default_rng(5)
    inputs = rng.integers(0, 4, size=(120, 3))
    labels = inputs[:, 0] % 2
    activations = np.tanh(inputs @ rng.normal(size=(3, 2)))
    expected = binned_information(activations, inputs, labels, n_bins=6)
    monkeypatch.setattr(binning, "_row_hashes", lambda rows: np.zeros(rows.shape[0], dtype=np.uint64))
    assert binned_information(activations, inputs, labels, n_bins=6) == pytest.approx(expected, abs=1e-12)


def test_negative_zero_equals_zero():
    inputs = np.array([[0.0, 1.0], [-0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    activations = np.array([[0.0], [0.0], [1.0], [1.0]])
    information_x_t, _ = binned_information(activations, inputs, np.zeros(4, int), n_bins=2)
    assert information_x_t == pytest.approx(1.0, abs=1e-12)
