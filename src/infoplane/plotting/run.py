"""Every figure of one run folder, drawn from its measures and metrics tables."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .curves import plot_metrics, plot_te_against_metrics, plot_te_heatmap, plot_te_over_epochs
from .planes import animate_plane, plane_points, plot_plane
from .style import describe_te, save_figure, select

logger = logging.getLogger(__name__)

MI_ESTIMATOR_WORDS = {"binning": "binning", "kde-upper": "KDE upper bound", "kde-lower": "KDE lower bound"}
TE_PLANE_AXES = {"xy": ("TE(X→T) (bits)", "TE(T→Y) (bits)"),
                 "adjacent": ("TE(T_prev→T) (bits)", "TE(T→T_next) (bits)")}
ANIMATED_PLANES = ("te_plane_xy_delay1_stream", "mi_plane_binning")


def _te_variants(measures: pd.DataFrame) -> list[tuple[str, int, str]]:
    """Return the (estimator, alignment, mode) combinations of the mean TE rows, in a fixed order."""
    rows = select(measures, measure="te", aggregate="mean")
    variants = rows[["estimator", "alignment", "mode"]].drop_duplicates()
    variants = variants.sort_values(["estimator", "alignment", "mode"], ascending=[True, False, False])
    return [(estimator, int(alignment), mode) for estimator, alignment, mode in variants.itertuples(index=False)]


def _suffix(alignment: int, mode: str, estimator: str) -> str:
    extra = "" if estimator == "plugin" else f"_{estimator}"
    return f"delay{alignment}_{mode}{extra}"


def _plane_specs(measures: pd.DataFrame, n_probe: int | None, n_bins: int) -> dict[str, dict]:
    """Return, per figure name, the points and labels of every information plane the table holds."""
    specs = {}
    for estimator, alignment, mode in _te_variants(measures):
        for plane, (xlabel, ylabel) in TE_PLANE_AXES.items():
            points = plane_points(measures, plane=plane, measure="te", estimator=estimator, alignment=alignment,
                                  mode=mode, aggregate="mean")
            estimator_words = "" if estimator == "plugin" else f", {estimator}"
            title = f"TE plane {plane}: {describe_te(alignment, mode)} (mean over pairs{estimator_words})"
            specs[f"te_plane_{plane}_{_suffix(alignment, mode, estimator)}"] = {
                "points": points, "xlabel": xlabel, "ylabel": ylabel, "title": title, "ceiling": None}
    ceiling = float(np.log2(n_probe)) if n_probe else None
    mi_estimators = select(measures, measure="mi")["estimator"].unique()
    for estimator in sorted(mi_estimators):
        words = f"{n_bins}-bin binning" if estimator == "binning" else MI_ESTIMATOR_WORDS.get(estimator, estimator)
        ylabel = "I(T;Y) (bits)" if estimator == "binning" else "I(T;Y) estimate (bits)"
        specs[f"mi_plane_{estimator}"] = {"points": plane_points(measures, plane="xy", measure="mi", estimator=estimator),
                                          "xlabel": "I(X;T) (bits)", "ylabel": ylabel,
                                          "title": f"MI plane, probe set, {words}", "ceiling": ceiling}
    return specs


def figure_tasks(measures: pd.DataFrame, metrics: pd.DataFrame, n_probe: int | None = None,
                 n_bins: int = 30) -> dict[str, Callable]:
    """Return, per figure name, a function that draws that figure or returns a reason to skip it (a str)."""
    tasks: dict[str, Callable] = {}
    for name, spec in _plane_specs(measures, n_probe, n_bins).items():
        if spec["points"].empty:
            tasks[name] = functools.partial(str, "no rows with both coordinates of this plane")
            continue
        tasks[name] = functools.partial(plot_plane, spec["points"], spec["xlabel"], spec["ylabel"], spec["title"],
                                        spec["ceiling"])
    has_metrics = not metrics.empty
    for estimator, alignment, mode in _te_variants(measures):
        suffix = _suffix(alignment, mode, estimator)
        tasks[f"te_over_epochs_{suffix}"] = functools.partial(plot_te_over_epochs, measures, alignment, mode, estimator)
        tasks[f"te_heatmap_{suffix}"] = functools.partial(plot_te_heatmap, measures, alignment, mode, estimator)
        if has_metrics:
            tasks[f"te_against_metrics_{suffix}"] = functools.partial(plot_te_against_metrics, measures, metrics,
                                                                      alignment, mode, estimator)
    if has_metrics:
        tasks["metrics"] = functools.partial(plot_metrics, metrics)
    else:
        tasks["metrics"] = functools.partial(str, "metrics.parquet is empty")
    return tasks


def draw_run_figures(measures: pd.DataFrame, metrics: pd.DataFrame, folder: Path, n_probe: int | None = None,
                     n_bins: int = 30, animate: bool = True,
                     progress: Callable[[int, int, str], None] | None = None) -> list[Path]:
    """Draw every figure of one run into ``folder`` (PNG at 200 dpi and SVG; GIF for the animated planes).

    A figure whose rows are absent from ``measures`` (a plane not computed, no TE significance
    columns) is skipped with an INFO log message; the others are still drawn.

    Parameters
    ----------
    measures, metrics : pandas.DataFrame
        The run's measures.parquet and metrics.parquet tables (values in bits; loss in nats).
    folder : Path
        Output folder, created if missing.
    n_probe : int, optional
        Number of probe samples N: the MI planes mark I(X;T) = log2 N bits.
    n_bins : int
        Bins per unit of the binning estimator, named in the title.
    animate : bool
        Also write the animated GIFs of the planes in :data:`ANIMATED_PLANES`.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each figure.
    """
    folder = Path(folder)
    tasks = figure_tasks(measures, metrics, n_probe, n_bins)
    specs = _plane_specs(measures, n_probe, n_bins) if animate else {}
    animations = [name for name in ANIMATED_PLANES if name in specs and not specs[name]["points"].empty]
    total, paths = len(tasks) + len(animations), []
    for done, (name, draw) in enumerate(tasks.items(), start=1):
        figure = draw()
        if isinstance(figure, str):
            logger.info("skipped figure %s: %s", name, figure)
        else:
            paths += save_figure(figure, folder / name)
        if progress is not None:
            progress(done, total, name)
    for done, name in enumerate(animations, start=len(tasks) + 1):
        spec = specs[name]
        paths.append(animate_plane(spec["points"], folder / f"{name}.gif", spec["xlabel"], spec["ylabel"],
                                   spec["title"], spec["ceiling"]))
        if progress is not None:
            progress(done, total, f"{name}.gif")
    return paths
