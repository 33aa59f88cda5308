"""Time the MI baselines and the KSG transfer entropy, and measure their peak memory.

Run from the repository root (PYTHONPATH is not needed once infoplane is installed):

    PYTHONPATH=src python benchmarks/bench_mi.py

It prints one Markdown table row per case. Peak memory is the largest amount
of memory that Python and NumPy allocated during the call, measured by
tracemalloc (arrays created before the call, such as the inputs, are excluded).
Times are wall-clock seconds of one call, the best of ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from infoplane.estimators import binned_information, continuous_transfer_entropy, kde_information


def _coupled_process(n_steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Y_{t+1} = 0.5 Y_t + 0.8 X_t + e_t, with X and e independent standard normal."""
    x, noise = rng.standard_normal((2, n_steps))
    y = np.zeros(n_steps)
    for t in range(n_steps - 1):
        y[t + 1] = 0.5 * y[t] + 0.8 * x[t] + noise[t]
    return x, y


def _cases(rng: np.random.Generator):
    """Yield (description, call) pairs. Each call runs one estimate on data made here."""
    for n_samples, n_units in ((4096, 10), (10_000, 256), (10_000, 1000)):
        activations = np.tanh(rng.standard_normal((n_samples, n_units)))
        labels = rng.integers(0, 10, size=n_samples)
        yield (
            f"kde_information, upper bound, {n_samples:,} x {n_units}, 10 classes",
            lambda a=activations, y=labels: kde_information(a, y, bound="upper"),
        )

    inputs = rng.integers(0, 2, size=(4096, 12))
    activations = np.tanh(inputs @ rng.standard_normal((12, 10)))
    labels = inputs[:, 0]
    yield (
        "binned_information, 30 bins, 4,096 x 10",
        lambda: binned_information(activations, inputs, labels, value_range=(-1.0, 1.0)),
    )

    x, y = _coupled_process(10_000, rng)
    yield (
        "continuous_transfer_entropy, KSG, k=l=1, 10,000 steps",
        lambda: continuous_transfer_entropy(x, y, method="ksg", random_state=0),
    )


def _measure(call, repeat: int) -> tuple[float, float, float]:
    """Return (best seconds, peak MiB, value) of ``call``, the memory from a separate traced run."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = call()
        times.append(time.perf_counter() - start)

    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), peak / 2**20, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per case; the best is reported")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data")
    args = parser.parse_args()

    print("| case | time (s) | peak memory (MiB) | result (bits) |")
    print("| --- | ---: | ---: | --- |")
    for description, call in _cases(np.random.default_rng(args.seed)):
        seconds, peak_mib, value = _measure(call, args.repeat)
        shown = ", ".join(f"{v:.3f}" for v in np.atleast_1d(value))
        print(f"| {description} | {seconds:.3f} | {peak_mib:.1f} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
