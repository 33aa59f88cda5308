"""Matplotlib figures of a run: information planes and the training curves."""

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
INPUT_LAYER, LABEL_LAYER = "x", "y"


def save_figure(figure, path_without_suffix: Path, formats=("png", "svg")) -> list[Path]:
    """Save ``figure`` as PNG (200 dpi) and SVG next to each other and close it."""
    paths = []
    for suffix in formats:
        path = Path(f"{path_without_suffix}.{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI, bbox_inches="tight")
        paths.append(path)
    plt.close(figure)
    return paths


def plane_points(measures: pd.DataFrame, **selection) -> pd.DataFrame:
    """Return one row per (epoch, layer) with the plane's ``horizontal`` and ``vertical`` coordinates.

    The horizontal coordinate is the row with ``source="x"`` (I(X;T) or TE(X->T)); the
    vertical one the row with ``target="y"`` (I(T;Y) or TE(T->Y)).
    """
    rows = measures
    for column, value in selection.items():
        rows = rows[rows[column] == value]
    horizontal = rows[rows["source"] == INPUT_LAYER].set_index(["epoch", "target"])["value"]
    vertical = rows[rows["target"] == LABEL_LAYER].set_index(["epoch", "source"])["value"]
    horizontal.index.names = vertical.index.names = ["epoch", "layer"]
    points = pd.concat({"horizontal": horizontal, "vertical": vertical}, axis=1).dropna().reset_index()
    return points


def plot_plane(points: pd.DataFrame, xlabel: str, ylabel: str, title: str, ceiling: float | None = None):
    """Draw an information plane: one marker per layer, colour = epoch, thin lines join one epoch's layers."""
    figure, axes = plt.subplots(figsize=(6.0, 4.8))
    if points.empty:
        axes.text(0.5, 0.5, "no values to draw", ha="center", va="center", transform=axes.transAxes)
        return figure
    norm = matplotlib.colors.LogNorm(vmin=max(points["epoch"].min(), 1), vmax=max(points["epoch"].max(), 2))
    colormap = plt.get_cmap("viridis")
    layers = list(dict.fromkeys(points["layer"]))
    for epoch, group in points.groupby("epoch"):
        group = group.set_index("layer").reindex(layers).dropna()
        axes.plot(group["horizontal"], group["vertical"], color=colormap(norm(epoch)), linewidth=0.4, alpha=0.5)
    for index, layer in enumerate(layers):
        group = points[points["layer"] == layer]
        axes.scatter(group["horizontal"], group["vertical"], c=group["epoch"], cmap=colormap, norm=norm,
                     marker=MARKERS[index % len(MARKERS)], s=22, edgecolors="none", label=layer)
    if ceiling is not None:
        axes.axvline(ceiling, color="grey", linestyle="--", linewidth=0.8, label=f"log2 N = {ceiling:.2f} bits")
    colorbar = figure.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=colormap), ax=axes)
    colorbar.set_label("epoch")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(fontsize=7, loc="best", markerscale=1.0)
    return figure


def plot_metrics(metrics: pd.DataFrame):
    """Draw train and test accuracy and loss over the epochs (log-scaled epoch axis)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for part, style in (("train", "-"), ("test", "--")):
        left.plot(metrics["epoch"], metrics[f"{part}_accuracy"], style, label=part)
        right.plot(metrics["epoch"], metrics[f"{part}_loss"], style, label=part)
    for axes, label in ((left, "accuracy"), (right, "cross-entropy loss (nats)")):
        axes.set_xscale("log")
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.legend()
        axes.grid(alpha=0.3)
    return figure


def draw_run_figures(measures: pd.DataFrame, metrics: pd.DataFrame, folder: Path, n_probe: int | None = None,
                     n_bins: int = 30) -> list[Path]:
    """Draw the TE plane "xy" (delay 1, stream), the binned MI plane and the training curves into ``folder``."""
    paths = []
    te = plane_points(measures, measure="te", plane="xy", alignment=1, mode="stream", aggregate="mean")
    figure = plot_plane(te, "TE(X→T) (bits)", "TE(T→Y) (bits)", "TE plane, training stream, delay 1 (mean over pairs)")
    paths += save_figure(figure, Path(folder) / "te_plane_xy_delay1_stream")
    mi = plane_points(measures, measure="mi", estimator="binning")
    ceiling = float(np.log2(n_probe)) if n_probe else None
    figure = plot_plane(mi, "I(X;T) (bits)", "I(T;Y) (bits)", f"MI plane, probe, {n_bins}-bin binning", ceiling)
    paths += save_figure(figure, Path(folder) / "mi_plane_binning")
    paths += save_figure(plot_metrics(metrics), Path(folder) / "metrics")
    return paths
