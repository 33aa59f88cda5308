"""ActivationRecorder: forward hooks that turn a model's activations into binary series.

Life cycle, in the manner of torchmetrics::

    recorder = ActivationRecorder(model)      # create: registers the forward hooks
    for x, y in loader:                       # every training forward pass is captured
        loss = loss_fn(model(x), y)
        ...
        recorder.update(y)                    # labels (and sample indices) of that batch
    stream = recorder.compute()               # StreamRecord of the epoch, time first
    recorder.reset()                          # clear the buffers for the next epoch
    probe = recorder.probe(x_probe, y_probe)  # eval-mode pass over a fixed probe set
    recorder.close()                          # remove the hooks

Set ``recorder.recording = False`` to pass through epochs that are not recorded.
"""

from __future__ import annotations

import logging
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

INPUT_LAYER = "x"
OUTPUT_LAYER = "output"
INPUT_THRESHOLD = 0.5
MEDIAN = "median"
ACTIVATION_TYPES = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Identity, nn.Softplus)
DEFAULT_THRESHOLDS = {nn.Sigmoid: 0.5}
VALID_MODES = ("stream", "probe")
MIN_BUFFER_ROWS = 1024


class NonFiniteActivationError(ValueError):
    """An activation was NaN or infinite; the message names the layer."""


def binarize(activations: np.ndarray, threshold: float | str) -> np.ndarray:
    """Binarize ``(n_steps, n_units)`` activations: 1 where a value exceeds the threshold, else 0.

    ``threshold="median"`` uses each unit's median over the steps given.
    """
    activations = np.asarray(activations, dtype=np.float32)
    if isinstance(threshold, str):
        if threshold != MEDIAN:
            raise ValueError(f"threshold must be a number or {MEDIAN!r}, got {threshold!r}")
        threshold = np.median(activations, axis=0, keepdims=True)
    return (activations > threshold).astype(np.uint8)


def to_float16(values: np.ndarray) -> np.ndarray:
    """Return ``values`` rounded to float16 (round to nearest even), the storage type of float series."""
    # torch converts about ten times faster than ndarray.astype on CPUs, with the same rounding.
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).half().numpy()


def _binarized(values: np.ndarray, threshold: float | str) -> np.ndarray:
    """Return uint8 bits of captured ``values``, which the hooks may have binarized already (bool)."""
    if values.dtype == np.bool_:
        return values.view(np.uint8)
    return binarize(values, threshold)


def _flatten_units(tensor: torch.Tensor, channel_means: bool = True) -> torch.Tensor:
    """Reduce an activation to (batch, units); convolutional maps become channel means if ``channel_means``."""
    tensor = tensor.detach()
    if tensor.ndim == 4 and channel_means:
        return tensor.float().mean(dim=(2, 3))
    return tensor.float().reshape(tensor.shape[0], -1)


def _check_finite(name: str, values: torch.Tensor) -> None:
    """Raise NonFiniteActivationError if ``values`` contains NaN or infinity."""
    # One reduction per batch. If a sum of finite values overflows, the exact count finds no bad value.
    if math.isfinite(float(values.sum())):
        return
    n_bad = int((~torch.isfinite(values)).sum())
    if n_bad:
        raise NonFiniteActivationError(
            f"layer {name!r} produced {n_bad} non-finite activations (NaN or inf); "
            "lower the learning rate or check the inputs"
        )


class _RowBuffer:
    """Rows of one layer's series, appended batch by batch into an array that doubles when full.

    :meth:`clear` keeps the array, so later epochs write into memory that is already
    allocated instead of allocating a new block every batch.
    """

    def __init__(self):
        self.data: np.ndarray | None = None
        self.size = 0

    def clear(self) -> None:
        self.size = 0

    def append(self, values: np.ndarray, threshold: float | None) -> None:
        """Append ``(batch, n_units)`` float32 values, binarized at ``threshold`` unless it is None.

        The first append after :meth:`clear` fixes whether this series stores bits or floats.
        """
        n_rows, n_units = values.shape
        dtype = np.float32 if threshold is None else np.bool_
        if self.size == 0 and (self.data is None or self.data.dtype != dtype or self.data.shape[1] != n_units):
            self.data = np.empty((max(n_rows, MIN_BUFFER_ROWS), n_units), dtype)
        elif self.size + n_rows > len(self.data):
            grown = np.empty((max(2 * len(self.data), self.size + n_rows), n_units), self.data.dtype)
            grown[:self.size] = self.data[:self.size]
            self.data = grown

        target = self.data[self.size:self.size + n_rows]
        if self.data.dtype == np.bool_:
            np.greater(values, threshold, out=target)
        else:
            target[...] = values
        self.size += n_rows

    def rows(self) -> np.ndarray:
        """Return a copy of the rows appended since the last :meth:`clear`."""
        return self.data[:self.size].copy()


