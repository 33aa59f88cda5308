"""Tests of transfer_entropy_matrix: agreement with the one-pair estimator on every pair, on every path."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infoplane import estimators as est
from infoplane.estimators import pairwise

AGREEMENT_BITS = 1e-9


def pairwise_reference(sources, targets, **te_kwargs):
    return np.array(
        [
            [est.transfer_entropy(sources[:, i], targets[:, j], **te_kwargs) for j in range(targets.shape[1])]
            for i in range(sources.shape[1])
        ]
    )


def coupled_binary(seed, n_steps=400, n_sources=6, n_targets=5):
    """Random binary layers in which some targets copy or flip a source with a lag of one or two steps."""
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, 2, (n_steps, n_sources))
    targets = rng.integers(0, 2, (n_steps, n_targets))
    targets[1:, 0] = sources[:-1, 1]
    targets[2:, 1] = sources[:-2, 2] ^ (rng.random(n_steps - 2) < 0.1)
    targets[:, 2] = 1
    sources[:, 3] = 0
    return sources, targets


@pytest.mark.parametrize("device", [None, "cpu"])
@pytest.mark.parametrize("delay", [0, 1, 2, 5])
def test_binary_path_matches_pairs(device, delay):
    sources, targets = coupled_binary(delay)
    matrix = est.transfer_entropy_matrix(sources, targets, delay=delay, device=device)
    assert matrix.dtype == np.float64
    assert matrix.shape == (6, 5)
    np.testing.assert_allclose(matrix, pairwise_reference(sources, targets, delay=delay), rtol=0, atol=AGREEMENT_BITS)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    alphabets=st.tuples(st.integers(2, 3), st.integers(2, 3)),
    k=st.integers(1, 3),
    l=st.integers(1, 2),
    delay=st.integers(0, 3),
    n_steps=st.integers(10, 200),
)
def test_symbol_path_matches_pairs(seed, alphabets, k, l, delay, n_steps):
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, alphabets[0], (n_steps, 3))
    targets = rng.integers(0, alphabets[1], (n_steps, 4))
    targets[1:, 0] = sources[:-1, 0] % alphabets[1]
    te_kwargs = dict(k=k, l=l, delay=delay)
    matrix = est.transfer_entropy_matrix(sources, targets, **te_kwargs)
    np.testing.assert_allclose(matrix, pairwise_reference(sources, targets, **te_kwargs), rtol=0, atol=AGREEMENT_BITS)


@pytest.mark.parametrize("k, l, delay", [(1, 1, 1), (2, 1, 1), (1, 2, 0), (3, 2, 2)])
@pytest.mark.parametrize("block_size", [1, 2, 4, 100])
def test_block_size_does_not_change_result(k, l, delay, block_size):
    sources, targets = coupled_binary(11)
    te_kwargs = dict(k=k, l=l, delay=delay)
    reference = pairwise_reference(sources, targets, **te_kwargs)
    for device in (None, "cpu"):
        matrix = est.transfer_entropy_matrix(sources, targets, device=device, block_size=block_size, **te_kwargs)
        np.testing.assert_allclose(matrix, reference, rtol=0, atol=AGREEMENT_BITS)


def test_float64_products_for_long_series(monkeypatch):
    # Lower the float32 limit so a short series takes the float64 branch.
    monkeypatch.setattr(pairwise, "FLOAT32_EXACT_COUNT_LIMIT", 10)
    sources, targets = coupled_binary(12)
    matrix = est.transfer_entropy_matrix(sources, targets, device="cpu")
    np.testing.assert_allclose(matrix, pairwise_reference(sources, targets), rtol=0, atol=AGREEMENT_BITS)


def test_lagged_copy_found_in_matrix():
    sources, targets = coupled_binary(13, n_steps=5000)
    matrix = est.transfer_entropy_matrix(sources, targets)
    assert matrix[1, 0] == pytest.approx(1.0, abs=0.01)
    assert matrix.argmax(axis=0)[0] == 1
    assert est.transfer_entropy_matrix(sources, targets, delay=2)[2, 1] > 0.4


def test_constant_units_give_exact_zero():
    sources, targets = coupled_binary(14)
    for k, l, delay in [(1, 1, 1), (2, 2, 0)]:
        matrix = est.transfer_entropy_matrix(sources, targets, k=k, l=l, delay=delay)
        assert np.all(matrix[3, :] == 0.0)
        assert np.all(matrix[:, 2] == 0.0)
        assert np.all(matrix >= 0.0)


def test_self_matrix_diagonal_is_exact_zero():
    series = np.random.default_rng(15).integers(0, 2, (300, 8))
    assert np.all(np.diag(est.transfer_entropy_matrix(series, series)) == 0.0)
    assert np.all(np.diag(est.transfer_entropy_matrix(series, series, k=3, l=2, delay=2)) == 0.0)


def test_accepts_torch_tensors_and_bools():
    sources, targets = coupled_binary(16)
    expected = est.transfer_entropy_matrix(sources, targets)
    from_torch = est.transfer_entropy_matrix(torch.from_numpy(sources), torch.from_numpy(targets), device="cpu")
    from_bool = est.transfer_entropy_matrix(sources.astype(bool), targets.astype(bool))
    np.testing.assert_array_equal(from_torch, expected)
    np.testing.assert_array_equal(from_bool, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_numpy():
    sources, targets = coupled_binary(17, n_steps=2000, n_sources=40, n_targets=30)
    for k, l, delay in [(1, 1, 1), (1, 1, 0), (2, 2, 1)]:
        cuda = est.transfer_entropy_matrix(sources, targets, k=k, l=l, delay=delay, device="cuda")
        numpy_result = est.transfer_entropy_matrix(sources, targets, k=k, l=l, delay=delay)
        np.testing.assert_allclose(cuda, numpy_result, rtol=0, atol=AGREEMENT_BITS)


# Bad input


def test_rejects_mismatched_steps():
    with pytest.raises(ValueError, match=r"same number of steps.*\(100, 3\).*\(99, 3\)"):
        est.transfer_entropy_matrix(np.zeros((100, 3), int), np.zeros((99, 3), int))


def test_rejects_one_dimensional_input():
    with pytest.raises(ValueError, match="sources must have 2 dimensions"):
        est.transfer_entropy_matrix(np.zeros(100, int), np.zeros((100, 3), int))


def test_rejects_empty_input():
    with pytest.raises(ValueError, match="sources is empty"):
        est.transfer_entropy_matrix(np.zeros((0, 3), int), np.zeros((0, 3), int))


def test_rejects_too_short_series():
    with pytest.raises(ValueError, match="targets has 4 steps per series but at least 5 are required"):
        est.transfer_entropy_matrix(np.zeros((4, 2), int), np.zeros((4, 2), int), k=1, l=2, delay=3)


def test_rejects_float_activations():
    activations = np.random.default_rng(18).normal(size=(50, 3))
    with pytest.raises(ValueError, match="sources must contain non-negative integers.*binarize"):
        est.transfer_entropy_matrix(activations, np.zeros((50, 3), int))


def test_rejects_too_many_symbol_cells():
    series = np.arange(400).reshape(100, 4) % 10
    with pytest.raises(ValueError, match="100000 joint cells per pair.*above the limit of 4096"):
        est.transfer_entropy_matrix(series, series, k=3)


def test_rejects_unknown_device():
    with pytest.raises(ValueError, match="device must be None"):
        est.transfer_entropy_matrix(np.zeros((10, 2), int), np.zeros((10, 2), int), device="abacus")


def test_rejects_bad_block_size():
    with pytest.raises(ValueError, match="block_size must be an integer >= 1, got 0"):
        est.transfer_entropy_matrix(np.zeros((10, 2), int), np.zeros((10, 2), int), block_size=0)


def test_long_history_with_uint8_input():
    rng = np.random.default_rng(19)
    sources = rng.integers(0, 2, (600, 3)).astype(np.uint8)
    targets = rng.integers(0, 2, (600, 2)).astype(np.uint8)
    matrix = est.transfer_entropy_matrix(sources, targets, k=8)
    np.testing.assert_allclose(matrix, pairwise_reference(sources, targets, k=8), rtol=0, atol=AGREEMENT_BITS)
