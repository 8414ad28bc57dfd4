"""The SDHRNet paper's cost claims, checked against archlab (run it: ``python studies/paper_claims.py
--out reports``; the script beside this folder is the entry point).

* :mod:`.tables` -- what the paper prints (Tables 1-3's cost columns in ``paper_tables.csv``, the
  printed figures behind its reductions), as data;
* :mod:`.equations` -- eqs. (8)-(14): the SCR / BasicBlock parameter ratio in closed form (sympy),
  checked against the real modules and, term by term, against :func:`archlab.count`;
* :mod:`.network` -- the "41% / 36% (36.6%)" reductions, Tables 1-3 row by row, the "GFLOPs"
  conventions, where the parameters and multiply-adds go;
* :mod:`.compute` -- every number the report states, computed once;
* :mod:`.write` -- ``paper_claims.md``, its CSVs and its two figures.
"""
