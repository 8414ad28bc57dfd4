"""Profiling kernels in ONNX Runtime.

Many kernels are exported side by side into one ONNX model (each from its own graph inputs),
ORT optimises it as it would a network (BN folding, activation / sum fusion, NCHWc layout),
and its profiler gives every node's time. Each optimised node is attributed to the kernel whose
graph inputs it depends on; a kernel's time is the sum of its nodes' times (the minimum over the
runs, robust to a busy machine), NCHWc reorders at the model's boundaries kept apart. The same
model run without the profiler gives the per-node dispatch overhead (run time minus the summed
node times, per node).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .modules import kernel_module

__all__ = ["profile_kernels", "session_options", "PROFILE_COUNTER", "time_session", "export_spec"]

#: Number of ONNX models profiled in this process (tests check a cached table profiles nothing).
PROFILE_COUNTER = {"models": 0, "kernels": 0}


class _Side(nn.Module):
    def __init__(self, mods, arity):
        super().__init__()
        self.k = nn.ModuleList(mods)
        self.arity = arity

    def forward(self, *xs):
        # each input is first produced by a ReLU (so the kernel reads cache-warm data its
        # producer just wrote, as in a network) and each output is read by a one-element
        # Slice (so no full-size graph output is allocated per run); both are left out of
        # the kernel's time
        out, i = [], 0
        for m, a in zip(self.k, self.arity):
            y = m(*(torch.relu(x) for x in xs[i:i + a]))
            i += a
            out.extend(_tail(t) for t in (y if isinstance(y, (tuple, list)) else (y,)))
        return tuple(out)


def _tail(t):
    return t[(slice(None),) + (slice(0, 1),) * (t.dim() - 1)]


def session_options(threads: int, profile_prefix: str | None = None, optimized_path: str | None = None,
                    denormals_as_zero: bool = False):
    """ORT session options as archlab times models: ``threads`` intra-op threads, sequential;
    ``denormals_as_zero`` for whole networks with random weights (their deep activations go
    denormal, which a trained network never meets)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_path:
        so.optimized_model_filepath = optimized_path
    if denormals_as_zero:
        so.add_session_config_entry("session.set_denormal_as_zero", "1")
    return so


def _export(keys, batch, path):
    mods, inputs, arity = [], [], []
    for key in keys:
        m, xs = kernel_module(key)
        mods.append(m.eval())
        if batch > 1:
            xs = tuple(x.expand(batch, *x.shape[1:]).contiguous() for x in xs)
        inputs.extend(xs)
        arity.append(len(xs))
    names = [f"k{i}_{j}" for i, a in enumerate(arity) for j in range(a)]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Side(mods, arity), tuple(inputs), path, input_names=names, opset_version=17, dynamo=False)
    return {n: x.numpy() for n, x in zip(names, inputs)}


_HARNESS = re.compile(r"/(Relu|Slice)(_[0-9]+)?")


def _owners(opt_path):
    """node name -> (kernel index, op_type, domain, harness) from the optimised model's
    dataflow; ``harness`` marks the input ReLUs and output Slices around each kernel."""
    import onnx
    g = onnx.load(opt_path, load_external_data=False).graph
    owner = {i.name: int(i.name[1:].split("_")[0]) for i in g.input if i.name.startswith("k")}
    nodes = {}
    for n in g.node:
        ks = {owner[t] for t in n.input if t in owner}
        k = min(ks) if ks else -1
        for t in n.output:
            owner[t] = k
        harness = _HARNESS.fullmatch(n.name) is not None
        nodes[n.name] = (k, n.op_type, n.domain, harness)
    return nodes


def time_session(sess, feed, repeats: int, warmup: int = 2, clock: str = "cpu") -> list[float]:
    """Times (ms) of ``repeats`` runs after ``warmup``: the calling thread's CPU time (with one
    intra-op thread ORT computes on the calling thread) or wall-clock time."""
    tick = time.thread_time if clock == "cpu" else time.perf_counter
    for _ in range(warmup):
        sess.run(None, feed)
    out = []
    for _ in range(repeats):
        t0 = tick()
        sess.run(None, feed)
        out.append((tick() - t0) * 1e3)
    return out


def kernel_events(prof) -> list[dict]:
    """The node events of an ONNX Runtime profile (the JSON trace's path, or its events already
    loaded): ``name`` (the node's name), ``op``, ``ms``, ``ts`` (us) and the raw ``args``, in
    trace order."""
    if isinstance(prof, list):
        events = prof
    else:
        with open(prof) as f:
            events = json.load(f)
    return [{"name": e["name"][:-12], "op": e.get("args", {}).get("op_name", ""), "ms": e["dur"] / 1e3,
             "ts": e.get("ts", 0), "args": e.get("args", {})}
            for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]


