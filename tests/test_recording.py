import numpy as np
import pytest
import torch
from torch import nn

from infoplane.models import MLP
from infoplane.recording import ActivationRecorder, NonFiniteActivationError, binarize


def make_model(activation="tanh"):
    torch.manual_seed(0)
    return MLP([4, 5, 3, 2], activation)


def test_binarize_threshold_and_median():
    values = np.array([[-1.0, 0.2], [0.5, 0.9], [0.0, 0.4]])
    np.testing.assert_array_equal(binarize(values, 0.0), [[0, 1], [1, 1], [0, 1]])
    np.testing.assert_array_equal(binarize(values, "median"), [[0, 0], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="threshold must be a number or 'median'"):
        binarize(values, "mean")


def test_default_layers_and_thresholds():
    recorder = ActivationRecorder(make_model("sigmoid"))
    assert recorder.layers == ["x", "act1", "act2", "output"]
    assert recorder.thresholds["x"] == 0.5
    assert recorder.thresholds["act1"] == 0.5


def test_stream_matches_manual_forward():
    model = make_model()
    recorder = ActivationRecorder(model)
    x = torch.randn(10, 4)
    labels = torch.arange(10) % 2
    model(x[:6])
    recorder.update(labels[:6])
    model(x[6:])
    recorder.update(labels[6:])
    stream = recorder.compute()
    with torch.no_grad():
        hidden1 = model.act1(model.fc1(x))
        hidden2 = model.act2(model.fc2(hidden1))
        output = torch.softmax(model.out(hidden2), dim=1)
    np.testing.assert_array_equal(stream.bits["x"], (x > 0.5).numpy().astype(np.uint8))
    np.testing.assert_array_equal(stream.bits["act1"], (hidden1 > 0).numpy().astype(np.uint8))
    np.testing.assert_array_equal(stream.bits["act2"], (hidden2 > 0).numpy().astype(np.uint8))
    np.testing.assert_array_equal(stream.bits["output"], (output > 0.5).numpy().astype(np.uint8))
    np.testing.assert_array_equal(stream.labels, labels.numpy())


def test_probe_restores_mode_and_buffers():
    model = make_model()
    recorder = ActivationRecorder(model)
    model.train()
    model(torch.randn(3, 4))
    recorder.update(torch.tensor([0, 1, 0]))
    probe = recorder.probe(torch.randn(7, 4), np.zeros(7))
    assert model.training
    assert probe.floats["act1"].shape == (7, 5)
    assert recorder.compute().n_steps == 3


def test_unknown_layer_lists_valid_names():
    with pytest.raises(ValueError, match=r"layers \['conv9'\] not found in the model; valid names: .*fc1"):
        ActivationRecorder(make_model(), layers=["conv9"])


def test_unknown_threshold_layer_rejected():
    with pytest.raises(ValueError, match="thresholds given for unknown layers"):
        ActivationRecorder(make_model(), thresholds={"nope": 0.1})


def test_close_removes_hooks():
    model = make_model()
    recorder = ActivationRecorder(model)
    recorder.close()
    assert not model._forward_hooks
    assert not model._forward_pre_hooks
    assert not model.act1._forward_hooks


def test_non_finite_activation_names_layer():
    model = make_model()
    ActivationRecorder(model)
    x = torch.randn(2, 4)
    x[0, 0] = float("nan")
    with pytest.raises(NonFiniteActivationError, match="layer 'x' produced 1 non-finite"):
        model(x)


def test_update_with_wrong_label_count():
    model = make_model()
    recorder = ActivationRecorder(model)
    model(torch.randn(4, 4))
    with pytest.raises(ValueError, match="update\\(\\) got 3 labels but the last forward pass had 4"):
        recorder.update(torch.tensor([0, 1, 0]))


def test_unit_cap_is_seeded_subset():
    model = make_model()
    first = ActivationRecorder(model, max_units=2, seed=3)
    model(torch.randn(5, 4))
    first.update(torch.zeros(5))
    assert first.compute().bits["act1"].shape == (5, 2)
    chosen = first.unit_indices["act1"].copy()
    first.close()
    second = ActivationRecorder(model, max_units=2, seed=3)
    model(torch.randn(5, 4))
    second.update(torch.zeros(5))
    second.compute()
    np.testing.assert_array_equal(second.unit_indices["act1"], chosen)
    assert second.unit_indices["output"] is None


def test_convolutional_layer_uses_channel_median():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 2))
    recorder = ActivationRecorder(model)
    assert recorder.hidden_layers == ["1"]
    model(torch.randn(9, 1, 8, 8))
    recorder.update(torch.zeros(9))
    stream = recorder.compute()
    assert recorder.thresholds["1"] == "median"
    assert stream.bits["1"].shape == (9, 3)
    assert np.all(stream.bits["1"].sum(axis=0) == 4)


def test_keep_float_stream():
    model = make_model()
    recorder = ActivationRecorder(model, keep_float=True)
    model(torch.randn(3, 4))
    recorder.update(torch.zeros(3))
    stream = recorder.compute()
    assert stream.floats["act1"].dtype == np.float16
    np.testing.assert_array_equal(stream.bits["act1"], (stream.floats["act1"] > 0).astype(np.uint8))


def test_image_input_keeps_every_pixel():
    torch.manual_seed(0)
    model = MLP([16, 3, 2])
    recorder = ActivationRecorder(model)
    images = torch.rand(6, 1, 4, 4)
    model(images)
    recorder.update(torch.zeros(6))
    stream = recorder.compute()
    assert recorder.thresholds["x"] == 0.5
    expected = (images.reshape(6, 16) > 0.5).numpy().astype(np.uint8)
    np.testing.assert_array_equal(stream.bits["x"], expected)


def test_to_float16_matches_numpy_rounding():
    from infoplane.recording import to_float16

    rng = np.random.default_rng(0)
    scales = 10.0 ** rng.integers(-9, 6, size=20_000)
    special = [np.inf, -np.inf, np.nan, 65519.0, 65520.0, 1e-8, 6e-8, -0.0]
    values = np.concatenate([rng.standard_normal(20_000) * scales, special]).astype(np.float32).reshape(-1, 4)
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16)
    converted = to_float16(values)
    assert converted.dtype == np.float16
    assert converted.shape == values.shape
    np.testing.assert_array_equal(converted.view(np.uint16), expected.view(np.uint16))


def test_stream_binarized_in_hooks_matches_float_path():
    model = make_model("relu")
    x = torch.randn(40, 4)
    labels = torch.arange(40) % 2
    streams = {}
    for keep_float in (False, True):
        recorder = ActivationRecorder(model, keep_float=keep_float)
        for batch in x.split(7):
            model(batch)
            recorder.update(labels[:len(batch)])
        streams[keep_float] = recorder.compute()
        recorder.close()
    for layer in ("x", "act1", "act2", "output"):
        assert streams[False].bits[layer].dtype == np.uint8
        np.testing.assert_array_equal(streams[False].bits[layer], streams[True].bits[layer])
    assert streams[False].floats == {}


def test_layers_as_string_rejected():
    with pytest.raises(TypeError, match="layers must be a list of module names, got the string 'act1'"):
        ActivationRecorder(make_model(), layers="act1")
