import json
import logging
import math

import numpy as np
import pandas as pd
import pytest

from infoplane import estimators as est
from infoplane.analysis import analyze_run, mi_planes, te_planes
from infoplane.analysis.significance import adjust_p_values, chi_square_floor, layer_te_with_surrogates
from synthetic_recordings import epoch_arrays, random_epoch, random_probe, run_config, write_run

STREAM_DELAY1 = {"mode": "stream", "alignment": 1, "estimator": "plugin"}


def select(frame, **selection):
    for column, wanted in selection.items():
        frame = frame[frame[column] == wanted]
    return frame


def one_value(frame, **selection):
    rows = select(frame, **selection)
    assert len(rows) == 1, selection
    return rows.iloc[0]


def test_lagged_copy_is_significant(tmp_path):
    rng = np.random.default_rng(0)
    store = write_run(tmp_path / "run", {1: random_epoch(rng, n_steps=2000, copy_fidelity=1.0)}, *random_probe(rng))
    te = te_planes(store, alignments=(1,), modes=("stream",), n_surrogates=100)

    pair_max = one_value(te, source="x", target="h", plane="xy", aggregate="max", **STREAM_DELAY1)
    series = store.read_epoch(1)
    source_entropy = est.entropy(np.unpackbits(series["stream_bits/x"], axis=1, count=4)[:, 0])
    assert pair_max["value"] == pytest.approx(source_entropy, abs=0.02)
    assert pair_max["p_value"] < 0.01
    layer_mean = one_value(te, source="x", target="h", plane="xy", aggregate="mean", **STREAM_DELAY1)
    assert layer_mean["p_value"] < 0.01
    assert layer_mean["n_pairs"] == 12
    fraction = one_value(te, source="x", target="h", plane="xy", estimator="chi2", aggregate="fraction-significant")
    assert fraction["value"] == pytest.approx(1 / 12)


def test_independent_layers_not_significant(tmp_path):
    passes, corrected = 0, []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        store = write_run(tmp_path / f"run{seed}", {1: random_epoch(rng)}, *random_probe(rng))
        te = te_planes(store, alignments=(1,), modes=("stream",), n_surrogates=20, seed=seed)
        row = one_value(te, source="x", target="h", plane="xy", aggregate="mean", **STREAM_DELAY1)
        passes += row["p_value"] > 0.05
        corrected.append(one_value(te, source="x", target="h", plane="xy", aggregate="mean-bias-corrected",
                                   **STREAM_DELAY1)["value"])
    assert passes >= 17
    assert np.max(np.abs(corrected)) < 0.01


def test_bias_corrected_is_value_minus_surrogate_mean(tmp_path):
    rng = np.random.default_rng(1)
    store = write_run(tmp_path / "run", {1: random_epoch(rng)}, *random_probe(rng))
    te = te_planes(store, n_surrogates=5)
    for aggregate in ("mean", "sum", "max"):
        raw = select(te, estimator="plugin", aggregate=aggregate).reset_index(drop=True)
        corrected = select(te, estimator="plugin", aggregate=f"{aggregate}-bias-corrected").reset_index(drop=True)
        np.testing.assert_allclose(corrected["value"], raw["value"] - raw["surrogate_mean"])
        np.testing.assert_allclose(corrected["p_adjusted"], raw["p_adjusted"])


def test_stacked_surrogates_match_estimator():
    rng = np.random.default_rng(2)
    sources = rng.integers(0, 2, (300, 4))
    targets = rng.integers(0, 2, (300, 3))
    permutations = est.surrogate_permutations(6, 300, random_state=3)
    observed, surrogates = layer_te_with_surrogates(sources, targets, 1, permutations)
    np.testing.assert_allclose(observed, est.transfer_entropy_matrix(sources, targets), atol=1e-12)
    expected = est.transfer_entropy_matrix_surrogates(sources, targets, permutations=permutations)
    np.testing.assert_allclose(surrogates, expected, atol=1e-12)


def test_chi_square_floor_closed_form():
    matrix = np.full((2, 3), 0.001)
    floors = chi_square_floor(matrix, 1000, 2)
    assert floors["pair-floor"][0] == pytest.approx(est.analytic_te_floor(1000, 2, alpha=0.05))
    # chi2(12) upper 5 % point is 21.026; the floor of the mean divides it by 2 N ln 2 and by 6 pairs.
    assert floors["mean-floor"][0] == pytest.approx(21.0260698 / (2000 * math.log(2) * 6), rel=1e-6)
    assert floors["max-floor"][0] > floors["pair-floor"][0]
    expected_p = 1 - (1 - est.analytic_te_p_value(0.001, 1000, 2)) ** 6
    assert floors["max-floor"][1] == pytest.approx(expected_p)


