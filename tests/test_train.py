"""Training loop, checkpoints, exact resume, torchrun, evaluation and CLI on real LSPET images.

A tiny HRNet (width 8, two stages, 64x48 input) trains on a handful of LSPET images so the whole
file runs in well under a minute and a half on two CPU cores.
"""
import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from archlab.data.datasets import default_data_root
from archlab.nets import zoo
from archlab.train import CheckpointError, ConfigError, JointsMSELoss, TrainConfig, evaluate, load_checkpoint, train
from archlab.train.checkpoint import save_atomic
from archlab.train.sampling import ResumableBatchSampler, SeededSamples

ROOT = default_data_root()
HAVE_LSPET = ROOT is not None and (Path(ROOT) / "lspet" / "joints.mat").is_file()
needs_lspet = pytest.mark.skipif(not HAVE_LSPET, reason="LSPET data not found (set ARCHLAB_DATA to the shared "
                                                        "data folder holding lspet/)")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    zoo.hrnet(width=8, dataset="lspet", modules=(1, 1), blocks=1, input_size=(64, 48), name="tiny_w8").to_yaml(path)
    return str(path)


def _cfg(spec, out, **kw):
    base = dict(model=spec, data="lspet", input_size=(64, 48), epochs=2, batch=4, limit_train=12, limit_val=8,
                workers=0, checkpoint_every=1, progress=False, out=str(out))
    base.update(kw)
    return TrainConfig(**base)


# -- config --------------------------------------------------------------------------------------
def test_config_defaults_roundtrip_and_errors(tmp_path):
    c = TrainConfig(epochs=210)
    assert c.lr == 1e-3 and c.gamma == 0.1 and c.resolved_milestones() == (170, 200)
    assert TrainConfig(epochs=20).resolved_milestones() == (16, 19)
    c2 = TrainConfig(input_size="128x96", milestones=[3, 5], epochs=6)
    assert c2.input_size == (128, 96) and c2.milestones == (3, 5)
    assert TrainConfig.load(c2.save(tmp_path / "c.yaml")) == c2
    for kw, field in [({"data": "imagenet"}, "data"), ({"input_size": "128x97"}, "input_size"),
                      ({"input_size": "big"}, "input_size"), ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"),
                      ({"batch": 2.5}, "batch"), ({"device": "tpu"}, "device"), ({"amp": "yes"}, "amp"),
                      ({"milestones": [5, 3]}, "milestones"), ({"limit_train": 0}, "limit_train"),
                      ({"threads": 0}, "threads"), ({"threads": "two"}, "threads")]:
        with pytest.raises(ConfigError, match=field):
            TrainConfig(**kw)
    (tmp_path / "bad.yaml").write_text("model: x\nbatchsize: 3\n")
    with pytest.raises(ConfigError, match="unknown config field.*batchsize"):
        TrainConfig.load(tmp_path / "bad.yaml")
    with pytest.raises(FileNotFoundError, match="training config not found"):
        TrainConfig.load(tmp_path / "none.yaml")


def test_joints_mse_loss_matches_hrnet_definition():
    torch.manual_seed(1)
    out, tgt = torch.randn(3, 5, 8, 6), torch.rand(3, 5, 8, 6)
    w = torch.tensor([[1., 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 1]])
    # HRNet: loss = sum_j 0.5 * MSE(pred_j * w_j, gt_j * w_j) / J, pred_j of shape (N, h*w)
    ref = sum(0.5 * torch.nn.functional.mse_loss(out[:, j].reshape(3, -1) * w[:, j:j + 1],
                                                 tgt[:, j].reshape(3, -1) * w[:, j:j + 1]) for j in range(5)) / 5
    assert torch.allclose(JointsMSELoss()(out, tgt, w), ref)


def test_sampler_is_seeded_sharded_and_resumable():
    s = ResumableBatchSampler(10, 3, seed=5, drop_last=True)
    s.set_epoch(2)
    a = list(s)
    s.set_epoch(2)
    assert list(s) == a and len(a) == 3
    s.set_epoch(3)
    assert list(s) != a
    s.set_epoch(2, start_batch=2)
    assert list(s) == a[2:]
    shards = [ResumableBatchSampler(10, 2, seed=5, rank=r, num_replicas=2, drop_last=False, with_epoch=False) for r in (0, 1)]
    for sh in shards:
        sh.set_epoch(1)
    seen = [i for sh in shards for b in sh for i in b]
    assert sorted(seen) == list(range(10))


