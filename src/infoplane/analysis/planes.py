"""TE and MI information planes of a run folder, as one tidy table.

Each row of the table contains one value in bits (the columns of :data:`MEASURE_COLUMNS`). A value that
cannot be computed is a row with ``value`` missing and ``flag`` saying why; ``flag`` also marks values
that are computed but unreliable (a layer with no variation, a saturated binning).

TE rows (``measure="te"``) give the layer TE from ``source`` to ``target`` per recorded epoch, plane
("xy" or "adjacent"), alignment (delay 1 or 0) and mode (training stream or probe). Row kinds:

- ``estimator="plugin"``, ``aggregate`` mean, sum or max over unit pairs: the plug-in TE. Its
  ``p_value`` comes from ``n_surrogates`` shuffled-source surrogates (one seeded time permutation per
  surrogate, shared by every unit of the source layer), ``surrogate_mean`` is the mean surrogate value
  of the same aggregate, and ``p_adjusted`` is the Benjamini-Hochberg adjustment over all layer pairs
  and epochs of one (estimator, mode, alignment, aggregate) family.
- ``estimator="plugin"``, ``aggregate`` mean-bias-corrected, sum-bias-corrected or max-bias-corrected:
  the plug-in value minus ``surrogate_mean``, with the p-values of its raw row. It may be negative.
  Select this aggregate in place of "mean" to draw a bias-corrected plane.
- ``estimator="chi2"``: the analytic floor, no surrogates. ``aggregate`` mean-floor and max-floor hold
  the layer mean and max at which the analytic p-value is 0.05, with the analytic p-value of the
  observed mean or max in ``p_value``; pair-floor the floor of one unit pair; fraction-significant the
  fraction of unit pairs whose Benjamini-Hochberg adjusted analytic p-value is at most 0.05. See
  :mod:`infoplane.analysis.significance` for the assumptions.

MI rows (``measure="mi"``, ``mode="probe"``, ``aggregate="value"``): ``I(X;T)`` has ``source="x"``
and ``target=T``; ``I(T;Y)`` has ``source=T`` and ``target="y"``. Estimators: ``binning`` and
``kde-upper`` / ``kde-lower`` (the Kolchinsky-Tracey bounds; the I(T;Y) value is a difference of two
bounds and so an estimate).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import Counter

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import estimators as est
from ..estimators.discrete import first_observation
from ..config import validate_analysis_settings
from ..recording import INPUT_LAYER, OUTPUT_LAYER
from ..runs import RunFormatError, RunStore
from .series import LABEL_LAYER, EpochSeries, read_epoch_series
from .significance import (
    BIAS_CORRECTED_SUFFIX,
    adjust_p_values,
    aggregate_matrices,
    chi_square_floor,
    layer_te_with_surrogates,
    surrogate_p_value,
)

logger = logging.getLogger(__name__)

MEASURE_COLUMNS = ["epoch", "measure", "estimator", "plane", "source", "target", "alignment", "mode", "aggregate",
                   "value", "surrogate_mean", "p_value", "p_adjusted", "n_pairs", "n_constant_units",
                   "n_surrogates", "seed", "flag"]
NO_SURROGATES_FLAG = "no surrogate test: n_surrogates is 0"
TE_AGGREGATES = ("mean", "sum", "max")
MODES = ("stream", "probe")
DEFAULT_N_SURROGATES = 19
# Probe samples used by the KDE bounds: their cost grows with the square of the sample count.
DEFAULT_KDE_SAMPLES = 1024
BINARY_TE_DOF = est.te_degrees_of_freedom(1, 1, 2, 2)
# A run whose widest layer times (n_surrogates + 1) stays below this many columns is analysed with one
# BLAS thread, because its products are so small that waking more threads costs more than they save.
# On the 12-bit task (widest layer 12 units) one thread ran the TE planes 2.2 times and the KDE bounds
# 3.6 times faster than two threads. Measured on a shared, heavily loaded 2-core machine.
SMALL_PRODUCT_COLUMNS = 4096


def _as_store(run) -> RunStore:
    return run if isinstance(run, RunStore) else RunStore.open(run)


def layer_pairs(hidden_layers: list[str]) -> list[tuple[str, str, str]]:
    """Return ``(plane, source, target)`` for the xy plane and the chain of adjacent layers."""
    pairs = [("xy", INPUT_LAYER, layer) for layer in hidden_layers]
    pairs += [("xy", layer, LABEL_LAYER) for layer in hidden_layers]
    chain = [INPUT_LAYER, *hidden_layers, OUTPUT_LAYER]
    pairs += [("adjacent", source, target) for source, target in zip(chain[:-1], chain[1:])]
    return pairs


def _constant_units(series: np.ndarray) -> int:
    return int(np.sum(series.min(axis=0) == series.max(axis=0)))


def _subsample_pairs(sources, targets, max_pairs: int, generator: np.random.Generator):
    """Keep a seeded random subset of source and target units so that at most ``max_pairs`` pairs remain."""
    n_sources, n_targets = sources.shape[1], targets.shape[1]
    if n_sources * n_targets <= max_pairs:
        return sources, targets
    scale = np.sqrt(max_pairs / (n_sources * n_targets))
    keep_sources = max(1, min(n_sources, int(n_sources * scale)))
    keep_targets = max(1, min(n_targets, max_pairs // keep_sources))
    source_units = np.sort(generator.choice(n_sources, keep_sources, replace=False))
    target_units = np.sort(generator.choice(n_targets, keep_targets, replace=False))
    return sources[:, source_units], targets[:, target_units]


def _no_variation_flag(layers: dict, source: str, target: str) -> str:
    constant = [name for name in (source, target) if _constant_units(layers[name]) == layers[name].shape[1]]
    return "; ".join(f"no variation in layer {name}" for name in constant)


def _pair_rows(layers: dict, source: str, target: str, delay: int, permutations: np.ndarray, max_pairs: int,
               generator: np.random.Generator) -> list[dict]:
    """Return the plug-in, bias-corrected and chi-square rows of one layer pair (keys below the epoch level)."""
    n_constant = _constant_units(layers[source]) + _constant_units(layers[target])
    sources, targets = _subsample_pairs(layers[source], layers[target], max_pairs, generator)
    observed, surrogates = layer_te_with_surrogates(sources, targets, delay, permutations)
    common = {"n_pairs": int(observed.size), "n_constant_units": n_constant,
              "n_surrogates": int(permutations.shape[0]), "flag": _no_variation_flag(layers, source, target)}

    rows = []
    observed_values, surrogate_values = aggregate_matrices(observed), aggregate_matrices(surrogates)
    if permutations.shape[0] == 0:
        untested = {**common, "flag": "; ".join(filter(None, [common["flag"], NO_SURROGATES_FLAG]))}
        rows += [{"estimator": "plugin", "aggregate": aggregate, "value": float(observed_values[aggregate]),
                  **untested} for aggregate in TE_AGGREGATES]
    for aggregate in TE_AGGREGATES if permutations.shape[0] else ():
        value, null = float(observed_values[aggregate]), surrogate_values[aggregate]
        tested = {"surrogate_mean": float(null.mean()), "p_value": surrogate_p_value(value, null), **common}
        rows.append({"estimator": "plugin", "aggregate": aggregate, "value": value, **tested})
        rows.append({"estimator": "plugin", "aggregate": aggregate + BIAS_CORRECTED_SUFFIX,
                     "value": value - tested["surrogate_mean"], **tested})

    n_observations = targets.shape[0] - 1 - first_observation(1, 1, delay)
    for aggregate, (floor, p_value) in chi_square_floor(observed, n_observations, BINARY_TE_DOF).items():
        rows.append({"estimator": "chi2", "aggregate": aggregate, "value": floor, "p_value": p_value,
                     **common, "n_surrogates": 0})
    return rows


def _te_rows_of_epoch(series: EpochSeries, alignments, modes, max_pairs: int, seed: int,
                      n_surrogates: int) -> list[dict]:
    rows = []
    for mode in modes:
        layers = series.stream if mode == "stream" else series.probe
        if not layers:
            continue
        n_steps = next(iter(layers.values())).shape[0]
        permutations = (est.surrogate_permutations(n_surrogates, n_steps, [seed, series.epoch, MODES.index(mode)])
                        if n_surrogates else np.empty((0, n_steps), dtype=np.int64))
        for delay in alignments:
            generator = np.random.default_rng([seed, series.epoch, delay])
            for plane, source, target in layer_pairs(series.hidden_layers):
                keys = {"epoch": series.epoch, "measure": "te", "plane": plane, "source": source, "target": target,
                        "alignment": delay, "mode": mode, "seed": seed}
                for row in _pair_rows(layers, source, target, delay, permutations, max_pairs, generator):
                    rows.append({**keys, **row})
    return rows


def _read_epochs(store: RunStore, epochs, probe_set, measure: str, unreadable: dict[int, str]):
    """Yield the series of each readable epoch, one at a time; record each unreadable one's flag in ``unreadable``."""
    for epoch in epochs:
        try:
            series = read_epoch_series(store, epoch, probe_set)
        except RunFormatError as error:
            logger.error("epoch %d skipped in the %s planes: %s", epoch, measure, error)
            unreadable[epoch] = f"epoch file unreadable: {error}"
            continue
        yield series


