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
         "SpecError": ".spec", "StageSpec": ".spec", "StemSpec": ".spec", "deploy": ".nets.deploy"}


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


def resolve_spec(name_or_spec, **overrides) -> "NetworkSpec":
    """A spec from a zoo name, a YAML path or a :class:`NetworkSpec`, with top-level overrides
    (``num_joints=14``, ``input_size=(128, 96)`` or ``'128x96'``, ...)."""
    from .nets.zoo import get_spec
    from .spec import NetworkSpec
    if isinstance(name_or_spec, NetworkSpec):
        spec = name_or_spec
    elif isinstance(name_or_spec, (str, Path)) and (str(name_or_spec).endswith((".yaml", ".yml"))
                                                    or Path(name_or_spec).is_file()):
        spec = NetworkSpec.from_yaml(Path(name_or_spec))
    elif isinstance(name_or_spec, str):
        spec = get_spec(name_or_spec)
    else:
        raise TypeError(f"expected a model name, a YAML path or a NetworkSpec, got {type(name_or_spec).__name__}")
    return spec.replace(**overrides) if overrides else spec


def create_model(name_or_spec, *, device=None, dtype=None, **overrides):
    """Build a pose network from a zoo name, a YAML path or a spec.

    ``device='meta'`` builds without allocating memory (instant parameter counts).

    >>> m = create_model('hrnet_w32_coco', num_joints=14, input_size=(128, 96), device='meta')
    >>> m.head.final.out_channels
    14
    """
    from .nets.builder import build_network
    return build_network(resolve_spec(name_or_spec, **overrides), device=device, dtype=dtype)
