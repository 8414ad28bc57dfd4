"""Search throughput: analytic screening (candidate specs per second, including the budget
check) and trials per hour of the accuracy search, measured in one run.

    python benchmarks/bench_search.py [--candidates 500] [--train-trials 2] [--out reports/bench_search.txt]
    python benchmarks/bench_search.py --candidates 0 --train-trials 0 \
        --halving-run reports/search_lspet/search --halving-space studies/search_lspet.yaml \
        --protocol-runs reports/search_lspet/runs --rung-scores reports/search_lspet/rung_scores.csv \
        --out reports/search_lspet/bench_search.txt

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


def _spread(xs: list) -> str:
    q1, med, q3 = (statistics.quantiles(xs, n=4) if len(xs) > 1 else (xs[0],) * 3)
    return f"median {med:.0f} s (IQR {q1:.0f}-{q3:.0f}, min {min(xs):.0f}, n={len(xs)})"


def halving(run_dir: Path, space_path: str) -> tuple[list[str], float]:
    """Trials per hour for each rung of a successive-halving study, from its stored trial times,
    and the CPU-hours the rungs took (trial wall time x training threads)."""
    from archlab.search.halving import rung_study_name
    from archlab.search.storage import load_run_study
    space = SearchSpace.from_yaml(space_path)
    study0 = load_run_study(space, run_dir)
    threads = int(space.training.get("threads", 1) or 1)
    lines, cpu_h = [], 0.0
    names = optuna.get_all_study_names(study0._storage)
    for r, rung in enumerate(space.halving.rungs if space.halving else [None]):
        name = rung_study_name(space, r)
        budget = "" if rung is None else f" ({rung.epochs} epochs on {rung.limit_train or 'all'} fit images" + (
            f", LR decay after epoch {', '.join(map(str, rung.milestones))})" if rung.milestones else ")")
        if name not in names:
            lines.append(f"rung {r}: not started")
            continue
        st = optuna.load_study(study_name=name, storage=study0._storage)
        wall = [(t.datetime_complete - t.datetime_start).total_seconds() for t in st.trials
                if t.state == optuna.trial.TrialState.COMPLETE and t.datetime_complete and t.datetime_start]
        cpu_h += sum(wall) * threads / 3600
        if not wall:
            lines.append(f"rung {r}{budget}: no finished trial yet")
            continue
        med = statistics.median(wall)
        lines.append(f"rung {r}{budget}: {len(wall)} finished trials, {3600 / med:.1f} trials/hour; "
                     f"trial wall time {_spread(wall)}; {sum(wall) * threads / 3600:.2f} CPU-hours")
    return lines, cpu_h


def protocol_runs(root: Path) -> tuple[list[str], float]:
    """CPU-hours of the final-protocol runs (training + validation epoch times in metrics.csv)."""
    import pandas as pd
    rows, cpu_h = [], 0.0
    for m in sorted(root.glob("*/seed*/metrics.csv")):
        df = pd.read_csv(m)
        h = (df["epoch_time_s"].sum() + df.get("val_time_s", pd.Series([0.0])).fillna(0).sum()) / 3600
        cpu_h += h
        rows.append(f"  {m.parent.parent.name} {m.parent.name}: {len(df)} epochs, {h:.2f} CPU-hours "
                    f"(epoch {_spread(list(df['epoch_time_s']))})")
    return [f"final-protocol runs ({root}): {cpu_h:.2f} CPU-hours (1 thread each)", *rows], cpu_h


def rung_scores(path: Path) -> tuple[list[str], float]:
    """Trials per CPU-hour of every rung budget the study scored its models on
    (``studies/rung_scores.py``: CPU seconds of each (model, budget, seed) training)."""
    import pandas as pd
    z = pd.read_csv(path)
    lines, cpu_h = [f"rung-budget scores ({path}):"], 0.0
    for budget, g in z.groupby("budget", sort=False):
        xs = list(g["cpu_s"].astype(float))
        h = statistics.median(xs) * len(xs) / 3600     # a resumed training records its last part only
        cpu_h += h
        lines.append(f"  {budget}: {len(xs)} trainings, {3600 / statistics.median(xs):.1f} trials per CPU-hour; "
                     f"CPU time {_spread(xs)}; {h:.2f} CPU-hours (median x trainings)")
    return lines, cpu_h


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
    ap.add_argument("--halving-run", default=None,
                    help="a successive-halving search's run folder: trials/hour per rung and CPU-hours")
    ap.add_argument("--halving-space", default="studies/search_lspet.yaml")
    ap.add_argument("--protocol-runs", default=None,
                    help="a folder of final-protocol runs (MODEL/seedN/metrics.csv): their CPU-hours")
    ap.add_argument("--rung-scores", default=None,
                    help="a rung_scores.csv (studies/rung_scores.py): trials per CPU-hour of every budget")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import os
    lines = [f"# bench_search ({platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start)"]
    rates = []
    if a.candidates:
        space = SearchSpace.from_yaml(a.cost_space)
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
        if rates:
            lines.append(f"ratio screening/training: {statistics.median(rates) * dt:,.0f} candidates screened in the "
                         "time of one trained trial")
    if a.study_run:
        lines.append(recorded(Path(a.study_run), a.train_space))
    total = 0.0
    if a.halving_run:
        more, h = halving(Path(a.halving_run), a.halving_space)
        lines += [f"halving search {a.halving_run}:", *("  " + x for x in more)]
        total += h
    if a.protocol_runs:
        more, h = protocol_runs(Path(a.protocol_runs))
        lines += more
        total += h
    if a.rung_scores:
        more, h = rung_scores(Path(a.rung_scores))
        lines += more
        total += h
    if a.halving_run or a.protocol_runs or a.rung_scores:
        lines.append(f"whole study so far: {total:.2f} CPU-hours (wall time x threads, as run, under the "
                     "load recorded above)")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
