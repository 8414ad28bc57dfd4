"""Networks: the generic multi-branch builder and the model zoo.

The names are imported on first use (:mod:`.builder` needs torch, :mod:`.zoo` does not).
"""
from .._lazy import lazy_exports

__all__ = ["PoseNet", "MultiBranchModule", "build_network", "init_weights", "ZOO", "DATASETS",
           "get_spec", "list_models", "hrnet", "litehrnet", "sdhrnet"]

_LAZY = {**dict.fromkeys(("PoseNet", "MultiBranchModule", "build_network", "init_weights"), ".builder"),
         **dict.fromkeys(("ZOO", "DATASETS", "get_spec", "list_models", "hrnet", "litehrnet", "sdhrnet"), ".zoo")}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