@dataclass
class StreamRecord:
    """Activations of one training epoch, one row per training sample in optimizer order.

    ``bits[layer]`` is ``(n_steps, n_units)`` uint8; ``floats[layer]`` the float16
    copy when kept; ``labels`` and ``order`` are ``(n_steps,)``.
    """

    layers: list[str]
    bits: dict[str, np.ndarray]
    floats: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    order: np.ndarray | None = None

    @property
    def n_steps(self) -> int:
        return len(next(iter(self.bits.values()))) if self.bits else 0


@dataclass
class ProbeRecord:
    """Activations of the probe set in eval mode: ``floats[layer]`` float32, ``bits[layer]`` uint8."""

    layers: list[str]
    floats: dict[str, np.ndarray]
    bits: dict[str, np.ndarray]
    labels: np.ndarray


class ActivationRecorder:
    """Record binarized activations of named layers of ``model`` through forward hooks.

    Parameters
    ----------
    model : torch.nn.Module
        Any module. Its input is recorded as layer ``"x"`` and its output, after a
        softmax over the last axis, as layer ``"output"``.
    layers : list of str, optional
        Names of submodules (as in ``model.named_modules()``) to record. By default
        ``model.hidden_layer_names()`` when the model has it, else every activation
        module (Tanh, ReLU, Sigmoid, ...) in registration order.
    modes : tuple of str
        ``"stream"`` records every training forward pass; ``"probe"`` allows :meth:`probe`.
    thresholds : dict, optional
        Per-layer binarization threshold (a number or ``"median"``) overriding the
        defaults: 0 for tanh, ReLU and linear units, 0.5 for sigmoid and for the
        input, 1/n_classes for the softmax output, the per-unit median for
        convolutional channel means.
    keep_float : bool
        Also keep the float16 stream, so that other thresholds can be tried later.
    max_units : int, optional
        Cap on units per layer; larger layers keep a seeded random subset (the
        output layer is never subsampled).
    seed : int
        Seed of that unit selection.
    """

    def __init__(self, model: nn.Module, layers=None, modes=VALID_MODES, thresholds=None,
                 keep_float: bool = False, max_units: int | None = None, seed: int = 0):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        unknown_modes = sorted(set(modes) - set(VALID_MODES))
        if unknown_modes or not modes:
            raise ValueError(f"modes must be a non-empty subset of {VALID_MODES}, got {tuple(modes)}")
        if max_units is not None and (not isinstance(max_units, int) or max_units < 1):
            raise ValueError(f"max_units must be a positive integer or None, got {max_units!r}")
        self.model = model
        self.modes = tuple(modes)
        self.keep_float = bool(keep_float)
        self.max_units = max_units
        self.seed = int(seed)
        self.hidden_layers = self._resolve_layers(layers)
        self.layers = [INPUT_LAYER, *self.hidden_layers, OUTPUT_LAYER]
        self.thresholds = self._resolve_thresholds(thresholds or {})
        self.recording = "stream" in self.modes
        self.unit_indices: dict[str, np.ndarray | None] = {}
        self._stream_buffers: dict[str, _RowBuffer] = {}
        self._probe_buffers: dict[str, _RowBuffer] = {}
        self._capture: dict[str, _RowBuffer] | None = None
        self._probing = False
        self._unit_tensors: dict[str, torch.Tensor] = {}
        self._last_batch_size: int | None = None
        self._handles = []
        self.reset()
        self._register_hooks()

    def _resolve_layers(self, layers) -> list[str]:
        modules = dict(self.model.named_modules())
        if layers is None:
            if hasattr(self.model, "hidden_layer_names"):
                return list(self.model.hidden_layer_names())
            return [name for name, module in modules.items() if name and isinstance(module, ACTIVATION_TYPES)]
        if isinstance(layers, str):
            raise TypeError(f"layers must be a list of module names, got the string {layers!r}; pass [{layers!r}]")
        layers = list(layers)
        valid = [name for name in modules if name]
        missing = [name for name in layers if name not in modules or not name]
        if missing:
            raise ValueError(f"layers {missing} not found in the model; valid names: {', '.join(valid)}")
        reserved = {INPUT_LAYER, OUTPUT_LAYER} & set(layers)
        if reserved:
            raise ValueError(f"layer names {sorted(reserved)} are reserved for the input and output; rename those modules")
        return layers

    def _resolve_thresholds(self, overrides: dict) -> dict[str, float | str | None]:
        unknown = sorted(set(overrides) - set(self.layers))
        if unknown:
            raise ValueError(f"thresholds given for unknown layers {unknown}; valid: {', '.join(self.layers)}")
        modules = dict(self.model.named_modules())
        thresholds: dict[str, float | str | None] = {INPUT_LAYER: INPUT_THRESHOLD, OUTPUT_LAYER: None}
        for name in self.hidden_layers:
            thresholds[name] = DEFAULT_THRESHOLDS.get(type(modules[name]), 0.0)
        for name, value in overrides.items():
            if not (value == MEDIAN or (isinstance(value, (int, float)) and np.isfinite(value))):
                raise ValueError(f"threshold of layer {name!r} must be a finite number or {MEDIAN!r}, got {value!r}")
            thresholds[name] = value
        self._explicit_thresholds = set(overrides)
        return thresholds

    # hooks

    def _register_hooks(self) -> None:
        modules = dict(self.model.named_modules())
        self._handles.append(self.model.register_forward_pre_hook(self._input_hook))
        self._handles.append(self.model.register_forward_hook(self._output_hook))
        for name in self.hidden_layers:
            self._handles.append(modules[name].register_forward_hook(self._make_hook(name)))

    def _make_hook(self, name: str):
        def hook(module, inputs, output):
            self._store(name, output)

        return hook

    def _input_hook(self, module, inputs):
        if inputs:
            self._store(INPUT_LAYER, inputs[0])

    def _output_hook(self, module, inputs, output):
        self._store(OUTPUT_LAYER, torch.softmax(output.detach().float(), dim=-1))

    def _store(self, name: str, tensor: torch.Tensor) -> None:
        if self._capture is None:
            return
        # The input keeps every pixel: X is binarized per input unit, never per channel.
        is_map = tensor.ndim == 4 and name != INPUT_LAYER
        values = _flatten_units(tensor, channel_means=is_map)
        _check_finite(name, values)
        chosen = self._select_units(name, values.shape[1], is_map)
        if chosen is not None:
            values = values[:, chosen.to(values.device)]

        # A fixed threshold binarizes each batch at once, so the stream keeps one byte per
        # value instead of four. A "median" threshold needs the whole epoch, so it keeps the
        # floats. NumPy compares a CPU batch several times faster than torch does.
        threshold = self.thresholds[name]
        keep_values = self._probing or self.keep_float or isinstance(threshold, str)
        values = values.cpu().numpy()
        buffer = self._capture.get(name)
        if buffer is None:
            buffer = self._capture[name] = _RowBuffer()
        buffer.append(values, None if keep_values else threshold)
        if name == INPUT_LAYER:
            self._last_batch_size = values.shape[0]

    def _select_units(self, name: str, n_units: int, is_map: bool) -> torch.Tensor | None:
        """Return the indices of the kept units of ``name`` (None keeps all), drawn on first sight."""
        if name not in self.unit_indices:
            self._set_default_threshold(name, n_units, is_map)
            chosen = None
            if self.max_units is not None and n_units > self.max_units and name != OUTPUT_LAYER:
                generator = np.random.default_rng([self.seed, self.layers.index(name)])
                chosen = np.sort(generator.choice(n_units, size=self.max_units, replace=False))
                self._unit_tensors[name] = torch.as_tensor(chosen)
            self.unit_indices[name] = chosen
        return self._unit_tensors.get(name)

    def _set_default_threshold(self, name: str, n_units: int, is_map: bool) -> None:
        if name in self._explicit_thresholds:
            return
        if name == OUTPUT_LAYER:
            self.thresholds[name] = 1.0 / n_units
        elif is_map:
            self.thresholds[name] = MEDIAN

    # life cycle

    @property
    def recording(self) -> bool:
        """Whether training forward passes are captured now."""
        return self._recording

    @recording.setter
    def recording(self, value: bool) -> None:
        if value and "stream" not in self.modes:
            raise ValueError("this recorder was created without the 'stream' mode; add it to modes to record training")
        self._recording = bool(value)

    def update(self, labels, indices=None) -> None:
        """Store the labels (and optionally dataset indices) of the batch just passed forward."""
        if not self._recording:
            return
        labels = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels).reshape(-1)
        if self._last_batch_size is None:
            warnings.warn("update() called before any forward pass of this epoch; the labels were ignored",
                          RuntimeWarning, stacklevel=2)
            return
        if len(labels) != self._last_batch_size:
            raise ValueError(f"update() got {len(labels)} labels but the last forward pass had "
                             f"{self._last_batch_size} samples; pass the labels of that batch")
        self._labels.append(labels.astype(np.int64))
        if indices is not None:
            indices = np.asarray(indices.detach().cpu() if torch.is_tensor(indices) else indices).reshape(-1)
            self._indices.append(indices.astype(np.int64))
        self._last_batch_size = None

    def _collect(self) -> dict[str, np.ndarray]:
        collected = {}
        for name in self.layers:
            buffer = self._capture.get(name) if self._capture is not None else None
            if buffer is not None and buffer.size:
                collected[name] = buffer.rows()
        return collected

    def compute(self) -> StreamRecord:
        """Return the stream captured since the last :meth:`reset`."""
        captured = self._collect()
        n_labelled = sum(len(chunk) for chunk in self._labels)
        if not captured or n_labelled == 0:
            raise RuntimeError("nothing recorded: pass batches forward and call update(labels) after each one")
        if len(captured[INPUT_LAYER]) != n_labelled:
            raise RuntimeError(f"{len(captured[INPUT_LAYER])} forward samples but {n_labelled} labels; "
                               "call update(labels) once after every training forward pass")
        bits = {name: _binarized(values, self.thresholds[name]) for name, values in captured.items()}
        floats = {name: to_float16(values) for name, values in captured.items()} if self.keep_float else {}
        order = np.concatenate(self._indices) if self._indices else None
        return StreamRecord(list(captured), bits, floats, np.concatenate(self._labels), order)

    def reset(self) -> None:
        """Clear the captured stream."""
        for buffer in self._stream_buffers.values():
            buffer.clear()
        self._capture = self._stream_buffers if self._recording else None
        self._labels: list[np.ndarray] = []
        self._indices: list[np.ndarray] = []
        self._last_batch_size = None

    def start_epoch(self) -> None:
        """Clear the buffers and capture the training passes that follow."""
        self.recording = True
        self.reset()

    def stop(self) -> None:
        """Stop capturing training passes; :meth:`start_epoch` clears the buffers."""
        self._recording = False
        self._capture = None

    @contextmanager
    def paused(self):
        """Run forward passes inside this block without capturing them, keeping the buffers."""
        saved_capture, saved_last = self._capture, self._last_batch_size
        self._capture = None
        try:
            yield
        finally:
            self._capture, self._last_batch_size = saved_capture, saved_last

    @torch.no_grad()
    def probe(self, inputs, labels, batch_size: int = 1024) -> ProbeRecord:
        """Pass ``inputs`` through the model in eval mode and return every layer's activations."""
        if "probe" not in self.modes:
            raise ValueError("this recorder was created without the 'probe' mode; add it to modes")
        inputs = torch.as_tensor(inputs)
        if len(inputs) == 0:
            raise ValueError("the probe set is empty; pass at least one sample")
        device = next(self.model.parameters()).device
        saved_capture, saved_recording, was_training = self._capture, self._recording, self.model.training
        for buffer in self._probe_buffers.values():
            buffer.clear()
        self._capture, self._recording, self._probing = self._probe_buffers, True, True
        self.model.eval()
        try:
            for start in range(0, len(inputs), batch_size):
                self.model(inputs[start:start + batch_size].to(device))
            floats = self._collect()
        finally:
            self._capture, self._recording, self._probing = saved_capture, saved_recording, False
            self.model.train(was_training)
        bits = {name: binarize(values, self.thresholds[name]) for name, values in floats.items()}
        return ProbeRecord(list(floats), floats, bits, np.asarray(labels, dtype=np.int64).reshape(-1))

    def close(self) -> None:
        """Remove every hook from the model; the recorder cannot capture afterwards."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._capture = None
        self._stream_buffers, self._probe_buffers = {}, {}
        self._recording = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
