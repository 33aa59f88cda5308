"""Mutual information, conditional MI and transfer entropy of continuous variables.

Two methods, chosen by ``method=``:

- ``"gaussian"``: the linear-Gaussian estimate from log-determinants of sample
  covariance matrices, exact for jointly Gaussian data.
- ``"ksg"``: algorithm 1 of Kraskov, Stoegbauer and Grassberger (2004), with the
  conditional form of Frenzel and Pompe (2007), using the max-norm and scipy's
  KD-tree. It assumes no distribution.

The KSG estimator follows the default conventions of JIDT's Kraskov calculators
(Lizier 2014). Each column of each variable is normalised to mean 0 and
standard deviation 1. Gaussian noise of standard deviation 1e-8 (in units of
that standard deviation) is then added to break ties between equal values.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
from scipy.linalg import qr
from scipy.spatial import cKDTree
from scipy.special import digamma

from ._validation import check_base, check_finite_array, check_int

logger = logging.getLogger(__name__)

METHODS = ("gaussian", "ksg")

# Standard deviation of the tie-breaking noise, in units of each normalised column (JIDT's default).
NOISE_LEVEL = 1e-8

# A column whose residual, after regression on the columns kept before it, has
# less than this fraction of its own standard deviation is a linear combination of them.
RANK_TOLERANCE = 1e-7


def _check_variable(values, name: str) -> np.ndarray:
    """Return ``values`` as float64 of shape ``(n_samples, n_dims)``; a 1-D array is one column."""
    array = check_finite_array(values, name, ndim=(1, 2))
    return array.reshape(array.shape[0], -1)


def _check_sample_counts(**variables: np.ndarray) -> int:
    counts = {name: array.shape[0] for name, array in variables.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} has {count}" for name, count in counts.items())
        raise ValueError(f"all variables need the same number of samples, but {listed}; pass one row per sample")
    return next(iter(counts.values()))


def _check_method(method) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return method


def _check_n_neighbors(n_neighbors, n_samples: int) -> int:
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors must be smaller than the number of samples ({n_samples}), got {n_neighbors}; "
            "pass fewer neighbours or more samples"
        )
    return n_neighbors


def _drop_constant_columns(variable: np.ndarray) -> np.ndarray:
    """Return the columns of ``variable`` that are not constant; a constant column carries no information."""
    varying = np.ptp(variable, axis=0) > 0.0
    return variable[:, varying]


def _normalise_with_noise(variable: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return each column scaled to mean 0 and standard deviation 1, plus N(0, NOISE_LEVEL^2) noise."""
    normalised = (variable - variable.mean(axis=0)) / variable.std(axis=0)
    return normalised + rng.normal(scale=NOISE_LEVEL, size=normalised.shape)


