"""``archlab train`` and ``archlab eval``.

    archlab train litehrnet_18_coco --data NAME --input 128x96 --epochs 20 --batch 32 --out runs/lite
    archlab train runs/lite/config.yaml --resume          # or the same command line + --resume
    archlab eval runs/lite/best.pt --split val --flip-test --out preds.json

``--data`` takes any registered dataset (:mod:`archlab.data.registry`); the parser lists them.
    torchrun --nproc_per_node 2 -m archlab.cli train ...  # DistributedDataParallel
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data.registry import DATASETS, DEFAULT_DATASET

__all__ = ["register", "cmd_train", "cmd_eval", "config_from_args"]


def _optional(parser, flag, **kw):
    parser.add_argument(flag, default=None, **kw)


def dataset_name(value: str) -> str:
    """``--data``: a registered dataset's name; an unknown one is refused with the closest names."""
    if value not in DATASETS:
        raise argparse.ArgumentTypeError(str(DATASETS.unknown(value)))
    return value


def register(subparsers) -> None:
    t = subparsers.add_parser("train", help="train a pose network (HRNet recipe: Adam, step decay)",
                              description="Train a zoo model or spec YAML on a registered pose dataset. A TrainConfig "
                              "YAML (e.g. a run's config.yaml) is also accepted as the first argument; "
                              "flags given on the command line override it. Chunked runs: --stop-epoch N, then "
                              "`archlab train RUN/config.yaml --resume`. Exit status: 0 trained, 1 nothing left "
                              "to train (run complete or --stop-epoch already reached), 2 bad input or data.")
    t.add_argument("model", help="zoo name, spec YAML, or a training config YAML (with a 'model:' field)")
    _optional(t, "--data", type=dataset_name, choices=DATASETS, metavar="NAME",
              help=f"dataset: %(choices)s (default {DEFAULT_DATASET})")
    _optional(t, "--data-root", help="shared data folder or the dataset's own folder (default: $ARCHLAB_DATA "
                                     "or ../shared/data)")
    _optional(t, "--input", help="input size HEIGHTxWIDTH, e.g. 128x96 (default 256x192)")
    _optional(t, "--epochs", type=int, help="total epochs; the LR schedule (x0.1 at 170/210 and 200/210 of "
                                            "them) follows this")
    _optional(t, "--stop-epoch", type=int, help="end this invocation after epoch N (chunked runs; continue with "
                                                "--resume; not saved in the run's config.yaml)")
    _optional(t, "--batch", type=int, help="batch size per process (default 32)")
    _optional(t, "--lr", type=float, help="Adam learning rate (default 1e-3)")
    _optional(t, "--milestones", help="comma-separated LR-decay epochs (default: paper's, scaled)")
    _optional(t, "--workers", type=int, help="DataLoader workers (default 2)")
    _optional(t, "--seed", type=int, help="random seed (default 0)")
    _optional(t, "--device", choices=("auto", "cpu", "cuda"), help="default auto")
    t.add_argument("--amp", action="store_true", default=None, help="mixed precision (fp16 + GradScaler on CUDA, "
                   "bf16 autocast on CPU)")
    t.add_argument("--channels-last", action="store_true", default=None, help="channels-last memory format")
    t.add_argument("--nondeterministic", action="store_true", default=None,
                   help="allow non-deterministic kernels (faster on GPU; resume is then not bit-exact)")
    _optional(t, "--max-steps-per-epoch", type=int, help="cap optimiser steps per epoch (short runs)")
    _optional(t, "--limit-train", type=int, help="train on the first N training samples")
    _optional(t, "--limit-val", type=int, help="validate on the first N validation samples")
    _optional(t, "--val-every", type=int, help="validate every N epochs (default 1; always after the last)")
    _optional(t, "--checkpoint-every", type=int, help="also write last.pt every N steps (default 100; 0: off)")
    _optional(t, "--threads", type=int, help="torch intra-op threads (default: the process's; recorded per epoch; "
                                            "runs compared with each other should use the same count)")
    t.add_argument("--flip-test", action="store_true", default=None, help="flip test during validation")
    t.add_argument("--skip-bad-images", action="store_true", default=None,
                   help="skip unreadable images / broken annotations instead of stopping; the run lists them "
                        "(summary, metrics.csv skipped_images, OUT/skipped_images.txt)")
    _optional(t, "--train-split", help="split to train on (default train; the search protocol: fit)")
    _optional(t, "--val-split", help="split to validate and pick best.pt on (default val; the search protocol: "
                                     "search_val)")
    _optional(t, "--out", help="run folder (default runs/<model name>)")
    t.add_argument("--resume", action="store_true", default=None, help="continue from OUT/last.pt (to --epochs, "
                   "or to --stop-epoch if given)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (the opening summary still prints)")
    t.set_defaults(func=cmd_train)

    e = subparsers.add_parser("eval", help="evaluate a checkpoint with its dataset's metrics (PCK, PCKh, OKS AP ...)",
                              description="Evaluate a training checkpoint (last.pt / best.pt / model.pt). "
                              "Any folder in a dataset's own layout works with --data-root DIR.")
    e.add_argument("checkpoint", help="checkpoint file")
    _optional(e, "--data", type=dataset_name, choices=DATASETS, metavar="NAME",
              help="dataset: %(choices)s (default: the checkpoint's)")
    _optional(e, "--data-root", help="shared data folder or a dataset folder")
    e.add_argument("--split", default="val", help="a split of the dataset: val (default), train, ...; the search "
                   "protocol's fit, search_val, report_test where the dataset has them")
    _optional(e, "--input", help="input size HEIGHTxWIDTH (default: the checkpoint's)")
    e.add_argument("--flip-test", action="store_true", help="average with the mirrored image")
    _optional(e, "--out", help="write the predictions here (keypoint results JSON, as pycocotools reads them); "
                               "metrics go beside it")
    e.add_argument("--batch", type=int, default=32)
    e.add_argument("--workers", type=int, default=0)
    e.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    _optional(e, "--limit", type=int, help="evaluate the first N samples only")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(func=cmd_eval)


