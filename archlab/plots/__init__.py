"""Figures (matplotlib/seaborn): PNG + SVG written byte-for-byte reproducibly, plus a JSON sidecar
read back from the drawn artists (:func:`save_figure`, :func:`read_figure_data`)."""
from .figures import bubble_chart, hypervolume_plot, label_points, paper_points, pareto_scatter, plane_points
from .save import figure_artists, read_figure_data, save_figure

__all__ = ["bubble_chart", "hypervolume_plot", "label_points", "paper_points", "pareto_scatter", "plane_points",
           "figure_artists", "read_figure_data", "save_figure"]
