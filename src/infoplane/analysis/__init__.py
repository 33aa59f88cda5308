"""Analysis of a run folder: TE and MI planes as tidy tables, and their dynamics."""

from .planes import MEASURE_COLUMNS, analyze_run, mi_planes, te_planes

__all__ = ["MEASURE_COLUMNS", "analyze_run", "mi_planes", "te_planes"]
