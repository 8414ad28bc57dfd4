"""Search throughput: analytic screening (candidate specs per second, including the budget
check) and trials per hour of the accuracy search, measured in one run.

    python benchmarks/bench_search.py [--candidates 500] [--train-trials 2] [--out reports/bench_search.txt]

Screening samples knob values from studies/search_cost.yaml with a plain RandomSampler (no
storage) and times spec generation + validation + archlab.count + the constraint check. The
training rate runs real short trials of studies/search_train.yaml (its training options, or
--quick-train limits) through the same objective the search uses, on an in-memory study.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch

from archlab.search.objective import analytic_cost, constraint_values, make_objective
from archlab.search.space import SearchSpace


def screening(space: SearchSpace, n: int) -> tuple[float, int]:
    study = optuna.create_study(directions=[o.direction for o in space.objectives],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    profile = space.constraints.get("profile", "macs")
    over = 0
    t0 = time.perf_counter()
    for _ in range(n):
        trial = study.ask()
        spec = space.suggest(trial)
        cost = analytic_cost(spec, profile)
        cons = constraint_values(space, {"params": cost["params"], "macs_budget": cost["macs"]})
        over += any(c > 0 for c in cons)
    return n / (time.perf_counter() - t0), over


def recorded(run_dir: Path, space_path: str) -> str:
    """Trials per hour of a recorded search, from its trials' start/finish times."""
    from archlab.search.storage import load_run_study
    space = SearchSpace.from_yaml(space_path)
    study = load_run_study(space, run_dir)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.datetime_complete]
    trained = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done
               if t.user_attrs.get("feasible", True) and "accuracy" in t.user_attrs]
    if not trained:
        return f"recorded search {run_dir}: no trained trials yet"
    med = statistics.median(trained)
    return (f"recorded search {run_dir}: {len(trained)} trained trials, median {med:.0f} s per trial "
            f"(min {min(trained):.0f}, max {max(trained):.0f}) = {3600 / med:.1f} trials/hour as run there "
            f"({len(done) - len(trained)} over-budget trials took no training)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cost-space", default="studies/search_cost.yaml")
    ap.add_argument("--train-space", default="studies/search_train.yaml")
    ap.add_argument("--candidates", type=int, default=500)
    ap.add_argument("--train-trials", type=int, default=2)
    ap.add_argument("--quick-train", action="store_true", help="16 training images, 1 epoch (a smoke run)")
    ap.add_argument("--study-run", default=None,
                    help="also summarise the trial wall times of a recorded search (its run folder, e.g. "
                         "reports/search_train)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import os
    lines = [f"# bench_search ({platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start)"]
    space = SearchSpace.from_yaml(a.cost_space)
    rates = []
    for _ in range(3):
        r, over = screening(space, a.candidates)
        rates.append(r)
    lines.append(f"analytic screening: {statistics.median(rates):,.0f} candidate specs/s "
                 f"(median of 3 x {a.candidates}; spec + validation + count + budget check; "
                 f"{over} of the last {a.candidates} over budget, never built)")
    if a.train_trials:
        tspace = SearchSpace.from_yaml(a.train_space)
        if a.quick_train:
            import dataclasses
            tspace = dataclasses.replace(tspace, training={**tspace.training, "limit_train": 16, "limit_val": 8,
                                                           "epochs": 1})
        with tempfile.TemporaryDirectory() as tmp:
            study = optuna.create_study(directions=[o.direction for o in tspace.objectives],
                                        sampler=optuna.samplers.RandomSampler(seed=0))
            objective = make_objective(tspace, Path(tmp))
            t0 = time.perf_counter()
            study.optimize(objective, n_trials=a.train_trials)
            dt = (time.perf_counter() - t0) / a.train_trials
        lines.append(f"training search: {3600 / dt:.1f} trials/hour ({dt:.0f} s per trial; training options "
                     f"{dict(tspace.training)})")
        lines.append(f"ratio screening/training: {statistics.median(rates) * dt:,.0f} candidates screened in the "
                     "time of one trained trial")
    if a.study_run:
        lines.append(recorded(Path(a.study_run), a.train_space))
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
