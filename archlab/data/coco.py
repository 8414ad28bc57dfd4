"""COCO person keypoints: :class:`COCOKeypointDataset` and its registry entry.

The shared data's ``coco_mini/`` holds ``annotations/person_keypoints_{train,val}2017.json`` and
the ``{train,val}2017/`` image folders. Metrics: OKS AP ... AR through pycocotools (``AP`` picks
``best.pt``).
"""
from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np

from .joints import COCO_INFO
from .metrics import CocoOKS
from .registry import register_dataset
from .topdown import DatasetError, TopDownDataset, load_json, require_path
from .transforms import box_to_center_scale

__all__ = ["COCOKeypointDataset"]


class COCOKeypointDataset(TopDownDataset):
    """COCO person keypoints, one top-down crop per ground-truth person box.

    Persons kept: ``category_id`` 1, not crowd, at least ``min_keypoints`` labelled keypoints
    (default 1) and a valid box, clipped to the image as in HRNet. Box -> centre/scale like
    HRNet's ``_box2cs`` (aspect fixed to ``input_size``, padded 1.25x). ``bbox_file`` (COCO
    results-format detections) replaces the GT boxes for evaluation (joints all zero, ``score``
    from the detector, ``ann_id`` -1). ``.coco`` is the pycocotools ``COCO`` of ``ann_file``.
    """

    def __init__(self, ann_file, image_dir, input_size=(256, 192), train: bool = False, *,
                 min_keypoints: int = 1, bbox_file=None, det_score_thr: float = 0.0,
                 skip_bad: bool = False, verify_images: bool | None = None, info="coco", **kwargs):
        super().__init__(info, input_size, train, skip_bad=skip_bad, **kwargs)
        from pycocotools.coco import COCO
        self.ann_file = require_path(Path(ann_file))
        self.image_dir = require_path(Path(image_dir), "folder")
        data = load_json(self.ann_file)
        if not isinstance(data, dict) or not all(k in data for k in ("images", "annotations")):
            raise DatasetError(f"{self.ann_file}: not a COCO annotation file (needs 'images' and 'annotations')")
        images = {}
        for im in data["images"]:
            if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
                raise DatasetError(f"{self.ann_file}: malformed image entry {str(im)[:120]}")
            images[im["id"]] = im
        self.images = images
        for c in data.get("categories", []):
            if c.get("id") == 1 and "keypoints" in c and len(c["keypoints"]) != self.num_joints:
                raise DatasetError(f"{self.ann_file}: joint count mismatch: category 'person' has "
                                   f"{len(c['keypoints'])} keypoints, expected {self.num_joints}")
        data.setdefault("categories", [{"id": 1, "name": "person", "supercategory": "person"}])
        self.coco = COCO()
        self.coco.dataset = data
        with contextlib.redirect_stdout(io.StringIO()):
            self.coco.createIndex()
        if bbox_file is not None:
            if self.train:
                raise ValueError("bbox_file (detected boxes) is for evaluation; use train=False")
            self._from_detections(require_path(Path(bbox_file)), det_score_thr)
        else:
            self._from_annotations(data["annotations"], min_keypoints)
        self._finalise(self.skip_bad if verify_images is None else verify_images)

    def _image_path(self, image_id) -> Path:
        return self.image_dir / self.images[image_id]["file_name"]

    def _from_annotations(self, anns, min_keypoints: int) -> None:
        nj = self.num_joints
        for ann in anns:
            where = f"{self.ann_file} (annotation {ann.get('id', '?') if isinstance(ann, dict) else '?'})"
            if not isinstance(ann, dict) or not all(k in ann for k in ("image_id", "bbox", "keypoints")):
                self._bad(where, "malformed annotation: needs 'image_id', 'bbox' and 'keypoints'")
                continue
            if ann.get("category_id", 1) != 1 or ann.get("iscrowd", 0):
                continue
            kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1)
            if kp.size != 3 * nj:
                self._bad(where, f"joint count mismatch: {kp.size} keypoint values, expected {3 * nj} "
                                 f"({nj} joints x 3)")
                continue
            kp = kp.reshape(nj, 3)
            num = int(ann.get("num_keypoints", int((kp[:, 2] > 0).sum())))
            if num < max(1, min_keypoints) or not (kp[:, 2] > 0).any():
                continue
            if ann["image_id"] not in self.images:
                self._bad(where, f"image id {ann['image_id']} is not in 'images'")
                continue
            img = self.images[ann["image_id"]]
            bbox = np.asarray(ann["bbox"], dtype=np.float64).reshape(-1)
            if bbox.size != 4 or not np.isfinite(bbox).all():
                self._bad(where, f"malformed bbox {ann['bbox']}")
                continue
            x, y, w, h = bbox
            width, height = img.get("width", math.inf), img.get("height", math.inf)
            x1, y1 = max(0.0, x), max(0.0, y)
            x2 = min(width - 1, x1 + max(0.0, w - 1))
            y2 = min(height - 1, y1 + max(0.0, h - 1))
            if ann.get("area", 1) <= 0 or x2 < x1 or y2 < y1:
                continue
            center, scale = box_to_center_scale(x1, y1, x2 - x1, y2 - y1, self.input_size, self.padding)
            joints = kp.copy()
            joints[:, 2] = (kp[:, 2] > 0).astype(np.float64)
            joints[joints[:, 2] == 0, :2] = 0.0
            self._add(self._image_path(ann["image_id"]), joints, center, scale, image_id=ann["image_id"],
                      ann_id=ann.get("id", -1))

    def _from_detections(self, bbox_file: Path, thr: float) -> None:
        dets = load_json(bbox_file)
        if not isinstance(dets, list):
            raise DatasetError(f"{bbox_file}: detections must be a COCO results list")
        zeros = np.zeros((self.num_joints, 3))
        for k, d in enumerate(dets):
            if not isinstance(d, dict) or not all(key in d for key in ("image_id", "bbox")):
                self._bad(f"{bbox_file} (entry {k})", "malformed detection: needs 'image_id' and 'bbox'")
                continue
            if d.get("category_id", 1) != 1 or d.get("score", 1.0) < thr:
                continue
            if d["image_id"] not in self.images:
                self._bad(f"{bbox_file} (entry {k})", f"image id {d['image_id']} is not in {self.ann_file}")
                continue
            x, y, w, h = (float(v) for v in d["bbox"])
            center, scale = box_to_center_scale(x, y, w, h, self.input_size, self.padding)
            self._add(self._image_path(d["image_id"]), zeros, center, scale, image_id=d["image_id"],
                      ann_id=-1, score=d.get("score", 1.0))


@register_dataset("coco", info=COCO_INFO, folder="coco_mini", marker="annotations", splits=("train", "val"),
                  main_metric="AP", metrics=(CocoOKS(),), input_size=(256, 192),
                  description="COCO-2017 person keypoints: annotations/person_keypoints_{split}2017.json + "
                              "{split}2017/ images (17 joints)")
def open_coco(folder, split, input_size, train, **kwargs):
    folder = Path(folder)
    return COCOKeypointDataset(folder / "annotations" / f"person_keypoints_{split}2017.json", folder / f"{split}2017",
                               input_size, bool(train), **kwargs)
