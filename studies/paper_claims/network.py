"""Network-level cost claims of the SDHRNet paper, checked against archlab's exact counts: the
"41% / 36% (36.6%)" reductions against HRNet (:func:`reductions`), the cost columns of Tables 1-3
(:func:`paper_table_rows`: which reading of Table 3's DASP row each row belongs to and which rows
are fitted rather than reproduced, :func:`table_counts`), the conventions the "GFLOPs" are in
(:func:`convention_table`) and where the parameters and multiply-adds go (:func:`cost_groups`).
The printed figures they are checked against are in :mod:`tables`.
"""
from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from archlab.cost.analytic import count
from archlab.cost.profiles import PROFILES
from archlab.nets.zoo import get_spec

from .tables import DASP_ROW_READINGS, EXPLAIN, PAPER_TABLES, PRINTED_REDUCTIONS, paper_row

__all__ = ["HRNET_PAPER_DIVISOR", "cached_count", "gflops", "reductions", "fitted_parts", "table_counts",
           "paper_table_rows", "cost_groups", "breakdown_table", "convention_table"]

#: HRNet's (and the SDHRNet paper's) "GFLOPs" divisor: conv + linear MACs / 2^30
HRNET_PAPER_DIVISOR = 2 ** 30


@lru_cache(maxsize=64)
def cached_count(name: str, size: tuple | None = None):
    """:func:`archlab.count` of a zoo model, memoised (the study asks for the same few many times)."""
    return count(name, size)


def gflops(report, profile: str = "hrnet_paper") -> float:
    """A :class:`~archlab.cost.analytic.CostReport`'s "GFLOPs" under a counting profile of
    :mod:`archlab.cost.profiles` (``'hrnet_paper'``: conv + linear multiply-adds / 2^30)."""
    return float(report.to(profile))


def _reduction(quantity, source, new_label, new, old_label, old, unit) -> dict:
    return {"quantity": quantity, "source": source, "SDHRNet": new_label, "HRNet": old_label,
            "sdhrnet_value": new, "hrnet_value": old, "unit": unit, "reduction": 1 - new / old,
            "reduction_pct": round(100 * (1 - new / old), 2)}


def _counted_reduction(quantity: str, source: str, new: str, old: str) -> dict:
    """The reduction from archlab's exact counts of zoo models ``new`` (SDHRNet) and ``old`` (HRNet)."""
    s, h = cached_count(new), cached_count(old)
    if quantity == "params":
        return _reduction(quantity, source, new, s.params, old, h.params, "parameters")
    return _reduction(quantity, source, new, gflops(s), old, gflops(h), "conv+linear MACs / 2^30")


def _printed_reduction(quantity: str, source: str, table: str, new_row: str, old_row: str) -> dict:
    """The reduction from the rounded figures ``table`` prints in rows ``new_row`` and ``old_row``."""
    new, old = paper_row(table, new_row), paper_row(table, old_row)
    if quantity == "params":
        return _reduction(quantity, source, f"{new.params_M} M", float(new.params_M), f"{old.params_M} M",
                          float(old.params_M), "M parameters")
    return _reduction(quantity, source, new.GFLOPs, float(new.GFLOPs), old.GFLOPs, float(old.GFLOPs),
                      "printed GFLOPs")


def reductions():
    """Reductions of SDHRNet against HRNet-W32 under every pairing the paper could have used:
    archlab's exact counts (COCO 256x192, MPII 256x256, and the mixed COCO-vs-MPII pairing of
    Table 3) and the tables' printed, rounded figures. ``reduction = 1 - new / old``."""
    rows = []
    for quantity in ("params", "GFLOPs"):
        for ds in ("coco", "mpii"):
            size = "x".join(map(str, cached_count(f"sdhrnet_{ds}").input_size))
            rows.append(_counted_reduction(quantity, f"archlab, {ds.upper()} {size}", f"sdhrnet_{ds}",
                                           f"hrnet_w32_{ds}"))
    rows.append(_counted_reduction("GFLOPs", "archlab, mixed: SDHRNet COCO 256x192 vs HRNet MPII 256x256 "
                                   "(Table 3's pairing)", "sdhrnet_coco", "hrnet_w32_mpii"))
    rows += [_printed_reduction(*r) for r in PRINTED_REDUCTIONS]
    df = pd.DataFrame(rows)
    df["matches_41pct"] = df["quantity"].eq("params") & (df["reduction_pct"].apply(math.floor) == 41)
    df["matches_36pct"] = df["quantity"].eq("GFLOPs") & (df["reduction_pct"].apply(math.floor) == 36)
    df["matches_36.6pct"] = df["quantity"].eq("GFLOPs") & (df["reduction_pct"].round(1) == 36.6)
    return df


