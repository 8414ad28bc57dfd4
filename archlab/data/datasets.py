"""Top-down pose datasets (LSPET, COCO keypoints, MPII) returning samples in one format.

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

import contextlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .heatmaps import encode, heatmap_size_for
from .joints import DatasetInfo, get_dataset_info
from .transforms import (affine_points, box_to_center_scale, fix_aspect_ratio, get_affine_transform,
                         sample_augmentation, warp_image)

__all__ = ["DatasetError", "default_data_root", "TopDownDataset", "LSPETDataset", "LSPET_PROTOCOL_SPLITS",
           "COCOKeypointDataset", "MPIIDataset", "build_dataset", "box_from_joints",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)
_IMAGE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError)


class DatasetError(ValueError):
    """A data file that cannot be used (corrupt image, malformed annotation, joint-count mismatch)."""


def default_data_root() -> Path | None:
    """Where the shared data lives: ``$ARCHLAB_DATA`` if set (returned as given), else the first
    existing ``shared/data`` folder next to the repository root or next to the current directory
    or one of its parents (``../shared/data``), else ``None``."""
    env = os.environ.get("ARCHLAB_DATA")
    if env:
        return Path(env).expanduser()
    repo_root = Path(__file__).resolve().parents[2]
    candidates = [repo_root.parent / "shared" / "data"]
    cwd = Path.cwd().resolve()
    for p in (cwd, *cwd.parents):
        candidates += [p / "shared" / "data", p.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


def _require(path: Path, kind: str = "file") -> Path:
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
        self.root = _require(Path(root), "folder")
        self.split = split
        image_dir = _require(self.root / "images", "folder")
        mat_file = _require(self.root / "joints.mat")
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


def _load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: malformed JSON ({e})") from e
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not a UTF-8 JSON file ({e})") from e


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
        self.ann_file = _require(Path(ann_file))
        self.image_dir = _require(Path(image_dir), "folder")
        data = _load_json(self.ann_file)
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
            self._from_detections(_require(Path(bbox_file)), det_score_thr)
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
        dets = _load_json(bbox_file)
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
        self.json_file = _require(Path(json_file))
        self.image_dir = _require(Path(image_dir), "folder")
        recs = _load_json(self.json_file)
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


def build_dataset(name: str, split: str = "train", input_size=None, train: bool | None = None,
                  root=None, **kwargs) -> TopDownDataset:
    """A dataset from the shared data folder layout (``root`` defaults to :func:`default_data_root`).

    ``'lspet'``: ``root/lspet`` with ``split`` train/val/all; ``'coco'``: ``root/coco_mini``
    ``person_keypoints_{split}2017.json`` (split train/val); ``'mpii'``: the MMPose fixture.
    """
    root = Path(root) if root is not None else default_data_root()
    if root is None:
        raise FileNotFoundError("no data folder: set ARCHLAB_DATA or pass root=")
    train = (split == "train") if train is None else train
    name = name.lower()
    if name == "lspet":
        return LSPETDataset(root / "lspet", split, input_size or (256, 192), train, **kwargs)
    if name == "coco":
        base = root / "coco_mini"
        return COCOKeypointDataset(base / "annotations" / f"person_keypoints_{split}2017.json",
                                   base / f"{split}2017", input_size or (256, 192), train, **kwargs)
    if name == "mpii":
        base = root / "mmpose_fixtures" / "mpii"
        return MPIIDataset(base / "test_mpii.json", base, input_size or (256, 256), train, **kwargs)
    raise KeyError(f"unknown dataset {name!r}; choose 'lspet', 'coco' or 'mpii'")
