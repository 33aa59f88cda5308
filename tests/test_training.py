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


def test_non_finite_activation_fails_run(tmp_path, tiny_config, monkeypatch):
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


def stream_bits(arrays, layer):
    from infoplane.runs import unpack_bits

    return unpack_bits(arrays[f"stream_bits/{layer}"], int(arrays[f"n_units/{layer}"]))


def test_unit_cap_and_float_stream_through_trainer(tmp_path, tiny_config):
    tiny_config["training"]["epochs"] = 3
    full = train_run(tiny_config, tmp_path / "full")
    tiny_config["recording"]["max_units"] = 4
    tiny_config["recording"]["keep_float"] = True
    capped = train_run(tiny_config, tmp_path / "capped")

    first_units = capped.read_epoch(1)
    for epoch in (1, 2, 3):
        reference, arrays = full.read_epoch(epoch), capped.read_epoch(epoch)
        # The cap changes only what is stored, so the kept units equal those columns of the full run.
        for layer, width in (("x", 12), ("act1", 10), ("act2", 7), ("act3", 5)):
            units = arrays[f"units/{layer}"]
            assert len(units) == 4
            assert np.all(np.diff(units) > 0)
            assert units.max() < width
            np.testing.assert_array_equal(units, first_units[f"units/{layer}"])
            np.testing.assert_array_equal(stream_bits(arrays, layer), stream_bits(reference, layer)[:, units])
            if layer != "x":
                assert arrays[f"probe_float/{layer}"].shape[1] == 4
        for layer in ("act4", "act5", "output"):
            assert f"units/{layer}" not in arrays
            np.testing.assert_array_equal(stream_bits(arrays, layer), stream_bits(reference, layer))
        assert "stream_float/x" not in reference

        for layer, threshold in (("x", 0.5), ("act1", 0.0), ("act5", 0.0), ("output", 0.5)):
            floats = arrays[f"stream_float/{layer}"]
            assert floats.dtype == np.float16
            assert floats.shape == stream_bits(arrays, layer).shape
            clear = np.abs(floats.astype(np.float32) - threshold) > 1e-3
            np.testing.assert_array_equal((floats > threshold)[clear], stream_bits(arrays, layer)[clear] == 1)


def test_saved_weights_reproduce_probe_activations(tmp_path, tiny_config):
    from infoplane.datasets import load_szt
    from infoplane.pipeline import build_config_model

    tiny_config["training"]["epochs"] = 3
    tiny_config["training"]["save_weights"] = True
    store = train_run(tiny_config, tmp_path / "run")
    model = build_config_model(tiny_config, load_szt())
    probe_x = torch.as_tensor(store.read_probe()["x"])

    weights = {}
    for epoch in (1, 2, 3):
        arrays = store.read_epoch(epoch)
        weights[epoch] = {key.removeprefix("weights/"): arrays[key] for key in arrays if key.startswith("weights/")}
        assert set(weights[epoch]) == set(model.state_dict())
        model.load_state_dict({name: torch.as_tensor(value) for name, value in weights[epoch].items()})
        with torch.no_grad():
            hidden = model.act2(model.fc2(model.act1(model.fc1(probe_x))))
        np.testing.assert_allclose(arrays["probe_float/act2"].astype(np.float32), hidden.numpy(), atol=1e-3)
    assert not np.array_equal(weights[1]["fc1.weight"], weights[3]["fc1.weight"])

    checkpoint = store.read_checkpoint()
    for name, value in checkpoint["model"].items():
        np.testing.assert_array_equal(weights[3][name], value.numpy())


def test_weights_absent_by_default(tmp_path, tiny_config):
    tiny_config["training"]["epochs"] = 1
    store = train_run(tiny_config, tmp_path / "run")
    assert not [key for key in store.read_epoch(1) if key.startswith("weights/")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_trainer_matches_cpu(tmp_path, tiny_config):
    tiny_config["training"]["epochs"] = 3
    on_cpu = train_run(tiny_config, tmp_path / "cpu")
    tiny_config["training"]["device"] = "cuda"
    on_cuda = train_run(tiny_config, tmp_path / "cuda")

    assert on_cuda.info["status"] == "finished"
    columns = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    np.testing.assert_allclose(on_cuda.read_metrics()[columns], on_cpu.read_metrics()[columns], atol=1e-3)
    for epoch in (1, 2, 3):
        cpu_arrays, cuda_arrays = on_cpu.read_epoch(epoch), on_cuda.read_epoch(epoch)
        np.testing.assert_array_equal(cuda_arrays["order"], cpu_arrays["order"])
        for layer in ("x", "act1", "act5", "output"):
            agreement = np.mean(stream_bits(cuda_arrays, layer) == stream_bits(cpu_arrays, layer))
            assert agreement > 0.99, (epoch, layer, agreement)