def _decimals(s: str) -> int:
    return len(s.split(".")[1]) if "." in s else 0


def _matches(value: float, printed: str) -> bool:
    """``value`` rounded to the printed precision equals the printed figure."""
    return round(value, _decimals(printed)) == float(printed)


def fitted_parts(model: str) -> str:
    """The parts of a zoo model whose unstated details archlab chose so that the paper's cost
    columns would come out (``''`` when none): the DASP head's widths (not given in the paper;
    picked inside the window Tables 2-3 leave) and the SEM placement they were picked with.
    A row with such parts is *fitted*: matching it shows consistency, not an independent
    reproduction.

    >>> fitted_parts("sdhrnet_coco"), fitted_parts("hrnet_w32_coco")
    ('DASP widths, SEM placement', '')
    """
    spec = get_spec(model)
    parts = (["DASP widths"] if spec.head.type == "dasp" else []) + \
        (["SEM placement"] if any(st.sem for st in spec.stages) else [])
    return ", ".join(parts)


def table_counts(tables) -> dict:
    """Reproduced rows of :func:`paper_table_rows` under each reading of Table 3's DASP row
    (the two readings are one printed row, so each reading has ``len(tables) - 1`` rows), and
    how many reproduced rows are fitted (:func:`fitted_parts`)."""
    out = {}
    for reading in ("literal", "favourable"):
        t = tables[tables["reading"].isin(("both", reading))]
        rep = t[t["verdict"] == "reproduced"]
        out[reading] = {"rows": len(t), "reproduced": len(rep), "fitted": int(rep["fitted"].ne("").sum())}
    return out


def paper_table_rows():
    """Tables 1-3's params and GFLOPs columns, archlab's figures beside them in the paper's
    convention (params in M to the printed precision; GFLOPs in the row's profile:
    ``hrnet_paper`` = conv+linear MACs / 2^30, Lite-HRNet rows in ``litehrnet_paper``), the
    ``hrnet_paper`` figure for every row, a verdict with an explanation, which reading of Table
    3's DASP row the row belongs to (``reading``) and what in it was fitted (``fitted``)."""
    rows = []
    for table, row, model, p_print, g_print, profile in PAPER_TABLES:
        r = cached_count(model)
        g, g_hr, pm = gflops(r, profile), gflops(r, "hrnet_paper"), r.params / 1e6
        p_ok, g_ok = _matches(pm, p_print), _matches(g, g_print)
        verdict = "reproduced" if p_ok and g_ok else "not reproduced"
        note = ""
        if (table, row) in EXPLAIN:
            note = EXPLAIN[table, row].format(mpii=gflops(cached_count("hrnet_w32_mpii")),
                                              coco=gflops(cached_count("hrnet_w32_coco")), p=pm, g=g_hr)
        elif row.startswith("Lite-HRNet"):
            note = _litehrnet_note(model, profile, r.input_size, g_hr)
        if verdict == "not reproduced" and not note:
            note = "see the report"
        rows.append({"table": table, "row": row, "model": model, "input": "x".join(map(str, r.input_size)),
                     "paper_params_M": p_print, "archlab_params": r.params, "archlab_params_M": round(pm, 3),
                     "params_match": p_ok, "paper_GFLOPs": g_print, "convention": profile,
                     "archlab_GFLOPs": round(g, 4), "GFLOPs_match": g_ok,
                     "hrnet_paper_GFLOPs": round(g_hr, 4), "verdict": verdict,
                     "reading": DASP_ROW_READINGS.get(row, "both"), "fitted": fitted_parts(model),
                     "explanation": note})
    return pd.DataFrame(rows)


