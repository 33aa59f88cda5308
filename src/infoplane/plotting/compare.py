"""Several runs side by side: planes per run on shared scales, overlaid training curves, seed bands, a table."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..runs import RunStore
from .curves import LOSS_LABEL, plot_seed_band
from .planes import add_epoch_colorbar, draw_plane, plane_points
from .style import INPUT_LAYER, LABEL_LAYER, PRIMARY_TE, epoch_norm, save_figure, select, set_epoch_axis

logger = logging.getLogger(__name__)


@dataclass
class RunTables:
    """The tables of one analysed run folder that figures and reports read."""

    path: Path
    label: str
    config: dict
    measures: pd.DataFrame
    metrics: pd.DataFrame
    n_probe: int | None

    @property
    def group(self) -> str:
        """Label shared by runs whose configs differ only in the training seed."""
        model = self.config.get("model", {})
        return f"{self.config.get('name', self.path.name)} ({model.get('activation') or model.get('kind', '')})"


def load_run_tables(run_dir) -> RunTables:
    """Read the config, measures, metrics and probe size of an analysed run folder."""
    store = RunStore.open(run_dir)
    probe_path = store.path / "probe.npz"
    n_probe = len(store.read_probe()["y"]) if probe_path.is_file() else None
    return RunTables(path=store.path, label=store.path.name, config=store.config, measures=store.read_measures(),
                     metrics=store.read_metrics(), n_probe=n_probe)


def unique_labels(runs: list[RunTables]) -> None:
    """Make run labels unique by prefixing the parent folder where two runs share a folder name."""
    names = [run.label for run in runs]
    for run in runs:
        if names.count(run.label) > 1:
            run.label = f"{run.path.parent.name}/{run.path.name}"


def plot_compare_planes(runs: list[RunTables], **selection):
    """Return one information plane per run, side by side, with shared axes and epoch colour scale.

    ``selection`` chooses the rows, for example the defaults of :data:`PRIMARY_TE` or
    ``measure="mi", estimator="binning"``; ``plane`` defaults to ``"xy"``.
    """
    plane = selection.pop("plane", "xy")
    points = {run.label: plane_points(run.measures, plane=plane, **selection) for run in runs}
    drawn = [frame for frame in points.values() if not frame.empty]
    if not drawn:
        raise ValueError(f"none of the runs has rows of the {plane} plane with {selection}; analyse them first")
    norm = epoch_norm(pd.concat(drawn)["epoch"])
    figure, axes_list = plt.subplots(1, len(runs), figsize=(4.2 * len(runs) + 1.0, 4.2), squeeze=False,
                                     sharex=True, sharey=True)
    is_mi = selection.get("measure") == "mi"
    for axes, run in zip(axes_list[0], runs):
        ceiling = float(np.log2(run.n_probe)) if is_mi and run.n_probe else None
        if points[run.label].empty:
            axes.text(0.5, 0.5, "no rows", ha="center", va="center", transform=axes.transAxes)
        else:
            draw_plane(axes, points[run.label], norm, ceiling, legend=axes is axes_list[0][0])
        axes.set_title(run.label, fontsize=9)
        axes.set_xlabel("I(X;T) (bits)" if is_mi else "TE(X→T) (bits)")
    axes_list[0][0].set_ylabel("I(T;Y) (bits)" if is_mi else "TE(T→Y) (bits)")
    add_epoch_colorbar(figure, list(axes_list[0]), norm)
    return figure


def plot_compare_metrics(runs: list[RunTables]):
    """Return test accuracy and training loss of every run over the epochs, overlaid."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for index, run in enumerate(runs):
        color = plt.get_cmap("tab10")(index % 10)
        left.plot(run.metrics["epoch"], run.metrics["test_accuracy"], color=color, label=run.label)
        right.plot(run.metrics["epoch"], run.metrics["train_loss"], color=color, label=run.label)
    epochs = pd.concat([run.metrics["epoch"] for run in runs])
    for axes, label in ((left, "test accuracy (fraction correct)"), (right, f"training {LOSS_LABEL}")):
        set_epoch_axis(axes, epochs)
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    return figure


def _last_value(measures: pd.DataFrame, layers_from: str, **selection) -> float:
    """Return the mean over hidden layers of the ``layers_from`` direction at the last recorded epoch."""
    rows = select(measures, **selection)
    rows = rows[rows["source"] == INPUT_LAYER] if layers_from == "x" else rows[rows["target"] == LABEL_LAYER]
    if rows.empty:
        return float("nan")
    return float(rows[rows["epoch"] == rows["epoch"].max()]["value"].mean())


def comparison_table(runs: list[RunTables]) -> pd.DataFrame:
    """Return one row per run: final metrics and, at its last recorded epoch, plane values averaged over layers (bits)."""
    te = {**PRIMARY_TE, "plane": "xy"}
    binned = {"measure": "mi", "estimator": "binning"}
    rows = []
    for run in runs:
        last = run.metrics.iloc[-1] if len(run.metrics) else pd.Series(dtype=float)
        rows.append({"run": run.label, "group": run.group, "seed": run.config.get("training", {}).get("seed"),
                     "epochs": int(last.get("epoch", 0)), "test_accuracy": last.get("test_accuracy", np.nan),
                     "train_loss": last.get("train_loss", np.nan),
                     "te_x_to_t_bits": _last_value(run.measures, "x", **te),
                     "te_t_to_y_bits": _last_value(run.measures, "y", **te),
                     "mi_x_t_binned_bits": _last_value(run.measures, "x", **binned),
                     "mi_t_y_binned_bits": _last_value(run.measures, "y", **binned)})
    return pd.DataFrame(rows)


def draw_comparison_figures(runs: list[RunTables], folder: Path) -> list[Path]:
    """Draw the comparison figures of ``runs`` into ``folder`` (PNG and SVG); skip, with a log message, those lacking rows."""
    folder = Path(folder)
    figures = {
        "compare_te_plane_xy_delay1_stream": lambda: plot_compare_planes(runs, **PRIMARY_TE),
        "compare_mi_plane_binning": lambda: plot_compare_planes(runs, measure="mi", estimator="binning"),
        "compare_metrics": lambda: plot_compare_metrics(runs),
    }
    groups: dict[str, list[pd.DataFrame]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run.measures)
    figures["compare_te_seed_band"] = lambda: plot_seed_band(groups)
    paths = []
    for name, draw in figures.items():
        try:
            figure = draw()
        except ValueError as error:
            logger.info("skipped figure %s: %s", name, error)
            continue
        paths += save_figure(figure, folder / name)
    return paths
