"""Several runs of one config (different seeds) aggregated: mean and t confidence interval per epoch and layer."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..runs import METRIC_COLUMNS, RunFormatError, RunStore

logger = logging.getLogger(__name__)

KEY_COLUMNS = ["epoch", "measure", "estimator", "plane", "source", "target", "alignment", "mode", "aggregate"]
SEED_KEYS = (("training", "seed"), ("data", "seed"))


def find_runs(folders) -> list[Path]:
    """Return the run folders among ``folders``; a folder without run.json contributes its run subfolders (a sweep)."""
    runs = []
    for folder in map(Path, folders):
        if (folder / "run.json").is_file():
            runs.append(folder)
            continue
        children = sorted(child for child in folder.glob("*/") if (child / "run.json").is_file()) if folder.is_dir() else []
        if not children:
            raise RunFormatError(f"{folder} is neither a run folder nor a folder of runs (no run.json found); "
                                 "pass run folders written by `infoplane run`")
        runs.extend(children)
    return runs


def _config_without_seeds(config: dict) -> dict:
    config = copy.deepcopy(config)
    for table, key in SEED_KEYS:
        config.get(table, {}).pop(key, None)
    config.pop("name", None)
    return config


def _check_same_config(stores: list[RunStore]) -> None:
    reference = _config_without_seeds(stores[0].config)
    for store in stores[1:]:
        if _config_without_seeds(store.config) != reference:
            logger.warning("%s was run with another config than %s (apart from seeds); its values are averaged "
                           "all the same", store.path, stores[0].path)


def t_interval(values: pd.Series, confidence: float) -> pd.Series:
    """Return mean, std (ddof 1), the two-sided t interval at ``confidence`` and the count of the finite values."""
    finite = values.dropna().to_numpy(dtype=np.float64)
    n = finite.size
    mean = float(finite.mean()) if n else np.nan
    std = float(finite.std(ddof=1)) if n > 1 else np.nan
    half_width = stats.t.ppf(0.5 + confidence / 2.0, n - 1) * std / np.sqrt(n) if n > 1 else np.nan
    return pd.Series({"mean": mean, "std": std, "ci_low": mean - half_width, "ci_high": mean + half_width, "n_runs": n})


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (0.95 for a 95 % interval), got {confidence}")
    return float(confidence)


def aggregate_runs(runs, confidence: float = 0.95) -> pd.DataFrame:
    """Average the measures of several runs per epoch, layer pair and row kind.

    Parameters
    ----------
    runs : sequence of path
        Run folders with measures.parquet (run `infoplane analyze` first), or sweep folders holding them.
    confidence : float, default 0.95
        Level of the two-sided Student t interval of the mean.

    Returns
    -------
    pandas.DataFrame
        One row per key of :data:`KEY_COLUMNS` with ``mean``, ``std`` (ddof 1), ``ci_low``, ``ci_high``
        (bits, like the values), ``n_runs`` (runs with a finite value) and ``flag`` ("one run: no
        interval" or "no run has a value"). Missing values of a run are left out of its key's mean.
    """
    confidence = _check_confidence(confidence)
    stores = [RunStore.open(path) for path in find_runs(runs)]
    _check_same_config(stores)
    frames = [store.read_measures().assign(run=str(store.path)) for store in stores]
    measures = pd.concat(frames, ignore_index=True)
    grouped = measures.groupby(KEY_COLUMNS, dropna=False, sort=True)["value"]
    table = grouped.apply(t_interval, confidence=confidence).unstack().reset_index()
    table["n_runs"] = table["n_runs"].astype(int)
    table["flag"] = np.select([table["n_runs"] == 0, table["n_runs"] == 1],
                              ["no run has a value", "one run: no interval"], "")
    logger.info("aggregated %d runs into %d rows", len(stores), len(table))
    return table


def aggregate_metrics(runs, confidence: float = 0.95) -> pd.DataFrame:
    """Average train and test accuracy and loss of several runs per epoch: long table with ``metric`` and intervals."""
    confidence = _check_confidence(confidence)
    frames = [RunStore.open(path).read_metrics() for path in find_runs(runs)]
    metrics = pd.concat(frames, ignore_index=True)
    long = metrics.melt(id_vars="epoch", value_vars=[name for name in METRIC_COLUMNS[1:] if name in metrics],
                        var_name="metric")
    table = long.groupby(["epoch", "metric"])["value"].apply(t_interval, confidence=confidence).unstack()
    table = table.reset_index()
    table["n_runs"] = table["n_runs"].astype(int)
    return table
