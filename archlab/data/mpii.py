"""MPII in the HRNet/MMPose JSON layout: :class:`MPIIDataset` and its registry entry.

The shared data holds MMPose's 5-image fixture (``mmpose_fixtures/mpii/test_mpii.json``); every
split name opens that file. Metrics: PCKh@0.5 with the annotated head sizes (picks ``best.pt``)
and PCK@0.2 normalised by the torso.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .joints import MPII_INFO
from .metrics import PCK, PCKh
from .registry import register_dataset
from .topdown import DatasetError, TopDownDataset, load_json, require_path
from .transforms import fix_aspect_ratio

__all__ = ["MPIIDataset"]


class MPIIDataset(TopDownDataset):
    """MPII in the HRNet/MMPose JSON layout: a list of ``{image, center, scale, joints (16x2),
    joints_vis}``.

    As in HRNet: coordinates are 1-based MATLAB pixels (made 0-based); the box is a square of
    ``scale * 200`` px, its centre moved down ``15 * scale`` px and the box enlarged 1.25x, then
    aspect-fixed to ``input_size``.

    PCKh head size (``meta['head_size']``): with head boxes (``headboxes`` (N, 2, 2) array of
    ``[[x1, y1], [x2, y2]]`` aligned with the JSON list, or a ``headbox`` key per record) it is
    MPII's ``0.6 * ||headbox diagonal||``; otherwise the upper-neck -> head-top distance (joints
    8, 9), about 15% larger than the official value on typical heads (a square head box of side
    L gives 0.6 * sqrt(2) * L = 0.85 L); nan when either joint is unannotated.
    """

    NUM_JOINTS = 16

    def __init__(self, json_file, image_dir, input_size=(256, 256), train: bool = False, *,
                 headboxes=None, skip_bad: bool = False, verify_images: bool | None = None, **kwargs):
        kwargs.setdefault("padding", 1.25)
        super().__init__("mpii", input_size, train, skip_bad=skip_bad, **kwargs)
        self.json_file = require_path(Path(json_file))
        self.image_dir = require_path(Path(image_dir), "folder")
        recs = load_json(self.json_file)
        if not isinstance(recs, list):
            raise DatasetError(f"{self.json_file}: expected a list of records")
        if headboxes is not None:
            headboxes = np.asarray(headboxes, dtype=np.float64)
            if headboxes.shape != (len(recs), 2, 2):
                raise DatasetError(f"headboxes must have shape ({len(recs)}, 2, 2), got {headboxes.shape}")
        a_head, b_head = self.info.head
        for k, r in enumerate(recs):
            where = f"{self.json_file} (record {k})"
            if not isinstance(r, dict) or not all(key in r for key in ("image", "center", "scale", "joints")):
                self._bad(where, "malformed record: needs 'image', 'center', 'scale' and 'joints'")
                continue
            try:
                xy = np.asarray(r["joints"], dtype=np.float64)
                vis = np.asarray(r.get("joints_vis", np.ones(len(xy))), dtype=np.float64).reshape(-1)
                c = np.asarray(r["center"], dtype=np.float64).reshape(2)
                s = float(r["scale"])
            except (TypeError, ValueError) as e:
                self._bad(where, f"malformed record ({e})")
                continue
            if xy.ndim != 2 or xy.shape[1] != 2:
                self._bad(where, f"'joints' must be (16, 2), got shape {xy.shape}")
                continue
            if xy.shape[0] != self.NUM_JOINTS or vis.shape[0] != self.NUM_JOINTS:
                self._bad(where, f"joint count mismatch: {xy.shape[0]} joints / {vis.shape[0]} flags, "
                                 f"MPII has {self.NUM_JOINTS}")
                continue
            if not s > 0:
                self._bad(where, f"scale must be positive, got {s}")
                continue
            if c[0] != -1:
                c[1] += 15 * s
                s *= 1.25
            c -= 1.0
            joints = np.zeros((self.NUM_JOINTS, 3))
            v = vis > 0
            joints[v, :2] = xy[v] - 1.0
            joints[v, 2] = 1.0
            w, h = fix_aspect_ratio(200.0 * s, 200.0 * s, self.input_size[1] / self.input_size[0])
            hb = headboxes[k] if headboxes is not None else r.get("headbox")
            if hb is not None:
                hb = np.asarray(hb, dtype=np.float64).reshape(2, 2)
                head = 0.6 * float(np.hypot(*(hb[1] - hb[0])))
            elif v[a_head] and v[b_head]:
                head = float(np.hypot(*(joints[a_head, :2] - joints[b_head, :2])))
            else:
                head = math.nan
            stem = Path(str(r["image"])).stem
            image_id = int(stem) if stem.isdigit() else k
            self._add(self.image_dir / str(r["image"]), joints, c, (w, h), image_id=image_id, ann_id=k,
                      head_size=head)
        self._finalise(self.skip_bad if verify_images is None else verify_images)


@register_dataset("mpii", info=MPII_INFO, folder="mmpose_fixtures/mpii", marker="test_mpii.json",
                  main_metric="PCKh@0.5", metrics=(PCK(0.2), PCKh(0.5, head="annotation")), input_size=(256, 256),
                  description="MPII, HRNet/MMPose JSON layout: test_mpii.json + images (16 joints)")
def open_mpii(folder, split, input_size, train, **kwargs):
    return MPIIDataset(Path(folder) / "test_mpii.json", folder, input_size, bool(train), **kwargs)
