"""Evaluate a pose network: LSPET PCK@0.2 / PCKh@0.5, MPII PCKh, COCO OKS AP (pycocotools).

``evaluate(checkpoint_or_model, data='lspet', data_root=None, split='val', ...)`` runs the model
over a split, maps heatmap maxima back to image pixels, writes the predictions in COCO results
format (``out``) and returns the metrics. Any folder in the LSPET layout
(``images/im00001.jpg ...`` + ``joints.mat``) works with ``data_root=DIR, split='all'``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

__all__ = ["evaluate", "open_dataset", "resolve_data_dir", "predict", "compute_metrics", "main_metric",
           "load_model"]

MAIN_METRIC = {"lspet": "PCK@0.2", "mpii": "PCKh@0.5", "coco": "AP"}


def main_metric(data: str) -> str:
    """The validation metric that picks ``best.pt``."""
    return MAIN_METRIC[data]


def resolve_data_dir(data: str, data_root=None) -> Path:
    """The dataset folder: ``data_root`` may be the shared data folder (holding ``lspet/``,
    ``coco_mini/``, ``mmpose_fixtures/``) or the dataset's own folder."""
    from ..data.datasets import default_data_root
    if data_root is None:
        root = default_data_root()
        if root is None:
            raise FileNotFoundError("no data folder found: set ARCHLAB_DATA or pass --data-root DIR")
    else:
        root = Path(data_root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    own = {"lspet": "joints.mat", "coco": "annotations", "mpii": "test_mpii.json"}[data]
    sub = {"lspet": "lspet", "coco": "coco_mini", "mpii": "mmpose_fixtures/mpii"}[data]
    if (root / own).exists():
        return root
    if (root / sub / own).exists():
        return root / sub
    raise FileNotFoundError(f"no {data} data under {root}: expected {root / own} or {root / sub / own}")


def open_dataset(data: str, data_root=None, split: str = "val", input_size=(256, 192), train: bool = False,
                 sigma: float = 2.0, skip_bad: bool = False):
    """A dataset of ``data`` (``'lspet'``, ``'coco'``, ``'mpii'``) from ``data_root``; ``skip_bad``
    drops bad samples (see :class:`archlab.data.TopDownDataset`)."""
    from ..data.datasets import COCOKeypointDataset, LSPETDataset, MPIIDataset
    d = resolve_data_dir(data, data_root)
    kw = dict(sigma=sigma, skip_bad=skip_bad)
    if data == "lspet":
        return LSPETDataset(d, split, tuple(input_size), train, **kw)
    if data == "coco":
        if split not in ("train", "val"):
            raise ValueError(f"coco split must be 'train' or 'val', got {split!r}")
        return COCOKeypointDataset(d / "annotations" / f"person_keypoints_{split}2017.json", d / f"{split}2017",
                                   tuple(input_size), train, **kw)
    if data == "mpii":
        return MPIIDataset(d / "test_mpii.json", d, tuple(input_size), train, **kw)
    raise ValueError(f"unknown dataset {data!r}; choose lspet, coco or mpii")


# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict(model, loader, info, device, *, flip_test: bool = False, channels_last: bool = False,
            amp_dtype=None, skipped: dict | None = None) -> dict:
    """Run ``model`` over ``loader``; returns numpy arrays keyed ``index``, ``preds`` (N, J, 2)
    image pixels, ``maxvals`` (N, J), ``joints`` (N, J, 3) ground truth, ``image_id``, ``score``
    (box score), ``head_size``, ``center``, ``scale``, ``heatmap_size``. Bad images a skipping
    dataset replaced are added to ``skipped`` (file -> reason); data errors raised in loader
    workers come out as the dataset's own one-line message."""
    from ..data.heatmaps import flip_test as _flip_test
    from ..data.heatmaps import get_final_preds
    from .console import batches, note_skipped
    was_training = model.training
    model.eval()
    out = {k: [] for k in ("index", "preds", "maxvals", "joints", "image_id", "score", "head_size",
                           "center", "scale")}
    hm_size = None
    try:
        for batch in batches(loader):
            if skipped is not None:
                note_skipped(batch["meta"], skipped)
            images = batch["image"].to(device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=torch.device(device).type, dtype=amp_dtype or torch.float32,
                                enabled=amp_dtype is not None):
                hm = _flip_test(model, images, info.flip_pairs) if flip_test else model(images)
            hm = hm.float().cpu()
            hm_size = tuple(hm.shape[-2:])
            meta = batch["meta"]
            preds, maxvals = get_final_preds(hm, meta["center"], meta["scale"], meta["rotation"])
            out["index"].append(np.asarray(meta["index"]))
            out["preds"].append(preds)
            out["maxvals"].append(maxvals)
            for k in ("joints", "image_id", "score", "head_size", "center", "scale"):
                out[k].append(np.asarray(meta[k]))
    finally:
        model.train(was_training)
    res = {k: (np.concatenate(v) if v else np.zeros((0,))) for k, v in out.items()}
    res["heatmap_size"] = hm_size
    return res