def _is_train_config(path: str) -> bool:
    import yaml
    p = Path(path)
    if not (p.suffix in (".yaml", ".yml") and p.is_file()):
        return False
    try:
        d = yaml.safe_load(p.read_text())
    except yaml.YAMLError:
        return False
    return isinstance(d, dict) and "model" in d and "stages" not in d


def config_from_args(args):
    """A :class:`TrainConfig` from ``archlab train`` arguments. On ``--resume`` from a config file,
    a ``stop_epoch`` in the file is ignored (it ends one invocation; ``--stop-epoch`` sets a new one)."""
    from .config import ConfigError, TrainConfig
    from_file = _is_train_config(args.model)
    if from_file:
        cfg = TrainConfig.load(args.model)
    else:
        stem = Path(args.model).stem if args.model.endswith((".yaml", ".yml")) else args.model
        cfg = TrainConfig(model=args.model, out=str(Path("runs") / stem))
    changes = {}
    simple = {"data": "data", "data_root": "data_root", "epochs": "epochs", "batch": "batch", "lr": "lr",
              "workers": "workers", "seed": "seed", "device": "device", "amp": "amp",
              "channels_last": "channels_last", "max_steps_per_epoch": "max_steps_per_epoch",
              "limit_train": "limit_train", "limit_val": "limit_val", "val_every": "val_every",
              "checkpoint_every": "checkpoint_every", "flip_test": "flip_test", "out": "out",
              "resume": "resume", "stop_epoch": "stop_epoch", "train_split": "train_split",
              "val_split": "val_split", "skip_bad_images": "skip_bad_images", "threads": "threads"}
    for a, f in simple.items():
        v = getattr(args, a, None)
        if v is not None:
            changes[f] = v
    if args.input is not None:
        changes["input_size"] = args.input
    if args.milestones is not None:
        try:
            changes["milestones"] = [int(x) for x in args.milestones.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"milestones: expected comma-separated epochs such as 170,200, got "
                              f"{args.milestones!r}") from None
    if args.nondeterministic:
        changes["deterministic"] = False
    if args.no_progress:
        changes["progress"] = False
    if from_file and args.resume and args.stop_epoch is None and cfg.stop_epoch is not None:
        print(f"note: ignoring stop_epoch: {cfg.stop_epoch} in {args.model} (it ends one invocation; pass "
              "--stop-epoch N to stop early again)", file=sys.stderr)
        changes["stop_epoch"] = None
    return cfg.replace(**changes) if changes else cfg


