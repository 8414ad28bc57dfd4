"""Figures for searches and studies: Pareto scatter plots, the paper-style bubble chart and the
hypervolume history. Every figure is written as PNG and SVG plus a JSON sidecar read back from the
drawn artists (:mod:`archlab.plots.save`), so tests and reports can check exactly what was drawn.

Conventions: a Pareto front is computed in the plane it is drawn in (the two plotted columns, each
with its own direction), over the points that have both values, with twin trials (same knob
settings) drawn once; every legend entry says how many points it stands for.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .save import save_figure  # noqa: E402

__all__ = ["paper_points", "pareto_scatter", "bubble_chart", "hypervolume_plot", "label_points", "plane_points",
           "CONVENTIONS"]

#: what each ``gflops_convention`` of ``paper_points.csv`` means (legend text of the bubble chart)
CONVENTIONS = {"hrnet_paper": "HRNet's convention: conv+linear MACs / 2^30",
               "litehrnet_paper": "Lite-HRNet's own: torchstat Flops (MACs + BN + act) / 2^30",
               "as_cited": "cited from other papers, convention not checked"}


def paper_points(dataset: str | None = None) -> pd.DataFrame:
    """The SDHRNet paper's Table 1 (MPII) and Table 2 (COCO) rows (source in the CSV header)."""
    with resources.files("archlab.plots").joinpath("paper_points.csv").open() as f:
        df = pd.read_csv(f, comment="#")
    return df if dataset is None else df[df["dataset"] == dataset].reset_index(drop=True)


def short_name(label) -> str:
    """A point label: a spec path (``studies/specs/x.yaml``) becomes its stem (``x``)."""
    text = str(label)
    return Path(text).stem if text.endswith((".yaml", ".yml")) else text


def _overlaps(box, boxes, pad=1.0) -> bool:
    return any(box.x0 < b.x1 + pad and b.x0 < box.x1 + pad and box.y0 < b.y1 + pad and b.y0 < box.y1 + pad
               for b in boxes)


def _annotate(ax, name, xy, offset, ha, fontsize, gid, leader):
    ann = ax.annotate(name, xy, xytext=offset, textcoords="offset points", fontsize=fontsize, va="center", ha=ha,
                      gid=gid, bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.7},
                      arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "#555555", "shrinkA": 0,
                                           "shrinkB": 3} if leader else None)
    ann.update_positions(ax.figure.canvas.get_renderer())
    return ann


def label_points(ax, xs, ys, names, *, fontsize: float = 8, gid: str = "point label") -> list:
    """Name points so no two labels print on top of each other: each label goes beside its point
    (right, or left near the right edge) and, where it would overlap a label already placed, is
    moved up or down by whole lines and joined to its point by a thin leader line."""
    fig = ax.figure
    ax.autoscale_view()
    renderer = fig.canvas.get_renderer()
    px = ax.transData.transform(np.c_[np.asarray(xs, float), np.asarray(ys, float)]) if len(names) else []
    r = 7 * fig.dpi / 72   # keep labels off the labelled markers too
    placed = [matplotlib.transforms.Bbox([[p[0] - r, p[1] - r], [p[0] + r, p[1] + r]]) for p in px]
    anns, step = [], fontsize * 1.25
    for i in np.argsort([-p[1] for p in px]) if len(names) else []:
        x, y, name = xs[i], ys[i], str(names[i])
        probe = ax.annotate(name, (x, y), xytext=(9, 0), textcoords="offset points", fontsize=fontsize, va="center")
        right = probe.get_window_extent(renderer).x1 < ax.bbox.x1
        probe.remove()
        dx, ha = (9, "left") if right else (-9, "right")
        for k in [0] + [s * j for j in range(1, 15) for s in (-1, 1)]:
            ann = _annotate(ax, name, (x, y), (dx, k * step), ha, fontsize, gid, leader=k != 0)
            box = matplotlib.text.Text.get_window_extent(ann, renderer)   # the text, not its leader line
            inside = ax.bbox.y0 <= box.y0 and box.y1 <= ax.bbox.y1
            if inside and not _overlaps(box, placed):
                break
            ann.remove()
        else:   # no free place within 14 lines: the nearest one
            ann = _annotate(ax, name, (x, y), (dx, 0), ha, fontsize, gid, leader=False)
            box = matplotlib.text.Text.get_window_extent(ann, renderer)
        placed.append(box)
        anns.append(ann)
    return anns


