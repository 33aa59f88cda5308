"""Print the fitting and compression phases of one plane family from summary.json, as a Markdown table.

Usage (see docs/experiments.md, "Sensitivity")::

    python scripts/phases_table.py RUN_DIR --family mi/kde-upper --label "V = 0.1"

One row per call, one cell per layer. A cell gives the fitting bits (the rise from the first
recorded epoch to the peak), the peak epoch and the compression bits (the fall from the peak to
the last recorded epoch). It ends with the p-value of the compression trend from summary.json,
or "–" when there is no fall. Values in bits.
A family ``concentration/stream/delay0`` (or another mode and delay) prints instead the Spearman
correlation of depth and adjacent-layer TE at the last epoch, its p-value, and each transfer's share.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def phase_cell(layer: dict) -> str:
    """Format one layer's phases: ``+fit @peak −compression (p)``, in bits."""
    p_value = layer.get("compression_p_value")
    p_text = "–" if p_value is None else f"p={p_value:.3f}"
    return (f"+{layer['fitting_bits']:.2f} @{layer['peak_epoch']} "
            f"−{layer['compression_bits']:.2f} ({p_text})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder with summary.json")
    parser.add_argument("--family", default="mi/kde-upper",
                        help="key of claims.phases, such as mi/kde-upper, mi/binning or te/stream/delay0")
    parser.add_argument("--label", default="", help="first cell of the row")
    parser.add_argument("--header", action="store_true", help="also print the table header")
    arguments = parser.parse_args()
    claims = json.loads((arguments.run / "summary.json").read_text())["claims"]
    if arguments.family.startswith("concentration/"):
        found = claims["concentration"][arguments.family.split("/", 1)[1]]
        shares = ", ".join(f"{pair} {share:.2f}" for pair, share in zip(found["pairs"], found["mean_share"]))
        print(f"| {arguments.label} | {found['rho']:+.2f} (p={found['p_value']:.3f}) | {shares} |")
        return
    family = claims["phases"][arguments.family]
    layers = family["layers"]
    if arguments.header:
        print("| setting | " + " | ".join(layers) + " | layers with compression |")
        print("|" + "---|" * (len(layers) + 2))
    cells = [phase_cell(layers[name]) for name in layers]
    print(f"| {arguments.label} | " + " | ".join(cells) + f" | {', '.join(family['layers_with_compression']) or 'none'} |")


if __name__ == "__main__":
    main()
