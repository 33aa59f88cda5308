"""Measure TE-guided training against plain training on mnist10k: speed of learning, accuracy and cost.

Run from the repository root:

    PYTHONPATH=src python benchmarks/te_guidance.py --epochs 15 --seeds 5 --target 0.94 --csv te_guidance.csv

Each run trains the MLP 784-256-128-10 (tanh) on the 8,000 training images of ``mnist10k`` (the
2,000 others are the test set) with mini-batches of 64, on one CPU thread, with recording off, and
evaluates after every epoch. Variants:

- ``off``: plain training.
- ``scale``: :class:`infoplane.guidance.TEGuidance` with its defaults (pair act2 -> output joined by
  out.weight, window 1,024 samples, refresh every 10 steps, delay 0, scale 1).
- ``penalty-reward`` and ``penalty``: :class:`infoplane.guidance.TEPenalty` on the same pair with
  weight -1 (rewards TE) and +1 (penalises it), temperature 0.1, delay 0.
- ``scale-10`` and ``penalty-reward-10``: the same with scale 10 and weight -10 (not run by default).

The optimizers are SGD (learning rate 0.01, momentum 0.9) and Adam (learning rate 0.001). The
script prints one Markdown table of learning results, then one of time per training step.
``--csv`` also writes every run's per-epoch metrics; ``--from-csv`` summarises such files (several
may be given) at another ``--target`` without training again.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from infoplane.datasets import load_dataset
from infoplane.guidance import TEGuidance, TEPenalty
from infoplane.models import build_model
from infoplane.training import Trainer

LEARNING_RATES = {"sgd": 0.01, "adam": 0.001}
BATCH_SIZE = 64
WIDTHS = [256, 128]
# Variant name -> (kind, TEGuidance scale or TEPenalty weight).
VARIANTS = {"off": ("off", 0.0), "scale": ("scale", 1.0), "scale-10": ("scale", 10.0),
            "penalty-reward": ("penalty", -1.0), "penalty": ("penalty", 1.0), "penalty-reward-10": ("penalty", -10.0)}
DEFAULT_VARIANTS = ["off", "scale", "penalty-reward", "penalty"]


def make_guidance(variant: str, model: torch.nn.Module, pairs=None) -> tuple[list, list]:
    """Return the Trainer's (callbacks, loss_terms) for one variant."""
    kind, value = VARIANTS[variant]
    if kind == "scale":
        return [TEGuidance(model, pairs=pairs, scale=value)], []
    if kind == "penalty":
        return [], [TEPenalty(model, pairs=pairs, weight=value)]
    return [], []


def train_once(dataset, optimizer: str, variant: str, seed: int, epochs: int) -> pd.DataFrame:
    torch.manual_seed(seed)
    model = build_model("mlp", dataset.input_shape, dataset.n_classes, widths=WIDTHS, activation="tanh")
    callbacks, loss_terms = make_guidance(variant, model)
    trainer = Trainer(model, dataset, optimizer=optimizer, learning_rate=LEARNING_RATES[optimizer],
                      batch_size=BATCH_SIZE, epochs=epochs, seed=seed, schedule=[], callbacks=callbacks,
                      loss_terms=loss_terms)
    metrics = pd.DataFrame(trainer.fit())
    metrics["guidance_seconds"] = callbacks[0].seconds if callbacks else 0.0
    return metrics.assign(optimizer=optimizer, variant=variant, seed=seed)


def summarise(runs: pd.DataFrame, target: float, epochs: int) -> pd.DataFrame:
    """Return one row per (optimizer, variant): epochs to ``target`` test accuracy, final accuracy, seconds."""
    rows = []
    for (optimizer, variant), group in runs.groupby(["optimizer", "variant"], sort=False):
        reached, finals, seconds = [], [], []
        for _, run in group.groupby("seed"):
            hits = run.loc[run["test_accuracy"] >= target, "epoch"]
            reached.append(int(hits.min()) if len(hits) else np.nan)
            finals.append(run["test_accuracy"].iloc[-1])
            seconds.append(run["seconds"].mean())
        reached = np.array(reached, dtype=float)
        rows.append({
            "optimizer": optimizer, "guidance": variant, "runs": len(finals),
            f"reached {target:.0%}": int(np.isfinite(reached).sum()),
            "epochs to target (mean ± sd)": f"{np.nanmean(reached):.1f} ± {np.nanstd(reached, ddof=1):.1f}"
            if np.isfinite(reached).sum() > 1 else "n/a",
            f"test accuracy at epoch {epochs} (mean ± sd)": f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1):.4f}",
            "seconds per epoch (mean)": f"{np.mean(seconds):.2f}",
        })
    return pd.DataFrame(rows)


