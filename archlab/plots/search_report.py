"""Figures of a search study: accuracy or cost Pareto fronts, latency planes, the hypervolume.

:func:`pareto_report` writes the study's tables (:func:`archlab.search.report.study_tables`) and
draws them. Each figure's Pareto front is the non-dominated set *in the plane drawn* (see
:func:`archlab.plots.plane_points`); ``pareto.csv`` is the study's front over all its objectives.
Axis labels say what is plotted: the accuracy of a search is its short-training *proxy*, parameters
are drawn in millions, and a maximised objective says so.

This module sits above :mod:`archlab.search` in the layering: it reads search results, the
search package never draws.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..search.pareto import distinct_configs, hypervolume_history
from ..search.report import RUNTIME_NAMES, study_tables
from ..search.space import SearchSpace
from .figures import bubble_chart, hypervolume_plot, pareto_scatter, short_name

__all__ = ["pareto_report", "axis_label", "proxy_label", "latency_label"]

_METRIC = {"lspet": "PCK@0.2", "mpii": "PCKh@0.5", "coco": "AP"}
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
    missing ones (:func:`archlab.search.report.measure_sample_latency`)."""
    out = Path(out_dir)
    df = study_tables(space, study, out, latency_sample=latency_sample, latency_fn=latency_fn)
    names = [o.label for o in space.objectives]
    directions = [o.direction for o in space.objectives]
    files = {"trials": out / "trials.csv", "pareto": out / "pareto.csv"}
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
