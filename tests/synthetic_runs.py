"""Small analysed run folders written directly, without training, for the figure, report and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from infoplane.analysis.planes import MEASURE_COLUMNS, layer_pairs
from infoplane.config import load_config
from infoplane.runs import RunStore

HIDDEN = ["act1", "act2", "act3"]
RECORDED_EPOCHS = [1, 2, 3, 5, 8, 13, 21, 34]
N_PROBE = 256


def synthetic_measures(seed: int, surrogates: bool = True) -> pd.DataFrame:
    """Return a measures table with every TE and MI plane of :data:`HIDDEN`, values drawn from ``seed``."""
    generator = np.random.default_rng(seed)
    rows = []
    for epoch in RECORDED_EPOCHS:
        growth = np.log2(epoch + 1)
        for mode in ("stream", "probe"):
            for delay in (1, 0):
                for plane, source, target in layer_pairs(HIDDEN):
                    mean = 1e-3 * growth * (1 + generator.random())
                    for aggregate, value in (("mean", mean), ("sum", 30 * mean), ("max", 5 * mean)):
                        rows.append({"epoch": epoch, "measure": "te", "estimator": "plugin", "plane": plane,
                                     "source": source, "target": target, "alignment": delay, "mode": mode,
                                     "aggregate": aggregate, "value": value,
                                     "surrogate_mean": 0.4 * mean if surrogates else np.nan, "n_pairs": 30,
                                     "n_constant_units": 0, "seed": seed, "flag": ""})
        for index, layer in enumerate([*HIDDEN, "output"]):
            for estimator in ("binning", "kde-upper"):
                information_x = max(8.0 - 2 * index - 0.1 * growth, 0.1) + generator.random()
                information_y = min(0.2 * growth, 1.0) * (1 - 0.1 * index)
                rows.append({"epoch": epoch, "measure": "mi", "estimator": estimator, "plane": "xy", "source": "x",
                             "target": layer, "mode": "probe", "aggregate": "value", "value": information_x, "flag": ""})
                rows.append({"epoch": epoch, "measure": "mi", "estimator": estimator, "plane": "xy", "source": layer,
                             "target": "y", "mode": "probe", "aggregate": "value", "value": information_y, "flag": ""})
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def synthetic_metrics(seed: int) -> pd.DataFrame:
    generator = np.random.default_rng(seed + 1000)
    epochs = np.arange(1, RECORDED_EPOCHS[-1] + 1)
    accuracy = 1 - 0.5 * np.exp(-epochs / 10) + 0.01 * generator.random(len(epochs))
    loss = 0.7 * np.exp(-epochs / 15) + 0.01 * generator.random(len(epochs))
    return pd.DataFrame({"epoch": epochs, "train_loss": loss, "train_accuracy": accuracy, "test_loss": loss * 1.1,
                         "test_accuracy": accuracy - 0.02, "seconds": 0.1})


def make_run(path: Path, seed: int = 0, activation: str = "tanh", name: str = "szt-tanh",
             surrogates: bool = True, summary: dict | None = None, primary_only: bool = False) -> Path:
    """Write an analysed run folder at ``path``: run.json, probe.npz, metrics and measures (and summary.json).

    ``primary_only`` keeps only the training-stream, delay-1 TE rows and the binned MI rows, so
    that drawing the run's figures is quick.
    """
    config = load_config("szt-tanh")
    config["name"] = name
    config["model"]["activation"] = activation
    config["training"]["seed"] = seed
    store = RunStore.create(path, config, seed=seed)
    store.write_probe({"y": np.arange(N_PROBE) % 2})
    store.write_metrics(synthetic_metrics(seed).to_dict("records"))
    measures = synthetic_measures(seed, surrogates)
    if primary_only:
        te = (measures.measure == "te") & (measures.alignment == 1) & (measures["mode"] == "stream")
        measures = measures[te | (measures.estimator == "binning")]
    store.write_measures(measures)
    if summary is not None:
        store.write_summary(summary)
    store.set_status("finished")
    return Path(path)
