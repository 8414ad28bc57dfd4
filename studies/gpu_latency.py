"""GPU latency of the zoo (issue 10 item 6): eager fp32, AMP (float16 autocast), channels_last and
both, torch.compile where it builds, and ONNX Runtime's CUDA provider where it is installed.

Run on a machine with CUDA (the device tool's H200 in this project); every (model, mode, batch)
is timed with CUDA events after a warm-up, in ``--rounds`` interleaved rounds (one round times
every pair once, order rotating), and the rounds' times are pooled into median / IQR / min.
Rows are appended to the CSV as they finish, so a run cut off keeps what it measured.

    python studies/gpu_latency.py --out $OUT            # on the GPU machine
    python studies/gpu_latency.py --render reports/latency/gpu   # here: table.md from the CSV

Writes ``gpu_latency.csv``, ``machine.json`` and (``--render``) ``README.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = ["hrnet_w32_coco", "hrnet_w48_coco", "sdhrnet_coco", "sdhrnet_coco_scr", "litehrnet_18_coco",
          "litehrnet_30_coco"]
MODES = {"fp32": (False, False), "amp": (True, False), "channels_last": (False, True),
         "channels_last+amp": (True, True)}
LIMITS = ["Not measured, and why: torch.compile rows run last under `--compile-budget`; in this session's run "
          "(15 minutes of device time in all) only the first model compiled before the command's time limit. "
          "ONNX Runtime's CUDA provider needs the `onnxruntime-gpu` wheel, which the image lacks and which is "
          "larger than the 64 MiB the device tool carries, so no ONNX Runtime GPU row exists."]
COLUMNS = ["model", "input", "mode", "batch", "median_ms", "iqr_ms", "min_ms", "n", "gmacs", "note"]


def _stats(times):
    times = sorted(times)
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return statistics.median(times), q[2] - q[0], times[0]


def _append(csv: Path, row: dict):
    new = not csv.exists()
    with csv.open("a") as f:
        if new:
            f.write(",".join(COLUMNS) + "\n")
        f.write(",".join(str(row.get(c, "")) for c in COLUMNS) + "\n")


def machine(torch) -> dict:
    import onnxruntime as ort
    p = torch.cuda.get_device_properties(0)
    return {"gpu": p.name, "gpu_memory_gib": round(p.total_memory / 2 ** 30, 1), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "torch": torch.__version__, "onnxruntime": ort.__version__,
            "ort_providers": ort.get_available_providers(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


def time_grid(models, batches, size, rounds, repeats, csv):
    """Eager modes, interleaved over rounds; one CSV row per (model, mode, batch)."""
    import archlab
    from archlab.cost.latency import measure_latency
    nets = {m: archlab.create_model(m, device="cuda") for m in models}
    pairs = [(m, mode, b) for m in models for mode in MODES for b in batches]
    pooled = {p: [] for p in pairs}
    for r in range(rounds):
        k = r % len(pairs)
        for m, mode, b in pairs[k:] + pairs[:k]:
            amp, cl = MODES[mode]
            res = measure_latency(nets[m], size, batch=b, threads=None, warmup=5, repeats=repeats, device="cuda",
                                  amp=amp, channels_last=cl)
            pooled[(m, mode, b)] += res.times_ms
        print(f"round {r + 1}/{rounds} done", flush=True)
    for (m, mode, b), t in pooled.items():
        med, iqr, mn = _stats(t)
        _append(csv, {"model": m, "input": f"{size[0]}x{size[1]}", "mode": mode, "batch": b, "median_ms": round(med, 4),
                      "iqr_ms": round(iqr, 4), "min_ms": round(mn, 4), "n": len(t),
                      "gmacs": round(archlab.count(m, size).macs / 1e9, 3)})


def time_cudagraph(models, batches, size, rounds, repeats, csv):
    """The forward pass captured once as a CUDA graph and replayed (fp32 and AMP): what is left
    when Python and kernel-launch overhead are taken away."""
    import torch
    import archlab
    rows = {}
    for r in range(rounds):
        for m in models:
            net = archlab.create_model(m, device="cuda").eval()
            for b in batches:
                for amp in (False, True):
                    rows.setdefault((m, b, amp), []).extend(_graph_times(torch, net, size, b, amp, repeats))
    for (m, b, amp), t in rows.items():
        med, iqr, mn = _stats(t)
        _append(csv, {"model": m, "input": f"{size[0]}x{size[1]}", "mode": "cudagraph+amp" if amp else "cudagraph",
                      "batch": b, "median_ms": round(med, 4), "iqr_ms": round(iqr, 4), "min_ms": round(mn, 4), "n": len(t)})


def _graph_times(torch, net, size, batch, amp, repeats):
    x = torch.randn(batch, 3, *size, device="cuda")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        with torch.cuda.stream(s):
            for _ in range(3):
                net(x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            net(x)
    times = []
    for _ in range(repeats + 3):
        a, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        e.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(e))
    return times[3:]


def time_compile(models, size, repeats, csv, budget_s):
    """torch.compile (default mode) at batch 1 and 32, fp32, while the time budget lasts."""
    import torch
    import archlab
    from archlab.cost.latency import measure_latency
    t_end = time.time() + budget_s
    for m in models:
        if time.time() > t_end:
            _append(csv, {"model": m, "input": f"{size[0]}x{size[1]}", "mode": "compile", "note": "skipped: time budget"})
            continue
        net = archlab.create_model(m, device="cuda").eval()
        t0 = time.time()
        try:
            cnet = torch.compile(net)
            with torch.inference_mode():
                cnet(torch.randn(1, 3, *size, device="cuda"))
        except Exception as e:  # noqa: BLE001 -- the failure is the finding; record it
            _append(csv, {"model": m, "mode": "compile", "note": f"failed: {type(e).__name__}"})
            continue
        note = f"compile {time.time() - t0:.0f}s"
        for b in (1, 32):
            res = measure_latency(cnet, size, batch=b, threads=None, warmup=5, repeats=repeats, device="cuda")
            med, iqr, mn = _stats(res.times_ms)
            _append(csv, {"model": m, "input": f"{size[0]}x{size[1]}", "mode": "compile", "batch": b,
                          "median_ms": round(med, 4), "iqr_ms": round(iqr, 4), "min_ms": round(mn, 4),
                          "n": len(res.times_ms), "note": note})


def time_ort_cuda(models, size, repeats, csv):
    """ONNX Runtime with CUDAExecutionProvider, batch 1, if the installed onnxruntime has it."""
    import onnxruntime as ort
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        _append(csv, {"model": "*", "mode": "onnxruntime-cuda",
                      "note": "not available: onnxruntime has no CUDAExecutionProvider here "
                              f"({' '.join(ort.get_available_providers())})"})
        return
    from archlab.cost import runtime as rt
    for m in models:
        r = rt.measure(m, runtime="onnxruntime", input_size=size, repeats=repeats, providers=["CUDAExecutionProvider"])
        _append(csv, {"model": m, "input": f"{size[0]}x{size[1]}", "mode": "onnxruntime-cuda", "batch": 1,
                      "median_ms": round(r.median_ms, 4), "iqr_ms": round(r.iqr_ms, 4), "min_ms": round(r.min_ms, 4)})


PARTS = ("grid", "cudagraph", "ort", "compile")


def run(out: Path, rounds: int, repeats: int, compile_budget: float, models, parts=PARTS):
    """Measure the chosen ``parts`` on CUDA at 256x192, appending to ``out/gpu_latency.csv``."""
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("CUDA is not available: run this on a GPU machine")
    torch.backends.cudnn.benchmark = True
    out.mkdir(parents=True, exist_ok=True)
    (out / "machine.json").write_text(json.dumps(machine(torch), indent=1))
    csv = out / "gpu_latency.csv"
    size = (256, 192)
    if "grid" in parts:
        time_grid(models, (1, 32), size, rounds, repeats, csv)
    if "cudagraph" in parts:
        time_cudagraph(models, (1, 32), size, rounds, repeats, csv)
    if "ort" in parts:
        try:
            time_ort_cuda(models, size, repeats, csv)
        except Exception as e:  # noqa: BLE001 -- a provider that fails is the finding; record it
            _append(csv, {"model": "*", "mode": "onnxruntime-cuda", "note": f"failed: {type(e).__name__}: {e}"[:200]})
    if "compile" in parts:
        time_compile(models[::-1], size, repeats, csv, compile_budget)


def render(folder: Path):
    import pandas as pd
    df = pd.read_csv(folder / "gpu_latency.csv")
    info = json.loads((folder / "machine.json").read_text())
    timed = df.dropna(subset=["median_ms"])
    wide = timed.pivot_table(index=["model", "batch"], columns="mode", values="median_ms")
    base = wide["fp32"]
    ratios = wide.div(base, axis=0).round(2)
    notes = df[df["note"].notna()][["model", "mode", "note"]].drop_duplicates()
    wide.index = wide.index.set_levels(wide.index.levels[1].astype(int), level=1)
    ratios.index = wide.index
    lines = ["# GPU latency of the zoo (256x192)", "",
             f"Machine: {info['gpu']} ({info['gpu_memory_gib']} GiB), CUDA {info['cuda']}, cuDNN {info['cudnn']}, "
             f"torch {info['torch']}, onnxruntime {info['onnxruntime']} ({', '.join(info['ort_providers'])}), "
             f"{info['date']}. Produced by `studies/gpu_latency.py` on the device tool's machine; CUDA-event "
             "timings after warm-up, interleaved rounds pooled; cudnn.benchmark on.", "",
             "## Median ms (IQR, min)", "",
             _table(timed), "", "## Ratio to eager fp32 of the same model and batch (median)", "",
             ratios.to_markdown(), "", "## Findings (computed from the table above)", "", *findings(wide), "",
             "## Notes", "", notes.to_markdown(index=False) if len(notes) else "none", "", *LIMITS, ""]
    (folder / "README.md").write_text("\n".join(lines))


def findings(wide) -> list:
    """Statements with their numbers, derived from the medians (nothing typed in by hand)."""
    import archlab
    eager = wide["fp32"].unstack("batch")
    per_image = (eager[32] / 32 / eager[1]).round(3)
    out = [f"- Eager PyTorch is launch-bound at these sizes: batch 32 takes {(eager[32] / eager[1]).min():.2f}-"
           f"{(eager[32] / eager[1]).max():.2f}x the time of batch 1 (per image {per_image.min():.3f}-{per_image.max():.3f}x)."
           f" AMP / fp32 in eager mode: {(wide['amp'] / wide['fp32']).min():.2f}-{(wide['amp'] / wide['fp32']).max():.2f}x"
           " (autocast adds cast kernels to a launch-bound path)."]
    if "cudagraph" in wide:
        g = wide["cudagraph"].unstack("batch")
        out.append(f"- Replaying a captured CUDA graph removes the launch overhead: batch 1 runs in "
                   f"{(g[1] / eager[1]).min():.2f}-{(g[1] / eager[1]).max():.2f}x of eager fp32's time.")
        macs = archlab.count("sdhrnet_coco").macs / archlab.count("hrnet_w32_coco").macs
        for col, b in (("fp32", 1), ("cudagraph", 1), ("cudagraph", 32), ("cudagraph+amp", 32)):
            if col not in wide:
                continue
            r = wide.loc[("sdhrnet_coco", b), col] / wide.loc[("hrnet_w32_coco", b), col]
            out.append(f"- sdhrnet_coco / hrnet_w32_coco, {col}, batch {b}: {r:.2f}x latency (multiply-adds {macs:.2f}x).")
        lite = wide.loc[("litehrnet_18_coco", 32), "cudagraph"] / wide.loc[("hrnet_w32_coco", 32), "cudagraph"]
        out.append(f"- litehrnet_18_coco / hrnet_w32_coco, cudagraph, batch 32: {lite:.2f}x latency "
                   f"(multiply-adds {archlab.count('litehrnet_18_coco').macs / archlab.count('hrnet_w32_coco').macs:.3f}x).")
    return out


def _table(df) -> str:
    cells = df.assign(cell=df.apply(lambda r: f"{r.median_ms:.2f} ({r.iqr_ms:.2f}, {r.min_ms:.2f})", axis=1))
    cells = cells.assign(batch=cells["batch"].astype(int))
    return cells.pivot_table(index=["model", "batch"], columns="mode", values="cell", aggfunc="first").to_markdown()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="folder for gpu_latency.csv and machine.json (measures; needs CUDA)")
    ap.add_argument("--render", type=Path, help="folder holding gpu_latency.csv: write README.md from it")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--compile-budget", type=float, default=150.0, help="seconds allowed for torch.compile rows")
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, help="which measurements to run")
    a = ap.parse_args(argv)
    if a.out:
        run(a.out, a.rounds, a.repeats, a.compile_budget, a.models, a.parts)
    if a.render:
        render(a.render)
    if not (a.out or a.render):
        ap.error("give --out (measure) or --render (write the README)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
