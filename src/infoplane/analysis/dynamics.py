"""Training dynamics of a layer value over the recorded epochs: trend, correlation, phases and concentration.

Every series here is one value per recorded epoch, in recording order. Recorded epochs are usually
log-spaced, so a step of one position is a constant step in log(epoch); trends, block lengths and the
phase smoothing all work on positions, not on epoch numbers.

Successive values of a training curve are autocorrelated, and two curves that both drift with training
correlate whether or not they are related. The tests below therefore use:

- **Block permutation.** The series is cut into contiguous blocks of ``block_length`` positions and the
  blocks are shuffled, so that the short-range autocorrelation inside a block survives in the null. The
  default block length is twice the first lag at which the autocorrelation of the linearly detrended
  series falls below ``DECORRELATION_LEVEL`` (0.1), kept between ceil(n**(1/3)) and n // 4 (at least 1).
  On 150 simulated AR(1) series of 130 values with no trend, :func:`trend_test` called a trend at the
  0.05 level for 3 % (coefficient 0), 5 % (0.5), 5 % (0.8) and 9 % (0.9) of them, so very persistent
  noise still passes as a trend somewhat too often.
- **Detrending** (correlation only). Both series are replaced by their first differences (or, on
  request, by their residuals from a least-squares polynomial in the position) before they are
  correlated, so that a shared drift is not counted as a relation. A polynomial does not follow the
  steep early change of a log-spaced training curve, so differencing is the default. The reported
  statistic is the correlation of the raw series, and its p-value comes from the detrended series.

p-values are two-sided Monte-Carlo permutation p-values, (1 + number of permuted statistics at least as
extreme as the observed one) / (1 + n_permutations), so they are never 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_N_PERMUTATIONS = 999
DETREND_DEGREE = 2
DECORRELATION_LEVEL = 0.1
# Largest chain of layer pairs whose orderings the concentration test enumerates exactly (8! = 40320).
MAX_EXACT_ORDERINGS = 8
MIN_TEST_POINTS = 4


@dataclass(frozen=True)
class TrendResult:
    """Spearman rank correlation of a series with its position, with a block-permutation p-value."""

    rho: float
    p_value: float
    n: int
    block_length: int


@dataclass(frozen=True)
class CorrelationResult:
    """Correlation of two series: ``r`` of the raw series, ``r_detrended`` of the detrended ones.

    ``p_value`` tests ``r_detrended`` against block permutations of the detrended ``first``.
    """

    method: str
    r: float
    r_detrended: float
    p_value: float
    n: int
    block_length: int


@dataclass(frozen=True)
class PhaseResult:
    """Fitting and compression phases of a plane's horizontal coordinate (bits), by the rule of :func:`detect_phases`."""

    peak_epoch: int
    peak_index: int
    start_epoch: int
    end_epoch: int
    fitting_bits: float
    compression_bits: float
    compression_rho: float
    compression_p_value: float
    window: int


def _check_series(values, name: str, minimum: int = MIN_TEST_POINTS) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series of one value per recorded epoch, got shape {array.shape}")
    if array.size < minimum:
        raise ValueError(f"{name} needs at least {minimum} values for a test, got {array.size}; record more epochs")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf at positions {np.flatnonzero(~np.isfinite(array))[:5].tolist()};"
                         " drop the missing epochs first")
    return array


def detrend(values: np.ndarray, degree: int = DETREND_DEGREE) -> np.ndarray:
    """Return the residuals of ``values`` after a least-squares polynomial of ``degree`` in the position.

    The degree is lowered to ``len(values) - 2`` for short series, so that some residual freedom remains.
    """
    values = np.asarray(values, dtype=np.float64)
    degree = max(0, min(degree, values.size - 2))
    positions = np.linspace(-1.0, 1.0, values.size)
    coefficients = np.polynomial.polynomial.polyfit(positions, values, degree)
    return values - np.polynomial.polynomial.polyval(positions, coefficients)


def _autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    centred = values - values.mean()
    variance = float(centred @ centred)
    if variance == 0.0:
        return np.zeros(max_lag)
    return np.array([float(centred[:-lag] @ centred[lag:]) / variance for lag in range(1, max_lag + 1)])


