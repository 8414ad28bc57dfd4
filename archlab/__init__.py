"""archlab: design and analyse lightweight HRNet-family networks for human pose estimation.

>>> import archlab
>>> spec = archlab.get_spec('sdhrnet_coco')
>>> model = archlab.create_model(spec, device='meta')
>>> round(sum(p.numel() for p in model.parameters()) / 1e6, 1)
16.8
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

__version__ = "0.1.0"
__all__ = ["create_model", "get_spec", "list_models", "resolve_spec", "NetworkSpec", "StageSpec", "StemSpec",
           "HeadSpec", "SpecError", "count", "CostReport", "deploy", "__version__"]

#: re-exports, imported on first use so that ``import archlab`` (and ``archlab --help``) does not
#: import torch: name -> the submodule that defines it
_LAZY = {"get_spec": ".nets.zoo", "list_models": ".nets.zoo", "build_network": ".nets.builder",
         "count": ".cost.analytic", "CostReport": ".cost.analytic", "HeadSpec": ".spec", "NetworkSpec": ".spec",
         "SpecError": ".spec", "StageSpec": ".spec", "StemSpec": ".spec", "deploy": ".nets.deploy",
         "resolve_spec": ".nets.factory", "create_model": ".nets.factory"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:   # a subpackage: archlab.nets, ...
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
