"""Matplotlib figures of runs: information planes, TE over epochs, heat maps, seed bands and animated planes.

Every figure function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes
it as PNG (200 dpi) and SVG. All information values are in bits.
"""

from .compare import (RunTables, comparison_table, draw_comparison_figures, load_run_tables, plot_compare_metrics,
                      plot_compare_planes, unique_labels)
from .curves import (plot_metrics, plot_seed_band, plot_te_against_metrics, plot_te_heatmap, plot_te_over_epochs,
                     seed_band)
from .planes import animate_plane, draw_plane, plane_points, plot_plane
from .run import draw_run_figures, figure_tasks
from .style import DPI, save_figure

__all__ = ["DPI", "RunTables", "animate_plane", "comparison_table", "draw_comparison_figures", "draw_plane",
           "draw_run_figures", "figure_tasks", "load_run_tables", "plane_points", "plot_compare_metrics",
           "plot_compare_planes", "plot_metrics", "plot_plane", "plot_seed_band", "plot_te_against_metrics",
           "plot_te_heatmap", "plot_te_over_epochs", "save_figure", "seed_band", "unique_labels"]