def default_block_length(values) -> int:
    """Return the block length of the permutation tests for ``values`` (see the module notes)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    longest = max(1, n // 4)
    shortest = min(longest, math.ceil(n ** (1.0 / 3.0)))
    autocorrelation = _autocorrelation(detrend(values, degree=1), longest)
    below = np.flatnonzero(autocorrelation < DECORRELATION_LEVEL)
    decorrelation_lag = int(below[0]) + 1 if below.size else longest
    return int(min(longest, max(shortest, 2 * decorrelation_lag)))


def block_permutations(n: int, block_length: int, n_permutations: int, random_state=None) -> np.ndarray:
    """Draw ``(n_permutations, n)`` index orders that shuffle contiguous blocks of ``block_length`` positions.

    The last block is shorter when ``block_length`` does not divide ``n``.
    """
    rng = np.random.default_rng(random_state)
    blocks = [np.arange(start, min(start + block_length, n)) for start in range(0, n, block_length)]
    orders = np.empty((n_permutations, n), dtype=np.int64)
    for row in range(n_permutations):
        orders[row] = np.concatenate([blocks[index] for index in rng.permutation(len(blocks))])
    return orders


def _pearson(first: np.ndarray, second: np.ndarray) -> float:
    first = first - first.mean(axis=-1, keepdims=True)
    second = second - second.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((first * first).sum(axis=-1) * (second * second).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (first * second).sum(axis=-1) / denominator


def _permutation_p_value(observed: float, permuted: np.ndarray) -> float:
    if not np.isfinite(observed):
        return math.nan
    extreme = int(np.sum(np.abs(permuted) >= abs(observed) - 1e-12))
    return (1 + extreme) / (1 + permuted.size)


def trend_test(values, n_permutations: int = DEFAULT_N_PERMUTATIONS, block_length: int | None = None,
               random_state=0) -> TrendResult:
    """Test whether a series rises or falls over the recorded epochs.

    Parameters
    ----------
    values : array_like of float, shape (n_epochs,)
        One value per recorded epoch, in recording order, with no missing values; at least 4.
    n_permutations : int, default 999
        Number of block permutations of the null.
    block_length : int, optional
        Positions per block; by default :func:`default_block_length`.
    random_state : None, int or numpy.random.Generator, default 0
        Seed of the block permutations.

    Returns
    -------
    TrendResult
        ``rho`` is Spearman's rank correlation of the values with the position (negative: falling);
        ``p_value`` its two-sided block-permutation p-value. A constant series has rho NaN and p NaN.

    Examples
    --------
    >>> trend_test(np.arange(40.0)).rho
    1.0
    """
    values = _check_series(values, "values")
    block_length = block_length or default_block_length(values)
    ranks = stats.rankdata(values)
    positions = np.arange(values.size, dtype=np.float64)
    rho = float(_pearson(ranks, positions))

    orders = block_permutations(values.size, block_length, n_permutations, random_state)
    permuted = _pearson(ranks[orders], positions[None, :])
    return TrendResult(rho, _permutation_p_value(rho, permuted), int(values.size), int(block_length))


def _detrended(values: np.ndarray, method) -> np.ndarray:
    if method == "difference":
        return np.diff(values)
    return detrend(values, method)


def correlation_test(first, second, method: str = "pearson", detrend_method="difference",
                     n_permutations: int = DEFAULT_N_PERMUTATIONS, block_length: int | None = None,
                     random_state=0) -> CorrelationResult:
    """Correlate two series over the same recorded epochs, with a p-value that discounts shared trends.

    Parameters
    ----------
    first, second : array_like of float, shape (n_epochs,)
        Two series over the same epochs with no missing values; at least 4 values.
    method : {"pearson", "spearman"}, default "pearson"
        Spearman correlates the ranks of the raw series, and its p-value the ranks of the detrended ones.
    detrend_method : "difference" or int, default "difference"
        How each series loses its trend before the p-value is computed: first differences, or the
        residuals of a polynomial of that degree in the position (0 removes only the mean).
    n_permutations : int, default 999
        Number of block permutations of the detrended ``first``.
    block_length : int, optional
        By default the larger :func:`default_block_length` of the two detrended series.
    random_state : None, int or numpy.random.Generator, default 0

    Returns
    -------
    CorrelationResult
        ``r`` of the raw series, ``r_detrended`` of the detrended ones and the two-sided p-value of the
        latter.

    Notes
    -----
    Within one run, a relation that acts only through the shared trend cannot be distinguished from two
    curves that merely both change with training, so it is not called significant; only co-fluctuation
    around the trends is. Compare seeds or runs to test a relation of the trends themselves.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    if detrend_method != "difference" and (isinstance(detrend_method, bool) or not isinstance(detrend_method, int)
                                           or detrend_method < 0):
        raise ValueError(f"detrend_method must be 'difference' or a polynomial degree >= 0, got {detrend_method!r}")
    first = _check_series(first, "first")
    second = _check_series(second, "second")
    if first.size != second.size:
        raise ValueError(f"first and second must have one value per epoch each, got {first.size} and {second.size}")

    first_detrended, second_detrended = _detrended(first, detrend_method), _detrended(second, detrend_method)
    if method == "spearman":
        first, second = stats.rankdata(first), stats.rankdata(second)
        first_detrended, second_detrended = stats.rankdata(first_detrended), stats.rankdata(second_detrended)
    r = float(_pearson(first, second))
    r_detrended = float(_pearson(first_detrended, second_detrended))

    if block_length is None:
        block_length = max(default_block_length(first_detrended), default_block_length(second_detrended))
    orders = block_permutations(first_detrended.size, block_length, n_permutations, random_state)
    permuted = _pearson(first_detrended[orders], second_detrended[None, :])
    return CorrelationResult(method, r, r_detrended, _permutation_p_value(r_detrended, permuted),
                             int(first.size), int(block_length))


