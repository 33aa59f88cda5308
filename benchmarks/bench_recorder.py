"""Measure the cost of the ActivationRecorder: one config trained with and without it.

Run from the repository root (PYTHONPATH is not needed once infoplane is installed):

    PYTHONPATH=src python benchmarks/bench_recorder.py --config mnist-mlp --epochs 20 --repeat 3

Both trainings use the same data, seed, epochs and thread count, and both write metrics
and a checkpoint after every epoch to a temporary run folder. The recorded training
records every epoch: the training stream of every layer, the probe pass and the epoch
file. The plain training has ``recorder=None``. The two alternate ``--repeat`` times and
each keeps its shortest time, because other processes on a shared machine only ever add
time. The overhead is the recorded time over the plain time, minus 1, for wall-clock time
and for the process's CPU time (which other processes disturb less). Peak memory is the
process's maximum resident set size (``resource.getrusage``) at the end, so it covers
the larger training. ``--profile FILE`` writes a cProfile of the last recorded training.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import resource
import tempfile
import time
from pathlib import Path

import torch

from infoplane.config import load_config
from infoplane.pipeline import build_config_model, build_dataset, build_probe, set_threads
from infoplane.recording import ActivationRecorder
from infoplane.runs import RunStore
from infoplane.training import Trainer

KIB_PER_MIB = 1024


def _train(config: dict, dataset, folder: Path, record: bool, profile: str | None) -> tuple[float, float, list[dict]]:
    """Train ``config`` once; return (wall-clock seconds, CPU seconds, metric rows) of the fit."""
    training, recording = config["training"], config["recording"]
    torch.manual_seed(training["seed"])
    model = build_config_model(config, dataset)
    set_threads(int(training["threads"]), model)
    recorder = probe = None
    if record:
        recorder = ActivationRecorder(model, modes=tuple(recording["modes"]), keep_float=recording["keep_float"],
                                      max_units=recording["max_units"] or None, seed=training["seed"])
        probe = build_probe(dataset, config["data"]["probe_size"], config["data"]["seed"])
    store = RunStore.create(folder, config, seed=training["seed"])
    epochs = training["epochs"]
    trainer = Trainer(model, dataset, optimizer=training["optimizer"], learning_rate=training["learning_rate"],
                      momentum=training["momentum"], batch_size=training["batch_size"], epochs=epochs,
                      seed=training["seed"], schedule=list(range(1, epochs + 1)), recorder=recorder,
                      store=store, probe=probe)

    profiler = cProfile.Profile() if profile else None
    started, started_cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    rows = trainer.fit()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    if recorder is not None:
        recorder.close()
    return seconds, cpu_seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="mnist-mlp", help="shipped config name or TOML path")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each training (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="trainings of each kind, alternating (default 3)")
    parser.add_argument("--profile", default=None, help="write a cProfile of the recorded training here")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    config = load_config(arguments.config)
    config["training"]["epochs"] = arguments.epochs
    dataset = build_dataset(config)
    results = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(arguments.repeat):
            for record in (False, True):
                run_folder = Path(folder) / f"{'recorded' if record else 'plain'}-{repeat}"
                results[record].append(_train(config, dataset, run_folder, record, arguments.profile if record else None))
        epoch_bytes = sum(path.stat().st_size for path in (Path(folder) / "recorded-0" / "epochs").iterdir())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB

    plain_rows, recorded_rows = results[False][0][2], results[True][0][2]
    columns = ("train_loss", "test_loss", "test_accuracy")
    largest_difference = max(abs(a[c] - b[c]) for a, b in zip(plain_rows, recorded_rows) for c in columns)
    print(f"config {arguments.config}, {arguments.epochs} epochs, every epoch recorded, "
          f"torch threads {torch.get_num_threads()}, best of {arguments.repeat}")
    print("| training | wall-clock time (s) | CPU time (s) | all wall-clock times (s) |")
    print("| --- | ---: | ---: | --- |")
    best = {}
    for record, label in ((False, "recorder=None"), (True, "recording every epoch")):
        walls = [wall for wall, _, _ in results[record]]
        best[record] = (min(walls), min(cpu for _, cpu, _ in results[record]))
        print(f"| {label} | {best[record][0]:.1f} | {best[record][1]:.1f} | {', '.join(f'{wall:.1f}' for wall in walls)} |")
    print(f"overhead, wall-clock: {best[True][0] / best[False][0] - 1:.1%}; "
          f"CPU: {best[True][1] / best[False][1] - 1:.1%}")
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
    print(f"epoch files: {epoch_bytes / 2**20:.1f} MiB for {arguments.epochs} epochs")
    print(f"largest metric difference between the two trainings: {largest_difference:.3g}")


if __name__ == "__main__":
    main()
