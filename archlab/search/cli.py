"""``archlab search`` and ``archlab pareto``."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

__all__ = ["register", "study_outcome"]


def _run_dir(space, given):
    return Path(given) if given else Path("runs") / "search" / space.study


def study_outcome(study) -> dict:
    """Counts of a study's trials: finished (complete or pruned as invalid), complete, pruned,
    failed, feasible (complete and within budget) and on the Pareto front (Optuna's
    ``best_trials``, which honours the budgets)."""
    from optuna.trial import TrialState
    trials = study.get_trials(deepcopy=False)
    n = {s: sum(1 for t in trials if t.state == s) for s in (TrialState.COMPLETE, TrialState.PRUNED,
                                                              TrialState.FAIL)}
    feasible = sum(1 for t in trials if t.state == TrialState.COMPLETE and t.user_attrs.get("feasible", True))
    return {"finished": n[TrialState.COMPLETE] + n[TrialState.PRUNED], "complete": n[TrialState.COMPLETE],
            "pruned": n[TrialState.PRUNED], "failed": n[TrialState.FAIL], "feasible": feasible,
            "front": len(study.best_trials) if n[TrialState.COMPLETE] else 0}


def cmd_search(args) -> int:
    from .check import check_space
    from .runner import run_search
    from .space import SearchSpace
    from .storage import set_optuna_verbosity
    set_optuna_verbosity(args.quiet)
    if args.check_draws < 0:
        raise ValueError(f"--check-draws: expected 0 (no check) or a positive number, got {args.check_draws}")
    space = SearchSpace.from_yaml(args.space)
    checked = check_space(space, args.check_draws) if args.check_draws > 0 else 0
    if checked:
        print(checked.summary())
    run_dir = _run_dir(space, args.run_dir)
    if space.halving is not None:
        return _halving(space, args, run_dir)
    study = run_search(space, storage_url=args.storage, n_trials=args.n_trials, workers=args.workers,
                       worker_index=args.worker_index, run_dir=run_dir, progress=not args.quiet, check=checked)
    o = study_outcome(study)
    failed = f", {o['failed']} failed" if o["failed"] else ""
    line = (f"study {space.study}: {o['finished']} finished trials ({o['complete']} complete, {o['pruned']} "
            f"pruned as invalid specs{failed}); {o['feasible']} within budget; {o['front']} on the Pareto front.")
    if o["feasible"] == 0 or o["front"] == 0:
        why = ("no trial completed" if o["complete"] == 0 else "no completed trial is within budget"
               if o["feasible"] == 0 else "the Pareto front is empty")
        print(f"{line} Nothing to report: {why}. Check the space (budgets, ranges) or the failed trials.",
              file=sys.stderr)
        return 1
    cmd = ["archlab", "pareto", args.space, "--run-dir", str(run_dir)]
    if args.storage:
        cmd += ["--storage", args.storage]
    print(f"{line} Next: {shlex.join(cmd)}")
    return 0


def _halving(space, args, run_dir) -> int:
    """The space's multi-fidelity plan: run (or resume) its rungs in order, up to --until-rung."""
    from .halving import run_halving
    from .storage import resolve_storage
    if args.workers != 1:
        raise ValueError("--workers: a halving search runs its rungs in one process (start more processes "
                         "on an RDB --storage for parallel workers)")
    storage = resolve_storage(args.storage, run_dir)
    studies = run_halving(space, space.halving, storage, run_dir, until_rung=args.until_rung)
    for r, study in enumerate(studies):
        o = study_outcome(study)
        rung = space.halving.rungs[r]
        print(f"rung {r} ({study.study_name}: {rung.epochs} epoch(s) on {rung.limit_train or 'all'} images): "
              f"{o['complete']} complete of {rung.keep}, {o['failed']} failed, {o['front']} on its front")
    last = study_outcome(studies[-1])
    if last["complete"] == 0:
        print("Nothing to report: the last rung run holds no completed trial.", file=sys.stderr)
        return 1
    return 0


