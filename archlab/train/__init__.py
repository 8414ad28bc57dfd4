"""Training and evaluation of pose networks (HRNet recipe), resumable and distributed.

* :mod:`.config` -- :class:`TrainConfig` (frozen, validated, YAML round trip)
* :mod:`.loop` -- :func:`train`, :func:`read_metrics`, :class:`JointsMSELoss`
* :mod:`.evaluation` -- :func:`evaluate` (each registered dataset's metrics; keypoint results JSON)
* :mod:`.checkpoint` -- atomic checkpoint writes, ``weights_only`` loads
* :mod:`.sampling` -- seeded, resumable, rank-sharded sampling
* :mod:`.cli` -- ``archlab train`` / ``archlab eval``
"""
from .._lazy import lazy_exports

#: imported on first use, so ``archlab --help`` and the CLI's parser do not import torch
_LAZY = {"CheckpointError": ".checkpoint", "load_checkpoint": ".checkpoint", "save_atomic": ".checkpoint",
         "ConfigError": ".config", "TrainConfig": ".config", "evaluate": ".evaluation", "load_model": ".evaluation",
         "JointsMSELoss": ".loop", "train": ".loop", "read_metrics": ".loop"}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = ["TrainConfig", "ConfigError", "train", "read_metrics", "JointsMSELoss", "evaluate", "load_model",
           "CheckpointError", "load_checkpoint", "save_atomic"]
