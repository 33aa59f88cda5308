import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch

from infoplane.pipeline import train_run
from infoplane.runs import RunStore
from infoplane.training import TrainingFailed, TrainingInterrupted, every_schedule, log_schedule


def test_log_schedule_dense_early_sparse_late():
    schedule = log_schedule(8000, 130)
    assert 100 <= len(schedule) <= 150
    assert schedule[:10] == list(range(1, 11))
    assert schedule[-1] == 8000
    assert np.all(np.diff(schedule) > 0)


def test_every_schedule_includes_last_epoch():
    assert every_schedule(10, 4) == [1, 5, 9, 10]


def read_all_epochs(path):
    store = RunStore.open(path)
    return {epoch: store.read_epoch(epoch) for epoch in store.recorded_epochs()}


def test_same_seed_same_results(tmp_path, tiny_config):
    first = train_run(tiny_config, tmp_path / "a")
    second = train_run(tiny_config, tmp_path / "b")
    metrics_a = first.read_metrics().drop(columns="seconds")
    metrics_b = second.read_metrics().drop(columns="seconds")
    pd.testing.assert_frame_equal(metrics_a, metrics_b)
    epochs_a, epochs_b = read_all_epochs(first.path), read_all_epochs(second.path)
    assert epochs_a.keys() == epochs_b.keys() == set(range(1, 7))
    for epoch in epochs_a:
        for key in epochs_a[epoch]:
            np.testing.assert_array_equal(epochs_a[epoch][key], epochs_b[epoch][key])


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, tiny_config, monkeypatch):
    reference = train_run(tiny_config, tmp_path / "reference")

    def interrupt_at_epoch_3(epoch, row):
        if epoch == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match="interrupted after epoch 3"):
        train_run(tiny_config, tmp_path / "resumed", progress=interrupt_at_epoch_3)
    interrupted = RunStore.open(tmp_path / "resumed")
    assert interrupted.info["status"] == "interrupted"
    assert interrupted.recorded_epochs() == [1, 2, 3]
    resumed = train_run(None, tmp_path / "resumed", resume=True)
    assert resumed.info["status"] == "finished"
    pd.testing.assert_frame_equal(reference.read_metrics().drop(columns="seconds"),
                                  resumed.read_metrics().drop(columns="seconds"))
    epochs_ref, epochs_res = read_all_epochs(reference.path), read_all_epochs(resumed.path)
    assert epochs_ref.keys() == epochs_res.keys()
    for epoch in epochs_ref:
        for key in epochs_ref[epoch]:
            np.testing.assert_array_equal(epochs_ref[epoch][key], epochs_res[epoch][key])


def test_non_finite_activation_fails_run_and_keeps_earlier_epochs(tmp_path, tiny_config, monkeypatch):
    import infoplane.pipeline as pipeline

    build = pipeline.build_config_model
    poisoned = {"on": False}

    def poisoned_model(config, dataset):
        model = build(config, dataset)

        def inject_nan(module, inputs, output):
            return output * float("nan") if poisoned["on"] else output

        model.act2.register_forward_hook(inject_nan)
        return model

    def poison_after_epoch_3(epoch, row):
        poisoned["on"] = epoch == 3

    monkeypatch.setattr(pipeline, "build_config_model", poisoned_model)
    with pytest.raises(TrainingFailed, match="epoch 4: layer 'act2' produced"):
        train_run(tiny_config, tmp_path / "run", progress=poison_after_epoch_3)
    store = RunStore.open(tmp_path / "run")
    assert store.info["status"] == "failed"
    assert "act2" in store.info["error"]
    assert store.recorded_epochs() == [1, 2, 3]
    assert list(store.read_metrics()["epoch"]) == [1, 2, 3]


def test_training_reaches_reasonable_accuracy(tmp_path, tiny_config):
    tiny_config["training"]["epochs"] = 40
    tiny_config["training"]["learning_rate"] = 0.01
    tiny_config["recording"]["every"] = 20
    store = train_run(tiny_config, tmp_path / "run")
    metrics = store.read_metrics()
    assert metrics["train_loss"].iloc[-1] < metrics["train_loss"].iloc[0]
    assert metrics["test_accuracy"].iloc[-1] > 0.7
    assert torch.get_num_threads() >= 1
