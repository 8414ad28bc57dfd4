"""One search worker process: ``python -m archlab.search.worker SPACE.yaml --storage URL --n-trials N``."""
from __future__ import annotations

import argparse
import sys

from .runner import run_worker
from .space import SearchSpace
from .storage import resolve_storage, set_optuna_verbosity


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="archlab.search.worker")
    p.add_argument("space")
    p.add_argument("--storage", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--n-trials", type=int, required=True)
    p.add_argument("--worker", type=int, default=0, help="worker index (seeds this worker's sampler apart)")
    p.add_argument("--quiet", action="store_true", help="Optuna errors only (default: warnings)")
    a = p.parse_args(argv)
    set_optuna_verbosity(a.quiet)
    space = SearchSpace.from_yaml(a.space)
    run_worker(space, resolve_storage(a.storage, a.run_dir, workers=2), a.run_dir, a.n_trials, progress=False,
               worker=a.worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