def test_adjusted_p_values_are_bh_per_family():
    rows = pd.DataFrame({
        "epoch": [1, 2, 3, 1, 1], "measure": "te", "estimator": "plugin", "mode": "stream",
        "alignment": [1, 1, 1, 0, 1], "aggregate": ["mean", "mean", "mean", "mean", "mean-bias-corrected"],
        "plane": "xy", "source": "x", "target": "h", "p_value": [0.01, 0.04, 0.03, 0.2, 0.01]})
    adjusted = adjust_p_values(rows)
    np.testing.assert_allclose(adjusted[:3], est.benjamini_hochberg([0.01, 0.04, 0.03]))
    assert adjusted[3] == pytest.approx(0.2)
    assert adjusted[4] == pytest.approx(adjusted[0])


def test_constant_layer_flagged(tmp_path, caplog):
    rng = np.random.default_rng(4)
    arrays = random_epoch(rng)
    arrays["stream_bits/h"] = np.zeros_like(arrays["stream_bits/h"])
    store = write_run(tmp_path / "run", {1: arrays, 2: random_epoch(rng)}, *random_probe(rng))
    with caplog.at_level(logging.WARNING):
        te = te_planes(store, alignments=(1,), modes=("stream",), n_surrogates=5)
    row = one_value(te, epoch=1, source="x", target="h", plane="xy", aggregate="mean", **STREAM_DELAY1)
    assert row["value"] == 0.0
    assert row["p_value"] == 1.0
    assert row["flag"] == "no variation in layer h"
    assert row["n_constant_units"] == 3
    assert one_value(te, epoch=2, source="x", target="h", plane="xy", aggregate="mean", **STREAM_DELAY1)["flag"] == ""
    assert sum("no variation in layer h in 1 epoch" in message for message in caplog.messages) == 1


def test_damaged_epoch_gives_flagged_rows(tmp_path, caplog):
    rng = np.random.default_rng(5)
    store = write_run(tmp_path / "run", {epoch: random_epoch(rng) for epoch in (1, 2, 3)}, *random_probe(rng))
    path = store.path / "epochs" / "000002.npz"
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.ERROR):
        te = te_planes(store, alignments=(1,), modes=("stream",), n_surrogates=3)
        mi = mi_planes(store, estimators=("binning",))
    damaged = te[te["epoch"] == 2]
    assert len(damaged) > 0
    assert damaged["value"].isna().all()
    assert damaged["flag"].str.startswith("epoch file unreadable").all()
    assert te[te["epoch"] != 2]["value"].notna().all()
    assert mi[mi["epoch"] == 2]["value"].isna().all()
    assert mi[mi["epoch"] == 2]["flag"].str.contains("damaged or truncated").all()
    assert any("epoch 2 skipped in the TE planes" in message for message in caplog.messages)


def test_missing_scheduled_epoch_flagged(tmp_path):
    rng = np.random.default_rng(6)
    config = run_config(epochs=(1, 2, 3), n_surrogates=3)
    store = write_run(tmp_path / "run", {1: random_epoch(rng), 3: random_epoch(rng)}, *random_probe(rng),
                      metrics=[{"epoch": epoch, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0,
                                "test_accuracy": 0.5, "seconds": 0.1} for epoch in (1, 2, 3)], config=config)
    measures = analyze_run(store)
    missing = measures[measures["epoch"] == 2]
    assert len(missing) > 0
    assert missing["value"].isna().all()
    assert missing["flag"].str.contains("file not found").all()
    assert (store.path / "summary.json").is_file()


def test_single_epoch_summary_skips_dynamics(tmp_path):
    rng = np.random.default_rng(7)
    store = write_run(tmp_path / "run", {1: random_epoch(rng)}, *random_probe(rng), config=run_config(n_surrogates=3))
    analyze_run(store)
    summary = json.loads((store.path / "summary.json").read_text())
    assert summary["n_recorded_epochs"] == 1
    assert "at least two" in summary["claims"]["skipped"]