def cmd_train(args) -> int:
    """Train; exit 1 when there was nothing left to train (the run is complete or ``--stop-epoch``
    is already reached), saying so."""
    from .console import percent_metrics
    from .loop import train
    cfg = config_from_args(args)
    res = train(cfg, summary=True)
    if res["world_size"] > 1 and int(__import__("os").environ.get("RANK", "0")) != 0:
        return 0
    if res["nothing_to_do"]:
        b = res["best"]
        best = (f"; best {b['metric']} {100 * b['value']:.1f}% at epoch {b['epoch']} -> "
                f"{Path(res['run_dir']) / 'best.pt'}" if b.get("value") is not None else "")
        print(f"archlab train: nothing to train: {res['nothing_to_do']}{best}", file=sys.stderr)
        return 1
    print(f"run folder: {res['run_dir']}  epochs done: {res['epochs_done']}/{cfg.epochs}  "
          f"steps: {res['global_step']} ({res['steps_run']} in this call)")
    if res["last"]:
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in percent_metrics(res["last"]).items()}
        print("last epoch: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    b = res["best"]
    if b.get("value") is not None:
        print(f"best val {b['metric']}: {100 * b['value']:.1f}% (epoch {b['epoch']}) -> "
              f"{Path(res['run_dir']) / 'best.pt'}")
    if res["skipped"]:
        print(f"skipped {len(res['skipped'])} bad image(s) (list: {Path(res['run_dir']) / 'skipped_images.txt'}):")
        for f, reason in res["skipped"][:10]:
            print(f"  {f}: {reason}")
    if res["epochs_done"] < cfg.epochs and not res["stopped"]:
        print(f"continue with: archlab train {Path(res['run_dir']) / 'config.yaml'} --resume")
    return 0


def cmd_eval(args) -> int:
    from .evaluation import evaluate
    m = evaluate(args.checkpoint, data=args.data, data_root=args.data_root, split=args.split,
                 input_size=args.input, flip_test=args.flip_test, out=args.out, batch=args.batch,
                 workers=args.workers, device=args.device, limit=args.limit, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(m, indent=2, default=float))
        return 0
    print(f"{m['data']} / {m['split']}: {m['n']} samples, input {m['input_size'][0]}x{m['input_size'][1]}"
          f"{', flip test' if m['flip_test'] else ''}")
    print_metrics(m)
    if args.out:
        print(f"predictions: {args.out}")
    return 0


_NOT_METRICS = ("n", "data", "split", "input_size", "flip_test", "per_joint")


def print_metrics(m: dict) -> None:
    """The per-joint table (one column per per-joint metric), its mean row, then every other
    metric, in percent."""
    pct = lambda v: "" if v is None else f"{100 * v:.1f}"  # noqa: E731
    columns = list(next(iter(m.get("per_joint", {}).values()), {}))
    if columns:
        widths = [max(8, len(c)) for c in columns]
        print(f"{'joint':<16} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths)))
        for name, v in m["per_joint"].items():
            print(f"{name:<16} " + " ".join(f"{pct(v.get(c)):>{w}}" for c, w in zip(columns, widths)))
        print(f"{'mean':<16} " + " ".join(f"{pct(m.get(c)):>{w}}" for c, w in zip(columns, widths)))
    for k, v in m.items():
        if k not in _NOT_METRICS and k not in columns and isinstance(v, float):
            print(f"{k}: {pct(v)}%")


def main(argv=None) -> int:
    """Stand-alone entry (``python -m archlab.train.cli train ...``)."""
    parser = argparse.ArgumentParser(prog="archlab")
    register(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