def _litehrnet_note(model: str, profile: str, input_size, g_hr: float) -> str:
    """A Lite-HRNet row's GFLOPs at the other input size (256x192 <-> 256x256) and in HRNet's convention."""
    size = "x".join(map(str, input_size))
    other = (256, 192) if size == "256x256" else (256, 256)
    alt = gflops(cached_count(model, other), profile)
    return (f"Lite-HRNet's own convention at {size}; at {other[0]}x{other[1]} it would be {alt:.3f} "
            f"(x{(4 / 3) if size == '256x192' else (3 / 4):.3f}, the pixel ratio); "
            f"HRNet's convention gives {g_hr:.3f}")


# ----------------------------------------------------------------------------------------------
# where the cost goes

def _group_of(path: str) -> str:
    parts = path.split(".")
    top = parts[0]
    if top == "stages" and len(parts) > 1:
        s = int(parts[1]) + 2                       # stages.0 is the paper's stage 2
        if "fuse_layers" in parts or len(parts) <= 3 or parts[3] != "branches":
            return f"stage {s} fuse"
        return f"stage {s} branch {int(parts[4])}" if len(parts) > 4 and parts[4].isdigit() else f"stage {s}"
    if top == "transitions":
        return "transitions"
    if top == "sem":
        return "SEM"
    if top == "head":
        return "head (DASP / final)"
    return top


def cost_groups(name: str, input_size=None):
    """Parameters and multiply-adds of a network grouped as stem, transitions, stage ``s``
    branch ``b`` (HRNet's stage numbering: ``stages.0`` is stage 2; branches 0-based as in
    module paths and ``StageSpec.sem``, 0 = highest resolution; blocks over all modules), stage
    ``s`` fuse (``...fuse_layers...`` and the exchange adds), SEM (``sem.*``) and head (``head.*``), from ``count(name).ops``.
    Columns: ``params``, ``macs`` (conv + linear, the hrnet_paper numerator), ``bmm_macs``."""
    r = cached_count(name, None if input_size is None else tuple(input_size))
    acc: dict[str, list[int]] = {}
    for o in r.ops:
        g = _group_of(o.module)
        row = acc.setdefault(g, [0, 0, 0])
        row[0] += o.params
        if o.op in ("conv", "linear"):
            row[1] += o.macs
        elif o.op == "bmm":
            row[2] += o.macs
    df = pd.DataFrame.from_dict(acc, orient="index", columns=["params", "macs", "bmm_macs"])
    df.index.name = "group"
    if int(df["params"].sum()) != r.params:
        raise RuntimeError(f"cost_groups: grouped parameters of {name!r} do not add up")
    return df


def breakdown_table(models=("hrnet_w32_coco", "sdhrnet_coco")):
    """:func:`cost_groups` of several models side by side (long format, one row per model and
    group, with shares of the model's total)."""
    frames = []
    for m in models:
        df = cost_groups(m).reset_index()
        df.insert(0, "model", m)
        df["params_share"] = df["params"] / df["params"].sum()
        df["macs_share"] = df["macs"] / df["macs"].sum()
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def convention_table(models=("hrnet_w32_coco", "hrnet_w48_coco", "hrnet_w32_mpii", "sdhrnet_coco",
                             "litehrnet_18_coco")):
    """The same networks' cost under several conventions: conv+linear MACs / 2^30
    (``hrnet_paper``), / 10^9, FLOPs = 2 x MACs / 10^9, and every profile of
    :mod:`archlab.cost.profiles`."""
    rows = []
    for m in models:
        r = cached_count(m)
        cl = sum(o.macs for o in r.ops if o.op in ("conv", "linear"))
        row = {"model": m, "input": "x".join(map(str, r.input_size)), "params": r.params,
               "conv+linear MACs / 2^30": cl / 2 ** 30, "conv+linear MACs / 10^9": cl / 1e9,
               "2 x conv+linear MACs / 10^9": 2 * cl / 1e9}
        for p in PROFILES:
            row[f"profile {p}"] = gflops(r, p)
        rows.append(row)
    return pd.DataFrame(rows)
