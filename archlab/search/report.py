"""From a study to files: trials and Pareto tables (CSV), sampled latency, figures.

Each figure's Pareto front is the non-dominated set *in the plane drawn* (see
:func:`archlab.plots.plane_points`); ``pareto.csv`` is the study's front over all its objectives.
Axis labels say what is plotted: the accuracy of a search is its short-training *proxy*, parameters
are drawn in millions, and a maximised objective says so.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..plots import bubble_chart, hypervolume_plot, pareto_scatter
from ..plots.figures import short_name
from .pareto import distinct_configs, hypervolume_history, trials_table
from .space import SearchSpace

__all__ = ["pareto_report", "measure_sample_latency", "read_latency_csv", "axis_label", "LATENCY_COLUMNS"]

#: columns of ``latency.csv`` (older files hold only the first two; the others read as missing)
LATENCY_COLUMNS = ["trial", "latency_ms", "latency_iqr_ms", "latency_runtime", "latency_repeats"]
_METRIC = {"lspet": "PCK@0.2", "mpii": "PCKh@0.5", "coco": "AP"}
#: how a runtime is named on a latency axis
RUNTIME_NAMES = {"eager": "eager PyTorch", "onnxruntime": "ONNX Runtime", "compile": "torch.compile"}
_NAMES = {"params": "parameters", "macs": "multiply-adds", "latency_ms": "latency", "latency": "latency"}


def proxy_label(space: SearchSpace) -> str:
    """The accuracy axis of a search: what the short training measured, called a proxy."""
    t = space.training
    data = t.get("data", "lspet")
    n_train = f"{t['limit_train']:,}" if t.get("limit_train") else "all"
    n_val = f"{t['limit_val']:,}" if t.get("limit_val") else "all"
    e = int(t.get("epochs", 2))
    return (f"search proxy: {_METRIC.get(data, 'score')} (%) after {e} epoch{'s' * (e != 1)}\n"
            f"on {n_train} {data.upper()} images, scored on {n_val}")


def latency_label(space: SearchSpace, df: pd.DataFrame | None = None) -> str:
    """The latency axis: median ms, with the runtime recorded in ``df`` and the space's options."""
    o = space.latency
    runtimes = sorted({RUNTIME_NAMES.get(r, r) for r in df["latency_runtime"].dropna()}) \
        if df is not None and "latency_runtime" in df else []
    rt = "/".join(runtimes) if runtimes else "runtime not recorded"
    size = f", {o['input_size']}" if "input_size" in o else ""
    reps = sorted({int(r) for r in df["latency_repeats"].dropna()}) if df is not None and "latency_repeats" in df else []
    n = "/".join(map(str, reps)) if reps else o.get("repeats", 5)   # 5: what older archlab timed by default
    return (f"CPU latency (ms, median of {n})\n{rt}, batch {o.get('batch', 1)}, "
            f"{o.get('threads', 1)} thread{'s' * (o.get('threads', 1) != 1)}{size})")


def axis_label(col: str, space: SearchSpace, direction: str = "minimize", df=None) -> str:
    """Axis label of a trials-table column as :func:`pareto_report` plots it (``params`` in M)."""
    if col.startswith("macs["):
        from ..cost.profiles import PROFILES
        prof = col[5:-1]
        p = PROFILES.get(prof)
        text = f"multiply-adds [{prof}: {p.unit}]" if p is not None else f"multiply-adds [{prof}]"
    elif col in ("params", "params_M"):
        text = "parameters (M)"
    elif col in ("latency", "latency_ms"):
        text = latency_label(space, df)
    elif col == "accuracy":
        text = proxy_label(space)
    else:
        text = col
    return f"{text}, maximised" if direction == "maximize" and col != "accuracy" else text


def _unit(col: str) -> tuple[str, str, float]:
    """(unit of a value, unit in the hypervolume's product of units, divisor) of an objective."""
    if col.startswith("macs["):
        from ..cost.profiles import PROFILES
        p = PROFILES.get(col[5:-1])
        u = f"{p.short_unit if p else 'MACs'} [{col[5:-1]}]"
        return u, u, 1.0
    return {"params": ("M", "M params", 1e6), "accuracy": ("%", "%", 1.0),
            "latency": ("ms", "ms", 1.0)}.get(col, ("", col, 1.0))