def plane_points(df: pd.DataFrame, x: str, y: str, directions, label_col: str | None = "baseline") -> pd.DataFrame:
    """The rows of a trials table drawn in the (``x``, ``y``) plane: those with both values, twins
    (same ``param_*`` knob settings) once, at the first trial's values, with ``group`` (trials /
    over budget / baselines) and ``front`` (non-dominated among the feasible rows in this plane,
    ``directions`` per column). ``attrs``: ``twins`` left out, ``twins_differing`` of them with
    other values than the first (a re-scored configuration: the proxy's run-to-run spread)."""
    from ..search.pareto import pareto_mask
    valid = df.dropna(subset=[x, y])
    knobs = [c for c in valid.columns if c.startswith("param_")]
    key = valid[knobs].astype(str).agg("|".join, axis=1) if knobs else pd.Series(valid.index.astype(str), valid.index)
    twin = key.duplicated()
    first = valid[~twin].set_index(key[~twin])[[x, y]]
    pts = valid[~twin].copy()
    feas = pts["feasible"].astype(bool) if "feasible" in pts else pd.Series(True, index=pts.index)
    base = pts[label_col].notna() if label_col and label_col in pts else pd.Series(False, index=pts.index)
    pts["group"] = np.where(base, "baselines", np.where(feas, "trials", "over budget"))
    pts["front"] = False
    if feas.any():
        pts.loc[feas, "front"] = pareto_mask(pts.loc[feas, [x, y]].to_numpy(float), list(directions))
    pts.attrs["twins"] = int(twin.sum())
    pts.attrs["twins_differing"] = int((valid.loc[twin, [x, y]].to_numpy() != first.loc[key[twin]].to_numpy())
                                       .any(axis=1).sum()) if twin.any() else 0
    return pts


_STYLE = {"trials": {"s": 14, "c": "#9aa7b8", "alpha": 0.7, "marker": "o"},
          "over budget": {"s": 12, "c": "#d0a0a0", "marker": "x"},
          "baselines": {"s": 150, "c": "#00798c", "marker": "*", "zorder": 5}}


