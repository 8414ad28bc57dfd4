"""Compatibility name for :mod:`archlab.train.evaluation` (``from archlab.train.evaluate import ...``).

The implementation lives in :mod:`.evaluation`: a submodule named ``evaluate``, once imported,
is what ``from archlab.train import evaluate`` returns (the import system binds a loaded
submodule onto its package), so the library itself never imports this one and the function
:func:`archlab.train.evaluate` stays a function. New code imports from :mod:`.evaluation` (or
the dataset functions from :mod:`archlab.data.registry`).
"""
from .evaluation import (MAIN_METRIC, compute_metrics, dedupe, evaluate, load_model, main_metric, merge, predict,
                         open_dataset, resolve_data_dir, results_json)

__all__ = ["evaluate", "open_dataset", "resolve_data_dir", "predict", "compute_metrics", "main_metric",
           "load_model", "MAIN_METRIC", "merge", "dedupe", "results_json"]