def _neighbour_counts(points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Return, per point, how many other points lie strictly closer than its radius in the max-norm."""
    # cKDTree counts distances <= r, so the radius is moved one float towards 0
    # to count distances < eps as KSG algorithm 1 requires. The point itself is subtracted.
    strict_radii = np.nextafter(radii, 0.0)
    return cKDTree(points).query_ball_point(points, strict_radii, p=np.inf, return_length=True) - 1


def _ksg_nats(x: np.ndarray, y: np.ndarray, z: np.ndarray, n_neighbors: int) -> float:
    """Return the KSG (algorithm 1) estimate of I(X;Y|Z) in nats, or of I(X;Y) when ``z`` has no columns.

    I(X;Y) = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >   (Kraskov et al. 2004)
    I(X;Y|Z) = psi(k) - < psi(n_xz + 1) + psi(n_yz + 1) - psi(n_z + 1) >   (Frenzel and Pompe 2007)
    where eps_i is the max-norm distance from sample i to its k-th neighbour in the
    joint space and n_. counts the other samples closer than eps_i in a subspace.
    """
    joint = np.hstack([x, y, z])
    distances, _ = cKDTree(joint).query(joint, k=n_neighbors + 1, p=np.inf)
    radii = distances[:, -1]

    if z.shape[1] == 0:
        n_x = _neighbour_counts(x, radii)
        n_y = _neighbour_counts(y, radii)
        average = np.mean(digamma(n_x + 1) + digamma(n_y + 1))
        return float(digamma(n_neighbors) + digamma(joint.shape[0]) - average)

    n_xz = _neighbour_counts(np.hstack([x, z]), radii)
    n_yz = _neighbour_counts(np.hstack([y, z]), radii)
    n_z = _neighbour_counts(z, radii)
    return float(digamma(n_neighbors) - np.mean(digamma(n_xz + 1) + digamma(n_yz + 1) - digamma(n_z + 1)))


def _independent_columns(residuals: np.ndarray, scales: np.ndarray, name: str) -> np.ndarray:
    """Return the columns of ``residuals`` that are not linear combinations of the columns before them.

    ``scales`` are the standard deviations of the columns before any regression, so
    a column whose residual is tiny relative to its own spread counts as dependent.
    A dropped column is reported with a warning because it changes which variable is measured.
    """
    n_samples, n_columns = residuals.shape
    varying = scales > 0.0
    kept = np.flatnonzero(varying)
    if kept.size:
        _, upper, pivots = qr(residuals[:, kept] / scales[kept], mode="economic", pivoting=True)
        strength = np.abs(np.diag(upper)) / math.sqrt(n_samples)
        kept = np.sort(kept[pivots[strength > RANK_TOLERANCE]])

    if kept.size < n_columns:
        dropped = sorted(set(range(n_columns)) - set(kept.tolist()))
        warnings.warn(
            f"{name}: dropped {len(dropped)} of {n_columns} columns (indices {dropped}) that are constant or "
            "linear combinations of other columns (or of the conditioning variable); under the Gaussian model "
            "they carry no further information",
            RuntimeWarning,
            stacklevel=5,
        )
    return residuals[:, kept]


def _regress_out(variable: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """Return the residuals of the centred ``variable`` after least-squares regression on ``condition``."""
    centred = variable - variable.mean(axis=0)
    if condition.shape[1] == 0:
        return centred
    coefficients, *_ = np.linalg.lstsq(condition, centred, rcond=None)
    return centred - condition @ coefficients


def _gaussian_nats(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Return the linear-Gaussian I(X;Y|Z) in nats: 1/2 log(det C_x|z det C_y|z / det C_xy|z).

    C_.|z are the covariance matrices of the residuals after regression on Z (the
    Schur complements of the sample covariance). I(X;Y) is the case of no Z columns.
    """
    z = _independent_columns(z - z.mean(axis=0), z.std(axis=0), "z")
    x = _independent_columns(_regress_out(x, z), x.std(axis=0), "x")
    y = _independent_columns(_regress_out(y, z), y.std(axis=0), "y")
    if x.shape[1] == 0 or y.shape[1] == 0:
        return 0.0

    covariance = np.cov(np.hstack([x, y]), rowvar=False)
    n_x = x.shape[1]
    _, log_det_x = np.linalg.slogdet(covariance[:n_x, :n_x])
    _, log_det_y = np.linalg.slogdet(covariance[n_x:, n_x:])
    sign, log_det_joint = np.linalg.slogdet(covariance)
    if sign <= 0:
        warnings.warn(
            "x and y are linearly dependent (given z), so their Gaussian mutual information is infinite",
            RuntimeWarning,
            stacklevel=4,
        )
        return math.inf
    return 0.5 * float(log_det_x + log_det_y - log_det_joint)


def _estimate_nats(x, y, z, method: str, n_neighbors: int, random_state) -> float:
    """Return I(X;Y|Z) in nats by ``method`` from validated 2-D float arrays."""
    if method == "gaussian":
        return _gaussian_nats(x, y, z)

    x, y, z = (_drop_constant_columns(variable) for variable in (x, y, z))
    if x.shape[1] == 0 or y.shape[1] == 0:
        return 0.0
    rng = np.random.default_rng(random_state)
    x, y, z = (_normalise_with_noise(variable, rng) for variable in (x, y, z))
    return _ksg_nats(x, y, z, n_neighbors)


def _check_series(values, name: str) -> np.ndarray:
    """Return a series as float64 trials of shape ``(n_trials, n_steps)``; a 1-D array is one trial."""
    array = check_finite_array(values, name, ndim=(1, 2))
    return array.reshape(-1, array.shape[-1])


def _embed(source: np.ndarray, target: np.ndarray, k: int, l: int, delay: int):
    """Return (Y_{t+1}, X_{t+1-delay}^{(l)}, Y_t^{(k)}) as 2-D arrays, one row per observation of every trial.

    Observations start at the first t at which every history is defined, and no
    history crosses from one trial into the next.
    """
    n_steps = source.shape[1]
    first = max(k - 1, delay + l - 2)
    steps = np.arange(first, n_steps - 1)
    past_offsets = np.arange(k - 1, -1, -1)
    source_offsets = np.arange(l - 1, -1, -1)

    target_next = target[:, steps + 1].reshape(-1, 1)
    target_past = target[:, steps[:, None] - past_offsets].reshape(-1, k)
    source_window = source[:, (steps + 1 - delay)[:, None] - source_offsets].reshape(-1, l)
    return target_next, source_window, target_past


def _check_transfer_entropy_settings(source, target, k, l, delay) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    source = _check_series(source, "source")
    target = _check_series(target, "target")
    if source.shape != target.shape:
        raise ValueError(
            f"source and target must have the same shape (n_steps,) or (n_trials, n_steps), "
            f"got {source.shape} and {target.shape}"
        )
    k = check_int(k, "k", minimum=1)
    l = check_int(l, "l", minimum=1)
    delay = check_int(delay, "delay", minimum=0)
    n_steps = source.shape[1]
    needed = max(k - 1, delay + l - 2) + 2
    if n_steps < needed:
        raise ValueError(
            f"each trial needs at least {needed} steps for k={k}, l={l}, delay={delay}, got {n_steps}; "
            "pass longer series or shorter histories"
        )
    return source, target, k, l, delay


def _scale_series(series: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a series normalised to mean 0 and standard deviation 1 over all trials, plus tie-breaking noise."""
    normalised = (series - series.mean()) / series.std()
    return normalised + rng.normal(scale=NOISE_LEVEL, size=normalised.shape)


def continuous_mutual_information(
    x, y, method: str = "ksg", n_neighbors: int = 4, base: float = 2.0, random_state=None
) -> float:
    """Estimate the mutual information I(X;Y) of continuous variables.

    Parameters
    ----------
    x, y : array_like, shape (n_samples, n_dims) or (n_samples,)
        Samples of each variable, one row per sample; a 1-D array is one dimension.
        Integer arrays are converted to float.
    method : {"ksg", "gaussian"}, default "ksg"
        ``"ksg"``: Kraskov-Stoegbauer-Grassberger algorithm 1 with the max-norm.
        ``"gaussian"``: 1/2 log(det C_x det C_y / det C_xy) from sample covariances.
    n_neighbors : int, default 4
        Number of nearest neighbours k of the KSG estimator (JIDT's default is 4).
        Ignored by ``"gaussian"``.
    base : float, default 2.0
        Logarithm base: 2 gives bits, e gives nats.
    random_state : int, numpy.random.Generator or None
        Seed of the KSG tie-breaking noise. None draws fresh entropy, so repeated
        calls then differ by about the noise level.

    Returns
    -------
    float
        I(X;Y) in units of ``base`` (bits by default). The Gaussian estimate is
        ``inf`` when x and y are linearly dependent.

    Raises
    ------
    ValueError
        If an array contains NaN or inf, the sample counts differ, ``method`` is
        unknown or ``n_neighbors`` is not below the sample count.

    Warns
    -----
    RuntimeWarning
        ``"gaussian"`` drops constant columns and columns that are linear combinations
        of others (their covariance is singular), and the warning names them.

    Notes
    -----
    For ``"ksg"`` each column is normalised to mean 0 and standard deviation 1 and
    Gaussian noise of standard deviation ``NOISE_LEVEL`` (1e-8) is added, as JIDT's
    Kraskov calculators do by default, so duplicated samples do not give zero
    neighbour distances. Constant columns are dropped first: they add no information.



    References
    ----------
    A. Kraskov, H. Stoegbauer and P. Grassberger, "Estimating mutual information",
    Phys. Rev. E 69, 066138, 2004.
    J. T. Lizier, "JIDT: an information-theoretic toolkit for studying the dynamics
    of complex systems", Frontiers in Robotics and AI 1:11, 2014.

    Examples
    --------
    Correlated Gaussians with rho = 0.8 have I = -1/2 log2(1 - rho^2) = 0.737 bits:

    >>> rng = np.random.default_rng(0)
    >>> x, noise = rng.standard_normal((2, 10_000))
    >>> y = 0.8 * x + 0.6 * noise
    >>> abs(continuous_mutual_information(x, y, method="gaussian") - 0.737) < 0.02
    True
    """
    x = _check_variable(x, "x")
    y = _check_variable(y, "y")
    n_samples = _check_sample_counts(x=x, y=y)
    method = _check_method(method)
    n_neighbors = _check_n_neighbors(n_neighbors, n_samples)
    base = check_base(base)

    no_condition = np.empty((n_samples, 0))
    return _estimate_nats(x, y, no_condition, method, n_neighbors, random_state) / math.log(base)


def continuous_conditional_mutual_information(
    x, y, z, method: str = "ksg", n_neighbors: int = 4, base: float = 2.0, random_state=None
) -> float:
    """Estimate the conditional mutual information I(X;Y|Z) of continuous variables.

    ``"ksg"`` uses the conditional form of KSG algorithm 1 of Frenzel and Pompe
    (2007): I = psi(k) - < psi(n_xz + 1) + psi(n_yz + 1) - psi(n_z + 1) >.
    ``"gaussian"`` regresses X and Y on Z and takes the Gaussian mutual information
    of the residuals, 1/2 log(det C_x|z det C_y|z / det C_xy|z).

    Parameters
    ----------
    x, y, z : array_like, shape (n_samples, n_dims) or (n_samples,)
        Samples of each variable, one row per sample; a 1-D array is one dimension.
    method, n_neighbors, base, random_state
        As in :func:`continuous_mutual_information`.

    Returns
    -------
    float
        I(X;Y|Z) in units of ``base`` (bits by default).

    Raises
    ------
    ValueError
        As in :func:`continuous_mutual_information`, for all three variables.

    Notes
    -----
    The normalisation, noise and column rules of
    :func:`continuous_mutual_information` apply to each variable. If every column
    of z is constant, the result is I(X;Y).
    KSG estimates are signed, like those of :func:`continuous_mutual_information`
    (see its Notes): a small negative value means no dependence was detected.

    References
    ----------
    S. Frenzel and B. Pompe, "Partial mutual information for coupling analysis of
    multivariate time series", Phys. Rev. Lett. 99, 204101, 2007.
    """
    x = _check_variable(x, "x")
    y = _check_variable(y, "y")
    z = _check_variable(z, "z")
    n_samples = _check_sample_counts(x=x, y=y, z=z)
    method = _check_method(method)
    n_neighbors = _check_n_neighbors(n_neighbors, n_samples)
    base = check_base(base)

    return _estimate_nats(x, y, z, method, n_neighbors, random_state) / math.log(base)


def continuous_transfer_entropy(
    source,
    target,
    k: int = 1,
    l: int = 1,
    delay: int = 1,
    method: str = "ksg",
    n_neighbors: int = 4,
    base: float = 2.0,
    random_state=None,
) -> float:
    """Estimate the transfer entropy from a continuous source series to a target series.

    TE(X -> Y) = I(Y_{t+1} ; X_{t+1-delay}^{(l)} | Y_t^{(k)}) with
    Z_s^{(m)} = (Z_{s-m+1}, ..., Z_s), estimated as a conditional mutual information
    by ``method`` (Schreiber 2000). Observations start at the first t at which every
    history is defined.

    Parameters
    ----------
    source, target : array_like, shape (n_steps,) or (n_trials, n_steps)
        The series X and Y. Trials pool their observations, and no history
        crosses a trial boundary. Both must have the same shape.
    k : int, default 1
        Target history length, >= 1.
    l : int, default 1
        Source history length, >= 1.
    delay : int, default 1
        Source-target delay u, >= 0. With 0 the source window ends at the step of
        the target's next value.
    method, n_neighbors, base, random_state
        As in :func:`continuous_mutual_information`.

    Returns
    -------
    float
        TE in units of ``base`` (bits by default). It is 0 when the source or the
        target is constant.

    Raises
    ------
    ValueError
        If a series contains NaN or inf, the shapes differ, a history setting is
        out of range, the trials are too short for the histories, ``method`` is
        unknown or ``n_neighbors`` is not below the number of observations.

    Notes
    -----
    For ``"ksg"`` the source and the target series are each normalised to mean 0 and
    standard deviation 1 over all trials and get tie-breaking noise (standard
    deviation ``NOISE_LEVEL`` = 1e-8) before the histories are formed, as in JIDT's
    Kraskov TE calculator, so a value shared by two histories carries the same noise.
    KSG estimates are signed, like those of :func:`continuous_mutual_information`
    (see its Notes): a small negative value means no transfer was detected.

    References
    ----------
    T. Schreiber, "Measuring information transfer", Phys. Rev. Lett. 85, 461, 2000.

    Examples
    --------
    For Y_{t+1} = 0.5 Y_t + 0.8 X_t + e_t with X and e independent standard normal,
    TE(X -> Y) = 1/2 log2(0.8^2 + 1) = 0.357 bits:

    >>> rng = np.random.default_rng(0)
    >>> x, noise = rng.standard_normal((2, 10_000))
    >>> y = np.zeros(10_000)
    >>> for t in range(9_999):
    ...     y[t + 1] = 0.5 * y[t] + 0.8 * x[t] + noise[t]
    >>> abs(continuous_transfer_entropy(x, y, method="gaussian") - 0.357) < 0.02
    True
    """
    source, target, k, l, delay = _check_transfer_entropy_settings(source, target, k, l, delay)
    method = _check_method(method)
    n_observations = source.shape[0] * (source.shape[1] - 1 - max(k - 1, delay + l - 2))
    n_neighbors = _check_n_neighbors(n_neighbors, n_observations)
    base = check_base(base)

    if method == "ksg":
        if np.ptp(source) == 0.0 or np.ptp(target) == 0.0:
            logger.debug("continuous_transfer_entropy: constant source or target, TE = 0")
            return 0.0
        rng = np.random.default_rng(random_state)
        source, target = _scale_series(source, rng), _scale_series(target, rng)
        target_next, source_window, target_past = _embed(source, target, k, l, delay)
        return _ksg_nats(target_next, source_window, target_past, n_neighbors) / math.log(base)

    target_next, source_window, target_past = _embed(source, target, k, l, delay)
    return _gaussian_nats(target_next, source_window, target_past) / math.log(base)
