"""Training and evaluation of pose networks (HRNet recipe), resumable and distributed.

* :mod:`.config` -- :class:`TrainConfig` (frozen, validated, YAML round trip)
* :mod:`.loop` -- :func:`train`, :class:`JointsMSELoss`
* :mod:`.evaluate` -- :func:`evaluate` (PCK@0.2 / PCKh@0.5, COCO OKS AP, COCO-format predictions)
* :mod:`.checkpoint` -- atomic checkpoint writes, ``weights_only`` loads
* :mod:`.sampling` -- seeded, resumable, rank-sharded sampling
* :mod:`.cli` -- ``archlab train`` / ``archlab eval``
"""
from .checkpoint import CheckpointError, load_checkpoint, save_atomic
from .config import ConfigError, TrainConfig
from .evaluate import evaluate, load_model
from .loop import JointsMSELoss, train

__all__ = ["TrainConfig", "ConfigError", "train", "JointsMSELoss", "evaluate", "load_model", "CheckpointError",
           "load_checkpoint", "save_atomic"]
