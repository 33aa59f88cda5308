"""TE-guided training: transfer entropy between layers as a training signal.

Two kinds, both for pairs of layers joined by one weight matrix:

- :class:`TEGuidance` (``te_guidance = "scale"``) estimates TE(source unit i -> target unit j) on a
  sliding window of the training stream and multiplies the gradient of the joining weight W[j, i] by
  (1 + scale * TE_ij) before the optimizer step, after Moldovan, Cataron and Andonie, "Learning in
  feedforward neural networks accelerated by transfer entropy", Entropy 22(1):102, 2020.
- :class:`TEPenalty` (``te_guidance = "penalty"``) adds ``weight`` times the mean soft TE between the two
  layers of each pair, computed on the current mini-batch, to the loss; see
  :func:`infoplane.estimators.soft.soft_transfer_entropy_matrix`.

Layers are named as the recorder names them: ``"x"`` is the model's input, ``"output"`` its softmax
output, any other name a submodule whose forward output is taken.

Life cycle of both: create with the model (this registers forward hooks), pass to the Trainer
(``callbacks=[guidance]`` or ``loss_terms=[penalty]``), call :meth:`close` to remove the hooks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .estimators.pairwise import transfer_entropy_matrix
from .estimators.soft import soft_transfer_entropy_matrix
from .recording import DEFAULT_THRESHOLDS, INPUT_LAYER, INPUT_THRESHOLD, OUTPUT_LAYER

logger = logging.getLogger(__name__)

GUIDANCE_MODES = ("off", "scale", "penalty")


@dataclass(frozen=True)
class LayerPair:
    """Two layers and the parameter that joins them.

    ``weight`` names a parameter of shape (n_target_units, n_source_units), as ``nn.Linear.weight``
    stores it: W[j, i] connects source unit i to target unit j.
    """

    source: str
    target: str
    weight: str


def default_pairs(model: nn.Module) -> list[LayerPair]:
    """Return the pair joined by the last fully connected weight: last hidden layer -> output via ``out.weight``.

    Needs a model with ``hidden_layer_names()`` and an ``out`` layer, such as :class:`infoplane.models.MLP`
    and :class:`infoplane.models.CNN`; other models must name their pairs.
    """
    parameters = dict(model.named_parameters())
    if not hasattr(model, "hidden_layer_names") or "out.weight" not in parameters:
        raise ValueError(f"no default TE guidance pair for {type(model).__name__}: it has no hidden_layer_names() "
                         "and out.weight; pass pairs=[(source_layer, target_layer, weight_parameter)]")
    hidden = list(model.hidden_layer_names())
    return [LayerPair(hidden[-1] if hidden else INPUT_LAYER, OUTPUT_LAYER, "out.weight")]


def resolve_pairs(model: nn.Module, pairs) -> list[LayerPair]:
    """Return ``pairs`` (None for :func:`default_pairs`, or (source, target, weight) triples) as checked LayerPairs."""
    if pairs is None or len(pairs) == 0:
        return default_pairs(model)
    modules, parameters = dict(model.named_modules()), dict(model.named_parameters())
    resolved = []
    for pair in pairs:
        if isinstance(pair, str) or len(pair) != 3:
            raise ValueError(f"each TE guidance pair must be (source_layer, target_layer, weight_parameter), got {pair!r}")
        pair = LayerPair(*(str(name) for name in pair))
        for layer in (pair.source, pair.target):
            if layer not in (INPUT_LAYER, OUTPUT_LAYER) and (not layer or layer not in modules):
                raise ValueError(f"layer {layer!r} of pair {tuple(vars(pair).values())} not found in the model; valid: "
                                 f"{INPUT_LAYER!r}, {OUTPUT_LAYER!r} or one of {', '.join(n for n in modules if n)}")
        weight = parameters.get(pair.weight)
        if weight is None or weight.ndim != 2:
            raise ValueError(f"weight {pair.weight!r} of pair {tuple(vars(pair).values())} is not a 2-D parameter of "
                             f"the model; valid: {', '.join(n for n, p in parameters.items() if p.ndim == 2)}")
        resolved.append(pair)
    return resolved


def layer_threshold(model: nn.Module, layer: str, n_units: int) -> float:
    """Return the recorder's default binarization threshold of ``layer`` with ``n_units`` units."""
    if layer == INPUT_LAYER:
        return INPUT_THRESHOLD
    if layer == OUTPUT_LAYER:
        return 1.0 / n_units
    return DEFAULT_THRESHOLDS.get(type(dict(model.named_modules())[layer]), 0.0)


