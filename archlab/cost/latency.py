"""Measured cost: inference latency, training-step time and peak memory.

* :func:`measure_latency` -- forward passes under ``torch.inference_mode`` after a warm-up; the
  median and inter-quartile range (IQR) of ``repeats`` timed runs. The thread count is fixed for
  the measurement (``torch.set_num_threads``) and restored afterwards. On CUDA every run is
  timed with CUDA events (after a synchronise), on CPU with ``time.perf_counter``.
* :func:`measure_train_step` -- one training step per run: forward, MSE loss against random
  heatmaps of the output's shape, backward, Adam step (on a deep copy: the caller's model is not
  trained).

Peak memory. ``tracemalloc`` only sees Python's allocator, not PyTorch's tensor storage, so it is
not used. On CPU the figure is the growth of the process's maximum resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) over the measurement: a high-water mark of the
whole process, so it is a *lower bound* for the work measured (0 when an earlier peak was
already higher -- measure in a fresh process for an exact figure). On CUDA it is
``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()`` (tensor memory only,
not the caching allocator's reserve). ``memory_method`` in the result says which.

Untrained archlab networks (conv weights ``N(0, 0.001)``) underflow into denormal floats after a
few layers, which slows CPU kernels down by 10-100x; ``flush_denormal=True`` (the default) flushes
them to zero during the measurement, as a trained network never sees them.
"""
from __future__ import annotations

import contextlib
import copy
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .counters import pinned_threads

__all__ = ["LatencyResult", "measure_latency", "measure_train_step", "peak_rss_mb"]


@dataclass
class LatencyResult:
    """Timings in milliseconds (median and IQR over ``repeats`` runs) and peak memory in MiB."""

    kind: str                     # 'inference' or 'train_step'
    median_ms: float
    iqr_ms: float
    mean_ms: float
    min_ms: float
    repeats: int
    warmup: int
    batch: int
    input_size: tuple
    device: str
    threads: int
    amp: bool
    channels_last: bool
    peak_memory_mb: float
    memory_method: str
    times_ms: list = field(default_factory=list, repr=False)

    @property
    def throughput(self) -> float:
        """Images per second at the median time."""
        return self.batch * 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("times_ms")
        d["throughput"] = self.throughput
        return d


def peak_rss_mb() -> float:
    """The process's maximum resident set size so far, in MiB (Linux reports KiB, macOS bytes)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def _model(model_or_name, device):
    if isinstance(model_or_name, nn.Module):
        return model_or_name
    from ..nets.factory import create_model
    return create_model(model_or_name, device=device)


def _size(model, input_size):
    from .counters import parse_input_size
    if input_size is None:
        spec = getattr(model, "spec", None)
        if spec is None:
            raise ValueError("input_size is required for a model without a spec")
        input_size = tuple(spec.input_size)
    spec = getattr(model, "spec", None)
    return parse_input_size(input_size, int(getattr(spec, "in_channels", 3)) if spec is not None else 3)


def _check(batch, warmup, repeats, device):
    for name, v, lo in (("batch", batch, 1), ("warmup", warmup, 0), ("repeats", repeats, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but CUDA is not available")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return dev


def _autocast(dev, amp):
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=torch.float16 if dev.type == "cuda" else torch.bfloat16)


def _stats(times):
    times = sorted(times)
    if len(times) >= 2:
        q = statistics.quantiles(times, n=4, method="inclusive")
        iqr = q[2] - q[0]
    else:
        iqr = 0.0
    return statistics.median(times), iqr, statistics.fmean(times), times[0]


def _run(step, dev, warmup, repeats):
    """Warm up, then time ``repeats`` calls of ``step``; returns (times in ms, peak MiB, method)."""
    for _ in range(warmup):
        step()
    times = []
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize(dev)
            times.append(start.elapsed_time(end))
        return times, torch.cuda.max_memory_allocated(dev) / 2 ** 20, "torch.cuda.max_memory_allocated"
    rss0 = peak_rss_mb()
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000.0)
    return times, max(0.0, peak_rss_mb() - rss0), "ru_maxrss growth (lower bound)"


def _flush(on: bool):
    if not on:
        return contextlib.nullcontext()
    from .counters import flush_denormal
    return flush_denormal()


def measure_latency(model, input_size=None, *, batch: int = 1, threads: int | None = 1, warmup: int = 5,
                    repeats: int = 20, device: str = "cpu", amp: bool = False, channels_last: bool = False,
                    flush_denormal: bool = True) -> LatencyResult:
    """Inference latency of ``model`` (an ``nn.Module``, zoo name, YAML path or spec) on a
    ``(batch, C, H, W)`` input: median and IQR of ``repeats`` timed forward passes after
    ``warmup`` untimed ones. ``threads`` (default 1; ``None`` keeps the current setting) is set
    for the measurement and restored. ``amp`` runs under autocast (float16 on CUDA, bfloat16 on
    CPU); ``channels_last`` converts model and input to that memory format."""
    dev = _check(batch, warmup, repeats, device)
    m = _model(model, dev)
    c, h, w = _size(m, input_size)
    was_training = m.training
    m.eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    orig_device = next(iter(m.parameters()), torch.empty(0)).device
    m.to(dev)
    if channels_last:
        m.to(memory_format=torch.channels_last)
    x = torch.randn(batch, c, h, w, device=dev).contiguous(memory_format=fmt)

    def step():
        with torch.inference_mode(), _autocast(dev, amp):
            m(x)
    try:
        with pinned_threads(threads) as n, _flush(flush_denormal and dev.type == "cpu"):
            times, mem, method = _run(step, dev, warmup, repeats)
    finally:
        m.train(was_training)
        if channels_last:
            m.to(memory_format=torch.contiguous_format)
        m.to(orig_device)
    med, iqr, mean, mn = _stats(times)
    return LatencyResult("inference", med, iqr, mean, mn, repeats, warmup, batch, (c, h, w), str(dev), n, amp,
                         channels_last, mem, method, times)


def measure_train_step(model, input_size=None, *, batch: int = 8, threads: int | None = 1, warmup: int = 2,
                       repeats: int = 10, device: str = "cpu", amp: bool = False, channels_last: bool = False,
                       lr: float = 1e-3, flush_denormal: bool = True) -> LatencyResult:
    """Time of one training step -- forward, ``MSELoss`` against random heatmaps of the output's
    shape, backward, ``Adam`` step -- on a deep copy of ``model`` (median and IQR over
    ``repeats`` steps after ``warmup``). Same options as :func:`measure_latency`."""
    dev = _check(batch, warmup, repeats, device)
    src = _model(model, dev)
    m = copy.deepcopy(src).to(dev).train()
    c, h, w = _size(m, input_size)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
        m.to(memory_format=torch.channels_last)
    x = torch.randn(batch, c, h, w, device=dev).contiguous(memory_format=fmt)
    with torch.no_grad():
        target = torch.rand_like(m(x).float())
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    scaler = torch.amp.GradScaler("cuda") if (amp and dev.type == "cuda") else None

    def step():
        opt.zero_grad(set_to_none=True)
        with _autocast(dev, amp):
            loss = loss_fn(m(x).float(), target)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
    with pinned_threads(threads) as n, _flush(flush_denormal and dev.type == "cpu"):
        times, mem, method = _run(step, dev, warmup, repeats)
    med, iqr, mean, mn = _stats(times)
    return LatencyResult("train_step", med, iqr, mean, mn, repeats, warmup, batch, (c, h, w), str(dev), n, amp,
                         channels_last, mem, method, times)
