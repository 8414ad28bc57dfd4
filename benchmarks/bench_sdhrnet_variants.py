"""How far SDHRNet's ONNX Runtime latency is from HRNet-W32's without its channel attention (issue 10
item 5: is 0.75x reachable by reformulating SE/ECA?).

    python benchmarks/bench_sdhrnet_variants.py [--input-size 256x192] [--repeats 25] [--out FILE]

Times ``hrnet_w32_coco``, ``sdhrnet_coco`` (SCR units reweighted SE then ECA) and two variants of
it that change the network -- ECA on the first SC unit only, and no reweighting at all -- in one
process, interleaved round-robin (:func:`archlab.cost.runtime.time_interleaved`; every export
checked against eager first), batch 1, 1 thread, and prints min / median and the median of the
per-round ratios to HRNet-W32. The no-attention variant bounds what any formulation of SE/ECA
could reach.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
from pathlib import Path

import torch

import archlab
from archlab.cost import runtime as rt


def variants(size):
    base = archlab.get_spec("sdhrnet_coco")

    def with_reweight(rw, name):
        stages = [dataclasses.replace(st, block_options={**st.block_options, "reweight": rw}) if st.block == "scr"
                  else st for st in base.stages]
        return base.replace(stages=tuple(stages), name=name)
    return [("hrnet_w32_coco", archlab.get_spec("hrnet_w32_coco")), ("sdhrnet_coco (se, eca)", base),
            ("sdhrnet (eca, none)", with_reweight(("eca", "none"), "sdhrnet_eca_none")),
            ("sdhrnet (none, none)", with_reweight(("none", "none"), "sdhrnet_no_attention"))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input-size", default="256x192")
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--out", default=None, help="also write the table to this file")
    a = ap.parse_args(argv)
    size = tuple(int(v) for v in a.input_size.split("x"))
    targets = variants(size)
    runners = []
    for name, spec in targets:
        torch.manual_seed(0)
        r = rt.prepare(spec, "onnxruntime", input_size=size)
        r.name = name
        runners.append(r)
    rt.time_interleaved(runners, repeats=a.repeats, warmup=3)
    ref = runners[0].times_ms
    lines = [f"# {a.input_size}, batch 1, 1 thread, ONNX Runtime, {a.repeats} interleaved rounds; "
             f"load average before the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", "",
             "| network | GMACs | min ms | median ms | per-round ratio to HRNet-W32 (median) |", "|---|--:|--:|--:|--:|"]
    for (name, spec), r in zip(targets, runners):
        ratio = statistics.median(x / y for x, y in zip(r.times_ms, ref))
        lines.append(f"| {name} | {archlab.count(spec).macs / 1e9:.2f} | {min(r.times_ms):.1f} | "
                     f"{statistics.median(r.times_ms):.1f} | {ratio:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
