"""Training and evaluation of pose networks (HRNet recipe), resumable and distributed.

* :mod:`.config` -- :class:`TrainConfig` (frozen, validated, YAML round trip)
* :mod:`.loop` -- :func:`train`, :class:`JointsMSELoss`
* :mod:`.evaluate` -- :func:`evaluate` (PCK@0.2 / PCKh@0.5, COCO OKS AP, COCO-format predictions)
* :mod:`.checkpoint` -- atomic checkpoint writes, ``weights_only`` loads
* :mod:`.sampling` -- seeded, resumable, rank-sharded sampling
* :mod:`.cli` -- ``archlab train`` / ``archlab eval``
"""
import importlib

#: imported on first use, so ``archlab --help`` and the CLI's parser do not import torch
_LAZY = {"CheckpointError": ".checkpoint", "load_checkpoint": ".checkpoint", "save_atomic": ".checkpoint",
         "ConfigError": ".config", "TrainConfig": ".config", "evaluate": ".evaluate", "load_model": ".evaluate",
         "JointsMSELoss": ".loop", "train": ".loop"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["TrainConfig", "ConfigError", "train", "JointsMSELoss", "evaluate", "load_model", "CheckpointError",
           "load_checkpoint", "save_atomic"]
