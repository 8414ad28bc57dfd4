"""Pareto fronts and hypervolume of a finished (or running) study, as tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import optuna
from optuna.trial import TrialState

__all__ = ["pareto_mask", "trials_table", "hypervolume_history", "distinct_configs"]


def pareto_mask(values, directions) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n x k) for the given
    ``directions`` ('minimize'/'maximize' per column). Duplicated points are all kept.

    >>> pareto_mask([[1, 5], [2, 2], [3, 3], [1, 5]], ['minimize', 'minimize']).tolist()
    [True, True, False, True]
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(directions):
        raise ValueError(f"pareto_mask: expected an n x {len(directions)} array, got shape {v.shape}")
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    v = v * sign
    le = (v[:, None, :] <= v[None, :, :]).all(-1)   # le[i, j]: i is no worse than j everywhere
    lt = (v[:, None, :] < v[None, :, :]).any(-1)    # lt[i, j]: i is better than j somewhere
    dominated = (le & lt).any(0)
    return ~dominated


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per finished trial: objectives (by name), cost attributes, feasibility, baseline,
    and ``pareto`` (non-dominated among feasible complete trials)."""
    names = study.user_attrs.get("objective_names") or study.metric_names or \
        [f"objective_{i}" for i in range(len(study.directions))]
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        row = {"trial": t.number, **dict(zip(names, t.values))}
        for k in ("params", "macs_plain", "macs_budget", "latency_ms", "accuracy", "feasible", "baseline",
                  "retry_of"):
            if k in t.user_attrs and k not in row:
                row[k] = t.user_attrs[k]
        row.update({f"param_{k}": v for k, v in t.params.items()})
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if "feasible" not in df:
        df["feasible"] = True
    df["feasible"] = df["feasible"].fillna(True).astype(bool)
    dirs = [d.name.lower() for d in study.directions]
    df["pareto"] = False
    feas = df[df["feasible"]]
    if len(feas):
        df.loc[feas.index, "pareto"] = pareto_mask(feas[names].to_numpy(), dirs)
    return df


def hypervolume_history(df: pd.DataFrame, objectives: list[str], directions: list[str],
                        reference=None) -> pd.DataFrame:
    """Hypervolume of the feasible front after each trial (Optuna's WFG implementation).

    The reference point defaults to the worst feasible value of each objective, 10% beyond."""
    from optuna._hypervolume import compute_hypervolume
    feas = df[df["feasible"]].sort_values("trial")
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    pts = feas[objectives].to_numpy(dtype=float) * sign
    if reference is None:
        worst = pts.max(0) if len(pts) else np.ones(len(objectives))
        reference = worst + 0.1 * np.abs(worst) + 1e-12
    else:
        reference = np.asarray(reference, dtype=float) * sign
    hv, out = [], []
    for i in range(len(pts)):
        front = pts[: i + 1]
        front = front[pareto_mask(front, ["minimize"] * len(objectives))]
        front = front[(front < reference).all(1)]
        hv.append(float(compute_hypervolume(np.unique(front, axis=0), reference)) if len(front) else 0.0)
        out.append(int(feas["trial"].iloc[i]))
    return pd.DataFrame({"trial": out, "hypervolume": hv})


def distinct_configs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (a :func:`trials_table`) with one row per knob setting, the first trial of each
    (NSGA-II may breed the same configuration twice)."""
    knobs = [c for c in df.columns if c.startswith("param_")]
    return df.drop_duplicates(subset=knobs) if knobs else df
