"""Running a search: create or resume the study, enqueue baselines, run one or many workers.

The trial budget ``n_trials`` counts finished trials (complete or pruned-as-invalid). A resumed
search runs only what is missing; every worker gets a fixed share of the remainder, so the study
ends with exactly ``n_trials`` finished trials unless a worker dies (then resume again: its
RUNNING trial is failed and retried, see :mod:`archlab.search.storage`).
"""
from __future__ import annotations

import json
import warnings
import subprocess
import sys
from pathlib import Path

import optuna
from optuna.trial import TrialState

from .check import DEFAULT_DRAWS, SpaceCheck, check_space
from .objective import make_objective
from .space import SearchSpace
from .storage import describe_storage, recover_stale_trials, resolve_storage

__all__ = ["make_sampler", "open_study", "run_search", "run_worker", "finished_count", "requeue_failed_baselines"]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def sampler_seed(seed: int | None, salt: int) -> int | None:
    """The seed a sampler process uses: the space's ``seed`` for the first process of a fresh
    study (``salt`` 0), else a value derived from ``(seed, salt)``. ``salt`` combines the number
    of trials already in the study and the worker index, so a resumed chunk or a second worker
    does not replay the first process's random stream (which would sample the same
    configurations again), while a given history still gives the same samples."""
    if seed is None or salt == 0:
        return seed
    import numpy as np
    return int(np.random.SeedSequence([int(seed), int(salt)]).generate_state(1)[0])


def make_sampler(space: SearchSpace, salt: int = 0):
    cfg = space.sampler
    kind, seed = cfg.get("type", "nsga2"), sampler_seed(cfg.get("seed"), salt)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=int(cfg.get("population_size", 50)))
    if kind == "nsga3":
        return optuna.samplers.NSGAIIISampler(seed=seed, population_size=int(cfg.get("population_size", 50)))
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(space: SearchSpace, storage, *, enqueue: bool = True, worker: int = 0) -> optuna.Study:
    """Create or load the study; on creation, enqueue the baselines as its first trials. The
    sampler is seeded from the space's seed, the trials already stored and ``worker``
    (:func:`sampler_seed`).

    Budgets reach the samplers through ``trial.set_constraint`` (Optuna 5's replacement for
    ``constraints_func``); multi-objective studies get no pruner."""
    study = optuna.create_study(study_name=space.study, storage=storage, sampler=make_sampler(space),
                                directions=[o.direction for o in space.objectives], load_if_exists=True)
    if not study.user_attrs.get("objective_names"):
        with warnings.catch_warnings():  # experimental API notice, not actionable for users
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.label for o in space.objectives])
        study.set_user_attr("objective_names", [o.label for o in space.objectives])
        study.set_user_attr("space_source", space.source)
        if enqueue:
            for b in space.baselines:
                study.enqueue_trial(space.params_for(b), user_attrs={"baseline": b})
    elif study.user_attrs["objective_names"] != [o.label for o in space.objectives]:
        if _holds_nothing(study):  # e.g. left by a run that failed before any trial finished
            print(f"study {space.study!r}: replacing a stored study with other objectives "
                  f"({study.user_attrs['objective_names']}) that holds no finished trial", file=sys.stderr)
            optuna.delete_study(study_name=space.study, storage=storage)
            return open_study(space, storage, enqueue=enqueue, worker=worker)
        raise ValueError(f"study {space.study!r} in this storage has objectives "
                         f"{study.user_attrs['objective_names']}, but the space asks for "
                         f"{[o.label for o in space.objectives]}: use another study name or storage")
    started = sum(1 for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING)
    study.sampler = make_sampler(space, started + 1_000_003 * int(worker))
    return study


