"""Time transfer_entropy_matrix on binary layers against PyInform per pair and against plain matrix products.

The data are two random binary layers, (n_steps, n_sources) and (n_steps, n_targets), with k = l = delay = 1.
Each timing is the best of ``--repeats`` runs. PyInform is timed on a random sample of pairs and scaled up to
all pairs. The matrix-product baseline is eight float32 products (n_sources x n_steps) @ (n_steps x n_targets)
on the same backend. The script prints a markdown table and, unless ``--no-write``, replaces the section
"## All-pairs transfer entropy" of docs/benchmarks.md with it.

Run from the repository root::

    python benchmarks/bench_te_matrix.py
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
from pathlib import Path
import re
import shlex
import subprocess
import sys
import time

import numpy as np
import pyinform
import torch

from infoplane import estimators as est

SECTION_TITLE = "## All-pairs transfer entropy"
N_BASELINE_PRODUCTS = 8


def best_time(function, repeats: int) -> float:
    """Return the shortest wall time in seconds of ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def time_pyinform(sources, targets, n_pairs: int, rng) -> tuple[float, float]:
    """Return PyInform's seconds per pair and the largest |PyInform - matrix| over the sampled pairs, in bits."""
    rows = rng.integers(0, sources.shape[1], n_pairs)
    columns = rng.integers(0, targets.shape[1], n_pairs)
    source_columns = [np.ascontiguousarray(sources[:, i]) for i in rows]
    target_columns = [np.ascontiguousarray(targets[:, j]) for j in columns]

    start = time.perf_counter()
    values = [pyinform.transfer_entropy(x, y, k=1) for x, y in zip(source_columns, target_columns)]
    seconds_per_pair = (time.perf_counter() - start) / n_pairs

    matrix = est.transfer_entropy_matrix(sources, targets)
    max_difference = float(np.max(np.abs(matrix[rows, columns] - np.array(values))))
    return seconds_per_pair, max_difference


def time_products(n_sources: int, n_steps: int, n_targets: int, device, repeats: int) -> float:
    """Return the best time of eight float32 (n_sources x n_steps) @ (n_steps x n_targets) products."""
    rng = np.random.default_rng(0)
    left = rng.random((n_sources, n_steps), dtype=np.float32)
    right = rng.random((n_steps, n_targets), dtype=np.float32)
    if device is None:
        return best_time(lambda: [left @ right for _ in range(N_BASELINE_PRODUCTS)], repeats)

    left_tensor = torch.from_numpy(left).to(device)
    right_tensor = torch.from_numpy(right).to(device)

    def products():
        results = [left_tensor @ right_tensor for _ in range(N_BASELINE_PRODUCTS)]
        if device.type == "cuda":
            torch.cuda.synchronize()
        return results

    return best_time(products, repeats)


def cpu_model() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    match = re.search(r"^Model name:\s*(.+)$", lscpu, flags=re.MULTILINE)
    return match.group(1).strip() if match else "unknown CPU"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8192, help="time steps per series")
    parser.add_argument("--sources", type=int, default=256, help="number of source series")
    parser.add_argument("--targets", type=int, default=256, help="number of target series")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement; the best is kept")
    parser.add_argument("--pyinform-pairs", type=int, default=500, help="pairs timed with PyInform, then scaled")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random layers")
    parser.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"), help="markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print the table without updating --doc")
    return parser.parse_args()


def measure(arguments) -> tuple[list[dict], dict]:
    """Time every available backend; return one row per backend and the PyInform figures."""
    rng = np.random.default_rng(arguments.seed)
    sources = rng.integers(0, 2, (arguments.steps, arguments.sources)).astype(np.uint8)
    targets = rng.integers(0, 2, (arguments.steps, arguments.targets)).astype(np.uint8)
    n_pairs = arguments.sources * arguments.targets

    seconds_per_pair, max_difference = time_pyinform(sources, targets, arguments.pyinform_pairs, rng)
    pyinform_total = seconds_per_pair * n_pairs

    backends = [("numpy", None), ("torch cpu", torch.device("cpu"))]
    if torch.cuda.is_available():
        backends.append(("torch cuda", torch.device("cuda")))
    rows = []
    for name, device in backends:
        matrix_seconds = best_time(lambda: est.transfer_entropy_matrix(sources, targets, device=device), arguments.repeats)
        product_seconds = time_products(arguments.sources, arguments.steps, arguments.targets, device, arguments.repeats)
        rows.append(
            {
                "backend": name,
                "matrix_seconds": matrix_seconds,
                "product_seconds": product_seconds,
                "speedup_over_pyinform": pyinform_total / matrix_seconds,
                "ratio_to_products": matrix_seconds / product_seconds,
            }
        )
    pyinform_figures = {"per_pair": seconds_per_pair, "total": pyinform_total, "max_difference": max_difference}
    return rows, pyinform_figures


def format_table(rows: list[dict]) -> str:
    lines = [
        "| backend | transfer_entropy_matrix (s) | 8 float32 products (s) | speed-up over PyInform | time / 8 products |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['matrix_seconds']:.4f} | {row['product_seconds']:.4f} | "
            f"{row['speedup_over_pyinform']:.0f}x | {row['ratio_to_products']:.2f} |"
        )
    return "\n".join(lines)


def format_section(arguments, table: str, pyinform_figures: dict, load_before, load_after) -> str:
    command = "python " + " ".join(shlex.quote(part) for part in sys.argv)
    today = datetime.date.today().isoformat()
    return f"""{SECTION_TITLE}

`transfer_entropy_matrix` ran on two random binary layers, {arguments.sources} sources x {arguments.targets}
targets over {arguments.steps} steps (k = l = delay = 1), best of {arguments.repeats} runs. PyInform
{importlib.metadata.version("pyinform")} was called per pair on {arguments.pyinform_pairs} random pairs and
scaled to all {arguments.sources * arguments.targets}. The baseline is eight float32
({arguments.sources} x {arguments.steps}) @ ({arguments.steps} x {arguments.targets}) products on the same
backend. Targets: at least 100x faster than PyInform and at most 2x the eight products.

{table}

- PyInform: {pyinform_figures['per_pair'] * 1e6:.1f} us per pair, {pyinform_figures['total']:.2f} s for all pairs
  (estimated). Largest difference from `transfer_entropy_matrix` on the sampled pairs:
  {pyinform_figures['max_difference']:.1e} bits.
- Command: `{command}`
- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, NumPy {np.__version__}.
- Date: {today}. Load average (1 min) {load_before:.2f} before and {load_after:.2f} after the run.
"""


def write_section(path: Path, section: str) -> None:
    """Replace the section under SECTION_TITLE in ``path`` (up to the next "## " heading), or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nTiming records; each section names its script.\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\n.*?(?=^## |\Z)", flags=re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    arguments = parse_arguments()
    load_before = os.getloadavg()[0]
    rows, pyinform_figures = measure(arguments)
    load_after = os.getloadavg()[0]

    table = format_table(rows)
    print(table)
    print(f"PyInform: {pyinform_figures['per_pair'] * 1e6:.1f} us per pair; max |difference| "
          f"{pyinform_figures['max_difference']:.1e} bits; load average {load_before:.2f} -> {load_after:.2f}")
    if not arguments.no_write:
        write_section(arguments.doc, format_section(arguments, table, pyinform_figures, load_before, load_after))


if __name__ == "__main__":
    main()