# ------------------------------------------------------------------------------------------------
# latency of a sample of trials

def read_latency_csv(path) -> pd.DataFrame:
    """``latency.csv`` with every column of :data:`LATENCY_COLUMNS` (missing ones as NaN)."""
    path = Path(path)
    df = pd.read_csv(path) if path.exists() and path.stat().st_size else pd.DataFrame(columns=["trial"])
    if "trial" not in df or "latency_ms" not in df and len(df):
        raise ValueError(f"{path}: expected columns trial, latency_ms, got {list(df.columns)}")
    for c in LATENCY_COLUMNS:
        if c not in df:
            df[c] = np.nan
    df["trial"] = df["trial"].astype(int)
    return df[LATENCY_COLUMNS + [c for c in df.columns if c not in LATENCY_COLUMNS]]


def _measure(spec, options: dict):
    """Latency of ``spec`` in the space's ``runtime`` (default ONNX Runtime; eager PyTorch and
    ``torch.compile`` on request) with its spread (:func:`archlab.cost.runtime.measure`)."""
    from ..cost.runtime import measure
    return measure(spec, options.get("runtime", "onnxruntime"), input_size=options.get("input_size"),
                   batch=int(options.get("batch", 1)), threads=int(options.get("threads", 1)),
                   warmup=int(options.get("warmup", 3)), repeats=int(options.get("repeats", 7)))


def _as_row(trial: int, res) -> dict:
    """A latency function's result (a number, a dict or an object with ``median_ms``/``iqr_ms``)
    as a ``latency.csv`` row."""
    if isinstance(res, dict):
        row = dict(res)
        if "latency_ms" not in row:
            row = {"latency_ms": row.get("median_ms"), "latency_iqr_ms": row.get("iqr_ms"),
                   "latency_runtime": row.get("runtime"), "latency_repeats": row.get("repeats")}
    elif hasattr(res, "median_ms"):
        row = {"latency_ms": res.median_ms, "latency_iqr_ms": getattr(res, "iqr_ms", None),
               "latency_runtime": getattr(res, "runtime", None), "latency_repeats": getattr(res, "repeats", None)}
    else:
        row = {"latency_ms": float(res)}
    return {"trial": int(trial), **row}


def _pick(df: pd.DataFrame, sample: int, seed: int) -> set:
    """Baselines, up to ``sample`` front points (evenly spaced) and ``sample`` random feasible others."""
    feas = df[df["feasible"]]
    front = distinct_configs(feas[feas["pareto"]])
    if len(front) > sample:  # evenly spaced along the front's first objective
        order = front.sort_values(front.columns[1])
        front = order.iloc[np.linspace(0, len(order) - 1, sample).round().astype(int)]
    pick = set(front["trial"]) | set(df[df["baseline"].notna()]["trial"] if "baseline" in df else [])
    rest = sorted(set(feas["trial"]) - set(feas[feas["pareto"]]["trial"]) - pick)
    rng = np.random.default_rng(seed)
    return pick | (set(rng.choice(rest, size=min(sample, len(rest)), replace=False).tolist()) if rest else set())