def _unreadable_te_rows(epoch: int, reason: str, hidden_layers, alignments, modes, seed: int) -> list[dict]:
    """Return one flagged row without a value per mode, alignment and layer pair of an unreadable epoch."""
    return [{"epoch": epoch, "measure": "te", "estimator": "plugin", "plane": plane, "source": source,
             "target": target, "alignment": delay, "mode": mode, "aggregate": "mean", "value": np.nan,
             "seed": seed, "flag": reason}
            for mode in modes for delay in alignments for plane, source, target in layer_pairs(hidden_layers)]


def _log_no_variation(frame: pd.DataFrame) -> None:
    flagged = frame.loc[frame["flag"].str.startswith("no variation", na=False), ["epoch", "flag"]].drop_duplicates()
    if len(flagged):
        counts = Counter(flagged["flag"])
        logger.warning("TE of layers without variation is 0 bits: %s",
                       "; ".join(f"{flag} in {count} epoch(s)" for flag, count in counts.items()))


def te_planes(run, alignments=(1, 0), modes=MODES, max_pairs: int = 1_000_000, seed: int = 0, epochs=None,
              n_surrogates: int = DEFAULT_N_SURROGATES) -> pd.DataFrame:
    """Compute the layer TE of every recorded epoch and layer pair of ``run``, with its significance.

    Parameters
    ----------
    run : RunStore or path
        The run folder.
    alignments : sequence of int, default (1, 0)
        Source-target delays: 1 is Schreiber's lagged transfer, 0 the transfer within one forward pass.
    modes : sequence of {"stream", "probe"}, default both
    max_pairs : int, default 1,000,000
        Above this many unit pairs a seeded random subset of units is used (its size in ``n_pairs``).
    seed : int, default 0
        Seed of the pair subsets and of the surrogate permutations (drawn per epoch and mode).
    epochs : sequence of int, optional
        Epochs to analyse; by default every recorded one. An epoch whose file is missing or damaged gives
        flagged rows without a value, and an error in the log.
    n_surrogates : int, default 19
        Surrogates per layer value; 0 skips the surrogate test (its p-values stay missing, with a
        flag). The smallest possible p-value is 1 / (n_surrogates + 1).

    Returns
    -------
    pandas.DataFrame
        Tidy rows with the columns of :data:`MEASURE_COLUMNS`; the row kinds are listed in the module
        docstring. Values in bits.
    """
    store = _as_store(run)
    if isinstance(n_surrogates, bool) or not isinstance(n_surrogates, (int, np.integer)) or n_surrogates < 0:
        raise ValueError(f"n_surrogates must be an integer >= 0 (0 skips the surrogate test), got {n_surrogates!r}; "
                         "set [analysis] n_surrogates")
    probe_set = store.read_probe() if (store.path / "probe.npz").is_file() else None
    rows, unreadable, hidden_layers = [], {}, []
    epochs = epochs if epochs is not None else store.recorded_epochs()
    for series in _read_epochs(store, epochs, probe_set, "TE", unreadable):
        rows.extend(_te_rows_of_epoch(series, alignments, modes, max_pairs, seed, n_surrogates))
        hidden_layers = series.hidden_layers
    for epoch, reason in unreadable.items():
        rows.extend(_unreadable_te_rows(epoch, reason, hidden_layers, alignments, modes, seed))

    frame = pd.DataFrame(rows, columns=MEASURE_COLUMNS)
    frame["flag"] = frame["flag"].fillna("")
    frame["p_adjusted"] = adjust_p_values(frame)
    _log_no_variation(frame)
    return frame.sort_values(["epoch", "mode", "alignment", "plane"], kind="stable", ignore_index=True)


