"""Kernels timed inside whole networks (in situ).

A kernel profiled alone misses what its neighbours do to it in a network: ONNX Runtime reorders
tensors into and out of its blocked NCHWc layout wherever an NCHWc convolution meets an operator
that runs in plain NCHW (split, shuffle, resize, broadcast multiply), and the caches hold other
data. On random specs these effects moved whole-network predictions by -15% to +14%. Here a random
network is exported, optimised and profiled by ORT as a whole, and every optimised node's time is
attributed to the archlab kernel it belongs to, by the module path ORT keeps in node names
(``/stages.0/stages.0.0/branches/branches.0/conv1/act/Relu_output_0_nchwc``), the operator type
among a module's kernels, and forward order among equals; a node whose operator none of its
module's ops has (a shape or gate node of an attention block) counts for the multi-node kernel
running at that point when it lies inside that kernel's module. A layout reorder counts for the
kernel it feeds (``ReorderInput``) or leaves (``ReorderOutput``). The table keeps these in-network samples
in place of the isolated ones for every entry they cover.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np

from .kernels import kernel_spans
from .profile import PROFILE_COUNTER, export_spec, min_node_times, session_options

__all__ = ["module_path", "attribute", "profile_in_network", "profile_networks"]

#: ORT operator -> the archlab op types it can stand for
_ORT_OPS = {"Split": ("split",), "Concat": ("cat",), "Reshape": ("channel_shuffle",),
            "Transpose": ("channel_shuffle",), "Mul": ("mul", "mul_scalar", "batch_norm"), "Add": ("add",),
            "Sum": ("add",), "Resize": ("upsample_bilinear", "upsample_nearest"),
            "Upsample": ("upsample_nearest", "upsample_bilinear"), "AveragePool": ("adaptive_avg_pool2d", "mean"),
            "GlobalAveragePool": ("mean", "adaptive_avg_pool2d"), "Relu": ("relu",), "Sigmoid": ("sigmoid",),
            "HardSigmoid": ("hardsigmoid",), "Softmax": ("softmax",), "Conv": ("conv",), "FusedConv": ("conv",),
            "MatMul": ("bmm", "linear"), "FusedMatMul": ("bmm", "linear"), "Gemm": ("linear",)}


#: kernels that export to several ORT nodes of any type (attention blocks)
_MULTI_NODE = frozenset(("se", "eca", "sw", "pa"))
_CONV_OPS = frozenset(("Conv", "FusedConv"))


def module_path(node_name: str) -> str:
    """The dotted module path in an exported node's name: ``/a/a.0/b/b.1/Conv`` -> ``a.0.b.1``
    (torch.onnx writes one scope per module, a container's children as ``name.index``); the
    last part (the operator) is dropped."""
    parts = [t for t in node_name.split("/") if t][:-1]
    full, prev, base = "", None, ""
    for t in parts:
        if prev is not None and t.startswith(prev + "."):
            full = base + t
        else:
            base = full + "." if full else ""
            full = base + t
        prev = t
    return full


def _within(path: str, root: str) -> bool:
    return bool(root) and (path == root or path.startswith(root + "."))


def _roots(ops, spans) -> list[str]:
    """Each kernel's deepest module holding all of its ops."""
    out = []
    for _, i, j in spans:
        p = ops[i].module
        for o in ops[i + 1:j]:
            m = o.module
            while p and not (m == p or m.startswith(p + ".")):
                p = p.rsplit(".", 1)[0] if "." in p else ""
        out.append(p)
    return out


class _Owners:
    """Which kernel an optimised node belongs to (None when no module of the network matches)."""

    def __init__(self, ops):
        self.spans = kernel_spans(ops)
        self.by_module = defaultdict(list)
        for k, (_, i, j) in enumerate(self.spans):
            for o in ops[i:j]:
                self.by_module[o.module].append((k, o.op))
        self.roots = _roots(ops, self.spans)
        self.used = Counter()

    def __call__(self, name: str, op: str):
        """``(kernel index or None, whether the operator type matched one of its ops)``."""
        path = module_path(name)
        while True:
            cands = self.by_module.get(path)
            if cands:
                want = _ORT_OPS.get(op, ())
                ks = sorted({k for k, t in cands if t in want or self.spans[k][0][0] in _MULTI_NODE
                             or (op in _CONV_OPS and self.spans[k][0][0] == "conv")})
                if not ks:
                    return min(k for k, _ in cands), False
                n = self.used[(path, op)]
                self.used[(path, op)] += 1
                return ks[min(n, len(ks) - 1)], True
            if "." not in path:
                break
            path = path.rsplit(".", 1)[0]
        path = module_path(name)
        best = None
        for k, r in enumerate(self.roots):
            if _within(path, r) and (best is None or len(r) > len(self.roots[best])):
                best = k
        return best, False


def attribute(ops, nodes) -> tuple[list[dict], float]:
    """Per-kernel in-network times of ``ops`` (:func:`archlab.cost.analytic.network_ops`) from
    ORT's profiled ``nodes`` (dicts ``name``, ``op``, ``ms``, ``nchwc``, in execution order).
    Returns one record per kernel (``key``, ``compute_ms``, ``nodes``, ``nchwc``; kernels ORT
    fused into a neighbour get no node and ``compute_ms`` 0) and the milliseconds no kernel
    claimed."""
    owner = _Owners(ops)
    recs = [{"key": list(key), "compute_ms": 0.0, "nodes": 0, "nchwc": 0} for key, _, _ in owner.spans]
    pend_ms, pend_n, last, lost = 0.0, 0, None, 0.0
    for n in nodes:
        if n["op"] == "ReorderInput":
            pend_ms, pend_n = pend_ms + n["ms"], pend_n + 1
            continue
        if n["op"] == "ReorderOutput":
            if last is None:
                lost += n["ms"]
            else:
                recs[last]["compute_ms"] += n["ms"]
                recs[last]["nodes"] += 1
            continue
        k, matched = owner(n["name"], n["op"])
        if not matched and last is not None and recs[last]["key"][0] != "conv" \
                and _within(module_path(n["name"]), owner.roots[last]):
            k = last        # a helper node (shape, gate) of the multi-node kernel running now
        if k is None:
            lost += n["ms"] + pend_ms
        else:
            r = recs[k]
            r["compute_ms"] += n["ms"] + pend_ms
            r["nodes"] += 1 + pend_n
            r["nchwc"] |= int(n["nchwc"])
            last = k
        pend_ms, pend_n = 0.0, 0
    return recs, lost + pend_ms


def _profiled_nodes(prof_file: str, domains: dict) -> list[dict]:
    return [{"name": n, "op": op, "ms": ms, "nchwc": domains.get(n) == "com.microsoft.nchwc"}
            for n, (op, ms) in min_node_times(prof_file).items()]


def _open(spec, size, batch: int, threads: int, tmp: str, i: int):
    """Export ``spec`` and open two ORT sessions on it, one profiling and one plain:
    ``(profiling session, plain session, feed, node domains)``."""
    import onnx
    import onnxruntime as ort
    src, opt = os.path.join(tmp, f"net{i}.onnx"), os.path.join(tmp, f"net{i}.opt.onnx")
    export_spec(spec, size, src, batch)
    sessions = []
    for prof in (os.path.join(tmp, f"prof{i}"), None):
        so = session_options(threads, prof, opt if prof else None, denormals_as_zero=True)
        sessions.append(ort.InferenceSession(src, so, providers=["CPUExecutionProvider"]))
    feed = {"x": np.random.default_rng(i).standard_normal((batch, spec.in_channels, *size), dtype=np.float32)}
    domains = {n.name: n.domain for n in onnx.load(opt, load_external_data=False).graph.node}
    return sessions[0], sessions[1], feed, domains


def _deprofile(nodes: list, run_ms: float) -> float:
    """Take the profiler's share out of ``nodes`` in place: the per-node gap between the summed
    profiled node times and the plain run (the profiler's bookkeeping, spread evenly over the
    nodes, no node below a fifth of its profiled time). Returns the gap per node (ms)."""
    gap = (sum(n["ms"] for n in nodes) - run_ms) / max(1, len(nodes))
    for n in nodes:
        n["ms"] = max(n["ms"] - gap, 0.2 * n["ms"])
    return gap


def profile_networks(specs, sizes=None, *, threads: int = 1, batch: int = 1, rounds: int = 6, per_round: int = 2,
                     progress: bool = False) -> list[tuple[list[dict], dict]]:
    """:func:`profile_in_network` of several networks, their runs interleaved: ``rounds`` rounds
    run every network ``per_round`` times in turn, profiled and plain, and each node keeps its
    fastest run, each network its fastest plain run. The speed of a shared machine drifts by
    5-9% within minutes; interleaved, every network sees the same drift, so their kernels stay
    comparable. The profiler adds its own bookkeeping to every node it times (2-7 us here, more
    in networks of many small nodes); each network's gap to its plain run is taken out of its
    nodes (:func:`_deprofile`), so a network's kernels sum to its plain run."""
    import torch
    from tqdm import tqdm
    from ..analytic import network_ops
    specs = list(specs)
    sizes = [tuple(z or s.input_size) for s, z in zip(specs, sizes or [None] * len(specs))]
    torch.set_flush_denormal(True)      # random weights drive deep activations denormal
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        opened = [_open(s, z, batch, threads, tmp, i)
                  for i, (s, z) in enumerate(tqdm(list(zip(specs, sizes)), desc="export", disable=not progress))]
        tick = time.thread_time if threads == 1 else time.perf_counter
        best = [float("inf")] * len(opened)
        for sess, plain, feed, _ in opened:          # warm-up (the minima discard it)
            sess.run(None, feed)
            plain.run(None, feed)
        for _ in tqdm(range(rounds), desc="profiling networks (interleaved)", disable=not progress):
            for i, (sess, plain, feed, _) in enumerate(opened):
                for _ in range(per_round):
                    sess.run(None, feed)
                    t0 = tick()
                    plain.run(None, feed)
                    best[i] = min(best[i], (tick() - t0) * 1e3)
        for spec, size, run_ms, (sess, _, _, domains) in zip(specs, sizes, best, opened):
            nodes = _profiled_nodes(sess.end_profiling(), domains)
            profiled = float(sum(n["ms"] for n in nodes))
            gap = _deprofile(nodes, run_ms)
            recs, lost = attribute(network_ops(spec, size), nodes)
            out.append(([r for r in recs if r["nodes"]],
                        {"name": spec.name, "node_ms": profiled, "run_ms": run_ms, "gap_per_node_ms": gap,
                         "lost_ms": float(lost), "nodes": len(nodes)}))
            PROFILE_COUNTER["models"] += 1
        del opened
    return out


def profile_in_network(spec, input_size=None, *, threads: int = 1, batch: int = 1,
                       repeats: int = 12) -> tuple[list[dict], dict]:
    """Build, export and profile ``spec`` in ONNX Runtime; returns the kernel records of
    :func:`attribute` (kernels with a node only; the profiler's share taken out) and
    ``{"name", "node_ms", "run_ms", "gap_per_node_ms", "lost_ms", "nodes"}``."""
    return profile_networks([spec], [input_size], threads=threads, batch=batch, rounds=1, per_round=repeats)[0]
