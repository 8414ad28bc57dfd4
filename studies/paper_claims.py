"""Check the SDHRNet paper's cost claims against archlab: eq. (14)'s SCR/BasicBlock parameter
ratio (closed forms via sympy, checked against the real modules), eqs. (8)-(13) term by term,
the "41% fewer parameters / 36% (36.6%) less complexity" than HRNet (36.8% exactly), and the cost columns of
Tables 1-3; plus two figures (ratio vs channel count; where the parameters and multiply-adds go).

    python studies/paper_claims.py --out reports

writes ``reports/paper_claims.md`` and ``reports/paper_claims/`` (CSVs, PNG + SVG + JSON figures).
The checks live in :mod:`archlab.cost.claims` and :mod:`archlab.cost.claims_tables`; the report
and figures are written by :mod:`archlab.claims_report`.
"""
from __future__ import annotations

import argparse

from archlab.claims_report import run_study


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="reports", help="output folder (default: reports)")
    args = ap.parse_args(argv)
    res = run_study(args.out)
    print(f"wrote {res['report']} and {len(res['figures'])} figure files under {res['report'].parent / 'paper_claims'}")
    print(f"eq. (14) limit: {res['ratio_limit']} = {float(res['ratio_limit']):.4f}; "
          f"params -{100 * res['param_reduction_coco']:.2f}% (COCO), GFLOPs -{100 * res['gflops_reduction_coco']:.2f}% "
          f"(COCO) / -{100 * res['gflops_reduction_mpii']:.2f}% (MPII); "
          f"table rows reproduced: {res['tables_literal']['reproduced']}/{res['tables_literal']['rows']} read "
          f"literally, {res['tables_favourable']['reproduced']}/{res['tables_favourable']['rows']} under the "
          f"favourable reading ({res['tables_favourable']['fitted']} of them fitted)")
    return res


if __name__ == "__main__":
    main()
