"""Evaluate a pose network on any registered dataset (:mod:`archlab.data.registry`).

``evaluate(checkpoint_or_model, data=NAME, data_root=None, split='val', ...)`` runs the model
over a split, maps heatmap maxima back to image pixels, writes the predictions as keypoint
results JSON (``out``; the format pycocotools reads) and returns the dataset's metrics (its
entry lists them). Any folder in a dataset's own layout works as ``data_root``.

Which datasets exist, where their files live, how a split opens and what is scored come from
the registry; the names below are re-exported from it for compatibility.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml

from ..data.heatmaps import flip_test as _flip_test
from ..data.heatmaps import get_final_preds
from ..data.metrics import keypoint_results
from ..data.registry import (compute_metrics, dataset_names, get_dataset_info, main_metric, open_dataset,
                             resolve_data_dir, view)
from ..nets.factory import create_model
from ..spec import NetworkSpec
from .checkpoint import CheckpointError, load_checkpoint
from .config import parse_size
from .console import batches, note_skipped
from .sampling import IndexSubset

__all__ = ["evaluate", "open_dataset", "resolve_data_dir", "predict", "compute_metrics", "main_metric",
           "load_model", "MAIN_METRIC"]


#: dataset name -> the validation metric that picks ``best.pt`` (from the registry)
MAIN_METRIC = view("main_metric")


# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict(model, loader, info, device, *, flip_test: bool = False, channels_last: bool = False,
            amp_dtype=None, skipped: dict | None = None) -> dict:
    """Run ``model`` over ``loader``; returns numpy arrays keyed ``index``, ``preds`` (N, J, 2)
    image pixels, ``maxvals`` (N, J), ``joints`` (N, J, 3) ground truth, ``image_id``, ``score``
    (box score), ``head_size``, ``center``, ``scale``, ``heatmap_size``. Bad images a skipping
    dataset replaced are added to ``skipped`` (file -> reason); data errors raised in loader
    workers come out as the dataset's own one-line message."""
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


def results_json(data: str, pred: dict) -> list:
    """``predict``'s output as keypoint results (:func:`archlab.data.metrics.keypoint_results`)."""
    return keypoint_results(pred)


# ------------------------------------------------------------------------------------------------
def load_model(checkpoint, device="cpu"):
    """``(model, spec, config_dict_or_None)`` from a training checkpoint or a model-only
    checkpoint (``{'model', 'spec'}``), loaded with ``weights_only=True``."""
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
    JSON file for the predictions as keypoint results (a ``.metrics.json`` file beside it gets the
    metrics). Returns the metrics dict (``n``, each of the dataset's metrics, e.g. ``PCK@0.2`` or
    ``AP``, and ``per_joint`` where it has per-joint metrics), plus ``data``, ``split``,
    ``input_size``, ``flip_test``.
    """
    cfg = None
    if isinstance(checkpoint_or_model, torch.nn.Module):
        model = checkpoint_or_model.to(device)
        spec = getattr(model, "spec", None)
    else:
        model, spec, cfg = load_model(checkpoint_or_model, device)
    data = data or (cfg or {}).get("data")
    if data is None:
        raise ValueError(f"evaluate: pass data= (one of {', '.join(dataset_names())}); the model carries no "
                         "training config")
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
