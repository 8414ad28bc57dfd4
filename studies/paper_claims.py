"""Check the SDHRNet paper's cost claims against archlab: eq. (14)'s SCR/BasicBlock parameter
ratio (closed forms via sympy, checked against the real modules), eqs. (8)-(13) term by term,
the "41% fewer parameters / 36% (36.6%) less complexity" than HRNet (36.8% exactly), and the cost columns of
Tables 1-3; plus two figures (ratio vs channel count; where the parameters and multiply-adds go).

    python studies/paper_claims.py --out reports

writes ``reports/paper_claims.md`` and ``reports/paper_claims/`` (CSVs, PNG + SVG + JSON figures).
The study is the package ``studies/paper_claims/`` beside this script: the checks in
``equations.py`` (eqs. 8-14) and ``network.py`` (reductions, Tables 1-3, where the cost goes) against
the printed figures of ``tables.py``; the report and figures are written by ``write.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# the package studies/paper_claims/ (a folder wins over this same-named script on import)
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_claims.write import run_study  # noqa: E402


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
