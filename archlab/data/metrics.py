"""Pose metrics: PCK / PCKh, COCO OKS AP through pycocotools, and the mean-pose baseline.

All coordinates are image pixels; ``gt`` joints are (N, J, 3) with the visibility flag in
column 2 (or (N, J, 2) with ``visible`` given). PCK counts annotated joints only; samples whose
normaliser is missing (nan, e.g. an unannotated torso joint) or not positive are left out.

>>> import numpy as np
>>> gt = np.array([[[0, 0, 1], [10, 0, 1], [5, 5, 0]]], float)
>>> pred = np.array([[[1, 0], [10, 3], [50, 50]]], float)
>>> r = pck(pred, gt, norm=np.array([10.0]), thr=0.2)
>>> r.mean, r.per_joint.tolist(), r.counts.tolist()
(0.5, [1.0, 0.0, nan], [1, 1, 0])
"""
from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .joints import COCO_SIGMAS, DatasetInfo
from .registry import get_dataset_info

__all__ = ["PCKResult", "pck", "segment_length", "torso_size", "head_size", "lspet_pck", "pckh",
           "coco_eval", "to_coco_results", "pose_scores", "mean_pose_baseline", "COCO_STAT_NAMES", "PCK", "PCKh",
           "CocoOKS", "keypoint_results"]

COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


class PCKResult(NamedTuple):
    mean: float             #: fraction correct over all counted joints (nan if none)
    per_joint: np.ndarray   #: (J,) fraction correct per joint (nan where a joint was never counted)
    counts: np.ndarray      #: (J,) number of counted (annotated, normalisable) joints

    def as_dict(self, joint_names=None) -> dict:
        names = joint_names or [str(i) for i in range(len(self.per_joint))]
        return {"mean": self.mean, **{n: float(v) for n, v in zip(names, self.per_joint)}}


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _gt_vis(gt, visible):
    gt = _np(gt)
    if gt.ndim != 3 or gt.shape[-1] not in (2, 3):
        raise ValueError(f"gt joints must be (N, J, 2|3), got {gt.shape}")
    if visible is None:
        if gt.shape[-1] != 3:
            raise ValueError("visible is required when gt has no visibility column")
        visible = gt[..., 2]
    vis = _np(visible) > 0
    if vis.shape != gt.shape[:2]:
        raise ValueError(f"visible must be {gt.shape[:2]}, got {vis.shape}")
    return gt[..., :2], vis


