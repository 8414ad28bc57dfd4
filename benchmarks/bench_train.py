"""Training throughput on the CPU: images/s, data-wait share, achieved GFLOP/s vs a dense matmul.

For each network (HRNet-W32, SDHRNet, Lite-HRNet-18; COCO heads) and input size (256x192,
128x96) it times full training steps (forward, JointsMSELoss, backward, Adam) after warm-up and
reports:

* ``img/s`` -- training images per second (compute only, batches already in memory)
* ``img/s (loader)`` and ``data wait`` -- the same steps fed by the training DataLoader with
  archlab's default settings (``TrainConfig().workers`` workers, seeded augmentation, real LSPET
  images when the data is present, else synthetic tensors); ``data wait`` is the share of step
  time spent waiting for the next batch
* ``GFLOP/s`` -- achieved: ``6 x MACs x batch / step time`` (forward 2 FLOP per multiply-add,
  backward about twice the forward), MACs from :func:`archlab.count`
* ``matmul GFLOP/s`` -- a dense float32 ``torch.mm`` measured in the same run, and the ratio

    python benchmarks/bench_train.py --quick             # a minute or two
    python benchmarks/bench_train.py --steps 3 --batch 8 --out reports/bench_train.csv > reports/bench_train.txt
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import pandas as pd
import torch

import archlab
from archlab.train import JointsMSELoss, TrainConfig

MODELS = ("hrnet_w32_coco", "sdhrnet_coco", "litehrnet_18_coco")
SIZES = ((256, 192), (128, 96))


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        ts.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(ts) / 1e9


def _loader(size, batch: int, steps: int, workers: int, use_lspet: bool, num_joints: int):
    """Batches with archlab's training pipeline (LSPET, 14 joints) or synthetic ones."""
    if use_lspet:
        from archlab.train.evaluate import open_dataset
        from archlab.train.sampling import IndexSubset, ResumableBatchSampler, SeededSamples
        ds = SeededSamples(IndexSubset(open_dataset("lspet", None, "train", size, train=True), batch * steps), 0)
        sampler = ResumableBatchSampler(len(ds), batch, seed=0, max_batches=steps)
        return torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers)
    h, w = size

    class Synthetic(torch.utils.data.Dataset):
        def __len__(self):
            return batch * steps

        def __getitem__(self, i):
            return {"image": torch.randn(3, h, w), "target": torch.rand(num_joints, h // 4, w // 4),
                    "target_weight": torch.ones(num_joints)}
    return torch.utils.data.DataLoader(Synthetic(), batch_size=batch, num_workers=workers, drop_last=True)


def bench_one(name: str, size, batch: int, steps: int, warmup: int, workers: int, use_lspet: bool) -> dict:
    joints = 14 if use_lspet else 17
    torch.manual_seed(0)
    model = archlab.create_model(name, num_joints=joints, input_size=size)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = JointsMSELoss()
    h, w = size
    x, y, tw = torch.randn(batch, 3, h, w), torch.rand(batch, joints, h // 4, w // 4), torch.ones(batch, joints)

    def step(images, target, weight):
        loss = crit(model(images), target, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step(x, y, tw)
    ts = []
    for _ in range(steps):
        t = time.perf_counter()
        step(x, y, tw)
        ts.append(time.perf_counter() - t)
    t_step = statistics.median(ts)
    # the same steps, fed by the DataLoader
    wait = total = 0.0
    n_img = 0
    t_prev = time.perf_counter()
    for b in _loader(size, batch, steps, workers, use_lspet, joints):
        t_data = time.perf_counter()
        step(b["image"], b["target"], b["target_weight"])
        t_end = time.perf_counter()
        wait += t_data - t_prev
        total += t_end - t_prev
        n_img += b["image"].shape[0]
        t_prev = time.perf_counter()
    macs = archlab.count(archlab.resolve_spec(name, num_joints=joints), size).macs
    return {"model": name, "input": f"{h}x{w}", "batch": batch, "step_s": t_step, "img/s": batch / t_step,
            "img/s (loader)": n_img / total if total else float("nan"),
            "data wait": wait / total if total else float("nan"),
            "GMACs/img": macs / 1e9, "GFLOP/s": 6 * macs * batch / t_step / 1e9}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="Lite-HRNet-18 + SDHRNet at 128x96 only, batch 4, 2 steps")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--workers", type=int, default=TrainConfig().workers, help="DataLoader workers (default: "
                   "TrainConfig's default)")
    p.add_argument("--data", choices=("auto", "lspet", "synthetic"), default="auto")
    p.add_argument("--out", default=None, help="write the table to this CSV file")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    models, sizes = a.models or MODELS, SIZES
    if a.quick:
        models, sizes = a.models or ("litehrnet_18_coco", "sdhrnet_coco"), ((128, 96),)
        a.steps, a.warmup, a.batch = 2, 1, 4
    use_lspet = a.data == "lspet"
    if a.data == "auto":
        from archlab.data.datasets import default_data_root
        root = default_data_root()
        use_lspet = root is not None and (root / "lspet" / "joints.mat").is_file()
    mm = matmul_gflops(1024 if a.quick else 2048)
    rows = []
    for name in models:
        for size in sizes:
            r = bench_one(name, size, a.batch, a.steps, a.warmup, a.workers, use_lspet)
            r["matmul GFLOP/s"] = mm
            r["of matmul"] = r["GFLOP/s"] / mm
            rows.append(r)
            print(f"{name:>20} {size[0]}x{size[1]}: {r['img/s']:.1f} img/s, loader {r['img/s (loader)']:.1f} img/s "
                  f"(data wait {100 * r['data wait']:.0f}%), {r['GFLOP/s']:.1f} GFLOP/s = "
                  f"{100 * r['of matmul']:.0f}% of matmul", flush=True)
    df = pd.DataFrame(rows)
    print(f"\nthreads {torch.get_num_threads()}, data {'LSPET' if use_lspet else 'synthetic'}, "
          f"workers {a.workers}, dense matmul {mm:.1f} GFLOP/s\n")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if a.out:
        df.to_csv(a.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
