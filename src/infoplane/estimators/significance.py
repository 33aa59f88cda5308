"""Significance of transfer entropy: shuffled-source surrogates, the analytic chi-square floor, and FDR control.

A surrogate permutes the source's time order, which keeps its symbol frequencies and destroys any
relation in time to the target. Plug-in TE is biased upwards, so a bias-corrected value subtracts the mean
surrogate TE. Under the null of no transfer, 2 N ln(base) TE follows a chi-square distribution with
(a_s**l - 1)(a_t - 1) a_t**k degrees of freedom for large N, which gives a p-value without surrogates.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import numbers

import numpy as np
from scipy import stats

from infoplane.estimators._validation import check_base, check_int, check_symbol_array
from infoplane.estimators.discrete import transfer_entropy
from infoplane.estimators.pairwise import transfer_entropy_matrix

DEFAULT_N_SURROGATES = 100


@dataclass(frozen=True)
class SignificanceResult:
    """Observed transfer entropy with its shuffled-source surrogate test; every TE value is in the units of ``base``.

    Attributes
    ----------
    te : float
        Observed TE.
    p_value : float
        (1 + number of surrogates with TE >= te) / (1 + n_surrogates); never 0.
    bias_corrected : float
        te - surrogate_mean; may be negative.
    surrogate_mean, surrogate_std : float
        Mean and standard deviation (ddof 0) of the surrogate TE values.
    n_surrogates : int
        Number of surrogates.
    """

    te: float
    p_value: float
    bias_corrected: float
    surrogate_mean: float
    surrogate_std: float
    n_surrogates: int


def surrogate_permutations(n_surrogates: int, n_steps: int, random_state=None) -> np.ndarray:
    """Draw the time permutations used for surrogates.

    Parameters
    ----------
    n_surrogates : int
        Number of permutations, >= 1.
    n_steps : int
        Length of each permutation, >= 1.
    random_state : None, int or numpy.random.Generator
        Seed or generator; row s is ``rng.permutation(n_steps)`` from the s-th call.

    Returns
    -------
    numpy.ndarray of int64, shape (n_surrogates, n_steps)
    """
    n_surrogates = check_int(n_surrogates, "n_surrogates", 1)
    rng = np.random.default_rng(random_state)
    return np.stack([rng.permutation(n_steps) for _ in range(n_surrogates)]).astype(np.int64)


def _resolve_permutations(n_surrogates, random_state, permutations, n_steps: int) -> np.ndarray:
    """Return validated (n_surrogates, n_steps) permutations, given or drawn from ``random_state``."""
    if permutations is None:
        return surrogate_permutations(n_surrogates, n_steps, random_state)
    if random_state is not None:
        raise ValueError("pass either permutations or random_state, not both; permutations fix the surrogates")

    permutations = np.asarray(permutations)
    if not np.issubdtype(permutations.dtype, np.integer) or permutations.ndim != 2 or permutations.shape[1] != n_steps:
        raise ValueError(
            f"permutations must be an integer array of shape (n_surrogates, {n_steps}) (one row per surrogate, "
            f"n_steps={n_steps}), got dtype {permutations.dtype} and shape {permutations.shape}"
        )
    if n_surrogates != DEFAULT_N_SURROGATES and n_surrogates != permutations.shape[0]:
        raise ValueError(
            f"n_surrogates={n_surrogates} disagrees with the {permutations.shape[0]} rows of permutations; "
            "leave n_surrogates at its default or make them match"
        )
    is_permutation = np.all(np.sort(permutations, axis=1) == np.arange(n_steps), axis=1)
    if not is_permutation.all():
        bad_row = int(np.argmin(is_permutation))
        raise ValueError(
            f"permutations row {bad_row} is not a permutation of 0..{n_steps - 1}; every row must contain each "
            "time index exactly once"
        )
    return permutations.astype(np.int64)


def _summarize(observed: float, surrogates: np.ndarray) -> SignificanceResult:
    exceed = int(np.sum(surrogates >= observed))
    mean = float(surrogates.mean())
    return SignificanceResult(
        te=observed,
        p_value=(1 + exceed) / (1 + surrogates.size),
        bias_corrected=observed - mean,
        surrogate_mean=mean,
        surrogate_std=float(surrogates.std()),
        n_surrogates=int(surrogates.size),
    )


def transfer_entropy_significance(
    source, target, n_surrogates: int = DEFAULT_N_SURROGATES, random_state=None, permutations=None, **te_kwargs
) -> SignificanceResult:
    """Test the transfer entropy of one pair against surrogates whose source time order is shuffled.

    Parameters
    ----------
    source, target : array_like of non-negative int, shape (n_steps,) or (n_trials, n_steps)
        As in :func:`infoplane.estimators.transfer_entropy`. With trials, every trial's source is permuted
        by the same permutation of its steps.
    n_surrogates : int, default 100
        Number of surrogates, >= 1. With ``permutations`` it may stay at its default.
    random_state : None, int or numpy.random.Generator
        Seed or generator for the permutations (see :func:`surrogate_permutations`).
    permutations : array_like of int, shape (n_surrogates, n_steps), optional
        Explicit permutations of the time steps, one row per surrogate, used in place of ``random_state``.
    **te_kwargs
        ``k``, ``l``, ``delay`` and ``base``, passed to :func:`infoplane.estimators.transfer_entropy`.

    Returns
    -------
    SignificanceResult
        Observed TE, p-value, bias-corrected TE and surrogate statistics, in the units of ``base`` (bits by
        default).

    Notes
    -----
    Shuffling keeps the source's symbol frequencies but destroys its own history structure too, so with
    l > 1 the null also assumes the source is temporally unstructured.
    """
    observed = transfer_entropy(source, target, **te_kwargs)
    source = check_symbol_array(source, "source")
    chosen = _resolve_permutations(n_surrogates, random_state, permutations, source.shape[-1])

    surrogates = np.array([transfer_entropy(source[..., order], target, **te_kwargs) for order in chosen])
    return _summarize(observed, surrogates)


def transfer_entropy_matrix_surrogates(
    sources, targets, n_surrogates: int = DEFAULT_N_SURROGATES, random_state=None, permutations=None, **te_matrix_kwargs
) -> np.ndarray:
    """Compute the TE matrix of shuffled-source surrogates, one time permutation shared by all sources.

    Because one permutation moves every source column together, each surrogate matrix is also a draw from
    the null of any aggregate over pairs, such as the layer mean.

    Parameters
    ----------
    sources : array_like of non-negative int, shape (n_steps, n_sources)
    targets : array_like of non-negative int, shape (n_steps, n_targets)
    n_surrogates, random_state, permutations
        As in :func:`transfer_entropy_significance`; permutations have shape (n_surrogates, n_steps).
    **te_matrix_kwargs
        ``k``, ``l``, ``delay``, ``base``, ``device`` and ``block_size`` for
        :func:`infoplane.estimators.transfer_entropy_matrix`.

    Returns
    -------
    numpy.ndarray of float64, shape (n_surrogates, n_sources, n_targets)
        Surrogate TE in the units of ``base`` (bits by default).
    """
    sources = check_symbol_array(sources, "sources", ndim=(2,))
    chosen = _resolve_permutations(n_surrogates, random_state, permutations, sources.shape[0])
    return np.stack([transfer_entropy_matrix(sources[order], targets, **te_matrix_kwargs) for order in chosen])


def te_degrees_of_freedom(k: int = 1, l: int = 1, source_alphabet: int = 2, target_alphabet: int = 2) -> int:
    """Return the degrees of freedom (a_s**l - 1)(a_t - 1) a_t**k of the chi-square null of plug-in TE.

    Examples
    --------
    >>> te_degrees_of_freedom()
    2
    """
    k = check_int(k, "k (target history length)", 1)
    l = check_int(l, "l (source history length)", 1)
    source_alphabet = check_int(source_alphabet, "source_alphabet", 2)
    target_alphabet = check_int(target_alphabet, "target_alphabet", 2)
    return (source_alphabet**l - 1) * (target_alphabet - 1) * target_alphabet**k


def _check_chi_square_inputs(n_observations, dof, base) -> tuple[int, int, float]:
    return check_int(n_observations, "n_observations", 1), check_int(dof, "dof", 1), check_base(base)


def analytic_te_p_value(te, n_observations: int, dof: int, base: float = 2.0):
    """Return the p-value of TE under the chi-square null 2 N ln(base) TE ~ chi2(dof).

    Parameters
    ----------
    te : float or array_like of float
        Plug-in TE in units of ``base``; NaN entries give NaN.
    n_observations : int
        Number N of observations the TE was counted from (n_steps - 1 - max(k - 1, delay + l - 2) per trial,
        summed over trials).
    dof : int
        Degrees of freedom, usually :func:`te_degrees_of_freedom`.
    base : float, default 2.0
        Logarithm base of ``te``.

    Returns
    -------
    float or numpy.ndarray of float64
        p-values with the shape of ``te``.

    Notes
    -----
    The chi-square law holds for large N with every count cell well filled. Sparse tables (long histories,
    large alphabets) break it, so use surrogates there.
    """
    n_observations, dof, base = _check_chi_square_inputs(n_observations, dof, base)
    te_array = np.asarray(te, dtype=np.float64)
    p_values = stats.chi2.sf(2.0 * n_observations * math.log(base) * te_array, dof)
    return float(p_values) if te_array.ndim == 0 else p_values


def analytic_te_floor(n_observations: int, dof: int, alpha: float = 0.05, base: float = 2.0) -> float:
    """Return the TE (units of ``base``) at which :func:`analytic_te_p_value` equals ``alpha``.

    Examples
    --------
    >>> round(analytic_te_floor(1000, 2), 5)
    0.00432
    """
    n_observations, dof, base = _check_chi_square_inputs(n_observations, dof, base)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be a significance level strictly between 0 and 1 (such as 0.05), got {alpha!r}")
    return float(stats.chi2.isf(alpha, dof) / (2.0 * n_observations * math.log(base)))


def benjamini_hochberg(p_values) -> np.ndarray:
    """Adjust p-values for the false discovery rate with the Benjamini-Hochberg step-up procedure.

    Parameters
    ----------
    p_values : array_like of float, any shape
        p-values in [0, 1]. NaN entries stay NaN and are not counted among the tests.

    Returns
    -------
    numpy.ndarray of float64, same shape
        Adjusted p-values: reject at FDR level q where the adjusted value is <= q.

    References
    ----------
    Y. Benjamini and Y. Hochberg, "Controlling the false discovery rate", J. R. Stat. Soc. B 57, 289 (1995).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    array([0.02, 0.04, 0.04, 0.02])
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    valid = ~np.isnan(p_values)
    if np.any((p_values[valid] < 0) | (p_values[valid] > 1)):
        raise ValueError(
            f"p_values must lie in [0, 1] (or be NaN), got values from {np.nanmin(p_values)} to "
            f"{np.nanmax(p_values)}; pass p-values, not test statistics"
        )

    tested = p_values[valid]
    order = np.argsort(tested)
    ranks = np.arange(1, tested.size + 1)
    scaled = tested[order] * tested.size / ranks
    # Step-up: each adjusted value is the smallest scaled value at its rank or above.
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted_tested = np.empty_like(tested)
    adjusted_tested[order] = np.minimum(stepped, 1.0)

    adjusted = np.full(p_values.shape, np.nan)
    adjusted[valid] = adjusted_tested
    return adjusted
