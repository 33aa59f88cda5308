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
    assert est.transfer_entropy([0, 1, 1, 0, 1, 0, 0, 1], [0, 0, 1, 1, 0, 1, 0, 0]) == pytest.approx(
        brute_force_te([0, 1, 1, 0, 1, 0, 0, 1], [0, 0, 1, 1, 0, 1, 0, 0], 1, 1, 1), abs=1e-12
    )