def pck(pred, gt, visible=None, norm=None, thr: float = 0.2) -> PCKResult:
    """Percentage of correct keypoints: ``||pred - gt|| <= thr * norm`` per annotated joint.

    ``pred`` (N, J, 2+), ``gt`` (N, J, 2|3), ``visible`` (N, J) (default: gt column 2),
    ``norm`` (N,) per-sample normaliser in pixels.
    """
    gt_xy, vis = _gt_vis(gt, visible)
    pred = _np(pred)[..., :2]
    if pred.shape != gt_xy.shape:
        raise ValueError(f"pred {pred.shape[:2]} and gt {gt_xy.shape[:2]} joint arrays differ in shape")
    if norm is None:
        raise ValueError("pck needs a per-sample normaliser norm (N,)")
    norm = _np(norm).reshape(-1)
    if norm.shape[0] != gt_xy.shape[0]:
        raise ValueError(f"norm has {norm.shape[0]} values for {gt_xy.shape[0]} samples")
    ok_norm = np.isfinite(norm) & (norm > 0)
    counted = vis & ok_norm[:, None]
    dist = np.linalg.norm(pred - gt_xy, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        correct = (dist <= thr * np.where(ok_norm, norm, 1.0)[:, None]) & counted
    counts = counted.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = correct.sum(axis=0) / np.where(counts > 0, counts, np.nan)
    total = int(counts.sum())
    mean = float(correct.sum() / total) if total else math.nan
    return PCKResult(mean, per_joint, counts)


def segment_length(gt, a: int, b: int, visible=None) -> np.ndarray:
    """(N,) distance between joints ``a`` and ``b``; nan where either is not annotated."""
    gt_xy, vis = _gt_vis(gt, visible)
    d = np.linalg.norm(gt_xy[:, a] - gt_xy[:, b], axis=-1)
    return np.where(vis[:, a] & vis[:, b], d, np.nan)


def torso_size(gt, info="lspet", visible=None) -> np.ndarray:
    """Torso size per sample: the dataset's ``torso`` pair (LSPET: left shoulder 9 -> right hip 2)."""
    info = get_dataset_info(info)
    if info.torso is None:
        raise ValueError(f"{info.name} defines no torso joints")
    return segment_length(gt, *info.torso, visible=visible)


def head_size(gt, info="lspet", visible=None) -> np.ndarray:
    """Head size per sample: the dataset's ``head`` pair (LSPET: neck 12 -> head top 13)."""
    info = get_dataset_info(info)
    if info.head is None:
        raise ValueError(f"{info.name} defines no head joints")
    return segment_length(gt, *info.head, visible=visible)


def lspet_pck(pred, gt, thr: float = 0.2, visible=None) -> PCKResult:
    """LSP protocol PCK@``thr``, normalised by the torso (left shoulder -> right hip)."""
    return pck(pred, gt, visible, torso_size(gt, "lspet", visible), thr)


def pckh(pred, gt, head_sizes=None, thr: float = 0.5, info="lspet", visible=None) -> PCKResult:
    """PCKh@``thr``. ``head_sizes`` (N,) (e.g. MPII's ``0.6 * headbox diagonal``, or
    ``meta['head_size']``) default to the dataset's head segment (LSPET: neck -> head top)."""
    if head_sizes is None:
        head_sizes = head_size(gt, info, visible)
    return pck(pred, gt, visible, head_sizes, thr)


# -- COCO ------------------------------------------------------------------------------------------
def to_coco_results(preds, scores, image_ids, category_id: int = 1, path=None) -> list:
    """COCO keypoint results: one ``{image_id, category_id, keypoints [x, y, v]*J, score}`` per person.

    ``preds`` (N, J, 2) or (N, J, 3) (third column e.g. heatmap maxvals; else 1), ``scores`` (N,),
    ``image_ids`` (N,). Written as JSON to ``path`` if given.
    """
    p = _np(preds)
    if p.ndim != 3 or p.shape[-1] not in (2, 3):
        raise ValueError(f"preds must be (N, J, 2|3), got {p.shape}")
    if p.shape[-1] == 2:
        p = np.concatenate([p, np.ones(p.shape[:2] + (1,))], axis=-1)
    scores = _np(scores).reshape(-1)
    ids = np.asarray(image_ids.cpu() if hasattr(image_ids, "cpu") else image_ids).reshape(-1)
    if not (len(scores) == len(ids) == len(p)):
        raise ValueError(f"{len(p)} poses, {len(scores)} scores, {len(ids)} image ids")
    results = [{"image_id": int(i), "category_id": int(category_id),
                "keypoints": [round(float(v), 3) for v in kp.reshape(-1)], "score": float(s)}
               for kp, s, i in zip(p, scores, ids)]
    if path is not None:
        Path(path).write_text(json.dumps(results))
    return results


def pose_scores(maxvals, box_scores=None, thr: float = 0.2) -> np.ndarray:
    """HRNet's person score: mean heatmap maximum over joints above ``thr`` times the box score."""
    mv = _np(maxvals)
    keep = mv > thr
    with np.errstate(invalid="ignore"):
        s = np.where(keep.any(axis=1), (mv * keep).sum(axis=1) / np.maximum(keep.sum(axis=1), 1), 0.0)
    return s * (1.0 if box_scores is None else _np(box_scores).reshape(-1))


def coco_eval(gt, results, sigmas=None, *, image_ids=None, quiet: bool = True) -> dict:
    """OKS keypoint AP/AR through pycocotools' ``COCOeval``.

    ``gt``: annotation file path or a ``pycocotools.coco.COCO``; ``results``: a results list
    (:func:`to_coco_results`) or a JSON file; ``sigmas`` default to the 17 COCO sigmas;
    ``image_ids`` restricts evaluation (default: every image of ``gt``). Returns
    ``{'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl'}``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    sink = io.StringIO() if quiet else None
    ctx = contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext()
    with ctx:
        if not isinstance(gt, COCO):
            path = Path(gt)
            if not path.is_file():
                raise FileNotFoundError(f"COCO annotation file not found: {path}")
            gt = COCO(str(path))
        if isinstance(results, (str, Path)):
            rpath = Path(results)
            if not rpath.is_file():
                raise FileNotFoundError(f"COCO results file not found: {rpath}")
            results = json.loads(rpath.read_text())
        if not results:
            raise ValueError("coco_eval: no results to evaluate")
        dt = gt.loadRes(list(results))
        ev = COCOeval(gt, dt, "keypoints")
        n_kp = len(results[0]["keypoints"]) // 3
        sig = np.asarray(sigmas if sigmas is not None else COCO_SIGMAS, dtype=np.float64)
        if sig.shape[0] != n_kp:
            raise ValueError(f"coco_eval: {sig.shape[0]} sigmas for {n_kp} keypoints")
        ev.params.kpt_oks_sigmas = sig
        if image_ids is not None:
            ev.params.imgIds = [int(i) for i in image_ids]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(COCO_STAT_NAMES, ev.stats)}



def keypoint_results(pred: dict) -> list:
    """Predictions (``preds`` (N, J, 2) image pixels, ``maxvals`` (N, J), box ``score`` (N,),
    ``image_id`` (N,)) as COCO keypoint results: ``keypoints`` = x, y, heatmap maximum per joint,
    ``score`` = :func:`pose_scores`."""
    if len(pred["preds"]) == 0:
        return []
    scores = pose_scores(pred["maxvals"], pred["score"])
    kp = np.concatenate([_np(pred["preds"])[..., :2], _np(pred["maxvals"])[..., None]], axis=-1)
    return to_coco_results(kp, scores, pred["image_id"])


# -- metric classes (what a registered dataset lists; see archlab.data.registry) ----------------
class PCK:
    """PCK@``thr`` normalised by the dataset's ``torso`` joint pair, per joint and mean.

    A metric object has ``names`` (the keys it returns) and ``compute(pred, info, dataset)`` ->
    ``(values, per_joint)``: ``pred`` is :func:`archlab.train.evaluation.predict`'s output
    (``preds`` (N, J, 2) image pixels, ``joints`` (N, J, 3) ground truth, ...), ``values`` maps
    each name to its mean, ``per_joint`` maps a name to its (J,) per-joint values.

    >>> gt = np.array([[[0, 0, 1], [10, 0, 1]]], float)
    >>> info = DatasetInfo("two", ("a", "b"), (), (), (0.1, 0.1), torso=(0, 1))
    >>> PCK(0.2).compute({"preds": gt[..., :2] + [[1, 0], [3, 0]], "joints": gt}, info)[0]
    {'PCK@0.2': 0.5}
    """

    def __init__(self, thr: float = 0.2):
        self.thr = float(thr)
        self.names = (f"PCK@{thr:g}",)

    def compute(self, pred: dict, info: DatasetInfo, dataset=None) -> tuple[dict, dict]:
        gt = pred["joints"]
        r = pck(pred["preds"], gt, norm=torso_size(gt, info), thr=self.thr)
        return {self.names[0]: r.mean}, {self.names[0]: r.per_joint}

    def __repr__(self) -> str:
        return f"PCK({self.thr:g})"


class PCKh(PCK):
    """PCKh@``thr``: normalised by the head size, taken from the dataset's ``head`` joint pair
    (``head='joints'``) or from each sample's annotated head size (``head='annotation'``:
    ``meta['head_size']``, e.g. MPII's head boxes)."""

    def __init__(self, thr: float = 0.5, head: str = "joints"):
        if head not in ("joints", "annotation"):
            raise ValueError(f"PCKh head must be 'joints' or 'annotation', got {head!r}")
        self.thr, self.head = float(thr), head
        self.names = (f"PCKh@{thr:g}",)

    def compute(self, pred: dict, info: DatasetInfo, dataset=None) -> tuple[dict, dict]:
        sizes = pred["head_size"] if self.head == "annotation" else None
        r = pckh(pred["preds"], pred["joints"], head_sizes=sizes, thr=self.thr, info=info)
        return {self.names[0]: r.mean}, {self.names[0]: r.per_joint}

    def __repr__(self) -> str:
        return f"PCKh({self.thr:g}, head={self.head!r})"


class CocoOKS:
    """COCO OKS keypoint AP/AR (``AP`` ... ``ARl``) through pycocotools with the dataset's
    sigmas; needs the dataset's pycocotools ground truth (``dataset.coco``)."""

    names = COCO_STAT_NAMES

    def compute(self, pred: dict, info: DatasetInfo, dataset=None) -> tuple[dict, dict]:
        if dataset is None or not hasattr(dataset, "coco"):
            raise ValueError("COCO OKS metrics need the dataset (its pycocotools COCO ground truth, .coco)")
        stats = coco_eval(dataset.coco, keypoint_results(pred), info.sigmas, image_ids=np.unique(pred["image_id"]))
        return stats, {}

    def __repr__(self) -> str:
        return "CocoOKS()"


# -- baselines -------------------------------------------------------------------------------------
def _boxes_from_joints(joints) -> np.ndarray:
    j = _np(joints)
    vis = j[..., 2] > 0
    big = np.where(vis[..., None], j[..., :2], np.nan)
    lo, hi = np.nanmin(big, axis=1), np.nanmax(big, axis=1)
    return np.concatenate([lo, hi], axis=1)


def mean_pose_baseline(train_joints, boxes, train_boxes=None) -> np.ndarray:
    """Predict the training set's mean box-normalised pose inside each box.

    ``train_joints`` (N, J, 3) (image pixels + visibility); ``boxes`` (M, 4) ``x0, y0, x1, y1``
    to predict in; ``train_boxes`` (N, 4) default to the extent of each training pose's visible
    joints (the LSPET person box before padding). Coordinates are normalised per axis to
    ``[0, 1]`` over the box, averaged over annotated joints, and mapped into each box.
    Returns (M, J, 2).
    """
    tj = _np(train_joints)
    tb = _boxes_from_joints(tj) if train_boxes is None else _np(train_boxes)
    size = np.maximum(tb[:, 2:] - tb[:, :2], 1e-6)
    u = (tj[..., :2] - tb[:, None, :2]) / size[:, None, :]
    vis = tj[..., 2] > 0
    with np.errstate(invalid="ignore"):
        mean = np.where(vis[..., None], u, 0.0).sum(axis=0) / vis.sum(axis=0)[:, None]
    mean = np.nan_to_num(mean, nan=0.5)
    b = _np(boxes).reshape(-1, 4)
    return b[:, None, :2] + mean[None] * (b[:, None, 2:] - b[:, None, :2])