def measure_sample_latency(space: SearchSpace, df: pd.DataFrame, out_csv: Path, sample: int, seed: int = 0,
                           latency_fn=None) -> pd.DataFrame:
    """Measure latency for the baselines, up to ``sample`` front points (evenly spaced) and
    ``sample`` random feasible trials off the front; ``latency_fn(spec, space.latency)`` returns a
    median in ms, or a dict / result object that also carries the IQR and the runtime (the default,
    :func:`archlab.cost.runtime.measure` in the space's ``latency.runtime``, ONNX Runtime unless
    named, does). Refuses to add rows of another runtime to a file (one runtime per figure). Rows go to ``out_csv`` (columns
    :data:`LATENCY_COLUMNS`) after each model, and trials already there are skipped (resumable)."""
    out_csv = Path(out_csv)
    done = read_latency_csv(out_csv)
    todo = sorted(_pick(df, sample, seed) - set(done["trial"]))
    if todo and latency_fn is None and len(done):
        want = RUNTIME_NAMES.get(space.latency.get("runtime", "onnxruntime"))
        have = {"not recorded" if pd.isna(r) else RUNTIME_NAMES.get(r, r) for r in done["latency_runtime"]}
        if have != {want}:
            raise ValueError(f"{out_csv} holds latencies measured with runtime {', '.join(sorted(have))}; measuring "
                             f"more with {want} would mix runtimes in one figure: move the file away first")
    from tqdm.auto import tqdm
    for t in tqdm(todo, desc="latency", unit="model"):
        params = {k[len("param_"):]: v for k, v in df[df["trial"] == t].iloc[0].items()
                  if k.startswith("param_") and not (isinstance(v, float) and np.isnan(v))}
        spec = space.apply({knob.name: knob.suggest(_Fixed(params)) for knob in space.knobs})
        rows = done.to_dict("records") + [_as_row(t, (latency_fn or _measure)(spec, space.latency))]
        done = pd.DataFrame(rows, columns=list(dict.fromkeys([*done.columns, *rows[-1]])))
        tmp = out_csv.with_name(out_csv.name + ".tmp")
        done.to_csv(tmp, index=False)
        os.replace(tmp, out_csv)
    return done


class _Fixed:
    """A stand-in trial that returns recorded parameter values (to rebuild a trial's spec)."""

    def __init__(self, params):
        self.params = params

    def suggest_categorical(self, name, choices):
        v = self.params[name] if name in self.params else choices[0]
        return v.item() if hasattr(v, "item") else v  # numpy scalars from the trials table

    def suggest_int(self, name, low, high, step=1, log=False):
        return int(self.params.get(name, low))

    def suggest_float(self, name, low, high, step=None, log=False):
        return float(self.params.get(name, low))


# ------------------------------------------------------------------------------------------------
# figures

def _accuracy_figures(space, df, out: Path, dirs: dict, cost_cols: list) -> dict:
    files = {}
    for c in cost_cols:
        col = "params_M" if c == "params" else c
        lat = c in ("latency", "latency_ms")
        name = c.split("[")[0]
        files[f"accuracy_vs_{c}"] = pareto_scatter(
            df, col, "accuracy", out / f"accuracy_vs_{name}", directions=(dirs[c], "maximize"),
            xlabel=axis_label(col, space, dirs[c], df), ylabel=axis_label("accuracy", space),
            xerr="latency_iqr_ms" if lat and "latency_iqr_ms" in df else None,
            title=f"{space.study}: search proxy vs {_NAMES.get(name, name)} (front of this plane)")[0]
    base = df["baseline"] if "baseline" in df else pd.Series(index=df.index, dtype=object)
    front = distinct_configs(df[df["pareto"] & base.isna()])
    ours = pd.concat([front.assign(name="t" + front["trial"].astype(str), kind="trial"),
                      df[base.notna()].assign(name=[short_name(b) for b in base.dropna()], kind="baseline")])
    gcol = next((c for c in cost_cols if c.startswith("macs[")), None)
    if gcol is not None:
        ours = ours.assign(gflops=ours[gcol], score=ours["accuracy"], params_m=ours["params"] / 1e6)
        files["bubble"] = bubble_chart(ours[["name", "kind", "gflops", "score", "params_m"]], out / "bubble",
                                       dataset="coco", xlabel=axis_label(gcol, space) + "\ncounted by archlab",
                                       ours_ylabel=proxy_label(space),
                                       title=f"{space.study}: study front (all objectives) and baselines")[0]
    return files


