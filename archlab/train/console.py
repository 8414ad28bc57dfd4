"""What a training run tells its user: the opening summary, clean data errors from DataLoader
workers, the bad images it skipped, and metrics as percent.

A DataLoader worker re-raises a dataset error in the main process with the worker's whole
traceback in the message; :func:`batches` turns it back into the dataset's own one-line message.

>>> e = ValueError('Caught ValueError in DataLoader worker process 1.\\nOriginal Traceback (most '
...                'recent call last):\\n  File "x.py", line 3\\nValueError: im1.jpg: cannot read image\\n')
>>> unwrap_worker_error(e)
'im1.jpg: cannot read image'
>>> unwrap_worker_error(ValueError('plain'))
>>> percent_metrics({'epoch': 2, 'val_PCK@0.2': 0.7123, 'val_n': 8, 'train_loss': 0.0012})
{'epoch': 2, 'val_PCK@0.2': '71.2%', 'val_n': 8, 'train_loss': 0.0012}
"""
from __future__ import annotations

import re

__all__ = ["batches", "unwrap_worker_error", "note_skipped", "opening_summary", "percent_metrics",
           "SKIP_HINT"]

#: accuracy metrics (stored as fractions in metrics.csv) that people read as percent
PERCENT_KEYS = ("PCK@0.2", "PCKh@0.5", "AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
SKIP_HINT = " (skip_bad_images / --skip-bad-images skips bad images and reports them)"


def unwrap_worker_error(e: BaseException) -> str | None:
    """The original one-line message inside a DataLoader worker's re-raised exception, or None
    when ``e`` did not come from a worker."""
    text = str(e)
    if not text.startswith("Caught ") or "in DataLoader worker process" not in text.split("\n", 1)[0]:
        return None
    name = re.escape(type(e).__name__)
    m = re.search(rf"\n(?:[\w.]+\.)?{name}: (.*?)\s*\Z", text, flags=re.S)
    return m.group(1) if m else None


def batches(loader, hint: str = ""):
    """Iterate ``loader``; a data error (unreadable image, missing file) raised in a worker or here
    is re-raised as its own type with the dataset's one-line message (plus ``hint``)."""
    from ..data.topdown import DatasetError
    it = iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (DatasetError, FileNotFoundError) as e:
            msg = unwrap_worker_error(e)
            if msg is None and not hint:
                raise
            raise type(e)((msg or str(e)) + (hint if isinstance(e, DatasetError) else "")) from None
        yield batch


def note_skipped(meta: dict, into: dict) -> None:
    """Record a batch's ``meta['skipped']`` (``file<TAB>reason`` lines per sample) in ``into``
    (file -> reason)."""
    for text in meta.get("skipped", ()):
        for line in str(text).splitlines():
            f, _, reason = line.partition("\t")
            into.setdefault(f, reason[len(f) + 2:] if reason.startswith(f + ": ") else reason)


def percent_metrics(row: dict) -> dict:
    """``row`` with accuracy fractions shown as percent strings (for printing only)."""
    out = {}
    for k, v in row.items():
        base = k[4:] if k.startswith("val_") else k
        out[k] = f"{100 * v:.1f}%" if base in PERCENT_KEYS and isinstance(v, float) else v
    return out


def _resume_line(run) -> str:
    if run.ckpt is None:
        return f"fresh run -> {run.run_dir}"
    b = run.best
    best = f", best {b['metric']} {100 * b['value']:.1f}% (epoch {b['epoch']})" if b.get("value") is not None else ""
    return (f"resuming {run.last_path}: {run.start_epoch} epochs done + {run.start_step} steps "
            f"(global step {run.global_step}){best}")


def opening_summary(run) -> str:
    """The lines a training run opens with: model, data and splits, joints, schedule, machine,
    resume state (``run`` is the loop's run object, built)."""
    cfg, info = run.cfg, run.info
    params = sum(p.numel() for p in run.model.parameters())
    joints = (f"head: {run.spec_joints} joints in the spec -> {info.num_joints} {cfg.data} joints"
              if run.spec_joints != info.num_joints else f"joints: {info.num_joints} ({cfg.data})")

    def split(role, name, ds, used, limit_flag):
        cut = f", using the first {used} ({limit_flag})" if used < len(ds) else ""
        return f"{role} '{name}' {len(ds)} samples{cut}"

    data = (f"data: {cfg.data} {run.data_dir}: "
            f"{split('train', cfg.train_split, run.train_ds, len(run.train_set), 'limit_train')}; "
            f"{split('val', cfg.val_split, run.val_ds, len(run.val_set), 'limit_val')}")
    skipped = len(run.skipped)
    if cfg.skip_bad_images:
        data += f"; bad samples skipped at load: {skipped}"
    stop = f" (this call stops after epoch {run.end_epoch})" if run.end_epoch < cfg.epochs else ""
    procs = f" x {run.dist.world} processes" if run.dist.world > 1 else ""
    import torch
    amp = ("fp16" if run.device.type == "cuda" else "bf16") if cfg.amp else "off"
    lines = [
        f"model: {run.spec.name}, {params:,} parameters ({params / 1e6:.3f} M); {joints}",
        data,
        f"input {cfg.input_size[0]}x{cfg.input_size[1]}, epochs {cfg.epochs}{stop}, batch {cfg.batch}{procs}, "
        f"{run.steps_per_epoch} steps/epoch, lr {cfg.lr:g} x{cfg.gamma:g} at epochs "
        f"{', '.join(map(str, cfg.resolved_milestones()))}",
        f"device {run.device}, threads {torch.get_num_threads()}, workers {cfg.workers}, amp {amp}, "
        f"channels_last {'on' if cfg.channels_last else 'off'}, "
        f"{'deterministic' if cfg.deterministic else 'nondeterministic'}, seed {cfg.seed}",
        _resume_line(run),
    ]
    return "\n".join(lines)
