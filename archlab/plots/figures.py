"""Figures for searches and studies: Pareto scatter plots, the paper-style bubble chart and the
hypervolume history. Every figure is written as PNG and SVG plus a JSON sidecar holding its axes
labels and plotted data, so tests and reports can read back exactly what was drawn."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["paper_points", "save_figure", "pareto_scatter", "bubble_chart", "hypervolume_plot", "read_figure_data"]


def paper_points(dataset: str | None = None) -> pd.DataFrame:
    """The SDHRNet paper's Table 1 (MPII) and Table 2 (COCO) rows (source in the CSV header)."""
    with resources.files("archlab.plots").joinpath("paper_points.csv").open() as f:
        df = pd.read_csv(f, comment="#")
    return df if dataset is None else df[df["dataset"] == dataset].reset_index(drop=True)


def save_figure(fig, path: str | Path, data: dict) -> list[Path]:
    """Write ``path``.png, ``path``.svg and ``path``.json (axes labels + data); close the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = [{"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
             "xscale": ax.get_xscale(), "yscale": ax.get_yscale()} for ax in fig.axes if ax.get_label() != "<colorbar>"]
    out = [path.with_suffix(".png"), path.with_suffix(".svg"), path.with_suffix(".json")]
    fig.savefig(out[0], dpi=150, bbox_inches="tight")
    fig.savefig(out[1], bbox_inches="tight")
    out[2].write_text(json.dumps({"axes": axes, **data}, indent=1, default=float))
    plt.close(fig)
    return out


def short_name(label) -> str:
    """A point label: a spec path (``studies/specs/x.yaml``) becomes its stem (``x``)."""
    text = str(label)
    return Path(text).stem if text.endswith((".yaml", ".yml")) else text


def read_figure_data(path: str | Path) -> dict:
    return json.loads(Path(path).with_suffix(".json").read_text())


def pareto_scatter(df: pd.DataFrame, x: str, y: str, path, *, xlabel: str, ylabel: str, title: str = "",
                   logx: bool = False, label_col: str | None = "baseline") -> list[Path]:
    """All trials as points, the Pareto front (``df.pareto``) highlighted and joined, baselines named."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7, 5))
    feas = df[df.get("feasible", True) == True] if "feasible" in df else df  # noqa: E712
    infeas = df[~df.index.isin(feas.index)]
    ax.scatter(feas[x], feas[y], s=14, c="#9aa7b8", label=f"trials ({len(feas)})", alpha=0.7)
    if len(infeas):
        ax.scatter(infeas[x], infeas[y], s=10, marker="x", c="#d0a0a0", label=f"over budget ({len(infeas)})")
    front = feas[feas["pareto"]].sort_values(x) if "pareto" in feas else feas.iloc[:0]
    ax.plot(front[x], front[y], "-o", c="#d1495b", ms=5, lw=1.5, label=f"Pareto front ({len(front)})")
    if label_col and label_col in df:
        for _, r in df[df[label_col].notna()].iterrows():
            ax.scatter([r[x]], [r[y]], marker="*", s=160, c="#00798c", zorder=5)
            ax.annotate(short_name(r[label_col]), (r[x], r[y]), xytext=(5, 5), textcoords="offset points",
                        fontsize=8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    data = {"x": x, "y": y, "points": feas[[x, y]].to_dict("list"), "front": front[[x, y]].to_dict("list")}
    return save_figure(fig, path, data)


def bubble_chart(ours: pd.DataFrame, path, *, dataset: str = "coco", x: str = "gflops", y: str = "score",
                 size: str = "params_m", xlabel: str = "GFLOPs [hrnet_paper: conv+linear MACs / 2^30]",
                 ours_ylabel: str = "archlab: validation PCK@0.2 (%, LSPET)", title: str | None = None) -> list[Path]:
    """Paper Fig. 1 style: accuracy vs cost, bubble area proportional to parameters.

    Left panel: the paper's reference rows (its Tables 1-2, metric of ``dataset``); right panel:
    ``ours`` (columns ``name``, ``x``, ``y``, ``size``) on the same cost axis and bubble scale.
    The two accuracy metrics differ (e.g. COCO AP vs LSPET PCK), so they get separate y axes
    rather than one misleading shared axis."""
    ref = paper_points(dataset).dropna(subset=["gflops"])
    sns.set_theme(style="whitegrid", context="notebook")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 5), sharex=True, gridspec_kw={"wspace": 0.3})
    scale = 30.0
    ax0.scatter(ref["gflops"], ref["score"], s=ref["params_m"] * scale, c="#bbbbbb", alpha=0.6,
                edgecolors="#555555", label="paper Tables 1-2")
    for i, (_, r) in enumerate(ref.iterrows()):
        name = f"{r['method']} ({r['backbone']})" if isinstance(r["backbone"], str) and r["backbone"] != r["method"] \
            else str(r["method"])
        ax0.annotate(name, (r["gflops"], r["score"]), fontsize=7, xytext=(4, -8 if i % 2 else 4),
                     textcoords="offset points")
    ax0.set_ylabel("paper: AP (%, COCO val2017)" if dataset == "coco" else "paper: PCKh@0.5 (%, MPII val)")
    ax0.set_title(f"SDHRNet paper, {dataset.upper()} (area ∝ params)")
    if len(ours):
        ax1.scatter(ours[x], ours[y], s=ours[size] * scale, c="#d1495b", alpha=0.6, edgecolors="#7a1f2b",
                    label="archlab")
        for _, r in ours.iterrows():
            ax1.annotate(str(r.get("name", "")), (r[x], r[y]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax1.set_ylabel(ours_ylabel)
    ax1.set_title(title or "archlab search (area ∝ params, same scale)")
    for ax in (ax0, ax1):
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
    data = {"reference": ref[["method", "backbone", "gflops", "score", "params_m"]].to_dict("list"),
            "ours": ours.to_dict("list") if len(ours) else {}}
    return save_figure(fig, path, data)


def hypervolume_plot(hv: pd.DataFrame, path, *, title: str = "Hypervolume over trials") -> list[Path]:
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(hv["trial"], hv["hypervolume"], c="#00798c")
    ax.set_xlabel("trial")
    ax.set_ylabel("hypervolume of the feasible front")
    ax.set_title(title)
    return save_figure(fig, path, {"trial": hv["trial"].tolist(), "hypervolume": hv["hypervolume"].tolist()})
