"""Plug-in entropy, mutual information, conditional mutual information and transfer entropy of discrete series.

Every estimate counts symbol frequencies and plugs them into the definition, so results carry the usual
plug-in bias (upwards for MI and TE, of order (number of cells) / (2 N ln 2) bits). Inputs are non-negative
integers; continuous data must be binarized or discretized first. Results are in bits unless ``base`` says
otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from infoplane.estimators._validation import check_base, check_int, check_symbol_array

# Largest dense count table transfer_entropy allocates: 2**27 int64 entries take 1 GiB.
MAX_COUNT_TABLE_ENTRIES = 2**27


def xlogx_sum(counts: np.ndarray) -> float:
    """Return sum(c * ln c) over the counts, with 0 ln 0 = 0."""
    counts = counts[counts > 0].astype(np.float64)
    return float(np.sum(counts * np.log(counts)))


def _symbol_codes(array: np.ndarray) -> np.ndarray:
    """Map each sample (a value, or a row of a 2-D array) to a code 0..n_symbols-1."""
    if array.ndim == 1:
        return np.unique(array, return_inverse=True)[1].reshape(-1)
    return np.unique(array, axis=0, return_inverse=True)[1].reshape(-1)


def _joint_codes(*codes: np.ndarray) -> np.ndarray:
    """Combine per-variable codes of the same samples into one code per sample."""
    joint = codes[0]
    for code in codes[1:]:
        joint = _symbol_codes(joint * (int(code.max()) + 1) + code)
    return joint


def _entropy_nats(codes: np.ndarray) -> float:
    n_samples = codes.size
    return math.log(n_samples) - xlogx_sum(np.bincount(codes)) / n_samples


def _check_same_samples(arrays: dict[str, np.ndarray]) -> None:
    lengths = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"all inputs must have the same number of samples (first axis), but {listed}")


def entropy(x, base: float = 2.0) -> float:
    """Estimate the Shannon entropy H(X) of discrete symbols by plug-in frequencies.

    Parameters
    ----------
    x : array_like of non-negative int, shape (n_samples,) or (n_samples, n_dims)
        Observed symbols. Each row of a 2-D array is one multi-dimensional symbol.
    base : float, default 2.0
        Logarithm base; 2 gives bits.

    Returns
    -------
    float
        H(X) in units of ``base`` (bits by default).

    Examples
    --------
    >>> entropy([0, 1, 0, 1])
    1.0
    """
    base = check_base(base)
    codes = _symbol_codes(check_symbol_array(x, "x"))
    return max(_entropy_nats(codes), 0.0) / math.log(base)


def mutual_information(x, y, base: float = 2.0) -> float:
    """Estimate the mutual information I(X;Y) = H(X) + H(Y) - H(X,Y) of discrete symbols.

    Parameters
    ----------
    x, y : array_like of non-negative int, shape (n_samples,) or (n_samples, n_dims)
        Paired observations; row i of ``x`` goes with row i of ``y``.
    base : float, default 2.0
        Logarithm base; 2 gives bits.

    Returns
    -------
    float
        I(X;Y) in units of ``base``, never negative (round-off below zero is returned as 0).

    Examples
    --------
    >>> mutual_information([0, 1, 0, 1], [1, 0, 1, 0])
    1.0
    """
    base = check_base(base)
    arrays = {"x": check_symbol_array(x, "x"), "y": check_symbol_array(y, "y")}
    _check_same_samples(arrays)
    x_codes, y_codes = (_symbol_codes(array) for array in arrays.values())

    nats = _entropy_nats(x_codes) + _entropy_nats(y_codes) - _entropy_nats(_joint_codes(x_codes, y_codes))
    return max(nats, 0.0) / math.log(base)


def conditional_mutual_information(x, y, z, base: float = 2.0) -> float:
    """Estimate I(X;Y|Z) = H(X,Z) + H(Y,Z) - H(X,Y,Z) - H(Z) of discrete symbols.

    Parameters
    ----------
    x, y, z : array_like of non-negative int, shape (n_samples,) or (n_samples, n_dims)
        Paired observations; row i of each array belongs to the same sample.
    base : float, default 2.0
        Logarithm base; 2 gives bits.

    Returns
    -------
    float
        I(X;Y|Z) in units of ``base``, never negative (round-off below zero is returned as 0).

    Examples
    --------
    >>> conditional_mutual_information([0, 1, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1])
    1.0
    """
    base = check_base(base)
    arrays = {name: check_symbol_array(value, name) for name, value in (("x", x), ("y", y), ("z", z))}
    _check_same_samples(arrays)
    x_codes, y_codes, z_codes = (_symbol_codes(array) for array in arrays.values())

    nats = (
        _entropy_nats(_joint_codes(x_codes, z_codes))
        + _entropy_nats(_joint_codes(y_codes, z_codes))
        - _entropy_nats(_joint_codes(x_codes, y_codes, z_codes))
        - _entropy_nats(z_codes)
    )
    return max(nats, 0.0) / math.log(base)


def first_observation(k: int, l: int, delay: int) -> int:
    """Return the first step t at which the target history and the source window are both defined.

    An observation at step t pairs the target's next value Y_{t+1} with its history (Y_{t-k+1}..Y_t) and the
    source window (X_{t+2-delay-l}..X_{t+1-delay}).
    """
    return max(k - 1, delay + l - 2)


def check_te_parameters(k, l, delay, n_steps: int, name: str = "target") -> tuple[int, int, int]:
    """Validate the history lengths and delay and check that ``n_steps`` gives at least one observation."""
    k = check_int(k, "k (target history length)", 1)
    l = check_int(l, "l (source history length)", 1)
    delay = check_int(delay, "delay", 0)
    required = first_observation(k, l, delay) + 2
    if n_steps < required:
        raise ValueError(
            f"series are too short for k={k}, l={l}, delay={delay}: {name} has {n_steps} steps per series but "
            f"at least {required} are required; pass longer series or smaller k, l or delay"
        )
    return k, l, delay


def window_codes(series: np.ndarray, end_offset: int, length: int, n_obs: int, alphabet: int) -> np.ndarray:
    """Encode windows of ``length`` steps ending at ``end_offset + i`` as integers, for i in range(n_obs).

    ``series`` has shape (n_trials, n_steps); the result has shape (n_trials, n_obs) with values below
    ``alphabet ** length``. Windows never cross a trial boundary.
    """
    start = end_offset - length + 1
    codes = np.zeros((series.shape[0], n_obs), dtype=np.int64)
    for lag in range(length):
        codes = codes * alphabet + series[:, start + lag : start + lag + n_obs]
    return codes


def _te_codes(source: np.ndarray, target: np.ndarray, k: int, l: int, delay: int):
    """Return per-observation codes (next, history, source window) and the alphabet sizes, shape (n_trials, n_obs)."""
    t0 = first_observation(k, l, delay)
    n_obs = target.shape[1] - 1 - t0
    source_alphabet = max(int(source.max()) + 1, 2)
    target_alphabet = max(int(target.max()) + 1, 2)

    table_entries = target_alphabet ** (k + 1) * source_alphabet**l
    if table_entries > MAX_COUNT_TABLE_ENTRIES:
        raise ValueError(
            f"the transfer entropy count table would have {table_entries:.3g} entries "
            f"({table_entries * 8 / 2**30:.3g} GiB; target alphabet {target_alphabet}, source alphabet "
            f"{source_alphabet}, k={k}, l={l}), above the limit of {MAX_COUNT_TABLE_ENTRIES} entries; "
            "use fewer symbols (coarser discretization) or shorter histories"
        )

    next_values = target[:, t0 + 1 : t0 + 1 + n_obs]
    history = window_codes(target, t0, k, n_obs, target_alphabet)
    window = window_codes(source, t0 + 1 - delay, l, n_obs, source_alphabet)
    return next_values, history, window, target_alphabet, source_alphabet


def _te_tables(source, target, k, l, delay):
    """Return the dense counts c(next, history, window) with shape (a_t, a_t**k, a_s**l) and the observation codes."""
    next_values, history, window, target_alphabet, source_alphabet = _te_codes(source, target, k, l, delay)
    shape = (target_alphabet, target_alphabet**k, source_alphabet**l)
    flat = np.ravel_multi_index((next_values.ravel(), history.ravel(), window.ravel()), shape)
    counts = np.bincount(flat, minlength=math.prod(shape)).reshape(shape)
    return counts, (next_values, history, window)


def _xlogx(values):
    """Return c ln c elementwise with 0 ln 0 = 0, for float64 NumPy arrays or torch tensors."""
    if isinstance(values, np.ndarray):
        return values * np.log(np.where(values > 0, values, 1.0))
    import torch

    return values * torch.log(torch.where(values > 0, values, torch.ones_like(values)))


def te_nats_from_counts(counts, n_obs: int):
    """Return plug-in TE in nats from float64 counts c(next, history, window) in the first three axes.

    ``counts`` is a NumPy array or torch tensor of shape (n_next, n_history, n_windows, ...); the result has
    the shape of the trailing axes. Per history h, TE sums
    [sum_{n,w} c ln c(n,h,w) - sum_w c ln c(h,w)] + [c ln c(h) - sum_n c ln c(n,h)], divided by N.
    Grouping the terms this way makes each bracket cancel exactly (not just to round-off) when the source is
    constant, the target is constant, or the source window is a function of the target history. Leading
    cell axes keep every reduction a sum of contiguous slabs, which is fast for many pairs at once.
    """
    joint_minus_window = _xlogx(counts).sum(2).sum(0) - _xlogx(counts.sum(0)).sum(1)
    next_history = counts.sum(2)
    history_minus_next = _xlogx(next_history.sum(0)) - _xlogx(next_history).sum(0)
    return (joint_minus_window + history_minus_next).sum(0) / n_obs


def _prepare_pair(source, target, k, l, delay, base):
    """Validate one source-target pair; return (source, target) as int64 (n_trials, n_steps), k, l, delay, base."""
    base = check_base(base)
    source = check_symbol_array(source, "source")
    target = check_symbol_array(target, "target")
    if source.shape != target.shape:
        raise ValueError(
            f"source and target must have the same shape, (n_steps,) or (n_trials, n_steps), but source has "
            f"shape {source.shape} and target has shape {target.shape}"
        )
    source, target = np.atleast_2d(source), np.atleast_2d(target)
    k, l, delay = check_te_parameters(k, l, delay, target.shape[1])
    return source, target, k, l, delay, base


def transfer_entropy(source, target, k: int = 1, l: int = 1, delay: int = 1, base: float = 2.0) -> float:
    """Estimate the transfer entropy TE(X -> Y) of one discrete source-target pair by plug-in counts.

    TE(X -> Y) = I(Y_{t+1} ; X_{t+1-delay}^{(l)} | Y_t^{(k)}), where Z_s^{(m)} = (Z_{s-m+1}, ..., Z_s)
    (Schreiber 2000), with the conventions of JIDT's discrete calculator.

    Parameters
    ----------
    source, target : array_like of non-negative int, shape (n_steps,) or (n_trials, n_steps)
        The source X and target Y. With 2-D input each row is one trial; counts are pooled over trials and
        no history crosses a trial boundary.
    k : int, default 1
        Target history length, >= 1.
    l : int, default 1
        Source history length, >= 1.
    delay : int, default 1
        Source-target delay u >= 0. With u = 0 the source window ends at the same step as Y_{t+1}.
    base : float, default 2.0
        Logarithm base; 2 gives bits.

    Returns
    -------
    float
        TE in units of ``base`` (bits by default), never negative (round-off below zero is returned as 0).

    Notes
    -----
    Observations start at the first step t at which every history is defined, t0 = max(k - 1, delay + l - 2),
    so each trial of n_steps steps gives n_steps - 1 - t0 observations. The count table has
    a_t**(k+1) * a_s**l cells (a_t, a_s the target and source alphabet sizes, max + 1) and is refused above
    ``MAX_COUNT_TABLE_ENTRIES``. A constant source or target gives exactly 0, and so does a series to itself
    when delay >= 1 and delay + l - 1 <= k.

    References
    ----------
    T. Schreiber, "Measuring information transfer", Phys. Rev. Lett. 85, 461 (2000), eq. (4).

    Examples
    --------
    The target copies the source one step later, and its own past does not predict it:

    >>> transfer_entropy([0, 0, 1, 1, 0], [1, 0, 0, 1, 1])
    1.0
    """
    source, target, k, l, delay, base = _prepare_pair(source, target, k, l, delay, base)
    counts, (next_values, _, _) = _te_tables(source, target, k, l, delay)
    nats = float(te_nats_from_counts(counts.astype(np.float64), next_values.size))
    return max(nats, 0.0) / math.log(base)


def local_transfer_entropy(source, target, k: int = 1, l: int = 1, delay: int = 1, base: float = 2.0) -> np.ndarray:
    """Estimate the local (per-observation) transfer entropy of one discrete source-target pair.

    The local value at observation t is log[ p(y_{t+1} | y_t^{(k)}, x^{(l)}) / p(y_{t+1} | y_t^{(k)}) ] with
    plug-in probabilities from the whole input, so the mean over all observations equals
    ``transfer_entropy`` with the same arguments. Local values may be negative.

    Parameters
    ----------
    source, target : array_like of non-negative int, shape (n_steps,) or (n_trials, n_steps)
        As in :func:`transfer_entropy`.
    k, l, delay, base
        As in :func:`transfer_entropy`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_obs,) or (n_trials, n_obs)
        Local TE in units of ``base`` (bits by default), one value per observation, where
        n_obs = n_steps - 1 - max(k - 1, delay + l - 2); 2-D input gives one row per trial.

    Examples
    --------
    >>> local_transfer_entropy([0, 0, 1, 1, 0], [1, 0, 0, 1, 1])
    array([1., 1., 1., 1.])
    """
    one_dimensional = np.ndim(target) == 1
    source, target, k, l, delay, base = _prepare_pair(source, target, k, l, delay, base)
    counts, (next_values, history, window) = _te_tables(source, target, k, l, delay)

    joint = counts[next_values, history, window].astype(np.float64)
    history_count = counts.sum(axis=(0, 2))[history]
    history_window = counts.sum(axis=0)[history, window]
    next_history = counts.sum(axis=2)[next_values, history]
    local = np.log(joint * history_count / (history_window * next_history)) / math.log(base)
    return local[0] if one_dimensional else local
