"""Figures over the epochs: training curves, TE per layer pair, TE against accuracy and loss, heat map, seed bands."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from .style import INPUT_LAYER, LABEL_LAYER, describe_te, layer_pair_order, select, set_epoch_axis, te_label

logger = logging.getLogger(__name__)

BAND_LEVEL = 0.95
MIN_CORRELATION_POINTS = 3
LOSS_LABEL = "cross-entropy loss (nats)"


def plot_metrics(metrics: pd.DataFrame):
    """Return a figure of train and test accuracy and loss over the epochs (log-scaled epoch axis)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for part, style in (("train", "-"), ("test", "--")):
        left.plot(metrics["epoch"], metrics[f"{part}_accuracy"], style, label=part)
        right.plot(metrics["epoch"], metrics[f"{part}_loss"], style, label=part)
    for axes, label in ((left, "accuracy (fraction correct)"), (right, LOSS_LABEL)):
        set_epoch_axis(axes, metrics["epoch"])
        axes.set_ylabel(label)
        axes.legend()
        axes.grid(alpha=0.3)
    return figure


def plot_te_over_epochs(measures: pd.DataFrame, alignment: int = 1, mode: str = "stream",
                        estimator: str = "plugin", aggregate: str = "mean"):
    """Return a figure of layer TE (bits) per layer pair over the epochs, one panel per plane.

    Where the rows carry ``surrogate_mean`` (the mean TE of the permuted-source surrogates),
    the band from 0 to it is shaded in the pair's colour: values inside it are no larger than
    what the estimator gives with the source's time order destroyed.
    """
    rows = select(measures, measure="te", estimator=estimator, alignment=alignment, mode=mode, aggregate=aggregate)
    planes = [plane for plane in ("xy", "adjacent") if (rows["plane"] == plane).any()]
    figure, axes_list = plt.subplots(1, len(planes), figsize=(6.0 * len(planes), 4.4), squeeze=False,
                                   layout="constrained")
    for axes, plane in zip(axes_list[0], planes):
        plane_rows = rows[rows["plane"] == plane]
        for index, (source, target) in enumerate(layer_pair_order(plane_rows)):
            pair = plane_rows[(plane_rows["source"] == source) & (plane_rows["target"] == target)].sort_values("epoch")
            color = plt.get_cmap("tab20")(index % 20)
            axes.plot(pair["epoch"], pair["value"], color=color, linewidth=1.0, label=te_label(source, target))
            floor = pair["surrogate_mean"].astype(float)
            if floor.notna().any():
                axes.fill_between(pair["epoch"], 0, floor.fillna(0), color=color, alpha=0.15, linewidth=0)
        set_epoch_axis(axes, rows["epoch"])
        axes.set_ylabel(f"layer TE, {aggregate} over unit pairs (bits)")
        axes.set_title(f"{plane} plane: {describe_te(alignment, mode)}", fontsize=10)
        axes.legend(fontsize=6, ncol=2)
        axes.grid(alpha=0.3)
    if rows["surrogate_mean"].notna().any():
        figure.text(0.01, 0.005, "shaded: 0 to the mean TE of the permuted-source surrogates", fontsize=7)
    return figure


def _spearman_label(first: pd.Series, second: pd.Series) -> str:
    valid = first.notna() & second.notna()
    if valid.sum() < MIN_CORRELATION_POINTS or first[valid].nunique() < 2 or second[valid].nunique() < 2:
        return "ρ n/a"
    rho = stats.spearmanr(first[valid], second[valid]).statistic
    return f"ρ = {rho:+.2f}"


def plot_te_against_metrics(measures: pd.DataFrame, metrics: pd.DataFrame, alignment: int = 1, mode: str = "stream",
                            estimator: str = "plugin"):
    """Return a 2 x 2 figure of TE(X→T) and TE(T→Y) (bits) against training accuracy and loss.

    One point per recorded epoch and hidden layer. The legend gives each layer's Spearman rank
    correlation ρ between its TE and the metric over the recorded epochs (no test of significance).
    """
    rows = select(measures, measure="te", estimator=estimator, plane="xy", alignment=alignment, mode=mode,
                  aggregate="mean")
    joined = rows.merge(metrics[["epoch", "train_accuracy", "train_loss"]], on="epoch", how="inner")
    figure, axes_grid = plt.subplots(2, 2, figsize=(10, 8), sharex="col", layout="constrained")
    directions = (("source", INPUT_LAYER, "target"), ("target", LABEL_LAYER, "source"))
    for row_axes, (fixed_column, fixed_layer, layer_column) in zip(axes_grid, directions):
        direction = joined[joined[fixed_column] == fixed_layer]
        for axes, metric, label in zip(row_axes, ("train_accuracy", "train_loss"),
                                       ("training accuracy (fraction correct)", f"training {LOSS_LABEL}")):
            for index, (layer, group) in enumerate(direction.groupby(layer_column, sort=False)):
                axes.scatter(group[metric], group["value"], s=12, color=plt.get_cmap("tab10")(index % 10),
                             label=f"{layer}: {_spearman_label(group[metric], group['value'])}")
            pair = ("x", "T") if fixed_layer == INPUT_LAYER else ("T", "y")
            axes.set_ylabel(f"{te_label(*pair)} (bits)")
            axes.set_xlabel(label)
            axes.legend(fontsize=7, title="Spearman ρ", title_fontsize=7)
            axes.grid(alpha=0.3)
    figure.suptitle(f"TE plane xy against training metrics: {describe_te(alignment, mode)}", fontsize=11)
    return figure


