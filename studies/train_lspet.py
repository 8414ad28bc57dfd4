"""Train a small HRNet-family network on LSPET on a CPU, then report it against the mean pose.

Lite-HRNet-18 (1.1 M parameters) at 128x96 input, Adam 1e-3 with the paper's step decay scaled
to the epoch count, about an hour on a few CPU cores for the default 8 epochs. Training runs in
resumable chunks: ``--stop-epoch K`` ends the invocation after K epochs, ``--resume`` continues
(also after a kill: ``last.pt`` is written every ``--checkpoint-every`` steps). When every epoch
is done (or with ``--report-only``) it writes ``--report`` (default ``reports/lspet_train``):

    learning_curve.png   train loss and val PCK@0.2 / PCKh@0.5 per epoch
    metrics.csv          the run's per-epoch metrics
    results.md           val PCK@0.2 / PCKh@0.5 (per joint, mean) of the best checkpoint vs the
                         mean-pose baseline
    predictions.png      predicted skeletons on a few validation images (ground truth dotted)
    predictions.json     COCO-format predictions of the best checkpoint on the val images
    model.pt             the best weights + spec + config (weights_only loadable, < 20 MB)

    python studies/train_lspet.py --stop-epoch 4            # first chunk
    python studies/train_lspet.py --resume                  # the rest, then the report
    archlab eval reports/lspet_train/model.pt --split val --flip-test
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from archlab.data.metrics import lspet_pck, mean_pose_baseline, pckh
from archlab.data.registry import get_dataset_info, open_dataset
from archlab.train import TrainConfig, evaluate, load_checkpoint, read_metrics, train
from archlab.train.checkpoint import save_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="litehrnet_18_coco", help="zoo name or spec YAML (joints are set to LSPET's)")
    p.add_argument("--input", default="128x96")
    p.add_argument("--epochs", type=int, default=8, help="total epochs (the LR schedule follows this)")
    p.add_argument("--stop-epoch", type=int, default=None, help="end this invocation after this many epochs")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--data-root", default=None, help="shared data folder or the LSPET folder")
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--limit-val", type=int, default=None)
    p.add_argument("--max-steps-per-epoch", type=int, default=None)
    p.add_argument("--val-every", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", default="runs/lspet_train", help="run folder (checkpoints, metrics)")
    p.add_argument("--report", default="reports/lspet_train", help="report folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--report-only", action="store_true", help="skip training; report on --out as it is")
    p.add_argument("--flip-test", action="store_true", help="flip test in the final evaluation")
    p.add_argument("--pictures", type=int, default=6, help="validation images in predictions.png")
    return p.parse_args(argv)


def make_config(a) -> TrainConfig:
    return TrainConfig(model=a.model, data="lspet", data_root=a.data_root, input_size=a.input, epochs=a.epochs,
                       batch=a.batch, lr=a.lr, workers=a.workers, device=a.device, out=a.out,
                       limit_train=a.limit_train, limit_val=a.limit_val, max_steps_per_epoch=a.max_steps_per_epoch,
                       val_every=a.val_every, checkpoint_every=a.checkpoint_every, resume=a.resume,
                       stop_epoch=a.stop_epoch)


# ------------------------------------------------------------------------------------------------
def learning_curve(rows: list, path: Path, final: dict | None = None, epoch_flip: bool = False) -> None:
    """Train loss and the per-epoch validation scores (the training loop's, flip test if ``epoch_flip``);
    ``final`` (the report's evaluation of the best checkpoint: ``epoch``, ``PCK@0.2``,
    ``PCKh@0.5``, ``flip_test``) is marked apart, labelled with its own protocol."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from archlab.plots import save_figure
    ep = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10.5, 4))
    ax[0].plot(ep, [r["train_loss"] for r in rows], "o-", color="tab:blue", gid="train loss")
    ax[0].set(xlabel="epoch", ylabel="train loss (JointsMSE)", title="training loss", yscale="log")
    for key, label, c in (("PCK@0.2", "PCK@0.2 (torso)", "tab:green"),
                          ("PCKh@0.5", "PCKh@0.5 (neck-head)", "tab:orange")):
        pts = [(r["epoch"], 100 * r[f"val_{key}"]) for r in rows if r.get(f"val_{key}") is not None]
        if pts:
            ax[1].plot(*zip(*pts), "o-", color=c, gid=f"val {key}",
                       label=f"val {label}, each epoch, {'flip test' if epoch_flip else 'no flip test'}")
        if final is not None and final.get(key) is not None:
            how = "flip test" if final.get("flip_test") else "no flip test"
            ax[1].plot([final["epoch"]], [100 * final[key]], "*", ms=13, color=c, mec="black", gid=f"final {key}",
                       label=f"best checkpoint, {how}: {100 * final[key]:.1f} (reported)")
    ax[1].set(xlabel="epoch", ylabel="score on the validation images (%)", title="validation")
    ax[1].legend(fontsize=8)
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, formats=("png",), dpi=120)