def dedupe(pred: dict) -> dict:
    """Drop repeated samples (distributed padding) and sort by dataset index."""
    if len(pred["index"]) == 0:
        return pred
    _, first = np.unique(pred["index"], return_index=True)
    return {k: (v[first] if isinstance(v, np.ndarray) and v.shape[:1] == pred["index"].shape else v)
            for k, v in pred.items()}


def merge(parts: list) -> dict:
    keys = [k for k in parts[0] if k != "heatmap_size"]
    out = {k: np.concatenate([p[k] for p in parts if len(p["index"])]) if any(len(p["index"]) for p in parts)
           else parts[0][k] for k in keys}
    out["heatmap_size"] = next((p["heatmap_size"] for p in parts if p["heatmap_size"]), None)
    return dedupe(out)


def _nan_to_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def compute_metrics(data: str, pred: dict, dataset=None) -> dict:
    """Metrics of ``predict``'s output: LSPET ``PCK@0.2`` (torso) and ``PCKh@0.5`` (neck-head),
    per joint and mean; MPII ``PCKh@0.5`` (dataset head sizes) and ``PCK@0.2``; COCO OKS
    ``AP`` ... ``ARl`` (``dataset.coco`` is the ground truth). ``n`` counts the samples."""
    from ..data.joints import get_dataset_info
    from ..data.metrics import coco_eval, lspet_pck, pck, pckh, pose_scores, to_coco_results, torso_size
    info = get_dataset_info(data)
    n = int(len(pred["index"]))
    out: dict = {"n": n}
    if n == 0:
        return out
    names = list(info.joint_names)
    if data in ("lspet", "mpii"):
        gt = pred["joints"]
        if data == "lspet":
            r02 = lspet_pck(pred["preds"], gt, 0.2)
            rh = pckh(pred["preds"], gt, thr=0.5, info="lspet")
        else:
            r02 = pck(pred["preds"], gt, norm=torso_size(gt, "mpii"), thr=0.2)
            rh = pckh(pred["preds"], gt, head_sizes=pred["head_size"], thr=0.5)
        out["PCK@0.2"] = r02.mean
        out["PCKh@0.5"] = rh.mean
        out["per_joint"] = {name: {"PCK@0.2": _nan_to_none(float(a)), "PCKh@0.5": _nan_to_none(float(b))}
                            for name, a, b in zip(names, r02.per_joint, rh.per_joint)}
    else:
        if dataset is None or not hasattr(dataset, "coco"):
            raise ValueError("COCO metrics need the dataset (its pycocotools COCO ground truth)")
        scores = pose_scores(pred["maxvals"], pred["score"])
        kp = np.concatenate([pred["preds"], pred["maxvals"][..., None]], axis=-1)
        results = to_coco_results(kp, scores, pred["image_id"])
        out.update(coco_eval(dataset.coco, results, info.sigmas, image_ids=np.unique(pred["image_id"])))
    return out


