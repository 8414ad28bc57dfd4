"""Analytic counting vs fvcore on the same network: same number, how much faster.

    python benchmarks/bench_count.py [--model hrnet_w32_coco] [--repeats 5] [--out reports/bench_count.txt]

The analytic side is ``archlab.count(name).to('fvcore')``: the spec walked in closed form, then
fvcore's convention applied to the op list (:func:`archlab.cost.conventions.fvcore`). The
fvcore side builds the model once (not timed) and times ``FlopCountAnalysis(...).total()``
(JIT trace + handlers) through :func:`archlab.cost.counters.run_counter` with 1 thread. Both
totals are printed and must be equal (exit status 1 otherwise). Timings are medians of
``--repeats`` runs. The analytic walker memoises the cost of repeated HRNet modules; "cold" runs
clear those caches (``analytic.clear_caches()``: memoised blocks, fuse paths and
modules) before every count, "warm" runs keep it (what repeated calls in one process,
e.g. a search, see).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch

import archlab
from archlab.cost import analytic
from archlab.cost.counters import run_counter


def _count(name: str, cold: bool):
    if cold:
        analytic.clear_caches()
    t0 = time.perf_counter()
    r = archlab.count(name)
    v = r.to("fvcore")
    return time.perf_counter() - t0, r, v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="hrnet_w32_coco")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per side (median reported)")
    ap.add_argument("--analytic-repeats", type=int, default=50, help="timed analytic runs (median reported)")
    ap.add_argument("--out", help="also write the report to this file")
    args = ap.parse_args(argv)

    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    r = archlab.count(args.model)
    h, w = r.input_size
    say(f"# bench_count: analytic vs fvcore on {args.model} @ {h}x{w}, batch 1")
    say(f"# python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}, "
        f"{platform.processor() or 'cpu'}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(both sides timed in this one run, so the ratio holds under load)")
    a_times, w_times, vals = [], [], set()
    for _ in range(args.analytic_repeats):
        t, rep, v = _count(args.model, cold=True)
        a_times.append(t)
        vals.add(v.count)
    for _ in range(args.analytic_repeats):
        t, rep, v = _count(args.model, cold=False)
        w_times.append(t)
        vals.add(v.count)
    a_plain = []
    for _ in range(args.analytic_repeats):
        analytic.clear_caches()
        t0 = time.perf_counter()
        archlab.count(args.model).macs
        a_plain.append(time.perf_counter() - t0)
    model = archlab.create_model(args.model).eval()
    f_times, f_totals, unsupported = [], set(), {}
    for _ in range(args.repeats):
        res = run_counter("fvcore", model, (h, w))
        f_times.append(res.seconds)
        f_totals.add(res.total)
        unsupported = res.unsupported
    a_med, p_med, f_med = statistics.median(a_times), statistics.median(a_plain), statistics.median(f_times)
    w_med = statistics.median(w_times)
    analytic_total = vals.pop() if len(vals) == 1 else None
    fv_total = f_totals.pop() if len(f_totals) == 1 else None
    equal = analytic_total is not None and analytic_total == fv_total
    say(f"analytic  count(...).to('fvcore') = {analytic_total:,} MACs (fvcore convention)   "
        f"median {a_med * 1e3:.3f} ms over {args.analytic_repeats} cold runs (memo caches cleared), "
        f"{w_med * 1e3:.3f} ms warm (repeated calls in one process)")
    say(f"analytic  count(...).macs         = {r.macs:,} MACs (plain conv+linear+bmm)      "
        f"median {p_med * 1e3:.3f} ms cold")
    say(f"fvcore    FlopCountAnalysis.total = {fv_total:,} MACs                            "
        f"median {f_med * 1e3:.1f} ms over {args.repeats} runs (1 thread)")
    say(f"fvcore unsupported ops (counted 0 by fvcore, priced 0 by its convention): "
        + ", ".join(f"{k} x{v}" for k, v in unsupported.items()))
    say(f"totals equal: {equal}")
    say(f"speed ratio fvcore / analytic (same number): cold {f_med / a_med:,.0f}x, warm {f_med / w_med:,.0f}x  "
        f"(target >= 1000x: {'met' if f_med / a_med >= 1000 else 'met warm only' if f_med / w_med >= 1000 else 'not met'})")
    say(f"speed ratio fvcore / plain analytic count: cold {f_med / p_med:,.0f}x")
    if args.out:
        from pathlib import Path
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
