"""``archlab report``: regenerate ``reports/`` from recorded results, and its index.

Each entry knows its inputs (a study database, a run folder, nothing for analytic reports) and
the command that produced them; an entry whose inputs are absent is listed as not regenerated,
with the command to produce it. Measurements (latency, training) are never re-run here.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["REPORTS", "regenerate", "write_index"]


@dataclass(frozen=True)
class Report:
    name: str
    path: str                   # file or folder under reports/
    what: str
    produce: str                # the command that (re)produces it from scratch
    regenerate: str | None      # cheap command that rebuilds it from recorded results (None: recorded only)
    needs: str | None = None    # input that must exist for `regenerate`


REPORTS = [
    Report("paper_claims", "paper_claims.md", "Eq. (14) ratio, the 41%/36% reductions and Tables 1-3 cost "
           "columns checked against archlab's exact counts",
           "python studies/paper_claims.py --out reports", "python studies/paper_claims.py --out reports"),
    Report("counting_conventions", "counting_conventions.md", "what fvcore, thop, ptflops (both backends) and "
           "torch's FlopCounterMode count, op class by op class",
           "python -m archlab.cost.conventions --out reports/counting_conventions.md",
           "python -m archlab.cost.conventions --out reports/counting_conventions.md"),
    Report("bench_count", "bench_count.txt", "analytic counting vs fvcore on hrnet_w32_coco (both exact; speed "
           "ratio)", "python benchmarks/bench_count.py --out reports/bench_count.txt", None),
    Report("search_cost", "search_cost/", "cost-only NSGA-II search near SDHRNet/HRNet-W32: Pareto front, sampled "
           "CPU latency, hypervolume",
           "archlab search studies/search_cost.yaml --run-dir reports/search_cost && archlab pareto "
           "studies/search_cost.yaml --run-dir reports/search_cost --out reports/search_cost --latency-sample 24",
           "archlab pareto studies/search_cost.yaml --run-dir reports/search_cost --out reports/search_cost",
           "search_cost/study.db"),
    Report("latency_breakdown", "search_cost/latency_breakdown.md", "does SDHRNet's 36% MAC cut buy a matching CPU "
           "latency cut, and which blocks eat the difference", "python studies/latency_breakdown.py --out "
           "reports/search_cost", None),
    Report("search_train", "search_train/", "accuracy-in-the-loop NSGA-II search (2-epoch LSPET runs at 128x96): "
           "accuracy vs parameters / multiply-adds / CPU latency, front, hypervolume, bubble chart with the "
           "paper's points",
           "archlab search studies/search_train.yaml --run-dir reports/search_train && archlab pareto "
           "studies/search_train.yaml --run-dir reports/search_train --out reports/search_train --latency-sample 12",
           "archlab pareto studies/search_train.yaml --run-dir reports/search_train --out reports/search_train",
           "search_train/study.db"),
    Report("search_train_retrain", "search_train/retrain/comparison.md", "the searched candidates retrained longer "
           "next to scaled HRNet, SDHRNet and Lite-HRNet baselines under the same budget; proxy-vs-retrained rank "
           "correlation",
           "python studies/retrain_selected.py --study studies/search_train.yaml --top 3 --epochs 3 "
           "--limit-train 4000", None),
    Report("bench_train", "bench_train.txt", "training throughput, data-wait share and GFLOP/s efficiency of the "
           "zoo models on CPU (table: bench_train.csv)", "python benchmarks/bench_train.py --steps 10 --batch 16 --out reports/bench_train.csv > reports/bench_train.txt", None),
    Report("bench_search", "bench_search.txt", "analytic screening throughput (specs/s incl. budget checks) and "
           "trials/hour of the accuracy search",
           "python benchmarks/bench_search.py --train-trials 1 --study-run reports/search_train "
           "--out reports/bench_search.txt", None),
    Report("lspet_train", "lspet_train/", "Lite-HRNet-18 trained on LSPET at 128x96 on CPU: learning curve, "
           "PCK@0.2/PCKh@0.5 vs the mean-pose baseline, predicted skeletons, checkpoint",
           "python studies/train_lspet.py --flip-test", "python studies/train_lspet.py --report-only --flip-test",
           "../runs/lspet_train/last.pt"),
]


def write_index(reports_dir: str | Path = "reports") -> Path:
    root = Path(reports_dir)
    root.mkdir(parents=True, exist_ok=True)
    lines = ["# Reports", "", "Everything here is produced by a command in this repository. `archlab report` "
             "regenerates what can be rebuilt from recorded results (study databases, run folders) without "
             "measuring or training again.", "",
             "| report | what | produced by | rebuilt by `archlab report` |", "|---|---|---|---|"]
    for r in REPORTS:
        exists = (root / r.path).exists()
        link = f"[{r.path}]({r.path})" if exists else f"{r.path} (not produced yet)"
        rebuild = f"`{r.regenerate}`" if r.regenerate else "no (a measurement; re-run the command)"
        lines.append(f"| {link} | {r.what} | `{r.produce}` | {rebuild} |")
    out = root / "README.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def regenerate(reports_dir: str | Path = "reports", only: list[str] | None = None) -> dict[str, str]:
    """Rebuild each report whose recorded inputs exist; returns name -> status."""
    root = Path(reports_dir)
    status = {}
    for r in REPORTS:
        if only and r.name not in only:
            continue
        if r.regenerate is None:
            status[r.name] = "recorded measurement (not re-run)"
            continue
        if r.needs and not (root / r.needs).exists():
            status[r.name] = f"skipped: {root / r.needs} not found (run: {r.produce})"
            continue
        proc = subprocess.run(r.regenerate.replace("archlab ", f"{sys.executable} -m archlab.cli ", 1)
                              if r.regenerate.startswith("archlab ") else
                              r.regenerate.replace("python ", f"{sys.executable} ", 1),
                              shell=True, capture_output=True, text=True)
        status[r.name] = "regenerated" if proc.returncode == 0 else \
            f"failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
    write_index(root)
    return status
