"""The shared top-down sample pipeline every registered dataset builds on (:class:`TopDownDataset`).

Every dataset's ``__getitem__`` returns a dict::

    image          float32 (3, H, W), ImageNet mean/std normalised
    target         float32 (J, H/4, W/4) Gaussian heatmaps (sigma in heatmap pixels)
    target_weight  float32 (J,): 0 for joints not annotated or outside the crop
    meta           dict, collatable by torch's default collate:
        index       int     position in the dataset
        center      float32 (2,)  crop centre in image pixels (x, y)
        scale       float32 (2,)  crop box size in pixels (w, h), padded, incl. random scale
        rotation    float   crop rotation in degrees (0 unless training augmentation drew one)
        flipped     bool    the crop was mirrored (heatmaps must be flipped back before decoding)
        joints      float32 (J, 3) ground truth in original image pixels (0-based) + visibility
        joints_input float32 (J, 3) the joints in input-crop pixels after augmentation
                            (left/right swapped when flipped) + target weight
        image_id    int     LSPET: image number (1..9000); COCO: image id; MPII: image number
        ann_id      int     COCO annotation id (-1 for detections); LSPET/MPII: record index
        score       float   box score (1 for ground-truth boxes)
        head_size   float   PCKh normaliser in image pixels (nan where unknown)
        image_file  str     path of the image

``center``/``scale``/``rotation`` describe the crop actually taken, so
``heatmaps.to_image_coords(coords, meta['center'], meta['scale'], heatmap_size, meta['rotation'])``
maps predictions back to the image.

Errors name the offending file: a missing file or folder raises ``FileNotFoundError``; an
unreadable image, a malformed annotation or a joint-count mismatch raises :class:`DatasetError`
(a ``ValueError``). With ``skip_bad=True`` bad samples are dropped instead (images are checked
when the dataset is built); ``.skipped`` counts them and ``.skipped_items`` lists
``(file, reason)``. Images that fail only when decoded are replaced by the next readable
sample; those counts stay in the process that met them (a DataLoader worker's own copy), so
with ``skip_bad`` every sample's ``meta['skipped']`` also lists them (``file<TAB>reason`` lines, or '').
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .heatmaps import encode, heatmap_size_for
from .joints import DatasetInfo
from .registry import default_data_root, get_dataset_info
from .transforms import affine_points, get_affine_transform, sample_augmentation, warp_image

__all__ = ["DatasetError", "default_data_root", "TopDownDataset", "box_from_joints", "IMAGENET_MEAN",
           "IMAGENET_STD", "require_path", "load_json"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)
_IMAGE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError)


class DatasetError(ValueError):
    """A data file that cannot be used (corrupt image, malformed annotation, joint-count mismatch)."""

def require_path(path: Path, kind: str = "file") -> Path:
    path = Path(path)
    ok = path.is_dir() if kind == "folder" else path.is_file()
    if not ok:
        raise FileNotFoundError(f"{kind} not found: {path}")
    return path


def box_from_joints(joints, visible=None):
    """``(x0, y0, x1, y1)`` extent of the visible joints (J, 2+); ``visible`` defaults to column 2."""
    j = np.asarray(joints, dtype=np.float64)
    vis = (j[:, 2] > 0) if visible is None else (np.asarray(visible) > 0)
    if not vis.any():
        raise ValueError("box_from_joints: no visible joints")
    xy = j[vis, :2]
    return (*xy.min(axis=0), *xy.max(axis=0))


class TopDownDataset(torch.utils.data.Dataset):
    """Shared sample pipeline: crop, augment, normalise, encode heatmaps.

    Subclasses fill ``_paths``, ``_joints`` (N, J, 3), ``_centers`` (N, 2), ``_scales`` (N, 2),
    ``_image_ids``, ``_ann_ids``, ``_scores`` and ``_head_sizes`` through :meth:`_add`.
    """

    def __init__(self, info, input_size=(256, 192), train: bool = False, *, sigma: float = 2.0,
                 scale_factor: float = 0.25, rot_factor: float = 30.0, rot_prob: float = 0.6,
                 flip_prob: float = 0.5, padding: float = 1.25, stride: int = 4,
                 skip_bad: bool = False):
        self.info: DatasetInfo = get_dataset_info(info)
        h, w = (int(v) for v in input_size)
        if h <= 0 or w <= 0 or h % stride or w % stride:
            raise ValueError(f"input_size must be positive multiples of {stride}, got {tuple(input_size)}")
        self.input_size = (h, w)
        self.heatmap_size = heatmap_size_for(self.input_size, stride)
        self.train = bool(train)
        self.sigma = float(sigma)
        self.scale_factor, self.rot_factor = float(scale_factor), float(rot_factor)
        self.rot_prob, self.flip_prob = float(rot_prob), float(flip_prob)
        self.padding = float(padding)
        self.skip_bad = bool(skip_bad)
        self.flip_index = list(self.info.flip_index)
        self.skipped = 0
        self.skipped_items: list[tuple[str, str]] = []
        self._rec: dict[str, list] = {k: [] for k in ("paths", "joints", "centers", "scales", "image_ids",
                                                       "ann_ids", "scores", "head_sizes")}

    # -- building -------------------------------------------------------------------------------
    def _bad(self, file, reason: str, exc=DatasetError) -> None:
        """Skip (``skip_bad``) or raise for a bad sample."""
        if self.skip_bad:
            self.skipped += 1
            self.skipped_items.append((str(file), reason))
            return
        raise exc(f"{file}: {reason}")

    def _add(self, path, joints, center, scale, image_id, ann_id, score=1.0, head_size=math.nan):
        r = self._rec
        r["paths"].append(str(path))
        r["joints"].append(np.asarray(joints, dtype=np.float64))
        r["centers"].append(np.asarray(center, dtype=np.float64))
        r["scales"].append(np.asarray(scale, dtype=np.float64))
        r["image_ids"].append(int(image_id))
        r["ann_ids"].append(int(ann_id))
        r["scores"].append(float(score))
        r["head_sizes"].append(float(head_size))

    def _finalise(self, verify_images: bool) -> None:
        r = self._rec
        keep = list(range(len(r["paths"])))
        if verify_images:
            keep = [i for i in keep if self._image_ok(r["paths"][i])]
        j = self.info.num_joints
        self._paths = [r["paths"][i] for i in keep]
        self._joints = np.stack([r["joints"][i] for i in keep]) if keep else np.zeros((0, j, 3))
        self._centers = np.array([r["centers"][i] for i in keep], dtype=np.float64).reshape(-1, 2)
        self._scales = np.array([r["scales"][i] for i in keep], dtype=np.float64).reshape(-1, 2)
        self._image_ids = np.array([r["image_ids"][i] for i in keep], dtype=np.int64)
        self._ann_ids = np.array([r["ann_ids"][i] for i in keep], dtype=np.int64)
        self._scores = np.array([r["scores"][i] for i in keep], dtype=np.float64)
        self._head_sizes = np.array([r["head_sizes"][i] for i in keep], dtype=np.float64)
        del self._rec

    def _image_ok(self, path: str) -> bool:
        try:
            with Image.open(path) as im:
                im.size
            return True
        except _IMAGE_ERRORS as e:
            self._bad(path, f"cannot read image ({type(e).__name__}: {e})")
            return False

    # -- public arrays ----------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return self.info.num_joints

    @property
    def joints(self) -> np.ndarray:
        """All ground-truth joints (N, J, 3): image pixels + visibility."""
        return self._joints

    #: per-sample arrays (N, 2) / (N, 2) / (N,) ...: crop centres and sizes, ids, PCKh head sizes
    centers = property(lambda self: self._centers)
    scales = property(lambda self: self._scales)
    image_ids = property(lambda self: self._image_ids)
    ann_ids = property(lambda self: self._ann_ids)
    head_sizes = property(lambda self: self._head_sizes)

    @property
    def image_files(self) -> list:
        return list(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    # -- samples ----------------------------------------------------------------------------------
    def load_image(self, path: str) -> Image.Image:
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except FileNotFoundError:
            raise FileNotFoundError(f"image not found: {path}") from None
        except _IMAGE_ERRORS as e:
            raise DatasetError(f"{path}: cannot read image ({type(e).__name__}: {e})") from e

    def __getitem__(self, idx: int) -> dict:
        n = len(self)
        if not 0 <= idx < n:
            if -n <= idx < 0:
                idx += n
            else:
                raise IndexError(f"index {idx} out of range for {type(self).__name__} of {n} samples")
        if not self.skip_bad:
            return self._sample(idx)
        bad = []
        for k in range(n):
            i = (idx + k) % n
            try:
                sample = self._sample(i)
            except (DatasetError, FileNotFoundError) as e:
                self.skipped += 1
                self.skipped_items.append((self._paths[i], str(e)))
                bad.append(f"{self._paths[i]}\t{e}")
                continue
            sample["meta"]["skipped"] = "\n".join(bad)   # crosses DataLoader workers with the batch
            return sample
        raise DatasetError(f"{type(self).__name__}: no readable sample left")

    def _sample(self, idx: int) -> dict:
        path = self._paths[idx]
        img = self.load_image(path)
        joints = self._joints[idx]
        center = self._centers[idx]
        scale = self._scales[idx].copy()
        rot, flip = 0.0, False
        if self.train:
            s, rot, flip = sample_augmentation(self.scale_factor, self.rot_factor, self.rot_prob,
                                               self.flip_prob)
            scale *= s
        m = get_affine_transform(center, scale, rot, self.input_size, flip=flip)
        crop = warp_image(img, m, self.input_size)
        xy = affine_points(joints[:, :2], m)
        vis = joints[:, 2] > 0
        if flip:
            xy, vis = xy[self.flip_index], vis[self.flip_index]
        target, weight = encode(xy, vis, self.input_size, self.sigma, self.heatmap_size)
        image = torch.from_numpy(crop).permute(2, 0, 1).float().div_(255.0).sub_(_MEAN).div_(_STD)
        meta = {
            "index": idx,
            "center": torch.tensor(center, dtype=torch.float32),
            "scale": torch.tensor(scale, dtype=torch.float32),
            "rotation": float(rot),
            "flipped": bool(flip),
            "joints": torch.tensor(joints, dtype=torch.float32),
            "joints_input": torch.tensor(np.concatenate([xy, weight[:, None]], axis=1), dtype=torch.float32),
            "image_id": int(self._image_ids[idx]),
            "ann_id": int(self._ann_ids[idx]),
            "score": float(self._scores[idx]),
            "head_size": float(self._head_sizes[idx]),
            "image_file": path,
        }
        return {"image": image, "target": torch.from_numpy(target), "target_weight": torch.from_numpy(weight),
                "meta": meta}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n={len(self)}, joints={self.num_joints}, input_size={self.input_size}, "
                f"train={self.train}, skipped={self.skipped})")


def load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: malformed JSON ({e})") from e
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not a UTF-8 JSON file ({e})") from e