def _probe_layer_ranges(store: RunStore, epochs) -> dict[str, tuple[float, float]]:
    """Return one (min, max) per layer over the finite probe activations of the readable ``epochs``."""
    ranges: dict[str, tuple[float, float]] = {}
    for epoch in epochs:
        try:
            arrays = store.read_epoch(epoch)
        except RunFormatError:
            continue
        for key in arrays:
            if key.startswith("probe_float/"):
                layer = key.split("/", 1)[1]
                values = arrays[key].astype(np.float32)
                values = values[np.isfinite(values)]
                if values.size == 0:
                    continue
                low, high = float(values.min()), float(values.max())
                old_low, old_high = ranges.get(layer, (low, high))
                ranges[layer] = (min(low, old_low), max(high, old_high))
    return ranges


def _mi_rows(epoch, estimator, layer, values, flag="") -> list[dict]:
    """Return the I(X;T) and I(T;Y) rows of one layer; ``values`` is a pair of bits or None with a flag."""
    ixt, ity = values if values is not None else (np.nan, np.nan)
    common = {"epoch": epoch, "measure": "mi", "estimator": estimator, "plane": "xy", "mode": "probe",
              "aggregate": "value", "flag": flag}
    return [{**common, "source": INPUT_LAYER, "target": layer, "value": ixt},
            {**common, "source": layer, "target": LABEL_LAYER, "value": ity}]


