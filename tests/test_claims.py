"""The paper-claims study (archlab.cost.claims, studies/paper_claims.py): closed forms against the
real modules, eq. (14)'s limit, the reductions against what the zoo gives, the report and figures."""
from __future__ import annotations

import importlib.util
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

import archlab
from archlab.blocks.attention import eca_kernel_size
from archlab.cost import claims as cl

ROOT = Path(__file__).resolve().parents[1]
EVEN_CS = (4, 6, 10, 18, 22, 30, 32, 40, 46, 48, 64, 126, 128, 130, 256)


def _gflops_from_ops(name):
    r = archlab.count(name)
    return sum(o.macs for o in r.ops if o.op in ("conv", "linear")) / 2 ** 30


@pytest.mark.parametrize("c", EVEN_CS)
@pytest.mark.parametrize("convention", cl.CONVENTIONS)
def test_closed_forms_equal_real_modules(c, convention):
    subs = {cl.C: c, cl.K: 3, cl.KP: 3, cl.KE: cl.eca_kernel_closed_form(c)}
    assert int(cl.scr_params(convention, c % 4).subs(subs)) == cl.module_params("scr", c, convention)
    assert int(cl.basic_params(convention).subs(subs)) == cl.module_params("basic", c, convention)


@pytest.mark.parametrize("c", (18, 32, 64, 130))
def test_full_convention_is_every_parameter(c):
    from archlab.blocks import SCR, BasicBlock
    assert cl.module_params("scr", c, "full") == sum(p.numel() for p in SCR(c, c).parameters())
    assert cl.module_params("basic", c, "full") == sum(p.numel() for p in BasicBlock(c, c).parameters())
    assert cl.ratio_value("full", c) == Fraction(cl.module_params("scr", c, "full"), cl.module_params("basic", c, "full"))


def test_eca_kernel_closed_form_matches_eq5_rule():
    pw = cl.eca_kernel_piecewise()
    for c in range(1, 5000):
        assert cl.eca_kernel_closed_form(c) == eca_kernel_size(c)
    for c in (1, 7, 8, 127, 128, 2047, 2048, 32767):
        assert int(pw.subs(cl.C, c)) == eca_kernel_size(c)


def test_limit_is_19_over_36_and_paper_deviations():
    for conv in cl.CONVENTIONS:
        assert cl.ratio_limit(conv) == sp.Rational(19, 36)
    dev = cl.paper_formula_deviation()
    assert sp.simplify(dev["ratio_k3"] - (sp.Rational(19, 36) + 1 / (2 * cl.C))) == 0
    assert dev["constant"] == sp.Rational(19, 36) and round(dev["constant_float"], 2) == 0.53
    assert dev["inv_c_coefficient"] == sp.Rational(1, 2)
    assert dev["eq12_simplification_correct"] is True
    # eq. (12) as printed equals the 'paper' closed form for c = 0 (mod 4)
    assert sp.expand(cl.paper_eq12() - cl.scr_params("paper", 0)) == 0


def test_ratio_check_table_all_equal():
    t = cl.ratio_check_table()
    assert list(t.c) == [18, 32, 40, 48, 64, 128, 256]
    assert t[[f"{c}_equal" for c in cl.CONVENTIONS]].all().all()
    r32 = t.set_index("c").loc[32]
    assert r32.ratio_paper == pytest.approx(19 / 36 + 1 / 64)
    assert r32.ratio_paper_stated == pytest.approx(0.52 + 0.25 / 32)


def test_equation_checks_match_count():
    eqs = cl.equation_checks()
    checked = eqs[eqs.equal.notna()]
    assert len(checked) > 20 and checked.equal.all()
    assert set(eqs.c) == {32, 64, 128, 256}


def test_reductions_are_what_the_zoo_gives():
    red = cl.reductions()
    for ds in ("coco", "mpii"):
        s, h = archlab.count(f"sdhrnet_{ds}"), archlab.count(f"hrnet_w32_{ds}")
        row = red[(red.quantity == "params") & red.source.str.contains(ds.upper() + " ")].iloc[0]
        assert row.reduction == pytest.approx(1 - s.params / h.params, abs=0)
        assert math.floor(100 * row.reduction) == 41
        g = red[(red.quantity == "GFLOPs") & (red.source == f"archlab, {ds.upper()} {'x'.join(map(str, s.input_size))}")]
        assert g.iloc[0].reduction == pytest.approx(1 - _gflops_from_ops(f"sdhrnet_{ds}") / _gflops_from_ops(f"hrnet_w32_{ds}"))
        assert math.floor(100 * g.iloc[0].reduction) == 36
    t2 = red[red.source == "printed, Table 2 (COCO)"].iloc[0]
    assert t2["matches_36.6pct"] and round(100 * t2.reduction, 1) == 36.6