def requeue_failed_baselines(study: optuna.Study, space: SearchSpace) -> list[str]:
    """Enqueue again each baseline whose every trial failed (an error in an earlier run, say), so
    a rerun measures it instead of leaving it out for good. Returns the baselines enqueued."""
    held = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False) if t.state != TrialState.FAIL}
    failed = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    again = [b for b in space.baselines if b in failed and b not in held]
    for b in again:
        study.enqueue_trial(space.params_for(b), user_attrs={"baseline": b}, skip_if_exists=False)
    return again


def _holds_nothing(study: optuna.Study) -> bool:
    """No trial finished or running: only waiting (enqueued) or failed ones."""
    return all(t.state in (TrialState.WAITING, TrialState.FAIL) for t in study.get_trials(deepcopy=False))


def _quiet_at_least(level: int = optuna.logging.WARNING) -> None:
    """Raise Optuna's log level to ``level`` unless the caller already set it higher."""
    if optuna.logging.get_verbosity() < level:
        optuna.logging.set_verbosity(level)


def finished_count(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_worker(space: SearchSpace, storage, run_dir, n_trials: int, *, progress: bool = True,
               train_fn=None, latency_fn=None, worker: int = 0) -> int:
    """Run ``n_trials`` trials in this process (one at a time, recovering stale trials first);
    ``worker`` tells concurrent workers' samplers apart (:func:`sampler_seed`)."""
    _quiet_at_least()
    study = open_study(space, storage, worker=worker)
    objective = make_objective(space, run_dir, train_fn=train_fn, latency_fn=latency_fn)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_trials, desc=f"search {space.study}", unit="trial")
    done = 0
    for _ in range(n_trials):
        recover_stale_trials(study)
        study.optimize(objective, n_trials=1, catch=(RuntimeError,), gc_after_trial=False)
        done += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(finished=finished_count(study))
    if bar is not None:
        bar.close()
    return done


def run_search(space: SearchSpace, *, storage_url: str | None = None, n_trials: int | None = None,
               workers: int = 1, run_dir: str | Path | None = None, progress: bool = True,
               worker_index: int = 0, check: SpaceCheck | int = DEFAULT_DRAWS) -> optuna.Study:
    """Run (or resume) the search until the study holds ``n_trials`` finished trials.

    ``check``: draws for :func:`archlab.search.check.check_space`, run before anything is
    written (so a hopeless space raises :class:`SpaceError` and leaves no run folder behind),
    or a check already made (0: none). ``worker_index``: for workers started by hand on several
    machines against one RDB storage, a distinct number per machine (local workers get
    ``worker_index * workers + i``)."""
    checked = check if isinstance(check, SpaceCheck) else (check_space(space, check) if check else None)
    _quiet_at_least()
    run_dir = Path(run_dir or Path("runs") / "search" / space.study)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = int(n_trials or space.n_trials)
    storage = resolve_storage(storage_url, run_dir, workers)
    study = open_study(space, storage)
    recover_stale_trials(study)
    requeue_failed_baselines(study, space)
    remaining = max(0, target - finished_count(study))
    (run_dir / "search.json").write_text(json.dumps({
        "space": space.source, "storage": describe_storage(storage), "n_trials": target, "workers": workers,
        **({"space_check": checked.to_dict()} if checked else {})}, indent=2))
    if remaining == 0:
        return study
    if workers <= 1:
        run_worker(space, storage, run_dir, remaining, progress=progress, worker=worker_index)
        return study
    url = storage_url or (f"journal:{run_dir / 'study.journal'}")
    shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
    quiet = ["--quiet"] if optuna.logging.get_verbosity() >= optuna.logging.ERROR else []
    procs = [subprocess.Popen([sys.executable, "-m", "archlab.search.worker", space.source, "--storage", url,
                               "--run-dir", str(run_dir), "--n-trials", str(n),
                               "--worker", str(worker_index * workers + i), *quiet])
             for i, n in enumerate(shares) if n > 0]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"{sum(1 for c in codes if c)} of {len(procs)} workers failed (exit codes {codes}); "
                           "run the same command again to resume")
    return optuna.load_study(study_name=space.study, storage=resolve_storage(url, run_dir, workers))
