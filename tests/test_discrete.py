"""Tests of the plug-in estimators in infoplane.estimators.discrete."""

from collections import Counter
import math

import numpy as np
import pyinform
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from infoplane import estimators as est
from infoplane.estimators import discrete


def binary_entropy(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def brute_force_te(source, target, k, l, delay):
    """TE in bits straight from the definition, counting tuples over all trials."""
    source, target = np.atleast_2d(source), np.atleast_2d(target)
    joint, history_window, next_history, history = Counter(), Counter(), Counter(), Counter()
    for xs, ys in zip(source.tolist(), target.tolist()):
        for t in range(len(ys) - 1):
            if t - k + 1 < 0 or t + 2 - delay - l < 0:
                continue
            past = tuple(ys[t - k + 1 : t + 1])
            window = tuple(xs[t + 2 - delay - l : t + 2 - delay])
            joint[ys[t + 1], past, window] += 1
            history_window[past, window] += 1
            next_history[ys[t + 1], past] += 1
            history[past] += 1
    n_obs = sum(joint.values())
    return sum(
        count / n_obs * math.log2(count * history[past] / (history_window[past, window] * next_history[nxt, past]))
        for (nxt, past, window), count in joint.items()
    )


series_settings = settings(max_examples=60, deadline=None)


@st.composite
def pair_of_series(draw, max_trials=3):
    alphabet = draw(st.integers(2, 4))
    n_trials = draw(st.integers(1, max_trials))
    n_steps = draw(st.integers(8, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = (n_trials, n_steps) if n_trials > 1 else (n_steps,)
    return rng.integers(0, alphabet, shape), rng.integers(0, alphabet, shape)


# Agreement with independent implementations


@series_settings
@given(pair_of_series(), st.integers(1, 4))
def test_te_matches_pyinform(pair, k):
    source, target = pair
    expected = pyinform.transfer_entropy(source, target, k=k)
    assert est.transfer_entropy(source, target, k=k) == pytest.approx(expected, abs=1e-12)


@series_settings
@given(pair_of_series(), st.integers(1, 3))
def test_local_te_matches_pyinform(pair, k):
    source, target = pair
    expected = pyinform.transfer_entropy(source, target, k=k, local=True)
    local = est.local_transfer_entropy(source, target, k=k)
    np.testing.assert_allclose(local, np.reshape(expected, local.shape), atol=1e-12)


@series_settings
@given(pair_of_series(), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3))
def test_te_matches_brute_force(pair, k, l, delay):
    source, target = pair
    assume(np.shape(target)[-1] >= discrete.first_observation(k, l, delay) + 2)
    expected = brute_force_te(source, target, k, l, delay)
    assert est.transfer_entropy(source, target, k=k, l=l, delay=delay) == pytest.approx(max(expected, 0), abs=1e-12)


@series_settings
@given(pair_of_series(), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3))
def test_local_te_mean_equals_te(pair, k, l, delay):
    source, target = pair
    assume(np.shape(target)[-1] >= discrete.first_observation(k, l, delay) + 2)
    local = est.local_transfer_entropy(source, target, k=k, l=l, delay=delay)
    average = est.transfer_entropy(source, target, k=k, l=l, delay=delay)
    assert local.mean() == pytest.approx(average, abs=1e-12)


def test_local_te_shape_per_trial():
    rng = np.random.default_rng(1)
    source, target = rng.integers(0, 2, (3, 20)), rng.integers(0, 2, (3, 20))
    assert est.local_transfer_entropy(source, target, k=2, l=2, delay=2).shape == (3, 20 - 1 - 2)
    assert est.local_transfer_entropy(source[0], target[0]).shape == (19,)


def test_trials_do_not_cross_boundaries():
    # Concatenating the trials would add one observation spanning the boundary.
    rng = np.random.default_rng(2)
    source, target = rng.integers(0, 2, (2, 30)), rng.integers(0, 2, (2, 30))
    pooled = est.transfer_entropy(source, target)
    assert pooled == pytest.approx(brute_force_te(source, target, 1, 1, 1), abs=1e-12)
    assert pooled != pytest.approx(est.transfer_entropy(source.ravel(), target.ravel()), abs=1e-9)


# Closed-form cases


def test_noisy_copy_gives_one_minus_h2():
    rng = np.random.default_rng(3)
    n_steps, p = 200_000, 0.1
    source = rng.integers(0, 2, n_steps)
    noise = (rng.random(n_steps) < p).astype(int)
    target = np.concatenate([[0], source[:-1] ^ noise[:-1]])
    assert est.transfer_entropy(source, target) == pytest.approx(1 - binary_entropy(p), abs=0.005)


def test_fully_predictable_pair():
    rng = np.random.default_rng(4)
    source = rng.integers(0, 2, 10_000)
    target = np.concatenate([[0], source[:-1]])
    assert est.transfer_entropy(source, target) == pytest.approx(est.entropy(source[:-1]), abs=1e-3)
    assert est.transfer_entropy(source, target) == pytest.approx(1.0, abs=1e-3)


def test_independent_series_near_zero():
    rng = np.random.default_rng(5)
    source, target = rng.integers(0, 2, 50_000), rng.integers(0, 2, 50_000)
    assert est.transfer_entropy(source, target) < 1e-3


def test_two_step_source_needs_delay_two():
    rng = np.random.default_rng(6)
    source = rng.integers(0, 2, 20_000)
    target = np.concatenate([[0, 0], source[:-2]])
    assert est.transfer_entropy(source, target, delay=2) == pytest.approx(1.0, abs=2e-3)
    assert est.transfer_entropy(source, target, delay=1) < 2e-3


def test_delay_zero_gives_same_step_mi():
    rng = np.random.default_rng(7)
    n_steps, p = 100_000, 0.2
    source = rng.integers(0, 2, n_steps)
    target = source ^ (rng.random(n_steps) < p).astype(int)
    assert est.transfer_entropy(source, target, delay=0) == pytest.approx(1 - binary_entropy(p), abs=0.005)
    assert est.transfer_entropy(source, target, delay=0) == pytest.approx(
        est.mutual_information(source, target), abs=0.005
    )


@pytest.mark.parametrize("constant", ["source", "target"])
def test_constant_series_give_exact_zero(constant):
    rng = np.random.default_rng(8)
    series = {"source": rng.integers(0, 3, 500), "target": rng.integers(0, 3, 500)}
    series[constant] = np.full(500, 1)
    for k, l, delay in [(1, 1, 1), (2, 2, 0), (3, 1, 2)]:
        assert est.transfer_entropy(series["source"], series["target"], k=k, l=l, delay=delay) == 0.0


@pytest.mark.parametrize("k, l, delay", [(1, 1, 1), (2, 1, 1), (2, 2, 1), (3, 1, 3), (3, 2, 2), (4, 3, 2)])
def test_self_te_is_exact_zero(k, l, delay):
    series = np.random.default_rng(9).integers(0, 3, 400)
    assert est.transfer_entropy(series, series, k=k, l=l, delay=delay) == 0.0


def test_base_changes_units():
    rng = np.random.default_rng(10)
    source, target = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    bits = est.transfer_entropy(source, target)
    assert est.transfer_entropy(source, target, base=math.e) == pytest.approx(bits * math.log(2), abs=1e-12)


def test_docstring_example_values():
    assert est.transfer_entropy([0, 0, 1, 1, 0], [1, 0, 0, 1, 1]) == 1.0
    assert brute_force_te([0, 0, 1, 1, 0], [1, 0, 0, 1, 1], 1, 1, 1) == pytest.approx(1.0, abs=1e-12)


# Entropy, mutual information and conditional mutual information


def test_entropy_closed_forms():
    assert est.entropy([0, 1, 2, 3] * 5) == pytest.approx(2.0, abs=1e-12)
    assert est.entropy([7] * 9) == 0.0
    assert est.entropy([0, 0, 0, 1]) == pytest.approx(binary_entropy(0.25), abs=1e-12)
    assert est.entropy([0, 1, 2, 3], base=4) == pytest.approx(1.0, abs=1e-12)


def test_entropy_rows_are_symbols():
    rows = np.array([[0, 1], [1, 0], [0, 1], [1, 1]])
    assert est.entropy(rows) == pytest.approx(1.5, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=80), st.integers(0, 2**32 - 1))
