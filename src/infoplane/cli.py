"""The ``infoplane`` command line: run, analyze, plot, report, compare and configs."""

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
USER_ERRORS = (ConfigError, RunFormatError, ValueError, TypeError, FileNotFoundError, FileExistsError,
               NotADirectoryError, IsADirectoryError, PermissionError)
STATE = {"debug": False}
# Typer 0.29 bundles its own click; its UsageError (unknown option, invalid value) is a base of BadParameter.
USAGE_ERROR = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError")


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
    level = logging.WARNING
    if verbose:
        level = logging.INFO
    if debug:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _default_out(config_name: str) -> Path:
    return Path("runs") / f"{config_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _progress_bar():
    """Return a rich progress display on stderr; it draws nothing when stderr is not a terminal."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=False, disable=not console.is_terminal)


def _train_with_progress(config: dict | None, out: Path, resume: bool) -> RunStore:
    from .pipeline import train_run

    total = (RunStore.open(out).config if resume else config)["training"]["epochs"]
    with _progress_bar() as bar:
        task = bar.add_task("training", total=total, status="")

        def progress(epoch, row):
            status = (f"epoch {epoch}  loss {row['train_loss']:.4f} nats  train acc {row['train_accuracy']:.3f}  "
                      f"test acc {row['test_accuracy']:.3f}")
            bar.update(task, completed=epoch, status=status)

        return train_run(config, out, resume=resume, progress=progress)


def _analyze_with_progress(store: RunStore, settings: dict | None):
    from .analysis import analyze_run

    # NOTE: analyze_run reports no per-epoch progress, so the bar only pulses until it returns.
    n_epochs = len(store.recorded_epochs())
    with _progress_bar() as bar:
        task = bar.add_task("analysis", total=None, status=f"{n_epochs} recorded epochs")
        measures = analyze_run(store, settings)
        bar.update(task, total=1, completed=1)
    return measures


def _draw_with_progress(store: RunStore, measures, n_bins: int | None = None, animate: bool = True) -> list[Path]:
    from .plotting import draw_run_figures

    probe_path = store.path / "probe.npz"
    n_probe = len(store.read_probe()["y"]) if probe_path.is_file() else None
    n_bins = n_bins or store.config["analysis"]["n_bins"]
    with _progress_bar() as bar:
        task = bar.add_task("figures", total=None, status="")

        def progress(done, total, name):
            bar.update(task, completed=done, total=total, status=name)

        return draw_run_figures(measures, store.read_metrics(), store.figures, n_probe=n_probe, n_bins=n_bins,
                                animate=animate, progress=progress)


def _analyze_and_draw(store: RunStore, settings: dict | None = None):
    from .report import write_report

    measures = _analyze_with_progress(store, settings)
    _draw_with_progress(store, measures, (settings or {}).get("n_bins"))
    write_report([store.path])
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
        out: Path = typer.Option(None, "--out", help="Run folder to create. Default: runs/<config>-<YYYYmmdd-HHMMSS>."),
        epochs: int = typer.Option(None, "--epochs", help="Number of training epochs, overriding [training] epochs of the config (8000 in szt-tanh)."),
        seed: int = typer.Option(None, "--seed", help="Seed of the weights and the sample order, overriding [training] seed (default 0)."),
        resume: Path = typer.Option(None, "--resume", help="Continue the run folder DIR after its last saved epoch.")):
    """Train with activation recording, compute the TE and MI planes (bits), draw every figure and write report.html."""
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
    try:
        measures = _analyze_and_draw(store)
    except KeyboardInterrupt:
        typer.echo(f"infoplane: training finished, analysis interrupted; complete it with: infoplane analyze {out}",
                   err=True)
        raise typer.Exit(code=130) from None
    console.print(_summary_table(store, measures))
    typer.echo(str(store.path))


@app.command()
@user_errors
def analyze(run_dir: Path = typer.Argument(..., help="Run folder written by `infoplane run`."),
            n_bins: int = typer.Option(None, "--n-bins", help="Equal-width bins per unit for binned MI. "
                                                              "Default: [analysis] n_bins of the run (30)."),
            noise_variance: float = typer.Option(None, "--noise-variance",
                                                 help="Noise variance of the KDE MI bounds, in squared activation "
                                                      "units. Default: [analysis] noise_variance (0.1)."),
            n_surrogates: int = typer.Option(None, "--n-surrogates",
                                             help="Shuffled-source surrogates per layer TE value; 0 skips the "
                                                  "surrogate test. Default: [analysis] n_surrogates (19).")):
    """Recompute measures.parquet (bits), the figures and report.html of a run folder without training again."""
    store = RunStore.open(run_dir)
    options = (("n_bins", n_bins), ("noise_variance", noise_variance), ("n_surrogates", n_surrogates))
    settings = {key: value for key, value in options if value is not None}
    measures = _analyze_and_draw(store, settings)
    console.print(_summary_table(store, measures))
    typer.echo(str(store.path))


@app.command()
@user_errors
def plot(run_dir: Path = typer.Argument(..., help="Run folder with measures.parquet (written by `run` or `analyze`)."),
         gif: bool = typer.Option(True, "--gif/--no-gif", help="Also write the animated planes as GIF. Default: on.")):
    """Redraw every figure of an analysed run into RUN_DIR/figures (PNG at 200 dpi, SVG, GIF; values in bits)."""
    store = RunStore.open(run_dir)
    paths = _draw_with_progress(store, store.read_measures(), animate=gif)
    typer.echo(f"{len(paths)} files in {store.figures}")


@app.command()
@user_errors
def report(run_dirs: list[Path] = typer.Argument(..., help="One or more analysed run folders."),
           out: Path = typer.Option(None, "--out", help="Folder for report.html when several runs are given. "
                                                         "Default for one run: the run folder itself.")):
    """Write report.html: config, metrics, statistics, every figure (embedded) and the definitions; no external requests."""
    from .report import write_report

    if len(run_dirs) > 1 and out is None:
        raise ValueError(f"{len(run_dirs)} run folders given; pass --out DIR for the combined report.html")
    typer.echo(str(write_report(run_dirs, out)))


@app.command()
@user_errors
def compare(run_dirs: list[Path] = typer.Argument(..., help="Two or more analysed run folders, e.g. tanh and ReLU, "
                                                            "or several seeds of one config."),
            out: Path = typer.Option(None, "--out", help="Folder for the comparison figures, comparison.csv and "
                                                         "report.html. Default: runs/compare-<YYYYmmdd-HHMMSS>.")):
    """Compare runs side by side: planes on shared scales, training curves, seed means with 95% bands (bits)."""
    from .plotting import comparison_table, load_run_tables, unique_labels
    from .report import write_report

    if len(run_dirs) < 2:
        raise ValueError(f"compare needs at least two run folders, got {len(run_dirs)}; use `infoplane report` for one")
    out = out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    runs = [load_run_tables(run_dir) for run_dir in run_dirs]
    unique_labels(runs)
    table = comparison_table(runs)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "comparison.csv", index=False)
    path = write_report(run_dirs, out)
    console.print(_comparison_rich_table(table))
    typer.echo(str(path))


def _comparison_rich_table(table) -> Table:
    rich_table = Table(title="runs compared (plane values: mean over hidden layers at the last recorded epoch, bits)")
    for column in table.columns:
        rich_table.add_column(str(column), justify="left" if column in ("run", "group") else "right")
    for row in table.itertuples(index=False):
        rich_table.add_row(*(f"{value:.4g}" if isinstance(value, float) else str(value) for value in row))
    return rich_table


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
    """List the shipped configs: name, data set, model widths and activation, epochs."""
    for name in shipped_config_names():
        config = load_config(name)
        model, data = config["model"], config["data"]
        typer.echo(f"{name:24s} data={data['name']} model={model['kind']} {model['widths']} {model['activation']} "
                   f"epochs={config['training']['epochs']}")


def main():
    """Run the command line; a usage error (unknown option, invalid value) prints one line and exits with 2."""
    try:
        result = app(standalone_mode=False)
    except USAGE_ERROR as error:
        typer.echo(f"infoplane: error: {error.format_message()} (see infoplane --help)", err=True)
        return 2
    except typer.Abort:
        typer.echo("infoplane: aborted", err=True)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
