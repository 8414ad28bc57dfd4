"""Joint metadata of the built-in datasets: :class:`DatasetInfo` and one instance per dataset.

Each dataset is described by a frozen :class:`DatasetInfo`: joint names (in the order the
annotation files store them), left/right ``flip_pairs``, a drawing ``skeleton``, per-joint
OKS ``sigmas`` and the joint pairs used to normalise PCK (``torso``) and PCKh (``head``).

OKS sigmas
----------
COCO's are the 17 standard values of the COCO keypoint challenge (``cocoeval.py``).
LSPET and MPII have no official OKS sigmas; theirs are taken from the COCO joint of the same
name (ankle .089, knee .087, hip .107, wrist .062, elbow .072, shoulder .079). Joints COCO lacks
get the value of the nearest comparable COCO joint, as CrowdPose/MMPose do: neck, head-top,
MPII's thorax and upper-neck use the shoulder value .079; MPII's pelvis uses the hip value .107.

The registry (:mod:`archlab.data.registry`) maps each dataset's name to its info
(``DATASET_INFO``, ``get_dataset_info``); a new dataset passes its own :class:`DatasetInfo`.

>>> info = LSPET_INFO
>>> info.num_joints, info.joint_names[info.torso[0]], info.joint_names[info.torso[1]]
(14, 'left_shoulder', 'right_hip')
>>> info.flip_index[:6]
(5, 4, 3, 2, 1, 0)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DatasetInfo", "COCO_SIGMAS", "LSPET_INFO", "COCO_INFO", "MPII_INFO"]

#: The 17 COCO keypoint OKS sigmas (pycocotools ``Params.kpt_oks_sigmas``).
COCO_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
               0.107, 0.107, 0.087, 0.087, 0.089, 0.089)


@dataclass(frozen=True)
class DatasetInfo:
    """Per-dataset joint metadata (all joint indices are 0-based)."""

    name: str
    joint_names: tuple
    flip_pairs: tuple
    skeleton: tuple
    sigmas: tuple
    torso: tuple | None = None   #: (a, b): PCK normaliser = distance between joints a and b
    head: tuple | None = None    #: (a, b): PCKh normaliser = distance between joints a and b
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        n = len(self.joint_names)
        if len(self.sigmas) != n:
            raise ValueError(f"{self.name}: {len(self.sigmas)} sigmas for {n} joints")
        seen = set()
        for a, b in self.flip_pairs:
            if not (0 <= a < n and 0 <= b < n) or a == b or a in seen or b in seen:
                raise ValueError(f"{self.name}: bad flip pair ({a}, {b})")
            seen.update((a, b))
        for a, b in self.skeleton:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"{self.name}: bad skeleton edge ({a}, {b})")
        for label, pair in (("torso", self.torso), ("head", self.head)):
            if pair is not None and not all(0 <= j < n for j in pair):
                raise ValueError(f"{self.name}: bad {label} pair {pair}")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def flip_index(self) -> tuple:
        """Permutation that swaps left and right joints: ``flipped = joints[flip_index]``."""
        idx = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return tuple(idx)

    @property
    def sigmas_array(self) -> np.ndarray:
        return np.asarray(self.sigmas, dtype=np.float64)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)


_LSPET_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
                "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
                "left_wrist", "neck", "head_top")

LSPET_INFO = DatasetInfo(
    name="lspet",
    joint_names=_LSPET_NAMES,
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)),
    skeleton=((0, 1), (1, 2), (5, 4), (4, 3), (2, 3), (2, 8), (3, 9), (8, 9), (6, 7), (7, 8),
              (11, 10), (10, 9), (12, 13), (8, 12), (9, 12)),
    sigmas=(0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.062, 0.072, 0.079, 0.079, 0.072, 0.062,
            0.079, 0.079),
    torso=(9, 2),   # left shoulder -> right hip (the LSP PCK protocol)
    head=(12, 13),  # neck -> head top (head-normalised PCKh)
    notes="sigmas from COCO's matching joints; neck and head-top use the shoulder value 0.079",
)

_COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
               "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")

COCO_INFO = DatasetInfo(
    name="coco",
    joint_names=_COCO_NAMES,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    # COCO's own 1-based skeleton, made 0-based
    skeleton=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
              (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)),
    sigmas=COCO_SIGMAS,
    torso=(5, 12),  # left shoulder -> right hip, as for LSP
    head=None,      # COCO has no head-top joint
    notes="standard COCO keypoint OKS sigmas",
)

_MPII_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
               "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
               "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")

MPII_INFO = DatasetInfo(
    name="mpii",
    joint_names=_MPII_NAMES,
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    skeleton=((0, 1), (1, 2), (2, 6), (5, 4), (4, 3), (3, 6), (6, 7), (7, 8), (8, 9), (7, 12),
              (12, 11), (11, 10), (7, 13), (13, 14), (14, 15)),
    sigmas=(0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.107, 0.079, 0.079, 0.079, 0.062, 0.072,
            0.079, 0.079, 0.072, 0.062),
    torso=(13, 2),  # left shoulder -> right hip
    head=(8, 9),    # upper neck -> head top (fallback when MPII head boxes are absent)
    notes="sigmas from COCO's matching joints; pelvis uses the hip value, thorax/upper-neck/head-top"
          " the shoulder value",
)
