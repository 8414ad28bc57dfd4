"""The training loop: HRNet's recipe (JointsMSELoss with target weights, Adam, step decay).

``train(config)`` builds the model (joints from the dataset, input size from the config),
trains, validates every ``val_every`` epochs and writes into ``config.out``::

    config.yaml      the resolved TrainConfig, less this invocation's stop_epoch / resume
    model.yaml       the NetworkSpec
    metrics.csv      one row per epoch (also metrics.jsonl): epoch, lr, train_loss, val metrics
                     (fractions: 0.712 is 71.2%; the CLI prints percent), images_per_s,
                     data_wait_frac, skipped_images (with skip_bad_images), ...
    skipped_images.txt  with skip_bad_images: each bad image skipped, ``file<TAB>reason``
    last.pt          every epoch and every ``checkpoint_every`` steps (atomic writes)
    best.pt          at the best validation value of the dataset's main metric (its registry
                     entry's ``main_metric``, e.g. ``PCK@0.2`` or ``AP``)

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
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.registry import compute_metrics, get_dataset_info, main_metric, open_dataset, resolve_data_dir
from .checkpoint import (FORMAT, VERSION, CheckpointError, load_checkpoint, load_scheduler_state, rng_state,
                         save_atomic, scheduler_state, set_rng_state)
from .config import ConfigError, TrainConfig
from .evaluation import merge, predict

__all__ = ["train", "JointsMSELoss", "RESUME_MAY_CHANGE"]

#: config fields a resumed run may change; every other field must match the checkpoint's
RESUME_MAY_CHANGE = frozenset({"out", "resume", "workers", "device", "progress", "val_every", "flip_test",
                               "limit_val", "checkpoint_every", "stop_epoch", "data_root", "amp",
                               "channels_last", "deterministic", "skip_bad_images", "threads"})


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
            why = "a CPU-only build" if torch.version.cuda is None else "no GPU found"
            raise ConfigError(f"device: 'cuda' requested but CUDA is not available here (torch "
                              f"{torch.__version__}, {why}); use device 'cpu' or 'auto' (--device cpu)")
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


def read_metrics(run_dir) -> list[dict]:
    """The per-epoch rows of the training run in ``run_dir`` (its ``metrics.jsonl``; [] before
    its first epoch has ended)."""
    f = Path(run_dir) / "metrics.jsonl"
    if not f.is_file():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]


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
        return read_metrics(self.jsonl.parent)

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
def train(config: TrainConfig, *, stop_after_steps: int | None = None, summary: bool | None = None) -> dict:
    """Train as ``config`` says; returns a summary dict (``run_dir``, ``epochs_done``,
    ``global_step``, ``best``, ``last`` (the last metrics row), ``stopped``, ``epochs_run`` and
    ``steps_run`` (what this call trained), ``nothing_to_do``, ``skipped`` (bad images skipped,
    ``[file, reason]`` pairs)).

    A resumed run with nothing left to train (all ``epochs`` done, or ``stop_epoch`` already
    reached) returns at once, before any data is read, with ``nothing_to_do`` saying why (the CLI
    prints it and exits 1). ``summary`` prints the opening summary (model, data, splits, joints,
    schedule, threads, workers, device, resume state) on rank 0; default ``config.progress``.
    ``stop_after_steps`` (a test hook) ends the run right after that global optimiser step, as if
    the process had been killed there: nothing beyond the periodic checkpoints is written.
    """
    from .console import opening_summary
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train expects a TrainConfig, got {type(config).__name__}")
    dist = _Dist()
    device = _device(config, dist)
    dist.init(device)
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        run = _Run(config, dist, device)
        if run.nothing_to_do:
            return run.result()
        run.build()
        if dist.main and (config.progress if summary is None else summary):
            print(opening_summary(run), flush=True)
        return run.fit(stop_after_steps)
    finally:
        torch.set_num_threads(threads)
        dist.destroy()


class _Run:
    """One invocation of a training run: resume state, data, model, loaders, the epoch loop."""

    def __init__(self, cfg: TrainConfig, dist: _Dist, device: torch.device):
        self.cfg, self.dist, self.device = cfg, dist, device
        if device.type == "cuda":
            torch.cuda.set_device(device)
        self.run_dir = Path(cfg.out)
        self.last_path, self.best_path = self.run_dir / "last.pt", self.run_dir / "best.pt"
        self.best = {"metric": main_metric(cfg.data), "value": None, "epoch": None}
        self.start_epoch = self.start_step = self.global_step = 0
        self.ckpt = self._open_resume()
        self.start_global = self.global_step
        self.end_epoch = cfg.epochs if cfg.stop_epoch is None else min(cfg.epochs, cfg.stop_epoch)
        self.epochs_done, self.last_row, self.stopped = self.start_epoch, None, False
        self.accum, self.skipped, self.steps_per_epoch = _zero_accum(), {}, None
        self.nothing_to_do = None
        if self.start_epoch >= self.end_epoch:
            self.nothing_to_do = (f"all {cfg.epochs} epochs of {self.run_dir} are already done"
                                  if self.start_epoch >= cfg.epochs else
                                  f"stop_epoch {cfg.stop_epoch} is already reached ({self.start_epoch} of "
                                  f"{cfg.epochs} epochs done in {self.run_dir})")

    def _open_resume(self):
        """The checkpoint to resume (or None for a fresh run); refuses a changed training setup."""
        cfg, last_path = self.cfg, self.last_path
        if not cfg.resume:
            if last_path.exists():
                raise ConfigError(f"{last_path} exists: pass resume=True (--resume) to continue that run, "
                                  "or choose another output folder")
            return None
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
        try:
            self.start_epoch, self.start_step = int(ckpt["epoch"]), int(ckpt["step_in_epoch"])
            self.global_step = int(ckpt["global_step"])
            self.best.update(ckpt.get("best") or {})
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{last_path}: cannot restore training state ({type(e).__name__}: {e})") from e
        was = ckpt.get("threads")
        if was is not None and was != torch.get_num_threads() and self.dist.main:
            warnings.warn(f"{last_path} was trained with {was} intra-op threads and resumes with "
                          f"{torch.get_num_threads()}: the run will not be bit-identical to an uninterrupted one "
                          f"(set threads: {was} to match)", RuntimeWarning, stacklevel=2)
        return ckpt

    # -- setup ------------------------------------------------------------------------------------
    def build(self) -> None:
        """Datasets, model, optimiser (restored when resuming), loaders and the run folder."""
        from .sampling import IndexSubset, SeededSamples
        cfg = self.cfg
        _set_determinism(cfg, self.device)
        self.info = get_dataset_info(cfg.data)
        self.data_dir = resolve_data_dir(cfg.data, cfg.data_root)
        kw = dict(sigma=cfg.sigma, skip_bad=cfg.skip_bad_images)
        self.train_ds = open_dataset(cfg.data, cfg.data_root, cfg.train_split, cfg.input_size, train=True, **kw)
        self.val_ds = open_dataset(cfg.data, cfg.data_root, cfg.val_split, cfg.input_size, train=False, **kw)
        for ds in (self.train_ds, self.val_ds):
            self.skipped.update({f: reason for f, reason in ds.skipped_items})
        self.train_set = SeededSamples(IndexSubset(self.train_ds, cfg.limit_train), cfg.seed)
        self.val_set = IndexSubset(self.val_ds, cfg.limit_val)
        self._build_model()
        self._restore()
        self._build_loaders()
        self.log = _MetricsLog(self.run_dir)
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.run_record().save(self.run_dir / "config.yaml")
            self.spec.to_yaml(self.run_dir / "model.yaml")
            self.log.truncate(self.start_epoch)
            if cfg.resume:
                self.skipped.update(_read_skipped(self.run_dir / SKIPPED_FILE))
        self.dist.barrier()

    def _build_model(self) -> None:
        from ..nets.factory import create_model, resolve_spec
        cfg = self.cfg
        base = resolve_spec(cfg.model)
        self.spec_joints = base.num_joints
        self.spec = base.replace(num_joints=self.info.num_joints, input_size=tuple(cfg.input_size))
        self.model = create_model(self.spec).to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(cfg.resolved_milestones()),
                                                              cfg.gamma)
        self.use_scaler = cfg.amp and self.device.type == "cuda"
        self.amp_dtype = (torch.float16 if self.device.type == "cuda" else torch.bfloat16) if cfg.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_scaler)
        self.criterion = JointsMSELoss(use_target_weight=True)
        self.ddp_model = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            self.ddp_model = DDP(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _restore(self) -> None:
        ckpt = self.ckpt
        if ckpt is None:
            return
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            load_scheduler_state(self.scheduler, ckpt["scheduler"])
            if self.use_scaler and ckpt.get("scaler"):
                self.scaler.load_state_dict(ckpt["scaler"])
            self.accum.update({k: float(v) for k, v in ckpt.get("epoch_accum", {}).items()})
            set_rng_state(ckpt["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise CheckpointError(f"{self.last_path}: cannot restore training state ({type(e).__name__}: {e})") from e

    def _build_loaders(self) -> None:
        from .sampling import ResumableBatchSampler
        cfg, dist = self.cfg, self.dist
        n = len(self.train_set)
        self.sampler = ResumableBatchSampler(n, cfg.batch, shuffle=True, seed=cfg.seed, rank=dist.rank,
                                             num_replicas=dist.world, drop_last=n >= cfg.batch * dist.world,
                                             max_batches=cfg.max_steps_per_epoch)
        val_sampler = ResumableBatchSampler(len(self.val_set), cfg.batch, shuffle=False, rank=dist.rank,
                                            num_replicas=dist.world, drop_last=False, with_epoch=False)
        pin = self.device.type == "cuda"
        loader_gen = torch.Generator().manual_seed(cfg.seed)   # keeps DataLoader off the global RNG
        self.train_loader = torch.utils.data.DataLoader(self.train_set, batch_sampler=self.sampler,
                                                        num_workers=cfg.workers, pin_memory=pin, generator=loader_gen)
        self.val_loader = torch.utils.data.DataLoader(self.val_set, batch_sampler=val_sampler,
                                                      num_workers=cfg.workers, pin_memory=pin)
        self.steps_per_epoch = self.sampler.batches_per_epoch()

    def save(self, path: Path, epoch: int, step_in_epoch: int) -> None:
        if not self.dist.main:
            return
        state = {
            "format": FORMAT, "version": VERSION,
            "model": _unwrap(self.ddp_model).state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": scheduler_state(self.scheduler),
            "scaler": self.scaler.state_dict() if self.use_scaler else {},
            "epoch": int(epoch), "step_in_epoch": int(step_in_epoch), "global_step": int(self.global_step),
            "epoch_accum": {k: float(v) for k, v in self.accum.items()}, "rng": rng_state(),
            "best": dict(self.best), "config": self.cfg.to_yaml(), "spec": self.spec.to_yaml(),
            "data": self.cfg.data, "joint_names": list(self.info.joint_names), "world_size": self.dist.world,
            "threads": torch.get_num_threads(),
        }
        save_atomic(state, path)

    # -- the loop -----------------------------------------------------------------------------------
    def fit(self, stop_after_steps: int | None) -> dict:
        for epoch in range(self.start_epoch, self.end_epoch):
            first = self.start_step if epoch == self.start_epoch else 0
            if first == 0:
                self.accum = _zero_accum()
            lr = self.optimizer.param_groups[0]["lr"]
            step = self._train_epoch(epoch, first, stop_after_steps)
            if self.stopped:
                break
            self._end_epoch(epoch, step, lr)
        self.dist.barrier()
        return self.result()

    def _train_epoch(self, epoch: int, first: int, stop_after_steps: int | None) -> int:
        """Optimiser steps ``first`` .. end of ``epoch``; returns the steps done in the epoch."""
        from .console import SKIP_HINT, batches, note_skipped
        cfg, accum = self.cfg, self.accum
        self.sampler.set_epoch(epoch, first)
        self.ddp_model.train()
        bar = None
        if self.dist.main and cfg.progress:
            from tqdm import tqdm
            bar = tqdm(total=self.steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       unit="step", dynamic_ncols=True, leave=False)
        step, t_prev = first, time.perf_counter()
        for batch in batches(self.train_loader, hint="" if cfg.skip_bad_images else SKIP_HINT):
            t_data = time.perf_counter()
            note_skipped(batch["meta"], self.skipped)
            loss, n = self._step(batch, epoch, step)
            t_end = time.perf_counter()
            accum["loss_sum"] += loss * n
            accum["count"] += n
            accum["images"] += n
            accum["time"] += t_end - t_prev
            accum["wait"] += t_data - t_prev
            step += 1
            self.global_step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{accum['loss_sum'] / max(accum['count'], 1):.3g}",
                                img_s=f"{accum['images'] * self.dist.world / max(accum['time'], 1e-9):.1f}")
            if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0 and step < self.steps_per_epoch:
                self.save(self.last_path, epoch, step)
            t_prev = time.perf_counter()
            if stop_after_steps is not None and self.global_step >= stop_after_steps:
                self.stopped = True
                break
        if bar is not None:
            bar.close()
        return step

    def _step(self, batch: dict, epoch: int, step: int) -> tuple:
        """One optimiser step; returns ``(loss, batch size)``."""
        device = self.device
        images = batch["image"].to(device, non_blocking=True)
        target = batch["target"].to(device, non_blocking=True)
        weight = batch["target_weight"].to(device, non_blocking=True)
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast(device_type=device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        with ctx:
            out = self.ddp_model(images)
        loss = self.criterion(out.float(), target, weight)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} at epoch {epoch + 1}, "
                                     f"step {step + 1}; lower the learning rate or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return float(loss.detach()), images.shape[0]

    def _end_epoch(self, epoch: int, step: int, lr: float) -> None:
        """Schedule step, metrics row, validation, checkpoints."""
        cfg, dist, accum = self.cfg, self.dist, self.accum
        self.scheduler.step()
        sums = dist.all_reduce_sum([accum["loss_sum"], accum["count"], accum["images"], accum["time"],
                                    accum["wait"]])
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": sums[0] / max(sums[1], 1),
               "images_per_s": sums[2] / max(sums[3] / dist.world, 1e-9),
               "data_wait_frac": sums[4] / max(sums[3], 1e-9), "steps": step, "global_step": self.global_step,
               "epoch_time_s": sums[3] / dist.world, "threads": torch.get_num_threads()}
        is_best = False
        if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
            is_best = self._validate(row, epoch)
        for part in dist.all_gather(self.skipped):
            self.skipped.update(part)
        if cfg.skip_bad_images:
            row["skipped_images"] = len(self.skipped)
        self.accum = _zero_accum()
        if is_best:
            self.save(self.best_path, epoch + 1, 0)
        self.save(self.last_path, epoch + 1, 0)
        if dist.main:
            self.log.append(row)
            if self.skipped:
                lines = [f"{f}\t{r}\n" for f, r in sorted(self.skipped.items())]
                (self.run_dir / SKIPPED_FILE).write_text("".join(lines))
        self.last_row = row
        self.epochs_done = epoch + 1
        dist.barrier()

    def _validate(self, row: dict, epoch: int) -> bool:
        """Validation metrics into ``row``; True when they are the best so far."""
        dist, best = self.dist, self.best
        t0 = time.perf_counter()
        part = predict(_unwrap(self.ddp_model), self.val_loader, self.info, self.device,
                       flip_test=self.cfg.flip_test, channels_last=self.cfg.channels_last,
                       amp_dtype=self.amp_dtype, skipped=self.skipped)
        parts = dist.all_gather(part)
        metrics = compute_metrics(self.cfg.data, merge(parts), self.val_ds) if dist.main else None
        metrics = dist.broadcast(metrics)
        row.update({f"val_{k}": v for k, v in metrics.items() if k != "per_joint"})
        row["val_time_s"] = time.perf_counter() - t0
        value = metrics.get(best["metric"])
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and \
                (best["value"] is None or value > best["value"]):
            best.update(value=float(value), epoch=epoch + 1)
            return True
        return False

    def result(self) -> dict:
        return {"run_dir": str(self.run_dir), "epochs_done": self.epochs_done, "global_step": self.global_step,
                "best": self.best, "last": self.last_row, "stopped": self.stopped,
                "checkpoint": str(self.last_path), "steps_per_epoch": self.steps_per_epoch,
                "world_size": self.dist.world, "epochs_run": self.epochs_done - self.start_epoch,
                "steps_run": self.global_step - self.start_global, "nothing_to_do": self.nothing_to_do,
                "skipped": [[f, r] for f, r in sorted(self.skipped.items())]}


SKIPPED_FILE = "skipped_images.txt"


def _read_skipped(path: Path) -> dict:
    if not path.is_file():
        return {}
    return dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line)
