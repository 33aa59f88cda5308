"""Run folders written directly with RunStore, whose TE and MI values are known by construction."""

import numpy as np

from infoplane.config import load_config
from infoplane.runs import RunStore, pack_bits


def run_config(n_surrogates=20, epochs=(1,)):
    config = load_config("szt-tanh")
    config["training"]["epochs"] = max(epochs)
    config["recording"]["schedule"] = "every"
    config["analysis"]["n_surrogates"] = n_surrogates
    config["analysis"]["estimators"] = ["binning"]
    return config


def epoch_arrays(stream: dict, probe_float: dict, stream_labels: np.ndarray) -> dict:
    """Return the arrays of one epoch file from ``stream`` bits and ``probe_float`` activations per layer.

    ``stream`` maps the layer names, in forward order and starting with ``x``, to (n_steps, n_units)
    0/1 arrays; ``probe_float`` maps each non-input layer to (n_probe, n_units) floats, binarized at 0.
    """
    arrays = {"layers": np.array(list(stream)), "order": np.arange(len(stream_labels)), "stream_y": stream_labels}
    for name, bits in stream.items():
        arrays[f"stream_bits/{name}"] = pack_bits(bits)
        arrays[f"n_units/{name}"] = np.array(bits.shape[1])
    for name, values in probe_float.items():
        arrays[f"probe_float/{name}"] = values.astype(np.float16)
        arrays[f"probe_bits/{name}"] = pack_bits(values > 0)
    return arrays


def write_run(path, epochs: dict, probe_x, probe_y, metrics=None, config=None) -> RunStore:
    """Write a run folder with one epoch file per entry of ``epochs`` (epoch -> arrays)."""
    config = config or run_config(epochs=tuple(epochs))
    store = RunStore.create(path, config, seed=0)
    store.write_probe({"x": probe_x.astype(np.float32), "x_bits": (probe_x > 0.5).astype(np.uint8), "y": probe_y})
    for epoch, arrays in epochs.items():
        store.write_epoch(epoch, arrays)
    if metrics is None:
        metrics = [{"epoch": epoch, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0, "test_accuracy": 0.5,
                    "seconds": 0.1} for epoch in epochs]
    store.write_metrics(metrics)
    store.set_status("finished")
    return store


def random_epoch(rng, n_steps=1000, n_probe=256, widths=(3, 3), copy_fidelity=None) -> dict:
    """Return the arrays of an epoch with independent random layers x (4 units), h and output.

    With ``copy_fidelity`` p, unit 0 of h copies unit 0 of x one step later with probability p (else a
    fresh random bit), so TE(x_0 -> h_0) at delay 1 grows with p.
    """
    x = rng.integers(0, 2, (n_steps, 4), dtype=np.uint8)
    hidden = rng.integers(0, 2, (n_steps, widths[0]), dtype=np.uint8)
    if copy_fidelity is not None:
        copied = rng.random(n_steps - 1) < copy_fidelity
        hidden[1:, 0] = np.where(copied, x[:-1, 0], hidden[1:, 0])
    output = rng.integers(0, 2, (n_steps, widths[1]), dtype=np.uint8)
    labels = rng.integers(0, 2, n_steps)
    probe = {"h": rng.normal(size=(n_probe, widths[0])), "output": rng.normal(size=(n_probe, widths[1]))}
    return epoch_arrays({"x": x, "h": hidden, "output": output}, probe, labels)


def random_probe(rng, n_probe=256):
    return rng.random((n_probe, 4)), rng.integers(0, 2, n_probe)
