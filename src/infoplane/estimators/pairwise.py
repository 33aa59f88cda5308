"""Transfer entropy between every source and every target series at once, from matrix products of indicators.

For binary series and k = l = 1 the eight joint counts c(y_{t+1}, y_t, x) of every pair follow from three
matrix products, X^T Y_next, X^T Y_prev and X^T (Y_next * Y_prev), plus column sums. Other history lengths
and small alphabets one-hot encode the source window and the target's (next value, history) symbol, so one
product gives all joint counts. Both paths run on NumPy or on torch (CPU or CUDA) and process blocks of
sources and targets so that memory stays bounded.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from infoplane.estimators._validation import check_base, check_int, check_symbol_array
from infoplane.estimators.discrete import (
    check_te_parameters,
    first_observation,
    te_nats_from_counts,
    window_codes,
)

logger = logging.getLogger(__name__)

# Counts accumulate in float32 products while every count stays exactly representable: float32 holds
# every integer up to 2**24, and each partial sum of 0/1 products is such an integer. Longer series use float64.
FLOAT32_EXACT_COUNT_LIMIT = 2**24
# Largest number of joint cells (a_s**l * a_t**(k+1)) per pair that the symbol path one-hot encodes.
MAX_SYMBOL_CELLS = 2**12
# Default budget of one block's product output plus its count arrays, in float64 elements.
BLOCK_ELEMENT_BUDGET = 2**24


def _binary_block_counts(source_block, target_next, target_prev, n_obs: int):
    """Return float64 counts of shape (2, 2, 2, bs, bt) over (next, previous, source) for binary k = l = 1.

    ``source_block`` is (n_obs, bs) and ``target_next``, ``target_prev`` are (n_obs, bt), all 0/1 floats
    aligned so that row t holds x_{t+1-delay}, y_{t+1} and y_t.
    """
    block_targets = target_next.shape[1]
    target_both = target_next * target_prev
    # Three products on the target views cost the same arithmetic as one on their concatenation,
    # without copying the (n_obs, 3 * bt) operand.
    source_steps = source_block.T
    x_next, x_prev, x_both = (_as_float64(source_steps @ series) for series in (target_next, target_prev, target_both))
    n_source = _as_float64(source_block.sum(0))[:, None]
    n_next, n_prev, n_both = (_as_float64(series.sum(0))[None, :] for series in (target_next, target_prev, target_both))

    # Cells with source 1 come from the products, cells with source 0 from the target's own counts minus them.
    with_source = [n_source - x_next - x_prev + x_both, x_prev - x_both, x_next - x_both, x_both]
    next_prev = [n_obs - n_next - n_prev + n_both, n_prev - n_both, n_next - n_both, n_both]
    cells = []
    for pair_count, source_count in zip(next_prev, with_source):
        cells += [pair_count - source_count, source_count]
    return _stack_first(cells).reshape(2, 2, 2, source_block.shape[1], block_targets)


def _symbol_block_counts(source_onehot, target_onehot, n_windows: int, n_next: int, n_history: int):
    """Return float64 counts of shape (n_next, n_history, n_windows, bs, bt) from one-hot encodings.

    ``source_onehot`` is (n_obs, bs * n_windows) and ``target_onehot`` is (n_obs, bt * n_next * n_history),
    each series' symbols contiguous with the history varying fastest.
    """
    counts = _as_float64(source_onehot.T @ target_onehot)
    block_sources = source_onehot.shape[1] // n_windows
    block_targets = target_onehot.shape[1] // (n_next * n_history)
    counts = counts.reshape(block_sources, n_windows, block_targets, n_next, n_history)
    if isinstance(counts, np.ndarray):
        return np.ascontiguousarray(counts.transpose(3, 4, 1, 0, 2))
    return counts.permute(3, 4, 1, 0, 2).contiguous()


def _as_float64(values):
    return values.astype(np.float64) if isinstance(values, np.ndarray) else values.double()


def _stack_first(arrays):
    if isinstance(arrays[0], np.ndarray):
        return np.stack(arrays)
    import torch

    return torch.stack(arrays)


def _resolve_device(device):
    """Return None for the NumPy path or a torch.device for the torch path."""
    if device is None:
        return None
    import torch

    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be None (NumPy), 'cpu', 'cuda' or a torch.device, got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available; pass device='cpu' or None")
    return resolved


def _to_backend(array: np.ndarray, device):
    """Return ``array`` unchanged for the NumPy path (device None) or as a torch tensor on ``device``."""
    if device is None:
        return array
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def _cast(block, dtype_name: str):
    if isinstance(block, np.ndarray):
        return block.astype(dtype_name)
    import torch

    return block.to(getattr(torch, dtype_name))


def _onehot(codes, n_symbols: int, dtype_name: str):
    """One-hot encode (n_obs, n_series) codes as (n_obs, n_series * n_symbols), each series' block contiguous."""
    n_obs, n_series = codes.shape
    if isinstance(codes, np.ndarray):
        encoded = np.zeros((n_obs, n_series, n_symbols), dtype=dtype_name)
        np.put_along_axis(encoded, codes[:, :, None], 1, axis=2)
        return encoded.reshape(n_obs, n_series * n_symbols)
    import torch

    encoded = torch.nn.functional.one_hot(codes, n_symbols).to(getattr(torch, dtype_name))
    return encoded.reshape(n_obs, n_series * n_symbols)


