"""Shared figure conventions: file formats, markers, the epoch colour scale, axis labels and row selection."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

logger = logging.getLogger(__name__)

DPI = 200
MARKERS = "osD^vP*Xh<>"
EPOCH_COLORMAP = "viridis"
INPUT_LAYER, LABEL_LAYER, OUTPUT_LAYER = "x", "y", "output"

# The TE rows a single summary figure shows when the caller does not choose: Schreiber's lagged
# transfer over the training stream, averaged over unit pairs.
PRIMARY_TE = {"measure": "te", "estimator": "plugin", "alignment": 1, "mode": "stream", "aggregate": "mean"}

MODE_WORDS = {"stream": "training stream", "probe": "probe set"}
ALIGNMENT_WORDS = {1: "delay 1 (lagged)", 0: "delay 0 (same pass)"}


def save_figure(figure, path_without_suffix: Path, formats=("png", "svg")) -> list[Path]:
    """Save ``figure`` once per format (PNG at 200 dpi, SVG) under ``path_without_suffix`` and close it."""
    paths = []
    for suffix in formats:
        path = Path(f"{path_without_suffix}.{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI, bbox_inches="tight")
        paths.append(path)
    plt.close(figure)
    return paths


def select(measures: pd.DataFrame, **selection) -> pd.DataFrame:
    """Return the rows of ``measures`` whose columns equal every ``column=value`` of ``selection``."""
    rows = measures
    for column, value in selection.items():
        rows = rows[rows[column] == value]
    return rows


def epoch_norm(epochs) -> matplotlib.colors.Normalize:
    """Return a logarithmic colour scale over ``epochs`` (linear when epoch 0 is among them)."""
    epochs = np.asarray(epochs, dtype=float)
    low, high = float(epochs.min()), float(epochs.max())
    if low >= 1:
        return matplotlib.colors.LogNorm(vmin=low, vmax=max(high, low + 1))
    return matplotlib.colors.Normalize(vmin=low, vmax=max(high, low + 1))


def set_epoch_axis(axes, epochs) -> None:
    """Label ``axes``' horizontal axis as epochs, log-scaled unless epoch 0 is recorded."""
    axes.set_xscale("log" if np.min(epochs) >= 1 else "symlog")
    axes.set_xlabel("epoch")


def te_label(source: str, target: str) -> str:
    """Return the axis or legend label of layer TE from ``source`` to ``target``."""
    return f"TE({_layer_symbol(source)}→{_layer_symbol(target)})"


def _layer_symbol(layer: str) -> str:
    return {INPUT_LAYER: "X", LABEL_LAYER: "Y"}.get(layer, layer)


def describe_te(alignment: int, mode: str) -> str:
    """Return the words for one TE alignment and mode, as used in titles."""
    return f"{MODE_WORDS.get(mode, mode)}, {ALIGNMENT_WORDS.get(alignment, f'delay {alignment}')}"


def layer_pair_order(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """Return the distinct (source, target) pairs of ``rows``: X→T for every T, then T→Y, then the chain."""
    pairs = list(dict.fromkeys(zip(rows["source"], rows["target"])))
    from_input = [pair for pair in pairs if pair[0] == INPUT_LAYER]
    to_labels = [pair for pair in pairs if pair[1] == LABEL_LAYER]
    chain = [pair for pair in pairs if pair not in from_input and pair not in to_labels]
    return from_input + to_labels + chain


def empty_figure(message: str, figsize=(6.0, 4.0)):
    """Return a figure that states in words why nothing was drawn."""
    figure, axes = plt.subplots(figsize=figsize)
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.set_axis_off()
    return figure
