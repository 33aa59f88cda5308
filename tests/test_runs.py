"""RunStore faults: unknown schema versions and truncated files give errors that name the file."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from infoplane.cli import app
from infoplane.pipeline import train_run
from infoplane.runs import SCHEMA_VERSION, RunFormatError, RunStore, pack_bits, unpack_bits


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """Return a finished 3-epoch szt-tanh run with every epoch recorded. Tests copy it before damaging it."""
    from infoplane.config import load_config

    config = load_config("szt-tanh")
    config["training"]["epochs"] = 3
    config["recording"]["schedule"] = "every"
    config["analysis"]["n_surrogates"] = 2
    return train_run(config, tmp_path_factory.mktemp("runs") / "finished").path


@pytest.fixture
def run_copy(finished_run, tmp_path):
    import shutil

    return shutil.copytree(finished_run, tmp_path / "copy")


def truncate(path, keep_fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, None])
def test_unknown_schema_version_names_file(run_copy, version):
    info_path = run_copy / "run.json"
    info = json.loads(info_path.read_text())
    info["schema_version"] = version
    info_path.write_text(json.dumps(info))
    with pytest.raises(RunFormatError) as caught:
        RunStore.open(run_copy)
    message = str(caught.value)
    assert str(info_path) in message
    assert f"schema version {version!r}" in message
    assert f"reads version {SCHEMA_VERSION}" in message


def test_unknown_schema_version_through_cli(run_copy):
    info_path = run_copy / "run.json"
    info = json.loads(info_path.read_text())
    info["schema_version"] = SCHEMA_VERSION + 1
    info_path.write_text(json.dumps(info))
    result = CliRunner().invoke(app, ["analyze", str(run_copy)])
    assert result.exit_code == 2
    assert str(info_path) in result.output
    assert "Traceback" not in result.output


def test_run_json_not_json_names_file(run_copy):
    truncate(run_copy / "run.json")
    with pytest.raises(RunFormatError, match="run.json is not valid JSON"):
        RunStore.open(run_copy)


@pytest.mark.parametrize("keep_fraction", [0.0, 0.3, 0.9])
def test_truncated_epoch_file_names_file(run_copy, keep_fraction):
    epoch_path = run_copy / "epochs" / "000002.npz"
    truncate(epoch_path, keep_fraction)
    store = RunStore.open(run_copy)
    with pytest.raises(RunFormatError) as caught:
        store.read_epoch(2)
    assert str(epoch_path) in str(caught.value)
    assert "damaged or truncated" in str(caught.value)
    assert store.read_epoch(1)["stream_y"].shape == store.read_epoch(3)["stream_y"].shape


def test_truncated_epoch_file_through_cli(run_copy):
    epoch_path = run_copy / "epochs" / "000002.npz"
    truncate(epoch_path)
    result = CliRunner().invoke(app, ["analyze", str(run_copy)])
    assert result.exit_code == 0, result.output
    measures = pd.read_parquet(run_copy / "measures.parquet")
    damaged = measures[measures["epoch"] == 2]
    assert len(damaged) > 0
    assert damaged["value"].isna().all()
    assert damaged["flag"].str.contains(str(epoch_path), regex=False).all()
    assert measures[measures["epoch"] != 2]["value"].notna().any()


def test_truncated_checkpoint_names_file(run_copy):
    checkpoint = run_copy / "checkpoints" / "last.pt"
    truncate(checkpoint)
    with pytest.raises(RunFormatError) as caught:
        RunStore.open(run_copy).read_checkpoint()
    assert str(checkpoint) in str(caught.value)
    assert "delete it to restart the run" in str(caught.value)


def test_resume_with_truncated_checkpoint_fails(run_copy):
    store = RunStore.open(run_copy)
    store.set_status("interrupted")
    checkpoint = run_copy / "checkpoints" / "last.pt"
    truncate(checkpoint)
    with pytest.raises(RunFormatError, match="last.pt is damaged"):
        train_run(None, run_copy, resume=True)
    assert RunStore.open(run_copy).info["status"] == "failed"
    assert str(checkpoint) in RunStore.open(run_copy).info["error"]


def test_checkpoint_loads_with_weights_only(finished_run):
    state = torch.load(finished_run / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 3
    assert "fc1.weight" in state["model"]


def test_writes_leave_no_temporary_files(finished_run):
    leftovers = [path for path in finished_run.rglob("*") if path.name.endswith(".tmp")]
    assert leftovers == []


def test_failed_write_keeps_previous_file(run_copy, monkeypatch):
    store = RunStore.open(run_copy)
    before = (run_copy / "epochs" / "000001.npz").read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        store.write_epoch(1, {"a": np.zeros(3)})
    assert (run_copy / "epochs" / "000001.npz").read_bytes() == before
    assert not list((run_copy / "epochs").glob("*.tmp"))


def test_pack_bits_round_trip():
    bits = np.random.default_rng(0).integers(0, 2, size=(50, 13), dtype=np.uint8)
    packed = pack_bits(bits)
    assert packed.shape == (50, 2)
    np.testing.assert_array_equal(unpack_bits(packed, 13), bits)
