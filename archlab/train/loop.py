"""The training loop: HRNet's recipe (JointsMSELoss with target weights, Adam, step decay).

``train(config)`` builds the model (joints from the dataset, input size from the config),
trains, validates every ``val_every`` epochs and writes into ``config.out``::

    config.yaml      the resolved TrainConfig
    model.yaml       the NetworkSpec
    metrics.csv      one row per epoch (also metrics.jsonl): epoch, lr, train_loss, val metrics,
                     images_per_s, data_wait_frac, ...
    last.pt          every epoch and every ``checkpoint_every`` steps (atomic writes)
    best.pt          at the best validation ``PCK@0.2`` (LSPET), ``PCKh@0.5`` (MPII) or ``AP`` (COCO)

``resume=True`` continues from ``last.pt``: batches come from a ``(seed, epoch)``-seeded
shuffle and each sample's augmentation from a ``(seed, epoch, index)``-seeded generator, so a
run killed mid-epoch and resumed reaches the same weights as an uninterrupted one (same
device, thread count and world size).

Launched by ``torchrun`` (``WORLD_SIZE`` > 1) it trains with DistributedDataParallel (gloo on
CPU, nccl on CUDA); ``batch`` is per process; rank 0 alone logs and checkpoints.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import (FORMAT, VERSION, CheckpointError, load_checkpoint, load_scheduler_state, rng_state,
                         save_atomic, scheduler_state, set_rng_state)
from .config import ConfigError, TrainConfig

__all__ = ["train", "JointsMSELoss", "RESUME_MAY_CHANGE"]

#: config fields a resumed run may change; every other field must match the checkpoint's
RESUME_MAY_CHANGE = frozenset({"out", "resume", "workers", "device", "progress", "val_every", "flip_test",
                               "limit_val", "checkpoint_every", "stop_epoch", "data_root", "amp",
                               "channels_last", "deterministic"})


class JointsMSELoss(torch.nn.Module):
    """HRNet's loss: ``0.5 * mean_j MSE(pred_j * w_j, target_j * w_j)`` (mean over batch and pixels)."""

    def __init__(self, use_target_weight: bool = True):
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, output, target, target_weight=None):
        if output.shape != target.shape:
            raise ValueError(f"JointsMSELoss: output {tuple(output.shape)} and target {tuple(target.shape)} differ")
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError("JointsMSELoss: target_weight is required when use_target_weight=True")
            w = target_weight.reshape(target_weight.shape[0], -1, 1, 1)
            output, target = output * w, target * w
        return 0.5 * F.mse_loss(output, target, reduction="mean")


def _zero_accum() -> dict:
    return {"loss_sum": 0.0, "count": 0.0, "images": 0.0, "time": 0.0, "wait": 0.0}


