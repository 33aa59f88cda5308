"""Tests of the MLP, the CNN and build_model: shapes, layer names, activations, parameter counts, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from infoplane.models import CNN, MLP, build_model

# Each activation written out in numpy, independently of torch's modules.
NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
}
MODULE_TYPES = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def linear_parameter_count(sizes: list[int]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def record_outputs(model: nn.Module, names: list[str], x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Run ``model`` on ``x`` and return (name, output) of the named modules in the order they fire."""
    fired = []
    modules = dict(model.named_modules())
    handles = [
        modules[name].register_forward_hook(lambda module, inputs, output, name=name: fired.append((name, output)))
        for name in names
    ]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return fired


# ---------------------------------------------------------------- MLP


def test_mlp_shapes_and_layer_names():
    model = MLP([12, 10, 7, 5, 4, 3, 2], "tanh")
    assert model.hidden_layer_names() == ["act1", "act2", "act3", "act4", "act5"]
    logits = model(torch.zeros(9, 12))
    assert logits.shape == (9, 2)
    fired = record_outputs(model, model.hidden_layer_names(), torch.zeros(9, 12))
    assert [name for name, _ in fired] == model.hidden_layer_names()
    assert [tuple(output.shape) for _, output in fired] == [(9, 10), (9, 7), (9, 5), (9, 4), (9, 3)]


def test_mlp_flattens_images():
    model = MLP([784, 16, 10], "relu")
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_mlp_parameter_count():
    widths = [784, 256, 128, 10]
    model = MLP(widths, "tanh")
    assert sum(parameter.numel() for parameter in model.parameters()) == 784 * 256 + 256 + 256 * 128 + 128 + 1290
    assert sum(parameter.numel() for parameter in model.parameters()) == linear_parameter_count(widths)


def test_mlp_without_hidden_layers():
    model = MLP([4, 3], "tanh")
    assert model.hidden_layer_names() == []
    assert model(torch.ones(2, 4)).shape == (2, 3)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_mlp_matches_numpy_forward(activation):
    torch.manual_seed(0)
    model = MLP([5, 4, 3, 2], activation)
    for name in model.hidden_layer_names():
        assert type(getattr(model, name)) is MODULE_TYPES[activation]
    x = np.random.default_rng(1).normal(size=(6, 5))

    hidden = x
    for index in (1, 2):
        layer = getattr(model, f"fc{index}")
        hidden = NUMPY_ACTIVATIONS[activation](hidden @ layer.weight.detach().double().numpy().T
                                               + layer.bias.detach().double().numpy())
    expected = hidden @ model.out.weight.detach().double().numpy().T + model.out.bias.detach().double().numpy()

    with torch.no_grad():
        logits = model.double()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("widths", "activation", "error", "message"),
    [
        ([12], "tanh", ValueError, r"must list at least 2 positive integers, got \[12\]"),
        ([12, 0, 2], "tanh", ValueError, r"must contain only positive integers, got \[12, 0, 2\]"),
        ([12, 2.5, 2], "tanh", ValueError, r"must contain only positive integers, got \[12, 2.5, 2\]"),
        ([12, True, 2], "tanh", ValueError, "must contain only positive integers"),
        ("12,2", "tanh", TypeError, "widths .* must be a list of positive integers, got '12,2'"),
        ([12, 2], "elu", ValueError, "unknown activation 'elu'; valid: tanh, relu, sigmoid, linear"),
        ([12, 2], None, ValueError, "unknown activation None"),
    ],
)
def test_mlp_rejects_invalid_arguments(widths, activation, error, message):
    with pytest.raises(error, match=message):
        MLP(widths, activation)


# ---------------------------------------------------------------- CNN


def test_cnn_shapes_and_layer_names():
    model = CNN((1, 28, 28), 10)
    assert model.hidden_layer_names() == ["conv_act1", "conv_act2", "act1"]
    x = torch.zeros(4, 1, 28, 28)
    assert model(x).shape == (4, 10)
    fired = record_outputs(model, model.hidden_layer_names(), x)
    assert [name for name, _ in fired] == ["conv_act1", "conv_act2", "act1"]
    assert [tuple(output.shape) for _, output in fired] == [(4, 8, 28, 28), (4, 16, 14, 14), (4, 64)]


def test_cnn_parameter_count():
    model = CNN((1, 28, 28), 10)
    conv = (1 * 8 * 9 + 8) + (8 * 16 * 9 + 16)
    dense = linear_parameter_count([16 * 7 * 7, 64, 10])
    assert sum(parameter.numel() for parameter in model.parameters()) == conv + dense
    assert conv + dense == 52138


@pytest.mark.parametrize(
    ("input_shape", "flat_size"),
    [((3, 32, 32), 16 * 8 * 8), ((1, 8, 8), 16 * 2 * 2), ((2, 9, 13), 16 * 2 * 3)],
)
def test_cnn_other_image_sizes(input_shape, flat_size):
    model = CNN(input_shape, 7)
    assert model.fc1.in_features == flat_size
    assert model(torch.zeros(2, *input_shape)).shape == (2, 7)