def _binned_values(activations, inputs, labels, n_bins: int, value_range) -> tuple[tuple | None, str]:
    """Return ``((I(X;T), I(T;Y)) or None, flag)``; the saturation warning becomes the flag."""
    if value_range is None or value_range[0] == value_range[1]:
        # One bin contains every sample of a layer that never varies, so both values are exactly 0.
        return (0.0, 0.0), "no variation in the layer over all recorded epochs"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            values = est.binned_information(activations, inputs, labels, n_bins=n_bins, value_range=value_range)
        except ValueError as error:
            return None, f"not computed: {error}"
    saturated = [warning for warning in caught if issubclass(warning.category, RuntimeWarning)]
    return values, "saturated: I(X;T) is at its ceiling log2(n_samples)" if saturated else ""


def _kde_values(activations, labels, noise_variance: float, bound: str) -> tuple[tuple | None, str]:
    try:
        return est.kde_information(activations, labels, noise_variance=noise_variance, bound=bound), ""
    except ValueError as error:
        return None, f"not computed: {error}"


def _kde_subset(n_probe: int, kde_samples: int | None, seed: int) -> np.ndarray:
    if kde_samples is None or kde_samples >= n_probe:
        return np.arange(n_probe)
    return np.sort(np.random.default_rng(seed).choice(n_probe, kde_samples, replace=False))


