"""`infoplane run --resume DIR` after a Ctrl-C ends with the results of an uninterrupted run."""

import os
import signal

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from infoplane.cli import app
from infoplane.config import load_config
from infoplane.pipeline import train_run
from infoplane.runs import RunStore
from infoplane.training import Trainer

# Binning only and a small probe keep the analysis that `run` ends with to a few seconds.
TINY_CONFIG = """
[data]
probe_size = 1024

[training]
epochs = 5

[recording]
schedule = "every"

[analysis]
n_surrogates = 2
estimators = ["binning"]
n_bins = 10
"""


def test_cli_resume_equals_uninterrupted(tmp_path, monkeypatch):
    config_path = tmp_path / "tiny.toml"
    config_path.write_text(TINY_CONFIG)
    reference = train_run(load_config(str(config_path)), tmp_path / "reference")
    out = tmp_path / "run"

    train_epoch = Trainer._train_epoch

    def interrupt_after_epoch_2(trainer, epoch, recorded):
        row = train_epoch(trainer, epoch, recorded)
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return row

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_train_epoch", interrupt_after_epoch_2)
        result = CliRunner().invoke(app, ["run", str(config_path), "--out", str(out)])
    assert result.exit_code == 130, result.output
    assert f"continue with: infoplane run --resume {out}" in result.output
    interrupted = RunStore.open(out)
    assert interrupted.info["status"] == "interrupted"
    assert interrupted.recorded_epochs() == [1, 2]
    assert list(interrupted.read_metrics()["epoch"]) == [1, 2]

    result = CliRunner().invoke(app, ["run", "--resume", str(out)])
    assert result.exit_code == 0, result.output
    resumed = RunStore.open(out)
    assert resumed.info["status"] == "finished"
    assert (out / "measures.parquet").is_file()
    pd.testing.assert_frame_equal(reference.read_metrics().drop(columns="seconds"),
                                  resumed.read_metrics().drop(columns="seconds"))
    assert resumed.recorded_epochs() == reference.recorded_epochs() == [1, 2, 3, 4, 5]
    for epoch in reference.recorded_epochs():
        expected, actual = reference.read_epoch(epoch), resumed.read_epoch(epoch)
        assert expected.keys() == actual.keys()
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"epoch {epoch} {key}")
    for name, value in reference.read_checkpoint()["model"].items():
        np.testing.assert_array_equal(resumed.read_checkpoint()["model"][name].numpy(), value.numpy())


def test_cli_resume_of_finished_run_keeps_it(tmp_path):
    config_path = tmp_path / "tiny.toml"
    config_path.write_text(TINY_CONFIG.replace("epochs = 5", "epochs = 1"))
    out = tmp_path / "run"
    assert CliRunner().invoke(app, ["run", str(config_path), "--out", str(out)]).exit_code == 0
    metrics = RunStore.open(out).read_metrics()
    result = CliRunner().invoke(app, ["run", "--resume", str(out)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(RunStore.open(out).read_metrics(), metrics)


def test_cli_resume_of_missing_folder(tmp_path):
    result = CliRunner().invoke(app, ["run", "--resume", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "is not a run folder" in result.output