def test_mi_flags_saturation_and_no_variation(tmp_path, caplog):
    rng = np.random.default_rng(8)
    probe_x, probe_y = random_probe(rng, n_probe=64)
    epochs = {}
    for epoch in (1, 2):
        stream = {"x": rng.integers(0, 2, (100, 4), dtype=np.uint8), "h": rng.integers(0, 2, (100, 3), dtype=np.uint8),
                  "output": rng.integers(0, 2, (100, 2), dtype=np.uint8)}
        probe = {"h": rng.normal(size=(64, 3)), "output": np.zeros((64, 2))}
        epochs[epoch] = epoch_arrays(stream, probe, rng.integers(0, 2, 100))
    store = write_run(tmp_path / "run", epochs, probe_x, probe_y)
    with caplog.at_level(logging.WARNING):
        mi = mi_planes(store, kde_samples=32)

    saturated = select(mi, estimator="binning", source="x", target="h")
    assert saturated["flag"].str.startswith("saturated").all()
    assert sum("saturated" in message for message in caplog.messages) == 1
    constant = select(mi, estimator="binning", target="output")
    assert (constant["value"] == 0.0).all()
    assert constant["flag"].str.startswith("no variation").all()
    upper = select(mi, estimator="kde-upper", source="x").set_index(["epoch", "target"])["value"]
    lower = select(mi, estimator="kde-lower", source="x").set_index(["epoch", "target"])["value"]
    assert (lower <= upper + 1e-12).all()
    assert (upper <= math.log2(32) + 1e-9).all()


def test_summary_reports_falling_te(tmp_path):
    rng = np.random.default_rng(9)
    fidelities = np.linspace(0.9, 0.0, 12)
    epochs = {epoch: random_epoch(rng, n_steps=1500, copy_fidelity=fidelity)
              for epoch, fidelity in zip(range(1, 13), fidelities)}
    store = write_run(tmp_path / "run", epochs, *random_probe(rng), config=run_config(n_surrogates=3, epochs=range(1, 13)))
    analyze_run(store, {"alignments": [1]})
    summary = json.loads((store.path / "summary.json").read_text())
    trend = summary["claims"]["te_trend"]["stream/delay1"]["pairs"]["x->h"]
    assert trend["rho"] < -0.9
    assert summary["claims"]["te_trend"]["stream/delay1"]["n_tested"] == 3
    assert "concentration" in summary["claims"]
    assert set(summary["te_significance"]) == {"stream/delay1", "probe/delay1"}


def test_n_surrogates_validated(tmp_path):
    rng = np.random.default_rng(10)
    store = write_run(tmp_path / "run", {1: random_epoch(rng)}, *random_probe(rng))
    with pytest.raises(ValueError, match="n_surrogates must be an integer >= 0 .*, got -1"):
        te_planes(store, n_surrogates=-1)


def test_zero_surrogates_flags_p_values(tmp_path):
    rng = np.random.default_rng(10)
    store = write_run(tmp_path / "run", {1: random_epoch(rng)}, *random_probe(rng))
    frame = te_planes(store, n_surrogates=0)
    plugin = frame[frame["estimator"] == "plugin"]
    assert set(plugin["aggregate"]) == {"mean", "sum", "max"}
    assert plugin["value"].notna().all()
    assert plugin["p_value"].isna().all()
    assert plugin["flag"].str.contains("no surrogate test").all()


def test_summary_correlation_has_adjusted_p(tmp_path):
    rng = np.random.default_rng(11)
    epochs = {epoch: random_epoch(rng, n_steps=800, copy_fidelity=0.5) for epoch in range(1, 9)}
    metrics = [{"epoch": epoch, "train_loss": 1.0 / epoch, "train_accuracy": 0.5 + 0.05 * epoch + 0.01 * (epoch % 3),
                "test_loss": 1.0 / epoch, "test_accuracy": 0.5, "seconds": 0.1} for epoch in epochs]
    store = write_run(tmp_path / "run", epochs, *random_probe(rng), metrics=metrics,
                      config=run_config(n_surrogates=2, epochs=range(1, 9)))
    analyze_run(store, {"alignments": [1]})
    correlation = json.loads((store.path / "summary.json").read_text())["claims"]["correlation"]["te/stream/delay1"]
    entry = correlation["x->h"]["train_accuracy"]
    assert entry["n"] == 8
    assert entry["pearson"]["p_adjusted"] >= entry["pearson"]["p_value"]
    assert "one of the series is constant" in correlation["x->h"]["test_accuracy"]["skipped"]
