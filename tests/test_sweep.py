import json
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from infoplane.cli import app
from infoplane.config import load_config
from infoplane.pipeline import train_run
from infoplane.runs import RunStore
from infoplane.sweep import (SweepError, build_grid, expand_grid, open_manifest, parse_assignment, parse_seeds,
                             plan_action, run_sweep)

runner = CliRunner()

# Three epochs, each recorded, a small probe and binned MI only: a run trains and analyses in seconds.
TINY_CONFIG = """
[data]
probe_size = 256
[training]
epochs = 3
[recording]
schedule = "every"
every = 1
[analysis]
alignments = [1]
estimators = ["binning"]
n_surrogates = 0
"""


def run_cli(*args):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def tiny_toml(tmp_path_factory):
    path = tmp_path_factory.mktemp("configs") / "tiny.toml"
    path.write_text(TINY_CONFIG)
    return path


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, tiny_toml):
    out = tmp_path_factory.mktemp("sweeps") / "tiny"
    result = run_cli("sweep", str(tiny_toml), "--seeds", "0-1", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def read_manifest(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


# Parsing


@pytest.mark.parametrize(("text", "seeds"), [
    ("0-9", list(range(10))), ("0,2,5", [0, 2, 5]), ("3", [3]), ("0-2,7", [0, 1, 2, 7]), (" 4 , 1 ", [4, 1]),
])
def test_parse_seeds_accepts_ranges_and_lists(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(("text", "message"), [
    ("", "'' in '' is neither a seed nor a range"),
    ("a", "'a' in 'a' is neither a seed nor a range"),
    ("-1", "neither a seed nor a range"),
    ("5-2", "the range '5-2' ends before it starts; write it as 2-5"),
    ("0-2,2", "seed 2 appears twice"),
    ("1,,2", "'' in '1,,2' is neither"),
])
def test_parse_seeds_rejects_bad_input(text, message):
    with pytest.raises(SweepError, match=message):
        parse_seeds(text)


@pytest.mark.parametrize(("text", "key", "values"), [
    ("model.activation=relu", "model.activation", ["relu"]),
    ("model.activation=relu,tanh", "model.activation", ["relu", "tanh"]),
    ('training.optimizer="sgd"', "training.optimizer", ["sgd"]),
    ("training.epochs=200", "training.epochs", [200]),
    ("training.learning_rate=1e-3,4e-4", "training.learning_rate", [1e-3, 4e-4]),
    ("training.learning_rate=1", "training.learning_rate", [1]),
    ("model.widths=[10,7,5]", "model.widths", [[10, 7, 5]]),
    ("model.widths=[10, 7],[5]", "model.widths", [[10, 7], [5]]),
    ("recording.keep_float=true,false", "recording.keep_float", [True, False]),
    ('recording.thresholds={act1 = 0.5}', "recording.thresholds", [{"act1": 0.5}]),
])
def test_parse_assignment_reads_toml_values(text, key, values):
    assert parse_assignment(text) == (key, values)


@pytest.mark.parametrize(("text", "message"), [
    ("model.activation", "expected table.key=value"),
    ("model.activation=", "expected table.key=value"),
    ("activation=relu", "the key must be table.key with a table among data, model"),
    ("network.widths=[3]", "the key must be table.key"),
    ("model.depth=3", "unknown key 'depth' in \\[model\\]; valid keys: kind, widths"),
    ("training.seed=1", "give training seeds with --seeds"),
    ("training.epochs=abc", "expected type int like the default 8000, got 'abc' \\(str\\)"),
    ("training.epochs=1.5", "expected type int like the default 8000, got 1.5"),
    ("training.save_weights=1", "expected type bool like the default False, got 1"),
    ("model.widths=[10,7", "'\\[10,7' is not a TOML value"),
    ("training.epochs=1,,2", "empty value between commas"),
])
def test_parse_assignment_rejects_bad_input(text, message):
    with pytest.raises(SweepError, match=message):
        parse_assignment(text)


def test_build_grid_puts_seeds_last():
    grid = build_grid(["model.activation=relu,tanh", "training.epochs=5"], [0, 1])
    assert grid == [{"key": "model.activation", "values": ["relu", "tanh"]},
                    {"key": "training.epochs", "values": [5]},
                    {"key": "training.seed", "values": [0, 1]}]


def test_build_grid_rejects_repeated_key():
    with pytest.raises(SweepError, match="--set model.activation is given twice"):
        build_grid(["model.activation=relu", "model.activation=tanh"], [0])


def test_expand_grid_names_and_configs():
    base = load_config("szt-tanh")
    grid = build_grid(["model.activation=relu,tanh", "model.widths=[10,7,5]"], [0, 10])
    runs = expand_grid(base, grid)
    assert [run.name for run in runs] == [
        "activation-relu_widths-10-7-5_seed-00", "activation-relu_widths-10-7-5_seed-10",
        "activation-tanh_widths-10-7-5_seed-00", "activation-tanh_widths-10-7-5_seed-10"]
    assert runs[1].params == {"model.activation": "relu", "model.widths": [10, 7, 5], "training.seed": 10}
    assert runs[1].config["model"]["activation"] == "relu"
    assert runs[1].config["model"]["widths"] == [10, 7, 5]
    assert runs[1].config["training"]["seed"] == 10
    assert base["model"]["activation"] == "tanh"
    assert base["model"]["widths"] == [10, 7, 5, 4, 3]


def test_expand_grid_qualifies_shared_key_names():
    runs = expand_grid(load_config("szt-tanh"), build_grid(["data.seed=1"], [2]))
    assert [run.name for run in runs] == ["data.seed-1_training.seed-2"]


def test_expand_grid_rejects_name_collision():
    grid = build_grid(['training.device="a b","a-b"'], [0])
    with pytest.raises(SweepError, match="share the folder name 'device-a-b_seed-0'"):
        expand_grid(load_config("szt-tanh"), grid)


@pytest.mark.parametrize(("arguments", "message"), [
    (("--seeds", "5-2"), "the range '5-2' ends before it starts"),
    (("--set", "model.nope=1"), "unknown key 'nope' in \\[model\\]"),
    (("--executor", "dask"), "--executor must be one of local, ray, got 'dask'"),
    (("--address", "127.0.0.1:6379"), "--address 127.0.0.1:6379 needs --executor ray"),
    (("--workers", "0"), "--workers must be a positive integer, got 0"),
])
def test_cli_sweep_user_errors(tmp_path, arguments, message):
    result = run_cli("sweep", "szt-tanh", "--out", str(tmp_path / "sweep"), *arguments)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert re.search(message, lines[0]), lines[0]


# Manifest and resume decisions (no training)


def test_plan_action_cases(tmp_path):
    folder = tmp_path / "run"
    assert plan_action(folder, "pending") == "start"

    store = RunStore.create(folder, load_config("szt-tanh"), seed=0)
    assert plan_action(folder, "running") == "start"
    (folder / "checkpoints" / "last.pt").write_bytes(b"")
    assert plan_action(folder, "running") == "resume"
    store.set_status("failed", "loss is NaN")
    assert plan_action(folder, "failed") == "resume"

    store.set_status("finished")
    assert plan_action(folder, "running") == "analyze"
    (folder / "measures.parquet").write_bytes(b"")
    assert plan_action(folder, "running") == "analyze"
    assert plan_action(folder, "finished") == "skip"


def test_open_manifest_rejects_other_config(tmp_path):
    config = load_config("szt-tanh")
    grid = build_grid([], [0])
    manifest = open_manifest(tmp_path, config, grid, expand_grid(config, grid))
    (tmp_path / "sweep.json").write_text(json.dumps(manifest))
    changed = load_config("szt-tanh")
    changed["training"]["learning_rate"] = 0.1
    with pytest.raises(SweepError, match="contains a different sweep: its base config differs in training.learning_rate"):
        open_manifest(tmp_path, changed, grid, expand_grid(changed, grid))


def test_open_manifest_rejects_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    config = load_config("szt-tanh")
    grid = build_grid([], [0])
    with pytest.raises(SweepError, match="is not empty and has no sweep.json"):
        open_manifest(tmp_path, config, grid, expand_grid(config, grid))


# Local sweeps (worker processes)


@pytest.mark.slow
def test_local_sweep_writes_runs_and_manifest(local_sweep, tiny_toml):
    manifest = read_manifest(local_sweep)
    assert manifest["grid"] == [{"key": "training.seed", "values": [0, 1]}]
    assert manifest["config"]["training"]["epochs"] == 3
    assert manifest["config"]["name"] == "tiny"
    assert [entry["name"] for entry in manifest["runs"]] == ["seed-0", "seed-1"]
    for seed, entry in enumerate(manifest["runs"]):
        assert entry["status"] == "finished"
        assert entry["error"] is None
        assert entry["params"] == {"training.seed": seed}
        run = local_sweep / entry["folder"]
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == "finished"
        assert info["config"]["training"]["seed"] == seed
        assert list(pd.read_parquet(run / "metrics.parquet")["epoch"]) == [1, 2, 3]
        measures = pd.read_parquet(run / "measures.parquet")
        assert sorted(measures["epoch"].unique()) == [1, 2, 3]
        assert (run / "figures" / "te_plane_xy_delay1_stream.png").is_file()
    losses = [pd.read_parquet(local_sweep / name / "metrics.parquet")["train_loss"].iloc[0]
              for name in ("seed-0", "seed-1")]
    assert losses[0] != losses[1]


@pytest.mark.slow
def test_rerun_skips_finished_and_retries_others(local_sweep, tiny_toml):
    """Seed 0 stays finished; seed 1 is replaced by a run interrupted after epoch 1, then marked failed."""
    manifest = read_manifest(local_sweep)
    finished_time = (local_sweep / "seed-0" / "measures.parquet").stat().st_mtime_ns

    run_config = load_config(str(tiny_toml))
    run_config["training"]["seed"] = 1
    folder = local_sweep / "seed-1"
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()

    def stop_after_first_epoch(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(run_config, folder, progress=stop_after_first_epoch)
    RunStore.open(folder).set_status("failed", "simulated failure")
    first_epoch_time = (folder / "epochs" / "000001.npz").stat().st_mtime_ns
    manifest["runs"][1]["status"] = "failed"
    (local_sweep / "sweep.json").write_text(json.dumps(manifest))

    result = run_cli("sweep", str(tiny_toml), "--seeds", "0-1", "--out", str(local_sweep))
    assert result.exit_code == 0, result.output
    assert "[2/2] seed-1: finished" in result.output
    assert "seed-0" not in result.output

    manifest = read_manifest(local_sweep)
    assert [entry["status"] for entry in manifest["runs"]] == ["finished", "finished"]
    assert (local_sweep / "seed-0" / "measures.parquet").stat().st_mtime_ns == finished_time
    assert (folder / "epochs" / "000001.npz").stat().st_mtime_ns == first_epoch_time
    assert list(pd.read_parquet(folder / "metrics.parquet")["epoch"]) == [1, 2, 3]
    assert json.loads((folder / "run.json").read_text())["status"] == "finished"
    assert (folder / "measures.parquet").is_file()


@pytest.mark.slow
def test_rerun_with_other_grid_is_rejected(local_sweep, tiny_toml):
    result = run_cli("sweep", str(tiny_toml), "--seeds", "0-2", "--out", str(local_sweep))
    assert result.exit_code == 2
    assert "contains a different sweep: its grid is" in result.output
    assert "choose a new --out" in result.output


# Ray


@pytest.mark.slow
def test_ray_sweep_runs_tasks(tmp_path, tiny_toml, monkeypatch):
    ray = pytest.importorskip("ray")
    # Ray's worker processes import infoplane from the same source tree as this test.
    source = str(Path(__file__).resolve().parents[1] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    ray.init(num_cpus=1, include_dashboard=False)
    try:
        config = load_config(str(tiny_toml))
        ended = []
        manifest = run_sweep(config, tmp_path / "ray", build_grid(["model.activation=relu"], [0, 1]),
                             executor="ray", on_result=lambda entry, _: ended.append(entry["name"]))
    finally:
        ray.shutdown()
    names = ["activation-relu_seed-0", "activation-relu_seed-1"]
    assert sorted(ended) == names
    assert [entry["status"] for entry in manifest["runs"]] == ["finished", "finished"]
    assert read_manifest(tmp_path / "ray")["executor"] == "ray"
    for name in names:
        info = json.loads((tmp_path / "ray" / name / "run.json").read_text())
        assert info["status"] == "finished"
        assert info["config"]["model"]["activation"] == "relu"
        assert (tmp_path / "ray" / name / "measures.parquet").is_file()


def test_ray_executor_without_ray(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    config = load_config("szt-tanh")
    with pytest.raises(SweepError, match="the ray executor needs the optional dependency ray; install it with pip"):
        run_sweep(config, tmp_path / "sweep", build_grid([], [0]), executor="ray")
    assert not (tmp_path / "sweep").exists()


def test_invalid_grid_point_rejected_before_training(tmp_path):
    from typer.testing import CliRunner

    from infoplane.cli import app

    out = tmp_path / "sweep"
    result = CliRunner().invoke(app, ["sweep", "szt-tanh", "--seeds", "0", "--set", "training.epochs=-1,2",
                                      "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "grid point" in lines[0]
    assert "got -1" in lines[0]
    assert not (out / "sweep.json").exists()
