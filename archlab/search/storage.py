"""Where a study lives, and how a dead worker's trial is recovered.

* no URL, one worker: ``sqlite:///RUN/study.db`` (embedded, one process);
* no URL, several workers on this machine: Optuna's journal file ``RUN/study.journal``;
* ``journal:PATH`` (or a path ending in ``.journal``): a journal file you name;
* any SQLAlchemy URL (``postgresql+psycopg2://user@host/db``, ``mysql://...``, ``sqlite:///...``):
  Optuna's RDB storage, with heartbeats -- a worker that dies mid-trial stops beating, and after
  ``grace_period`` seconds the next worker marks its trial FAIL and
  :class:`optuna.storages.RetryHeartbeatStaleTrialCallback` enqueues a copy with the same parameters.

Optuna's journal storage has no heartbeat, so for it :func:`recover_stale_trials` does the same
job on one machine: a RUNNING trial whose recorded worker process no longer exists is marked
FAIL and re-enqueued once (``retry_of`` records the original trial number).
"""
from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

__all__ = ["resolve_storage", "describe_storage", "recover_stale_trials", "mark_worker", "WORKER_ATTR",
           "load_run_study", "storage_file", "set_optuna_verbosity"]

WORKER_ATTR = "archlab_worker"


def set_optuna_verbosity(quiet: bool = False) -> None:
    """Optuna's log level for archlab's commands: warnings only, errors only when ``quiet`` (its
    INFO lines -- "A new study created", one per trial -- repeat what the progress bar shows)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR if quiet else optuna.logging.WARNING)


def storage_file(url: str) -> Path | None:
    """The file behind a ``sqlite:///PATH`` or journal storage URL, else None (a server database).

    >>> storage_file("sqlite:///runs/s/study.db"), storage_file("journal:a/b.journal")
    (PosixPath('runs/s/study.db'), PosixPath('a/b.journal'))
    >>> storage_file("postgresql+psycopg2://me@host/db") is None
    True
    """
    url = str(url)
    if url.startswith("journal:"):
        return Path(url[len("journal:"):])
    if url.endswith(".journal") and "://" not in url:
        return Path(url)
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def resolve_storage(url: str | None, run_dir: str | Path, workers: int = 1, *, heartbeat_interval: int = 10,
                    grace_period: int = 30, max_retry: int = 2):
    """An Optuna storage object for ``url`` (see the module docstring for the defaults)."""
    run_dir = Path(run_dir)
    if url is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        url = f"journal:{run_dir / 'study.journal'}" if workers > 1 else f"sqlite:///{run_dir / 'study.db'}"
    url = str(url)
    if url.startswith("journal:") or url.endswith(".journal"):
        path = Path(url[len("journal:"):] if url.startswith("journal:") else url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise ValueError(f"storage: {url!r} is neither a database URL (sqlite:///..., postgresql+psycopg2://...) "
                         "nor a journal file (journal:PATH)")
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():  # heartbeats and their retry callback: deliberate, see above
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                              heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                              engine_kwargs={"pool_pre_ping": True} if not url.startswith("sqlite") else None)
    except ModuleNotFoundError as e:
        raise ValueError(f"storage: the database driver for {url.split('://')[0]!r} is not installed ({e.name}); "
                         "for PostgreSQL: pip install 'archlab[postgres]'") from None


def describe_storage(storage) -> str:
    if isinstance(storage, JournalStorage):
        return f"journal file {storage._backend._file_path}"  # noqa: SLF001 (for display only)
    if isinstance(storage, RDBStorage):
        return f"database {storage.engine.url.render_as_string(hide_password=True)}"
    return type(storage).__name__


def mark_worker(trial) -> None:
    """Record which process runs ``trial`` (host + pid), for stale-trial recovery."""
    trial.storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR,  # noqa: SLF001
                                        f"{socket.gethostname()}:{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale_trials(study: optuna.Study, max_retry: int = 2) -> list[int]:
    """Journal storage: fail RUNNING trials whose worker process (on this host) is gone and
    enqueue each once more (up to ``max_retry`` times). Returns the failed trial numbers.
    RDB storages do this themselves through heartbeats."""
    if not isinstance(study._storage, JournalStorage):  # noqa: SLF001
        return []
    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.system_attrs.get(WORKER_ATTR)
        if not owner:
            continue
        h, _, pid = owner.rpartition(":")
        if h != host or _alive(int(pid)):
            continue
        try:
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001
        except RuntimeError:  # another worker got there first
            continue
        failed.append(t.number)
        root = t.system_attrs.get("failed_trial", t.number)
        retries = sum(1 for x in study.get_trials(deepcopy=False) if x.system_attrs.get("failed_trial") == root)
        if retries < max_retry:
            study.enqueue_trial(t.params, user_attrs={**t.user_attrs, "retry_of": t.number},
                                skip_if_exists=False)
            # mark the copy like Optuna's RetryFailedTrialCallback does
            waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))[-1]
            study._storage.set_trial_system_attr(waiting._trial_id, "failed_trial", root)  # noqa: SLF001
    return failed


def load_run_study(space, run_dir: str | Path, url: str | None = None) -> optuna.Study:
    """The study of ``space`` as ``archlab search`` stored it: ``url`` if given, else the run
    folder's ``study.journal`` or ``study.db``."""
    run_dir = Path(run_dir)
    if url is None:
        journal, db = run_dir / "study.journal", run_dir / "study.db"
        if not journal.exists() and not db.exists():
            raise FileNotFoundError(f"no study storage in {run_dir} (run `archlab search {space.source}` first, "
                                    "or pass --storage/--run-dir)")
        url = f"journal:{journal}" if journal.exists() else f"sqlite:///{db}"
    elif (f := storage_file(url)) is not None and not f.is_file():
        raise FileNotFoundError(f"storage: no such file {f}")  # (opening it would create an empty one)
    storage = resolve_storage(url, run_dir)
    names = optuna.get_all_study_names(storage)
    if space.study not in names:
        raise ValueError(f"storage {describe_storage(storage)} holds no study {space.study!r} "
                         f"(it holds: {', '.join(names) or 'none'})")
    return optuna.load_study(study_name=space.study, storage=storage)
