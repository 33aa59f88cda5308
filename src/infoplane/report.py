"""report.html: one self-contained page per run or comparison, with every figure embedded.

The page makes no external request: images are base64 data URIs, the style sheet is inline and
there are no web fonts or scripts from elsewhere. Every string that comes from a run folder
(names, config values, summary keys) is HTML-escaped. When plotly is installed, each run also
gets an interactive TE plane with an epoch slider, its JavaScript inlined in the page.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .plotting import (RunTables, comparison_table, draw_comparison_figures, draw_run_figures, load_run_tables,
                       unique_labels)
from .plotting.planes import plane_points
from .plotting.style import PRIMARY_TE
from .runs import _atomic_write

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"
METRIC_ROWS = 20
IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif"}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.key { text-align: left; font-family: monospace; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 46em; }
figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.8em; color: #555; }
dt { font-weight: bold; margin-top: 0.6em; }
"""

DEFINITIONS = [
    ("Unit", "All information quantities are in bits (logarithms base 2); losses are cross-entropy in nats."),
    ("Transfer entropy (TE)", "TE(X→Y) = I(Y<sub>t+1</sub> ; X<sub>t+1−u</sub><sup>(l)</sup> | Y<sub>t</sub><sup>(k)</sup>), "
     "Schreiber (2000), with target history k = 1, source history l = 1 and delay u, estimated by plug-in counts "
     "of binarized activations."),
    ("Training stream", "One time step per training sample, in the order the optimizer saw them within an epoch; "
     "each neuron's output at the forward pass of that sample's training step."),
    ("Probe set", "A fixed, seeded set of samples passed through the network in eval mode at the end of a "
     "recorded epoch. Its TE is the control: weights are frozen and samples independent, so TE should sit at the "
     "estimator's bias floor."),
    ("Delay 1 and delay 0", "Delay 1: source at step t, target at step t+1 (Schreiber's lagged transfer). "
     "Delay 0: source and target from the same forward pass, conditioned on the target's previous output."),
    ("Layer TE", "The mean (also sum and max) of TE over all unit pairs (i in A, j in B) of two layers."),
    ("TE planes", "Plane xy: TE(X→T) against TE(T→Y) for each hidden layer T. Plane adjacent: TE(T<sub>prev</sub>→T) "
     "against TE(T→T<sub>next</sub>), where the first layer's predecessor is X and the last layer's successor is "
     "the output."),
    ("MI planes", "I(X;T) against I(T;Y) on the probe set: by binning each unit into equal-width bins over one "
     "range per layer spanning all epochs, and by the Kolchinsky-Tracey kernel bounds (noise variance 0.1 by "
     "default); the KDE I(T;Y) is a difference of two bounds, an estimate. Both I(X;T) estimates are at most "
     "log2 N bits for N probe samples (dashed line)."),
    ("Surrogate floor", "The mean TE over surrogates whose source time order is permuted; p = (1 + number of "
     "surrogates with TE ≥ observed) / (1 + number of surrogates), corrected by Benjamini-Hochberg. "
     "Bias-corrected TE = observed − mean surrogate TE."),
    ("Seed bands", "Mean over seeds with the 95% Student t confidence interval of the mean."),
]


def _escape(value) -> str:
    return html.escape(str(value), quote=True)


def _image_tag(path: Path) -> str:
    payload = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_escape(path.stem)}" src="data:{IMAGE_TYPES[path.suffix]};base64,{payload}">'
            f"<figcaption>{_escape(path.name)}</figcaption></figure>")


FIGURE_ORDER = ("te_plane_", "mi_plane_", "te_over_epochs_", "te_against_metrics_", "te_heatmap_", "compare_")


def _figure_rank(path: Path) -> tuple:
    """Sort planes first, then curves and heat maps, then everything else; a GIF right after its PNG."""
    rank = next((index for index, prefix in enumerate(FIGURE_ORDER) if path.stem.startswith(prefix)), len(FIGURE_ORDER))
    return rank, path.stem, path.suffix != ".png"


def _figures_html(folder: Path) -> str:
    paths = sorted((path for path in folder.glob("*") if path.suffix in IMAGE_TYPES), key=_figure_rank)
    if not paths:
        return "<p>No figures in this folder.</p>"
    return "\n".join(_image_tag(path) for path in paths)


def _format_cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return _escape(value)


