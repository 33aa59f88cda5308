"""Pairwise-distance bounds on the mutual information of a noisy layer (Kolchinsky and Tracey).

The layer T is modelled as its activation h(x) plus Gaussian noise of variance
sigma^2 in every unit, so T is a mixture of Gaussians with one component per
sample. Kolchinsky and Tracey bound the entropy of such a mixture with pairwise
distances between its components. Saxe et al. (2018) used the bounds to draw MI
planes of deterministic networks, and this module follows their definitions.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np

from ._validation import check_finite_array, check_positive_real
from .binning import _check_symbols

logger = logging.getLogger(__name__)

# Kernel divisor of the squared distance ||h_i - h_j||^2 per unit of noise
# variance: the KL divergence between the components gives 2 sigma^2 (upper
# bound) and the Bhattacharyya distance gives 8 sigma^2 (lower bound).
BOUND_DIVISORS = {"upper": 2.0, "lower": 8.0}

# Largest block of the (chunk x n_samples) distance matrix held at once, in bytes.
CHUNK_BYTES = 32 * 2**20


def _log_mean_kernel(points: np.ndarray, divisor: float) -> np.ndarray:
    """Return log mean_j exp(-||h_i - h_j||^2 / divisor) for every row i of ``points``, shape ``(n_samples,)``.

    The squared distances come from matrix products, a block of rows at a time,
    so they take at most ``CHUNK_BYTES`` (or one row, if that is larger) whatever
    ``n_samples`` is.
    """
    n_samples = points.shape[0]
    squared_norms = np.einsum("ij,ij->i", points, points)
    chunk = min(n_samples, max(1, CHUNK_BYTES // (8 * n_samples)))
    buffer = np.empty((chunk, n_samples))
    result = np.empty(n_samples)

    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        # One buffer is reused so that no second block is allocated while the last one is still referenced.
        distances = buffer[: stop - start]
        np.matmul(points[start:stop], points.T, out=distances)
        distances *= -2.0
        distances += squared_norms[start:stop, None]
        distances += squared_norms[None, :]

        # Round-off can make a distance slightly negative, and a point's distance to itself is exactly 0.
        # The self term exp(0) = 1 is then the largest in each row, so the sum of
        # exponentials needs no shift (as logsumexp would make) and cannot underflow to 0.
        np.maximum(distances, 0.0, out=distances)
        distances[np.arange(stop - start), np.arange(start, stop)] = 0.0
        distances *= -1.0 / divisor
        np.exp(distances, out=distances)
        result[start:stop] = np.log(distances.sum(axis=1))

    return result - math.log(n_samples)


def _entropy_above_noise(points: np.ndarray, divisor: float) -> float:
    """Return the bound on H(T) - H(noise) in nats: -mean_i log mean_j exp(-d_ij / divisor)."""
    # Centering leaves the distances unchanged and keeps the norms small, which limits cancellation.
    centered = points - points.mean(axis=0)
    return float(-np.mean(_log_mean_kernel(centered, divisor)))


def _check_bound(bound) -> float:
    """Return the kernel divisor per unit of noise variance of ``bound``."""
    if not isinstance(bound, str) or bound not in BOUND_DIVISORS:
        raise ValueError(f"bound must be one of {sorted(BOUND_DIVISORS)}, got {bound!r}")
    return BOUND_DIVISORS[bound]


def kde_information(activations, labels, noise_variance: float = 0.1, bound: str = "upper") -> tuple[float, float]:
    """Estimate I(X;T) and I(T;Y) of a layer by the Kolchinsky-Tracey pairwise-distance bounds.

    T = h(X) + noise, with independent Gaussian noise of variance sigma^2 =
    ``noise_variance`` in each unit and one mixture component per sample. Since
    H(T|X) is the entropy of the noise, the entropy bounds give, with
    d_ij = ||h_i - h_j||^2:

    - ``bound="upper"`` (KL divergence between components):
      I(X;T) <= -mean_i log mean_j exp(-d_ij / (2 sigma^2))
    - ``bound="lower"`` (Bhattacharyya distance, d_ij / (8 sigma^2)):
      I(X;T) >= -mean_i log mean_j exp(-d_ij / (8 sigma^2))

    I(T;Y) = H(T) - sum_y p(y) H(T|Y=y), where each entropy is the same bound
    applied to all samples or to the samples of class y; the noise entropy cancels.

    Parameters
    ----------
    activations : array_like, shape (n_samples, n_units) or (n_samples,)
        Float activations of one layer, one row per sample. A 1-D array is one unit.
    labels : array_like, shape (n_samples,) or (n_samples, n_classes)
        Class of each sample: integer labels, or one-hot rows.
    noise_variance : float, default 0.1
        Variance sigma^2 of the added Gaussian noise, in squared activation units.
    bound : {"upper", "lower"}, default "upper"
        Which entropy bound to use.

    Returns
    -------
    tuple of float
        ``(I(X;T), I(T;Y))`` in bits. I(X;T) lies in [0, log2(n_samples)]: it is
        log2(n_samples) when all points are far apart relative to sigma, and 0 when
        all are equal.

    Raises
    ------
    ValueError
        If an array contains NaN or inf, the sample counts differ, ``noise_variance``
        is not positive or ``bound`` is unknown.

    Notes
    -----
    I(T;Y) is a difference of two bounds, so it is an estimate, bounded by neither
    side. It is at most H(Y) but can be slightly negative when samples of other
    classes lie closer than those of the same class. Both values depend strongly on
    ``noise_variance``, which sets the scale below which distances count as
    indistinguishable. A constant (dead) unit leaves every distance unchanged.
    The pairwise distances cost O(n_samples^2 n_units) time and, computed in blocks
    of rows, about ``CHUNK_BYTES`` (32 MiB) of memory beyond the input and one
    centred copy of it.

    References
    ----------
    A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise
    distances", Entropy 19(7):361, 2017.
    A. M. Saxe et al., "On the information bottleneck theory of deep learning",
    ICLR 2018.

    Examples
    --------
    Two points much farther apart than the noise are fully distinguishable:

    >>> kde_information(np.array([[0.0], [100.0]]), np.array([0, 1]))
    (1.0, 1.0)
    """
    activations = check_finite_array(activations, "activations", ndim=(1, 2))
    n_samples = activations.shape[0]
    activations = activations.reshape(n_samples, -1)
    label_ids = _check_symbols(labels, "labels", n_samples)
    divisor = _check_bound(bound) * check_positive_real(noise_variance, "noise_variance")

    entropy_all = _entropy_above_noise(activations, divisor)
    class_ids, class_counts = np.unique(label_ids, return_counts=True)
    entropy_given_label = 0.0
    for class_id, count in zip(class_ids, class_counts):
        entropy_given_label += float(count) / n_samples * _entropy_above_noise(activations[label_ids == class_id], divisor)

    # The I(X;T) bound is never negative, so a value below 0 is round-off.
    information_x_t = max(entropy_all, 0.0) / math.log(2.0)
    information_t_y = float(entropy_all - entropy_given_label) / math.log(2.0)
    logger.debug(
        "kde_information: %d samples, %d units, %d classes, bound=%s, noise_variance=%g",
        n_samples, activations.shape[1], class_ids.size, bound, noise_variance,
    )
    return information_x_t, information_t_y
