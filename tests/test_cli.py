import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from infoplane.cli import app
from infoplane.datasets import load_szt
from infoplane.estimators import entropy

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "demo"
    result = run_cli("run", "szt-tanh", "--out", str(out), "--epochs", "5")
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_run_folder(demo_run):
    for name in ("run.json", "metrics.parquet", "measures.parquet", "probe.npz", "checkpoints/last.pt"):
        assert (demo_run / name).is_file(), name
    assert sorted(path.name for path in (demo_run / "epochs").iterdir()) == [f"00000{i}.npz" for i in range(1, 6)]
    for figure in ("te_plane_xy_delay1_stream", "mi_plane_binning", "metrics"):
        assert (demo_run / "figures" / f"{figure}.png").stat().st_size > 10_000
    assert (demo_run / "figures" / "te_plane_xy_delay1_stream.gif").is_file()
    assert (demo_run / "report.html").stat().st_size > 100_000
    info = json.loads((demo_run / "run.json").read_text())
    assert info["status"] == "finished"
    assert info["config"]["training"]["epochs"] == 5


def test_measures_cover_every_layer_and_epoch(demo_run):
    measures = pd.read_parquet(demo_run / "measures.parquet")
    hidden = ["act1", "act2", "act3", "act4", "act5"]
    te = measures[(measures.measure == "te") & (measures.plane == "xy") & (measures.alignment == 1)
                  & (measures["mode"] == "stream") & (measures["aggregate"] == "mean")]
    binned = measures[(measures.measure == "mi") & (measures.estimator == "binning")]
    for epoch in range(1, 6):
        for layer in hidden:
            for table, source, target in ((te, "x", layer), (te, layer, "y"), (binned, "x", layer), (binned, layer, "y")):
                rows = table[(table.epoch == epoch) & (table.source == source) & (table.target == target)]
                assert len(rows) == 1, (epoch, source, target)


def test_measures_respect_bounds(demo_run):
    measures = pd.read_parquet(demo_run / "measures.parquet")
    # Bias-corrected TE may be negative and chi-square floors are thresholds, so only plug-in values are bounded.
    te = measures[(measures.measure == "te") & (measures.estimator == "plugin")
                  & measures["aggregate"].isin(["mean", "sum", "max"])]
    assert (te["value"] >= 0).all()
    assert (te[te["aggregate"] != "sum"]["value"] <= 1.0 + 1e-12).all()
    binned = measures[(measures.measure == "mi") & (measures.estimator == "binning")]
    probe_labels = np.load(demo_run / "probe.npz")["y"]
    label_entropy = entropy(probe_labels)
    dataset = load_szt()
    assert probe_labels.size == len(dataset.y_train) + len(dataset.y_test) == 4096
    assert (binned[binned.source == "x"]["value"] <= 12.0 + 1e-9).all()
    assert (binned[binned.target == "y"]["value"] <= label_entropy + 1e-9).all()


def test_analyze_reruns_on_folder(demo_run):
    result = run_cli("analyze", str(demo_run), "--n-bins", "10")
    assert result.exit_code == 0, result.output
    assert "act1" in result.output


def test_configs_lists_default():
    result = run_cli("configs")
    assert result.exit_code == 0
    assert "szt-tanh" in result.output


@pytest.mark.parametrize(("arguments", "message"), [
    (("run", "no-such-config"), "unknown config 'no-such-config'; shipped configs: .*szt-tanh"),
    (("run", "missing/file.toml"), "config file missing/file.toml not found"),
    (("run", "szt-tanh", "--epochs", "0"), "epochs must be a positive integer, got 0; pass --epochs N"),
    (("analyze", "/nonexistent/run"), "is not a run folder"),
])
def test_user_errors_exit_2_with_one_line(arguments, message, tmp_path):
    result = run_cli(*arguments, "--out", str(tmp_path / "out")) if arguments[0] == "run" else run_cli(*arguments)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("infoplane: error: ")
    import re
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.output


def test_unknown_config_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[training]\nepochz = 3\n")
    result = run_cli("run", str(config), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "unknown key 'epochz' in [training]; valid keys: optimizer" in result.output


def test_non_empty_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = run_cli("run", "szt-tanh", "--out", str(out), "--epochs", "1")
    assert result.exit_code == 2
    assert f"output folder {out} is not empty" in result.output
    assert (out / "notes.txt").read_text() == "keep me"


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli("run", "szt-tanh", "--out", str(blocker / "run"), "--epochs", "1")
    assert result.exit_code == 2
    assert "cannot create output folder" in result.output


def test_analyze_settings_are_stored(demo_run):
    result = run_cli("analyze", str(demo_run), "--n-bins", "12")
    assert result.exit_code == 0, result.output
    info = json.loads((demo_run / "run.json").read_text())
    assert info["config"]["analysis"]["n_bins"] == 12


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--n-bins", "0", r"\[analysis\] n_bins must be an integer >= 1, got 0"),
    ("--noise-variance", "-1", r"\[analysis\] noise_variance must be a finite number > 0, got -1"),
])
def test_analyze_rejects_invalid_settings(demo_run, option, value, message):
    import re

    result = run_cli("analyze", str(demo_run), option, value)
    assert result.exit_code == 2
    assert re.search(message, result.output), result.output
