"""The ``infoplane`` command line: run, analyze, plot and configs."""

from __future__ import annotations

import functools
import logging
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .config import ConfigError, load_config, shipped_config_names
from .runs import RunFormatError, RunStore

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Information planes (transfer entropy and mutual information, in bits) of neural networks in training.")
console = Console(stderr=True)
logger = logging.getLogger("infoplane")
USER_ERRORS = (ConfigError, RunFormatError, ValueError, TypeError, FileNotFoundError, PermissionError)
STATE = {"debug": False}


def user_errors(command):
    """Print a user error as one line on stderr and exit with code 2 (a traceback only with --debug)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            if STATE["debug"]:
                raise
            typer.echo(f"infoplane: error: {error}", err=True)
            raise typer.Exit(code=2) from None
    return wrapper


@app.callback()
def main_options(debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
                 verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress at INFO level.")):
    STATE["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _default_out(config_name: str) -> Path:
    return Path("runs") / f"{config_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _progress_bar(total: int):
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=False, disable=not console.is_terminal)


def _train_with_progress(config: dict | None, out: Path, resume: bool) -> RunStore:
    from .pipeline import train_run

    total = (RunStore.open(out).config if resume else config)["training"]["epochs"]
    with _progress_bar(total) as bar:
        task = bar.add_task("training", total=total, status="")

        def progress(epoch, row):
            status = f"loss {row['train_loss']:.4f}  test acc {row['test_accuracy']:.3f}"
            bar.update(task, completed=epoch, status=status)

        return train_run(config, out, resume=resume, progress=progress)


def _analyze_and_draw(store: RunStore, settings: dict | None = None):
    from .analysis import analyze_run
    from .plotting import draw_run_figures

    measures = analyze_run(store, settings)
    n_probe = len(store.read_probe()["y"])
    draw_run_figures(measures, store.read_metrics(), store.figures, n_probe=n_probe,
                     n_bins=(settings or {}).get("n_bins", store.config["analysis"]["n_bins"]))
    return measures


def _summary_table(store: RunStore, measures) -> Table:
    last = measures["epoch"].max()
    rows = measures[measures["epoch"] == last]
    table = Table(title=f"{store.path}: epoch {last} (bits)")
    for column in ("layer", "TE(X→T)", "TE(T→Y)", "I(X;T) binned", "I(T;Y) binned"):
        table.add_column(column, justify="right")

    def value(**selection):
        selected = rows
        for column, wanted in selection.items():
            selected = selected[selected[column] == wanted]
        return f"{selected['value'].iloc[0]:.4f}" if len(selected) else "–"

    te = {"measure": "te", "plane": "xy", "alignment": 1, "mode": "stream", "aggregate": "mean"}
    layers = [layer for layer in dict.fromkeys(rows[rows["source"] == "x"]["target"]) if layer != "output"]
    for layer in layers:
        table.add_row(layer, value(source="x", target=layer, **te), value(source=layer, target="y", **te),
                      value(measure="mi", estimator="binning", source="x", target=layer),
                      value(measure="mi", estimator="binning", source=layer, target="y"))
    return table


@app.command()
@user_errors
def run(config: str = typer.Argument("szt-tanh", help="Shipped config name (see `infoplane configs`) or path of a TOML file."),
        out: Path = typer.Option(None, "--out", help="Run folder to create; default runs/<config>-<time>."),
        epochs: int = typer.Option(None, "--epochs", help="Override [training] epochs (a positive integer)."),
        seed: int = typer.Option(None, "--seed", help="Override [training] seed (weights and sample order)."),
        resume: Path = typer.Option(None, "--resume", help="Continue the run folder DIR after its last saved epoch.")):
    """Train with activation recording, then compute the TE and MI planes (bits) and draw them."""
    from .training import TrainingFailed, TrainingInterrupted

    resolved = None
    if resume is None:
        resolved = load_config(config)
        if epochs is not None:
            resolved["training"]["epochs"] = epochs
        if seed is not None:
            resolved["training"]["seed"] = seed
        out = out or _default_out(resolved["name"])
    else:
        out = resume
    try:
        store = _train_with_progress(resolved, out, resume is not None)
    except TrainingInterrupted as error:
        typer.echo(f"infoplane: {error}; continue with: infoplane run --resume {out}", err=True)
        raise typer.Exit(code=130) from None
    except TrainingFailed as error:
        typer.echo(f"infoplane: training failed: {error} (status 'failed' in {out}/run.json)", err=True)
        raise typer.Exit(code=1) from None
    measures = _analyze_and_draw(store)
    console.print(_summary_table(store, measures))
    typer.echo(str(store.path))


@app.command()
@user_errors
def analyze(run_dir: Path = typer.Argument(..., help="Run folder written by `infoplane run`."),
            n_bins: int = typer.Option(None, "--n-bins", help="Bins per unit for binned MI (default from the config: 30)."),
            noise_variance: float = typer.Option(None, "--noise-variance", help="KDE noise variance (default 0.1).")):
    """Recompute measures.parquet (bits) and the figures of a run folder without training again."""
    store = RunStore.open(run_dir)
    settings = {key: value for key, value in (("n_bins", n_bins), ("noise_variance", noise_variance)) if value is not None}
    measures = _analyze_and_draw(store, settings)
    console.print(_summary_table(store, measures))
    typer.echo(str(store.path))


@app.command()
@user_errors
def sweep(config: str = typer.Argument(..., help="Shipped config name or path of a TOML file: the base of every run."),
          seeds: str = typer.Option(None, "--seeds", help="Values of training.seed (initial weights and sample "
                                    "order): ranges and lists such as 0-9 or 0,2,5 (default: the config's seed)."),
          assignments: list[str] = typer.Option(None, "--set", help="Grid axis table.key=v1,v2 (TOML values; a "
                                                "bracketed list is one value). Repeat for more axes: the grid is "
                                                "their product."),
          executor: str = typer.Option("local", "--executor", help="local (worker processes) or ray (Ray tasks)."),
          workers: int = typer.Option(None, "--workers", help="Maximum number of runs in progress at once (default: 1 "
                                      "for local; all for ray, which starts one per free CPU)."),
          out: Path = typer.Option(None, "--out", help="Sweep folder; default sweeps/<config>. Rerunning on it skips "
                                   "finished runs and continues the others."),
          address: str = typer.Option(None, "--address", help="Address of a running Ray cluster (with --executor ray).")):
    """Train a grid of seeds and config values, one run folder each, with a manifest sweep.json."""
    from .sweep import build_grid, parse_seeds, run_sweep

    resolved = load_config(config)
    seed_list = parse_seeds(seeds) if seeds is not None else [resolved["training"]["seed"]]
    grid = build_grid(list(assignments or []), seed_list)
    out = out or Path("sweeps") / resolved["name"]

    def report(entry, manifest):
        ended = sum(run["status"] not in ("pending", "running") for run in manifest["runs"])
        seconds = f" in {entry['seconds']:.1f} s" if entry["seconds"] is not None else ""
        error = f": {entry['error']}" if entry["error"] else ""
        typer.echo(f"[{ended}/{len(manifest['runs'])}] {entry['name']}: {entry['status']}{seconds}{error}", err=True)

    try:
        manifest = run_sweep(resolved, out, grid, executor=executor, workers=workers, address=address,
                             on_result=report)
    except KeyboardInterrupt:
        typer.echo(f"infoplane: sweep interrupted; continue it with the same command (--out {out})", err=True)
        raise typer.Exit(code=130) from None
    counts = {}
    for entry in manifest["runs"]:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    typer.echo(f"{out}: " + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())), err=True)
    typer.echo(str(out))
    if counts.get("finished", 0) != len(manifest["runs"]):
        raise typer.Exit(code=1)


@app.command()
@user_errors
def configs():
    """List the shipped configs."""
    for name in shipped_config_names():
        config = load_config(name)
        model, data = config["model"], config["data"]
        typer.echo(f"{name:24s} data={data['name']} model={model['kind']} {model['widths']} {model['activation']} "
                   f"epochs={config['training']['epochs']}")


def main():
    app()


if __name__ == "__main__":
    sys.exit(main())
