"""The model factory: a spec from a zoo name, a YAML path or a spec, and a network built from it
(as timm's ``create_model``, in its own module; ``archlab`` re-exports both)."""
from __future__ import annotations

from pathlib import Path

from ..spec import NetworkSpec
from .zoo import get_spec

__all__ = ["resolve_spec", "create_model"]


def resolve_spec(name_or_spec, **overrides) -> NetworkSpec:
    """A spec from a zoo name, a YAML path or a :class:`NetworkSpec`, with top-level overrides
    (``num_joints=14``, ``input_size=(128, 96)`` or ``'128x96'``, ...)."""
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
    from .builder import build_network
    return build_network(resolve_spec(name_or_spec, **overrides), device=device, dtype=dtype)
