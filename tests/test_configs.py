"""Every shipped config loads, builds and trains one recorded epoch."""

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from infoplane.cli import app
from infoplane.config import load_config, shipped_config_names
from infoplane.pipeline import train_run
from infoplane.runs import unpack_bits

SHIPPED = ["digits-mlp", "mnist-cnn", "mnist-cnn-te-guided", "mnist-mlp", "mnist-mlp-relu", "mnist-mlp-te-guided",
           "szt-relu", "szt-tanh"]
TEST_PROBE_SIZE = 300


def test_shipped_names():
    assert shipped_config_names() == SHIPPED


def test_configs_command_lists_every_config():
    result = CliRunner().invoke(app, ["configs"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.strip().splitlines()]
    assert listed == SHIPPED


def test_mnist_mlp_matches_its_description():
    config = load_config("mnist-mlp")
    assert config["data"]["name"] == "mnist10k"
    assert config["data"]["probe_size"] == 2000
    assert config["model"]["kind"] == "mlp"
    assert config["model"]["widths"] == [256, 128]
    assert config["model"]["activation"] == "tanh"


@pytest.mark.parametrize(("base", "variant"), [("szt-tanh", "szt-relu"), ("mnist-mlp", "mnist-mlp-relu")])
def test_relu_variant_differs_only_in_activation(base, variant):
    first, second = load_config(base), load_config(variant)
    for table in ("data", "training", "recording", "analysis"):
        assert first[table] == second[table], table
    assert second["model"] == {**first["model"], "activation": "relu"}


def test_mnist_cnn_is_a_cnn():
    assert load_config("mnist-cnn")["model"]["kind"] == "cnn"


def expected_widths(config):
    """Recorded units per layer: pixels of the input, then hidden widths (CNN: channels first), then classes."""
    n_inputs = {"szt": 12, "digits": 64, "mnist10k": 784}[config["data"]["name"]]
    model = config["model"]
    hidden = (model["channels"] if model["kind"] == "cnn" else []) + model["widths"]
    n_classes = 2 if config["data"]["name"] == "szt" else 10
    return [n_inputs, *hidden, n_classes]


@pytest.mark.parametrize("name", SHIPPED)
def test_config_trains_one_epoch(tmp_path, name):
    config = load_config(name)
    config["training"]["epochs"] = 1
    config["data"]["probe_size"] = TEST_PROBE_SIZE

    store = train_run(config, tmp_path / name)

    assert store.info["status"] == "finished"
    metrics = store.read_metrics()
    assert list(metrics["epoch"]) == [1]
    for column in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        assert math.isfinite(metrics[column].iloc[0]), column
    if config["data"]["name"] != "szt":
        # Better than the loss of a uniform guess over 10 classes after one epoch.
        assert metrics["test_loss"].iloc[0] < math.log(10)

    assert store.recorded_epochs() == [1]
    arrays = store.read_epoch(1)
    layers = list(arrays["layers"])
    widths = [int(arrays[f"n_units/{layer}"]) for layer in layers]
    assert widths == expected_widths(config)
    n_train = len(arrays["order"])
    assert sorted(arrays["order"]) == list(range(n_train))
    for layer, width in zip(layers, widths):
        assert unpack_bits(arrays[f"stream_bits/{layer}"], width).shape == (n_train, width)
        if layer != "x":
            assert arrays[f"probe_float/{layer}"].shape == (TEST_PROBE_SIZE, width)
    assert np.isfinite(arrays["probe_float/output"].astype(np.float32)).all()
