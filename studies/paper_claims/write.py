"""The paper-claims report: ``OUT/paper_claims.md``, its CSVs and its two figures (PNG + SVG +
JSON, via :func:`archlab.plots.save_figure`) under ``OUT/paper_claims/``, from the numbers
:func:`compute.collect` gathers. Run it as ``python studies/paper_claims.py --out reports``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import sympy as sp

from archlab.plots import save_figure  # (it selects matplotlib's non-interactive Agg backend)

from .compute import collect
from .equations import CONVENTION_TEXT, CONVENTIONS, C, eca_kernel_piecewise
from .network import HRNET_PAPER_DIVISOR

__all__ = ["STUDY_COMMAND", "run_study", "plot_ratio", "plot_breakdown"]

STUDY_COMMAND = "python studies/paper_claims.py --out reports"


# ----------------------------------------------------------------------------------------------
# figures

def plot_ratio(path, d: dict, c_min: int = 8, c_max: int = 1024) -> list:
    """Figure (a): SCR / BasicBlock parameter ratio against ``c`` (log x), from the curves ``d`` of
    :func:`equations.ratio_curves` over ``c_min..c_max``. PNG + SVG + JSON."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.plot(d["c"], d["paper_formula"], c="#00798c", lw=2, label="paper's eqs. (12)/(13): 19/36 + 1/(2c)")
    ax.plot(d["c"], d["paper_stated"], c="#d1495b", lw=1.6, ls="--", label="paper's eq. (14) as printed: 0.52 + 0.25/c")
    ax.plot(d["c_multiple_of_4"], d["bn_inclusive"], c="#edae49", lw=1.6, label="with BatchNorm: (19c+26)/(36c+8)")
    ax.plot(d["c_multiple_of_4"], d["full_module"], c="#30638e", lw=1.2, ls="-.",
            label="full module (BN, SE biases, ECA k_e(c)), c = 0 mod 4")
    ax.scatter(d["check_c"], d["check_full_module"], s=22, c="#30638e", zorder=5,
               label="real SCR / BasicBlock parameter counts")
    ax.axhline(d["limit"], c="#555555", lw=1, ls=":", label="limit c -> oo: 19/36 = 0.5278")
    ax.axhline(0.52, c="#d1495b", lw=0.8, ls=":", alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlim(c_min, c_max)
    ax.set_xlabel("channel count c (SCR(c, c) vs BasicBlock(c, c), k = k' = 3)")
    ax.set_ylabel("parameter ratio P_SCR / P_Basic")
    ax.set_title("Eq. (14): SCR / BasicBlock parameter ratio")
    ax.legend(fontsize=7.5, loc="upper right")
    return save_figure(fig, path, d)


def _group_order(tables: dict, models) -> list[str]:
    """The groups of every model's :func:`network.cost_groups` table in one order, the richest
    model's first (SDHRNet has SEM), each other group after the one it follows in its own table."""
    order: list[str] = []
    for m in reversed(models):
        prev = list(tables[m].index)
        for i, g in enumerate(prev):
            if g not in order:
                pos = order.index(prev[i - 1]) + 1 if i > 0 and prev[i - 1] in order else len(order)
                order.insert(pos, g)
    return order


def plot_breakdown(path, tables: dict, totals: dict) -> list:
    """Figure (b): where the parameters and the multiply-adds go, model beside model, by group:
    ``tables[model]`` is its :func:`network.cost_groups` table, ``totals[model]`` its (parameters,
    hrnet_paper GFLOPs). PNG + SVG + JSON."""
    models = list(tables)
    order = _group_order(tables, models)
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.36 * len(order) + 1.8), sharey=True)
    y = np.arange(len(order))
    hgt = 0.8 / len(models)
    colors = ["#9aa7b8", "#d1495b", "#00798c", "#edae49"]
    data = {"groups": order, "models": list(models), "params_M": {}, "GMACs_2^30": {}}
    for j, m in enumerate(models):
        t = tables[m].reindex(order).fillna(0)
        pm = (t["params"] / 1e6).tolist()
        gm = (t["macs"] / HRNET_PAPER_DIVISOR).tolist()
        data["params_M"][m] = pm
        data["GMACs_2^30"][m] = gm
        off = (j - (len(models) - 1) / 2) * hgt
        params, gflops = totals[m]
        axes[0].barh(y + off, pm, height=hgt, color=colors[j % 4], label=f"{m} ({params / 1e6:.2f} M)")
        axes[1].barh(y + off, gm, height=hgt, color=colors[j % 4], label=f"{m} ({gflops:.2f})")
    axes[0].set_yticks(y, order)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("parameters [M = 10^6]")
    axes[0].set_title("Parameters by group")
    axes[1].set_xlabel("conv + linear multiply-adds [G = 2^30, hrnet_paper]")
    axes[1].set_title("Multiply-adds by group")
    for ax in axes:
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Where the cost goes: COCO 256x192, batch 1 (stage s = stages.{s-2}; branch b = branches.{b}, "
                 "0-based: branch 0 = highest resolution)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, data)


def _cell(v, floatfmt: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "yes" if v else "no"
    if isinstance(v, int) or type(v).__name__.startswith("int"):
        return f"{int(v):,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) >= 1000:
            return f"{int(v):,}"
        return format(v, floatfmt)
    return str(v)


def _equation_summary(eqs):
    """:func:`equation_checks` pivoted: one row per (equation, quantity), one column per branch."""
    rows: dict = {}
    for _, r in eqs.iterrows():
        key = (r.equation, r.quantity)
        v = r.archlab
        txt = f"{v:.4f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v):,}"
        if r.equal is True:
            txt += " ✓"
        elif r.equal is False:
            txt += f" ✗ (paper {int(r.paper_formula):,})"
        rows.setdefault(key, {})[f"c={r.c} @ {r.HxW}"] = txt
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(df.index, names=["equation", "quantity"])
    return df.reset_index()


def _md(df, floatfmt=".4f", index=False, fmt: dict | None = None) -> str:
    """Markdown table with every cell formatted here (ints with thousands separators, floats with
    ``floatfmt`` or a per-column ``fmt``, booleans yes/no) and tabulate's number parsing off."""
    fmt = fmt or {}
    if index:
        df = df.reset_index()
    body = df.astype(object).copy()
    for col in body.columns:
        ff = fmt.get(col, floatfmt)
        body[col] = [_cell(v, ff) for v in body[col]]
    return body.to_markdown(index=False, disable_numparse=True)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"



def _sym(e) -> str:
    return f"`{sp.sstr(e)}`"


# ----------------------------------------------------------------------------------------------
# the study

def _write_data(d, sub: Path) -> list:
    """The CSVs and the two figures under ``sub``; returns the figure files."""
    d.checks.to_csv(sub / "eq14_ratio_checks.csv", index=False)
    d.eqs.to_csv(sub / "eq8_13_term_checks.csv", index=False)
    d.red.to_csv(sub / "reductions.csv", index=False)
    d.tables.to_csv(sub / "paper_tables.csv", index=False)
    d.br.to_csv(sub / "cost_breakdown.csv", index=False)
    d.conv_t.to_csv(sub / "conventions.csv", index=False)
    pd.DataFrame([{"convention": conv, "c_mod_4": res, "P_SCR": str(f[0]), "P_Basic": str(f[1]),
                   "ratio": str(f[2]), "limit": str(d.limits[conv])} for (conv, res), f in d.forms.items()]
                 ).to_csv(sub / "eq14_closed_forms.csv", index=False)
    return [*plot_ratio(sub / "fig_ratio_vs_channels", d.curves),
            *plot_breakdown(sub / "fig_cost_breakdown", d.groups, d.totals)]


def _head(d) -> list:
    """Title, units and the verdicts table."""
    dev, c32, eqs, lit, fav, n_indep = d.dev, d.c32, d.eqs, d.lit, d.fav, d.n_indep
    p_coco, p_mpii, g_mpii, g_coco, g_t2 = d.p_coco, d.p_mpii, d.g_mpii, d.g_coco, d.g_t2
    L = []
    L += ["# The SDHRNet paper's cost claims, checked", "",
          f"Regenerate: `{STUDY_COMMAND}` (CPU, seconds). Logic: `studies/paper_claims/`: `equations.py` "
          "(eqs. 8-14), `network.py` (reductions, tables, breakdown) against `tables.py` (the printed figures), "
          "`write.py` (this report); tests: `python -m pytest tests/test_claims.py`.", "",
          "Paper: Li et al., *Lightweight Multi-Resolution Network for Human Pose Estimation*, CMES 2023 "
          "(§3.1 eqs. 8-14, §4.3 Tables 1-2, §4.4 Table 3).", "",
          "**Units and conventions.** *params* are parameter counts (`sum(p.numel())` of the built module; "
          "*M* = 10^6). *MACs* are multiply-accumulates of convolutions and linear layers at batch 1, bias adds "
          "excluded. *GFLOPs* in the SDHRNet/HRNet rows are the paper's (HRNet's) convention, the "
          "`hrnet_paper` profile: conv + linear MACs / 2^30; Lite-HRNet rows are in Lite-HRNet's own "
          "convention, the `litehrnet_paper` profile. Kernel sizes k = k' = 3 throughout.", "",
          "## Verdicts", "",
          "| claim | verdict | numbers |", "|---|---|---|",
          f"| Eq. (14): SCR/BasicBlock parameter ratio r = 0.52 + 0.25/c ≈ 0.52 | **not as printed**; ≈ 0.53 | "
          f"the paper's own eqs. (12)/(13) give r = 19/36 + 1/(2c) exactly (limit 19/36 = {float(dev['constant']):.4f}, "
          f"i.e. 0.53); at c = 32: {c32.ratio_paper:.4f} (paper's terms), {c32.ratio_bn:.4f} (with BN), "
          f"{c32.ratio_full:.4f} (full module); the printed formula gives {c32.ratio_paper_stated:.4f} |",
          f"| Eqs. (8)-(13) as formulas | **correct** (eq. 12's '≈' drops the ECA kernel and the SE biases) | "
          f"all {int(eqs['equal'].eq(True).sum())} checked terms equal archlab's counts exactly |",
          f"| 41% fewer parameters than HRNet (Tables 1 and 2 text) | **reproduced** | "
          f"1 - 16,766,975/28,536,113 = {_pct(p_coco.reduction)} (COCO), {_pct(p_mpii.reduction)} (MPII) |",
          f"| 36% less complexity (Table 1 text, MPII) | **reproduced as {100 * g_mpii.reduction:.1f}%** (the paper "
          f"truncates it to 36%; it rounds to 37%) | {_pct(g_mpii.reduction)} "
          f"(MPII, conv+linear MACs / 2^30), {_pct(g_coco.reduction)} (COCO) |",
          f"| 36.6% less complexity (Table 2 text, COCO) | **an artifact of rounding** | only the printed, "
          f"rounded 4.5 / 7.1 give {_pct(g_t2.reduction)}; the unrounded figures give {_pct(g_coco.reduction)} |",
          f"| Tables 1-3 cost columns (HRNet, Lite-HRNet, SDHRNet) | **{lit['reproduced']} of {lit['rows']} rows "
          f"reproduced read literally, {fav['reproduced']} of {fav['rows']} under the favourable reading** of "
          f"Table 3's DASP row; **{fav['fitted']} of those are fitted** | {lit['rows']} printed rows (the DASP "
          "row is one row read two ways, counted once per reading). Not reproduced: Table 3's HRNet row "
          "(9.5 is the MPII 256x256 figure) and, read literally, its DASP row (HRNet-W32 + DASP = 28.56 M). "
          "The SDHRNet rows are fitted: the paper does not give DASP's widths, and archlab's were chosen (with "
          f"the SEM placement) to land on Tables 2-3, so they show consistency, not independent reproduction. "
          f"Independent reproductions: {n_indep} rows (HRNet-W32, Lite-HRNet, the SCR ablation); see §3 |", ""]
    return L


def _eq14_forms(d) -> list:
    """Section 1: the closed forms and the closed forms against the real modules."""
    limits, forms, dev, checks = d.limits, d.forms, d.dev, d.checks
    L = []
    L += ["## 1. Eq. (14): the SCR / BasicBlock parameter ratio", "",
          "### Closed forms (sympy)", "",
          "SCR(c, c) = two SC units (SE with reduction 4, then ECA) in a residual with an identity shortcut; "
          "BasicBlock(c, c) = two 3x3 conv + BN. The SE's hidden width is `c // 4`, so the forms depend on "
          "`c mod 4` (SC at ratio 0.5 needs an even c); `k_e` is the ECA kernel of eq. (5), "
          "`k_e(c) = 2*floor((log2(c) + 1)/4) + 1` = " + f"{_sym(eca_kernel_piecewise())}" + " (1 for c < 8, 3 for 8 <= c < 128, "
          "5 for 128 <= c < 2048, ...).", ""]
    for conv in CONVENTIONS:
        L += [f"**({'abc'[CONVENTIONS.index(conv)]}) `{conv}`** -- {CONVENTION_TEXT[conv]}:", ""]
        for res in (0, 2):
            s, b, r = forms[(conv, res)]
            L += [f"* c = {res} (mod 4): P_SCR = {_sym(s)}, P_Basic = {_sym(b)}, "
                  f"r = {_sym(r)}" + (f" = {_sym(sp.apart(r, C))}" if conv != "full" else "")]
        L += [f"* limit c -> oo: {_sym(limits[conv])} = {float(limits[conv]):.6f}", ""]
    L += ["The paper's eq. (12) uses c/4 for the SE width whatever c is; the `paper` form for c = 0 (mod 4) is "
          "eq. (12) exactly. For general k, k': r = " + _sym(dev["ratio_general"]) + ".", "",
          "### Closed form vs the real modules", "",
          "Each closed form evaluated at c against `sum(p.numel() for p in SCR(c, c).parameters())` and "
          "`BasicBlock(c, c)` (restricted to the convention's parameter kinds for `paper` and `bn`). "
          "All equal exactly (columns `*_equal`).", ""]
    show = checks[["c", "c_mod_4", "se_hidden", "eca_k", "scr_paper_module", "basic_paper_module", "paper_equal",
                   "scr_bn_module", "basic_bn_module", "bn_equal", "scr_full_module", "basic_full_module",
                   "full_equal"]]
    L += [_md(show), ""]
    return L


def _eq14_deviations(d) -> list:
    """Section 1: where eq. (14)'s numbers deviate; eqs. (8)-(13) term by term."""
    dev, checks, blk, eqs = d.dev, d.checks, d.blk, d.eqs
    block_ratio_params, block_ratio_macs = d.block_ratio_params, d.block_ratio_macs
    L = []
    L += ["Ratios (dimensionless). `ratio_paper_eq12` is eq. (12)/(13) with the paper's c/4 (differs from the "
          "module only at c = 2 mod 4, e.g. c = 18 where c // 4 = 4 < 4.5); `ratio_paper_stated` is the printed "
          "0.52 + 0.25/c.", "",
          _md(checks[["c", "ratio_paper", "ratio_bn", "ratio_full", "ratio_paper_eq12", "ratio_paper_stated"]]), "",
          "### Where eq. (14)'s numbers deviate", "",
          f"* Eq. (12)'s algebra is right: 2·P_s + P_c1 = 2(c·c/2·k² + k'²·c/2) + 2·c·c/4 = (k² + 1/2)c² + k'²c "
          f"(sympy: `expand(lhs - rhs) == 0` is {dev['eq12_simplification_correct']}); for k = k' = 3 that is 9.5c² + 9c.",
          "* Eq. (13) P_0 = 2k²c² = 18c² is BasicBlock's convolution weights (BN's 4c left out).",
          f"* Eq. (14): ((k² + 1/2)c² + k'²c) / (2k²c²) = {_sym(dev['ratio_k3'])} for k = k' = 3. The constant is "
          f"19/36 = {float(dev['constant']):.5f}, which rounds to **0.53**; the paper prints **0.52** (truncated). "
          f"The 1/c coefficient is k'²/(2k²) = **1/2**; the paper prints **0.25**, which is what one gets by "
          f"counting the depthwise weights of only one SC unit (k'²c/2 instead of k'²c): "
          f"{_sym(dev['one_unit_depthwise_ratio_k3'])}.",
          f"* So the printed 0.52 + 0.25/c understates the ratio at every c: at HRNet-W32's widths c = 32, 64, 128, "
          f"256 the paper's own formula gives {', '.join(f'{v:.4f}' for v in checks.set_index('c').loc[[32, 64, 128, 256], 'ratio_paper'])} "
          f"and the module as built {', '.join(f'{v:.4f}' for v in checks.set_index('c').loc[[32, 64, 128, 256], 'ratio_full'])}, "
          f"vs the printed {', '.join(f'{v:.4f}' for v in checks.set_index('c').loc[[32, 64, 128, 256], 'ratio_paper_stated'])}. "
          "The conclusion (SCR has about half a BasicBlock's parameters) stands: ≈ 0.53 instead of 0.52.",
          f"* Network level: swapping BasicBlock for SCR in stages 2-4 of HRNet-W32 (COCO) takes those blocks from "
          f"{blk.loc['hrnet_w32_coco', 'params']:,} to {blk.loc['sdhrnet_coco', 'params']:,} parameters "
          f"(ratio {block_ratio_params:.4f}) and their conv + linear MACs by a ratio of {block_ratio_macs:.4f}: "
          "the MACs ratio tends to 1/2 + 1/(2c), not 19/36, because the SE's weights act on a pooled vector "
          "(no H·W factor).", "",
          "### Eqs. (8)-(13) term by term", "",
          "The first SCR block of every branch of SDHRNet's last stage (`stages.2.0.branches.b.0`, COCO 256x192), "
          "from `archlab.count('sdhrnet_coco').ops`, against the same block of `hrnet_w32_coco` (BasicBlock). "
          "Parameter rows are parameter counts; G rows are MACs (stride 1); 'element ops' are elementwise reads "
          "/ multiplies, not MACs.", "",
          _md(_equation_summary(eqs)), "",
          "Cells: archlab's figure; ✓ = equal to the paper's formula at that c; (no mark) = the paper gives "
          "no number. Every row and the paper-formula values are in `paper_claims/eq8_13_term_checks.csv`.", "",
          "* Eq. (9) G_s = H·W·P_s holds exactly at stride 1: primary term H·W·c·(c/2)·k² plus depthwise term "
          "H·W·k'²·c/2.",
          "* Eqs. (10)/(11): P_c1 = G_c1 = 2·c·c_mid is right for the FC weights/MACs (the FCs see the pooled "
          "1x1xc vector); the built SE also has c_mid + c bias parameters, and the global average pool and "
          "the reweighting multiply cost 2·c·H·W element operations that the paper does not count.",
          "* n = 2 (ECA): k_e parameters and k_e·c MACs: negligible indeed.", "",
          "![ratio vs c](paper_claims/fig_ratio_vs_channels.png)", "",
          "Figure (a) `paper_claims/fig_ratio_vs_channels.{png,svg,json}`: the ratio against c (log axis, 8 to "
          "1024); dots are real module counts.", ""]
    return L


def _reductions(d) -> list:
    """Section 2: the 41% / 36% / 36.6% reductions."""
    red, p_coco, p_mpii, p_pr = d.red, d.p_coco, d.p_mpii, d.p_pr
    g_mpii, g_t1, g_t2, g_coco, g_t3, g_mix = d.g_mpii, d.g_t1, d.g_t2, d.g_coco, d.g_t3, d.g_mix
    L = []
    L += ["## 2. The 41% / 36% / 36.6% reductions against HRNet", "",
          "reduction = 1 - SDHRNet / HRNet-W32. archlab rows use exact counts (params; GFLOPs = conv+linear MACs "
          "/ 2^30); 'printed' rows use the tables' rounded figures.", "",
          _md(red[["quantity", "source", "SDHRNet", "HRNet", "sdhrnet_value", "hrnet_value", "unit", "reduction_pct",
                   "matches_41pct", "matches_36pct", "matches_36.6pct"]], floatfmt=".4f", fmt={"reduction_pct": ".2f"}), "",
          f"* **41%** (parameters): every pairing gives it -- {_pct(p_coco.reduction)} exact on COCO, "
          f"{_pct(p_mpii.reduction)} on MPII (the heads differ by 17 vs 16 joints), {_pct(p_pr.reduction)} from "
          "the printed 16.8 / 28.5.",
          f"* **36%** (Table 1 text, MPII): the exact MPII figure is {_pct(g_mpii.reduction)} (6.00 / 9.49); "
          f"the printed 6.0 / 9.5 give {_pct(g_t1.reduction)}. The reduction is {100 * g_mpii.reduction:.1f}%; "
          "the paper's 36% truncates it (it rounds to 37%).",
          f"* **36.6%** (Table 2 text, COCO): only the printed, rounded 4.5 / 7.1 give it ({_pct(g_t2.reduction)}); "
          f"the unrounded COCO figures (4.500 / 7.120) give {_pct(g_coco.reduction)}.",
          f"* Table 3's own pairing (SDHRNet 4.5 vs its HRNet row's 9.5) would be {_pct(g_t3.reduction)} "
          f"({_pct(g_mix.reduction)} exact): the text does not use it.", ""]
    return L


def _tables(d) -> list:
    """Section 3: Tables 1-3's cost columns, how to count them, fitted rows, conventions."""
    tables, lit, fav, n_indep, conv_t = d.tables, d.lit, d.fav, d.n_indep, d.conv_t
    L = []
    L += ["## 3. Tables 1-3: cost columns", "",
          "archlab's figure beside the paper's. `archlab_params_M` is params / 10^6; a match means archlab's "
          "figure rounded to the printed precision equals the printed one. `archlab_GFLOPs` is in the row's "
          "`convention` (hrnet_paper: conv+linear MACs / 2^30; litehrnet_paper: Lite-HRNet's own); "
          "`hrnet_paper_GFLOPs` is HRNet's convention for every row.", "",
          _md(tables[["table", "row", "model", "input", "paper_params_M", "archlab_params_M", "params_match",
                      "paper_GFLOPs", "convention", "archlab_GFLOPs", "GFLOPs_match", "hrnet_paper_GFLOPs",
                      "verdict", "reading", "fitted"]], floatfmt=".3f"), "",
          "How to count: the tables print 12 cost rows; Table 3's DASP row appears twice above, once per "
          "reading (`reading`: `literal` = as ticked, `favourable` = SCR + DASP, `both` = every other row). "
          f"Read literally, {lit['reproduced']} of {lit['rows']} rows reproduce; under the favourable reading, "
          f"{fav['reproduced']} of {fav['rows']}.", "",
          "Fitted rows (`fitted` not empty): the paper does not give the DASP head's widths. archlab's "
          "(`growth=8, proj=32, llf_proj=32, fuse=32`, `archlab.nets.zoo.SDHRNET_DASP`) were chosen, with the SEM "
          "on the deepest branch entering the last stage, so that SCR + DASP stays at 16.7 M / <= 4.5 and the full "
          "model lands on 16.8 M / 4.5 (COCO) and 6.0 (MPII). Those rows match because they were made to; "
          f"they are consistency checks, not independent reproductions ({fav['fitted']} of the "
          f"{fav['reproduced']} reproduced rows under the favourable reading, {lit['fitted']} of {lit['reproduced']} "
          f"read literally). The {n_indep} rows without fitted parts (HRNet-W32, Lite-HRNet, the SCR ablation) "
          "reproduce from the published architectures and archlab's reading of SC/SCR (README, 'How the paper "
          "was read').", "",
          "Explanations:", ""]
    for _, r in tables.iterrows():
        if r.explanation:
            L.append(f"* {r.table}, {r.row} ({r.verdict}): {r.explanation}.")
    L += ["* Lite-HRNet, Table 1 vs Table 2: 0.27 / 0.42 (MPII, 256x256) and 0.20 / 0.31 (Lite-HRNet's "
          "paper at COCO 256x192, printed 0.2 / 0.3 here) are the same networks at different input sizes: the "
          "cost scales with the pixel count, 256·256 / (256·192) = 4/3.",
          "* Lite-HRNet in HRNet's convention: " + ", ".join(
              f"{r.model} {r.hrnet_paper_GFLOPs:.3f}" for _, r in tables.iterrows() if r.row.startswith("Lite"))
          + " -- at the printed precision of Table 2 (one decimal) these also round to 0.2 / 0.3, but not to "
            "Table 1's 0.27 / 0.42: Lite-HRNet's figures are in its own convention (`litehrnet_paper`), not HRNet's.", ""]
    L += ["### Which convention the 'GFLOPs' are in", "",
          _md(conv_t, floatfmt=".4f"), "",
          "Only conv + linear MACs / 2^30 reproduces HRNet's 7.1 (W32) and 14.6 (W48) and the paper's 4.5 / 6.0.", ""]

    return L


def _breakdown(d) -> list:
    """Section 4: where the parameters and multiply-adds go; the file list."""
    br, blk = d.br, d.blk
    L = []
    L += ["## 4. Where SDHRNet's and HRNet-W32's parameters and multiply-adds go", "",
          "Groups from `archlab.count(name).ops` module paths: `stem` (two stride-2 3x3 convs + the bottleneck "
          "layer1), `transitions.*`, stage s branch b = `stages.{s-2}.<m>.branches.{b}` over all modules "
          "(branches 0-based, as in module paths and `StageSpec.sem`: branch 0 is the highest resolution, "
          "1/4 of the input; stage numbers are HRNet's, stage 1 being the stem's bottleneck layer1), "
          "stage s fuse = `...fuse_layers...` and the exchange adds, `SEM` = `sem.*`, head = `head.*` "
          "(DASP for SDHRNet, a 1x1 conv for HRNet). params in M (10^6), MACs = conv + linear multiply-adds in "
          "G = 2^30 (`bmm_macs`: the SEM's attention matrix products, not in hrnet_paper).", ""]
    wide = br.pivot_table(index="group", columns="model", values=["params", "macs"], sort=False)
    wide = pd.DataFrame({
        "HRNet-W32 params (M)": wide[("params", "hrnet_w32_coco")] / 1e6,
        "SDHRNet params (M)": wide[("params", "sdhrnet_coco")] / 1e6,
        "HRNet-W32 MACs (G, 2^30)": wide[("macs", "hrnet_w32_coco")] / 2 ** 30,
        "SDHRNet MACs (G, 2^30)": wide[("macs", "sdhrnet_coco")] / 2 ** 30}).fillna(0.0)
    order = list(dict.fromkeys(br[br.model == "sdhrnet_coco"]["group"]))
    wide = wide.reindex(order).fillna(0.0)
    wide.loc["total"] = wide.sum()
    L += [_md(wide, index=True), "",
          f"* The SCR swap is where the savings are: the stage 2-4 branch blocks drop from "
          f"{blk.loc['hrnet_w32_coco', 'params'] / 1e6:.2f} M to {blk.loc['sdhrnet_coco', 'params'] / 1e6:.2f} M "
          f"parameters and from {blk.loc['hrnet_w32_coco', 'macs'] / 2 ** 30:.2f} to "
          f"{blk.loc['sdhrnet_coco', 'macs'] / 2 ** 30:.2f} G MACs; stem, transitions and fuse layers are "
          "unchanged, which is why the network-level MACs reduction (36.8%) is smaller than the parameter "
          "reduction (41.2%): the unchanged stem alone is "
          f"{br[(br.model == 'sdhrnet_coco') & (br.group == 'stem')].macs_share.iloc[0]:.1%} of SDHRNet's MACs.",
          "* SEM and DASP together add "
          f"{br[(br.model == 'sdhrnet_coco') & br.group.isin(['SEM', 'head (DASP / final)'])].params.sum():,} "
          "parameters.", "",
          "![cost breakdown](paper_claims/fig_cost_breakdown.png)", "",
          "Figure (b) `paper_claims/fig_cost_breakdown.{png,svg,json}`.", "",
          "## Files", "",
          "`paper_claims/`: `eq14_closed_forms.csv`, `eq14_ratio_checks.csv`, `eq8_13_term_checks.csv`, "
          "`reductions.csv`, `paper_tables.csv`, `conventions.csv`, `cost_breakdown.csv`, "
          "`fig_ratio_vs_channels.{png,svg,json}`, `fig_cost_breakdown.{png,svg,json}`.", ""]
    return L


def run_study(out) -> dict:
    """Write ``out/paper_claims.md``, the CSVs and the figures (PNG + SVG + JSON) under
    ``out/paper_claims/``. Returns the headline numbers."""
    out = Path(out)
    sub = out / "paper_claims"
    sub.mkdir(parents=True, exist_ok=True)
    d = collect()
    figures = _write_data(d, sub)
    lines = [*_head(d), *_eq14_forms(d), *_eq14_deviations(d), *_reductions(d), *_tables(d), *_breakdown(d)]
    report = out / "paper_claims.md"
    report.write_text("\n".join(lines))
    return {"report": report, "figures": figures, "ratio_limit": d.limits["paper"],
            "param_reduction_coco": float(d.p_coco.reduction), "gflops_reduction_coco": float(d.g_coco.reduction),
            "param_reduction_mpii": float(d.p_mpii.reduction), "gflops_reduction_mpii": float(d.g_mpii.reduction),
            "tables_literal": d.lit, "tables_favourable": d.fav}