def _pareto_out(space, args) -> tuple[Path, Path]:
    """(run folder, output folder) for ``archlab pareto``: with ``--storage`` and no
    ``--run-dir``, the report goes beside a storage file, or to ``--out`` (required for a
    server database), never silently under the current folder."""
    from .storage import storage_file
    if args.run_dir or not args.storage:
        run_dir = _run_dir(space, args.run_dir)
        return run_dir, Path(args.out) if args.out else run_dir / "pareto"
    f = storage_file(args.storage)
    if args.out:
        return Path(args.out).parent, Path(args.out)
    if f is None:
        raise ValueError("with a database --storage and no --run-dir, say where the report goes: --out FOLDER")
    return f.parent, f.parent / "pareto"


def cmd_pareto(args) -> int:
    from ..plots.search_report import pareto_report
    from .space import SearchSpace
    from .storage import load_run_study, set_optuna_verbosity
    set_optuna_verbosity(args.quiet)
    space = SearchSpace.from_yaml(args.space)
    run_dir, out = _pareto_out(space, args)
    study = load_run_study(space, run_dir, args.storage)
    files = pareto_report(space, study, out, latency_sample=args.latency_sample)
    for k, v in files.items():
        print(f"{k:>24}: {v}")
    return 0


def register(sp) -> None:
    s = sp.add_parser("search", help="run or resume an Optuna search described by a space YAML",
                      description="Run or resume a search. The space is checked first: random draws are "
                      "counted (nothing is built) and the baselines costed; a space where no draw is a valid "
                      "network or nothing fits the budget is an error before any trial. Exits 1 when the "
                      "study ends with no feasible trial or an empty Pareto front.")
    s.add_argument("space", help="search space YAML (see studies/search_cost.yaml)")
    s.add_argument("--storage", help="sqlite:///..., postgresql+psycopg2://..., or journal:PATH "
                   "(default: RUN_DIR/study.db, or RUN_DIR/study.journal with --workers > 1)")
    s.add_argument("--n-trials", type=int, help="total finished trials wanted (default: the space's n_trials)")
    s.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    s.add_argument("--worker-index", type=int, default=0,
                   help="a distinct number per machine when several machines share one RDB storage "
                        "(keeps their samplers from drawing the same configurations)")
    s.add_argument("--run-dir", help="folder for the study (default: runs/search/STUDY)")
    s.add_argument("--check-draws", type=int, default=256,
                   help="random draws counted to check the space before searching (default 256; 0: skip)")
    s.add_argument("--quiet", action="store_true", help="no progress bar, and Optuna errors only "
                   "(default: Optuna warnings, no INFO lines)")
    s.add_argument("--until-rung", type=int, default=None, metavar="R",
                   help="spaces with a halving plan: stop after rung R (resumable chunks; default: all rungs)")
    s.set_defaults(func=cmd_search)
    p = sp.add_parser("pareto", help="Pareto tables and figures of a study")
    p.add_argument("space", help="the search space YAML the study was run with")
    p.add_argument("--storage", help="storage URL (default: the run folder's study.journal or study.db)")
    p.add_argument("--run-dir", help="folder the study was run in (default: runs/search/STUDY)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/pareto; with --storage and no --run-dir: "
                   "a 'pareto' folder beside the storage file, and required for a database server)")
    p.add_argument("--latency-sample", type=int, default=0, metavar="N",
                   help="measure CPU latency (the space's latency options; default batch 1, 1 thread) for every baseline, "
                        "N points evenly spaced along the Pareto front (all of them if it has N or fewer "
                        "distinct configurations) and N random feasible trials off the front; "
                        "resumable (default 0: no latency)")
    p.add_argument("--quiet", action="store_true", help="Optuna errors only (default: warnings)")
    p.set_defaults(func=cmd_pareto)