def test_cnn_custom_blocks_and_widths():
    model = CNN((1, 16, 16), 3, channels=[4, 6, 5], widths=[], activation="tanh")
    assert model.hidden_layer_names() == ["conv_act1", "conv_act2", "conv_act3"]
    assert model.out.in_features == 5 * 2 * 2
    assert type(model.conv_act3) is nn.Tanh
    assert model(torch.zeros(1, 1, 16, 16)).shape == (1, 3)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_cnn_matches_functional_forward(activation):
    torch.manual_seed(0)
    model = CNN((2, 12, 10), 4, channels=[3, 5], widths=[6], activation=activation)
    x = torch.randn(3, 2, 12, 10)
    function = {"tanh": torch.tanh, "relu": F.relu, "sigmoid": torch.sigmoid, "linear": lambda z: z}[activation]

    hidden = F.max_pool2d(function(F.conv2d(x, model.conv1.weight, model.conv1.bias, padding=1)), 2)
    hidden = F.max_pool2d(function(F.conv2d(hidden, model.conv2.weight, model.conv2.bias, padding=1)), 2)
    hidden = function(hidden.reshape(3, -1) @ model.fc1.weight.T + model.fc1.bias)
    expected = hidden @ model.out.weight.T + model.out.bias

    with torch.no_grad():
        torch.testing.assert_close(model(x), expected.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_shape": (784,)}, r"input_shape must be \(channels, height, width\) for a CNN, got \(784,\)"),
        ({"input_shape": (1, 3, 28)}, r"too small for 2 pooling blocks: height and width must be at least 4"),
        ({"channels": []}, r"channels must list at least 1 positive integers, got \[\]"),
        ({"widths": [64, -1]}, r"widths must contain only positive integers, got \[64, -1\]"),
        ({"n_classes": 0}, "n_classes must be an integer of at least 1, got 0"),
        ({"activation": "gelu"}, "unknown activation 'gelu'"),
    ],
)
def test_cnn_rejects_invalid_arguments(arguments, message):
    settings = {"input_shape": (1, 28, 28), "n_classes": 10} | arguments
    with pytest.raises(ValueError, match=message):
        CNN(**settings)


# ---------------------------------------------------------------- build_model


def test_build_mlp_fills_inputs_and_classes():
    model = build_model("mlp", (1, 28, 28), 10, widths=[256, 128])
    assert isinstance(model, MLP)
    assert model.widths == [784, 256, 128, 10]
    assert model.activation == "tanh"
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_build_cnn_defaults():
    model = build_model("cnn", (1, 28, 28), 10)
    assert isinstance(model, CNN)
    assert model.channels == [8, 16]
    assert model.widths == [64]
    assert model.activation == "relu"


def test_build_model_passes_options():
    model = build_model("cnn", (3, 32, 32), 10, widths=[32, 16], activation="sigmoid", channels=[4, 8])
    assert model.hidden_layer_names() == ["conv_act1", "conv_act2", "act1", "act2"]
    assert type(model.act2) is nn.Sigmoid
    assert model.conv2.out_channels == 8


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_build_model_seed_is_deterministic(kind):
    first = build_model(kind, (1, 8, 8), 10, widths=[16], seed=7)
    again = build_model(kind, (1, 8, 8), 10, widths=[16], seed=7)
    other = build_model(kind, (1, 8, 8), 10, widths=[16], seed=8)
    for (name, tensor), (_, same) in zip(first.state_dict().items(), again.state_dict().items()):
        assert torch.equal(tensor, same), name
    assert not torch.equal(first.out.weight, other.out.weight)


def test_build_model_seed_leaves_global_generator():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    build_model("mlp", (12,), 2, widths=[10, 7], seed=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_build_model_seed_matches_manual_seed():
    torch.manual_seed(3)
    reference = MLP([12, 10, 2], "tanh")
    model = build_model("mlp", (12,), 2, widths=[10], seed=3)
    assert torch.equal(model.fc1.weight, reference.fc1.weight)
    assert torch.equal(model.out.bias, reference.out.bias)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"kind": "rnn"}, ValueError, "unknown model kind 'rnn'; valid kinds: mlp, cnn"),
        ({"kind": "mlp", "widths": None}, ValueError, r"widths \(the hidden layer sizes\) is required for kind='mlp'"),
        ({"kind": "mlp", "channels": [8]}, ValueError, r"channels applies only to kind='cnn', got channels=\[8\]"),
        ({"n_classes": 1}, ValueError, "n_classes must be an integer of at least 2, got 1"),
        ({"input_shape": (0, 28)}, ValueError, r"input_shape must contain only positive integers, got \[0, 28\]"),
        ({"input_shape": 784}, TypeError, "input_shape must be a list of positive integers, got 784"),
        ({"seed": -2}, ValueError, r"seed \(or None\) must be an integer of at least 0, got -2"),
    ],
)
def test_build_model_rejects_invalid_arguments(arguments, error, message):
    settings = {"kind": "mlp", "input_shape": (1, 28, 28), "n_classes": 10, "widths": [32]} | arguments
    with pytest.raises(error, match=message):
        build_model(**settings)