def skeleton_picture(preds: list, val_ds, path: Path, k: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    info = get_dataset_info("lspet")
    k = min(k, len(preds))
    if k == 0:
        return
    cols = min(k, 3)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 4.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for n in range(k):
        ax = axes.flat[n]
        p = np.asarray(preds[n]["keypoints"]).reshape(-1, 3)
        gt = val_ds.joints[n]
        with Image.open(val_ds.image_files[n]) as im:
            ax.imshow(im.convert("RGB"))
        vis = gt[:, 2] > 0
        for a, b in info.skeleton:
            ax.plot(p[[a, b], 0], p[[a, b], 1], "-", color="yellow", lw=2)
            if vis[a] and vis[b]:
                ax.plot(gt[[a, b], 0], gt[[a, b], 1], ":", color="cyan", lw=1.2)
        ax.scatter(p[:, 0], p[:, 1], s=12, c="red", zorder=3)
        x0, y0 = gt[vis, :2].min(0)
        x1, y1 = gt[vis, :2].max(0)
        pad = 0.35 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y1 + pad, y0 - pad)
        ax.set_title(Path(val_ds.image_files[n]).name, fontsize=9)
    fig.suptitle("predicted skeleton (yellow) vs ground truth (cyan, dotted)", fontsize=10)
    fig.tight_layout()
    from archlab.plots import save_figure
    save_figure(fig, path, formats=("png",), dpi=110, sidecar=False)


def _n_params(ck) -> int:
    """Trainable parameters of a checkpoint's network (its spec, counted analytically), not the
    state dict's floating-point entries, which also hold BatchNorm's running statistics."""
    from archlab import NetworkSpec, count
    return count(NetworkSpec.from_yaml(ck["spec"])).params


