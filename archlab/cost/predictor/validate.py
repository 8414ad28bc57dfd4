"""Checking the predictor against measured ONNX Runtime latency.

:func:`measure_specs` builds, exports and times specs in ORT, interleaved (one run of each model
in turn, so a load change on a shared machine hits all of them alike). It uses
:func:`archlab.cost.runtime.measure_many` when that module is present (``clock='wall'``), and
otherwise its own timing: the minimum over ``repeats`` runs of the calling thread's CPU time
(``clock='cpu'``, with one intra-op thread ORT computes on the calling thread, so time the
thread spends descheduled on a busy machine is not counted) and of wall time.
"""
from __future__ import annotations

import os
import statistics
import tempfile

import numpy as np
import torch

from .profile import export_spec, session_options

__all__ = ["measure_specs", "export_spec"]


def measure_specs(specs, input_sizes=None, *, threads: int = 1, batch: int = 1, repeats: int = 7,
                  warmup: int = 2, burst: int = 3, progress: bool = False) -> list[dict]:
    """Measured latency of each spec (at ``input_sizes[i]`` or its own size): one dict per spec
    with ``cpu_min_ms``, ``cpu_median_ms``, ``wall_min_ms``, ``wall_median_ms``, ``wall_iqr_ms``.

    Each of the ``repeats`` rounds runs every spec ``burst`` times back to back and times the last
    run: the steady state a deployed network runs in (weights and buffers in cache), as the table's
    kernels were profiled. ``burst=1`` times every run right after the other specs' runs evicted
    the caches, which on this 2-core EPYC reads 10-25% slower than steady state."""
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"measure_specs: burst must be an integer >= 1, got {burst!r}")
    import onnxruntime as ort
    from tqdm import tqdm
    sizes = list(input_sizes) if input_sizes is not None else [tuple(s.input_size) for s in specs]
    sessions = []
    torch.set_flush_denormal(True)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (s, size) in enumerate(tqdm(list(zip(specs, sizes)), desc="export", disable=not progress)):
            p = os.path.join(tmp, f"m{i}.onnx")
            export_spec(s, size, p, batch)
            so = session_options(threads, denormals_as_zero=True)
            sess = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
            feed = {"x": np.random.default_rng(i).standard_normal((batch, s.in_channels, *size), dtype=np.float32)}
            for _ in range(warmup):
                sess.run(None, feed)
            sessions.append((sess, feed))
    import time
    cpu = [[] for _ in sessions]
    wall = [[] for _ in sessions]
    for _ in tqdm(range(repeats), desc="timing (interleaved)", disable=not progress):
        for i, (sess, feed) in enumerate(sessions):
            for _ in range(burst - 1):
                sess.run(None, feed)
            c0, w0 = time.thread_time(), time.perf_counter()
            sess.run(None, feed)
            cpu[i].append((time.thread_time() - c0) * 1e3)
            wall[i].append((time.perf_counter() - w0) * 1e3)
    out = []
    for c, w in zip(cpu, wall):
        q = statistics.quantiles(w, n=4, method="inclusive") if len(w) > 1 else (w[0], w[0], w[0])
        out.append({"cpu_min_ms": min(c), "cpu_median_ms": statistics.median(c), "wall_min_ms": min(w),
                    "wall_median_ms": statistics.median(w), "wall_iqr_ms": q[2] - q[0]})
    return out
