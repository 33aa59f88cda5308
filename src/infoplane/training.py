"""Trainer: mini-batch training with a recording schedule, per-epoch metrics and checkpoints."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .recording import INPUT_LAYER, ActivationRecorder, NonFiniteActivationError, to_float16
from .runs import RunStore, pack_bits

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")
CHECKPOINT_SECONDS = 30.0


class TrainingFailed(RuntimeError):
    """Training produced a non-finite loss or activation; the message names the epoch."""


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGINT after saving the last complete epoch."""


def log_schedule(epochs: int, n_records: int) -> list[int]:
    """Return about ``n_records`` epochs in 1..epochs, log-spaced: every epoch early, sparser later."""
    if epochs < 1 or n_records < 1:
        raise ValueError(f"epochs and n_records must be positive, got {epochs} and {n_records}")
    if n_records >= epochs:
        return list(range(1, epochs + 1))
    n_points = n_records
    schedule = np.unique(np.round(np.logspace(0, math.log10(epochs), n_points)).astype(int))
    while len(schedule) < n_records:
        n_points += 1
        schedule = np.unique(np.round(np.logspace(0, math.log10(epochs), n_points)).astype(int))
    return [int(epoch) for epoch in schedule]


def every_schedule(epochs: int, every: int) -> list[int]:
    """Return epochs 1, 1 + every, ... and always the last epoch."""
    if every < 1:
        raise ValueError(f"every must be a positive number of epochs, got {every}")
    return sorted(set(range(1, epochs + 1, every)) | {epochs})


def make_optimizer(name: str, parameters, learning_rate: float, momentum: float = 0.9):
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate)
    return torch.optim.SGD(parameters, lr=learning_rate, momentum=momentum)