# ------------------------------------------------------------------------------------------------
class _Dist:
    """Process-group facts from torchrun's environment."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.owns_group = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def init(self, device: torch.device):
        import torch.distributed as dist
        if not self.enabled:
            return
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owns_group = True

    def barrier(self):
        if self.enabled:
            import torch.distributed as dist
            dist.barrier()

    def all_reduce_sum(self, values: list) -> list:
        if not self.enabled:
            return list(values)
        import torch.distributed as dist
        dev = "cuda" if dist.get_backend() == "nccl" else "cpu"
        t = torch.tensor(values, dtype=torch.float64, device=dev)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().tolist()

    def all_gather(self, obj) -> list:
        if not self.enabled:
            return [obj]
        import torch.distributed as dist
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        if not self.enabled:
            return obj
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def destroy(self):
        if self.owns_group:
            import torch.distributed as dist
            dist.destroy_process_group()
            self.owns_group = False


def _device(cfg: TrainConfig, dist: _Dist) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but CUDA is not available")
        return torch.device("cuda", dist.local_rank if dist.enabled else torch.cuda.current_device())
    return torch.device("cpu")


def _set_determinism(cfg: TrainConfig, device: torch.device):
    import random
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2 ** 32)
    torch.manual_seed(cfg.seed)
    if cfg.deterministic:
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def _config_diff(old: TrainConfig, new: TrainConfig) -> list:
    out = []
    for k, v in new.to_dict().items():
        if k in RESUME_MAY_CHANGE:
            continue
        ov = old.to_dict().get(k)
        if ov != v:
            out.append(f"{k}: checkpoint has {ov!r}, now {v!r}")
    return out


class _MetricsLog:
    """metrics.csv + metrics.jsonl, rank 0 only; rows past the resumed epoch are dropped."""

    def __init__(self, run_dir: Path):
        self.csv = run_dir / "metrics.csv"
        self.jsonl = run_dir / "metrics.jsonl"

    def truncate(self, epochs_done: int):
        rows = self.rows()
        keep = [r for r in rows if int(r["epoch"]) <= epochs_done]
        if len(keep) != len(rows):
            self.csv.unlink(missing_ok=True)
            self.jsonl.unlink(missing_ok=True)
            for r in keep:
                self.append(r)

    def rows(self) -> list:
        if not self.jsonl.is_file():
            return []
        return [json.loads(line) for line in self.jsonl.read_text().splitlines() if line.strip()]

    def append(self, row: dict):
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
        rows = self.rows()
        cols: list = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        with open(self.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})


# ------------------------------------------------------------------------------------------------
def train(config: TrainConfig, *, stop_after_steps: int | None = None) -> dict:
    """Train as ``config`` says; returns a summary dict (``run_dir``, ``epochs_done``,
    ``global_step``, ``best``, ``last`` (the last metrics row), ``stopped``).

    ``stop_after_steps`` (a test hook) ends the run right after that global optimiser step, as if
    the process had been killed there: nothing beyond the periodic checkpoints is written.
    """
    from .. import create_model
    from ..data.joints import get_dataset_info
    from .evaluate import compute_metrics, main_metric, merge, open_dataset, predict
    from .sampling import IndexSubset, ResumableBatchSampler, SeededSamples

    if not isinstance(config, TrainConfig):
        raise TypeError(f"train expects a TrainConfig, got {type(config).__name__}")
    cfg = config
    dist = _Dist()
    device = _device(cfg, dist)
    dist.init(device)
    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        run_dir = Path(cfg.out)
        last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
        ckpt = None
        if cfg.resume:
            if not last_path.is_file():
                raise FileNotFoundError(f"nothing to resume: {last_path} not found (drop --resume to start)")
            ckpt = load_checkpoint(last_path)
            try:
                old = TrainConfig.from_yaml_text(ckpt["config"])
            except (ConfigError, KeyError, TypeError) as e:
                raise CheckpointError(f"{last_path}: stored config unreadable ({e})") from e
            diff = _config_diff(old, cfg)
            if diff:
                raise ConfigError("cannot resume with a different training setup:\n  " + "\n  ".join(diff))
        elif last_path.exists():
            raise ConfigError(f"{last_path} exists: pass resume=True (--resume) to continue that run, "
                              "or choose another output folder")
        _set_determinism(cfg, device)

        info = get_dataset_info(cfg.data)
        train_split, val_split = cfg.train_split, cfg.val_split
        train_ds = open_dataset(cfg.data, cfg.data_root, train_split, cfg.input_size, train=True, sigma=cfg.sigma)
        val_ds = open_dataset(cfg.data, cfg.data_root, val_split, cfg.input_size, train=False, sigma=cfg.sigma)
        train_set = SeededSamples(IndexSubset(train_ds, cfg.limit_train), cfg.seed)
        val_set = IndexSubset(val_ds, cfg.limit_val)

        from .. import resolve_spec
        spec = resolve_spec(cfg.model, num_joints=info.num_joints, input_size=tuple(cfg.input_size))
        model = create_model(spec).to(device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(cfg.resolved_milestones()), cfg.gamma)
        use_scaler = cfg.amp and device.type == "cuda"
        amp_dtype = (torch.float16 if device.type == "cuda" else torch.bfloat16) if cfg.amp else None
        scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        criterion = JointsMSELoss(use_target_weight=True)

        start_epoch, start_step, global_step = 0, 0, 0
        accum = _zero_accum()
        best = {"metric": main_metric(cfg.data), "value": None, "epoch": None}
        if ckpt is not None:
            try:
                model.load_state_dict(ckpt["model"])
                optimizer.load_state_dict(ckpt["optimizer"])
                load_scheduler_state(scheduler, ckpt["scheduler"])
                if use_scaler and ckpt.get("scaler"):
                    scaler.load_state_dict(ckpt["scaler"])
                start_epoch, start_step = int(ckpt["epoch"]), int(ckpt["step_in_epoch"])
                global_step = int(ckpt["global_step"])
                accum.update({k: float(v) for k, v in ckpt.get("epoch_accum", {}).items()})
                best.update(ckpt.get("best") or {})
                set_rng_state(ckpt["rng"])
            except (KeyError, RuntimeError, ValueError, TypeError) as e:
                raise CheckpointError(f"{last_path}: cannot restore training state ({type(e).__name__}: {e})") from e

        ddp_model = model
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ddp_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

        sampler = ResumableBatchSampler(len(train_set), cfg.batch, shuffle=True, seed=cfg.seed, rank=dist.rank,
                                        num_replicas=dist.world, drop_last=len(train_set) >= cfg.batch * dist.world,
                                        max_batches=cfg.max_steps_per_epoch)
        val_sampler = ResumableBatchSampler(len(val_set), cfg.batch, shuffle=False, rank=dist.rank,
                                            num_replicas=dist.world, drop_last=False, with_epoch=False)
        pin = device.type == "cuda"
        loader_gen = torch.Generator().manual_seed(cfg.seed)   # keeps DataLoader off the global RNG
        train_loader = torch.utils.data.DataLoader(train_set, batch_sampler=sampler, num_workers=cfg.workers,
                                                   pin_memory=pin, generator=loader_gen)
        val_loader = torch.utils.data.DataLoader(val_set, batch_sampler=val_sampler, num_workers=cfg.workers,
                                                 pin_memory=pin)
        steps_per_epoch = sampler.batches_per_epoch()

        log = _MetricsLog(run_dir)
        if dist.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(run_dir / "config.yaml")
            spec.to_yaml(run_dir / "model.yaml")
            log.truncate(start_epoch)
        dist.barrier()

        def save(path: Path, epoch: int, step_in_epoch: int):
            if not dist.main:
                return
            state = {
                "format": FORMAT, "version": VERSION,
                "model": _unwrap(ddp_model).state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler_state(scheduler), "scaler": scaler.state_dict() if use_scaler else {},
                "epoch": int(epoch), "step_in_epoch": int(step_in_epoch), "global_step": int(global_step),
                "epoch_accum": {k: float(v) for k, v in accum.items()}, "rng": rng_state(), "best": dict(best),
                "config": cfg.to_yaml(), "spec": spec.to_yaml(), "data": cfg.data,
                "joint_names": list(info.joint_names), "world_size": dist.world,
            }
            save_atomic(state, path)

        end_epoch = cfg.epochs if cfg.stop_epoch is None else min(cfg.epochs, cfg.stop_epoch)
        last_row, stopped = None, False
        bar_factory = None
        if dist.main and cfg.progress:
            from tqdm import tqdm as bar_factory
        epochs_done = start_epoch
        ctx = torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
        for epoch in range(start_epoch, end_epoch):
            first = start_step if epoch == start_epoch else 0
            if first == 0:
                accum = _zero_accum()
            sampler.set_epoch(epoch, first)
            lr = optimizer.param_groups[0]["lr"]
            ddp_model.train()
            bar = bar_factory(total=steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                              unit="step", dynamic_ncols=True, leave=False) if bar_factory else None
            step = first
            t_prev = time.perf_counter()
            it = iter(train_loader)
            while True:
                try:
                    batch = next(it)
                except StopIteration:
                    break
                t_data = time.perf_counter()
                images = batch["image"].to(device, non_blocking=True)
                target = batch["target"].to(device, non_blocking=True)
                weight = batch["target_weight"].to(device, non_blocking=True)
                if cfg.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                with ctx:
                    out = ddp_model(images)
                loss = criterion(out.float(), target, weight)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite training loss {loss.item()} at epoch {epoch + 1}, "
                                             f"step {step + 1}; lower the learning rate or check the data")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t_end = time.perf_counter()
                n = images.shape[0]
                accum["loss_sum"] += float(loss.detach()) * n
                accum["count"] += n
                accum["images"] += n
                accum["time"] += t_end - t_prev
                accum["wait"] += t_data - t_prev
                step += 1
                global_step += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{accum['loss_sum'] / max(accum['count'], 1):.3g}",
                                    img_s=f"{accum['images'] * dist.world / max(accum['time'], 1e-9):.1f}")
                if cfg.checkpoint_every and global_step % cfg.checkpoint_every == 0 and step < steps_per_epoch:
                    save(last_path, epoch, step)
                t_prev = time.perf_counter()
                if stop_after_steps is not None and global_step >= stop_after_steps:
                    stopped = True
                    break
            if bar is not None:
                bar.close()
            if stopped:
                break
            scheduler.step()
            sums = dist.all_reduce_sum([accum["loss_sum"], accum["count"], accum["images"], accum["time"],
                                        accum["wait"]])
            row = {"epoch": epoch + 1, "lr": lr, "train_loss": sums[0] / max(sums[1], 1),
                   "images_per_s": sums[2] / max(sums[3] / dist.world, 1e-9),
                   "data_wait_frac": sums[4] / max(sums[3], 1e-9), "steps": step, "global_step": global_step,
                   "epoch_time_s": sums[3] / dist.world}
            is_best = False
            if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
                t0 = time.perf_counter()
                part = predict(_unwrap(ddp_model), val_loader, info, device, flip_test=cfg.flip_test,
                               channels_last=cfg.channels_last, amp_dtype=amp_dtype)
                parts = dist.all_gather(part)
                metrics = compute_metrics(cfg.data, merge(parts), val_ds) if dist.main else None
                metrics = dist.broadcast(metrics)
                row.update({f"val_{k}": v for k, v in metrics.items() if k != "per_joint"})
                row["val_time_s"] = time.perf_counter() - t0
                value = metrics.get(best["metric"])
                if value is not None and not (isinstance(value, float) and math.isnan(value)) and \
                        (best["value"] is None or value > best["value"]):
                    best.update(value=float(value), epoch=epoch + 1)
                    is_best = True
            accum = _zero_accum()
            if is_best:
                save(best_path, epoch + 1, 0)
            save(last_path, epoch + 1, 0)
            if dist.main:
                log.append(row)
            last_row = row
            epochs_done = epoch + 1
            dist.barrier()
        dist.barrier()
        return {"run_dir": str(run_dir), "epochs_done": epochs_done, "global_step": global_step, "best": best,
                "last": last_row, "stopped": stopped, "checkpoint": str(last_path),
                "steps_per_epoch": steps_per_epoch, "world_size": dist.world}
    finally:
        dist.destroy()