def _cost_figures(space, df, out: Path, dirs: dict, cost_cols: list) -> dict:
    files = {}
    cols = ["params_M" if c == "params" else c for c in cost_cols]
    if len(cols) >= 2:
        x, y = cols[0], cols[1]
        says = ", ".join(f"{_NAMES.get(c.split('[')[0], c)} {dirs[c].replace('imize', 'imised')}" for c in cost_cols[:2])
        files["front"] = pareto_scatter(df, x, y, out / "pareto_front", directions=(dirs[cost_cols[0]],
                                        dirs[cost_cols[1]]), xlabel=axis_label(x, space, dirs[cost_cols[0]]),
                                        ylabel=axis_label(y, space, dirs[cost_cols[1]]),
                                        title=f"{space.study}: Pareto front ({says})")[0]
    if "latency_ms" in df and df["latency_ms"].notna().any():
        ylab, err = axis_label("latency_ms", space, df=df), "latency_iqr_ms"
        for c, col in ((c, col) for c, col in zip(cost_cols, cols) if c != "latency"):
            name = "macs" if c.startswith("macs[") else c
            files[f"latency_vs_{name}"] = pareto_scatter(
                df, col, "latency_ms", out / f"latency_vs_{name}", directions=(dirs[c], "minimize"),
                xlabel=axis_label(col, space, dirs[c]), ylabel=ylab, yerr=err,
                title=f"{space.study}: measured latency vs {_NAMES.get(name, name)} (front of this plane)")[0]
    return files


def _hypervolume_figure(space, study, df, out: Path, names: list, dirs: list) -> Path:
    from optuna.trial import TrialState
    hv = hypervolume_history(df, names, dirs)
    hv.to_csv(out / "hypervolume.csv", index=False)
    units = [_unit(n) for n in names]
    ref = ", ".join(f"{n} {v / s:.4g} {u}" for (n, v), (u, _, s) in zip(hv.attrs["reference"].items(), units))
    failed = [t.number for t in study.get_trials(deepcopy=False) if t.state != TrialState.COMPLETE]
    return hypervolume_plot(hv, out / "hypervolume", unit=" × ".join(u for _, u, _ in units),
                            scale=float(np.prod([s for _, _, s in units])), failed=failed,
                            reference=f"{ref}\n(worst feasible value of each objective, 10% beyond)",
                            title=f"{space.study}: hypervolume over trials")[0]


def pareto_report(space: SearchSpace, study, out_dir: str | Path, *, latency_sample: int = 0,
                  latency_fn=None) -> dict:
    """Write trials.csv, pareto.csv, figures (PNG/SVG/JSON) and hypervolume into ``out_dir``.

    A ``latency.csv`` already in ``out_dir`` is reused; ``latency_sample`` > 0 measures the
    missing ones (:func:`measure_sample_latency`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = trials_table(study)
    if df.empty:
        raise ValueError(f"study {space.study!r} has no complete trials yet")
    names = [o.label for o in space.objectives]
    directions = [o.direction for o in space.objectives]
    files = {}
    if "latency" not in names and (latency_sample or (out / "latency.csv").exists()):
        lat = measure_sample_latency(space, df, out / "latency.csv", latency_sample, latency_fn=latency_fn) \
            if latency_sample else read_latency_csv(out / "latency.csv")
        df = df.drop(columns=[c for c in LATENCY_COLUMNS[1:] if c in df]).merge(lat, on="trial", how="left")
    df.to_csv(out / "trials.csv", index=False)
    df[df["pareto"]].to_csv(out / "pareto.csv", index=False)
    files["trials"], files["pareto"] = out / "trials.csv", out / "pareto.csv"
    dirs = {**dict(zip(names, directions)), "latency_ms": "minimize"}
    cost_cols = [c for c in names if c != "accuracy"]
    if "params" in df:
        df = df.assign(params_M=df["params"] / 1e6)
    if "accuracy" in names:
        if "latency_ms" in df and df["latency_ms"].notna().any() and "latency" not in names:
            cost_cols.append("latency_ms")
        files.update(_accuracy_figures(space, df, out, dirs, cost_cols))
    else:
        files.update(_cost_figures(space, df, out, dirs, cost_cols))
    files["hypervolume"] = _hypervolume_figure(space, study, df, out, names, directions)
    return files
