"""Deployment latency of the zoo: eager PyTorch, ONNX Runtime and torch.compile, side by side.

For every model, input size, batch and thread count, eager and ONNX Runtime are timed with their
repeats interleaved round-robin (one round runs every (model, runtime) pair of the group once, the
order rotating), so the load of the shared machine hits all alike. ``torch.compile`` is timed in a
child process per (model, size) at batch 1 / 1 thread, interleaved with its own eager run, with a
time limit on compiling (Inductor's C++ build takes minutes on a loaded 2-core machine).

Then ONNX Runtime's own profiler (``SessionOptions.enable_profiling``) splits one model's forward
pass by layer kind (dense k x k / depthwise / 1x1 convolutions with BN folded and activations
fused, channel attention, SEM, elementwise, resize, concat/reshape, NCHWc layout reorders,
matmul, pooling) beside the multiply-add share of the same kinds from the analytic count.

    python studies/latency_study.py --out reports/latency

writes ``latency.csv``, ``latency_vs_macs.png/.svg``, ``breakdown.csv/.md`` and ``README.md``
(``--render-only`` redraws the figure and tables from the CSVs).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

import archlab
from archlab.cost import runtime as rt
from archlab.cost.predictor.profile import kernel_events

MODELS = ["hrnet_w32_coco", "sdhrnet_coco", "litehrnet_18_coco", "litehrnet_30_coco"]
SIZES = ["256x192", "128x96"]
KINDS = ["conv kxk (dense)", "conv depthwise", "conv 1x1", "channel attention (SE/ECA/CCW)", "SEM",
         "elementwise / activation", "resize", "concat / split / reshape", "layout reorder (NCHWc)",
         "matmul / gemm", "pooling / reduce / softmax"]
MARKERS = {"eager": "o", "onnxruntime": "s", "compile": "^"}


def build(name: str, size: str):
    """A zoo model at ``size`` with seeded weights (the same network in every runtime)."""
    torch.manual_seed(0)
    return rt.resolve_target(name, size)


def gmacs(name: str, size: str) -> float:
    return archlab.count(name, size).macs / 1e9


def _row(r, size) -> dict:
    d = r.as_dict()
    return {"model": r.model, "input": size, "runtime": r.runtime, "batch": r.batch, "threads": r.threads,
            "median_ms": round(d["median_ms"], 3), "iqr_ms": round(d["iqr_ms"], 3), "min_ms": round(d["min_ms"], 3),
            "cpu_median_ms": round(d["cpu_median_ms"], 3), "repeats": r.repeats, "parity_rel_err": d["parity_rel_err"],
            "load_avg_1m": d["machine"]["load_avg_1m"]}


def measure_group(resolved, exports, size, batch, threads, args) -> list:
    """Eager and ONNX Runtime for every model at one (size, batch, threads), interleaved."""
    runners = []
    for name, res in resolved.items():
        runners.append(rt.prepare(name, "eager", batch=batch, threads=threads, _resolved=res))
        r = rt.prepare(name, "onnxruntime", batch=batch, threads=threads, onnx_bytes=exports.get((name, batch)),
                       _resolved=res)
        exports[(name, batch)] = r.step.onnx_bytes      # one export per (model, size, batch): static shapes
        runners.append(r)
    rt.time_interleaved(runners, args.repeats, args.warmup, progress=True)
    machine = rt.machine_info()
    return [_row(rt._result(r, args.warmup, machine), size) for r in runners]


def measure_compile(name, size, args, batch: int = 1, threads: int = 1) -> list:
    """torch.compile and eager of one model at (``batch``, ``threads``) in a child process, killed
    (with Inductor's compile workers: its own process group) after ``--compile-timeout`` seconds."""
    cmd = [sys.executable, __file__, "--compile-worker", name, size, "--repeats", str(args.repeats),
           "--warmup", str(args.warmup), "--batches", str(batch), "--threads", str(threads)]
    env = dict(os.environ, TORCHINDUCTOR_COMPILE_THREADS=str(threads))   # compile with the threads it runs on
    base = {"model": name, "input": size, "runtime": "compile", "batch": batch, "threads": threads}
    t0 = time.time()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          start_new_session=True) as p:
        try:
            stdout, stderr = p.communicate(timeout=args.compile_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return [dict(base, note=f"not measured: compile + timing did not finish in {args.compile_timeout} s "
                                    f"(load {os.getloadavg()[0]:.1f})")]
    if p.returncode != 0:
        reason = (stderr.strip().splitlines() or [f"compile process ended with status {p.returncode}"])[-1][:200]
        return [dict(base, note=f"not measured: {reason}")]
    rows = json.loads(stdout.strip().splitlines()[-1])
    for r in rows:
        r["note"] = f"compile pair (own process, {time.time() - t0:.0f} s in all)"
    return rows


def compile_worker(name, size, repeats, warmup, batch: int = 1, threads: int = 1) -> None:
    res = build(name, size)
    runners = [rt.prepare(name, rtm, batch=batch, threads=threads, _resolved=res) for rtm in ("eager", "compile")]
    rt.time_interleaved(runners, repeats, warmup)
    machine = rt.machine_info()
    rows = [_row(rt._result(r, warmup, machine), size) for r in runners]
    rows[1]["compile_s"] = round(runners[1].prepare_s, 1)
    print(json.dumps(rows))


# ------------------------------------------------------------------------------------------------
def _module_path(node_name: str) -> str:
    """ONNX node name (``/stages.1/stages.1.0/branches.0/.../conv/Conv``) -> module dotted path."""
    parts = []
    for seg in node_name.strip("/").split("/")[:-1]:
        if parts and seg.startswith(parts[-1] + "."):
            parts[-1] = seg
        else:
            parts.append(seg)
    return ".".join(parts)


def _attention_kind(path: str, types: dict):
    from archlab.blocks import ECA, SE, SEM, PositionAttention
    from archlab.blocks.lite import ConditionalChannelWeighting, CrossResolutionWeighting, SpatialWeighting
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        t = types.get(".".join(parts[:i]))
        if t is None:
            continue
        if issubclass(t, (SEM, PositionAttention)):
            return "SEM"
        if issubclass(t, (SE, ECA, SpatialWeighting, CrossResolutionWeighting)):
            return "channel attention (SE/ECA/CCW)"
        if issubclass(t, ConditionalChannelWeighting):
            return None
    return None


def _conv_kind(weight_shape) -> str:
    if len(weight_shape) != 4:
        return "channel attention (SE/ECA/CCW)"     # ECA's 1-d conv
    o, i_g, kh, kw = weight_shape
    if kh * kw == 1:
        return "conv 1x1"
    return "conv depthwise" if i_g == 1 and o > 1 else "conv kxk (dense)"


_OPS = {"Add": "elementwise / activation", "Mul": "elementwise / activation", "Sum": "elementwise / activation",
        "Relu": "elementwise / activation", "Sigmoid": "elementwise / activation", "Div": "elementwise / activation",
        "HardSigmoid": "elementwise / activation", "Clip": "elementwise / activation", "Sub": "elementwise / activation",
        "BatchNormalization": "elementwise / activation", "Resize": "resize", "Upsample": "resize",
        "Concat": "concat / split / reshape", "Split": "concat / split / reshape", "Slice": "concat / split / reshape",
        "Reshape": "concat / split / reshape", "Transpose": "concat / split / reshape",
        "Unsqueeze": "concat / split / reshape", "Squeeze": "concat / split / reshape",
        "Gather": "concat / split / reshape", "Flatten": "concat / split / reshape",
        "ReorderInput": "layout reorder (NCHWc)", "ReorderOutput": "layout reorder (NCHWc)",
        "MatMul": "matmul / gemm", "Gemm": "matmul / gemm", "FusedGemm": "matmul / gemm",
        "FusedMatMul": "matmul / gemm"}


def node_kind(name: str, op: str, shapes, types: dict) -> str:
    kind = _attention_kind(_module_path(name.removeprefix("fused ")), types)
    if kind:
        return kind
    if op in ("Conv", "FusedConv"):
        return _conv_kind(next(iter(shapes[1].values())))
    return _OPS.get(op, "pooling / reduce / softmax")


def profile_model(name, res, runs: int, onnx_bytes=None, warm: int = 2) -> dict:
    """ms per forward pass by layer kind from ONNX Runtime's profiler (batch 1, 1 thread); the
    first ``warm`` profiled runs (allocation, first-touch) are left out."""
    types = {p: type(m) for p, m in res[0].named_modules()}
    with tempfile.TemporaryDirectory() as tmp:
        r = rt.prepare(name, "onnxruntime", check=False, profile_prefix=f"{tmp}/ort", onnx_bytes=onnx_bytes,
                       _resolved=res)
        with rt._flush():
            for _ in range(warm + runs):
                r.step()
        events = json.loads(Path(r.step.session.end_profiling()).read_text())
        nodes = kernel_events(events)
    run_windows = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[warm:]
    per_kind = defaultdict(float)
    for e in nodes:
        if any(a <= e["ts"] <= b for a, b in run_windows):
            per_kind[node_kind(e["name"], e["op"], e["args"]["input_type_shape"], types)] += e["ms"] / len(run_windows)
    return dict(per_kind)


def mac_shares(name, size, res) -> dict:
    """Analytic MACs by the same kinds (attention ops by the module that runs them)."""
    types = {p: type(m) for p, m in res[0].named_modules()}
    out = defaultdict(float)
    for op in archlab.count(name, size).ops:
        if not op.macs:
            continue
        kind = _attention_kind(op.module, types)
        if kind is None:
            if op.op == "conv":
                k = op.get("kernel")
                kernel = (k, k) if isinstance(k, int) else tuple(k)
                kind = _conv_kind((op.get("cout"), op.get("cin") // op.get("groups"), *kernel)) \
                    if len(kernel) == 2 else "channel attention (SE/ECA/CCW)"
            else:
                kind = "matmul / gemm"
        out[kind] += op.macs
    return dict(out)


def breakdown(resolved, exports, size, runs) -> pd.DataFrame:
    rows = []
    for name, res in tqdm(resolved.items(), desc="ORT profiler", unit="model"):
        ms, macs = profile_model(name, res, runs, exports.get(name)), mac_shares(name, size, res)
        tms, tmacs = sum(ms.values()), sum(macs.values())
        for k in KINDS:
            rows.append({"model": name, "input": size, "kind": k, "ms": round(ms.get(k, 0.0), 3),
                         "time_share_%": round(100 * ms.get(k, 0.0) / tms, 1),
                         "GMACs": round(macs.get(k, 0.0) / 1e9, 4),
                         "mac_share_%": round(100 * macs.get(k, 0.0) / tmacs, 1)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
def figure(df: pd.DataFrame, out: Path):
    """Median latency (IQR error bars) against analytic MACs, batch 1, 1 thread, both sizes; one
    marker per runtime; the legend counts the points drawn. Returns the axes' legend labels and
    the plotted (x, y) per runtime."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams["svg.hashsalt"] = "archlab"
    d = df[(df.batch == 1) & (df.threads == 1) & df.median_ms.notna()]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    drawn = {}
    for runtime, g in d.groupby("runtime", sort=False):
        c = ax.errorbar(g.gmacs, g.median_ms, yerr=g.iqr_ms / 2, fmt=MARKERS.get(runtime, "x"), capsize=3,
                        label=f"{runtime} ({len(g)} points)", alpha=0.85)
        drawn[runtime] = [tuple(p) for p in c.lines[0].get_xydata()]
    for (model, size), g in d[d.runtime == "eager"].groupby(["model", "input"]):
        ax.annotate(f"{model} {size}", (g.gmacs.iloc[0], g.median_ms.iloc[0]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("multiply-adds (GMACs, analytic, batch 1)")
    ax.set_ylabel("latency, median of interleaved runs (ms)")
    ax.set_title("CPU latency vs multiply-adds: batch 1, 1 thread (error bars: IQR)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    from archlab.plots import save_figure   # PNG + SVG byte-reproducible, JSON sidecar of what is drawn
    save_figure(fig, out / "latency_vs_macs", {"points": drawn}, dpi=120)
    return labels, drawn


def pivot(df: pd.DataFrame, cell=lambda r: f"{r.median_ms:.1f} ({r.iqr_ms:.1f})") -> pd.DataFrame:
    d = df[df.median_ms.notna() & ~((df.runtime == "eager") & df.note.fillna("").str.startswith("compile"))]
    d = d.assign(cell=d.apply(cell, axis=1))
    p = d.pivot_table(index=["model", "input"], columns=["runtime", "batch", "threads"], values="cell",
                      aggfunc="first")
    p.columns = [f"{rt_} b{b} t{t}" for rt_, b, t in p.columns]
    return p.reset_index()


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """sdhrnet / hrnet_w32 latency ratio per runtime (batch 1, 1 thread) beside the MACs ratio."""
    d = df[(df.batch == 1) & (df.threads == 1) & df.median_ms.notna() & (df.note.fillna("") == "")]
    rows = []
    for (size, runtime), g in d.groupby(["input", "runtime"]):
        m = g.set_index("model")
        if {"sdhrnet_coco", "hrnet_w32_coco"} <= set(m.index):
            rows.append({"input": size, "runtime": runtime,
                         "latency ratio (median)": round(m.median_ms["sdhrnet_coco"] / m.median_ms["hrnet_w32_coco"], 2),
                         "latency ratio (min)": round(m.min_ms["sdhrnet_coco"] / m.min_ms["hrnet_w32_coco"], 2),
                         "CPU-time ratio": round(m.cpu_median_ms["sdhrnet_coco"] / m.cpu_median_ms["hrnet_w32_coco"], 2),
                         "MACs ratio": round(m.gmacs["sdhrnet_coco"] / m.gmacs["hrnet_w32_coco"], 2)})
    return pd.DataFrame(rows)


def write_breakdown(bd: pd.DataFrame, out: Path) -> None:
    bd.to_csv(out / "breakdown.csv", index=False)
    lines = ["# Where ONNX Runtime's time goes, by layer kind", "",
             "ONNX Runtime's own profiler (`SessionOptions.enable_profiling`), batch 1, 1 thread, mean of the "
             "profiled runs; every graph optimisation on, so BN is folded into the convolutions and ReLUs fused "
             "(a conv row includes both). MAC share from the analytic count (`archlab.count`) over the same "
             "kinds; attention kinds take every op of the module (pooling, FCs, gates, multiplies).", ""]
    for (model, size), g in bd.groupby(["model", "input"], sort=False):
        lines += [f"## {model} @ {size} (profiled total {g.ms.sum():.1f} ms)", "",
                  g.drop(columns=["model", "input"]).to_markdown(index=False), ""]
    (out / "breakdown.md").write_text("\n".join(lines))


def _code_version() -> str:
    """``git describe`` of the working tree (which block formulations a row was measured with)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=30).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _save(rows, out: Path) -> None:
    df = pd.DataFrame(rows)
    df["gmacs"] = [round(gmacs(m, s), 3) for m, s in zip(df.model, df.input)]
    df.to_csv(out / "latency.csv", index=False)


def _load_rows(out: Path) -> list:
    """The rows of an earlier (possibly interrupted) run, so a rerun measures only what is missing."""
    f = out / "latency.csv"
    if not f.exists():
        return []
    df = pd.read_csv(f).drop(columns=["gmacs"], errors="ignore")
    return [{k: v for k, v in r.items() if not (isinstance(v, float) and v != v)} for r in df.to_dict("records")]


def _done_groups(rows) -> set:
    """(input, batch, threads) groups already measured (eager + ONNX Runtime rows, not compile pairs)."""
    return {(r["input"], int(r["batch"]), int(r["threads"])) for r in rows
            if r["runtime"] == "onnxruntime" and not str(r.get("note", "") or "").startswith("compile")}


def _compile_key(r) -> tuple:
    return r["model"], r["input"], int(r.get("batch", 1)), int(r.get("threads", 1))


def _done_compile(rows, retry_failed: bool) -> set:
    """(model, input, batch, threads) whose compile child already ran (a failure counts unless
    ``retry_failed``)."""
    return {_compile_key(r) for r in rows if r["runtime"] == "compile"
            and not (retry_failed and str(r.get("note", "")).startswith("not measured"))}


def run(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows = [] if args.fresh else _load_rows(out)
    done, code = _done_groups(rows), _code_version()
    todo = [(s, b, t) for s in args.sizes for b in args.batches for t in args.threads if (s, b, t) not in done]
    print(f"{len(done)} groups cached in {out / 'latency.csv'}; measuring {len(todo)}: {todo}")
    for size in tqdm(args.sizes, desc="eager + onnxruntime sizes", unit="size"):
        groups = [(b, t) for s, b, t in todo if s == size]
        if not groups:
            continue
        resolved, exports = {m: build(m, size) for m in args.models}, {}
        for batch, threads in groups:
            new = measure_group(resolved, exports, size, batch, threads, args)
            rows += [dict(r, code=code) for r in new]
            _save(rows, out)            # after every group: an interrupted run keeps what it measured
    done_c = set() if args.fresh else _done_compile(rows, args.retry_failed)
    pairs = [(m, s, b, t) for m in args.compile_models for s in args.compile_sizes for b in args.compile_batches
             for t in args.compile_threads if (m, s, b, t) not in done_c]
    for key in tqdm(pairs, desc="torch.compile (child processes)", unit="pair"):
        rows = [r for r in rows if not (r["runtime"] == "compile" and _compile_key(r) == key)]
        rows += [dict(r, code=code) for r in measure_compile(key[0], key[1], args, key[2], key[3])]
        _save(rows, out)
    if args.profile_size:
        resolved = {m: build(m, args.profile_size) for m in args.models}
        bd = breakdown(resolved, {}, args.profile_size, args.profile_runs)
        write_breakdown(bd, out)
    print(f"measured in {time.time() - t0:.0f} s")


def compile_table(df: pd.DataFrame):
    """One row per torch.compile pair: compile time, eager and compile median / min, their ratio,
    and ONNX Runtime's median of the same model, size, batch and threads; None without pairs."""
    pairs = df[df.note.fillna("").str.startswith("compile pair")]
    if pairs.empty or "compile" not in set(pairs.runtime):
        return None
    ort = df[(df.runtime == "onnxruntime") & (df.note.fillna("") == "")]
    ort = ort.set_index(["model", "input", "batch", "threads"])["median_ms"]
    rows = []
    for (model, size, batch, threads), g in pairs.groupby(["model", "input", "batch", "threads"], sort=False):
        e, c = g[g.runtime == "eager"].iloc[0], g[g.runtime == "compile"].iloc[0]
        rows.append({"model": model, "input": size, "batch": int(batch), "threads": int(threads),
                     "compile s": c.get("compile_s"),
                     "eager median / min ms": f"{e.median_ms:.1f} / {e.min_ms:.1f}",
                     "compile median / min ms": f"{c.median_ms:.1f} / {c.min_ms:.1f}",
                     "compile / eager (median)": round(c.median_ms / e.median_ms, 2),
                     "ONNX Runtime median ms": ort.get((model, size, batch, threads)), "load": round(float(c.get("load_avg_1m", math.nan)), 1)})
    return pd.DataFrame(rows)


def render(out: Path, command: str) -> None:
    df = pd.read_csv(out / "latency.csv")
    if "note" not in df:
        df["note"] = ""
    # the compile rows are drawn; their eager partners (notes "compile pair") are not: the eager
    # points come from the interleaved groups
    figure(df[(df.note.fillna("") == "") | (df.runtime == "compile")], out)
    p = pivot(df)
    (out / "table.md").write_text(p.to_markdown(index=False) + "\n\nCells: median ms (IQR ms).\n")
    c = pivot(df, lambda r: f"{r.min_ms:.1f} / {r.cpu_median_ms:.1f}")
    (out / "table_min_cpu.md").write_text(c.to_markdown(index=False) + "\n\nCells: min ms / median CPU time per "
                                          "run ms (all threads of the process).\n")
    r = ratios(df)
    (out / "ratios.md").write_text(r.to_markdown(index=False) + "\n")
    comp = compile_table(df)
    if comp is not None:
        (out / "compile.md").write_text(comp.to_markdown(index=False) + "\n\nEager and compile of a row were timed "
                                        "interleaved in one child process at the row's batch and threads; ONNX "
                                        "Runtime is the interleaved group's median at the same size, batch and "
                                        "threads.\n")
    print(p.to_string(index=False))
    print(r.to_string(index=False))
    print(f"command: {command}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="reports/latency")
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--sizes", nargs="+", default=SIZES)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--compile-models", nargs="*", default=["litehrnet_18_coco"])
    ap.add_argument("--compile-sizes", nargs="*", default=["128x96"])
    ap.add_argument("--compile-batches", nargs="*", type=int, default=[1])
    ap.add_argument("--compile-threads", nargs="*", type=int, default=[1])
    ap.add_argument("--compile-timeout", type=int, default=600, help="seconds per compile child process")
    ap.add_argument("--profile-size", default="256x192", help="size for ORT's profiler breakdown ('' to skip it)")
    ap.add_argument("--profile-runs", type=int, default=5)
    ap.add_argument("--render-only", action="store_true", help="redraw figure and tables from latency.csv")
    ap.add_argument("--fresh", action="store_true",
                    help="ignore OUT/latency.csv (default: keep its rows and measure only the missing groups)")
    ap.add_argument("--retry-failed", action="store_true", help="rerun compile pairs recorded as not measured")
    ap.add_argument("--compile-worker", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.compile_worker:
        compile_worker(*args.compile_worker, args.repeats, args.warmup, args.batches[0], args.threads[0])
        return 0
    if not args.render_only:
        run(args)
    render(Path(args.out), "python studies/latency_study.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