def plot_te_heatmap(measures: pd.DataFrame, alignment: int = 1, mode: str = "stream", estimator: str = "plugin",
                    aggregate: str = "mean"):
    """Return a heat map of layer TE (bits): one row per layer pair, one column per recorded epoch."""
    rows = select(measures, measure="te", estimator=estimator, alignment=alignment, mode=mode, aggregate=aggregate)
    rows = rows.drop_duplicates(["epoch", "source", "target"])
    pairs = layer_pair_order(rows)
    table = rows.pivot(index=["source", "target"], columns="epoch", values="value").reindex(pairs)
    epochs = table.columns.to_numpy()
    figure, axes = plt.subplots(figsize=(10, 0.3 * len(pairs) + 2.0))
    image = axes.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="magma", interpolation="nearest")
    figure.colorbar(image, ax=axes).set_label(f"layer TE, {aggregate} over unit pairs (bits)")
    axes.set_yticks(range(len(pairs)), [te_label(*pair) for pair in pairs], fontsize=7)
    tick_positions = np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), 12)).round().astype(int))
    axes.set_xticks(tick_positions, [str(epochs[position]) for position in tick_positions], fontsize=7)
    axes.set_xlabel("recorded epoch (columns in recording order)")
    axes.set_title(f"Layer TE by layer pair and epoch: {describe_te(alignment, mode)}", fontsize=10)
    return figure


def seed_band(tables: Sequence[pd.DataFrame], level: float = BAND_LEVEL, **selection) -> pd.DataFrame:
    """Return the mean over seeds and its ``level`` confidence band per (epoch, source, target).

    The band is mean ± t_{(1+level)/2, n-1} · s / sqrt(n) over the n tables holding that row
    (Student t interval of the mean); with one table it collapses to the mean.
    """
    stacked = pd.concat([select(table, **selection).assign(run=index) for index, table in enumerate(tables)])
    grouped = stacked.groupby(["epoch", "source", "target"], sort=True)["value"]
    band = grouped.agg(["mean", "std", "count"]).reset_index()
    quantile = stats.t.ppf((1 + level) / 2, np.maximum(band["count"] - 1, 1))
    half_width = np.where(band["count"] > 1, quantile * band["std"] / np.sqrt(band["count"]), 0.0)
    band["low"], band["high"] = band["mean"] - half_width, band["mean"] + half_width
    return band


def plot_seed_band(groups: Mapping[str, Sequence[pd.DataFrame]] | Sequence[pd.DataFrame], alignment: int = 1,
                   mode: str = "stream", estimator: str = "plugin", level: float = BAND_LEVEL):
    """Return TE(X→T) and TE(T→Y) (bits) over the epochs as the mean over seeds with a 95% band.

    ``groups`` maps a label (a config, say tanh or ReLU) to the measures tables of its seeds;
    a plain sequence of tables is one group. One panel per hidden layer and direction.
    """
    if not isinstance(groups, Mapping):
        groups = {"all runs": list(groups)}
    selection = {"measure": "te", "estimator": estimator, "plane": "xy", "alignment": alignment, "mode": mode,
                 "aggregate": "mean"}
    bands = {label: seed_band(tables, level, **selection) for label, tables in groups.items()}
    layers = list(dict.fromkeys(layer for band in bands.values()
                                for layer in band.loc[band["source"] == INPUT_LAYER, "target"]))
    if not layers:
        raise ValueError(f"no TE rows of the xy plane with {selection} in the tables; analyse the runs first")
    figure, axes_grid = plt.subplots(2, len(layers), figsize=(3.0 * len(layers) + 1, 6.0), squeeze=False,
                                     sharex=True, layout="constrained")
    for column, layer in enumerate(layers):
        for row, (source, target) in enumerate(((INPUT_LAYER, layer), (layer, LABEL_LAYER))):
            axes = axes_grid[row][column]
            for index, (label, band) in enumerate(bands.items()):
                pair = band[(band["source"] == source) & (band["target"] == target)]
                color = plt.get_cmap("tab10")(index % 10)
                count = int(pair["count"].max()) if len(pair) else 0
                axes.plot(pair["epoch"], pair["mean"], color=color, linewidth=1.0, label=f"{label} (n = {count})")
                axes.fill_between(pair["epoch"], pair["low"], pair["high"], color=color, alpha=0.25, linewidth=0)
            set_epoch_axis(axes, pd.concat([band["epoch"] for band in bands.values()]))
            axes.set_title(f"{te_label(source, target)} (bits)", fontsize=9)
            axes.grid(alpha=0.3)
    axes_grid[0][0].legend(fontsize=7)
    figure.suptitle(f"Mean over seeds with {level:.0%} band: {describe_te(alignment, mode)}", fontsize=11)
    return figure
