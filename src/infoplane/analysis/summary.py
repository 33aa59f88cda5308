"""summary.json: each claim about the TE planes with its statistic and p-value, from measures and metrics.

Claims, each per TE family (mode and alignment of the plug-in layer mean, keyed ``"stream/delay1"``):

- ``concentration``: each adjacent layer pair's mean share of the chain's total TE over epochs, and
  :func:`~infoplane.analysis.dynamics.concentration_test` of whether shares grow toward the output.
- ``te_trend``: :func:`~infoplane.analysis.dynamics.trend_test` of every layer pair's TE over epochs,
  with Benjamini-Hochberg adjusted p-values over the pairs; ``n_falling`` counts pairs with rho < 0 and
  adjusted p <= 0.05.
- ``phases``: :func:`~infoplane.analysis.dynamics.detect_phases` of the horizontal coordinate of every
  plane (TE(X->T) per TE family, I(X;T) per MI estimator), per hidden layer.
- ``correlation``: :func:`~infoplane.analysis.dynamics.correlation_test` (Pearson and Spearman) of each
  hidden layer's TE(X->T) and TE(T->Y), and of the binned I(X;T) and I(T;Y), with train and test
  accuracy and loss; ``p_adjusted`` is the Benjamini-Hochberg adjustment over all tests of one family.

A claim that cannot be tested (too few epochs, a constant series) contains ``"skipped"`` with the reason.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from .. import estimators as est
from ..recording import INPUT_LAYER, OUTPUT_LAYER
from . import dynamics
from .series import LABEL_LAYER

logger = logging.getLogger(__name__)

METRICS = ("train_accuracy", "test_accuracy", "train_loss", "test_loss")
SIGNIFICANCE_LEVEL = 0.05


def _select(measures: pd.DataFrame, **selection) -> pd.DataFrame:
    rows = measures
    for column, wanted in selection.items():
        rows = rows[rows[column] == wanted]
    return rows


def _series(rows: pd.DataFrame, source: str, target: str) -> pd.Series:
    selected = rows[(rows["source"] == source) & (rows["target"] == target)]
    return selected.drop_duplicates("epoch").set_index("epoch")["value"].dropna().sort_index()


def _te_families(measures: pd.DataFrame) -> dict[str, pd.DataFrame]:
    te = _select(measures, measure="te", estimator="plugin", aggregate="mean")
    return {f"{mode}/delay{int(alignment)}": rows for (mode, alignment), rows in te.groupby(["mode", "alignment"])}


def _hidden_layers(rows: pd.DataFrame) -> list[str]:
    return [layer for layer in dict.fromkeys(rows[rows["source"] == INPUT_LAYER]["target"]) if layer != OUTPUT_LAYER]


def _round(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _skipped(reason: str) -> dict:
    return {"skipped": reason}


def concentration(rows: pd.DataFrame) -> dict:
    """Return the mean share of each adjacent layer pair and the test that shares grow toward the output."""
    chain = rows[rows["plane"] == "adjacent"][["epoch", "source", "target", "value"]].dropna()
    if chain.empty:
        return _skipped("no adjacent-plane TE values")
    shares = dynamics.layer_shares(chain)
    order = list(dict.fromkeys(zip(chain["source"], chain["target"])))
    mean_shares = shares.groupby(["source", "target"])["share"].mean().reindex(pd.MultiIndex.from_tuples(order))
    result = {"pairs": [f"{source}->{target}" for source, target in order],
              "mean_share": [_round(value) for value in mean_shares], "uniform_share": 1.0 / len(order),
              "final_pair_share": _round(mean_shares.iloc[-1])}
    if len(order) < 3 or mean_shares.isna().any():
        return {**result, **_skipped("fewer than 3 layer pairs with a nonzero total")}
    rho, p_value = dynamics.concentration_test(mean_shares.to_numpy())
    return {**result, "rho": rho, "p_value": p_value}


def te_trends(rows: pd.DataFrame, n_permutations: int, seed: int) -> dict:
    """Return the trend test of every layer pair's TE, with BH-adjusted p-values over the pairs."""
    results = {}
    for source, target in dict.fromkeys(zip(rows["source"], rows["target"])):
        series = _series(rows, source, target)
        key = f"{source}->{target}"
        if len(series) < dynamics.MIN_TEST_POINTS:
            results[key] = _skipped(f"{len(series)} epochs with a value; a trend test needs {dynamics.MIN_TEST_POINTS}")
            continue
        trend = dynamics.trend_test(series.to_numpy(), n_permutations=n_permutations, random_state=seed)
        results[key] = {"rho": _round(trend.rho), "p_value": _round(trend.p_value), "n": trend.n,
                        "block_length": trend.block_length}
    tested = [key for key, result in results.items() if result.get("p_value") is not None]
    adjusted = est.benjamini_hochberg([results[key]["p_value"] for key in tested]) if tested else []
    for key, p_adjusted in zip(tested, adjusted):
        results[key]["p_adjusted"] = float(p_adjusted)
    n_falling = sum(1 for key in tested if results[key]["rho"] < 0 and results[key]["p_adjusted"] <= SIGNIFICANCE_LEVEL)
    n_rising = sum(1 for key in tested if results[key]["rho"] > 0 and results[key]["p_adjusted"] <= SIGNIFICANCE_LEVEL)
    return {"pairs": results, "n_tested": len(tested), "n_falling": n_falling, "n_rising": n_rising}


