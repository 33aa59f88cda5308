"""TE and MI information planes of a run folder, as one tidy table.

Each row of the table holds one value (the columns of :data:`MEASURE_COLUMNS`).
TE rows: layer TE from ``source`` to ``target`` layer, aggregated over all unit
pairs (mean, sum, max), per alignment (delay 1 or 0) and mode (training stream or
probe). MI rows: ``I(X;T)`` has ``source="x"`` and ``target=T``; ``I(T;Y)`` has
``source=T`` and ``target="y"``. All values are in bits.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .. import estimators as est
from ..recording import INPUT_LAYER, OUTPUT_LAYER
from ..runs import RunFormatError, RunStore
from .series import LABEL_LAYER, EpochSeries, read_epoch_series

logger = logging.getLogger(__name__)

MEASURE_COLUMNS = ["epoch", "measure", "estimator", "plane", "source", "target", "alignment", "mode", "aggregate",
                   "value", "surrogate_mean", "p_value", "p_adjusted", "n_pairs", "n_constant_units",
                   "n_surrogates", "seed", "flag"]
TE_AGGREGATES = ("mean", "sum", "max")


def _as_store(run) -> RunStore:
    return run if isinstance(run, RunStore) else RunStore.open(run)


def layer_pairs(hidden_layers: list[str]) -> list[tuple[str, str, str]]:
    """Return ``(plane, source, target)`` for the xy plane and the chain of adjacent layers."""
    pairs = [("xy", INPUT_LAYER, layer) for layer in hidden_layers]
    pairs += [("xy", layer, LABEL_LAYER) for layer in hidden_layers]
    chain = [INPUT_LAYER, *hidden_layers, OUTPUT_LAYER]
    pairs += [("adjacent", source, target) for source, target in zip(chain[:-1], chain[1:])]
    return pairs


def _constant_units(series: np.ndarray) -> int:
    return int(np.sum(series.min(axis=0) == series.max(axis=0)))


def _subsample_pairs(sources, targets, max_pairs: int, generator: np.random.Generator):
    """Keep a seeded random subset of source and target units so that at most ``max_pairs`` pairs remain."""
    n_sources, n_targets = sources.shape[1], targets.shape[1]
    if n_sources * n_targets <= max_pairs:
        return sources, targets
    scale = np.sqrt(max_pairs / (n_sources * n_targets))
    keep_sources = max(1, min(n_sources, int(n_sources * scale)))
    keep_targets = max(1, min(n_targets, max_pairs // keep_sources))
    source_units = np.sort(generator.choice(n_sources, keep_sources, replace=False))
    target_units = np.sort(generator.choice(n_targets, keep_targets, replace=False))
    return sources[:, source_units], targets[:, target_units]


def layer_transfer_entropy(sources: np.ndarray, targets: np.ndarray, delay: int, max_pairs: int,
                           generator: np.random.Generator) -> dict:
    """Return the mean, sum and max of TE over unit pairs of two ``(n_steps, n_units)`` binary layers, in bits."""
    n_constant = _constant_units(sources) + _constant_units(targets)
    sources, targets = _subsample_pairs(sources, targets, max_pairs, generator)
    matrix = est.transfer_entropy_matrix(sources, targets, delay=delay)
    return {"mean": float(matrix.mean()), "sum": float(matrix.sum()), "max": float(matrix.max()),
            "n_pairs": int(matrix.size), "n_constant_units": n_constant}


def _te_rows_of_epoch(series: EpochSeries, alignments, modes, max_pairs: int, seed: int) -> list[dict]:
    rows = []
    for mode in modes:
        layers = series.stream if mode == "stream" else series.probe
        if not layers:
            continue
        for delay in alignments:
            generator = np.random.default_rng([seed, series.epoch, delay])
            for plane, source, target in layer_pairs(series.hidden_layers):
                values = layer_transfer_entropy(layers[source], layers[target], delay, max_pairs, generator)
                for aggregate in TE_AGGREGATES:
                    rows.append({"epoch": series.epoch, "measure": "te", "estimator": "plugin", "plane": plane,
                                 "source": source, "target": target, "alignment": delay, "mode": mode,
                                 "aggregate": aggregate, "value": values[aggregate], "n_pairs": values["n_pairs"],
                                 "n_constant_units": values["n_constant_units"], "seed": seed, "flag": ""})
    return rows


def te_planes(run, alignments=(1, 0), modes=("stream", "probe"), max_pairs: int = 1_000_000, seed: int = 0,
              epochs=None) -> pd.DataFrame:
    """Layer TE for every recorded epoch and layer pair of ``run`` (a RunStore or folder), as tidy rows."""
    store = _as_store(run)
    probe_set = store.read_probe() if (store.path / "probe.npz").is_file() else None
    rows = []
    for epoch in epochs if epochs is not None else store.recorded_epochs():
        series = read_epoch_series(store, epoch, probe_set)
        rows.extend(_te_rows_of_epoch(series, alignments, modes, max_pairs, seed))
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def _probe_layer_ranges(store: RunStore, epochs) -> dict[str, tuple[float, float]]:
    """Return one (min, max) per layer over the probe activations of all ``epochs``."""
    ranges: dict[str, tuple[float, float]] = {}
    for epoch in epochs:
        arrays = store.read_epoch(epoch)
        for key in arrays:
            if key.startswith("probe_float/"):
                layer = key.split("/", 1)[1]
                values = arrays[key].astype(np.float32)
                low, high = float(values.min()), float(values.max())
                old_low, old_high = ranges.get(layer, (low, high))
                ranges[layer] = (min(low, old_low), max(high, old_high))
    return ranges


def _mi_row(epoch, estimator, source, target, value, settings_flag="") -> dict:
    return {"epoch": epoch, "measure": "mi", "estimator": estimator, "plane": "xy", "source": source,
            "target": target, "mode": "probe", "aggregate": "value", "value": value, "flag": settings_flag}


def mi_planes(run, estimators=("binning", "kde"), n_bins: int = 30, noise_variance: float = 0.1,
              epochs=None) -> pd.DataFrame:
    """I(X;T) and I(T;Y) of the probe set per recorded epoch and layer, in bits.

    ``binning`` uses ``n_bins`` equal-width bins over one range per layer spanning all
    recorded epochs; ``kde`` the Kolchinsky-Tracey upper bound with ``noise_variance``.
    """
    store = _as_store(run)
    epochs = list(epochs if epochs is not None else store.recorded_epochs())
    probe_set = store.read_probe()
    inputs, labels = probe_set["x_bits"], probe_set["y"]
    ranges = _probe_layer_ranges(store, epochs) if "binning" in estimators else {}
    rows = []
    for epoch in epochs:
        series = read_epoch_series(store, epoch, probe_set)
        for layer in [*series.hidden_layers, OUTPUT_LAYER]:
            activations = series.probe_float.get(layer)
            if activations is None:
                continue
            if "binning" in estimators:
                ixt, ity = est.binned_information(activations, inputs, labels, n_bins=n_bins, value_range=ranges[layer])
                rows.append(_mi_row(epoch, "binning", INPUT_LAYER, layer, ixt))
                rows.append(_mi_row(epoch, "binning", layer, LABEL_LAYER, ity))
            if "kde" in estimators:
                ixt, ity = est.kde_information(activations, labels, noise_variance=noise_variance, bound="upper")
                rows.append(_mi_row(epoch, "kde-upper", INPUT_LAYER, layer, ixt))
                rows.append(_mi_row(epoch, "kde-upper", layer, LABEL_LAYER, ity))
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def analyze_run(run, settings: dict | None = None) -> pd.DataFrame:
    """Compute the TE and MI planes of ``run`` with the ``[analysis]`` settings and write measures.parquet."""
    store = _as_store(run)
    settings = {**store.config.get("analysis", {}), **(settings or {})}
    epochs = store.recorded_epochs()
    if not epochs:
        raise RunFormatError(f"{store.path} has no recorded epochs under epochs/; run training first")
    te = te_planes(store, alignments=settings.get("alignments", (1, 0)), max_pairs=settings.get("max_pairs", 1_000_000),
                   seed=settings.get("seed", 0), epochs=epochs)
    mi = mi_planes(store, estimators=settings.get("estimators", ("binning", "kde")), n_bins=settings.get("n_bins", 30),
                   noise_variance=settings.get("noise_variance", 0.1), epochs=epochs)
    measures = pd.concat([te, mi], ignore_index=True)
    store.write_measures(measures)
    return measures
