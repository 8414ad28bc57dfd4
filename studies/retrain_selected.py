"""Retrain the searched candidates and the baselines under one longer budget, and compare.

Picks the ``--top`` most accurate feasible searched trials (Pareto front first), writes their
specs, and trains each of them, the search baselines and scaled Lite-HRNet-18 with the same
configuration (LSPET, same input size, epochs, batch, seed). Every run is resumable: run the
command again after an interruption and finished runs are skipped, interrupted ones resumed.

    python studies/retrain_selected.py --study studies/search_train.yaml --top 3 --epochs 3 --limit-train 4000
    python studies/retrain_selected.py --only baselines   # while the search still runs (OMP_NUM_THREADS=1 each)

Two copies may run at once (e.g. one per core with ``OMP_NUM_THREADS=1``): each run folder is
claimed with a lock file, so they share the list instead of training the same network twice.
    python studies/retrain_selected.py ... --limit-train 64 --limit-val 32 --epochs 1 --out /tmp/rt  # smoke test
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

import archlab
from archlab.search import SearchSpace, trials_table
from archlab.search.pareto import distinct_configs
from archlab.search.report import _Fixed
from archlab.search.storage import load_run_study
from archlab.train import TrainConfig, train


def candidates(space: SearchSpace, df: pd.DataFrame, top: int) -> dict[str, archlab.NetworkSpec]:
    """The ``top`` most accurate searched (non-baseline, feasible, distinct) trials on the front
    -- then, if the front holds fewer, the most accurate of the rest: name -> spec."""
    base = df["baseline"] if "baseline" in df else pd.Series(index=df.index, dtype=object)
    pool = distinct_configs(df[base.isna() & df["feasible"]])
    front = pool.sort_values(["pareto", "accuracy"], ascending=[False, False]).head(top)
    out = {}
    for _, row in front.iterrows():
        params = {k[len("param_"):]: v for k, v in row.items() if k.startswith("param_") and pd.notna(v)}
        values = {k.name: k.suggest(_Fixed(params)) for k in space.knobs}
        out[f"trial{int(row['trial']):04d}"] = space.apply(values, name=f"{space.study}_trial{int(row['trial'])}")
    return out


def baseline_scores(df: pd.DataFrame) -> dict[str, float]:
    """Baseline path (as enqueued) -> its proxy score in the search."""
    if "baseline" not in df:
        return {}
    rows = df[df["baseline"].notna()]
    return {str(b): float(a) for b, a in zip(rows["baseline"], rows["accuracy"])}


def _claim(d: Path) -> bool:
    """Take ``d/train.lock`` for this process (so two copies of this script can share the list);
    a lock left by a dead process is taken over."""
    lock = d / "train.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(lock.read_text()), 0)
                return False                    # held by a live process
            except ProcessLookupError:
                lock.unlink(missing_ok=True)    # stale: its process is gone
                continue
            except (ValueError, PermissionError, FileNotFoundError):
                return False                    # being written or released right now: leave it
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def _summary(run: Path) -> dict:
    """Best validation PCK@0.2 (%), its epoch and the epochs done, from a run's metrics.csv."""
    m = pd.read_csv(run / "metrics.csv")
    col = "val_PCK@0.2"
    i = m[col].idxmax()
    return {"best": 100 * float(m.loc[i, col]), "best_epoch": int(m.loc[i, "epoch"]), "epochs": int(m["epoch"].max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default="studies/search_train.yaml")
    ap.add_argument("--run-dir", default=None, help="the search's run folder (default: reports/STUDY)")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit-train", type=int, default=4000,
                    help="training images (default 4,000: 3.75x a search trial's 2 x 1,600 at 3 epochs)")
    ap.add_argument("--limit-val", type=int, default=None)
    ap.add_argument("--out", default=None, help="default: RUN_DIR/retrain")
    ap.add_argument("--only", choices=("all", "baselines", "candidates"), default="all",
                    help="train only these (e.g. the baselines while the search still runs); the comparison "
                         "table lists every finished run")
    a = ap.parse_args(argv)
    space = SearchSpace.from_yaml(a.study)
    run_dir = Path(a.run_dir or Path("reports") / space.study)
    out = Path(a.out or run_dir / "retrain")
    out.mkdir(parents=True, exist_ok=True)
    size = space.base_spec().input_size
    df = trials_table(load_run_study(space, run_dir))
    nets = {}                                   # name -> spec
    if a.only != "baselines":
        nets.update(candidates(space, df, a.top))
    if a.only != "candidates":
        for b in space.baselines:
            spec = archlab.resolve_spec(b)
            nets[f"baseline_{spec.name}"] = spec
        nets["baseline_litehrnet_18"] = archlab.get_spec("litehrnet_18_coco").replace(
            name="litehrnet_18_lspet", num_joints=14, input_size=size)
    for name, spec in nets.items():
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        spec.to_yaml(d / "spec.yaml")
        if (d / "run" / "metrics.csv").exists() and not (d / "run" / "last.pt").exists() \
                and _summary(d / "run")["epochs"] >= a.epochs:
            continue                            # finished in an earlier checkout (checkpoints are not committed)
        if not _claim(d):
            print(f"{name}: being trained by another process (lock {d / 'train.lock'}), skipped")
            continue
        try:
            cfg = TrainConfig(model=str(d / "spec.yaml"), data="lspet", input_size=size, epochs=a.epochs,
                              batch=a.batch, workers=a.workers, limit_train=a.limit_train, limit_val=a.limit_val,
                              out=str(d / "run"), resume=(d / "run" / "last.pt").exists(), seed=0)
            train(cfg)
        finally:
            (d / "train.lock").unlink(missing_ok=True)
    proxy = {f"trial{int(t):04d}": float(v) for t, v in zip(df["trial"], df["accuracy"])}
    proxy.update({f"baseline_{archlab.resolve_spec(b).name}": v for b, v in baseline_scores(df).items()})
    rows = []
    for d in sorted(p.parent for p in out.glob("*/spec.yaml")):
        if not (d / "run" / "metrics.csv").exists():
            continue
        spec = archlab.resolve_spec(d / "spec.yaml")
        ck = _summary(d / "run")
        cost = archlab.count(spec)
        rows.append({"model": d.name, "params": cost.params, "GFLOPs [hrnet_paper]": cost.to("hrnet_paper").value,
                     "search proxy PCK@0.2 (%)": proxy.get(d.name, float("nan")),
                     "val PCK@0.2 (%)": ck["best"], "best epoch": ck["best_epoch"], "epochs": ck["epochs"]})
    df = pd.DataFrame(rows).sort_values("val PCK@0.2 (%)", ascending=False)
    df.to_csv(out / "comparison.csv", index=False)
    both = df.dropna(subset=["search proxy PCK@0.2 (%)"])
    rho = (f"Spearman rank correlation between the search's proxy score and the retrained score over the "
           f"{len(both)} models that have both: {both['search proxy PCK@0.2 (%)'].corr(both['val PCK@0.2 (%)'], method='spearman'):.2f}."
           if len(both) >= 3 else "")
    (out / "comparison.md").write_text(
        f"# Selected candidates vs baselines, same budget\n\nLSPET {size[0]}x{size[1]}, {a.epochs} epochs, batch "
        f"{a.batch}, seed 0, {a.limit_train or 'all'} training images, {a.limit_val or 'all'} validation images "
        f"(best validation PCK@0.2 over the epochs; no flip test). Regenerate: `python studies/retrain_selected.py "
        f"--study {a.study} --top {a.top} --epochs {a.epochs}"
        f"{f' --limit-train {a.limit_train}' if a.limit_train else ''}{f' --limit-val {a.limit_val}' if a.limit_val else ''}` "
        f"(finished runs are skipped).\n\n" + df.round(3).to_markdown(index=False) + "\n\n" + rho + "\n")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