def phases(rows: pd.DataFrame, n_permutations: int, seed: int) -> dict:
    """Return the phase detection of the horizontal coordinate (source "x") of each hidden layer."""
    results = {}
    for layer in _hidden_layers(rows):
        series = _series(rows[rows["plane"] == "xy"], INPUT_LAYER, layer)
        if len(series) < 3:
            results[layer] = _skipped(f"{len(series)} epochs with a value; phase detection needs 3")
            continue
        phase = dynamics.detect_phases(series.index.to_numpy(), series.to_numpy(), n_permutations=n_permutations,
                                       random_state=seed)
        results[layer] = {"peak_epoch": phase.peak_epoch, "fitting_epochs": [phase.start_epoch, phase.peak_epoch],
                          "compression_epochs": [phase.peak_epoch, phase.end_epoch],
                          "fitting_bits": phase.fitting_bits, "compression_bits": phase.compression_bits,
                          "compression_rho": _round(phase.compression_rho),
                          "compression_p_value": _round(phase.compression_p_value), "window": phase.window}
    compressing = [layer for layer, result in results.items()
                   if (result.get("compression_p_value") or 1.0) <= SIGNIFICANCE_LEVEL and result["compression_rho"] < 0]
    return {"layers": results, "layers_with_compression": compressing}


def _correlation_entry(values: pd.Series, metric: pd.Series, n_permutations: int, seed: int) -> dict:
    joined = pd.concat([values, metric], axis=1, join="inner").dropna()
    if len(joined) < dynamics.MIN_TEST_POINTS:
        return _skipped(f"{len(joined)} epochs with both values; a correlation test needs {dynamics.MIN_TEST_POINTS}")
    if joined.iloc[:, 0].nunique() < 2 or joined.iloc[:, 1].nunique() < 2:
        return _skipped("one of the series is constant")
    entry = {}
    for method in ("pearson", "spearman"):
        result = dynamics.correlation_test(joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy(), method=method,
                                           n_permutations=n_permutations, random_state=seed)
        entry[method] = {"r": _round(result.r), "r_detrended": _round(result.r_detrended),
                         "p_value": _round(result.p_value)}
    entry["n"] = len(joined)
    return entry


def correlations(rows: pd.DataFrame, metrics: pd.DataFrame, n_permutations: int, seed: int) -> dict:
    """Return the correlation tests of each hidden layer's plane coordinates with accuracy and loss."""
    if metrics.empty:
        return _skipped("metrics.parquet has no rows")
    metric_series = {name: metrics.set_index("epoch")[name].astype(float) for name in METRICS if name in metrics}
    results = {}
    for layer in _hidden_layers(rows):
        xy = rows[rows["plane"] == "xy"]
        for source, target in ((INPUT_LAYER, layer), (layer, LABEL_LAYER)):
            values = _series(xy, source, target)
            results[f"{source}->{target}"] = {name: _correlation_entry(values, metric, n_permutations, seed)
                                              for name, metric in metric_series.items()}
    _adjust_correlations(results)
    return results


