"""From a study to files: trials and Pareto tables (CSV), sampled latency, figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..plots import bubble_chart, hypervolume_plot, pareto_scatter
from ..plots.figures import short_name
from .pareto import distinct_configs, hypervolume_history, pareto_mask, trials_table
from .space import SearchSpace

__all__ = ["pareto_report", "measure_sample_latency", "AXIS_LABELS"]

AXIS_LABELS = {
    "params": "parameters",
    "latency": "CPU latency (ms, batch 1)",
    "latency_ms": "CPU latency (ms, batch 1)",
    "accuracy": "accuracy (validation PCK@0.2, %)",
}


def _label(col: str) -> str:
    if col.startswith("macs["):
        prof = col[5:-1]
        from ..cost.profiles import PROFILES
        p = PROFILES.get(prof)
        return f"multiply-adds [{prof}: {p.unit}]" if p is not None else f"multiply-adds [{prof}]"
    return AXIS_LABELS.get(col, col)


def measure_sample_latency(space: SearchSpace, df: pd.DataFrame, out_csv: Path, sample: int, seed: int = 0,
                           latency_fn=None) -> pd.DataFrame:
    """Measure latency for the baselines, up to ``sample`` front points (evenly spaced) and
    ``sample`` random feasible trials off the front.
    Appends to ``out_csv`` and skips trials already there (resumable)."""
    from .objective import _default_latency
    latency_fn = latency_fn or _default_latency
    done = pd.read_csv(out_csv) if out_csv.exists() else pd.DataFrame(columns=["trial", "latency_ms"])
    feas = df[df["feasible"]]
    rng = np.random.default_rng(seed)
    front = feas[feas["pareto"]].drop_duplicates(subset=[c for c in df.columns if c.startswith("param_")])
    if len(front) > sample:  # evenly spaced along the front's first objective
        order = front.sort_values(front.columns[1])
        front = order.iloc[np.linspace(0, len(order) - 1, sample).round().astype(int)]
    pick = set(front["trial"]) | set(df[df["baseline"].notna()]["trial"] if "baseline" in df else [])
    rest = sorted(set(feas["trial"]) - set(feas[feas["pareto"]]["trial"]) - pick)
    pick |= set(rng.choice(rest, size=min(sample, len(rest)), replace=False).tolist()) if rest else set()
    todo = sorted(pick - set(done["trial"].astype(int)))
    from tqdm.auto import tqdm
    for t in tqdm(todo, desc="latency", unit="model"):
        params = {k[len("param_"):]: v for k, v in df[df["trial"] == t].iloc[0].items()
                  if k.startswith("param_") and not (isinstance(v, float) and np.isnan(v))}
        values = {}
        for knob in space.knobs:
            values[knob.name] = knob.suggest(_Fixed(params))
        spec = space.apply(values)
        ms = latency_fn(spec, space.latency)
        row = pd.DataFrame([{"trial": t, "latency_ms": ms}])
        row.to_csv(out_csv, mode="a", header=not out_csv.exists(), index=False)
        done = pd.concat([done, row], ignore_index=True)
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


def pareto_report(space: SearchSpace, study, out_dir: str | Path, *, latency_sample: int = 0,
                  latency_fn=None) -> dict:
    """Write trials.csv, pareto.csv, figures (PNG/SVG/JSON) and hypervolume into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = trials_table(study)
    if df.empty:
        raise ValueError(f"study {space.study!r} has no complete trials yet")
    names = [o.label for o in space.objectives]
    dirs = [o.direction for o in space.objectives]
    files = {}
    if latency_sample and "latency" not in names:
        lat = measure_sample_latency(space, df, out / "latency.csv", latency_sample, latency_fn=latency_fn)
        df = df.drop(columns=[c for c in ("latency_ms",) if c in df]).merge(lat, on="trial", how="left")
    df.to_csv(out / "trials.csv", index=False)
    df[df["pareto"]].to_csv(out / "pareto.csv", index=False)
    files["trials"], files["pareto"] = out / "trials.csv", out / "pareto.csv"
    acc = "accuracy" if "accuracy" in names else None
    cost_cols = [c for c in names if c != "accuracy"]
    if "latency_ms" in df and df["latency_ms"].notna().any() and "latency" not in names:
        cost_cols.append("latency_ms")
    if acc:
        for c in cost_cols:
            files[f"{acc}_vs_{c}"] = pareto_scatter(df, c, acc, out / f"accuracy_vs_{c.split('[')[0]}",
                                                    xlabel=_label(c), ylabel=_label(acc), logx=True,
                                                    title=f"{space.study}: accuracy vs {c}")[0]
        base = df["baseline"] if "baseline" in df else pd.Series(index=df.index, dtype=object)
        front = distinct_configs(df[df["pareto"] & base.isna()])
        ours = pd.concat([front.assign(name="t" + front["trial"].astype(str)),
                          df[base.notna()].assign(name=[short_name(b) for b in base.dropna()])])
        gcol = next((c for c in names if c.startswith("macs[")), None)
        if gcol is not None:
            ours = ours.assign(gflops=ours[gcol], score=ours[acc], params_m=ours["params"] / 1e6)
            files["bubble"] = bubble_chart(ours[["name", "gflops", "score", "params_m"]], out / "bubble",
                                           dataset="coco", xlabel=_label(gcol))[0]
    else:
        x, y = cost_cols[0], cost_cols[1] if len(cost_cols) > 1 else cost_cols[0]
        files["front"] = pareto_scatter(df, x, y, out / "pareto_front", xlabel=_label(x), ylabel=_label(y),
                                        title=f"{space.study}: Pareto front ({len(df)} trials)")[0]
        if "latency_ms" in df and df["latency_ms"].notna().any():
            sub = df[df["latency_ms"].notna()].copy()
            sub["pareto"] = pareto_mask(sub[[y, "latency_ms"]].to_numpy(), ["minimize", "minimize"])
            files["latency"] = pareto_scatter(sub, y, "latency_ms", out / "latency_vs_macs", xlabel=_label(y),
                                              ylabel=_label("latency_ms"),
                                              title=f"{space.study}: measured latency vs multiply-adds")[0]
    hv = hypervolume_history(df, names, dirs)
    hv.to_csv(out / "hypervolume.csv", index=False)
    files["hypervolume"] = hypervolume_plot(hv, out / "hypervolume")[0]
    return files