def results_json(data: str, pred: dict) -> list:
    """Predictions in COCO keypoint results format (``keypoints`` = x, y, heatmap max per joint)."""
    from ..data.metrics import pose_scores, to_coco_results
    if len(pred["index"]) == 0:
        return []
    scores = pose_scores(pred["maxvals"], pred["score"])
    kp = np.concatenate([pred["preds"], pred["maxvals"][..., None]], axis=-1)
    return to_coco_results(kp, scores, pred["image_id"])


# ------------------------------------------------------------------------------------------------
def load_model(checkpoint, device="cpu"):
    """``(model, spec, config_dict_or_None)`` from a training checkpoint or a model-only
    checkpoint (``{'model', 'spec'}``), loaded with ``weights_only=True``."""
    import yaml

    from ..nets.factory import create_model
    from ..spec import NetworkSpec
    from .checkpoint import CheckpointError, load_checkpoint
    ckpt = load_checkpoint(checkpoint, require_training_state=False)
    if not isinstance(ckpt.get("spec"), str):
        raise CheckpointError(f"{checkpoint}: no model spec stored (key 'spec')")
    spec = NetworkSpec.from_yaml(ckpt["spec"] if "\n" in ckpt["spec"] else ckpt["spec"] + "\n")
    model = create_model(spec)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{checkpoint}: weights do not fit the stored spec ({str(e).splitlines()[0]})") from e
    cfg = yaml.safe_load(ckpt["config"]) if isinstance(ckpt.get("config"), str) else None
    return model.to(device), spec, cfg


def evaluate(checkpoint_or_model, data: str | None = None, data_root=None, split: str = "val",
             input_size=None, flip_test: bool = False, out=None, *, batch: int = 32, workers: int = 0,
             device: str = "cpu", limit: int | None = None, progress: bool = False) -> dict:
    """Evaluate a checkpoint path (or a model) on ``data``/``split``.

    ``data`` and ``input_size`` default to the checkpoint's training config / spec. ``out``: a
    JSON file for the COCO-format predictions (a ``.metrics.json`` file beside it gets the
    metrics). Returns the metrics dict (``n``, ``PCK@0.2`` / ``PCKh@0.5`` / ``per_joint`` or COCO
    ``AP`` ...), plus ``data``, ``split``, ``input_size``, ``flip_test``.
    """
    from ..data.joints import get_dataset_info
    from .config import parse_size
    from .sampling import IndexSubset
    cfg = None
    if isinstance(checkpoint_or_model, torch.nn.Module):
        model = checkpoint_or_model.to(device)
        spec = getattr(model, "spec", None)
    else:
        model, spec, cfg = load_model(checkpoint_or_model, device)
    data = data or (cfg or {}).get("data")
    if data is None:
        raise ValueError("evaluate: pass data= ('lspet', 'coco' or 'mpii'); the model carries no training config")
    if input_size is None:
        if cfg and cfg.get("input_size"):
            input_size = cfg["input_size"]
        elif spec is not None:
            input_size = spec.input_size
        else:
            raise ValueError("evaluate: pass input_size= (the model carries no spec)")
    input_size = parse_size(input_size)
    if data_root is None and cfg and cfg.get("data_root") and Path(cfg["data_root"]).is_dir():
        data_root = cfg["data_root"]
    ds = open_dataset(data, data_root, split, input_size, train=False)
    n_joints = get_dataset_info(data).num_joints
    head = getattr(getattr(model, "head", None), "final", None)
    if head is not None and getattr(head, "out_channels", n_joints) != n_joints:
        raise ValueError(f"the model predicts {head.out_channels} joints but {data} has {n_joints}")
    if limit is not None:
        ds_eval = IndexSubset(ds, limit)
    else:
        ds_eval = ds
    loader = torch.utils.data.DataLoader(ds_eval, batch_size=batch, shuffle=False, num_workers=workers)
    if progress:
        from tqdm import tqdm
        loader = tqdm(loader, desc=f"eval {data}/{split}", unit="batch")
    pred = dedupe(predict(model, loader, get_dataset_info(data), device, flip_test=flip_test))
    metrics = compute_metrics(data, pred, ds)
    metrics.update(data=data, split=split, input_size=list(input_size), flip_test=bool(flip_test))
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results_json(data, pred)))
        out.with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    return metrics