def _adjust_correlations(results: dict) -> None:
    """Add ``p_adjusted`` (Benjamini-Hochberg over every series, metric and method of ``results``) in place."""
    tests = [entry[method] for metrics in results.values() for entry in metrics.values()
             for method in ("pearson", "spearman") if method in entry and entry[method]["p_value"] is not None]
    adjusted = est.benjamini_hochberg([test["p_value"] for test in tests]) if tests else []
    for test, p_adjusted in zip(tests, adjusted):
        test["p_adjusted"] = float(p_adjusted)


def build_summary(measures: pd.DataFrame, metrics: pd.DataFrame, n_permutations: int = dynamics.DEFAULT_N_PERMUTATIONS,
                  seed: int = 0) -> dict:
    """Return the summary of a run's measures and metrics as a JSON-ready dict (see the module docstring)."""
    epochs = sorted(measures["epoch"].dropna().unique().tolist())
    flags = measures.loc[measures["flag"].fillna("") != "", "flag"].str.split(":").str[0].value_counts()
    summary = {"n_recorded_epochs": len(epochs), "epochs": [int(epoch) for epoch in epochs],
               "significance_level": SIGNIFICANCE_LEVEL,
               "flags": {str(kind): int(count) for kind, count in flags.items()}, "claims": {}}
    if len(epochs) < 2:
        logger.warning("only %d recorded epoch(s) with values: trends, phases and correlations need at least two; "
                       "record more epochs", len(epochs))
        summary["claims"] = _skipped(f"{len(epochs)} recorded epoch(s); the dynamics need at least two")
        return summary

    claims = {"concentration": {}, "te_trend": {}, "phases": {}, "correlation": {}}
    for family, rows in _te_families(measures).items():
        claims["concentration"][family] = concentration(rows)
        claims["te_trend"][family] = te_trends(rows, n_permutations, seed)
        claims["phases"][f"te/{family}"] = phases(rows, n_permutations, seed)
        claims["correlation"][f"te/{family}"] = correlations(rows, metrics, n_permutations, seed)
    for estimator, rows in _select(measures, measure="mi").groupby("estimator"):
        claims["phases"][f"mi/{estimator}"] = phases(rows, n_permutations, seed)
        if estimator == "binning":
            claims["correlation"]["mi/binning"] = correlations(rows, metrics, n_permutations, seed)
    summary["claims"] = claims
    summary["te_significance"] = _significance_counts(measures)
    return summary


def _significance_counts(measures: pd.DataFrame) -> dict:
    """Count the layer means called significant by the surrogates and by the chi-square floor, after BH.

    With fewer than 19 surrogates no surrogate p-value can reach 0.05, so ``surrogate_resolution`` (the
    smallest possible p-value) is stored beside the counts. Benjamini-Hochberg over many values raises
    p-values that sit at that resolution above 0.05 unless nearly all of them do, so the count before the
    adjustment is stored too: read it as the number of values above every surrogate.
    """
    counts = {}
    te = _select(measures, measure="te", aggregate="mean").dropna(subset=["p_value"])
    chi2 = _select(measures, measure="te", estimator="chi2", aggregate="mean-floor").dropna(subset=["p_value"])
    for (mode, alignment), family in te[te["estimator"] == "plugin"].groupby(["mode", "alignment"]):
        family = family.drop_duplicates(["epoch", "source", "target"])
        analytic = chi2[(chi2["mode"] == mode) & (chi2["alignment"] == alignment)]
        analytic = analytic.drop_duplicates(["epoch", "source", "target"])
        n_surrogates = int(family["n_surrogates"].max())
        counts[f"{mode}/delay{int(alignment)}"] = {
            "n_values": len(family), "n_surrogates": n_surrogates, "surrogate_resolution": 1.0 / (n_surrogates + 1),
            "n_significant_surrogates": int((family["p_adjusted"] <= SIGNIFICANCE_LEVEL).sum()),
            "n_significant_surrogates_unadjusted": int((family["p_value"] <= SIGNIFICANCE_LEVEL).sum()),
            "n_significant_chi2": int((analytic["p_adjusted"] <= SIGNIFICANCE_LEVEL).sum())}
    return counts
