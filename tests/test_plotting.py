import logging

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from infoplane.plotting import (draw_run_figures, plane_points, plot_seed_band, plot_te_against_metrics, save_figure,
                                seed_band)
from synthetic_runs import HIDDEN, RECORDED_EPOCHS, synthetic_measures, synthetic_metrics

MIN_WIDTH_PIXELS = 600
PLANES = [f"te_plane_{plane}_delay{delay}_{mode}" for plane in ("xy", "adjacent") for delay in (1, 0)
          for mode in ("stream", "probe")] + ["mi_plane_binning", "mi_plane_kde-upper"]
CURVES = [f"{kind}_delay{delay}_{mode}" for kind in ("te_over_epochs", "te_heatmap", "te_against_metrics")
          for delay in (1, 0) for mode in ("stream", "probe")] + ["metrics"]


def assert_image_drawn(path):
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert width >= MIN_WIDTH_PIXELS, (path, width)
    assert height >= MIN_WIDTH_PIXELS // 2, (path, height)
    assert pixels.std() > 10, f"{path} looks blank"
    assert (pixels < 200).mean() > 0.01, f"{path} has almost no dark pixels"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    paths = draw_run_figures(synthetic_measures(0), synthetic_metrics(0), folder, n_probe=256)
    return folder, paths


@pytest.mark.parametrize("name", PLANES + CURVES)
def test_figure_png_drawn(drawn, name):
    folder, _ = drawn
    assert_image_drawn(folder / f"{name}.png")
    assert (folder / f"{name}.svg").stat().st_size > 1000


def test_animated_planes_have_one_frame_per_epoch(drawn):
    folder, _ = drawn
    for name in ("te_plane_xy_delay1_stream", "mi_plane_binning"):
        with Image.open(folder / f"{name}.gif") as image:
            assert image.n_frames == len(RECORDED_EPOCHS)
            assert image.size[0] >= 500


def test_plane_points_xy_and_adjacent():
    measures = synthetic_measures(3)
    selection = {"measure": "te", "estimator": "plugin", "alignment": 1, "mode": "stream", "aggregate": "mean"}
    rows = measures[(measures.measure == "te") & (measures.alignment == 1) & (measures["mode"] == "stream")
                    & (measures["aggregate"] == "mean")]

    def value(plane, source, target, epoch):
        pick = rows[(rows.plane == plane) & (rows.source == source) & (rows.target == target) & (rows.epoch == epoch)]
        return pick["value"].item()

    xy = plane_points(measures, plane="xy", **selection)
    assert len(xy) == len(HIDDEN) * len(RECORDED_EPOCHS)
    point = xy[(xy.epoch == 5) & (xy.layer == "act2")].iloc[0]
    assert point.horizontal == value("xy", "x", "act2", 5)
    assert point.vertical == value("xy", "act2", "y", 5)
    adjacent = plane_points(measures, plane="adjacent", **selection)
    assert list(adjacent[adjacent.epoch == 1]["layer"]) == HIDDEN
    point = adjacent[(adjacent.epoch == 8) & (adjacent.layer == "act3")].iloc[0]
    assert point.horizontal == value("adjacent", "act2", "act3", 8)
    assert point.vertical == value("adjacent", "act3", "output", 8)


def test_missing_rows_skip_figure_with_log(tmp_path, caplog):
    measures = synthetic_measures(0, surrogates=False)
    measures = measures[(measures.plane != "adjacent") & ((measures.measure == "mi") | (measures["mode"] == "stream"))]
    measures = measures[~((measures.measure == "mi") & (measures.target == "y"))]
    with caplog.at_level(logging.INFO, logger="infoplane.plotting"):
        draw_run_figures(measures, pd.DataFrame(columns=synthetic_metrics(0).columns), tmp_path, animate=False)
    assert "skipped figure mi_plane_binning" in caplog.text
    assert "skipped figure metrics: metrics.parquet is empty" in caplog.text
    assert not (tmp_path / "mi_plane_binning.png").exists()
    assert not (tmp_path / "te_plane_adjacent_delay1_stream.png").exists()
    assert not (tmp_path / "te_against_metrics_delay1_stream.png").exists()
    assert_image_drawn(tmp_path / "te_plane_xy_delay1_stream.png")
    assert_image_drawn(tmp_path / "te_over_epochs_delay1_stream.png")


def test_seed_band_is_student_interval():
    tables = [synthetic_measures(seed) for seed in (1, 2, 3, 4)]
    selection = {"measure": "te", "plane": "xy", "alignment": 1, "mode": "stream", "aggregate": "mean"}
    band = seed_band(tables, **selection)
    row = band[(band.epoch == 13) & (band.source == "x") & (band.target == "act1")].iloc[0]
    values = np.array([table[(table.epoch == 13) & (table.source == "x") & (table.target == "act1")
                             & (table.measure == "te") & (table.plane == "xy") & (table.alignment == 1)
                             & (table["mode"] == "stream") & (table["aggregate"] == "mean")]["value"].item()
                       for table in tables])
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert row["count"] == 4
    assert row["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert row["low"] == pytest.approx(low, rel=1e-9)
    assert row["high"] == pytest.approx(high, rel=1e-9)


def test_seed_band_of_one_table_collapses():
    band = seed_band([synthetic_measures(5)], measure="te", plane="xy", alignment=0, mode="probe", aggregate="mean")
    assert (band["low"] == band["mean"]).all()
    assert (band["high"] == band["mean"]).all()


def test_seed_band_figure(tmp_path):
    groups = {"tanh": [synthetic_measures(seed) for seed in (1, 2, 3)],
              "relu": [synthetic_measures(seed) for seed in (7, 8)]}
    paths = save_figure(plot_seed_band(groups), tmp_path / "band")
    assert_image_drawn(paths[0])
    with pytest.raises(ValueError, match="no TE rows of the xy plane"):
        plot_seed_band([synthetic_measures(0)], mode="missing-mode")


def test_against_metrics_legend_has_spearman():
    measures, metrics = synthetic_measures(2), synthetic_metrics(2)
    figure = plot_te_against_metrics(measures, metrics)
    legend_texts = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    rows = measures[(measures.measure == "te") & (measures.plane == "xy") & (measures.alignment == 1)
                    & (measures["mode"] == "stream") & (measures["aggregate"] == "mean") & (measures.source == "x")
                    & (measures.target == "act1")].merge(metrics, on="epoch")
    rho = stats.spearmanr(rows["train_accuracy"], rows["value"]).statistic
    assert legend_texts[0] == f"act1: ρ = {rho:+.2f}"
