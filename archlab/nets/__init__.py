"""Networks: the generic multi-branch builder and the model zoo.

The names are imported on first use (:mod:`.builder` needs torch, :mod:`.zoo` does not).
"""
import importlib

__all__ = ["PoseNet", "MultiBranchModule", "build_network", "init_weights", "ZOO", "DATASETS",
           "get_spec", "list_models", "hrnet", "litehrnet", "sdhrnet"]

_LAZY = {**dict.fromkeys(("PoseNet", "MultiBranchModule", "build_network", "init_weights"), ".builder"),
         **dict.fromkeys(("ZOO", "DATASETS", "get_spec", "list_models", "hrnet", "litehrnet", "sdhrnet"), ".zoo")}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
