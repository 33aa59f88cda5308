"""Significance of layer TE: shuffled-source surrogates of every layer value, the analytic chi-square floor, BH.

A layer value (mean, sum or max of TE over unit pairs) is tested against surrogates in which the whole
source layer is permuted in time by one permutation, so the null keeps the dependence between the source
units. The analytic floor treats 2 N ln(2) TE of one pair as chi-square with ``te_degrees_of_freedom``
degrees of freedom. For the layer mean and max it treats the pairs as independent. Pairs that share a
source or target unit are not, so the analytic layer p-values are too small when units are correlated,
and the surrogate p-values are the ones to trust.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy import stats

from .. import estimators as est

ALPHA = 0.05
# Above this many elements of the stacked (n_steps, n_surrogates * n_sources) source matrix, the
# surrogates are computed one permutation at a time to bound memory.
MAX_STACKED_ELEMENTS = 2**26
BIAS_CORRECTED_SUFFIX = "-bias-corrected"


def layer_te_with_surrogates(sources: np.ndarray, targets: np.ndarray, delay: int,
                             permutations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the observed ``(n_sources, n_targets)`` TE matrix and the ``(n_surrogates, n_sources, n_targets)``
    surrogate matrices, in bits, with each row of ``permutations`` applied to all source columns at once.

    Small layers stack the permuted copies of the sources side by side so that one call of
    :func:`~infoplane.estimators.transfer_entropy_matrix` computes every surrogate; its entries equal
    those of :func:`~infoplane.estimators.transfer_entropy_matrix_surrogates`.
    """
    n_sources, n_surrogates = sources.shape[1], permutations.shape[0]
    if sources.shape[0] * n_sources * (n_surrogates + 1) > MAX_STACKED_ELEMENTS:
        observed = est.transfer_entropy_matrix(sources, targets, delay=delay)
        surrogates = est.transfer_entropy_matrix_surrogates(sources, targets, permutations=permutations, delay=delay)
        return observed, surrogates
    stacked = np.concatenate([sources, *(sources[order] for order in permutations)], axis=1)
    matrix = est.transfer_entropy_matrix(stacked, targets, delay=delay)
    blocks = matrix.reshape(n_surrogates + 1, n_sources, targets.shape[1])
    return blocks[0], blocks[1:]


def aggregate_matrices(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """Return the mean, sum and max over the last two axes of TE matrices, in bits."""
    return {"mean": matrices.mean(axis=(-2, -1)), "sum": matrices.sum(axis=(-2, -1)),
            "max": matrices.max(axis=(-2, -1))}


def surrogate_p_value(observed: float, surrogates: np.ndarray) -> float:
    """Return (1 + number of surrogates >= observed) / (1 + number of surrogates)."""
    return (1 + int(np.sum(surrogates >= observed))) / (1 + surrogates.size)


@functools.lru_cache(maxsize=1024)
def _floors(n_observations: int, n_pairs: int, dof: int) -> tuple[float, float, float]:
    """Return the analytic floors (bits) of the layer mean, the layer max and one pair."""
    scale = 2.0 * n_observations * math.log(2.0)
    mean_floor = float(stats.chi2.isf(ALPHA, n_pairs * dof)) / (scale * n_pairs)
    sidak_alpha = -math.expm1(math.log1p(-ALPHA) / n_pairs)
    max_floor = est.analytic_te_floor(n_observations, dof, alpha=sidak_alpha)
    return mean_floor, max_floor, est.analytic_te_floor(n_observations, dof, alpha=ALPHA)


def chi_square_floor(matrix: np.ndarray, n_observations: int, dof: int) -> dict[str, tuple[float, float]]:
    """Return the analytic floor (bits) and p-value of every layer value of one observed TE matrix.

    Keys: ``mean-floor`` (the layer mean at which p = ``ALPHA`` and the mean's p-value, pairs taken as
    independent: 2 N ln 2 times the sum is chi-square with n_pairs * dof degrees of freedom),
    ``max-floor`` (Sidak: the max over n_pairs independent pairs), ``pair-floor`` (one pair, p NaN)
    and ``fraction-significant`` (the fraction of pairs whose Benjamini-Hochberg adjusted analytic
    p-value is at most ``ALPHA``, p NaN).
    """
    n_pairs = matrix.size
    mean_floor, max_floor, pair_floor = _floors(n_observations, n_pairs, dof)
    scale = 2.0 * n_observations * math.log(2.0)
    mean_p = float(stats.chi2.sf(scale * matrix.sum(), n_pairs * dof))
    pair_p = stats.chi2.sf(scale * matrix.ravel(), dof)
    with np.errstate(divide="ignore"):
        max_p = float(-np.expm1(n_pairs * np.log1p(-pair_p.min())))
    fraction = float(np.mean(est.benjamini_hochberg(pair_p) <= ALPHA))
    return {"mean-floor": (mean_floor, mean_p), "max-floor": (max_floor, max_p), "pair-floor": (pair_floor, math.nan),
            "fraction-significant": (fraction, math.nan)}


def adjust_p_values(measures: pd.DataFrame) -> pd.Series:
    """Return Benjamini-Hochberg adjusted p-values of TE rows, one family per (estimator, mode, alignment, aggregate).

    A family spans every layer pair and epoch, each (epoch, source, target) counted once although the
    pair from the input to the first hidden layer lies on both planes. Bias-corrected rows repeat the
    p-value of their raw row and take its adjusted value. Rows without a p-value stay NaN.
    """
    adjusted = pd.Series(np.nan, index=measures.index)
    te = measures[(measures["measure"] == "te") & measures["p_value"].notna()]
    base_aggregate = te["aggregate"].str.removesuffix(BIAS_CORRECTED_SUFFIX)
    key = ["epoch", "source", "target"]
    for _, family in te.groupby([te["estimator"], te["mode"], te["alignment"], base_aggregate]):
        tests = family[~family["aggregate"].str.endswith(BIAS_CORRECTED_SUFFIX)].drop_duplicates(key)
        tests = tests.assign(p_adjusted=est.benjamini_hochberg(tests["p_value"].to_numpy())).set_index(key)
        adjusted[family.index] = tests["p_adjusted"].reindex(pd.MultiIndex.from_frame(family[key])).to_numpy()
    return adjusted
