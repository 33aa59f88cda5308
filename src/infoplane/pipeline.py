"""Build a run from a resolved config: data set, model, recorder and trainer, then train and record."""

from __future__ import annotations

import logging
import numpy as np
import torch

from .config import validate_analysis_settings
from .datasets import Dataset, load_dataset
from .guidance import build_guidance
from .models import build_model
from .recording import ActivationRecorder, binarize, INPUT_THRESHOLD
from .runs import RunFormatError, RunStore
from .training import Trainer, TrainingFailed, TrainingInterrupted, every_schedule, log_schedule

logger = logging.getLogger(__name__)


def build_dataset(config: dict) -> Dataset:
    data = config["data"]
    options = {"path": data["path"]} if data.get("path") else {}
    train_fraction = data["train_fraction"] or None
    return load_dataset(data["name"], train_fraction=train_fraction, seed=data["seed"], **options)


def build_probe(dataset: Dataset, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return at most ``size`` samples of train and test together, in a seeded random order."""
    if size < 1:
        raise ValueError(f"[data] probe_size must be a positive number of samples, got {size}")
    x = np.concatenate([dataset.x_train, dataset.x_test])
    y = np.concatenate([dataset.y_train, dataset.y_test])
    order = np.random.default_rng(seed).permutation(len(x))[:size]
    return x[order].astype(np.float32), y[order]


def build_config_model(config: dict, dataset: Dataset) -> torch.nn.Module:
    """Build the ``[model]`` of ``config`` for ``dataset``'s input shape and classes."""
    model = config["model"]
    return build_model(model["kind"], dataset.input_shape, dataset.n_classes, widths=model["widths"],
                       activation=model["activation"] or None, channels=model["channels"] or None)


def build_schedule(config: dict) -> list[int]:
    recording, epochs = config["recording"], config["training"]["epochs"]
    if recording["schedule"] == "log":
        return log_schedule(epochs, recording["n_records"])
    if recording["schedule"] == "every":
        return every_schedule(epochs, recording["every"])
    raise ValueError(f"unknown [recording] schedule {recording['schedule']!r}; valid: log, every")


SMALL_MODEL_PARAMETERS = 100_000


def set_threads(requested: int, model: torch.nn.Module) -> None:
    """Set torch's CPU thread count: ``requested`` if positive, else 1 for small models.

    Tiny networks (the 12-bit task has about 300 weights) run several times faster on
    one thread, because the per-operation cost of waking other threads dominates.
    """
    if requested > 0:
        torch.set_num_threads(requested)
    elif sum(parameter.numel() for parameter in model.parameters()) < SMALL_MODEL_PARAMETERS:
        torch.set_num_threads(1)


def check_run_config(config: dict) -> None:
    """Raise ValueError if the epochs, training seed or analysis settings of ``config`` are invalid."""
    epochs = config["training"]["epochs"]
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"the number of epochs must be a positive integer, got {epochs!r}; pass --epochs N with N >= 1")
    seed = config["training"]["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the training seed must be an integer >= 0, got {seed!r}; pass --seed S with S >= 0")
    validate_analysis_settings(config["analysis"])


def prepare(config: dict, store: RunStore, write_probe: bool) -> tuple[Trainer, ActivationRecorder]:
    """Build the data set, the seeded model, its recorder and the trainer of ``config``."""
    training, recording = config["training"], config["recording"]
    dataset = build_dataset(config)
    torch.manual_seed(training["seed"])
    model = build_config_model(config, dataset)
    set_threads(int(training["threads"]), model)
    recorder = ActivationRecorder(model, modes=tuple(recording["modes"]), thresholds=dict(recording["thresholds"]),
                                  keep_float=recording["keep_float"], max_units=recording["max_units"] or None,
                                  seed=training["seed"])
    callbacks, loss_terms = build_guidance(model, training, device=training["device"])
    probe = build_probe(dataset, config["data"]["probe_size"], config["data"]["seed"])
    if write_probe:
        x_flat = probe[0].reshape(len(probe[0]), -1)
        store.write_probe({"x": x_flat, "x_bits": binarize(x_flat, INPUT_THRESHOLD), "y": probe[1]})
    trainer = Trainer(model, dataset, optimizer=training["optimizer"], learning_rate=training["learning_rate"],
                      momentum=training["momentum"], batch_size=training["batch_size"], epochs=training["epochs"],
                      seed=training["seed"], device=training["device"], schedule=build_schedule(config),
                      recorder=recorder, store=store, probe=probe, save_weights=training["save_weights"],
                      callbacks=callbacks, loss_terms=loss_terms)
    return trainer, recorder


def train_run(config: dict, out, resume: bool = False, progress=None) -> RunStore:
    """Train and record ``config`` into the run folder ``out``; with ``resume``, continue that folder.

    The run's status in run.json ends as ``finished``, ``failed`` or ``interrupted``.
    """
    if resume:
        store = RunStore.open(out)
        if store.info.get("status") == "finished":
            logger.info("%s is already finished", store.path)
            return store
        config = store.config
    else:
        check_run_config(config)
        store = RunStore.create(out, config, seed=config["training"]["seed"])
    store.set_status("running")
    trainer, recorder = prepare(config, store, write_probe=not resume)
    try:
        trainer.fit(resume=resume, progress=progress)
    except TrainingFailed as error:
        store.set_status("failed", str(error))
        raise
    except (TrainingInterrupted, KeyboardInterrupt):
        store.set_status("interrupted")
        raise
    except Exception as error:
        store.set_status("failed", f"{type(error).__name__}: {error}")
        raise
    finally:
        recorder.close()
    store.set_status("finished")
    return store


__all__ = ["RunFormatError", "build_config_model", "build_dataset", "build_probe", "build_schedule", "check_run_config",
           "prepare", "train_run"]
