"""Every number the paper-claims report states, computed once (:func:`collect`): the checks of
:mod:`equations` (eqs. 8-14) and :mod:`network` (reductions, Tables 1-3, conventions, where the
cost goes), and the rows of them the report quotes. :mod:`write` turns the result into files.
"""
from __future__ import annotations

from types import SimpleNamespace

from .equations import (CONVENTIONS, KP, K, basic_params, equation_checks, paper_formula_deviation, ratio,
                        ratio_check_table, ratio_curves, ratio_limit, scr_params)
from .network import (breakdown_table, cached_count, convention_table, cost_groups, gflops, paper_table_rows,
                      reductions, table_counts)

__all__ = ["BREAKDOWN_MODELS", "collect"]

#: the two networks whose cost is broken down by group (figure (b), section 4)
BREAKDOWN_MODELS = ("hrnet_w32_coco", "sdhrnet_coco")


def collect() -> SimpleNamespace:
    """Every number the report states, its tables and its figures' data. Raises if a closed form
    differs from the real module's parameter count."""
    d = SimpleNamespace()
    d.dev = paper_formula_deviation()
    d.checks = ratio_check_table()
    if not d.checks[[f"{c}_equal" for c in CONVENTIONS]].all().all():
        raise RuntimeError("a closed form differs from the real module's parameter count")
    d.eqs = equation_checks()
    d.limits = {c: ratio_limit(c) for c in CONVENTIONS}
    d.forms = {(conv, res): (scr_params(conv, res).subs({K: 3, KP: 3}), basic_params(conv).subs(K, 3),
                             ratio(conv, res)) for conv in CONVENTIONS for res in (0, 2)}
    d.c32 = d.checks.set_index("c").loc[32]
    d.curves = ratio_curves()
    # network level: SCR-for-BasicBlock swap over stages 2-4
    d.br = breakdown_table(BREAKDOWN_MODELS)
    d.groups = {m: cost_groups(m) for m in BREAKDOWN_MODELS}
    d.totals = {m: (cached_count(m).params, gflops(cached_count(m))) for m in BREAKDOWN_MODELS}
    d.blk = d.br[d.br["group"].str.contains("branch")].groupby("model")[["params", "macs"]].sum()
    d.block_ratio_params = d.blk.loc["sdhrnet_coco", "params"] / d.blk.loc["hrnet_w32_coco", "params"]
    d.block_ratio_macs = d.blk.loc["sdhrnet_coco", "macs"] / d.blk.loc["hrnet_w32_coco", "macs"]
    d.tables = paper_table_rows()
    d.conv_t = convention_table()
    counts = table_counts(d.tables)
    d.lit, d.fav = counts["literal"], counts["favourable"]
    d.n_indep = d.fav["reproduced"] - d.fav["fitted"]
    _quoted_reductions(d, reductions())
    return d


def _quoted_reductions(d: SimpleNamespace, red) -> None:
    """``d.red`` and the rows of it the report quotes."""
    def source(name: str):
        return red[red.source == name].iloc[0]

    d.red = red
    d.g_coco, d.g_mpii = (red[(red.quantity == "GFLOPs") & (red.source == s)].iloc[0]
                          for s in ("archlab, COCO 256x192", "archlab, MPII 256x256"))
    d.p_coco, d.p_mpii = (red[(red.quantity == "params") & (red.source == s)].iloc[0]
                          for s in ("archlab, COCO 256x192", "archlab, MPII 256x256"))
    d.g_t2, d.g_t1 = source("printed, Table 2 (COCO)"), source("printed, Table 1 (MPII)")
    d.g_mix = red[red.source.str.startswith("archlab, mixed")].iloc[0]
    d.g_t3 = red[red.source.str.startswith("printed, Table 3")].iloc[0]
    d.p_pr = source("printed, Tables 1-3")