def _block_bounds(n_units: int, block_size: int):
    return [(start, min(start + block_size, n_units)) for start in range(0, n_units, block_size)]


def _default_block_size(n_obs: int, cells_per_pair: int, input_width: int) -> int:
    """Pick a block edge so a block's counts and its one-hot inputs each stay near BLOCK_ELEMENT_BUDGET elements."""
    by_counts = math.isqrt(BLOCK_ELEMENT_BUDGET // (3 * cells_per_pair))
    by_inputs = BLOCK_ELEMENT_BUDGET // (n_obs * input_width)
    return max(1, min(by_counts, by_inputs, 1024))


def _binary_plan(sources, targets, t0: int, n_obs: int, delay: int, device, dtype_name: str):
    """Return the per-block input builders and the count kernel for binary series with k = l = 1."""
    # uint8 keeps host-to-device copies small; the NumPy path casts its slices straight to dtype_name.
    narrow = (lambda array: array) if device is None else (lambda array: array.astype(np.uint8))
    source_steps = _to_backend(narrow(sources[t0 + 1 - delay : t0 + 1 - delay + n_obs]), device)
    target_steps = _to_backend(narrow(targets[t0 : t0 + 1 + n_obs]), device)

    def source_block(start, stop):
        return _cast(source_steps[:, start:stop], dtype_name)

    def target_block(start, stop):
        target_float = _cast(target_steps[:, start:stop], dtype_name)
        return target_float[1:], target_float[:-1]

    def block_counts(source_input, target_input):
        return _binary_block_counts(source_input, *target_input, n_obs)

    return source_block, target_block, block_counts


def _symbol_plan(sources, targets, k, l, t0, n_obs, delay, alphabets, device, dtype_name: str):
    """Return the per-block input builders and the count kernel for any k, l and small alphabets."""
    source_alphabet, target_alphabet = alphabets
    n_windows, n_next, n_history = source_alphabet**l, target_alphabet, target_alphabet**k
    windows = window_codes(sources.T, t0 + 1 - delay, l, n_obs, source_alphabet).T
    next_values = targets.T[:, t0 + 1 : t0 + 1 + n_obs].astype(np.int64)
    history = window_codes(targets.T, t0, k, n_obs, target_alphabet)
    windows = _to_backend(np.ascontiguousarray(windows), device)
    target_symbols = _to_backend(np.ascontiguousarray((next_values * n_history + history).T), device)

    def source_block(start, stop):
        return _onehot(windows[:, start:stop], n_windows, dtype_name)

    def target_block(start, stop):
        return _onehot(target_symbols[:, start:stop], n_next * n_history, dtype_name)

    def block_counts(source_input, target_input):
        return _symbol_block_counts(source_input, target_input, n_windows, n_next, n_history)

    return source_block, target_block, block_counts


def _check_matrix_inputs(sources, targets, k, l, delay, base, block_size):
    base = check_base(base)
    sources = check_symbol_array(sources, "sources", ndim=(2,))
    targets = check_symbol_array(targets, "targets", ndim=(2,))
    if sources.shape[0] != targets.shape[0]:
        raise ValueError(
            "sources and targets must have the same number of steps (axis 0, time first), but sources has shape "
            f"{sources.shape} and targets has shape {targets.shape}; transpose (n_units, n_steps) input"
        )
    k, l, delay = check_te_parameters(k, l, delay, targets.shape[0], name="targets")
    if block_size is not None:
        block_size = check_int(block_size, "block_size", 1)
    return sources, targets, k, l, delay, base, block_size


def _check_symbol_cells(n_cells: int, alphabets: tuple[int, int], k: int, l: int) -> None:
    if n_cells > MAX_SYMBOL_CELLS:
        raise ValueError(
            f"transfer_entropy_matrix would one-hot encode {n_cells} joint cells per pair (source alphabet "
            f"{alphabets[0]}, target alphabet {alphabets[1]}, k={k}, l={l}), above the limit of "
            f"{MAX_SYMBOL_CELLS}; use fewer symbols or shorter histories, or call transfer_entropy per pair"
        )


def transfer_entropy_matrix(
    sources,
    targets,
    k: int = 1,
    l: int = 1,
    delay: int = 1,
    base: float = 2.0,
    device=None,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """Estimate the transfer entropy from every source series to every target series.

    Entry [i, j] equals ``transfer_entropy(sources[:, i], targets[:, j], k, l, delay, base)`` to 1e-9 bits.

    Parameters
    ----------
    sources : array_like of non-negative int, shape (n_steps, n_sources)
        Source series, time first (one column per unit). A torch tensor is copied to the CPU for validation.
    targets : array_like of non-negative int, shape (n_steps, n_targets)
        Target series over the same steps.
    k, l, delay, base
        Target history length (>= 1), source history length (>= 1), source-target delay (>= 0) and
        logarithm base, as in :func:`infoplane.estimators.transfer_entropy`.
    device : None, str or torch.device, default None
        None runs on NumPy; ``"cpu"``, ``"cuda"`` or a ``torch.device`` runs the products with torch there.
    block_size : int, optional
        Number of sources and of targets per block. By default it is chosen so that a block holds about
        ``BLOCK_ELEMENT_BUDGET`` elements; it changes memory and speed, never the result.

    Returns
    -------
    numpy.ndarray of float64, shape (n_sources, n_targets)
        TE(source i -> target j) in units of ``base`` (bits by default), never negative.

    Notes
    -----
    Binary series with k = l = 1 take three products per block, sources^T times the target's next value,
    its previous value and their product; the other cells follow from column sums. Every other case
    one-hot encodes the source window (a_s**l symbols) and the target's (next value, history) pair
    (a_t**(k+1) symbols) and takes one product; it is rejected above ``MAX_SYMBOL_CELLS`` cells per pair.
    Products run in float32 while the number of observations is at most 2**24 (every count is then an
    exactly represented integer; TF32 is also exact for 0/1 inputs) and in float64 beyond. The counts are
    turned into TE in float64.

    Examples
    --------
    The target copies source 0 one step later; source 1 is constant:

    >>> sources = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [0, 0]])
    >>> transfer_entropy_matrix(sources, np.array([[1], [0], [0], [1], [1]]))
    array([[1.],
           [0.]])
    """
    sources, targets, k, l, delay, base, block_size = _check_matrix_inputs(
        sources, targets, k, l, delay, base, block_size
    )
    device = _resolve_device(device)
    t0 = first_observation(k, l, delay)
    n_obs = targets.shape[0] - 1 - t0
    alphabets = (max(int(sources.max()) + 1, 2), max(int(targets.max()) + 1, 2))
    dtype_name = "float32" if n_obs <= FLOAT32_EXACT_COUNT_LIMIT else "float64"

    if alphabets == (2, 2) and k == 1 and l == 1:
        plan = _binary_plan(sources, targets, t0, n_obs, delay, device, dtype_name)
        cells, input_width = 8, 3
    else:
        cells = alphabets[0] ** l * alphabets[1] ** (k + 1)
        _check_symbol_cells(cells, alphabets, k, l)
        plan = _symbol_plan(sources, targets, k, l, t0, n_obs, delay, alphabets, device, dtype_name)
        input_width = alphabets[0] ** l + alphabets[1] ** (k + 1)
    block_size = block_size or _default_block_size(n_obs, cells, input_width)
    logger.debug("transfer_entropy_matrix: %s path, %d observations, blocks of %d", device, n_obs, block_size)

    result = np.empty((sources.shape[1], targets.shape[1]), dtype=np.float64)
    source_block, target_block, block_counts = plan
    for target_start, target_stop in _block_bounds(targets.shape[1], block_size):
        target_input = target_block(target_start, target_stop)
        for source_start, source_stop in _block_bounds(sources.shape[1], block_size):
            counts = block_counts(source_block(source_start, source_stop), target_input)
            nats = te_nats_from_counts(counts, n_obs)
            nats = nats if isinstance(nats, np.ndarray) else nats.cpu().numpy()
            result[source_start:source_stop, target_start:target_stop] = nats
    return np.maximum(result, 0.0) / math.log(base)
