"""Mutual information of binned activations, the scheme of Shwartz-Ziv and Tishby (2017).

Each unit's activation is cut into equal-width bins and each distinct row of bin
indices is one symbol of the layer T. Each distinct input pattern is one symbol
of X and each label one symbol of Y. All entropies are plug-in estimates from
counts, so every distinct pattern costs one ``np.unique`` call, not a loop over
samples.
"""

from __future__ import annotations

import logging
import numbers
import warnings

import numpy as np

from ._validation import check_finite_array, check_int

logger = logging.getLogger(__name__)

# Above this fraction of distinct layer patterns per sample, H(T) is close to its
# ceiling log2(n_samples) and I(X;T) stops measuring compression.
SATURATION_FRACTION = 0.9

# Seed of the random hash weights that group equal rows. Any seed groups the rows alike.
HASH_SEED = 0
# Odd 64-bit constant (the golden-ratio multiplier) that mixes the bits of each value before hashing.
HASH_MIX = np.uint64(0x9E3779B97F4A7C15)


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    """Return a uint64 hash of each float64 row, shape ``(n_samples,)``. Equal rows always get equal hashes."""
    # Integer arithmetic wraps modulo 2**64 and is exact, so unlike a float
    # projection the hash of a row cannot depend on its position in memory.
    bits = np.ascontiguousarray(rows + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
    mixed = bits * HASH_MIX
    mixed ^= mixed >> np.uint64(31)
    weights = np.random.default_rng(HASH_SEED).integers(0, 2**63, size=rows.shape[1], dtype=np.uint64)
    mixed *= weights | np.uint64(1)
    return mixed.sum(axis=1, dtype=np.uint64)


def _symbols(array: np.ndarray) -> np.ndarray:
    """Return one integer id per row of ``array`` (shape ``(n_samples, n_dims)``), equal rows sharing an id."""
    rows = np.asarray(array, dtype=np.float64)

    # Sorting wide rows byte by byte is slow, so group rows by hash first and
    # confirm that every row equals the first row of its group. Unequal rows with
    # equal hashes are unlikely but fall back to the exact grouping below.
    _, first_rows, ids = np.unique(_row_hashes(rows), return_index=True, return_inverse=True)
    ids = ids.ravel()
    if np.array_equal(rows, rows[first_rows[ids]]):
        return ids

    logger.debug("row hashes collided; grouping %d rows by their bytes", rows.shape[0])
    rows = np.ascontiguousarray(rows + 0.0)
    row_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, ids = np.unique(row_bytes, return_inverse=True)
    return ids.ravel()


def _entropy_of_ids(ids: np.ndarray) -> float:
    """Return the plug-in entropy in bits of integer symbol ids, shape ``(n_samples,)``."""
    _, counts = np.unique(ids, return_counts=True)
    probabilities = counts / ids.size
    return float(-np.sum(probabilities * np.log2(probabilities)))


def _mutual_information_of_ids(first: np.ndarray, second: np.ndarray) -> float:
    """Return I(first; second) = H(first) + H(second) - H(first, second) in bits, with round-off below 0 set to 0."""
    joint = first.astype(np.int64) * (int(second.max()) + 1) + second
    value = _entropy_of_ids(first) + _entropy_of_ids(second) - _entropy_of_ids(joint)
    return max(value, 0.0)


def _bin_indices(activations: np.ndarray, n_bins: int, low: float, high: float) -> np.ndarray:
    """Return the equal-width bin index (0 .. n_bins - 1, as floats) of every activation; ``high`` falls in the last bin."""
    if high == low:
        return np.zeros(activations.shape)
    scaled = activations - low
    scaled *= n_bins / (high - low)
    return np.clip(np.floor(scaled, out=scaled), 0, n_bins - 1, out=scaled)


def _check_value_range(value_range, activations: np.ndarray) -> tuple[float, float]:
    """Return ``(low, high)`` for binning: the given range after checking it covers every activation, or the observed one."""
    if value_range is None:
        return float(activations.min()), float(activations.max())

    if isinstance(value_range, (str, bytes)) or np.ndim(value_range) != 1 or len(value_range) != 2:
        raise TypeError(f"value_range must be None or a pair (low, high), got {value_range!r}")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value_range):
        raise TypeError(f"value_range must contain two real numbers, got {value_range!r}")
    low, high = float(value_range[0]), float(value_range[1])
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        raise ValueError(f"value_range must be finite with low < high, got ({low}, {high}); pass e.g. (-1.0, 1.0)")

    outside = (activations < low) | (activations > high)
    if outside.any():
        raise ValueError(
            f"activations has {int(outside.sum())} values outside value_range [{low}, {high}] "
            f"(observed min {activations.min()}, max {activations.max()}); "
            "pass a range that spans every epoch of the layer, or value_range=None for the observed range"
        )
    return low, high