def test_entropy_and_mi_match_references(values, seed):
    from sklearn.metrics import mutual_info_score

    x = np.array(values)
    y = np.random.default_rng(seed).integers(0, 3, x.size)
    counts = np.unique(x, return_counts=True)[1]
    probabilities = counts / x.size
    assert est.entropy(x) == pytest.approx(-np.sum(probabilities * np.log2(probabilities)), abs=1e-12)
    assert est.mutual_information(x, y) == pytest.approx(mutual_info_score(x, y) / math.log(2), abs=1e-12)
    assert est.mutual_information(x, y) == pytest.approx(pyinform.mutual_info(x, y), abs=1e-12)


def test_mi_closed_forms():
    rng = np.random.default_rng(20)
    x = rng.integers(0, 4, 1000)
    assert est.mutual_information(x, x) == pytest.approx(est.entropy(x), abs=1e-12)
    assert est.mutual_information(x, np.zeros(1000, int)) == 0.0
    assert est.mutual_information(x, (x + 1) % 4) == pytest.approx(est.entropy(x), abs=1e-12)


def test_mi_of_multidimensional_symbols():
    rng = np.random.default_rng(21)
    x = rng.integers(0, 2, (500, 2))
    label = x[:, 0] * 2 + x[:, 1]
    assert est.mutual_information(x, label) == pytest.approx(est.entropy(x), abs=1e-12)