def _mi_rows_of_epoch(series: EpochSeries, probe_set: dict, estimators, n_bins, noise_variance, ranges,
                      subset: np.ndarray) -> list[dict]:
    inputs, labels = probe_set["x_bits"], probe_set["y"]
    rows = []
    for layer in [*series.hidden_layers, OUTPUT_LAYER]:
        activations = series.probe_float.get(layer)
        if activations is None:
            continue
        if "binning" in estimators:
            values, flag = _binned_values(activations, inputs, labels, n_bins, ranges.get(layer))
            rows += _mi_rows(series.epoch, "binning", layer, values, flag)
        if "kde" in estimators:
            for bound in ("upper", "lower"):
                values, flag = _kde_values(activations[subset], labels[subset], noise_variance, bound)
                rows += _mi_rows(series.epoch, f"kde-{bound}", layer, values, flag)
    return rows


def _log_mi_flags(frame: pd.DataFrame) -> None:
    saturated = frame[frame["flag"].str.startswith("saturated")]
    if len(saturated):
        logger.warning("binned I(X;T) is saturated (near log2(n_samples) bits) in %d of %d values, e.g. layer %s "
                       "at epoch %d; use fewer bins (--n-bins) for a meaningful estimate", len(saturated) // 2,
                       int((frame["estimator"] == "binning").sum()) // 2, saturated["target"].iloc[0],
                       saturated["epoch"].iloc[0])
    failed = frame[frame["flag"].str.startswith("not computed")]
    for flag, count in Counter(failed["flag"]).items():
        logger.error("%d MI values were not computed: %s", count // 2, flag)


def mi_planes(run, estimators=("binning", "kde"), n_bins: int = 30, noise_variance: float = 0.1, epochs=None,
              kde_samples: int | None = DEFAULT_KDE_SAMPLES, seed: int = 0) -> pd.DataFrame:
    """Compute I(X;T) and I(T;Y) of the probe set per recorded epoch and layer, in bits.

    Parameters
    ----------
    run : RunStore or path
    estimators : sequence of {"binning", "kde"}
        ``binning`` uses ``n_bins`` equal-width bins over one range per layer spanning all recorded
        epochs, so that layers of any activation are binned over their own values; ``kde`` gives the
        Kolchinsky-Tracey upper and lower bounds with ``noise_variance``.
    n_bins : int, default 30
    noise_variance : float, default 0.1
    epochs : sequence of int, optional
        By default every recorded epoch. A missing or damaged epoch file gives flagged rows without a value.
    kde_samples : int or None, default 1024
        The KDE bounds use a seeded random subset of this many probe samples (None: all). Their cost grows
        with the square of the count, and their I(X;T) ceiling is log2(kde_samples) bits.
    seed : int, default 0
        Seed of the KDE subset.

    Returns
    -------
    pandas.DataFrame
        Tidy rows with the columns of :data:`MEASURE_COLUMNS`. A binned value whose layer has as many
        patterns as samples is flagged "saturated"; the log holds one summary warning for all of them.
    """
    unknown = set(estimators) - {"binning", "kde"}
    if unknown:
        raise ValueError(f"unknown MI estimators {sorted(unknown)}; valid: binning, kde")
    store = _as_store(run)
    epochs = list(epochs if epochs is not None else store.recorded_epochs())
    probe_set = store.read_probe()
    ranges = _probe_layer_ranges(store, epochs) if "binning" in estimators else {}
    subset = _kde_subset(len(probe_set["y"]), kde_samples, seed)
    rows, unreadable, hidden_layers = [], {}, []
    for series in _read_epochs(store, epochs, probe_set, "MI", unreadable):
        rows += _mi_rows_of_epoch(series, probe_set, estimators, n_bins, noise_variance, ranges, subset)
        hidden_layers = series.hidden_layers
    kinds = (["binning"] if "binning" in estimators else []) + (["kde-upper", "kde-lower"] if "kde" in estimators else [])
    for epoch, reason in unreadable.items():
        for layer in [*hidden_layers, OUTPUT_LAYER]:
            for estimator in kinds:
                rows += _mi_rows(epoch, estimator, layer, None, reason)

    frame = pd.DataFrame(rows, columns=MEASURE_COLUMNS)
    frame["flag"] = frame["flag"].fillna("")
    _log_mi_flags(frame)
    return frame


def _expected_epochs(store: RunStore) -> list[int]:
    """Return the recorded epochs plus the scheduled ones up to the last finished epoch whose files are missing."""
    from ..pipeline import build_schedule

    recorded = set(store.recorded_epochs())
    metrics = store.read_metrics()
    if metrics.empty:
        return sorted(recorded)
    try:
        scheduled = build_schedule(store.config)
    except (KeyError, TypeError, ValueError) as error:
        logger.debug("no recording schedule in run.json (%s); analysing the epoch files present", error)
        return sorted(recorded)
    last = int(metrics["epoch"].max())
    missing = sorted(epoch for epoch in scheduled if epoch <= last and epoch not in recorded)
    if missing:
        logger.error("%d scheduled epoch file(s) are missing from %s (first: epoch %d); their rows are flagged",
                     len(missing), store.path / "epochs", missing[0])
    return sorted(recorded.union(missing))


def analyze_run(run, settings: dict | None = None) -> pd.DataFrame:
    """Compute the TE and MI planes of ``run``, write measures.parquet and summary.json, return the measures.

    ``settings`` override the run's ``[analysis]`` table: alignments, estimators, n_bins, noise_variance,
    n_surrogates, max_pairs, seed, and kde_samples (not a config key; default 1024).
    """
    from .summary import build_summary

    store = _as_store(run)
    overrides = validate_analysis_settings(settings or {})
    settings = validate_analysis_settings({**store.config.get("analysis", {}), **overrides})
    epochs = _expected_epochs(store)
    if not epochs:
        raise RunFormatError(f"{store.path} has no recorded epochs under epochs/; run training first")
    with _blas_threads(store, epochs, settings.get("n_surrogates", DEFAULT_N_SURROGATES)):
        measures = _compute_planes(store, epochs, settings)
    store.write_measures(measures)
    _record_settings(store, overrides)
    summary = build_summary(measures, store.read_metrics(), seed=settings.get("seed", 0))
    summary["run"] = str(store.path)
    store.write_summary(summary)
    return measures


def _record_settings(store: RunStore, overrides: dict) -> None:
    """Store settings given to this analysis in run.json, so figures, reports and resumes use the same ones."""
    changed = {key: value for key, value in overrides.items() if store.config.get("analysis", {}).get(key) != value}
    if changed:
        store.config.setdefault("analysis", {}).update(changed)
        store.write_info()
        logger.info("analysis settings %s stored in %s", changed, store.path / "run.json")


def _blas_threads(store: RunStore, epochs, n_surrogates: int):
    """Return a context that limits BLAS to one thread when the run's products are small."""
    for epoch in epochs:
        try:
            arrays = store.read_epoch(epoch)
        except RunFormatError:
            continue
        widths = [int(arrays[key]) for key in arrays if key.startswith("n_units/")]
        if widths and max(widths) * (n_surrogates + 1) < SMALL_PRODUCT_COLUMNS:
            return threadpool_limits(limits=1, user_api="blas")
        break
    return contextlib.nullcontext()


def _compute_planes(store: RunStore, epochs, settings: dict) -> pd.DataFrame:
    seed = settings.get("seed", 0)
    te = te_planes(store, alignments=settings.get("alignments", (1, 0)), max_pairs=settings.get("max_pairs", 1_000_000),
                   seed=seed, epochs=epochs, n_surrogates=settings.get("n_surrogates", DEFAULT_N_SURROGATES))
    mi = mi_planes(store, estimators=settings.get("estimators", ("binning", "kde")), n_bins=settings.get("n_bins", 30),
                   noise_variance=settings.get("noise_variance", 0.1), epochs=epochs,
                   kde_samples=settings.get("kde_samples", DEFAULT_KDE_SAMPLES), seed=seed)
    return pd.concat([frame for frame in (te, mi) if not frame.empty], ignore_index=True)
