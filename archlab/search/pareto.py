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
    """Hypervolume of the feasible front after each complete trial of ``df`` (a
    :func:`trials_table`; Optuna's WFG implementation), in the product of the objectives' units.

    An infeasible trial keeps the value before it; trials not in ``df`` (failed, pruned, running)
    get no row. The reference point defaults to the worst feasible value of each objective, 10%
    beyond; it is returned in ``result.attrs["reference"]`` ({objective: value}).

    >>> t = pd.DataFrame({"trial": [0, 1, 3], "a": [2.0, 1.0, 0.5], "b": [1.0, 2.0, 0.5],
    ...                   "feasible": [True, True, False]})
    >>> hv = hypervolume_history(t, ["a", "b"], ["minimize", "minimize"], reference=[3, 3])
    >>> hv["hypervolume"].tolist(), hv.attrs["reference"]
    ([2.0, 3.0, 3.0], {'a': 3.0, 'b': 3.0})
    """
    from optuna._hypervolume import compute_hypervolume
    done = df.sort_values("trial")
    feasible = done["feasible"].to_numpy(bool) if "feasible" in done else np.ones(len(done), bool)
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    pts = done[objectives].to_numpy(dtype=float) * sign
    if reference is None:
        worst = pts[feasible].max(0) if feasible.any() else np.ones(len(objectives))
        reference = worst + 0.1 * np.abs(worst) + 1e-12
    else:
        reference = np.asarray(reference, dtype=float) * sign
    hv, front, value = [], np.empty((0, len(objectives))), 0.0
    for p, ok in zip(pts, feasible):
        if ok and (p < reference).all() and not ((front <= p).all(1) & (front < p).any(1)).any():
            front = np.unique(np.vstack([front, p]), axis=0)
            front = front[pareto_mask(front, ["minimize"] * len(objectives))]
            value = float(compute_hypervolume(front, reference))
        hv.append(value)
    out = pd.DataFrame({"trial": done["trial"].astype(int).to_numpy(), "hypervolume": hv})
    out.attrs["reference"] = {o: float(r) for o, r in zip(objectives, reference * sign)}
    return out


def distinct_configs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (a :func:`trials_table`) with one row per knob setting, the first trial of each
    (NSGA-II may breed the same configuration twice)."""
    knobs = [c for c in df.columns if c.startswith("param_")]
    return df.drop_duplicates(subset=knobs) if knobs else df