def test_cmi_of_xor():
    rng = np.random.default_rng(22)
    x, y = rng.integers(0, 2, 20_000), rng.integers(0, 2, 20_000)
    z = x ^ y
    assert est.mutual_information(x, y) < 1e-3
    assert est.conditional_mutual_information(x, y, z) == pytest.approx(1.0, abs=1e-3)


def test_cmi_matches_entropy_identity():
    rng = np.random.default_rng(23)
    x, y, z = rng.integers(0, 3, 300), rng.integers(0, 3, 300), rng.integers(0, 2, 300)
    xz, yz, xyz = np.column_stack([x, z]), np.column_stack([y, z]), np.column_stack([x, y, z])
    expected = est.entropy(xz) + est.entropy(yz) - est.entropy(xyz) - est.entropy(z)
    assert est.conditional_mutual_information(x, y, z) == pytest.approx(expected, abs=1e-12)


def test_te_equals_cmi_of_aligned_series():
    rng = np.random.default_rng(24)
    source, target = rng.integers(0, 3, 400), rng.integers(0, 3, 400)
    history = np.column_stack([target[0:-2], target[1:-1]])
    expected = est.conditional_mutual_information(target[2:], source[1:-1], history)
    assert est.transfer_entropy(source, target, k=2) == pytest.approx(expected, abs=1e-12)


# Bad input


def test_rejects_empty_input():
    with pytest.raises(ValueError, match="source is empty"):
        est.transfer_entropy([], [])
    with pytest.raises(ValueError, match="x is empty"):
        est.entropy(np.zeros((0, 2), int))


def test_rejects_too_short_series():
    with pytest.raises(ValueError, match=r"k=4, l=1, delay=1: target has 4 steps per series but at least 5"):
        est.transfer_entropy([0, 1, 0, 1], [0, 1, 0, 1], k=4)
    with pytest.raises(ValueError, match=r"has 5 steps per series but at least 6"):
        est.local_transfer_entropy(np.zeros((2, 5), int), np.zeros((2, 5), int), l=2, delay=4)


def test_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"source has shape \(10,\) and target has shape \(9,\)"):
        est.transfer_entropy(np.zeros(10, int), np.zeros(9, int))
    with pytest.raises(ValueError, match="x has 10, y has 9"):
        est.mutual_information(np.zeros(10, int), np.zeros(9, int))
    with pytest.raises(ValueError, match="z has 8"):
        est.conditional_mutual_information(np.zeros(10, int), np.zeros(10, int), np.zeros(8, int))


@pytest.mark.parametrize("bad_value", [0.5, -1, -2.0])
def test_rejects_floats_and_negatives(bad_value):
    series = np.array([0, 1, 1, 0, 1], dtype=np.asarray(bad_value).dtype)
    series[2] = bad_value
    message = r"target must contain non-negative integers .* index \(2,\); binarize"
    with pytest.raises(ValueError, match=message):
        est.transfer_entropy([0, 1, 1, 0, 1], series)
    with pytest.raises(ValueError, match="x must contain non-negative integers"):
        est.entropy(series)


def test_accepts_whole_number_floats_and_bools():
    source, target = np.array([0, 0, 1, 1, 0]), np.array([1, 0, 0, 1, 1])
    assert est.transfer_entropy(source.astype(float), target.astype(np.float32)) == 1.0
    assert est.transfer_entropy(source.astype(bool), target.astype(bool)) == 1.0


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_rejects_non_finite(bad_value):
    with pytest.raises(ValueError, match=r"source contains 1 non-finite values .* index \(1,\)"):
        est.transfer_entropy([0.0, bad_value, 1.0, 0.0], [0, 1, 1, 0])


def test_rejects_count_table_too_large():
    series = np.arange(2000) % 1000
    with pytest.raises(ValueError, match=r"count table would have 1e\+12 entries \(7.45e\+03 GiB"):
        est.transfer_entropy(series, series, k=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"delay": -1}, "delay must be an integer >= 0, got -1"),
        ({"k": 0}, r"k \(target history length\) must be an integer >= 1, got 0"),
        ({"l": 0}, r"l \(source history length\) must be an integer >= 1, got 0"),
        ({"base": 1.0}, "base must be a finite number greater than 1"),
    ],
)
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        est.transfer_entropy([0, 1, 0, 1, 1], [1, 1, 0, 0, 1], **kwargs)


def test_rejects_non_integer_history():
    with pytest.raises(TypeError, match="k .* must be an integer >= 1, got 1.5"):
        est.transfer_entropy([0, 1, 0, 1, 1], [1, 1, 0, 0, 1], k=1.5)


def test_rejects_three_dimensional_series():
    with pytest.raises(ValueError, match=r"source must have 1 or 2 dimensions, got shape \(2, 2, 3\)"):
        est.transfer_entropy(np.zeros((2, 2, 3), int), np.zeros((2, 2, 3), int))