def test_seeded_samples_do_not_depend_on_global_rng():
    class Rand(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.rand(2)

    ds = SeededSamples(Rand(), seed=3)
    a = ds[(1, 2)]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    assert torch.equal(ds[(1, 2)], a) and not torch.equal(ds[(2, 2)], a)
    assert torch.equal(torch.get_rng_state(), state)   # the caller's generator is left alone


# -- checkpoints -----------------------------------------------------------------------------------
def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty checkpoint"):
        load_checkpoint(tmp_path / "empty.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(CheckpointError, match="junk.pt: not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    save_atomic({"format": "archlab-train-checkpoint", "version": 1, "model": {"w": torch.ones(3)}},
                tmp_path / "ok.pt")
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an archlab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


# -- training on real data ---------------------------------------------------------------------------
@needs_lspet
def test_short_run_writes_outputs_and_safe_checkpoints(tiny_spec, tmp_path):
    run = tmp_path / "run"
    res = train(_cfg(tiny_spec, run, epochs=1, max_steps_per_epoch=2, checkpoint_every=0))
    assert res["global_step"] == 2 and res["epochs_done"] == 1
    for name in ("config.yaml", "model.yaml", "metrics.csv", "metrics.jsonl", "last.pt", "best.pt"):
        assert (run / name).is_file(), name
    assert TrainConfig.load(run / "config.yaml").limit_train == 12
    assert "tiny_w8" in (run / "model.yaml").read_text()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["epoch"] == 1 and rows[0]["steps"] == 2
    for k in ("lr", "train_loss", "val_PCK@0.2", "val_PCKh@0.5", "images_per_s", "data_wait_frac"):
        assert k in rows[0], k
    assert (run / "metrics.csv").read_text().startswith("epoch,lr,train_loss")
    ck = torch.load(run / "last.pt", weights_only=True)           # the safe loader reads it as is
    assert ck["epoch"] == 1 and ck["step_in_epoch"] == 0 and ck["global_step"] == 2
    assert isinstance(ck["config"], str) and isinstance(ck["spec"], str)
    assert set(ck["rng"]) >= {"python", "numpy", "torch", "cuda"}
    # evaluate the checkpoint; predictions in COCO results format
    m = evaluate(run / "best.pt", split="val", limit=6, out=tmp_path / "preds.json", flip_test=True)
    assert m["n"] == 6 and 0.0 <= m["PCK@0.2"] <= 1.0 and "right_ankle" in m["per_joint"]
    preds = json.loads((tmp_path / "preds.json").read_text())
    assert len(preds) == 6 and len(preds[0]["keypoints"]) == 14 * 3 and preds[0]["image_id"] == 8001
    # a second fresh run into the same folder is refused; resume is required
    with pytest.raises(ConfigError, match="resume"):
        train(_cfg(tiny_spec, run, epochs=1, max_steps_per_epoch=2))


@needs_lspet
def test_killed_mid_epoch_and_resumed_equals_uninterrupted(tiny_spec, tmp_path):
    a = train(_cfg(tiny_spec, tmp_path / "a"))
    assert a["global_step"] == 6        # 12 images / batch 4 = 3 steps per epoch, 2 epochs
    b = train(_cfg(tiny_spec, tmp_path / "b"), stop_after_steps=4)   # "killed" after step 1 of epoch 2
    assert b["stopped"]
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert (ck["epoch"], ck["step_in_epoch"], ck["global_step"]) == (1, 1, 4)
    # resume (with DataLoader workers this time: augmentation is seeded per sample, not per worker)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)       # same thread count: no warning
        b2 = train(_cfg(tiny_spec, tmp_path / "b", resume=True, workers=1))
    assert b2["global_step"] == 6 and not b2["stopped"]
    wa = load_checkpoint(tmp_path / "a" / "last.pt")
    wb = load_checkpoint(tmp_path / "b" / "last.pt")
    for k, v in wa["model"].items():
        assert torch.equal(v, wb["model"][k]), k
    for sa, sb in zip(wa["optimizer"]["state"].values(), wb["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    ra = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    rb = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert len(rb) == 2
    assert [json.loads(x)["train_loss"] for x in ra] == [json.loads(x)["train_loss"] for x in rb]
    # a resume that changes the training setup is refused, naming the field
    with pytest.raises(ConfigError, match="batch: checkpoint has 4, now 2"):
        train(_cfg(tiny_spec, tmp_path / "b", resume=True, batch=2))
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(_cfg(tiny_spec, tmp_path / "c", resume=True))


@needs_lspet
def test_thread_count_is_set_recorded_and_a_changed_count_on_resume_warns(tiny_spec, tmp_path):
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    r = train(_cfg(tiny_spec, tmp_path / "t", epochs=2, threads=other), stop_after_steps=4)
    assert r["stopped"] and torch.get_num_threads() == before       # the process's setting is restored
    rows = [json.loads(x) for x in (tmp_path / "t" / "metrics.jsonl").read_text().splitlines()]
    assert [row["threads"] for row in rows] == [other]
    assert load_checkpoint(tmp_path / "t" / "last.pt")["threads"] == other
    # resuming with another count is allowed (a bigger machine) but said: the weights will differ
    with pytest.warns(RuntimeWarning, match=f"trained with {other} intra-op threads and resumes with {before}"):
        train(_cfg(tiny_spec, tmp_path / "t", epochs=2, resume=True))
    rows = [json.loads(x) for x in (tmp_path / "t" / "metrics.jsonl").read_text().splitlines()]
    assert [row["threads"] for row in rows] == [other, before]


def _main(argv, capsys):
    """``archlab`` in this process: (exit code, stdout, stderr)."""
    from archlab.cli import main
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@needs_lspet
def test_cli_chunked_run_resumes_from_its_config(tiny_spec, tmp_path, capsys):
    """The README's resume form after a --stop-epoch chunk continues to the end; a call with nothing
    left to train says so and exits 1."""
    out = tmp_path / "cli"
    rc, text, _ = _main(["train", tiny_spec, "--data", "lspet", "--input", "64x48", "--epochs", "2",
                         "--stop-epoch", "1", "--batch", "4", "--limit-train", "8", "--limit-val", "4",
                         "--workers", "0", "--max-steps-per-epoch", "1", "--out", out, "--no-progress"], capsys)
    assert rc == 0 and "epochs done: 1/2" in text and f"continue with: archlab train {out / 'config.yaml'}" in text
    # the opening summary: model + parameters, splits with sample counts, schedule, machine, resume state
    assert "model: tiny_w8, " in text and "parameters" in text and "joints: 14 (lspet)" in text
    assert "train 'train' 8000 samples, using the first 8 (limit_train)" in text
    assert "val 'val' 1000 samples, using the first 4 (limit_val)" in text
    assert "epochs 2 (this call stops after epoch 1), batch 4, 1 steps/epoch" in text
    assert f"threads {torch.get_num_threads()}, workers 0, amp off, channels_last off" in text
    assert f"fresh run -> {out}" in text
    # printed metrics are percent (metrics.csv keeps fractions)
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert f"val_PCK@0.2={100 * row['val_PCK@0.2']:.1f}%" in text
    assert f"best val PCK@0.2: {100 * row['val_PCK@0.2']:.1f}% (epoch 1)" in text
    cfg = TrainConfig.load(out / "config.yaml")          # the run, not the invocation
    assert cfg.stop_epoch is None and cfg.resume is False and cfg.epochs == 2 and cfg.input_size == (64, 48)
    rc, text, _ = _main(["eval", out / "last.pt", "--split", "val", "--limit", "4", "--out", tmp_path / "p.json"],
                        capsys)
    assert rc == 0 and "PCK@0.2" in text and "head_top" in text and (tmp_path / "p.json").is_file()
    # a stop epoch already reached: nothing to train, exit 1
    rc, text, err = _main(["train", out / "config.yaml", "--resume", "--stop-epoch", "1"], capsys)
    assert rc == 1 and "nothing to train: stop_epoch 1 is already reached (1 of 2 epochs done" in err
    # a run folder written before stop_epoch stopped being saved: the stale value is ignored, with a note
    (out / "config.yaml").write_text((out / "config.yaml").read_text().replace("stop_epoch: null",
                                                                               "stop_epoch: 1"))
    rc, text, err = _main(["train", out / "config.yaml", "--resume", "--no-progress"], capsys)
    assert rc == 0 and "ignoring stop_epoch: 1" in err, err
    assert "epochs done: 2/2" in text and "(1 in this call)" in text
    assert "resuming" in text and "1 epochs done + 0 steps (global step 1)" in text
    ck = load_checkpoint(out / "last.pt")
    assert (ck["epoch"], ck["global_step"]) == (2, 2)
    assert [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    # complete: nothing to train, exit 1, the checkpoint untouched
    mtime = (out / "last.pt").stat().st_mtime_ns
    rc, text, err = _main(["train", out / "config.yaml", "--resume"], capsys)
    assert rc == 1 and "nothing to train: all 2 epochs of" in err and "best PCK@0.2" in err and text == ""
    assert (out / "last.pt").stat().st_mtime_ns == mtime
    # changing the schedule on resume is refused, naming the field
    rc, _, err = _main(["train", out / "config.yaml", "--epochs", "3", "--resume"], capsys)
    assert rc == 2 and "epochs: checkpoint has 2, now 3" in err


@needs_lspet
def test_torchrun_two_cpu_processes(tiny_spec, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(port),
           "-m", "archlab.cli", "train", tiny_spec, "--data", "lspet", "--input", "64x48", "--epochs", "1",
           "--batch", "4", "--limit-train", "16", "--limit-val", "8", "--workers", "0",
           "--max-steps-per-epoch", "2", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)            # torchrun and its workers: the session this test started
        proc.communicate()
        raise
    p = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    assert p.returncode == 0, p.stderr[-3000:]
    ck = load_checkpoint(out / "last.pt")
    assert ck["world_size"] == 2 and ck["global_step"] == 2
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["val_n"] == 8      # both ranks' val shards gathered
    assert p.stdout.count("run folder:") == 1                         # rank 0 alone reports


@pytest.mark.slow
@needs_lspet
def test_real_kill_of_subprocess_then_resume(tiny_spec, tmp_path):
    """Kill a real training process mid-way through epoch 2, resume it from its config.yaml, compare
    with an uninterrupted run (trained at the same time, one core each)."""
    common = ["train", tiny_spec, "--data", "lspet", "--input", "64x48", "--epochs", "2", "--batch", "2",
              "--limit-train", "24", "--limit-val", "4", "--workers", "0", "--checkpoint-every", "1",
              "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cli = [sys.executable, "-m", "archlab.cli"]
    ref = subprocess.Popen([*cli, *common, "--out", str(tmp_path / "ref")], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    run = tmp_path / "killed"
    proc = subprocess.Popen([*cli, *common, "--out", str(run)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if (run / "last.pt").is_file():
                ck = load_checkpoint(run / "last.pt")
                if ck["epoch"] == 1 and ck["step_in_epoch"] >= 2:
                    break
            time.sleep(0.02)
        proc.kill()
    finally:
        proc.wait()
        _, ref_err = ref.communicate(timeout=300)
    assert ref.returncode == 0, ref_err[-2000:]
    assert proc.returncode == -9, "the run ended before it could be killed mid-epoch"
    ck = load_checkpoint(run / "last.pt")
    assert ck["epoch"] == 1 and 2 <= ck["step_in_epoch"] < 12, (ck["epoch"], ck["step_in_epoch"])
    res = subprocess.run([*cli, "train", str(run / "config.yaml"), "--resume"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"({24 - ck['global_step']} in this call)" in res.stdout and "resuming" in res.stdout
    a, b = load_checkpoint(tmp_path / "ref" / "last.pt"), load_checkpoint(run / "last.pt")
    assert a["global_step"] == b["global_step"] == 24
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


# -- AMP, channels_last, devices -------------------------------------------------------------------
@needs_lspet
def test_amp_bf16_and_channels_last_steps_really_run(tmp_path, capsys):
    """bf16 autocast (CPU) and channels-last training steps give finite losses close to fp32's; the
    weights really are channels-last; a COCO-joint spec is remapped to LSPET's 14 and says so."""
    spec = tmp_path / "coco_tiny.yaml"
    zoo.hrnet(width=8, dataset="coco", modules=(1, 1), blocks=1, input_size=(64, 48), name="tiny_coco").to_yaml(spec)
    kw = dict(epochs=1, max_steps_per_epoch=1, limit_val=2, checkpoint_every=0)
    ref = train(_cfg(str(spec), tmp_path / "fp32", **kw))
    amp = train(_cfg(str(spec), tmp_path / "amp", amp=True, **kw), summary=True)
    assert "head: 17 joints in the spec -> 14 lspet joints" in capsys.readouterr().out
    cl = train(_cfg(str(spec), tmp_path / "cl", channels_last=True, **kw))
    la, lb, lc = (r["last"]["train_loss"] for r in (ref, amp, cl))
    assert all(torch.isfinite(torch.tensor(v)) and v > 0 for v in (la, lb, lc))
    assert amp["steps_run"] == cl["steps_run"] == 1
    assert lb != la and abs(lb - la) < 0.05 * la          # bf16 rounding shows, and stays small
    assert abs(lc - la) < 1e-3 * la                         # same maths, another memory layout
    w = load_checkpoint(tmp_path / "cl" / "last.pt")["model"]
    conv = next(v for k, v in w.items() if v.dim() == 4 and v.shape[1] > 1 and v.shape[2] > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for r in (amp, cl):
        assert 0.0 <= r["last"]["val_PCK@0.2"] <= 1.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_unavailable_is_a_clear_error(tiny_spec, tmp_path, capsys):
    with pytest.raises(ConfigError, match="device: 'cuda' requested but CUDA is not available.*--device cpu"):
        train(_cfg(tiny_spec, tmp_path / "gpu", device="cuda"))
    assert not (tmp_path / "gpu").exists()
    rc, out, err = _main(["train", tiny_spec, "--device", "cuda", "--out", tmp_path / "gpu"], capsys)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "CUDA is not available" in err


# -- bad images during training ----------------------------------------------------------------------
def _lspet_folder_with_bad_images(path, n=8):
    """An LSPET-layout folder of real JPEGs: im00002 truncated (reads, fails to decode), im00005
    not a JPEG at all (fails to open)."""
    import numpy as np
    from PIL import Image
    from scipy.io import savemat
    (path / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 255, size=(90, 120, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / "images" / f"im{i + 1:05d}.jpg")
    joints = np.zeros((14, 3, n))
    joints[:, 0], joints[:, 1], joints[:, 2] = rng.uniform(20, 100, (14, n)), rng.uniform(10, 80, (14, n)), 1
    savemat(path / "joints.mat", {"joints": joints})
    good = (path / "images" / "im00002.jpg").read_bytes()
    (path / "images" / "im00002.jpg").write_bytes(good[: len(good) // 3])
    (path / "images" / "im00005.jpg").write_bytes(b"not a jpeg at all " * 20)
    return path


def test_bad_image_with_loader_workers_is_one_clean_line(tiny_spec, tmp_path):
    """With 2 DataLoader workers a bad image stops training with the dataset's own one-line error
    (a real subprocess: nothing else reaches stderr)."""
    data = _lspet_folder_with_bad_images(tmp_path / "lsp")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "archlab.cli", "train", tiny_spec, "--data-root", data,
                        "--train-split", "all", "--val-split", "all", "--input", "64x48", "--epochs", "1",
                        "--batch", "4", "--workers", "2", "--out", tmp_path / "run", "--no-progress"],
                       env=env, capture_output=True, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr[-3000:]
    assert re.match(r"archlab train: error: .*im0000[25]\.jpg: cannot read image \(", lines[0]), lines[0]
    assert "--skip-bad-images" in lines[0] and "Traceback" not in p.stderr


def test_skip_bad_images_trains_and_reports_them(tiny_spec, tmp_path):
    """skip_bad_images with 2 workers: the run finishes and names both bad images (one found when
    the dataset is built, one only when a worker decodes it) in its result, metrics and list."""
    data = _lspet_folder_with_bad_images(tmp_path / "lsp")
    run = tmp_path / "run"
    res = train(TrainConfig(model=tiny_spec, data="lspet", data_root=str(data), train_split="all", val_split="all",
                            input_size=(64, 48), epochs=1, batch=7, workers=2, skip_bad_images=True,
                            progress=False, out=str(run)))
    assert res["steps_run"] == 1 and res["epochs_done"] == 1
    skipped = dict(res["skipped"])
    assert sorted(Path(f).name for f in skipped) == ["im00002.jpg", "im00005.jpg"]
    assert "truncated" in skipped[str(data / "images" / "im00002.jpg")]
    assert "cannot identify image" in skipped[str(data / "images" / "im00005.jpg")]
    row = json.loads((run / "metrics.jsonl").read_text())
    assert row["skipped_images"] == 2 and row["val_n"] == 6            # 8 images, 2 unreadable
    listed = (run / "skipped_images.txt").read_text().splitlines()
    assert [Path(x.split("\t")[0]).name for x in listed] == ["im00002.jpg", "im00005.jpg"]


def test_evaluate_stays_a_function_after_the_library_loads():
    """``from archlab.train import evaluate`` is the function even after training ran: the library
    never imports the compatibility submodule ``archlab.train.evaluate`` (a loaded submodule is
    bound over the package's lazy name, which broke ``train(...)`` then ``evaluate(...)`` in one
    process)."""
    code = ("import importlib, pkgutil, sys, archlab.train as t\n"
            "for m in pkgutil.iter_modules(t.__path__):\n"
            "    if m.name != 'evaluate': importlib.import_module('archlab.train.' + m.name)\n"
            "from archlab.train import evaluate, train\n"
            "print('archlab.train.evaluate' in sys.modules, callable(evaluate), evaluate.__module__)\n"
            "import archlab.train.evaluate as shim\n"
            "print(shim.open_dataset.__module__, shim.evaluate is evaluate)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "archlab.train.evaluation", "archlab.data.registry", "True"]
