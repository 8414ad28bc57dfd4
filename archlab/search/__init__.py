"""Multi-objective architecture search with Optuna: spaces (YAML), objectives and budgets,
storages and workers, Pareto tables and figures."""
from .pareto import hypervolume_history, pareto_mask, trials_table
from .runner import open_study, run_search, run_worker
from .space import SearchSpace, SpaceError

__all__ = ["SearchSpace", "SpaceError", "run_search", "run_worker", "open_study", "pareto_mask", "trials_table",
           "hypervolume_history"]
