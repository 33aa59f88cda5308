"""Information planes: one marker per layer, colour = epoch, thin lines joining the layers of one epoch."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.animation import PillowWriter
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .style import EPOCH_COLORMAP, INPUT_LAYER, LABEL_LAYER, MARKERS, epoch_norm, select

logger = logging.getLogger(__name__)

ANIMATION_DPI = 100
ANIMATION_MAX_FRAMES = 60
PAST_EPOCH_ALPHA = 0.25


def plane_points(measures: pd.DataFrame, plane: str = "xy", **selection) -> pd.DataFrame:
    """Return one row per (epoch, layer) with the plane's ``horizontal`` and ``vertical`` coordinates (bits).

    Plane ``"xy"`` (TE or MI): the horizontal coordinate of layer T is the row ``source="x",
    target=T`` (TE(X->T) or I(X;T)) and the vertical one the row ``source=T, target="y"``.
    Plane ``"adjacent"`` (TE): horizontal is TE(T_prev->T), the row whose target is T, and
    vertical is TE(T->T_next), the row whose source is T. Layers lacking either coordinate
    (the input and the output of the adjacent chain) are left out.
    """
    rows = select(measures, plane=plane, **selection)
    horizontal_rows, vertical_rows = rows, rows
    if plane == "xy":
        horizontal_rows = rows[rows["source"] == INPUT_LAYER]
        vertical_rows = rows[rows["target"] == LABEL_LAYER]
    horizontal = horizontal_rows.groupby(["epoch", "target"])["value"].mean()
    vertical = vertical_rows.groupby(["epoch", "source"])["value"].mean()
    horizontal.index.names = vertical.index.names = ["epoch", "layer"]
    points = pd.concat({"horizontal": horizontal, "vertical": vertical}, axis=1).dropna().reset_index()
    order = _layer_order(rows)
    points["order"] = points["layer"].map(order)
    return points.sort_values(["epoch", "order"]).drop(columns="order").reset_index(drop=True)


def _layer_order(rows: pd.DataFrame) -> dict[str, int]:
    """Return each layer's forward position, from the order of first appearance as a source or target."""
    layers = dict.fromkeys(name for pair in zip(rows["source"], rows["target"]) for name in pair)
    return {layer: index for index, layer in enumerate(layers)}


def draw_plane(axes, points: pd.DataFrame, norm, ceiling: float | None = None, legend: bool = True) -> None:
    """Draw ``points`` (from :func:`plane_points`) on ``axes`` with the epoch colour scale ``norm``.

    The legend shows the layer markers in grey, because colour encodes the epoch, not the layer.
    """
    colormap = plt.get_cmap(EPOCH_COLORMAP)
    layers = list(dict.fromkeys(points["layer"]))
    for epoch, group in points.groupby("epoch"):
        axes.plot(group["horizontal"], group["vertical"], color=colormap(norm(epoch)), linewidth=0.4, alpha=0.5)
    handles = []
    for index, layer in enumerate(layers):
        group = points[points["layer"] == layer]
        marker = MARKERS[index % len(MARKERS)]
        axes.scatter(group["horizontal"], group["vertical"], c=group["epoch"], cmap=colormap, norm=norm,
                     marker=marker, s=22, edgecolors="none")
        handles.append(Line2D([], [], linestyle="", marker=marker, markersize=5, color="0.35", label=layer))
    if ceiling is not None:
        handles.append(axes.axvline(ceiling, color="grey", linestyle="--", linewidth=0.8,
                                    label=f"log2 N = {ceiling:.2f} bits"))
    if legend:
        axes.legend(handles=handles, fontsize=7, loc="best")
    # Values near the TE bias floor (about 1e-4 bits) otherwise get long tick labels that run together.
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5))
    axes.ticklabel_format(axis="both", style="sci", scilimits=(-3, 4), useMathText=True)


def add_epoch_colorbar(figure, axes, norm) -> None:
    """Add the epoch colour bar of ``norm`` beside ``axes`` (one axes or a list of them)."""
    mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=plt.get_cmap(EPOCH_COLORMAP))
    figure.colorbar(mappable, ax=axes).set_label("epoch")


def plot_plane(points: pd.DataFrame, xlabel: str, ylabel: str, title: str, ceiling: float | None = None):
    """Return a figure of one information plane with an epoch colour bar.

    Parameters
    ----------
    points : pandas.DataFrame
        Columns ``epoch``, ``layer``, ``horizontal`` and ``vertical`` (bits), as :func:`plane_points` returns.
    xlabel, ylabel, title : str
        Axis labels, with the quantity and its unit, and the title.
    ceiling : float, optional
        log2 of the number of samples, in bits: the largest I(X;T) a plug-in or KDE estimate
        can reach; drawn as a dashed vertical line.
    """
    figure, axes = plt.subplots(figsize=(6.0, 4.8))
    if points.empty:
        axes.text(0.5, 0.5, "no values to draw", ha="center", va="center", transform=axes.transAxes)
        return figure
    norm = epoch_norm(points["epoch"])
    draw_plane(axes, points, norm, ceiling)
    add_epoch_colorbar(figure, axes, norm)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    return figure


def _padded_limits(values: np.ndarray, extra: float | None = None) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    low, high = float(values.min()), float(values.max())
    if extra is not None:
        low, high = min(low, extra), max(high, extra)
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.01
    return low - margin, high + margin


def animate_plane(points: pd.DataFrame, path: Path, xlabel: str, ylabel: str, title: str,
                  ceiling: float | None = None, fps: int = 8, max_frames: int = ANIMATION_MAX_FRAMES) -> Path:
    """Write an animated GIF of the plane: frame e shows epoch e in full colour over the faded earlier epochs.

    With more recorded epochs than ``max_frames``, evenly spaced epochs (always the first and
    the last) become frames. The axes limits stay fixed over all frames.
    """
    if points.empty:
        raise ValueError("points is empty; an animated plane needs at least one recorded epoch")
    epochs = np.array(sorted(points["epoch"].unique()))
    if len(epochs) > max_frames:
        epochs = epochs[np.unique(np.linspace(0, len(epochs) - 1, max_frames).round().astype(int))]
    norm = epoch_norm(points["epoch"])
    figure, axes = plt.subplots(figsize=(6.0, 4.8))
    add_epoch_colorbar(figure, axes, norm)
    x_limits = _padded_limits(points["horizontal"], ceiling)
    y_limits = _padded_limits(points["vertical"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PillowWriter(fps=fps)
    with writer.saving(figure, str(path), dpi=ANIMATION_DPI):
        for epoch in epochs:
            axes.clear()
            past = points[points["epoch"] < epoch]
            axes.scatter(past["horizontal"], past["vertical"], c=past["epoch"], cmap=EPOCH_COLORMAP, norm=norm,
                         s=10, alpha=PAST_EPOCH_ALPHA, edgecolors="none")
            draw_plane(axes, points[points["epoch"] == epoch], norm, ceiling)
            axes.set_xlim(x_limits)
            axes.set_ylim(y_limits)
            axes.set_xlabel(xlabel)
            axes.set_ylabel(ylabel)
            axes.set_title(f"{title}\nepoch {epoch}", fontsize=10)
            writer.grab_frame()
    plt.close(figure)
    return path
