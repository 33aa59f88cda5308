"""Test the transfer-entropy claims on finished sweeps: tables (Markdown, stdout) and figures.

Usage (the sweeps are written by ``infoplane sweep``; see docs/experiments.md)::

    python scripts/experiments.py SWEEP_DIR [SWEEP_DIR ...] --figures docs/figures

Every statistic is computed per run (one seed) and then summarised over the seeds of a
sweep as mean ± standard deviation, or as a count of seeds. All TE and MI values are
in bits; TE is the layer mean over unit pairs from measures.parquet.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# A rise or fall counts as a phase when it moves the value by at least this fraction of its maximum.
PHASE_FRACTION = 0.05
DELAYS = (1, 0)
MI_ESTIMATORS = ("binning", "kde-upper")


# Reading


def bias_floor(n_observations: int) -> float:
    """Return the expected plug-in TE (bits) of independent binary series, k = l = 1.

    Under independence 2 N ln2 TE follows a chi-square law with (2-1)(2-1)2 = 2 degrees
    of freedom, so its mean is 2 / (2 N ln 2) = 1 / (N ln 2) bits.
    """
    return 1.0 / (n_observations * np.log(2.0))


def read_sweep(folder: Path) -> list[dict]:
    """Return one record per finished run: activation, seed, measures and metrics."""
    manifest = json.loads((folder / "sweep.json").read_text())
    runs = []
    for entry in manifest["runs"]:
        if entry["status"] != "finished":
            continue
        run = folder / entry["folder"]
        config = json.loads((run / "run.json").read_text())["config"]
        runs.append({"folder": run, "activation": config["model"]["activation"], "seed": config["training"]["seed"],
                     "epochs": config["training"]["epochs"], "measures": pd.read_parquet(run / "measures.parquet"),
                     "metrics": pd.read_parquet(run / "metrics.parquet"),
                     "n_steps": len(np.load(run / "epochs" / "000001.npz", allow_pickle=False)["order"])})
    return runs


def te_series(measures: pd.DataFrame, plane: str, delay: int, mode: str = "stream") -> pd.DataFrame:
    """Return layer-mean TE as a table: one row per epoch, one column per ``source->target`` pair."""
    rows = measures[(measures["measure"] == "te") & (measures["plane"] == plane) & (measures["alignment"] == delay)
                    & (measures["mode"] == mode) & (measures["aggregate"] == "mean")]
    pairs = list(dict.fromkeys(rows["source"] + "->" + rows["target"]))
    table = rows.assign(pair=rows["source"] + "->" + rows["target"]).pivot(index="epoch", columns="pair", values="value")
    return table[pairs]


def mi_series(measures: pd.DataFrame, estimator: str, toward: str) -> pd.DataFrame:
    """Return I(X;T) (``toward="x"``) or I(T;Y) (``toward="y"``) per epoch, one column per layer."""
    rows = measures[(measures["measure"] == "mi") & (measures["estimator"] == estimator)]
    if toward == "x":
        rows = rows[rows["source"] == "x"]
        return rows.pivot(index="epoch", columns="target", values="value")[list(dict.fromkeys(rows["target"]))]
    rows = rows[rows["target"] == "y"]
    return rows.pivot(index="epoch", columns="source", values="value")[list(dict.fromkeys(rows["source"]))]


def spread(values, signed: bool = True) -> str:
    """Format the mean ± sample standard deviation of the finite ``values``."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return "n/a"
    deviation = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():+.2f} ± {deviation:.2f}" if signed else f"{values.mean():.2f} ± {deviation:.2f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# Claim 1: TE concentrates in the final layers


def concentration(runs: list[dict], delay: int, mode: str) -> tuple[list[str], np.ndarray, list[float]]:
    """Return the adjacent pairs, the last-epoch TE per seed ``(n_seeds, n_pairs)`` and Spearman(depth, TE) per seed."""
    values, rhos = [], []
    for run in runs:
        table = te_series(run["measures"], "adjacent", delay, mode)
        last = table.iloc[-1].to_numpy()
        values.append(last)
        rhos.append(spearmanr(np.arange(len(last)), last).statistic)
    return list(table.columns), np.array(values), rhos


# Claim 2: layer TE falls over the epochs


def epoch_trend(runs: list[dict], delay: int, mode: str) -> dict[str, list[float]]:
    """Return Spearman(epoch, TE) per adjacent pair, one value per seed."""
    trends: dict[str, list[float]] = {}
    for run in runs:
        table = te_series(run["measures"], "adjacent", delay, mode)
        for pair in table.columns:
            trends.setdefault(pair, []).append(spearmanr(table.index, table[pair]).statistic)
    return trends


# Claim 3: fitting and compression phases


def phases(series: pd.Series) -> tuple[bool, bool, int, float]:
    """Return (fitting, compression, peak epoch, fall) of one quantity over the recorded epochs.

    Fitting: the maximum exceeds the first value by PHASE_FRACTION of the maximum.
    Compression: the last value lies below the maximum by PHASE_FRACTION of the maximum.
    The fall is (maximum - last value) / maximum.
    """
    peak = float(series.max())
    if peak <= 0:
        return False, False, int(series.index[0]), 0.0
    fall = (peak - float(series.iloc[-1])) / peak
    fitting = peak - float(series.iloc[0]) >= PHASE_FRACTION * peak
    return fitting, fall >= PHASE_FRACTION, int(series.idxmax()), fall


def phase_table(runs: list[dict], quantity) -> dict[str, list[tuple[bool, bool, int]]]:
    """Return the phases of ``quantity(measures)`` (a table, one column per layer) per layer, one per seed."""
    result: dict[str, list] = {}
    for run in runs:
        table = quantity(run["measures"])
        for layer in table.columns:
            result.setdefault(layer, []).append(phases(table[layer]))
    return result


def te_from_x(delay: int):
    def quantity(measures):
        table = te_series(measures, "xy", delay)
        table = table[[pair for pair in table.columns if pair.startswith("x->")]]
        return table.rename(columns=lambda pair: pair.split("->")[1])
    return quantity


def mi_from_x(estimator: str):
    return lambda measures: mi_series(measures, estimator, "x")


# Claim 4: TE correlates with accuracy and loss


def correlations(runs: list[dict], delay: int, metric: str) -> dict[str, list[float]]:
    """Return Spearman(TE(T->Y), ``metric``) over the recorded epochs per hidden layer, one value per seed."""
    result: dict[str, list[float]] = {}
    for run in runs:
        table = te_series(run["measures"], "xy", delay)
        metrics = run["metrics"].set_index("epoch").loc[table.index, metric]
        for pair in table.columns:
            if pair.endswith("->y"):
                layer = pair.split("->")[0]
                rho = spearmanr(table[pair], metrics).statistic if table[pair].std() > 0 else np.nan
                result.setdefault(layer, []).append(rho)
    return result


# Figures

COLORS = {"tanh": "tab:blue", "relu": "tab:orange"}


def plot_concentration(sweeps: dict[str, list[dict]], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for axis, delay in zip(axes, DELAYS):
        for activation, runs in sweeps.items():
            pairs, values, _ = concentration(runs, delay, "stream")
            axis.errorbar(range(len(pairs)), values.mean(axis=0), yerr=values.std(axis=0, ddof=1), marker="o",
                          capsize=3, color=COLORS.get(activation), label=activation)
            axis.set_xticks(range(len(pairs)), pairs, rotation=30, fontsize=8)
        axis.set_title(f"adjacent-layer TE at the last epoch, delay {delay}")
        axis.set_ylabel("TE, mean over unit pairs (bits)")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def plot_te_over_epochs(sweeps: dict[str, list[dict]], path: Path) -> None:
    figure, axes = plt.subplots(len(sweeps), 2, figsize=(11, 3.6 * len(sweeps)), squeeze=False)
    for row, (activation, runs) in enumerate(sweeps.items()):
        for axis, delay in zip(axes[row], DELAYS):
            tables = [te_series(run["measures"], "adjacent", delay) for run in runs]
            mean = sum(tables) / len(tables)
            deviation = (sum((table - mean) ** 2 for table in tables) / max(len(tables) - 1, 1)) ** 0.5
            for pair in mean.columns:
                axis.plot(mean.index, mean[pair], label=pair)
                axis.fill_between(mean.index, mean[pair] - deviation[pair], mean[pair] + deviation[pair], alpha=0.15)
            axis.set_xscale("log")
            axis.set_xlabel("epoch")
            axis.set_ylabel("TE (bits)")
            axis.set_title(f"{activation}: adjacent-layer TE, stream, delay {delay}")
        axes[row][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def _plane_axis(axis, x_table, y_table, title, x_label, y_label):
    for layer_x, layer_y in zip(x_table.columns, y_table.columns):
        axis.plot(x_table[layer_x], y_table[layer_y], color="0.7", linewidth=0.8, zorder=1)
        points = axis.scatter(x_table[layer_x], y_table[layer_y], c=np.log10(x_table.index), cmap="viridis",
                              s=12, zorder=2)
        axis.annotate(layer_x, (x_table[layer_x].iloc[-1], y_table[layer_y].iloc[-1]), fontsize=7)
    axis.set_title(title, fontsize=9)
    axis.set_xlabel(x_label)
    axis.set_ylabel(y_label)
    return points


def plot_planes(sweeps: dict[str, list[dict]], path: Path) -> None:
    """Draw, per activation, the TE plane (delay 0 and 1) and the binned and KDE MI planes, averaged over seeds."""
    figure, axes = plt.subplots(len(sweeps), 4, figsize=(18, 4 * len(sweeps)), squeeze=False, layout="constrained")
    for row, (activation, runs) in enumerate(sweeps.items()):
        for column, delay in enumerate((0, 1)):
            tables = [te_series(run["measures"], "xy", delay) for run in runs]
            mean = sum(tables) / len(tables)
            from_x = mean[[pair for pair in mean.columns if pair.startswith("x->")]]
            to_y = mean[[pair for pair in mean.columns if pair.endswith("->y")]]
            points = _plane_axis(axes[row][column], from_x.rename(columns=lambda pair: pair[3:]), to_y,
                                 f"{activation}: TE plane, stream, delay {delay}", "TE(X→T) (bits)", "TE(T→Y) (bits)")
        for column, estimator in enumerate(MI_ESTIMATORS, start=2):
            from_x = sum(mi_series(run["measures"], estimator, "x") for run in runs) / len(runs)
            to_y = sum(mi_series(run["measures"], estimator, "y") for run in runs) / len(runs)
            points = _plane_axis(axes[row][column], from_x, to_y, f"{activation}: MI plane, {estimator}, probe",
                                 "I(X;T) (bits)", "I(T;Y) (bits)")
        figure.colorbar(points, ax=axes[row].tolist(), label="log10 epoch")
    figure.savefig(path, dpi=150)
    plt.close(figure)


def plot_correlations(sweeps: dict[str, list[dict]], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for axis, delay in zip(axes, DELAYS):
        for offset, (activation, runs) in enumerate(sweeps.items()):
            result = correlations(runs, delay, "test_accuracy")
            layers = list(result)
            means = [np.nanmean(result[layer]) for layer in layers]
            deviations = [np.nanstd(result[layer], ddof=1) for layer in layers]
            positions = np.arange(len(layers)) + 0.4 * offset - 0.2
            axis.bar(positions, means, width=0.4, yerr=deviations, capsize=3, color=COLORS.get(activation),
                     label=activation)
            axis.set_xticks(range(len(layers)), layers)
        axis.axhline(0, color="black", linewidth=0.6)
        axis.set_title(f"Spearman(TE(T→Y), test accuracy), delay {delay}")
        axis.set_xlabel("hidden layer T")
        axis.legend()
    axes[0].set_ylabel("rank correlation over recorded epochs")
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


# Tables


def concentration_rows(sweeps) -> list[list[str]]:
    rows = []
    for activation, runs in sweeps.items():
        for delay in DELAYS:
            for mode in ("stream", "probe"):
                pairs, values, rhos = concentration(runs, delay, mode)
                largest = [pairs[index] for index in values.argmax(axis=1)]
                final_share = values[:, -2:].sum(axis=1) / values.sum(axis=1)
                rows.append([activation, str(delay), mode, f"{values.max(axis=1).mean():.5f}", spread(rhos),
                             spread(final_share, signed=False),
                             ", ".join(f"{pair} ×{largest.count(pair)}" for pair in dict.fromkeys(largest))])
    return rows


def trend_rows(sweeps) -> list[list[str]]:
    rows = []
    for activation, runs in sweeps.items():
        for delay in DELAYS:
            for mode in ("stream", "probe"):
                trends = epoch_trend(runs, delay, mode)
                falling = sum(np.nanmean(values) < 0 for values in trends.values())
                rows.append([activation, str(delay), mode] + [spread(values) for values in trends.values()]
                            + [f"{falling}/{len(trends)}"])
    return rows


def phase_cell(results: list[tuple[bool, bool, int, float]]) -> str:
    """Format seeds with fitting / with compression, the median peak epoch and the median fall."""
    fitting = sum(result[0] for result in results)
    compression = sum(result[1] for result in results)
    peak = int(np.median([result[2] for result in results]))
    fall = np.median([result[3] for result in results])
    return f"{fitting}/{compression} @{peak} −{fall:.0%}"


def phase_rows(sweeps, n_layers: int) -> list[list[str]]:
    quantities = {"TE(X→T) delay 1": te_from_x(1), "TE(X→T) delay 0": te_from_x(0),
                  "I(X;T) binning": mi_from_x("binning"), "I(X;T) KDE": mi_from_x("kde-upper")}
    rows = []
    for activation, runs in sweeps.items():
        for name, quantity in quantities.items():
            cells = []
            for results in phase_table(runs, quantity).values():
                cells.append(phase_cell(results))
            rows.append([activation, name] + cells + ["–"] * (n_layers - len(cells)))
    return rows


def late_fall_rows(sweeps) -> list[list[str]]:
    rows = []
    for activation, runs in sweeps.items():
        for delay in DELAYS:
            quantity = lambda measures, delay=delay: te_series(measures, "adjacent", delay)  # noqa: E731
            rows.append([activation, str(delay)] + [phase_cell(results)
                                                    for results in phase_table(runs, quantity).values()])
    return rows


def correlation_rows(sweeps) -> list[list[str]]:
    rows = []
    for activation, runs in sweeps.items():
        for delay in DELAYS:
            for metric in ("test_accuracy", "train_loss"):
                result = correlations(runs, delay, metric)
                rows.append([activation, str(delay), metric] + [spread(values) for values in result.values()])
    return rows


def recomputed_rows(sweeps, settings: list, quantity, n_layers: int) -> list[list[str]]:
    """Recompute I(X;T) with each of ``settings`` and count the seeds with each phase, as in claim 3.

    ``quantity(folder, setting)`` returns I(X;T) per epoch (rows) and layer (columns), in bits.
    """
    rows = []
    for activation, runs in sweeps.items():
        for setting in settings:
            results: dict[str, list] = {}
            for run in runs:
                table = quantity(run["folder"], setting)
                for layer in table.columns:
                    results.setdefault(layer, []).append(phases(table[layer]))
            cells = [phase_cell(found) for found in results.values()]
            rows.append([activation, f"{setting:g}"] + cells + ["–"] * (n_layers - len(cells)))
    return rows


def binned_with(folder: Path, n_bins: int) -> pd.DataFrame:
    """Return binned I(X;T) of the run in ``folder`` with ``n_bins`` bins per unit."""
    from infoplane.analysis import mi_planes

    return mi_series(mi_planes(folder, estimators=("binning",), n_bins=n_bins), "binning", "x")


def kde_with(folder: Path, variance: float) -> pd.DataFrame:
    """Return the KDE upper bound on I(X;T) of the run in ``folder`` with noise ``variance``."""
    from infoplane.analysis import mi_planes

    return mi_series(mi_planes(folder, estimators=("kde",), noise_variance=variance), "kde-upper", "x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="sweep folders written by `infoplane sweep`")
    parser.add_argument("--figures", type=Path, default=Path("docs/figures"), help="folder for the PNG figures")
    parser.add_argument("--by-folder", action="store_true",
                        help="group runs by sweep folder name instead of by activation (sweeps of one activation)")
    parser.add_argument("--bins", type=int, nargs="*", default=[],
                        help="also recompute binned I(X;T) with these bin counts (sensitivity of claim 3)")
    parser.add_argument("--noise-variances", type=float, nargs="*", default=[],
                        help="also recompute the KDE upper bound on I(X;T) with these noise variances")
    arguments = parser.parse_args()

    sweeps: dict[str, list[dict]] = {}
    for folder in arguments.sweeps:
        for run in read_sweep(folder):
            sweeps.setdefault(folder.name if arguments.by_folder else run["activation"], []).append(run)
    sample = next(iter(sweeps.values()))[0]
    pairs = list(te_series(sample["measures"], "adjacent", 1).columns)
    layers = list(mi_series(sample["measures"], "binning", "x").columns)
    hidden = [layer for layer in layers if layer != "output"]
    seeds = {activation: sorted(run["seed"] for run in runs) for activation, runs in sweeps.items()}
    print(f"runs: {seeds}; epochs: {sample['epochs']}; recorded epochs: {len(te_series(sample['measures'], 'adjacent', 1))}\n")

    n_steps = sample["n_steps"]
    print(f"bias floor of one pair's plug-in TE on the training stream ({n_steps} steps): "
          f"{bias_floor(n_steps - 1):.5f} bits\n")
    print("Claim 1: TE concentrates in the final layers (last recorded epoch, adjacent plane)\n")
    print(markdown_table(["activation", "delay", "mode", "largest TE (bits)", "Spearman(depth, TE)",
                          "share of last two transfers",
                          "largest transfer (seeds)"], concentration_rows(sweeps)) + "\n")
    print("Claim 2: layer TE falls over the epochs (Spearman(epoch, TE) per adjacent pair)\n")
    print(markdown_table(["activation", "delay", "mode", *pairs, "pairs with mean < 0"], trend_rows(sweeps)) + "\n")
    print("Claim 2, after the maximum: adjacent-layer TE, stream, in the format of the claim 3 table\n")
    print(markdown_table(["activation", "delay", *pairs], late_fall_rows(sweeps)) + "\n")
    print(f"Claim 3: fitting/compression phases (seeds with a rise / a fall of >= {PHASE_FRACTION:.0%} of the "
          "maximum, @ median epoch of the maximum, median fall after it)\n")
    print(markdown_table(["activation", "quantity", *layers], phase_rows(sweeps, len(layers))) + "\n")
    print("Claim 4: Spearman(TE(T→Y), metric) over the recorded epochs, stream\n")
    print(markdown_table(["activation", "delay", "metric", *hidden], correlation_rows(sweeps)) + "\n")
    if arguments.bins:
        print("Claim 3, sensitivity: binned I(X;T) phases by number of bins\n")
        rows = recomputed_rows(sweeps, arguments.bins, binned_with, len(layers))
        print(markdown_table(["activation", "bins", *layers], rows) + "\n")

    if arguments.noise_variances:
        print("Claim 3, sensitivity: KDE upper bound I(X;T) phases by noise variance\n")
        rows = recomputed_rows(sweeps, arguments.noise_variances, kde_with, len(layers))
        print(markdown_table(["activation", "noise variance", *layers], rows) + "\n")

    arguments.figures.mkdir(parents=True, exist_ok=True)
    plot_concentration(sweeps, arguments.figures / "te_concentration.png")
    plot_te_over_epochs(sweeps, arguments.figures / "te_over_epochs.png")
    plot_planes(sweeps, arguments.figures / "planes.png")
    plot_correlations(sweeps, arguments.figures / "te_accuracy_correlation.png")


if __name__ == "__main__":
    main()
