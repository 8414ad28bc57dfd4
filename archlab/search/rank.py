"""Rank fidelity and honest comparisons: does a cheap score rank models as the final protocol does?

* :func:`rank_agreement` -- Kendall's tau-b and Spearman's rho (scipy) between a cheap score and
  the final score, each with a paired percentile bootstrap interval (``scipy.stats.bootstrap``:
  models are resampled with their two scores kept together).
* :func:`fidelity_table` -- one row per cheap score: tau, rho, their intervals, the number of
  models, the CPU-hours the score took and tau per CPU-hour.
* :func:`pooled_std` and :func:`verdict` -- the study's rule for claims: A beats B only when the
  difference of means exceeds twice the pooled seed standard deviation; otherwise "tie".

>>> round(rank_agreement([1, 2, 3, 4], [1, 3, 2, 4], n_boot=200)["tau"], 4)
0.6667
>>> verdict(45.0, 42.0, pooled=1.0), verdict(45.0, 44.0, pooled=1.0)
('A beats B', 'tie')
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

__all__ = ["rank_agreement", "fidelity_table", "pooled_std", "verdict", "extrapolate_curve"]


def _paired(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"scores and final scores must pair up: {x.size} vs {y.size} values")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _tau(x, y, axis=-1):
    """Kendall's tau-b along ``axis`` (vectorised over bootstrap resamples; equals
    ``scipy.stats.kendalltau``): concordant minus discordant pairs over the geometric mean of the
    pairs not tied in each score. NaN where a side is constant."""
    x, y = np.moveaxis(np.asarray(x, float), axis, -1), np.moveaxis(np.asarray(y, float), axis, -1)
    sx = np.sign(x[..., :, None] - x[..., None, :])
    sy = np.sign(y[..., :, None] - y[..., None, :])
    n = x.shape[-1]
    iu = np.triu_indices(n, 1)
    sx, sy = sx[..., iu[0], iu[1]], sy[..., iu[0], iu[1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(-1) / np.sqrt((sx != 0).sum(-1) * (sy != 0).sum(-1))


def _rho(x, y, axis=-1):
    """Spearman's rho along ``axis`` (vectorised; equals ``scipy.stats.spearmanr``): Pearson's r of
    average ranks. NaN where a side is constant."""
    rx, ry = stats.rankdata(x, axis=axis), stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis) / np.sqrt((rx * rx).sum(axis) * (ry * ry).sum(axis))


def _interval(x, y, stat, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    if len(set(x)) < 2 or len(set(y)) < 2 or x.size < 3:
        return math.nan, math.nan
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")   # resamples with a constant side: the value is NaN
        res = stats.bootstrap((x, y), stat, paired=True, vectorized=True, n_resamples=n_boot,
                              confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    if np.isnan(dist).all():
        return math.nan, math.nan
    alpha = 100 * (1 - level) / 2          # percentile interval over the resamples that are defined
    lo, hi = np.nanpercentile(dist, [alpha, 100 - alpha])
    return float(lo), float(hi)


def rank_agreement(score, final, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Kendall tau-b and Spearman rho of ``score`` against ``final`` with paired percentile
    bootstrap intervals. Pairs with a missing (NaN) value are dropped; ``n`` is what remains.
    Resamples in which either side is constant have no rank correlation: they are left out of the
    percentile interval (scipy gives them NaN)."""
    x, y = _paired(score, final)
    if x.size < 2:
        raise ValueError(f"rank agreement needs at least 2 models with both scores, got {x.size}")
    tau = float(stats.kendalltau(x, y).statistic)
    rho = float(stats.spearmanr(x, y).statistic)
    tau_ci = _interval(x, y, _tau, n_boot, level, seed)
    rho_ci = _interval(x, y, _rho, n_boot, level, seed)
    return {"n": int(x.size), "tau": tau, "tau_lo": tau_ci[0], "tau_hi": tau_ci[1],
            "rho": rho, "rho_lo": rho_ci[0], "rho_hi": rho_ci[1]}


def fidelity_table(df, final: str, scores: dict, *, n_boot: int = 2000, seed: int = 0):
    """One row per cheap score. ``df`` has one row per model; ``final`` names its final-score
    column; ``scores`` maps each cheap-score column to the CPU-hours it cost over all models
    (NaN when unknown). Returns a pandas DataFrame sorted by tau (best first)."""
    import pandas as pd
    if final not in df:
        raise KeyError(f"final-score column {final!r} not in the table (columns: {list(df.columns)})")
    rows = []
    for col, cpu_h in scores.items():
        if col not in df:
            raise KeyError(f"score column {col!r} not in the table (columns: {list(df.columns)})")
        r = rank_agreement(df[col], df[final], n_boot=n_boot, seed=seed)
        per_h = r["tau"] / cpu_h if cpu_h and cpu_h > 0 else math.nan
        rows.append({"score": col, **r, "cpu_hours": cpu_h, "tau_per_cpu_hour": per_h})
    return pd.DataFrame(rows).sort_values("tau", ascending=False, ignore_index=True)


def pooled_std(groups) -> float:
    """Pooled sample standard deviation of several groups (each a list of one model's scores over
    seeds): ``sqrt(sum_g sum_i (x_gi - mean_g)^2 / sum_g (n_g - 1))``. Groups with one value add
    nothing; NaN when no group has two."""
    num = den = 0.0
    for g in groups:
        g = [float(v) for v in g if v == v]
        if len(g) >= 2:
            m = sum(g) / len(g)
            num += sum((v - m) ** 2 for v in g)
            den += len(g) - 1
    return math.sqrt(num / den) if den else math.nan


def extrapolate_curve(values, to_epoch: int) -> float:
    """A learning-curve score: validation scores after epochs 1..k (``values``) fitted by least
    squares to ``a + b * log(epoch)`` and read at ``to_epoch`` (NaN with fewer than 2 finite values).

    >>> round(extrapolate_curve([10.0, 10.0 + math.log(2), 10.0 + math.log(3)], 10), 4)
    12.3026
    """
    ys = np.asarray(values, dtype=float)
    xs = np.log(np.arange(1, ys.size + 1, dtype=float))
    keep = np.isfinite(ys)
    if keep.sum() < 2:
        return math.nan
    b, a = np.polyfit(xs[keep], ys[keep], 1)
    return float(a + b * math.log(to_epoch))


def verdict(mean_a: float, mean_b: float, pooled: float, factor: float = 2.0) -> str:
    """``'A beats B'``, ``'B beats A'`` or ``'tie'``: a difference counts only above ``factor``
    times the pooled seed std (unknown noise -- NaN -- is always a tie)."""
    if not (pooled == pooled) or pooled < 0:
        return "tie"
    d = mean_a - mean_b
    if abs(d) <= factor * pooled:
        return "tie"
    return "A beats B" if d > 0 else "B beats A"