@contextmanager
def _deferred_sigint(trainer: "Trainer"):
    """Turn the first SIGINT into a stop request checked after each epoch; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.stop_requested = True
        logger.warning("interrupt received: finishing the current epoch, then saving (press Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """Train ``model`` on ``dataset`` with cross-entropy, recording the scheduled epochs.

    Epochs are numbered from 1. On a recorded epoch the recorder captures every
    training forward pass (the stream) and, after the epoch, the probe set. Both go
    to ``store`` as one epoch file. Train loss and accuracy are the means over the
    epoch's mini-batches as the optimizer saw them; test loss and accuracy come from
    an eval-mode pass after the epoch.

    ``callbacks`` are called as ``callback(trainer)`` between ``backward()`` and the
    optimizer step, so they may rescale gradients. ``loss_terms`` are called as
    ``term(trainer)`` after each training forward pass; the scalar tensors they return
    are added to the loss before ``backward()``, but not to the reported train loss.
    """

    def __init__(self, model: nn.Module, dataset, *, optimizer: str = "adam", learning_rate: float = 1e-3,
                 momentum: float = 0.9, batch_size: int = 256, epochs: int = 100, seed: int = 0,
                 device: str | torch.device = "cpu", schedule=None, recorder: ActivationRecorder | None = None,
                 store: RunStore | None = None, probe: tuple[np.ndarray, np.ndarray] | None = None,
                 save_weights: bool = False, callbacks=(), loss_terms=()):
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(optimizer, model.parameters(), learning_rate, momentum)
        self.batch_size, self.epochs, self.seed = batch_size, epochs, seed
        self.schedule = sorted(set(schedule if schedule is not None else log_schedule(epochs, 130)))
        self.recorder, self.store, self.save_weights = recorder, store, save_weights
        self.callbacks = list(callbacks)
        self.loss_terms = list(loss_terms)
        self.x_train = torch.as_tensor(dataset.x_train, dtype=torch.float32, device=self.device)
        self.y_train = torch.as_tensor(dataset.y_train, dtype=torch.long, device=self.device)
        self.x_test = torch.as_tensor(dataset.x_test, dtype=torch.float32, device=self.device)
        self.y_test = torch.as_tensor(dataset.y_test, dtype=torch.long, device=self.device)
        self.probe = probe
        self.generator = torch.Generator().manual_seed(seed)
        self.loss_function = nn.CrossEntropyLoss()
        self.metrics: list[dict] = []
        self.epoch = 0
        self.stop_requested = False

    # state

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch = int(state["epoch"])

    def _restore(self) -> None:
        state = self.store.read_checkpoint()
        if state is None:
            logger.info("no checkpoint in %s: starting from epoch 1", self.store.path)
            return
        self.load_state_dict(state)
        metrics = self.store.read_metrics()
        self.metrics = metrics[metrics["epoch"] <= self.epoch].to_dict("records")
        for epoch in self.store.recorded_epochs():
            if epoch > self.epoch:
                (self.store.path / "epochs" / f"{epoch:06d}.npz").unlink()
        logger.info("resuming %s after epoch %d", self.store.path, self.epoch)

    def _checkpoint(self) -> None:
        if self.store is not None:
            self.store.write_metrics(self.metrics)
            self.store.write_checkpoint(self.state_dict())

    # training

    def fit(self, resume: bool = False, progress=None) -> list[dict]:
        """Train up to ``self.epochs``; with ``resume``, continue after the store's checkpoint.

        ``progress``, if given, is called as ``progress(epoch, row)`` after each epoch.
        Returns the metric rows, one per epoch.
        """
        if resume and self.store is not None:
            self._restore()
        last_checkpoint = time.monotonic()
        with _deferred_sigint(self):
            try:
                for epoch in range(self.epoch + 1, self.epochs + 1):
                    recorded = epoch in self.schedule
                    row = self._train_epoch(epoch, recorded)
                    self.epoch = epoch
                    self.metrics.append(row)
                    if recorded:
                        self._save_epoch(epoch)
                    due = time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS
                    if recorded or due or self.stop_requested or epoch == self.epochs:
                        self._checkpoint()
                        last_checkpoint = time.monotonic()
                    if progress is not None:
                        progress(epoch, row)
                    if self.stop_requested and epoch < self.epochs:
                        raise TrainingInterrupted(f"interrupted after epoch {epoch}")
            except (TrainingFailed, NonFiniteActivationError) as error:
                if self.store is not None:
                    self.store.write_metrics(self.metrics)
                raise TrainingFailed(str(error)) from error
        return self.metrics

    def _train_epoch(self, epoch: int, recorded: bool) -> dict:
        started = time.perf_counter()
        if self.recorder is not None:
            self.recorder.start_epoch() if recorded else self.recorder.stop()
        self.model.train()
        order = torch.randperm(len(self.x_train), generator=self.generator).to(self.device)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            labels = self.y_train[batch]
            try:
                logits = self.model(self.x_train[batch])
            except NonFiniteActivationError as error:
                raise TrainingFailed(f"epoch {epoch}: {error}") from error
            loss = self.loss_function(logits, labels)
            objective = loss
            for term in self.loss_terms:
                objective = objective + term(self)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            for callback in self.callbacks:
                callback(self)
            self.optimizer.step()
            if recorded and self.recorder is not None:
                self.recorder.update(labels, batch)
            loss_sum += loss.detach() * len(batch)
            correct += (logits.detach().argmax(dim=1) == labels).sum()
        train_loss = float(loss_sum) / len(order)
        if not math.isfinite(train_loss):
            raise TrainingFailed(f"epoch {epoch}: the training loss is not finite ({train_loss}); "
                                 "lower the learning rate or check the inputs")
        test_loss, test_accuracy = self.evaluate()
        return {"epoch": epoch, "train_loss": train_loss, "train_accuracy": float(correct) / len(order),
                "test_loss": test_loss, "test_accuracy": test_accuracy, "seconds": time.perf_counter() - started}

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Return the test loss (nats) and accuracy of the current weights, in eval mode."""
        self.model.eval()
        if self.recorder is not None:
            with self.recorder.paused():
                logits = self.model(self.x_test)
        else:
            logits = self.model(self.x_test)
        loss = float(self.loss_function(logits, self.y_test))
        accuracy = float((logits.argmax(dim=1) == self.y_test).float().mean())
        self.model.train()
        return loss, accuracy

    def _save_epoch(self, epoch: int) -> None:
        if self.store is None or self.recorder is None:
            return
        stream = self.recorder.compute()
        self.recorder.stop()
        arrays = {"layers": np.array(self.recorder.layers), "order": stream.order, "stream_y": stream.labels}
        for name in stream.layers:
            arrays[f"stream_bits/{name}"] = pack_bits(stream.bits[name])
            arrays[f"n_units/{name}"] = np.array(stream.bits[name].shape[1])
            if name in stream.floats:
                arrays[f"stream_float/{name}"] = stream.floats[name]
            if self.recorder.unit_indices.get(name) is not None:
                arrays[f"units/{name}"] = self.recorder.unit_indices[name]
        if self.probe is not None and "probe" in self.recorder.modes:
            probe = self.recorder.probe(*self.probe)
            for name in probe.layers:
                if name != INPUT_LAYER:
                    arrays[f"probe_float/{name}"] = to_float16(probe.floats[name])
                    arrays[f"probe_bits/{name}"] = pack_bits(probe.bits[name])
        if self.save_weights:
            for name, tensor in self.model.state_dict().items():
                arrays[f"weights/{name}"] = tensor.detach().cpu().numpy()
        self.store.write_epoch(epoch, arrays)
