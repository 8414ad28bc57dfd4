"""Training checkpoints: atomic writes, ``weights_only`` loads, clear errors.

A checkpoint is a plain dict of tensors, primitives, lists and dicts (so
``torch.load(path, weights_only=True)`` reads it)::

    format, version        'archlab-train-checkpoint', 1
    model                  state dict (unwrapped from DDP)
    optimizer, scheduler   state dicts (scheduler milestones stored as a plain dict)
    scaler                 GradScaler state dict ({} when AMP scaling is off)
    epoch                  the epoch in progress (0-based; == epochs done when step_in_epoch is 0)
    step_in_epoch          optimiser steps already taken in ``epoch``
    global_step            optimiser steps in total
    epoch_accum            partial sums of the epoch in progress (loss, images, timings)
    rng                    python / numpy / torch / cuda generator states
    best                   {'metric', 'value', 'epoch'} of the best validation so far
    config                 the TrainConfig as YAML text
    spec                   the NetworkSpec as YAML text
"""
from __future__ import annotations

import os
import pickle
import random
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch

__all__ = ["CheckpointError", "FORMAT", "save_atomic", "load_checkpoint", "rng_state", "set_rng_state",
           "scheduler_state", "load_scheduler_state"]

FORMAT = "archlab-train-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be used (corrupt, truncated or not an archlab checkpoint)."""


def save_atomic(obj, path) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then ``os.replace``: a reader
    (or a crash) never sees a half-written ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path, map_location="cpu", *, require_training_state: bool = True) -> dict:
    """Load an archlab training checkpoint with ``weights_only=True``.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` for a corrupt,
    truncated or foreign file, naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty checkpoint file (an interrupted copy?)")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a PyTorch checkpoint archive (truncated, corrupt or another format)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path}: corrupt checkpoint, or one holding objects that safe (weights_only) "
                              "loading refuses (archlab checkpoints store only tensors and plain values)") from e
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError, AttributeError,
            ImportError) as e:
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200] if str(e) else ''})") from e
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path}: not an archlab checkpoint (no 'model' entry)")
    if require_training_state and ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an archlab training checkpoint (format {ckpt.get('format')!r})")
    if ckpt.get("format") == FORMAT and ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt['version']} is newer than this archlab "
                              f"reads ({VERSION})")
    return ckpt


# ------------------------------------------------------------------------------------------------
def rng_state() -> dict:
    """Every global RNG state, as tensors / lists / ints (``weights_only`` safe)."""
    version, state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    out = {
        "python": [int(version), [int(v) for v in state], gauss],
        "numpy": [str(name), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                  float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }
    return out


def set_rng_state(state: dict) -> None:
    version, st, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in st), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def scheduler_state(scheduler) -> dict:
    sd = dict(scheduler.state_dict())
    if isinstance(sd.get("milestones"), Counter):
        sd["milestones"] = {int(k): int(v) for k, v in sd["milestones"].items()}
    return sd


def load_scheduler_state(scheduler, sd: dict) -> None:
    sd = dict(sd)
    if isinstance(sd.get("milestones"), dict):
        sd["milestones"] = Counter({int(k): int(v) for k, v in sd["milestones"].items()})
    scheduler.load_state_dict(sd)