def smooth(values, window: int) -> np.ndarray:
    """Return the centred moving average of ``values`` over ``window`` positions (odd), shrunk at the ends."""
    values = np.asarray(values, dtype=np.float64)
    half = window // 2
    sums = np.concatenate([[0.0], np.cumsum(values)])
    starts = np.maximum(np.arange(values.size) - half, 0)
    stops = np.minimum(np.arange(values.size) + half + 1, values.size)
    return (sums[stops] - sums[starts]) / (stops - starts)


def default_window(n: int) -> int:
    """Return the smoothing window of :func:`detect_phases`: the odd number nearest n / 10, at least 3."""
    return max(3, 2 * int(round(n / 20.0)) + 1)


def detect_phases(epochs, values, window: int | None = None, n_permutations: int = DEFAULT_N_PERMUTATIONS,
                  random_state=0) -> PhaseResult:
    """Split a plane's horizontal coordinate into a fitting phase and a compression phase.

    Rule: smooth the values with a centred moving average of ``window`` positions (shrunk at the
    ends), take the first position of the smoothed maximum as the peak, call the epochs up to it the
    fitting phase and the epochs after it the compression phase. ``fitting_bits`` is the smoothed rise
    from the first epoch to the peak, ``compression_bits`` the smoothed fall from the peak to the last
    epoch (0 when the peak is the last epoch). The compression phase is tested by :func:`trend_test` on
    the raw values from the peak on: ``compression_rho < 0`` with a small ``compression_p_value`` means
    the coordinate falls there. The moving average moves an asymmetric peak toward its flatter side, by
    at most half a window.

    Parameters
    ----------
    epochs : array_like of int, shape (n_epochs,)
        Recorded epochs in increasing order.
    values : array_like of float, shape (n_epochs,)
        The horizontal coordinate (I(X;T) or TE(X->T), bits) at those epochs, no missing values; at least 3.
    window : int, optional
        Moving-average width in positions; by default :func:`default_window`. An even width is raised by one.
    n_permutations, random_state
        For the compression test.

    Returns
    -------
    PhaseResult
        ``compression_rho`` and ``compression_p_value`` are NaN when fewer than 4 epochs follow the peak.
    """
    values = _check_series(values, "values", minimum=3)
    epochs = np.asarray(epochs)
    if epochs.shape != values.shape:
        raise ValueError(f"epochs and values must have the same length, got {epochs.size} and {values.size}")
    window = default_window(values.size) if window is None else int(window) | 1
    smoothed = smooth(values, window)
    peak = int(np.argmax(smoothed))

    rho, p_value = math.nan, math.nan
    if values.size - peak >= MIN_TEST_POINTS:
        result = trend_test(values[peak:], n_permutations=n_permutations, random_state=random_state)
        rho, p_value = result.rho, result.p_value
    return PhaseResult(int(epochs[peak]), peak, int(epochs[0]), int(epochs[-1]),
                       float(smoothed[peak] - smoothed[0]), float(smoothed[peak] - smoothed[-1]),
                       rho, p_value, window)


def layer_shares(values: pd.DataFrame) -> pd.DataFrame:
    """Return each layer pair's share of the total per epoch.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``epoch``, ``source``, ``target``, ``value`` (bits), one row per layer pair and epoch.

    Returns
    -------
    pandas.DataFrame
        The same rows with a column ``share`` = value / sum of that epoch's values; NaN for an epoch
        whose total is 0 or missing.
    """
    totals = values.groupby("epoch")["value"].transform(lambda group: group.sum(min_count=1))
    shares = values.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        shares["share"] = np.where(totals > 0, values["value"] / totals, np.nan)
    return shares


def concentration_test(mean_shares, n_permutations: int = DEFAULT_N_PERMUTATIONS, random_state=0) -> tuple[float, float]:
    """Test whether the shares grow along a chain of layer pairs (input side first).

    Parameters
    ----------
    mean_shares : array_like of float, shape (n_pairs,)
        Each layer pair's share of the total, averaged over epochs, in chain order.

    Returns
    -------
    tuple of float
        Spearman's rho between chain position and share, and its one-sided p-value for rho > 0 over the
        orderings of the pairs: exact (all orderings) up to ``MAX_EXACT_ORDERINGS`` pairs, else
        ``n_permutations`` random ones. The smallest possible p-value is 1 / n_pairs!.
    """
    shares = np.asarray(mean_shares, dtype=np.float64)
    if shares.ndim != 1 or shares.size < 3 or not np.all(np.isfinite(shares)):
        raise ValueError(f"mean_shares must be a finite 1-D array of at least 3 layer pairs, got {shares!r}")
    ranks = stats.rankdata(shares)
    positions = np.arange(shares.size, dtype=np.float64)
    rho = float(_pearson(ranks, positions))
    if shares.size <= MAX_EXACT_ORDERINGS:
        orders = np.array(list(itertools.permutations(range(shares.size))))
        permuted = _pearson(ranks[orders], positions[None, :])
        return rho, float(np.mean(permuted >= rho - 1e-12))
    rng = np.random.default_rng(random_state)
    orders = np.array([rng.permutation(shares.size) for _ in range(n_permutations)])
    permuted = _pearson(ranks[orders], positions[None, :])
    return rho, (1 + int(np.sum(permuted >= rho - 1e-12))) / (1 + n_permutations)
