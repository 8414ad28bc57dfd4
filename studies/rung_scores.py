"""The search's own rung scores for the final-protocol models (issue 11 item 4: the rank fidelity of
the score the search acts on), keyed by training budget and seed.

The halving search (``studies/search_lspet.yaml``) scores a configuration at rung ``r`` by training
it with :func:`archlab.search.objective.short_train` on rung ``r``'s budget and reading
search-validation PCK@0.2. This script applies exactly that procedure -- same function, same
options, 1 torch thread as in the final protocol -- to every model of ``studies/final_protocol.py``,
on the space's own rungs (``--rungs``) or on candidate budgets (``--budget``), for one or more
training seeds, so the report can put each budget's Kendall tau against the final score, and its
seed noise against its spread across models, beside the other cheap scores.

    python studies/rung_scores.py --rungs 0                       # the space file's rungs, seed 0
    python studies/rung_scores.py --budget 2:3500:1 --seeds 0 1 2 --models litehrnet_18 sdhrnet_w16_small

A budget is ``EPOCHS:IMAGES[:DECAY,...]`` (``2:3500:1``: 2 epochs on 3,500 fit images, learning
rate x0.1 after epoch 1; ``IMAGES`` may be ``all``). Its name (``rung_2ep_3500_d1``) is the column
of the rank-fidelity table, so a changed halving plan reuses every score already trained.

Resumable: a finished (model, budget, seed) is skipped, an interrupted one resumes its checkpoint.
Writes ``reports/search_lspet/rung_scores.csv`` (model, budget, seed, epochs, limit_train,
milestones, score, cpu_s, resumed). A resumed training's ``cpu_s`` covers only its last part, so a
budget's cost is taken as its median ``cpu_s`` times its trainings, never their sum.
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

OUT = fp.OUT / "rung_scores"
FIELDS = ["model", "budget", "seed", "epochs", "limit_train", "milestones", "score", "cpu_s", "resumed"]


def csv_path() -> Path:
    return fp.OUT / "rung_scores.csv"


def parse_budget(text: str) -> dict:
    """``'2:3500:1'`` -> ``{'epochs': 2, 'limit_train': 3500, 'milestones': [1]}``, validated as a rung."""
    from archlab.search.rungs import HalvingError, parse_rung
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        raw = {"epochs": int(parts[0]), "limit_train": None if parts[1] == "all" else int(parts[1])}
        if len(parts) == 3:
            raw["milestones"] = [int(x) for x in parts[2].split(",")]
    except ValueError:
        raise SystemExit(f"--budget {text!r}: expected EPOCHS:IMAGES[:DECAY,...] such as 2:3500:1") from None
    try:
        return parse_rung(raw, 1, f"--budget {text}").budget()
    except HalvingError as e:
        raise SystemExit(str(e)) from None


def space_budget(r: int) -> dict:
    """The budget of the space file's rung ``r``."""
    plan = fp.halving_plan()
    if not 0 <= r < len(plan.rungs):
        raise SystemExit(f"rung {r}: the space has rungs 0-{len(plan.rungs) - 1}")
    return plan.rungs[r].budget()


def training_options(budget: dict, seed: int) -> dict:
    """The options the search trains a configuration with, on ``budget`` and ``seed``."""
    from archlab.search import SearchSpace
    from archlab.search.halving import with_budget
    return {**with_budget(SearchSpace.from_yaml(fp.SPACE).training, budget), "seed": seed}


def read_scores() -> list[dict]:
    """The recorded rows (one reader for the study and its report)."""
    if not csv_path().is_file():
        return []
    with csv_path().open() as f:
        return list(csv.DictReader(f))


def _upgrade_header() -> None:
    """Give a CSV written before a column was added that column (empty in its old rows)."""
    rows = read_scores()
    if rows and list(rows[0]) != FIELDS:
        with csv_path().open("w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)


def done() -> set:
    return {(r["model"], r["budget"], int(r["seed"])) for r in read_scores()}


def run_folder(model: str, name: str, seed: int) -> Path:
    """Where ``model`` trains on the budget called ``name`` with ``seed`` (its run in ``run/``)."""
    return OUT / model / f"{name}_s{seed}"


def score_one(model: str, budget: dict, seed: int = 0, data_root=None) -> dict:
    """Train ``model`` on ``budget`` with ``seed`` (resuming) and append its score to the CSV."""
    import torch
    from archlab.search.objective import short_train
    torch.set_num_threads(fp.THREADS)
    name = fp.budget_name(budget)
    opts = training_options(budget, seed)
    if data_root:
        opts["data_root"] = data_root
    folder = run_folder(model, name, seed)
    resumed = (folder / "run" / "last.pt").is_file()      # cpu_s then covers the rest of the run only
    t0 = time.process_time()
    score = short_train(fp.model_spec(model), opts, folder)
    row = {"model": model, "budget": name, "seed": seed, "epochs": budget["epochs"],
           "limit_train": budget.get("limit_train", ""),
           "milestones": ",".join(map(str, budget.get("milestones", []))),
           "score": round(score, 4), "cpu_s": round(time.process_time() - t0, 1), "resumed": int(resumed)}
    _upgrade_header()
    new = not csv_path().is_file()
    with csv_path().open("a", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rungs", type=int, nargs="*", default=None, help="the space file's rungs (default: all but the last "
                    "unless --budget is given)")
    ap.add_argument("--budget", action="append", default=[], help="EPOCHS:IMAGES[:DECAY,...], repeatable")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=list(fp.MODELS), choices=list(fp.MODELS))
    ap.add_argument("--minutes", type=float, default=600.0, help="stop before starting a run after this")
    ap.add_argument("--data-root", default=os.environ.get("ARCHLAB_DATA"))
    a = ap.parse_args(argv)
    # default: every rung below the last (the last is the final protocol's own budget)
    rungs = a.rungs if a.rungs is not None else ([] if a.budget else list(range(max(1, len(fp.halving_plan().rungs) - 1))))
    budgets = [space_budget(r) for r in rungs] + [parse_budget(b) for b in a.budget]
    t_end = time.time() + 60 * a.minutes
    for budget in budgets:
        for seed in a.seeds:
            for model in a.models:
                if (model, fp.budget_name(budget), seed) in done():
                    continue
                if time.time() >= t_end:
                    print("time budget spent; run the same command again to continue", flush=True)
                    return 0
                print(json.dumps(score_one(model, budget, seed, a.data_root)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