def time_steps(dataset, variant: str, pairs, n_steps: int, repeat: int) -> float:
    """Return the best over ``repeat`` of the mean seconds per SGD step (forward, loss, backward, step)."""
    torch.manual_seed(0)
    model = build_model("mlp", dataset.input_shape, dataset.n_classes, widths=WIDTHS, activation="tanh")
    callbacks, loss_terms = make_guidance(variant, model, pairs)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    inputs, labels = torch.as_tensor(dataset.x_train), torch.as_tensor(dataset.y_train)
    best = np.inf
    for _ in range(repeat):
        started = time.perf_counter()
        for step in range(n_steps):
            batch = slice(step * BATCH_SIZE, (step + 1) * BATCH_SIZE)
            loss = torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
            for term in loss_terms:
                loss = loss + term(None)
            optimizer.zero_grad()
            loss.backward()
            for callback in callbacks:
                callback(None)
            optimizer.step()
        best = min(best, (time.perf_counter() - started) / n_steps)
    return best


ALL_PAIRS = [("x", "act1", "fc1.weight"), ("act1", "act2", "fc2.weight"), ("act2", "output", "out.weight")]


def cost_table(dataset, n_steps: int, repeat: int) -> pd.DataFrame:
    cases = [("off", None, "none"), ("scale", None, "act2 -> output (128 x 10)"),
             ("scale", ALL_PAIRS, "all three (784 x 256, 256 x 128, 128 x 10)"),
             ("penalty", None, "act2 -> output (128 x 10)"), ("penalty", ALL_PAIRS[1:], "act1 -> act2, act2 -> output")]
    plain = None
    rows = []
    for variant, pairs, described in cases:
        seconds = time_steps(dataset, variant, pairs, n_steps, repeat)
        plain = seconds if plain is None else plain
        rows.append({"guidance": variant, "pairs": described, "ms per step": f"{1000 * seconds:.2f}",
                     "relative to plain": f"{seconds / plain:.2f}"})
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="epochs per run")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 per optimizer and variant")
    parser.add_argument("--target", type=float, default=0.94, help="test accuracy whose first epoch is reported")
    parser.add_argument("--csv", default="", help="also write every run's per-epoch metrics to this CSV file")
    parser.add_argument("--optimizers", nargs="+", default=list(LEARNING_RATES), choices=list(LEARNING_RATES))
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--from-csv", nargs="+", default=[], help="summarise these metric CSV files, train nothing")
    parser.add_argument("--cost-only", action="store_true", help="print only the table of time per step")
    parser.add_argument("--cost-repeat", type=int, default=3, help="timings per case; the best is reported")
    parser.add_argument("--cost-steps", type=int, default=120, help="training steps per timing of the cost table")
    args = parser.parse_args()

    if args.from_csv:
        runs = pd.concat([pd.read_csv(path) for path in args.from_csv], ignore_index=True)
        print(markdown_table(summarise(runs, args.target, args.epochs)))
        return

    torch.set_num_threads(1)
    dataset = load_dataset("mnist10k", seed=0)
    if args.cost_only:
        print(markdown_table(cost_table(dataset, args.cost_steps, repeat=args.cost_repeat)))
        return
    runs = []
    for optimizer in args.optimizers:
        for variant in args.variants:
            for seed in range(args.seeds):
                runs.append(train_once(dataset, optimizer, variant, seed, args.epochs))
    runs = pd.concat(runs, ignore_index=True)
    if args.csv:
        runs.to_csv(args.csv, index=False)
    print(markdown_table(summarise(runs, args.target, args.epochs)))
    print()
    print(markdown_table(cost_table(dataset, args.cost_steps, repeat=args.cost_repeat)))


if __name__ == "__main__":
    main()
