"""The LSPET search study's figures (``studies/search_lspet.py`` computes what they draw).

    accuracy_vs_latency.png      final-protocol accuracy (error bars: seed std) against ONNX Runtime
                                 latency (error bars: IQR); the front is computed in this plane
    proxy_vs_final.png           each cheap score against the final score, tau printed on it
    fidelity_curve.png           tau of search-val after k final-protocol epochs against CPU-hours
                                 per model, the rung scores beside it

Each is saved with the data it plots (``archlab.plots.save.save_figure``), which the tests read.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

import final_protocol as fp

from archlab.plots.figures import label_points
from archlab.search.pareto import pareto_mask

#: the issue's goal for the Kendall tau of the score the search acts on (drawn on the fidelity curve)
TAU_GOAL = 0.6


def accuracy_figure(t: pd.DataFrame, noise: float):
    """Final-protocol accuracy (seed std bars) vs ONNX Runtime latency (IQR bars); front in this plane."""
    import matplotlib.pyplot as plt
    from archlab.plots.save import save_figure
    d = t.dropna(subset=["pck_mean", "latency_ms"]) if "latency_ms" in t else t.iloc[0:0]
    if d.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.errorbar(d["latency_ms"], d["pck_mean"], xerr=d["latency_iqr_ms"], yerr=d["pck_std"].fillna(0),
                fmt="o", capsize=3, label=f"models (n={len(d)})")
    fd = d[pareto_mask(d[["latency_ms", "pck_mean"]], ("minimize", "maximize"))].sort_values("latency_ms")
    ax.plot(fd["latency_ms"], fd["pck_mean"], "--", color="tab:red", label=f"front in this plane (n={len(fd)})")
    names = [f"{m} ({int(n)} seed{'' if int(n) == 1 else 's'})" for m, n in zip(d["model"], d["seeds_done"])]
    label_points(ax, list(d["latency_ms"]), list(d["pck_mean"]), names, fontsize=7)
    noise_txt = f"pooled seed std {noise:.2f}" if noise == noise else "seed std not yet measured"
    ax.set(xlabel="ONNX Runtime latency (ms; 128x96, batch 1, 1 thread; bars: IQR)",
           ylabel="report-test PCK@0.2, flip test (%; bars: seed std)",
           title=f"LSPET final protocol ({fp.EPOCHS} epochs); {noise_txt}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, fp.OUT / "accuracy_vs_latency", data={"front": list(fd["model"])})[0]


def proxy_figure(t: pd.DataFrame, fid):
    """Each cheap score (a proxy) against the final score, its Kendall tau printed on the panel."""
    import matplotlib.pyplot as plt
    from archlab.plots.save import save_figure
    if fid is None or fid.empty:
        return None
    cols = list(fid["score"])
    ncol = min(4, len(cols))
    nrow = math.ceil(len(cols) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax in axes.flat[len(cols):]:
        ax.set_visible(False)
    for ax, c in zip(axes.flat, cols):
        d = t.dropna(subset=[c, "pck_mean"])
        ax.scatter(d[c], d["pck_mean"], s=18, label=f"models (n={len(d)})")
        row = fid[fid["score"] == c].iloc[0]
        ax.set_title(f"tau {row['tau']:.2f} [{row['tau_lo']:.2f}, {row['tau_hi']:.2f}]", fontsize=9)
        ax.set(xlabel=f"{c} (proxy)", ylabel="final report-test PCK@0.2 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, fp.OUT / "proxy_vs_final", data={"tau": dict(zip(fid["score"], fid["tau"]))})[0]


def _yerr(mid, lo, hi) -> list:
    """Error-bar lengths below and above (0 where an interval is degenerate or rounds past its point)."""
    import numpy as np
    mid, lo, hi = (np.asarray(x, dtype=float) for x in (mid, lo, hi))
    return [np.nan_to_num(np.clip(mid - lo, 0, None)), np.nan_to_num(np.clip(hi - mid, 0, None))]


def fidelity_curve_figure(curve: pd.DataFrame, fid) -> Path | None:
    """tau of search-val after k final-protocol epochs against CPU-hours per model, the rung scores
    of separate runs (seed 0) as points beside it, and the goal as a line."""
    import matplotlib.pyplot as plt
    from archlab.plots.save import save_figure
    if curve.empty:
        return None
    fig, ax = plt.subplots(figsize=(9.6, 4.4))
    err = _yerr(curve["tau"], curve["tau_lo"], curve["tau_hi"])
    ax.errorbar(curve["cpu_h_per_model"], curve["tau"], yerr=err, marker="o", capsize=3,
                label=f"search-val after k of {fp.EPOCHS} final epochs (seed 0, n={int(curve['n'].max())})")
    if "tau_other_seeds" in curve:
        c = curve.dropna(subset=["tau_other_seeds"])
        ax.errorbar(c["cpu_h_per_model"], c["tau_other_seeds"], marker="^", capsize=3, linestyle=":",
                    yerr=_yerr(c["tau_other_seeds"], c["tau_other_seeds_lo"], c["tau_other_seeds_hi"]),
                    label=f"the same against seeds >= 1 only (independent noise, n={int(c['n_other_seeds'].max())})")
    rungs = fid[fid["score"].str.match(r"rung_\d+ep_[a-z0-9]+(_d[0-9-]+)?(_mean\d+)?$")] if fid is not None else pd.DataFrame()
    for _, r in rungs.iterrows():
        ax.errorbar(r["cpu_hours"] / r["n"], r["tau"], yerr=_yerr([r["tau"]], [r["tau_lo"]], [r["tau_hi"]]),
                    marker="s", capsize=3, linestyle="none", label=f"{r['score']} (own runs, n={r['n']})")
    ax.axhline(TAU_GOAL, color="grey", linestyle="--", label=f"goal tau {TAU_GOAL}")
    ax.set(xlabel="CPU-hours per model", ylabel="Kendall tau vs final report-test PCK@0.2",
           title="How much training a score needs before it ranks models")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    data = {"curve": curve.round(6).to_dict("list"),
            "rungs": {r["score"]: round(float(r["tau"]), 6) for _, r in rungs.iterrows()}}
    return save_figure(fig, fp.OUT / "fidelity_curve", data=data)[0]
