"""Read the recorded series of one epoch back from a run folder, time first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..recording import INPUT_LAYER, OUTPUT_LAYER
from ..runs import RunStore, unpack_bits

LABEL_LAYER = "y"


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Return the ``(n_steps, n_classes)`` uint8 one-hot series of integer labels."""
    encoded = np.zeros((len(labels), n_classes), dtype=np.uint8)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


@dataclass
class EpochSeries:
    """Binary series of one recorded epoch: ``stream[layer]`` and ``probe[layer]`` are ``(n_steps, n_units)``.

    Layers run ``x, hidden..., output`` and the one-hot label series ``y``; ``probe_float``
    contains the float probe activations of the hidden and output layers.
    """

    epoch: int
    layers: list[str]
    stream: dict[str, np.ndarray]
    probe: dict[str, np.ndarray]
    probe_float: dict[str, np.ndarray]

    @property
    def hidden_layers(self) -> list[str]:
        return [name for name in self.layers if name not in (INPUT_LAYER, OUTPUT_LAYER)]


def read_epoch_series(store: RunStore, epoch: int, probe_set: dict | None = None) -> EpochSeries:
    """Unpack the epoch file of ``epoch``; ``probe_set`` is ``store.read_probe()``, read once by the caller."""
    arrays = store.read_epoch(epoch)
    layers = [str(name) for name in arrays["layers"]]
    n_units = {name: int(arrays[f"n_units/{name}"]) for name in layers if f"n_units/{name}" in arrays}
    stream = {name: unpack_bits(arrays[f"stream_bits/{name}"], n_units[name])
              for name in layers if f"stream_bits/{name}" in arrays}
    n_classes = n_units.get(OUTPUT_LAYER, int(arrays["stream_y"].max()) + 1)
    stream[LABEL_LAYER] = one_hot(arrays["stream_y"], n_classes)
    probe, probe_float = {}, {}
    for name in layers:
        if f"probe_float/{name}" in arrays:
            probe_float[name] = arrays[f"probe_float/{name}"].astype(np.float32)
            probe[name] = unpack_bits(arrays[f"probe_bits/{name}"], probe_float[name].shape[1])
    if probe_set is not None and probe:
        probe[INPUT_LAYER] = probe_set["x_bits"]
        probe[LABEL_LAYER] = one_hot(probe_set["y"], n_classes)
    return EpochSeries(epoch, layers, stream, probe, probe_float)
