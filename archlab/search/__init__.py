"""Multi-objective architecture search with Optuna: spaces (YAML), objectives and budgets,
storages and workers, Pareto tables and figures."""
import importlib

#: imported on first use, so ``archlab --help`` and the CLI's parser do not import optuna or torch
_LAZY = {"hypervolume_history": ".pareto", "pareto_mask": ".pareto", "trials_table": ".pareto",
         "open_study": ".runner", "run_search": ".runner", "run_worker": ".runner", "SearchSpace": ".space",
         "SpaceError": ".space"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["SearchSpace", "SpaceError", "run_search", "run_worker", "open_study", "pareto_mask", "trials_table",
           "hypervolume_history"]
