"""Figures (matplotlib/seaborn, PNG + SVG + JSON sidecar with what was drawn)."""
from .figures import bubble_chart, hypervolume_plot, paper_points, pareto_scatter, read_figure_data, save_figure

__all__ = ["bubble_chart", "hypervolume_plot", "paper_points", "pareto_scatter", "read_figure_data", "save_figure"]