def test_paper_table_rows():
    t = cl.paper_table_rows().set_index(["table", "row"])
    for (table, row), r in t.iterrows():
        assert r.archlab_params == archlab.count(r.model).params
        assert r.hrnet_paper_GFLOPs == pytest.approx(_gflops_from_ops(r.model), abs=1e-4)
    assert t.loc[("Table 3 (COCO)", "HRNet"), "verdict"] == "not reproduced"
    assert "MPII" in t.loc[("Table 3 (COCO)", "HRNet"), "explanation"]
    assert t.loc[("Table 3 (COCO)", "DASP (as ticked: HRNet-W32 + DASP)"), "verdict"] == "not reproduced"
    for key in [("Table 3 (COCO)", "SCR"), ("Table 3 (COCO)", "DASP (read as SCR + DASP)"),
                ("Table 2 (COCO)", "SDHRNet"), ("Table 1 (MPII)", "SDHRNet"), ("Table 2 (COCO)", "HRNet-W32"),
                ("Table 1 (MPII)", "HRNet-W32")]:
        assert t.loc[key, "verdict"] == "reproduced", key


def test_table_counts_count_the_dasp_row_once_per_reading():
    t = cl.paper_table_rows()
    assert len(t) == len(cl.PAPER_TABLES) == 13       # 12 printed rows, Table 3's DASP row read two ways
    counts = cl.table_counts(t)
    assert counts["literal"] == {"rows": 12, "reproduced": 10, "fitted": 3}
    assert counts["favourable"] == {"rows": 12, "reproduced": 11, "fitted": 4}
    by_model = t.drop_duplicates("model").set_index("model")
    # fitted is derived from the spec: a DASP head or a SEM, never the plain HRNet / Lite-HRNet / SCR rows
    for model, r in by_model.iterrows():
        spec = archlab.get_spec(model)
        assert bool(r.fitted) == (spec.head.type == "dasp" or any(s.sem for s in spec.stages)), model
    assert by_model.loc["sdhrnet_coco", "fitted"] == "DASP widths, SEM placement"
    assert by_model.loc["sdhrnet_coco_scr", "fitted"] == "" and by_model.loc["hrnet_w32_mpii", "fitted"] == ""
    assert set(t.reading) == {"both", "literal", "favourable"}


@pytest.mark.parametrize("name", ["hrnet_w32_coco", "sdhrnet_coco"])
def test_cost_groups_add_up(name):
    g = cl.cost_groups(name)
    r = archlab.count(name)
    assert int(g.params.sum()) == r.params
    assert int(g.macs.sum()) == sum(o.macs for o in r.ops if o.op in ("conv", "linear"))
    assert "stage 4 branch 3" in g.index and "stage 4 branch 4" not in g.index and "stem" in g.index and "stage 3 fuse" in g.index
    assert ("SEM" in g.index) == (name == "sdhrnet_coco")


def test_validation_errors():
    with pytest.raises(ValueError):
        cl.ratio_value("paper", 33)
    with pytest.raises(ValueError):
        cl.scr_params("nope")
    with pytest.raises(ValueError):
        cl.scr_params("paper", residue=1)
    with pytest.raises(ValueError):
        cl.eca_kernel_closed_form(0)


def test_study_writes_report_and_figures(tmp_path):
    spec = importlib.util.spec_from_file_location("paper_claims_study", ROOT / "studies" / "paper_claims.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--out", str(tmp_path)])
    report = tmp_path / "paper_claims.md"
    text = report.read_text()
    assert res["report"] == report
    assert "19/36" in text and "python studies/paper_claims.py --out reports" in text
    assert "10 of 12 rows reproduced read literally, 11 of 12 under the favourable reading" in text
    assert "of 13" not in text and "reproduced as 36.8%" in text
    assert res["tables_literal"]["reproduced"] == 10 and res["tables_favourable"]["fitted"] == 4
    sub = tmp_path / "paper_claims"
    for name in ("eq14_ratio_checks.csv", "eq8_13_term_checks.csv", "reductions.csv", "paper_tables.csv",
                 "cost_breakdown.csv", "eq14_closed_forms.csv"):
        assert (sub / name).stat().st_size > 0
    for stem in ("fig_ratio_vs_channels", "fig_cost_breakdown"):
        for ext in (".png", ".svg", ".json"):
            assert (sub / (stem + ext)).stat().st_size > 0
    a = json.loads((sub / "fig_ratio_vs_channels.json").read_text())
    assert a["axes"][0]["xlabel"].startswith("channel count c")
    assert a["axes"][0]["ylabel"] == "parameter ratio P_SCR / P_Basic"
    assert a["axes"][0]["xscale"] == "log"
    assert a["limit"] == pytest.approx(19 / 36)
    b = json.loads((sub / "fig_cost_breakdown.json").read_text())
    assert [ax["xlabel"] for ax in b["axes"]] == ["parameters [M = 10^6]",
                                                  "conv + linear multiply-adds [G = 2^30, hrnet_paper]"]
    assert sum(b["params_M"]["sdhrnet_coco"]) == pytest.approx(archlab.count("sdhrnet_coco").params / 1e6)
