"""``archlab search`` and ``archlab pareto``."""
from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def _run_dir(space, given):
    return Path(given) if given else Path("runs") / "search" / space.study


def cmd_search(args) -> int:
    from .runner import finished_count, run_search
    from .space import SearchSpace
    space = SearchSpace.from_yaml(args.space)
    study = run_search(space, storage_url=args.storage, n_trials=args.n_trials, workers=args.workers,
                       worker_index=args.worker_index, run_dir=_run_dir(space, args.run_dir), progress=not args.quiet)
    print(f"study {space.study}: {finished_count(study)} finished trials; "
          f"{len(study.best_trials)} on the Pareto front. Next: archlab pareto {args.space}"
          + (f" --storage {args.storage}" if args.storage else ""))
    return 0


def cmd_pareto(args) -> int:
    from .report import pareto_report
    from .space import SearchSpace
    from .storage import load_run_study
    space = SearchSpace.from_yaml(args.space)
    run_dir = _run_dir(space, args.run_dir)
    study = load_run_study(space, run_dir, args.storage)
    files = pareto_report(space, study, Path(args.out or run_dir / "pareto"), latency_sample=args.latency_sample)
    for k, v in files.items():
        print(f"{k:>24}: {v}")
    return 0


def register(sp) -> None:
    s = sp.add_parser("search", help="run or resume an Optuna search described by a space YAML")
    s.add_argument("space", help="search space YAML (see studies/search_cost.yaml)")
    s.add_argument("--storage", help="sqlite:///..., postgresql+psycopg2://..., or journal:PATH "
                   "(default: RUN_DIR/study.db, or RUN_DIR/study.journal with --workers > 1)")
    s.add_argument("--n-trials", type=int, help="total finished trials wanted (default: the space's n_trials)")
    s.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    s.add_argument("--worker-index", type=int, default=0,
                   help="a distinct number per machine when several machines share one RDB storage "
                        "(keeps their samplers from drawing the same configurations)")
    s.add_argument("--run-dir", help="folder for the study (default: runs/search/STUDY)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_search)
    p = sp.add_parser("pareto", help="Pareto tables and figures of a study")
    p.add_argument("space", help="the search space YAML the study was run with")
    p.add_argument("--storage", help="storage URL (default: the run folder's)")
    p.add_argument("--run-dir", help="folder the study was run in (default: runs/search/STUDY)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/pareto)")
    p.add_argument("--latency-sample", type=int, default=0,
                   help="measure CPU latency for the front, the baselines and this many random trials")
    p.set_defaults(func=cmd_pareto)