def pareto_scatter(df: pd.DataFrame, x: str, y: str, path, *, xlabel: str, ylabel: str, title: str = "",
                   directions=("minimize", "minimize"), logx: bool = False, label_col: str | None = "baseline",
                   xerr: str | None = None, yerr: str | None = None, err_label: str = "IQR") -> list[Path]:
    """Trials, over-budget trials and baselines (named) in the (``x``, ``y``) plane, with the
    Pareto front of this plane joined (:func:`plane_points`). ``xerr``/``yerr`` name columns of
    spread drawn as error bars of that full length (e.g. an IQR, centred on the median)."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    pts = plane_points(df, x, y, directions, label_col)
    for g, style in _STYLE.items():
        sub = pts[pts["group"] == g]
        if len(sub):
            ax.scatter(sub[x], sub[y], label=f"{g} (n={len(sub)})", gid=g, **style)
    front = pts[pts["front"]].sort_values([x, y])
    ax.plot(front[x], front[y], "-o", c="#d1495b", ms=5, lw=1.5, mfc="none", mew=1.3, gid="front", zorder=6,
            label=f"Pareto front in this plane (n={len(front)})")
    for col, axis in ((xerr, "x"), (yerr, "y")):
        if col and col in pts and pts[col].notna().any():
            e = pts[pts[col].notna()]
            bars = ax.errorbar(e[x], e[y], **{f"{axis}err": e[col].to_numpy(float) / 2}, fmt="none", capsize=2,
                               ecolor="#444444", elinewidth=0.8, gid=f"{axis} spread", zorder=4,
                               label=f"{err_label} of timed repeats (n={len(e)})")
            for cap in bars[1]:
                cap.set_gid(f"{axis} spread caps")
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if label_col and label_col in pts:
        b = pts[pts["group"] == "baselines"]
        label_points(ax, b[x].tolist(), b[y].tolist(), [short_name(v) for v in b[label_col]], gid="baseline label")
    twins, differ = pts.attrs["twins"], pts.attrs["twins_differing"]
    note = f"{twins} twin trial(s) (same configuration) drawn once, at the first trial's values" if twins else None
    if differ:
        note += f";\n{differ} of them scored differently from the first"
    lines = xlabel.count("\n") + 1   # the legend goes below the x label, clear of every point
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08 - 0.065 * lines), ncol=2, title=note,
              title_fontsize=7)
    cols = [c for c in ("trial", x, y, xerr, yerr, "group", "front") if c and c in pts]
    data = {"x": x, "y": y, "directions": list(directions), "twins_drawn_once": twins, "twins_differing": differ,
            "points": pts[cols].to_dict("list")}
    return save_figure(fig, path, data)


def _paper_panel(ax, ref, scale):
    marks = {"hrnet_paper": "o", "litehrnet_paper": "^", "as_cited": "s"}
    for conv, sub in ref.groupby("gflops_convention", sort=False):
        ax.scatter(sub["gflops"], sub["score"], s=sub["params_m"] * scale, c="#bbbbbb", alpha=0.6,
                   marker=marks.get(conv, "s"), edgecolors="#555555", gid=f"paper: {conv}")
    names = [f"{r['method']} ({r['backbone']})" if isinstance(r["backbone"], str) and r["backbone"] != r["method"]
             else str(r["method"]) for _, r in ref.iterrows()]
    label_points(ax, ref["gflops"].tolist(), ref["score"].tolist(), names, fontsize=7)
    handles = [Line2D([], [], marker=marks.get(c, "s"), ls="", mfc="#bbbbbb", mec="#555555", ms=8,
                      label=f"{CONVENTIONS.get(c, c)} (n={int((ref['gflops_convention'] == c).sum())})")
               for c in ref["gflops_convention"].unique()]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1,
              title="GFLOPs as printed, convention:", title_fontsize=7)   # below: clear of the labels


def bubble_chart(ours: pd.DataFrame, path, *, dataset: str = "coco", x: str = "gflops", y: str = "score",
                 size: str = "params_m", xlabel: str = "multiply-adds [hrnet_paper: conv+linear MACs / 2^30]",
                 ours_ylabel: str = "archlab: PCK@0.2 (%, LSPET)", title: str | None = None) -> list[Path]:
    """Paper Fig. 1 style: accuracy vs cost, bubble area proportional to parameters.

    Left panel: the paper's reference rows (its Tables 1-2, metric of ``dataset``), one marker per
    counting convention the printed GFLOPs use; right panel: ``ours`` (columns ``name``, ``x``,
    ``y``, ``size``, optional ``kind`` 'baseline'/'trial'), counted by archlab in the convention
    ``xlabel`` names, on the same cost axis and bubble scale. The accuracy metrics differ (COCO AP
    vs LSPET PCK), so they get separate y axes rather than one misleading shared axis."""
    ref = paper_points(dataset).dropna(subset=["gflops"])
    sns.set_theme(style="whitegrid", context="notebook")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(14, 5.5), sharex=True, gridspec_kw={"wspace": 0.35})
    scale = 30.0
    ax0.set_xscale("log")
    _paper_panel(ax0, ref, scale)
    ax0.set_ylabel("paper: AP (%, COCO val2017)" if dataset == "coco" else "paper: PCKh@0.5 (%, MPII val)")
    ax0.set_title(f"SDHRNet paper, {dataset.upper()} (area ∝ params)")
    ax0.set_xlabel("GFLOPs as printed in the paper\n(counting convention per marker, see legend)")
    kinds = ours["kind"] if "kind" in ours else pd.Series("trial", index=ours.index)
    for kind, marker, c in (("trial", "o", "#d1495b"), ("baseline", "D", "#00798c")):
        sub = ours[kinds == kind]
        if len(sub):
            ax1.scatter(sub[x], sub[y], s=sub[size] * scale, c=c, alpha=0.6, marker=marker, edgecolors="#333333",
                        gid=f"archlab {kind}s", label=f"archlab {kind}s (n={len(sub)})")
    if len(ours):
        label_points(ax1, ours[x].tolist(), ours[y].tolist(), ours.get("name", ours.index).tolist(), fontsize=7)
        ax1.legend(fontsize=7, loc="lower right")
    ax1.set_ylabel(ours_ylabel)
    ax1.set_title(title or "archlab search (area ∝ params, same scale)")
    ax1.set_xlabel(xlabel)
    cols = ["method", "backbone", "gflops", "gflops_convention", "score", "params_m"]
    data = {"reference": ref[cols].to_dict("list"), "ours": ours.to_dict("list") if len(ours) else {}}
    return save_figure(fig, path, data)


def hypervolume_plot(hv: pd.DataFrame, path, *, unit: str = "", reference: str = "", scale: float = 1.0,
                     failed=(), title: str = "Hypervolume over trials") -> list[Path]:
    """Hypervolume (``hv.hypervolume / scale``, in ``unit``) after each completed trial; the line
    is broken at trial numbers without a value (failed, pruned or still running: ``failed`` are
    marked below the curve). ``reference`` (the reference point, in words) is printed in the plot."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7, 4.4))
    last = max([int(hv["trial"].max()) if len(hv) else 0, *[int(t) for t in failed]])
    full = hv.set_index("trial")["hypervolume"].reindex(range(last + 1)) / scale
    ms = 4 if len(hv) <= 100 else 1.5
    ax.plot(full.index, full.to_numpy(), "-o", c="#00798c", ms=ms, lw=1.2, gid="hypervolume",
            label=f"after each completed trial (n={len(hv)})")
    if len(failed):
        ax.plot(list(failed), [0.03] * len(failed), "x", c="#d1495b", ms=7, mew=1.5, gid="failed",
                transform=ax.get_xaxis_transform(), label=f"failed or pruned trials: no value, line broken (n={len(failed)})")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"hypervolume of the feasible front{f'{chr(10)}({unit})' if unit else ''}")
    ax.set_title(title)
    if reference:   # below the axes, clear of the curve
        ax.annotate(f"reference point: {reference}", (0, 0), xycoords="axes fraction", xytext=(0, -36),
                    textcoords="offset points", ha="left", va="top", fontsize=7, gid="reference")
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, path, {"trial": hv["trial"].tolist(), "hypervolume": hv["hypervolume"].tolist(),
                                   "scale": scale, "unit": unit, "reference": reference,
                                   "failed": [int(t) for t in failed]})
