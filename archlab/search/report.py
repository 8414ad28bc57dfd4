"""From a study to tables: the trials table with a sampled latency column, ``trials.csv`` and
``pareto.csv`` (:func:`study_tables`). The figures drawn from them live a layer up, in
:mod:`archlab.plots.search_report` (``archlab pareto`` writes both).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .pareto import distinct_configs, trials_table
from .space import SearchSpace

__all__ = ["study_tables", "measure_sample_latency", "read_latency_csv", "spec_of_trial", "LATENCY_COLUMNS",
           "RUNTIME_NAMES"]

#: columns of ``latency.csv`` (older files hold only the first two; the others read as missing)
LATENCY_COLUMNS = ["trial", "latency_ms", "latency_iqr_ms", "latency_runtime", "latency_repeats"]
#: how a runtime is named on a latency axis
RUNTIME_NAMES = {"eager": "eager PyTorch", "onnxruntime": "ONNX Runtime", "compile": "torch.compile"}

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
        spec = spec_of_trial(space, params)
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


def spec_of_trial(space: SearchSpace, params: dict):
    """The spec a trial with recorded Optuna ``params`` (``param_`` prefix stripped) drew."""
    return space.apply({knob.name: knob.suggest(_Fixed(params)) for knob in space.knobs})


def study_tables(space: SearchSpace, study, out_dir: str | Path, *, latency_sample: int = 0,
                 latency_fn=None) -> pd.DataFrame:
    """Write ``trials.csv`` and ``pareto.csv`` of ``study`` into ``out_dir`` and return the table.

    A ``latency.csv`` already in ``out_dir`` is merged in; ``latency_sample`` > 0 measures the
    missing ones first (:func:`measure_sample_latency`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = trials_table(study)
    if df.empty:
        raise ValueError(f"study {space.study!r} has no complete trials yet")
    names = [o.label for o in space.objectives]
    if "latency" not in names and (latency_sample or (out / "latency.csv").exists()):
        lat = measure_sample_latency(space, df, out / "latency.csv", latency_sample, latency_fn=latency_fn) \
            if latency_sample else read_latency_csv(out / "latency.csv")
        df = df.drop(columns=[c for c in LATENCY_COLUMNS[1:] if c in df]).merge(lat, on="trial", how="left")
    df.to_csv(out / "trials.csv", index=False)
    df[df["pareto"]].to_csv(out / "pareto.csv", index=False)
    return df