def table_html(frame: pd.DataFrame, key_columns: int = 0) -> str:
    """Return ``frame`` as an HTML table, every header and cell escaped; the first ``key_columns`` left-aligned."""
    header = "".join(f"<th>{_escape(column)}</th>" for column in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = "".join(f'<td class="key">{_format_cell(value)}</td>' if index < key_columns
                        else f"<td>{_format_cell(value)}</td>" for index, value in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def metrics_excerpt(metrics: pd.DataFrame, n_rows: int = METRIC_ROWS) -> pd.DataFrame:
    """Return at most about ``n_rows`` rows of ``metrics`` at log-spaced epochs, always with the last one."""
    if len(metrics) <= n_rows:
        return metrics
    positions = np.unique(np.geomspace(1, len(metrics), n_rows).round().astype(int) - 1)
    return metrics.iloc[positions]


def flatten_summary(summary, prefix: str = "") -> list[tuple[str, object]]:
    """Return (dotted key, value) pairs of a nested JSON object; a list of scalars stays one value."""
    if isinstance(summary, dict):
        items = summary.items()
    elif isinstance(summary, list) and any(isinstance(item, (dict, list)) for item in summary):
        items = ((str(index), value) for index, value in enumerate(summary))
    else:
        return [(prefix, summary)]
    pairs = []
    for key, value in items:
        pairs += flatten_summary(value, f"{prefix}.{key}" if prefix else str(key))
    return pairs


def _summary_html(run_path: Path) -> str:
    path = run_path / "summary.json"
    if not path.is_file():
        return "<p>No summary.json in this run folder (the statistics of the analysis were not computed).</p>"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        return f"<p>summary.json is not valid JSON: {_escape(error)}</p>"
    frame = pd.DataFrame(flatten_summary(summary), columns=["statistic", "value"])
    return table_html(frame, key_columns=1)


def _interactive_plane_html(run: RunTables) -> str:
    """Return an interactive TE xy plane with an epoch slider, or "" when plotly is not installed."""
    if importlib.util.find_spec("plotly") is None:
        return ""
    import plotly.express as px

    # NOTE: plotly is not a dependency, so the tests run this branch only where it is installed.
    points = plane_points(run.measures, plane="xy", **PRIMARY_TE)
    if points.empty:
        return ""
    figure = px.scatter(points, x="horizontal", y="vertical", color="layer", animation_frame="epoch",
                        labels={"horizontal": "TE(X→T) (bits)", "vertical": "TE(T→Y) (bits)"},
                        title="TE plane xy, training stream, delay 1 (interactive)")
    return figure.to_html(full_html=False, include_plotlyjs=True)


def _run_section(run: RunTables) -> str:
    config = pd.DataFrame(flatten_summary(run.config), columns=["setting", "value"])
    return "\n".join([
        f"<h2>Run {_escape(run.label)}</h2>",
        f"<p>Folder: <code>{_escape(run.path)}</code></p>",
        "<h3>Config</h3>", table_html(config, key_columns=1),
        f"<h3>Metrics</h3><p>{len(run.metrics)} epochs; rows at log-spaced epochs.</p>",
        table_html(metrics_excerpt(run.metrics)),
        "<h3>Figures</h3>", _figures_html(run.path / "figures"),
        _interactive_plane_html(run),
        # The statistics table runs to thousands of rows, so it follows the figures.
        "<h3>Statistics (summary.json)</h3>", _summary_html(run.path),
    ])


def _definitions_html() -> str:
    # The definitions are fixed text of this module (with markup), never user input.
    items = "".join(f"<dt>{term}</dt><dd>{text}</dd>" for term, text in DEFINITIONS)
    return f"<h2>Definitions</h2><dl>{items}</dl>"


def _ensure_figures(run: RunTables) -> None:
    folder = run.path / "figures"
    if not any(folder.glob("*.png")):
        logger.info("drawing the figures of %s before the report", run.path)
        n_bins = run.config.get("analysis", {}).get("n_bins", 30)
        draw_run_figures(run.measures, run.metrics, folder, n_probe=run.n_probe, n_bins=n_bins)


def render_report(runs: list[RunTables], comparison_folder: Path | None = None) -> str:
    """Return the report page of ``runs`` (one, or several with a comparison section first)."""
    title = runs[0].label if len(runs) == 1 else f"Comparison of {len(runs)} runs"
    parts = [f"<h1>infoplane report: {_escape(title)}</h1>",
             f"<p>Written {_escape(time.strftime('%Y-%m-%d %H:%M:%S %Z'))}.</p>"]
    if comparison_folder is not None:
        parts += ["<h2>Comparison</h2>", "<p>Final metrics and, at each run's last recorded epoch, plane values "
                  "averaged over hidden layers (bits; TE: training stream, delay 1).</p>",
                  table_html(comparison_table(runs), key_columns=2), _figures_html(comparison_folder)]
    parts += [_run_section(run) for run in runs]
    parts.append(_definitions_html())
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_report(run_dirs, out: Path | None = None) -> Path:
    """Write report.html for one run folder (into it) or several (into ``out``); return its path.

    Run folders without figures get them drawn first; several runs also get the comparison
    figures, drawn into ``out/figures``.
    """
    run_dirs = [Path(run_dir) for run_dir in run_dirs]
    if not run_dirs:
        raise ValueError("run_dirs is empty; give at least one run folder")
    if len(run_dirs) > 1 and out is None:
        raise ValueError(f"{len(run_dirs)} run folders given but no output folder; pass --out DIR for the report")
    runs = [load_run_tables(run_dir) for run_dir in run_dirs]
    unique_labels(runs)
    for run in runs:
        _ensure_figures(run)
    comparison_folder = None
    folder = Path(out) if out is not None else runs[0].path
    if len(runs) > 1:
        comparison_folder = folder / "figures"
        draw_comparison_figures(runs, comparison_folder)
    page = render_report(runs, comparison_folder)
    path = folder / REPORT_NAME
    _atomic_write(path, lambda temporary: Path(temporary).write_text(page, encoding="utf-8"))
    logger.info("wrote %s", path)
    return path
