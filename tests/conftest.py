"""Shared fixtures: small configs that train in seconds."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture
def tiny_config():
    """The szt-tanh config cut to 6 epochs, every epoch recorded, 2 surrogates."""
    from infoplane.config import load_config

    config = load_config("szt-tanh")
    config["training"]["epochs"] = 6
    config["recording"]["schedule"] = "every"
    config["recording"]["every"] = 1
    config["analysis"]["n_surrogates"] = 2
    return config