class _LayerTaps:
    """Forward hooks that keep the latest training-mode output of each named layer as (batch, units).

    Passes in eval mode or under ``torch.no_grad()`` (evaluation, the recorder's probe) are ignored.
    With ``keep_graph`` the tensors stay attached to the autograd graph; otherwise they are detached.
    """

    def __init__(self, model: nn.Module, layers, keep_graph: bool):
        self.model, self.keep_graph = model, keep_graph
        self.latest: dict[str, torch.Tensor] = {}
        self._handles = []
        modules = dict(model.named_modules())
        for layer in dict.fromkeys(layers):
            if layer == INPUT_LAYER:
                # The MLP flattens images itself, so its weights see the input as (batch, pixels).
                hook = model.register_forward_pre_hook(
                    lambda module, inputs: self._keep(INPUT_LAYER, inputs[0].flatten(start_dim=1)))
            elif layer == OUTPUT_LAYER:
                hook = model.register_forward_hook(self._keep_output)
            else:
                hook = modules[layer].register_forward_hook(self._make_hook(layer))
            self._handles.append(hook)

    def _make_hook(self, layer: str):
        def hook(module, inputs, output):
            self._keep(layer, output)

        return hook

    def _keep_output(self, module, inputs, output) -> None:
        self._keep(OUTPUT_LAYER, torch.softmax(output if self.keep_graph else output.detach(), dim=-1))

    def _keep(self, layer: str, tensor: torch.Tensor) -> None:
        if not (self.model.training and torch.is_grad_enabled()):
            return
        if tensor.ndim > 2:
            raise ValueError(f"TE guidance needs (batch, units) activations, but layer {layer!r} outputs shape "
                             f"{tuple(tensor.shape)}; choose a fully connected layer")
        self.latest[layer] = tensor if self.keep_graph else tensor.detach()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.latest.clear()


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_shapes(pair: LayerPair, weight: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> None:
    expected = (target.shape[1], source.shape[1])
    if tuple(weight.shape) != expected:
        raise ValueError(f"weight {pair.weight!r} has shape {tuple(weight.shape)} but layers {pair.source!r} "
                         f"({source.shape[1]} units) and {pair.target!r} ({target.shape[1]} units) need "
                         f"(n_target_units, n_source_units) = {expected}; pick the weight that joins them")


class TEGuidance:
    """Multiply the gradient of each joining weight W[j, i] by (1 + scale * TE_ij) before the optimizer step.

    Forward hooks keep the binarized training-mode activations of the source and target layer of each
    pair. A sliding window contains the most recent ``window`` training samples in the order the optimizer
    saw them, across epoch boundaries. Every ``refresh`` optimizer steps the all-pairs estimate
    :func:`~infoplane.estimators.transfer_entropy_matrix` (k = l = 1) is recomputed on that window. No
    gradient is scaled until the window has filled once.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained; hooks are registered on it.
    pairs : list of (str, str, str), optional
        (source layer, target layer, weight parameter) triples; by default :func:`default_pairs`.
    window : int
        Number of most recent training samples (steps of the stream) in each estimate.
    refresh : int
        Optimizer steps between two estimates.
    delay : int
        Source-target delay u of the TE. The default 0 compares units in the same forward pass,
        conditioned on the target's value at the previous sample. With delay 1 over shuffled samples the
        TE carries only what the weight updates pass on, which is close to the estimator's bias.
    scale : float
        Non-negative factor on TE (bits) in the gradient multiplier; 0 leaves gradients unchanged.
    device : None, str or torch.device
        Where the estimate runs: None uses NumPy on the CPU, ``"cuda"`` the GPU.

    Attributes
    ----------
    te : dict of LayerPair to numpy.ndarray, shape (n_sources, n_targets)
        The latest estimate in bits; empty until the window first fills.
    n_refreshes : int
        Number of estimates made.
    seconds : float
        Wall-clock time spent in the callback (capture excluded), for cost reports.

    Notes
    -----
    Adam divides each parameter's step by a running root mean square of its own gradient, so a factor
    that changes slowly relative to that average (its decay 0.999 spans about 1,000 steps) is divided out
    again: the step of W[j, i] barely depends on (1 + TE_ij). Only the early steps and changes of TE
    faster than the average come through. Plain SGD (with or without momentum), the optimizer of
    Moldovan et al., passes the factor on to the step in full.

    NOTE: the window is not part of the Trainer's checkpoint, so a run resumed with ``--resume`` starts
    with an empty window and its steps after the resume point differ from an uninterrupted run.
    """

    def __init__(self, model: nn.Module, pairs=None, window: int = 1024, refresh: int = 10, delay: int = 0,
                 scale: float = 1.0, device=None):
        self.pairs = resolve_pairs(model, pairs)
        self.window = _check_positive_int(window, "window (number of training samples)")
        self.refresh = _check_positive_int(refresh, "refresh (optimizer steps between estimates)")
        if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
            raise ValueError(f"delay must be a non-negative integer, got {delay!r}")
        if window < delay + 2:
            raise ValueError(f"window must hold at least delay + 2 = {delay + 2} samples, got {window}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 0:
            raise ValueError(f"scale must be a non-negative number, got {scale!r}")
        self.model, self.delay, self.scale, self.device = model, int(delay), float(scale), device
        self.te: dict[LayerPair, np.ndarray] = {}
        self.n_refreshes, self.seconds = 0, 0.0
        self._parameters = dict(model.named_parameters())
        self._layers = list(dict.fromkeys(name for pair in self.pairs for name in (pair.source, pair.target)))
        self._taps = _LayerTaps(model, self._layers, keep_graph=False)
        self._buffers: dict[str, list[np.ndarray]] = {layer: [] for layer in self._layers}
        self._factors: dict[LayerPair, torch.Tensor] = {}
        self._steps_since_refresh = 0
        self._checked = False

    def __call__(self, trainer=None) -> None:
        """Take in the last training batch, re-estimate TE when due, and scale the gradients."""
        started = time.perf_counter()
        self._append_latest()
        self._steps_since_refresh += 1
        if self._window_full() and (not self.te or self._steps_since_refresh >= self.refresh):
            self._estimate()
        for pair, factor in self._factors.items():
            gradient = self._parameters[pair.weight].grad
            if gradient is not None:
                gradient.mul_(factor)
        self.seconds += time.perf_counter() - started

    def _append_latest(self) -> None:
        if not self._taps.latest:
            return
        if not self._checked:
            for pair in self.pairs:
                _check_shapes(pair, self._parameters[pair.weight], self._taps.latest[pair.source],
                              self._taps.latest[pair.target])
            self._checked = True
        for layer in self._layers:
            values = self._taps.latest[layer]
            threshold = layer_threshold(self.model, layer, values.shape[1])
            buffer = self._buffers[layer]
            buffer.append((values > threshold).to(torch.uint8).cpu().numpy())
            # Drop the oldest batches that lie wholly outside the window.
            while sum(len(bits) for bits in buffer) - len(buffer[0]) >= self.window:
                buffer.pop(0)
        self._taps.latest.clear()

    def _window_full(self) -> bool:
        return sum(len(bits) for bits in self._buffers[self._layers[0]]) >= self.window

    def _estimate(self) -> None:
        recent = {layer: np.concatenate(buffer)[-self.window:] for layer, buffer in self._buffers.items()}
        for pair in self.pairs:
            te = transfer_entropy_matrix(recent[pair.source], recent[pair.target], delay=self.delay,
                                         device=self.device)
            weight = self._parameters[pair.weight]
            self.te[pair] = te
            self._factors[pair] = torch.as_tensor(1.0 + self.scale * te.T, dtype=weight.dtype, device=weight.device)
        self.n_refreshes += 1
        self._steps_since_refresh = 0
        logger.debug("TE guidance estimate %d: mean TE %s bits", self.n_refreshes,
                     [round(float(te.mean()), 5) for te in self.te.values()])

    def close(self) -> None:
        """Remove the hooks; gradients are no longer scaled."""
        self._taps.close()
        self._factors.clear()


class TEPenalty:
    """Add ``weight`` times the mean soft TE between the two layers of each pair to the loss.

    Called as ``penalty(trainer)`` after the forward pass (a Trainer ``loss_terms`` entry), it returns
    a scalar tensor computed on the current mini-batch, its samples in training order.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained; hooks are registered on it.
    pairs : list of (str, str, str), optional
        (source layer, target layer, weight parameter) triples, as for :class:`TEGuidance`; the weight
        is checked against the layers but not otherwise used.
    weight : float
        Factor on the penalty, per bit of mean TE. Positive values push TE down, negative values reward it.
    temperature : float
        Width of the sigmoid binarization, in activation units.
    delay : int
        Source-target delay. The default 0 measures transfer within a forward pass; with delay 1 the
        weights are fixed within a batch and the samples independent, so only the estimator's bias remains.

    Notes
    -----
    The soft TE and how it differs from the hard estimate are described in
    :func:`infoplane.estimators.soft.soft_transfer_entropy_matrix`. A batch shorter than delay + 2
    samples adds nothing.
    """

    def __init__(self, model: nn.Module, pairs=None, weight: float = 0.01, temperature: float = 0.1, delay: int = 0):
        self.pairs = resolve_pairs(model, pairs)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight):
            raise ValueError(f"weight must be a finite number (negative to reward TE), got {weight!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}; use e.g. 0.1")
        if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
            raise ValueError(f"delay must be a non-negative integer, got {delay!r}")
        self.model, self.weight, self.temperature, self.delay = model, float(weight), float(temperature), int(delay)
        self._parameters = dict(model.named_parameters())
        layers = [name for pair in self.pairs for name in (pair.source, pair.target)]
        self._taps = _LayerTaps(model, layers, keep_graph=True)
        self.last_te: torch.Tensor | None = None

    def __call__(self, trainer=None) -> torch.Tensor:
        """Return the penalty of the last training forward pass: ``weight`` times the summed pair means (bits)."""
        missing = [name for pair in self.pairs for name in (pair.source, pair.target) if name not in self._taps.latest]
        if missing:
            raise RuntimeError(f"no training-mode forward pass reached layers {missing} since the last call; "
                               "call the penalty once after each training forward pass")
        total = torch.zeros(())
        for pair in self.pairs:
            source, target = self._taps.latest[pair.source], self._taps.latest[pair.target]
            _check_shapes(pair, self._parameters[pair.weight], source, target)
            if source.shape[0] < self.delay + 2:
                continue
            te = soft_transfer_entropy_matrix(
                source, target, layer_threshold(self.model, pair.source, source.shape[1]),
                layer_threshold(self.model, pair.target, target.shape[1]), self.temperature, self.delay)
            total = total.to(te) + te.mean()
        self.last_te = total.detach()
        self._taps.latest.clear()
        return self.weight * total

    def close(self) -> None:
        """Remove the hooks."""
        self._taps.close()


def build_guidance(model: nn.Module, training: dict, device=None) -> tuple[list, list]:
    """Return (callbacks, loss_terms) for the Trainer from a config's ``[training]`` te_* keys."""
    mode = training["te_guidance"]
    if mode not in GUIDANCE_MODES:
        raise ValueError(f"[training] te_guidance must be one of {', '.join(GUIDANCE_MODES)}, got {mode!r}")
    pairs = [tuple(pair) for pair in training["te_pairs"]] or None
    if mode == "scale":
        estimate_device = device if torch.device(device or "cpu").type == "cuda" else None
        guidance = TEGuidance(model, pairs, window=training["te_window"], refresh=training["te_refresh"],
                              delay=training["te_delay"], scale=training["te_scale"], device=estimate_device)
        return [guidance], []
    if mode == "penalty":
        penalty = TEPenalty(model, pairs, weight=training["te_penalty_weight"],
                            temperature=training["te_temperature"], delay=training["te_delay"])
        return [], [penalty]
    return [], []
