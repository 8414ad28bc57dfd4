"""Multi-objective architecture search with Optuna: spaces (YAML), objectives and budgets,
storages and workers, Pareto tables and figures."""
from .._lazy import lazy_exports

#: imported on first use, so ``archlab --help`` and the CLI's parser do not import optuna or torch
_LAZY = {"hypervolume_history": ".pareto", "pareto_mask": ".pareto", "trials_table": ".pareto",
         "open_study": ".runner", "run_search": ".runner", "run_worker": ".runner", "SearchSpace": ".space",
         "SpaceError": ".space"}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = ["SearchSpace", "SpaceError", "run_search", "run_worker", "open_study", "pareto_mask", "trials_table",
           "hypervolume_history"]
