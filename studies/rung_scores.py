"""The search's own rung scores for the final-protocol models (issue 11 item 4: the rank fidelity of
the score the search acts on).

The halving search (``studies/search_lspet.yaml``) scores a configuration at rung ``r`` by training
it with :func:`archlab.search.objective.short_train` on rung ``r``'s budget (rung 0: 1 epoch on
1,750 fit images; rung 1: 2 epochs on 3,500) and reading search-validation PCK@0.2. This script
applies exactly that procedure -- same function, same options, same seed, 1 torch thread as in the
final protocol -- to every model of ``studies/final_protocol.py``, so the report can put Kendall
tau between the rung score and the final score beside the other cheap scores.

    python studies/rung_scores.py [--rungs 0 1] [--models litehrnet_18 span_0 ...] [--minutes 60]

Resumable: a finished (model, rung) is skipped, an interrupted one resumes its checkpoint. Writes
``reports/search_lspet/rung_scores.csv`` (model, rung, epochs, limit_train, score, cpu_s).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import final_protocol as fp  # noqa: E402

SPACE = fp.ROOT / "studies" / "search_lspet.yaml"
OUT = fp.OUT / "rung_scores"
CSV = fp.OUT / "rung_scores.csv"
FIELDS = ["model", "rung", "epochs", "limit_train", "score", "cpu_s"]


def rung_options(r: int) -> dict:
    """The training options the search uses at rung ``r`` (from the space file)."""
    from archlab.search import SearchSpace
    from archlab.search.halving import rung_space
    space = SearchSpace.from_yaml(SPACE)
    plan = space.halving
    if not 0 <= r < len(plan.rungs):
        raise SystemExit(f"rung {r}: the space has rungs 0-{len(plan.rungs) - 1}")
    return dict(rung_space(space, plan, r).training)


def model_spec(model: str):
    import archlab
    src = fp.MODELS[model]
    return archlab.resolve_spec(str(fp.ROOT / src) if src.endswith(".yaml") else src, num_joints=14,
                                input_size=tuple(fp.PROTOCOL["input_size"]))


def done() -> dict:
    if not CSV.is_file():
        return {}
    with CSV.open() as f:
        return {(r["model"], int(r["rung"])): r for r in csv.DictReader(f)}


def score_one(model: str, r: int, data_root=None) -> dict:
    """Train ``model`` on rung ``r``'s budget (resuming) and append its score to the CSV."""
    import torch
    from archlab.search.objective import short_train
    torch.set_num_threads(fp.THREADS)
    opts = rung_options(r)
    if data_root:
        opts["data_root"] = data_root
    t0 = time.process_time()
    score = short_train(model_spec(model), opts, OUT / model / f"rung{r}")
    row = {"model": model, "rung": r, "epochs": opts["epochs"], "limit_train": opts.get("limit_train", ""),
           "score": round(score, 4), "cpu_s": round(time.process_time() - t0, 1)}
    new = not CSV.is_file()
    with CSV.open("a", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rungs", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--models", nargs="+", default=list(fp.MODELS), choices=list(fp.MODELS))
    ap.add_argument("--minutes", type=float, default=600.0, help="stop before starting a run after this")
    ap.add_argument("--data-root", default=os.environ.get("ARCHLAB_DATA"))
    a = ap.parse_args(argv)
    t_end = time.time() + 60 * a.minutes
    for r in a.rungs:
        for model in a.models:
            if (model, r) in done():
                continue
            if time.time() >= t_end:
                print("time budget spent; run the same command again to continue", flush=True)
                return 0
            print(json.dumps(score_one(model, r, a.data_root)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