def _check_symbols(values, name: str, n_samples: int) -> np.ndarray:
    """Return the per-sample symbol ids of ``values``, shape ``(n_samples,)`` or ``(n_samples, n_dims)``."""
    array = check_finite_array(values, name, ndim=(1, 2))
    if array.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {array.shape[0]} samples but activations has {n_samples}; "
            "pass one row per sample, in the same order"
        )
    return _symbols(array.reshape(n_samples, -1))


def binned_information(activations, inputs, labels, n_bins: int = 30, value_range=None) -> tuple[float, float]:
    """Estimate I(X;T) and I(T;Y) of a layer T by binning its activations.

    Each unit's activation is assigned to one of ``n_bins`` equal-width bins over
    ``value_range``. The row of bin indices of a sample is its symbol of T, each
    distinct row of ``inputs`` is one symbol of X and each distinct label one symbol
    of Y. With plug-in probabilities, I(X;T) = H(T) - H(T|X), where
    H(T|X) = sum_x p(x) H(T|X=x) = H(X,T) - H(X) weights each distinct input by its
    frequency; I(T;Y) likewise.

    Parameters
    ----------
    activations : array_like, shape (n_samples, n_units) or (n_samples,)
        Float activations of one layer, one row per sample. A 1-D array is one unit.
    inputs : array_like, shape (n_samples, n_input_dims) or (n_samples,)
        The input of each sample. Each distinct row (or value) is one symbol of X,
        so 1-D integer ids of the input patterns work as well as the patterns.
    labels : array_like, shape (n_samples,) or (n_samples, n_classes)
        Class of each sample: integer labels, or one-hot rows.
    n_bins : int, default 30
        Number of equal-width bins per unit.
    value_range : tuple of float (low, high), optional
        Bin edges span ``[low, high]``; a value equal to ``high`` falls in the last
        bin. Pass one range per layer spanning all recorded epochs so that epochs
        are binned alike. None uses the observed min and max of ``activations``.

    Returns
    -------
    tuple of float
        ``(I(X;T), I(T;Y))`` in bits.

    Raises
    ------
    ValueError
        If an array contains NaN or inf, the sample counts differ, ``n_bins < 1``,
        ``value_range`` is not increasing, or any activation lies outside it.

    Warns
    -----
    RuntimeWarning
        When the number of distinct patterns of T exceeds ``SATURATION_FRACTION``
        (0.9) of the sample count. H(T) is then near its ceiling log2(n_samples), and
        with one sample per input I(X;T) is saturated at that value.

    Notes
    -----
    Plug-in estimates from binned data depend on ``n_bins`` and on the sample count,
    and they are biased upward when patterns are rare. Compare values only across
    runs with the same bins and the same probe. A constant (dead) unit lies in one
    bin and adds nothing. If ``value_range`` is None and every activation is equal,
    every sample falls in one bin and both values are 0.

    References
    ----------
    R. Shwartz-Ziv and N. Tishby, "Opening the black box of deep neural networks via
    information", arXiv:1703.00810, 2017.

    Examples
    --------
    A layer that copies a 2-bit input keeps both bits, and the label is the first bit:

    >>> x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> binned_information(x.astype(float), x, x[:, 0], n_bins=2)
    (2.0, 1.0)
    """
    activations = check_finite_array(activations, "activations", ndim=(1, 2))
    n_samples = activations.shape[0]
    activations = activations.reshape(n_samples, -1)
    input_ids = _check_symbols(inputs, "inputs", n_samples)
    label_ids = _check_symbols(labels, "labels", n_samples)
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    low, high = _check_value_range(value_range, activations)

    layer_ids = _symbols(_bin_indices(activations, n_bins, low, high))
    n_patterns = int(layer_ids.max()) + 1
    if n_patterns > SATURATION_FRACTION * n_samples:
        warnings.warn(
            f"the layer has {n_patterns} distinct binned patterns for {n_samples} samples, so H(T) is near its "
            f"maximum log2({n_samples}) = {np.log2(n_samples):.2f} bits and I(X;T) is saturated; "
            "use fewer bins or more samples for a meaningful estimate",
            RuntimeWarning,
            stacklevel=2,
        )

    information_x_t = _mutual_information_of_ids(input_ids, layer_ids)
    information_t_y = _mutual_information_of_ids(layer_ids, label_ids)
    logger.debug(
        "binned_information: %d samples, %d units, %d bins over [%g, %g], %d patterns",
        n_samples, activations.shape[1], n_bins, low, high, n_patterns,
    )
    return information_x_t, information_t_y
