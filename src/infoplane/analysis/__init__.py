"""Analysis of a run folder: TE and MI planes as tidy tables, their significance and dynamics, and seeds."""

from . import dynamics
from .planes import MEASURE_COLUMNS, analyze_run, mi_planes, te_planes
from .seeds import aggregate_metrics, aggregate_runs
from .summary import build_summary

__all__ = ["MEASURE_COLUMNS", "aggregate_metrics", "aggregate_runs", "analyze_run", "build_summary", "dynamics",
           "mi_planes", "te_planes"]