def min_node_times(prof_file) -> dict:
    """``{node name: (op, fastest time in ms)}`` over every run in an ONNX Runtime profile."""
    out: dict = {}
    for e in kernel_events(prof_file):
        op, ms = out.get(e["name"], (e["op"], float("inf")))
        out[e["name"]] = (op, min(ms, e["ms"]))
    return out


def _node_times(prof_file, nodes):
    return {n: ms for n, (_, ms) in min_node_times(prof_file).items() if n in nodes}


def _clock(threads: int) -> str:
    """Thread CPU time with one intra-op thread (robust on a shared machine); wall time with more
    (the pool's threads do the work then, not the calling one)."""
    return "cpu" if threads == 1 else "wall"


def profile_kernels(keys, *, threads: int = 1, batch: int = 1, repeats: int = 15, clock: str | None = None,
                    workdir: str | None = None) -> tuple[list[dict], dict]:
    """Profile ``keys`` (kernel tuples) in one ONNX model. Returns one record per kernel
    (``compute_ms``, ``reorder_in_ms``, ``reorder_out_ms``, ``nodes``, ``nchwc``) and the model's figures
    (``run_ms``: minimum run time, ``node_ms``: summed node times, ``nodes``)."""
    import onnxruntime as ort
    keys = list(keys)
    clock = clock or _clock(threads)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        src, opt = os.path.join(tmp, "k.onnx"), os.path.join(tmp, "k.opt.onnx")
        feed = _export(keys, batch, src)
        sess = ort.InferenceSession(src, session_options(threads, os.path.join(tmp, "prof"), opt),
                                    providers=["CPUExecutionProvider"])
        nodes = _owners(opt)
        time_session(sess, feed, repeats, clock=clock)
        prof = sess.end_profiling()
        node_ms = _node_times(prof, nodes)
        del sess
        plain = ort.InferenceSession(src, session_options(threads), providers=["CPUExecutionProvider"])
        run_ms = min(time_session(plain, feed, max(5, repeats // 2), clock=clock))
        Path(prof).unlink(missing_ok=True)
    PROFILE_COUNTER["models"] += 1
    PROFILE_COUNTER["kernels"] += len(keys)
    recs = [{"compute_ms": 0.0, "reorder_in_ms": 0.0, "reorder_out_ms": 0.0, "nodes": 0, "nchwc": 0} for _ in keys]
    for name, (k, op, domain, harness) in nodes.items():
        if k < 0 or harness or name not in node_ms:
            continue
        r = recs[k]
        if op in ("ReorderInput", "ReorderOutput"):
            r["reorder_in_ms" if op == "ReorderInput" else "reorder_out_ms"] += node_ms[name]
        else:
            r["compute_ms"] += node_ms[name]
            r["nodes"] += 1
            r["nchwc"] |= int(domain == "com.microsoft.nchwc")
    total = float(np.sum(list(node_ms.values())))
    return recs, {"run_ms": run_ms, "node_ms": total, "nodes": len(node_ms)}


def export_spec(spec, input_size, path: str, batch: int = 1) -> None:
    """Build ``spec`` and export it to ONNX (opset 17) at ``input_size``."""
    from ...nets import build_network
    model = build_network(spec.replace(input_size=tuple(input_size))).eval()
    x = torch.randn(batch, spec.in_channels, *input_size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, path, input_names=["x"], opset_version=17, dynamo=False,
                          do_constant_folding=False)


def profile_network(spec, *, threads: int = 1, batch: int = 1, repeats: int = 10) -> dict:
    """A whole network's ``run_ms`` (minimum plain run), ``node_ms`` (summed minimum profiled
    node times) and ``nodes``: what the per-node correction is measured on."""
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "net.onnx")
        export_spec(spec, tuple(spec.input_size), src, batch)
        feed = {"x": np.random.default_rng(0).standard_normal((batch, spec.in_channels, *spec.input_size),
                                                              dtype=np.float32)}
        sess = ort.InferenceSession(src, session_options(threads, os.path.join(tmp, "prof")),
                                    providers=["CPUExecutionProvider"])
        time_session(sess, feed, repeats, clock=_clock(threads))
        times = min_node_times(sess.end_profiling())
        del sess
        plain = ort.InferenceSession(src, session_options(threads), providers=["CPUExecutionProvider"])
        run_ms = min(time_session(plain, feed, repeats, clock=_clock(threads)))
    PROFILE_COUNTER["models"] += 1
    return {"name": spec.name, "run_ms": run_ms, "node_ms": float(sum(ms for _, ms in times.values())),
            "nodes": len(times)}