def report(a, cfg: TrainConfig) -> dict:
    run, rep = Path(cfg.out), Path(a.report)
    rep.mkdir(parents=True, exist_ok=True)
    best = run / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"{best} not found: train first (no validation has run yet)")
    ck = load_checkpoint(best)
    rows = read_metrics(run)
    shutil.copyfile(run / "metrics.csv", rep / "metrics.csv")
    model_pt = save_atomic({"format": "archlab-model", "version": 1, "model": ck["model"], "spec": ck["spec"],
                            "config": ck["config"], "epoch": ck["epoch"], "best": ck["best"]}, rep / "model.pt")
    size_mb = model_pt.stat().st_size / 2 ** 20
    m = evaluate(model_pt, data="lspet", data_root=cfg.data_root, split="val", flip_test=a.flip_test,
                 out=rep / "predictions.json", limit=cfg.limit_val, batch=cfg.batch, workers=cfg.workers)
    learning_curve(rows, rep / "learning_curve.png", {**m, "epoch": ck["best"].get("epoch"), "flip_test": a.flip_test},
                   epoch_flip=cfg.flip_test)
    val_ds = open_dataset("lspet", cfg.data_root, "val", cfg.input_size)
    train_ds = open_dataset("lspet", cfg.data_root, "train", cfg.input_size)
    n = m["n"]
    gt = val_ds.joints[:n]
    vis = gt[..., 2] > 0
    big = np.where(vis[..., None], gt[..., :2], np.nan)
    boxes = np.concatenate([np.nanmin(big, 1), np.nanmax(big, 1)], axis=1)
    base = mean_pose_baseline(train_ds.joints, boxes)
    b02, bh = lspet_pck(base, gt, 0.2), pckh(base, gt, thr=0.5, info="lspet")
    info = get_dataset_info("lspet")
    lines = [
        "# LSPET training study", "",
        f"Model `{cfg.model}` ({_n_params(ck) / 1e6:.2f} M parameters with the {info.num_joints}-joint head; "
        f"BatchNorm running statistics not counted), input {cfg.input_size[0]}x{cfg.input_size[1]}, Adam lr {cfg.lr:g}, "
        f"milestones {list(cfg.resolved_milestones())} of {cfg.epochs} epochs, batch {cfg.batch}, "
        f"train images {cfg.limit_train or len(train_ds)}.",
        f"Best checkpoint: epoch {ck['best'].get('epoch')} (model.pt, {size_mb:.1f} MB). "
        f"Validation: LSPET images 8,001-{8000 + n}, {n} people{', flip test' if a.flip_test else ''}.", "",
        "| | PCK@0.2 (torso) | PCKh@0.5 (neck-head) |", "|---|---:|---:|",
        f"| trained model | {100 * m['PCK@0.2']:.1f} | {100 * m['PCKh@0.5']:.1f} |",
        f"| mean-pose baseline (mean training pose in each person's joint box) | {100 * b02.mean:.1f} | "
        f"{100 * bh.mean:.1f} |", "",
        "Per joint (model / baseline):", "",
        "| joint | PCK@0.2 | PCKh@0.5 |", "|---|---:|---:|",
    ]
    for j, name in enumerate(info.joint_names):
        pj = m["per_joint"][name]
        f = lambda v: "n/a" if v is None or v != v else f"{100 * v:.1f}"  # noqa: E731
        lines.append(f"| {name} | {f(pj['PCK@0.2'])} / {f(b02.per_joint[j])} | {f(pj['PCKh@0.5'])} / "
                     f"{f(bh.per_joint[j])} |")
    lines += ["", "Epochs (see metrics.csv, learning_curve.png):", "",
              "| epoch | lr | train loss | val PCK@0.2 | val PCKh@0.5 | images/s | data wait |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        pv = lambda k: "" if r.get(k) is None else f"{100 * r[k]:.1f}"  # noqa: E731
        lines.append(f"| {r['epoch']} | {r['lr']:.0e} | {r['train_loss']:.5f} | {pv('val_PCK@0.2')} | "
                     f"{pv('val_PCKh@0.5')} | {r['images_per_s']:.1f} | {100 * r['data_wait_frac']:.0f}% |")
    (rep / "results.md").write_text("\n".join(lines) + "\n")
    preds = json.loads((rep / "predictions.json").read_text())
    skeleton_picture(preds, val_ds, rep / "predictions.png", a.pictures)
    return {"PCK@0.2": m["PCK@0.2"], "PCKh@0.5": m["PCKh@0.5"], "baseline_PCK@0.2": b02.mean,
            "baseline_PCKh@0.5": bh.mean, "model_mb": size_mb, "report": str(rep)}


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = make_config(a)
    if not a.report_only:
        res = train(cfg)
        if res["epochs_done"] < cfg.epochs:
            print(f"stopped after epoch {res['epochs_done']} of {cfg.epochs}; continue with --resume")
            return 0
    out = report(a, cfg)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
