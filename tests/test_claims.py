"""The paper-claims study (the package studies/paper_claims/, run by studies/paper_claims.py): closed
forms against the real modules, eq. (14)'s limit, the reductions against what the zoo gives, the
printed tables as data, the report and figures."""
from __future__ import annotations

import csv
import doctest
import importlib.util
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

import archlab
from archlab.blocks.attention import eca_kernel_size

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "studies"))
from paper_claims import equations as eq  # noqa: E402  (the study package lives in studies/)
from paper_claims import network as net  # noqa: E402
from paper_claims import tables as tb  # noqa: E402

EVEN_CS = (4, 6, 10, 18, 22, 30, 32, 40, 46, 48, 64, 126, 128, 130, 256)


def _gflops_from_ops(name):
    r = archlab.count(name)
    return sum(o.macs for o in r.ops if o.op in ("conv", "linear")) / 2 ** 30


@pytest.mark.parametrize("c", EVEN_CS)
@pytest.mark.parametrize("convention", eq.CONVENTIONS)
def test_closed_forms_equal_real_modules(c, convention):
    subs = {eq.C: c, eq.K: 3, eq.KP: 3, eq.KE: eq.eca_kernel_closed_form(c)}
    assert int(eq.scr_params(convention, c % 4).subs(subs)) == eq.module_params("scr", c, convention)
    assert int(eq.basic_params(convention).subs(subs)) == eq.module_params("basic", c, convention)


@pytest.mark.parametrize("c", (18, 32, 64, 130))
def test_full_convention_is_every_parameter(c):
    from archlab.blocks import SCR, BasicBlock
    assert eq.module_params("scr", c, "full") == sum(p.numel() for p in SCR(c, c).parameters())
    assert eq.module_params("basic", c, "full") == sum(p.numel() for p in BasicBlock(c, c).parameters())
    assert eq.ratio_value("full", c) == Fraction(eq.module_params("scr", c, "full"), eq.module_params("basic", c, "full"))


def test_eca_kernel_closed_form_matches_eq5_rule():
    pw = eq.eca_kernel_piecewise()
    for c in range(1, 5000):
        assert eq.eca_kernel_closed_form(c) == eca_kernel_size(c)
    for c in (1, 7, 8, 127, 128, 2047, 2048, 32767):
        assert int(pw.subs(eq.C, c)) == eca_kernel_size(c)


def test_limit_is_19_over_36_and_paper_deviations():
    for conv in eq.CONVENTIONS:
        assert eq.ratio_limit(conv) == sp.Rational(19, 36)
    dev = eq.paper_formula_deviation()
    assert sp.simplify(dev["ratio_k3"] - (sp.Rational(19, 36) + 1 / (2 * eq.C))) == 0
    assert dev["constant"] == sp.Rational(19, 36) and round(dev["constant_float"], 2) == 0.53
    assert dev["inv_c_coefficient"] == sp.Rational(1, 2)
    assert dev["eq12_simplification_correct"] is True
    # eq. (12) as printed equals the 'paper' closed form for c = 0 (mod 4)
    assert sp.expand(eq.paper_eq12() - eq.scr_params("paper", 0)) == 0


def test_ratio_check_table_all_equal():
    t = eq.ratio_check_table()
    assert list(t.c) == [18, 32, 40, 48, 64, 128, 256]
    assert t[[f"{c}_equal" for c in eq.CONVENTIONS]].all().all()
    r32 = t.set_index("c").loc[32]
    assert r32.ratio_paper == pytest.approx(19 / 36 + 1 / 64)
    assert r32.ratio_paper_stated == pytest.approx(0.52 + 0.25 / 32)


def test_equation_checks_match_count():
    eqs = eq.equation_checks()
    checked = eqs[eqs.equal.notna()]
    assert len(checked) > 20 and checked.equal.all()
    assert set(eqs.c) == {32, 64, 128, 256}


