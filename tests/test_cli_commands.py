import pandas as pd
import pytest
from typer.testing import CliRunner

from infoplane.cli import app
from infoplane.runs import RunStore
from synthetic_runs import make_run

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    return {"tanh-1": make_run(folder / "tanh-1", seed=1, primary_only=True),
            "tanh-2": make_run(folder / "tanh-2", seed=2, primary_only=True),
            "relu-1": make_run(folder / "relu-1", seed=1, activation="relu", name="szt-relu", primary_only=True)}


def test_plot_redraws_figures(runs):
    result = run_cli("plot", runs["tanh-1"], "--no-gif")
    assert result.exit_code == 0, result.output
    figures = runs["tanh-1"] / "figures"
    for name in ("te_plane_xy_delay1_stream", "te_plane_adjacent_delay1_stream", "mi_plane_binning",
                 "te_over_epochs_delay1_stream", "te_heatmap_delay1_stream", "metrics"):
        assert (figures / f"{name}.png").stat().st_size > 10_000, name
    assert not list(figures.glob("*.gif"))
    assert not (figures / "te_plane_xy_delay0_stream.png").exists()


def test_report_one_run(runs):
    run_cli("plot", runs["tanh-2"], "--no-gif")
    result = run_cli("report", runs["tanh-2"])
    assert result.exit_code == 0, result.output
    page = (runs["tanh-2"] / "report.html").read_text(encoding="utf-8")
    assert "infoplane report: tanh-2" in page
    assert "te_plane_xy_delay1_stream.png" in page


def test_compare_writes_table_figures_report(runs, tmp_path):
    out = tmp_path / "compare"
    result = run_cli("compare", runs["tanh-1"], runs["tanh-2"], runs["relu-1"], "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["run"]) == ["tanh-1", "tanh-2", "relu-1"]
    assert list(table["group"]) == ["szt-tanh (tanh)", "szt-tanh (tanh)", "szt-relu (relu)"]
    measures = RunStore.open(runs["relu-1"]).read_measures()
    last = measures[(measures.epoch == measures.epoch.max()) & (measures.measure == "te") & (measures.plane == "xy")
                    & (measures.source == "x") & (measures["aggregate"] == "mean")]
    assert table["te_x_to_t_bits"].iloc[2] == pytest.approx(last["value"].mean(), rel=1e-12)
    for name in ("compare_te_plane_xy_delay1_stream", "compare_mi_plane_binning", "compare_metrics",
                 "compare_te_seed_band"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000, name
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Comparison</h2>" in page
    assert page.count("<h2>Run ") == 3


@pytest.mark.parametrize(("arguments", "message"), [
    (("compare", "RUN"), "compare needs at least two run folders, got 1"),
    (("report", "RUN", "RUN"), "2 run folders given; pass --out DIR"),
    (("plot", "/nonexistent/run"), "/nonexistent/run is not a run folder"),
    (("report", "/nonexistent/run"), "/nonexistent/run is not a run folder"),
    (("plot", "EMPTY"), "measures.parquet not found; run `infoplane analyze"),
])
def test_user_errors_one_line_exit_2(runs, tmp_path, arguments, message):
    empty = tmp_path / "empty"
    RunStore.create(empty, {"training": {}}, seed=0)
    placeholders = {"RUN": runs["tanh-1"], "EMPTY": empty}
    result = run_cli(*(placeholders.get(argument, argument) for argument in arguments))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("infoplane: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_debug_shows_traceback():
    result = run_cli("--debug", "plot", "/nonexistent/run")
    assert result.exit_code != 2
    assert "is not a run folder" in str(result.exception)


@pytest.mark.parametrize(("command", "words"), [
    ("run", ["bits", "Default: runs/<config>", "8000", "default 0"]),
    ("analyze", ["bits", "(30)", "(0.1)", "squared activation units"]),
    ("plot", ["200 dpi", "bits", "Default: on"]),
    ("report", ["report.html", "Default for one run"]),
    ("compare", ["95%", "bits", "Default: runs/compare-"]),
    ("configs", ["epochs"]),
])
def test_help_names_units_and_defaults(command, words):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())
    for word in words:
        assert word in text, (command, word)


def test_usage_error_is_one_line(capsys):
    from infoplane.cli import main

    assert main_with_args(main, ["run", "szt-tanh", "--epochs", "abc"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("infoplane: error: Invalid value for '--epochs'")


def main_with_args(main, arguments):
    import sys

    saved = sys.argv
    sys.argv = ["infoplane", *arguments]
    try:
        return main()
    finally:
        sys.argv = saved
