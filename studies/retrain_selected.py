"""Retrain the searched candidates and the baselines under one longer budget, and compare.

Picks the ``--top`` most accurate feasible trials on the search's Pareto front, writes their
specs, and trains each of them, the search baselines and scaled Lite-HRNet-18 with the same
configuration (LSPET, same input size, epochs, batch, seed). Every run is resumable: run the
command again after an interruption and finished runs are skipped, interrupted ones resumed.

    python studies/retrain_selected.py --study studies/search_train.yaml --top 3 --epochs 8
    python studies/retrain_selected.py ... --limit-train 64 --limit-val 32 --epochs 1 --out /tmp/rt  # smoke test
"""
from __future__ import annotations

import argparse
from pathlib import Path

import optuna
import pandas as pd

import archlab
from archlab.search import SearchSpace, trials_table
from archlab.search.report import _Fixed
from archlab.search.storage import resolve_storage
from archlab.train import TrainConfig, train


def candidates(space: SearchSpace, run_dir: Path, top: int) -> dict[str, archlab.NetworkSpec]:
    study = optuna.load_study(study_name=space.study, storage=resolve_storage(
        f"sqlite:///{run_dir / 'study.db'}", run_dir))
    df = trials_table(study)
    front = df[df["pareto"] & df.get("baseline", pd.Series(index=df.index, dtype=object)).isna()]
    front = front.sort_values("accuracy", ascending=False).head(top)
    out = {}
    for _, row in front.iterrows():
        params = {k[len("param_"):]: v for k, v in row.items() if k.startswith("param_") and pd.notna(v)}
        values = {k.name: k.suggest(_Fixed(params)) for k in space.knobs}
        out[f"trial{int(row['trial']):04d}"] = space.apply(values, name=f"{space.study}_trial{int(row['trial'])}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default="studies/search_train.yaml")
    ap.add_argument("--run-dir", default=None, help="the search's run folder (default: reports/STUDY)")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit-train", type=int, default=None)
    ap.add_argument("--limit-val", type=int, default=None)
    ap.add_argument("--out", default=None, help="default: RUN_DIR/retrain")
    a = ap.parse_args(argv)
    space = SearchSpace.from_yaml(a.study)
    run_dir = Path(a.run_dir or Path("reports") / space.study)
    out = Path(a.out or run_dir / "retrain")
    out.mkdir(parents=True, exist_ok=True)
    size = space.base_spec().input_size
    nets = candidates(space, run_dir, a.top)
    for b in space.baselines:
        spec = archlab.resolve_spec(b)
        nets[f"baseline_{spec.name}"] = spec
    nets["baseline_litehrnet_18"] = archlab.get_spec("litehrnet_18_coco").replace(
        name="litehrnet_18_lspet", num_joints=14, input_size=size)
    rows = []
    for name, spec in nets.items():
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        spec.to_yaml(d / "spec.yaml")
        cfg = TrainConfig(model=str(d / "spec.yaml"), data="lspet", input_size=size, epochs=a.epochs, batch=a.batch,
                          workers=a.workers, limit_train=a.limit_train, limit_val=a.limit_val, out=str(d / "run"),
                          resume=(d / "run" / "last.pt").exists(), seed=0)
        res = train(cfg)
        cost = archlab.count(spec)
        rows.append({"model": name, "params": cost.params, "GFLOPs [hrnet_paper]": cost.to("hrnet_paper").value,
                     "val PCK@0.2 (%)": 100 * (res["best"]["value"] or 0.0), "best epoch": res["best"]["epoch"],
                     "epochs": res["epochs_done"]})
    df = pd.DataFrame(rows)
    df.to_csv(out / "comparison.csv", index=False)
    (out / "comparison.md").write_text(
        f"# Selected candidates vs baselines, same budget\n\nLSPET {size[0]}x{size[1]}, {a.epochs} epochs, batch "
        f"{a.batch}, seed 0{', ' + str(a.limit_train) + ' training images' if a.limit_train else ''}.\n\n"
        + df.round(3).to_markdown(index=False) + "\n")
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