def test_reductions_are_what_the_zoo_gives():
    red = net.reductions()
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
    t = net.paper_table_rows().set_index(["table", "row"])
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
    t = net.paper_table_rows()
    assert len(t) == len(tb.PAPER_TABLES) == 13       # 12 printed rows, Table 3's DASP row read two ways
    counts = net.table_counts(t)
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
    g = net.cost_groups(name)
    r = archlab.count(name)
    assert int(g.params.sum()) == r.params
    assert int(g.macs.sum()) == sum(o.macs for o in r.ops if o.op in ("conv", "linear"))
    assert "stage 4 branch 3" in g.index and "stage 4 branch 4" not in g.index and "stem" in g.index and "stage 3 fuse" in g.index
    assert ("SEM" in g.index) == (name == "sdhrnet_coco")


def test_validation_errors():
    with pytest.raises(ValueError):
        eq.ratio_value("paper", 33)
    with pytest.raises(ValueError):
        eq.scr_params("nope")
    with pytest.raises(ValueError):
        eq.scr_params("paper", residue=1)
    with pytest.raises(ValueError):
        eq.eca_kernel_closed_form(0)


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
    dots = next(x for x in a["axes"][0]["artists"] if x["label"] == "real SCR / BasicBlock parameter counts")
    assert dots["x"] == [18, 32, 40, 48, 64, 128, 256, 512, 1024]
    assert dots["y"] == [pytest.approx(eq.module_params("scr", c, "full") / eq.module_params("basic", c, "full"))
                         for c in (18, 32, 40, 48, 64, 128, 256, 512, 1024)]
    b = json.loads((sub / "fig_cost_breakdown.json").read_text())
    assert [ax["xlabel"] for ax in b["axes"]] == ["parameters [M = 10^6]",
                                                  "conv + linear multiply-adds [G = 2^30, hrnet_paper]"]
    assert sum(b["params_M"]["sdhrnet_coco"]) == pytest.approx(archlab.count("sdhrnet_coco").params / 1e6)


def test_study_doctests_run():
    """The study's docstring examples (studies/ is outside pytest's --doctest-modules) are checked here."""
    for mod in (eq, net):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0, mod.__name__


def test_printed_tables_are_data_and_agree_with_the_paper_points():
    assert [r.row for r in tb.PAPER_TABLES if r.table == "Table 2 (COCO)"] == [
        "HRNet-W32", "Lite-HRNet-18", "Lite-HRNet-30", "SDHRNet"]
    assert tb.paper_row("Table 2 (COCO)", "Lite-HRNet-18").GFLOPs == "0.2"      # printed precision kept as text
    # Tables 1-2 are also in the figures' reference points (archlab/plots/paper_points.csv): the same numbers
    with open(ROOT / "archlab" / "plots" / "paper_points.csv", newline="") as f:
        points = {(int(r["table"]), r["backbone"]): r for r in csv.DictReader(x for x in f if not x.startswith("#"))}
    checked = 0
    for r in tb.PAPER_TABLES:
        n = int(r.table.split()[1])
        if n in (1, 2):
            pt = points[(n, r.row)]
            assert (float(pt["params_m"]), float(pt["gflops"]), pt["gflops_convention"]) == (
                float(r.params_M), float(r.GFLOPs), r.convention), r
            checked += 1
    assert checked == 8
    with pytest.raises(KeyError, match="no row 'nope'"):
        tb.paper_row("Table 1 (MPII)", "nope")


def test_read_paper_tables_names_bad_columns(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("# comment\ntable,row,model,params,GFLOPs,convention\nT,R,m,1.0,2.0,hrnet_paper\n")
    with pytest.raises(ValueError, match="columns must be"):
        tb.read_paper_tables(bad)


def test_printed_reductions_come_from_the_tables():
    red = net.reductions().set_index("source")
    t3 = red.loc["printed, Table 3 (SDHRNet COCO vs HRNet row)"]
    assert (t3.sdhrnet_value, t3.hrnet_value) == (4.5, 9.5) and t3.reduction == pytest.approx(1 - 4.5 / 9.5)
    p = red.loc["printed, Tables 1-3"]
    assert (p.SDHRNet, p.HRNet, p.unit) == ("16.8 M", "28.5 M", "M parameters")
    assert bool(p.matches_41pct)
