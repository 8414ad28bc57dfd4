"""SDHRNet's SE/ECA export formulation (issue 10 item 5): ONNX operators and ONNX Runtime latency.

    python benchmarks/bench_sdhrnet_blocks.py [--input-size 256x192] [--repeats 40] [--threads 1]
        [--profile-runs 5] [--out reports/latency/item5_blocks.txt]

Exports ``sdhrnet_coco`` twice -- with the eager SE/ECA graph (``ReduceMean``, ``Gemm``,
``Unsqueeze``/``Gather``, broadcasting ``Mul``: the export before item 5) and with the export
formulation (``GlobalAveragePool``, 1x1 ``Conv``, nearest ``Upsample``, same-shape ``Mul``:
:meth:`archlab.blocks.SE.forward_conv`, :meth:`archlab.blocks.ECA.forward_conv`) -- and
``hrnet_w32_coco``; counts the operator types of each exported graph and of ONNX Runtime's
optimised graph; then times the three in ONE process with their repeats interleaved round-robin
(:func:`archlab.cost.runtime.time_interleaved`; every export checked against eager first) and
prints min / median / IQR per model, the ratios, and the median of the per-round ratios (each
round runs all three back to back, so a round's ratio shares the load of that moment). Last,
ONNX Runtime's profiler splits the new SDHRNet's time by layer kind (``studies/latency_study.py``).
The 1-minute load average before and after is printed: on a shared machine read the minima and
the per-round ratios.
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnx
import onnxruntime as ort
import torch

import archlab.blocks.attention as attention
from archlab.cost import runtime as rt

ROOT = Path(__file__).resolve().parents[1]


def op_counts(onnx_bytes: bytes) -> tuple:
    """(exported op types, ONNX Runtime-optimised op types) of an ONNX model."""
    exported = collections.Counter(n.op_type for n in onnx.load_from_string(onnx_bytes).graph.node)
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = 1
        so.optimized_model_filepath = f"{tmp}/opt.onnx"
        so.log_severity_level = 3
        ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
        optimised = collections.Counter(n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node)
    return exported, optimised


def export_old(model, x) -> bytes:
    """The export with the eager SE/ECA graph (the formulation switched off while tracing)."""
    saved = attention._export_formulation
    attention._export_formulation = lambda: False
    try:
        return rt.export_onnx(model, x)
    finally:
        attention._export_formulation = saved


def _fmt(c: collections.Counter, keys) -> str:
    return ", ".join(f"{k} {c[k]}" for k in keys if c[k]) + f" (total {sum(c.values())})"


def _q(v):
    q = statistics.quantiles(v, n=4, method="inclusive")
    return statistics.median(v), q[2] - q[0], min(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input-size", default="256x192")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--profile-runs", type=int, default=5, help="ORT profiler runs for the breakdown (0: skip)")
    ap.add_argument("--out", default=None, help="also write the report to this file")
    args = ap.parse_args(argv)
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    load0 = os.getloadavg()
    torch.manual_seed(0)
    sd = rt.resolve_target("sdhrnet_coco", args.input_size)
    torch.manual_seed(0)
    hr = rt.resolve_target("hrnet_w32_coco", args.input_size)
    x = rt._input(*sd[2], 1)
    with rt._flush():
        b_old, b_new, b_hr = export_old(sd[0], x), rt.export_onnx(sd[0], x), rt.export_onnx(hr[0], x)
    keys = ["Conv", "ReorderInput", "ReorderOutput", "ReduceMean", "GlobalAveragePool", "Gemm", "FusedGemm",
            "Unsqueeze", "Gather", "Resize", "Upsample", "Mul", "Sigmoid", "Concat", "Add", "Relu", "Constant",
            "Identity"]
    say(f"# SDHRNet SE/ECA export formulation, {args.input_size}, batch 1, {args.threads} thread(s)")
    say()
    for label, b in (("sdhrnet_coco, eager SE/ECA export (before)", b_old),
                     ("sdhrnet_coco, export formulation (after)", b_new), ("hrnet_w32_coco", b_hr)):
        e, o = op_counts(b)
        say(f"{label}:\n  exported:      {_fmt(e, keys)}\n  ORT-optimised: {_fmt(o, keys)}")
    runners = [rt.prepare("sdhrnet_coco", "onnxruntime", threads=args.threads, onnx_bytes=b_old, _resolved=sd),
               rt.prepare("sdhrnet_coco", "onnxruntime", threads=args.threads, onnx_bytes=b_new, _resolved=sd),
               rt.prepare("hrnet_w32_coco", "onnxruntime", threads=args.threads, onnx_bytes=b_hr, _resolved=hr)]
    names = ["sdhrnet (before)", "sdhrnet (after)", "hrnet_w32"]
    t0 = time.time()
    rt.time_interleaved(runners, args.repeats, args.warmup, progress=True)
    load1 = os.getloadavg()
    say()
    say(f"ONNX Runtime {ort.__version__}, torch {torch.__version__}; {args.repeats} interleaved rounds after "
        f"{args.warmup} warm-up, {time.time() - t0:.0f} s; parity (max rel. error vs eager): "
        + ", ".join(f"{n} {r.parity_rel_err:.1e}" for n, r in zip(names, runners)))
    say(f"load average (1, 5, 15 min): before {tuple(round(v, 1) for v in load0)}, "
        f"after {tuple(round(v, 1) for v in load1)}; {os.cpu_count()} CPUs")
    say()
    say("| model | min ms | median ms | IQR ms | median CPU ms |")
    say("|---|---:|---:|---:|---:|")
    for n, r in zip(names, runners):
        med, iqr, mn = _q(r.times_ms)
        say(f"| {n} | {mn:.1f} | {med:.1f} | {iqr:.1f} | {statistics.median(r.cpu_ms):.1f} |")
    say()
    say("| ratio | of minima | of medians | of CPU medians | per-round median (IQR) |")
    say("|---|---:|---:|---:|---:|")
    for (a, b) in ((1, 2), (0, 2), (1, 0)):
        ra, rb = runners[a], runners[b]
        per_round = [p / q for p, q in zip(ra.times_ms, rb.times_ms)]
        med, iqr, _ = _q(per_round)
        say(f"| {names[a]} / {names[b]} | {min(ra.times_ms) / min(rb.times_ms):.3f} | "
            f"{statistics.median(ra.times_ms) / statistics.median(rb.times_ms):.3f} | "
            f"{statistics.median(ra.cpu_ms) / statistics.median(rb.cpu_ms):.3f} | {med:.3f} ({iqr:.3f}) |")
    if args.profile_runs:
        sys.path.insert(0, str(ROOT / "studies"))
        import latency_study as ls
        say()
        say(f"ONNX Runtime profiler, by layer kind (mean of {args.profile_runs} profiled runs; the profiler's "
            "per-node overhead inflates totals, read the shares):")
        say()
        prof = {n: ls.profile_model("sdhrnet_coco", sd, args.profile_runs, b) for n, b in
                (("before", b_old), ("after", b_new))}
        say("| kind | before ms | before % | after ms | after % |")
        say("|---|---:|---:|---:|---:|")
        tot = {n: sum(p.values()) for n, p in prof.items()}
        for k in ls.KINDS:
            say(f"| {k} | {prof['before'].get(k, 0):.1f} | {100 * prof['before'].get(k, 0) / tot['before']:.1f} | "
                f"{prof['after'].get(k, 0):.1f} | {100 * prof['after'].get(k, 0) / tot['after']:.1f} |")
        say(f"| total | {tot['before']:.1f} | 100 | {tot['after']:.1f} | 100 |")
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
