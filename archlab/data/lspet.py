"""Leeds Sports Pose Extended (LSPET): :class:`LSPETDataset` and its registry entry.

Splits: ``train`` (images 1-8000), ``val`` (8001-9000), ``all``, and the search protocol's three
disjoint splits :data:`LSPET_PROTOCOL_SPLITS` (``fit`` / ``search_val`` / ``report_test``).
Metrics: PCK@0.2 normalised by the torso (the LSP protocol; picks ``best.pt``) and PCKh@0.5
normalised by the neck -> head-top segment.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .joints import LSPET_INFO
from .metrics import PCK, PCKh
from .registry import register_dataset
from .topdown import DatasetError, TopDownDataset, box_from_joints, require_path
from .transforms import box_to_center_scale

__all__ = ["LSPETDataset", "LSPET_PROTOCOL_SPLITS"]

#: The search protocol's fixed, disjoint LSPET splits as 0-based ``[start, stop)`` image ranges.
#: ``fit`` trains, ``search_val`` is all a search or a selection step may score on, and
#: ``report_test`` is scored once per final model (it holds the same images as the legacy ``val``).
LSPET_PROTOCOL_SPLITS = {"fit": (0, 7000), "search_val": (7000, 8000), "report_test": (8000, 9000)}


class LSPETDataset(TopDownDataset):
    """Leeds Sports Pose Extended: ``root/images/im00001.jpg ...`` + ``root/joints.mat``.

    ``joints.mat['joints']`` is (14, 3, N): x, y (1-based MATLAB pixels) and the visibility flag
    (1 = annotated). Coordinates become 0-based; unannotated joints get (0, 0, 0). The person box
    is the extent of the visible joints, aspect-fixed to ``input_size`` and padded ``padding``x.

    ``split``: ``'train'`` = images 1..``num_train`` (8000), ``'val'`` = the rest, ``'all'``, or one
    of the three disjoint, fixed splits of the search protocol (:data:`LSPET_PROTOCOL_SPLITS`):
    ``'fit'`` = images 1-7000 (training), ``'search_val'`` = 7001-8000 (every search and selection
    step), ``'report_test'`` = 8001-9000 (scored once per final model). ``indices`` (0-based image
    indices) overrides it. ``train`` defaults to ``split in ('train', 'fit')``.
    """

    NUM_JOINTS = 14
    SPLITS = ("train", "val", "all") + tuple(LSPET_PROTOCOL_SPLITS)

    def __init__(self, root, split: str = "train", input_size=(256, 192), train: bool | None = None,
                 indices=None, *, num_train: int = 8000, image_pattern: str = "im{:05d}.jpg",
                 skip_bad: bool = False, verify_images: bool | None = None, **kwargs):
        if split not in self.SPLITS:
            raise ValueError(f"unknown LSPET split {split!r}; choose one of {', '.join(self.SPLITS)}")
        super().__init__("lspet", input_size, split in ("train", "fit") if train is None else train,
                         skip_bad=skip_bad, **kwargs)
        self.root = require_path(Path(root), "folder")
        self.split = split
        image_dir = require_path(self.root / "images", "folder")
        mat_file = require_path(self.root / "joints.mat")
        raw = self._load_mat(mat_file)
        n_total = raw.shape[2]
        if indices is not None:
            idx = np.asarray(indices, dtype=np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= n_total):
                raise IndexError(f"indices out of range for {mat_file} with {n_total} images")
        elif split == "train":
            idx = np.arange(min(num_train, n_total))
        elif split == "val":
            idx = np.arange(min(num_train, n_total), n_total)
        elif split in LSPET_PROTOCOL_SPLITS:
            lo, hi = LSPET_PROTOCOL_SPLITS[split]
            if hi > n_total:
                raise ValueError(f"split {split!r} needs images {lo + 1}-{hi}, but {mat_file} has {n_total}")
            idx = np.arange(lo, hi)
        else:
            idx = np.arange(n_total)
        self.indices = idx
        present = set(os.listdir(image_dir))
        for i in idx.tolist():
            name = image_pattern.format(i + 1)
            path = image_dir / name
            if name not in present:
                self._bad(path, "image file not found", FileNotFoundError)
                continue
            j = raw[:, :, i].astype(np.float64)
            vis = j[:, 2] > 0
            if not np.isfinite(j[vis, :2]).all():
                self._bad(path, f"non-finite coordinates for visible joints in {mat_file} (image {i + 1})")
                continue
            if vis.sum() < 2:
                self._bad(path, f"fewer than 2 annotated joints in {mat_file} (image {i + 1}): no person box")
                continue
            joints = np.zeros((self.NUM_JOINTS, 3))
            joints[vis, :2] = j[vis, :2] - 1.0
            joints[vis, 2] = 1.0
            x0, y0, x1, y1 = box_from_joints(joints)
            center, scale = box_to_center_scale(x0, y0, x1 - x0, y1 - y0, self.input_size, self.padding)
            a, b = self.info.head
            head = float(np.hypot(*(joints[a, :2] - joints[b, :2]))) if vis[a] and vis[b] else math.nan
            self._add(path, joints, center, scale, image_id=i + 1, ann_id=i, head_size=head)
        self._finalise(self.skip_bad if verify_images is None else verify_images)

    def _load_mat(self, mat_file: Path) -> np.ndarray:
        from scipy.io import loadmat
        try:
            mat = loadmat(str(mat_file))
        except Exception as e:  # scipy raises a variety of types for a broken .mat
            raise DatasetError(f"{mat_file}: cannot read MATLAB file ({type(e).__name__}: {e})") from e
        if "joints" not in mat:
            keys = sorted(k for k in mat if not k.startswith("__"))
            raise DatasetError(f"{mat_file}: no 'joints' variable (found {keys})")
        raw = np.asarray(mat["joints"])
        if raw.ndim != 3:
            raise DatasetError(f"{mat_file}: 'joints' must be (14, 3, N), got shape {raw.shape}")
        if raw.shape[0] == 3 and raw.shape[1] == self.NUM_JOINTS:
            raise DatasetError(f"{mat_file}: 'joints' has shape {raw.shape}, the original LSP layout (3, 14, N) "
                               "with an inverted visibility flag; LSPET layout (14, 3, N) expected")
        if raw.shape[1] != 3:
            raise DatasetError(f"{mat_file}: 'joints' must be (14, 3, N) (x, y, visible), got shape {raw.shape}")
        if raw.shape[0] != self.NUM_JOINTS:
            raise DatasetError(f"{mat_file}: joint count mismatch: {raw.shape[0]} joints per image, "
                               f"LSPET has {self.NUM_JOINTS}")
        if not np.issubdtype(raw.dtype, np.number):
            raise DatasetError(f"{mat_file}: 'joints' is not numeric ({raw.dtype})")
        return raw


@register_dataset("lspet", info=LSPET_INFO, folder="lspet", marker="joints.mat", splits=LSPETDataset.SPLITS,
                  main_metric="PCK@0.2", metrics=(PCK(0.2), PCKh(0.5)), input_size=(256, 192),
                  description="Leeds Sports Pose Extended: images/im00001.jpg ... + joints.mat (14 joints)")
def open_lspet(folder, split, input_size, train, **kwargs):
    return LSPETDataset(folder, split, input_size, train, **kwargs)
