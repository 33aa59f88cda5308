import numpy as np
import pandas as pd
import pytest
from scipy import stats

from infoplane.analysis import analyze_run
from infoplane.analysis.seeds import aggregate_metrics, aggregate_runs, find_runs, t_interval
from infoplane.runs import RunFormatError
from synthetic_recordings import random_epoch, random_probe, run_config, write_run


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        metrics = [{"epoch": epoch, "train_loss": 1.0 / (epoch + seed), "train_accuracy": 0.5 + 0.1 * seed,
                    "test_loss": 1.0, "test_accuracy": 0.5, "seconds": 0.1} for epoch in (1, 2)]
        config = run_config(n_surrogates=2, epochs=(1, 2))
        config["training"]["seed"] = seed
        store = write_run(folder / f"seed{seed}", {1: random_epoch(rng), 2: random_epoch(rng)}, *random_probe(rng),
                          metrics=metrics, config=config)
        analyze_run(store, {"alignments": [1]})
    return folder


def test_t_interval_matches_scipy():
    values = pd.Series([1.0, 2.0, 4.0, np.nan])
    result = t_interval(values, 0.95)
    low, high = stats.t.interval(0.95, 2, loc=np.mean([1, 2, 4]), scale=stats.sem([1, 2, 4]))
    assert result["mean"] == pytest.approx(7 / 3)
    assert result["ci_low"] == pytest.approx(low)
    assert result["ci_high"] == pytest.approx(high)
    assert result["n_runs"] == 3


def test_sweep_folder_expands(sweep):
    assert [path.name for path in find_runs([sweep])] == ["seed0", "seed1", "seed2"]


def test_aggregate_matches_manual_mean(sweep):
    table = aggregate_runs([sweep])
    runs = [pd.read_parquet(sweep / f"seed{seed}" / "measures.parquet") for seed in range(3)]
    selection = {"epoch": 2, "measure": "te", "estimator": "plugin", "plane": "xy", "source": "x", "target": "h",
                 "mode": "stream", "aggregate": "mean"}

    def pick(frame):
        for column, wanted in selection.items():
            frame = frame[frame[column] == wanted]
        return frame

    values = [pick(run)["value"].iloc[0] for run in runs]
    row = pick(table).iloc[0]
    assert row["mean"] == pytest.approx(np.mean(values))
    assert row["std"] == pytest.approx(np.std(values, ddof=1))
    assert row["n_runs"] == 3
    assert row["flag"] == ""
    assert row["ci_low"] < row["mean"] < row["ci_high"]


def test_single_run_has_no_interval(sweep):
    table = aggregate_runs([sweep / "seed0"])
    assert table["ci_low"].isna().all()
    assert (table["flag"][table["n_runs"] == 1] == "one run: no interval").all()


def test_metrics_aggregated(sweep):
    table = aggregate_metrics([sweep])
    row = table[(table["epoch"] == 1) & (table["metric"] == "train_accuracy")].iloc[0]
    assert row["mean"] == pytest.approx(0.6)
    assert row["n_runs"] == 3


def test_bad_folder_rejected(tmp_path):
    with pytest.raises(RunFormatError, match="neither a run folder nor a folder of runs"):
        aggregate_runs([tmp_path])
    with pytest.raises(ValueError, match="confidence must lie strictly between 0 and 1"):
        aggregate_runs([tmp_path], confidence=95)
