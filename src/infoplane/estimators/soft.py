"""Differentiable transfer entropy of every source and target unit, from sigmoid-binarized activations.

The hard estimate thresholds each activation into a bit, which has no useful gradient. Here every
activation h becomes a soft bit p = sigmoid((h - threshold) / temperature), each observation contributes
the product of its soft bits (and their complements) to the eight joint cells of (y_{t+1}, y_t, x), and
the plug-in TE of those soft counts is a smooth function of the activations that autograd can follow.
"""

from __future__ import annotations

import math
import numbers

import torch

from infoplane.estimators._validation import check_base
from infoplane.estimators.discrete import check_te_parameters, first_observation, te_nats_from_counts


def soft_binarize(activations: torch.Tensor, threshold: float, temperature: float) -> torch.Tensor:
    """Return sigmoid((activations - threshold) / temperature): a soft bit in (0, 1) per activation.

    As ``temperature`` goes to 0 it tends to the hard bit (1 above the threshold, 0 below).
    """
    return torch.sigmoid((activations - threshold) / temperature)


def _soft_counts(source_bits: torch.Tensor, target_next: torch.Tensor, target_prev: torch.Tensor) -> torch.Tensor:
    """Return soft counts of shape (2, 2, 2, n_sources, n_targets) over (next, previous, source) cells.

    All inputs are soft bits aligned so that row t contains x_{t+1-delay} (n_obs, n_sources), y_{t+1} and
    y_t (n_obs, n_targets). Each row adds a product distribution over the eight cells, so the counts of
    every pair sum to n_obs and form a valid joint distribution.
    """
    n_obs, n_sources = source_bits.shape
    n_targets = target_next.shape[1]
    source_both = torch.stack([1 - source_bits, source_bits], dim=1)
    next_both = torch.stack([1 - target_next, target_next], dim=1)
    prev_both = torch.stack([1 - target_prev, target_prev], dim=1)
    target_cells = next_both[:, :, None, :] * prev_both[:, None, :, :]

    # One product gives all cells: (2 * n_sources) x n_obs times n_obs x (4 * n_targets).
    products = source_both.reshape(n_obs, 2 * n_sources).T @ target_cells.reshape(n_obs, 4 * n_targets)
    counts = products.reshape(2, n_sources, 2, 2, n_targets)
    return counts.permute(2, 3, 0, 1, 4)


def _check_soft_inputs(sources, targets, temperature, delay, base) -> tuple[float, int, float]:
    for name, values in (("sources", sources), ("targets", targets)):
        if not torch.is_tensor(values) or not values.is_floating_point() or values.ndim != 2:
            raise TypeError(f"{name} must be a 2-D floating-point torch tensor (n_steps, n_units), got "
                            f"{type(values).__name__} {getattr(values, 'shape', '')}; convert with torch.as_tensor")
    if sources.shape[0] != targets.shape[0]:
        raise ValueError(f"sources and targets must have the same number of steps (axis 0), got shapes "
                         f"{tuple(sources.shape)} and {tuple(targets.shape)}; pass the same steps of both layers")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}; use e.g. 0.1")
    _, _, delay = check_te_parameters(1, 1, delay, sources.shape[0], name="sources")
    return float(temperature), delay, check_base(base)


def soft_transfer_entropy_matrix(
    sources: torch.Tensor,
    targets: torch.Tensor,
    source_threshold: float = 0.0,
    target_threshold: float = 0.0,
    temperature: float = 0.1,
    delay: int = 1,
    base: float = 2.0,
) -> torch.Tensor:
    """Estimate a differentiable TE from every source unit to every target unit (k = l = 1).

    Parameters
    ----------
    sources : torch.Tensor of float, shape (n_steps, n_sources)
        Source activations, time first. Gradients flow back into it.
    targets : torch.Tensor of float, shape (n_steps, n_targets)
        Target activations over the same steps.
    source_threshold, target_threshold : float
        Binarization thresholds, as for the hard estimate (0 for tanh and ReLU units, 1/n_classes for a
        softmax output).
    temperature : float
        Width of the sigmoid, in activation units; must be positive.
    delay : int
        Source-target delay u >= 0, as in :func:`infoplane.estimators.transfer_entropy`.
    base : float
        Logarithm base; 2 gives bits.

    Returns
    -------
    torch.Tensor, shape (n_sources, n_targets)
        Entry [i, j] is the soft TE(source i -> target j) in units of ``base`` (bits by default), in the
        dtype and on the device of the inputs. It is not clipped at 0, so round-off can leave values
        slightly below 0 (clipping would cut the gradient there).

    Notes
    -----
    What it estimates: the plug-in TE I(Y_{t+1}; X_{t+1-u} | Y_t) of a distribution in which each
    observation is spread over the eight cells with weights given by its soft bits, as if each unit
    fired at random with probability p = sigmoid((h - threshold) / temperature), independently of the other
    units and steps. That is a valid joint distribution, so the value is a conditional MI and lies
    between 0 and 1 bit.

    How it differs from the hard-binarized TE: activations near the threshold count partly in both
    cells, which blurs the joint distribution towards independence and so lowers the estimate. The
    soft value is therefore a smoothed proxy, not an estimate of the hard TE. It equals the hard plug-in
    TE of the same data in the limit ``temperature -> 0`` (no activation exactly at the threshold), and
    the gradient then vanishes almost everywhere. Its plug-in bias (positive, about
    (number of cells - 1) / (2 n ln 2) bits for n observations) is that of the hard estimate.

    Examples
    --------
    >>> x = torch.tensor([[-1.0], [1.0], [1.0], [-1.0], [1.0], [-1.0]])
    >>> round(float(soft_transfer_entropy_matrix(x, x.roll(1, 0), temperature=1e-3)[0, 0]), 4)  # the hard TE
    0.951
    """
    temperature, delay, base = _check_soft_inputs(sources, targets, temperature, delay, base)
    t0 = first_observation(1, 1, delay)
    n_obs = targets.shape[0] - 1 - t0

    source_bits = soft_binarize(sources, source_threshold, temperature)
    target_bits = soft_binarize(targets, target_threshold, temperature)
    counts = _soft_counts(
        source_bits[t0 + 1 - delay : t0 + 1 - delay + n_obs],
        target_bits[t0 + 1 : t0 + 1 + n_obs],
        target_bits[t0 : t0 + n_obs],
    )
    return te_nats_from_counts(counts, n_obs) / math.log(base)
