"""The dataset registry: train/ names no dataset, and a dataset registered here (no library edit)
trains, validates, evaluates and is scored through the public API and the CLI.

The new dataset is "coco_body": the MMPose COCO fixture (``mmpose_fixtures/coco``, 4 real images)
read by a loader written in this file, keeping the 12 body joints of COCO's 17 (no face), with
its own joint metadata, splits and metric classes (one of them defined here).
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

import archlab
from archlab.data import (DATASET_INFO, DATASETS, DatasetInfo, PCK, PCKh, TopDownDataset, compute_metrics,
                          default_data_root, get_dataset, get_dataset_info, lspet_pck, pck, pckh, register_dataset,
                          resolve_data_dir, torso_size)
from archlab.data.transforms import box_to_center_scale
from archlab.nets import zoo
from archlab.train import ConfigError, TrainConfig, evaluate, train
from archlab.train.cli import main as train_cli

REPO = Path(__file__).resolve().parents[1]
ROOT = default_data_root()
FIXTURE = None if ROOT is None else Path(ROOT) / "mmpose_fixtures" / "coco"
needs_fixture = pytest.mark.skipif(FIXTURE is None or not (FIXTURE / "test_coco.json").is_file(),
                                   reason="mmpose_fixtures/coco not found (set ARCHLAB_DATA to the shared data folder)")


# -- 1. archlab/train never names a dataset ---------------------------------------------------------
_NAMES = re.compile(r"(?<![a-z])(lspet|coco|mpii)(?![a-z])", re.IGNORECASE)


def _code_tokens(path: Path):
    """(line, text) of every name and string literal in ``path``, leaving out comments and
    docstrings (a string that is a whole statement)."""
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    toks = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline) if t.type not in skip]
    strings = (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING))
    for i, t in enumerate(toks):
        if t.type == tokenize.NAME or t.type in strings:
            whole_statement = (i == 0 or toks[i - 1].type == tokenize.NEWLINE) and \
                (i + 1 == len(toks) or toks[i + 1].type in (tokenize.NEWLINE, tokenize.ENDMARKER))
            if not (t.type == tokenize.STRING and whole_statement):
                yield t.start[0], t.string


def dataset_names_in(path: Path) -> list:
    zoo_models = set(archlab.list_models())   # model names such as litehrnet_18_coco are not datasets
    hits = []
    for line, text in _code_tokens(path):
        if text.strip("'\"") in zoo_models:
            continue
        if _NAMES.search(text):
            hits.append(f"{path.name}:{line}: {text}")
    return hits


def test_train_package_names_no_dataset():
    files = sorted((REPO / "archlab" / "train").glob("*.py"))
    assert len(files) >= 5
    hits = [h for f in files for h in dataset_names_in(f)]
    assert hits == [], "archlab/train names datasets (ask archlab.data.registry instead):\n" + "\n".join(hits)


def test_the_name_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docstrings may say LSPET."""\n# so may comments: coco\n'
                   'X = {"lspet": 1}\nif data == "MPII": pass\nmodel = "litehrnet_18_coco"\nlspet_pck(a)\n')
    hits = dataset_names_in(bad)
    assert [h.split(":")[1] for h in hits] == ["3", "4", "6"], hits


# -- 2. the registry itself ----------------------------------------------------------------------------
def test_builtin_entries_describe_the_datasets():
    assert {"lspet", "coco", "mpii"} <= set(DATASETS)
    lspet, coco, mpii = get_dataset("lspet"), get_dataset("coco"), get_dataset("mpii")
    assert (lspet.main_metric, coco.main_metric, mpii.main_metric) == ("PCK@0.2", "AP", "PCKh@0.5")
    assert {"fit", "search_val", "report_test", "train", "val", "all"} == set(lspet.splits)
    assert coco.splits == ("train", "val") and mpii.splits is None
    assert (lspet.folder, lspet.marker) == ("lspet", "joints.mat")
    assert DATASET_INFO["coco"] is coco.info and coco.info.num_joints == 17 and lspet.info.num_joints == 14
    assert get_dataset_info("LSPET") is lspet.info and mpii.input_size == (256, 256)
    assert lspet.metric_names() == ("PCK@0.2", "PCKh@0.5") and "AR" in coco.metric_names()


def test_unknown_names_suggest_the_closest():
    with pytest.raises(KeyError, match=r"unknown dataset 'lspt'; did you mean 'lspet'\? choose one of .*coco"):
        get_dataset("lspt")
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'; choose one of"):
        get_dataset("imagenet")
    with pytest.raises(ConfigError, match=r"data: unknown dataset 'cocoo'; did you mean 'coco'\?"):
        TrainConfig(data="cocoo")
    with pytest.raises(ConfigError, match=r"val_split: unknown coco split 'search_val'; choose one of train, val"):
        TrainConfig(data="coco", val_split="search_val")


def test_cli_lists_registered_names_and_refuses_unknown_ones(capsys):
    with pytest.raises(SystemExit) as e:
        train_cli(["train", "x", "--data", "mpi"])
    assert e.value.code == 2
    assert "unknown dataset 'mpi'; did you mean 'mpii'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_cli(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--data NAME dataset: " in out and all(n in out for n in ("coco", "lspet", "mpii"))


def test_registry_and_cli_parser_import_no_torch():
    code = ("import sys, archlab.data.registry, archlab.train.cli; archlab.train.cli.main; "
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_bad_registrations_are_refused():
    info = DatasetInfo("tmp", ("a", "b"), ((0, 1),), (), (0.1, 0.1), torso=(0, 1))
    with pytest.raises(ValueError, match="main_metric 'AP' is not computed by its metrics"):
        register_dataset("tmp_bad", info=info, folder="x", marker="y", main_metric="AP", metrics=(PCK(0.2),))(print)
    with pytest.raises(ValueError, match="dataset 'lspet' is already registered"):
        register_dataset("lspet", info=info, folder="x", marker="y", main_metric="PCK@0.2", metrics=(PCK(0.2),))(print)
    with pytest.raises(TypeError, match="needs a 'names' tuple and a compute"):
        register_dataset("tmp_bad", info=info, folder="x", marker="y", main_metric="x", metrics=(object(),))(print)
    assert "tmp_bad" not in DATASETS


def test_builtin_metric_classes_match_the_metric_functions():
    """compute_metrics through the registry gives what the metric functions give directly."""
    rng = np.random.default_rng(0)
    gt = np.concatenate([rng.uniform(0, 200, (30, 14, 2)), (rng.uniform(size=(30, 14, 1)) > 0.2)], axis=-1)
    pred = {"index": np.arange(30), "preds": gt[..., :2] + rng.normal(0, 8, (30, 14, 2)), "joints": gt,
            "head_size": rng.uniform(10, 30, 30)}
    m = compute_metrics("lspet", pred)
    assert m["n"] == 30 and m["PCK@0.2"] == lspet_pck(pred["preds"], gt, 0.2).mean
    assert m["PCKh@0.5"] == pckh(pred["preds"], gt, thr=0.5, info="lspet").mean
    r = lspet_pck(pred["preds"], gt, 0.2).per_joint
    assert [m["per_joint"][j]["PCK@0.2"] for j in get_dataset_info("lspet").joint_names[:3]] == list(r[:3])
    gt16 = np.concatenate([gt, gt[:, :2]], axis=1)
    pred16 = dict(pred, joints=gt16, preds=np.concatenate([pred["preds"], pred["preds"][:, :2]], axis=1))
    m16 = compute_metrics("mpii", pred16)
    assert m16["PCKh@0.5"] == pckh(pred16["preds"], gt16, head_sizes=pred["head_size"], thr=0.5).mean
    assert m16["PCK@0.2"] == pck(pred16["preds"], gt16, norm=torso_size(gt16, "mpii"), thr=0.2).mean
    assert list(m16) == ["n", "PCK@0.2", "PCKh@0.5", "per_joint"]
    assert compute_metrics("lspet", {k: v[:0] for k, v in pred.items()}) == {"n": 0}


# -- 3. a dataset registered here, used through the public API ------------------------------------------
_BODY = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
BODY_INFO = DatasetInfo(
    name="coco_body", joint_names=_BODY, flip_pairs=tuple((i, i + 1) for i in range(0, 12, 2)),
    skeleton=((0, 2), (2, 4), (1, 3), (3, 5), (0, 1), (6, 7), (0, 6), (1, 7), (6, 8), (8, 10), (7, 9), (9, 11)),
    sigmas=(0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089),
    torso=(0, 7), head=None)


class WithinPixels:
    """A metric class of the test's own: fraction of annotated joints within ``px`` image pixels."""

    def __init__(self, px: float):
        self.px, self.names = px, (f"within{px:g}px",)

    def compute(self, pred, info, dataset=None):
        vis = pred["joints"][..., 2] > 0
        ok = np.linalg.norm(pred["preds"] - pred["joints"][..., :2], axis=-1) <= self.px
        per = np.array([ok[:, j][vis[:, j]].mean() if vis[:, j].any() else np.nan for j in range(ok.shape[1])])
        return {self.names[0]: float(ok[vis].mean())}, {self.names[0]: per}


class COCOBody(TopDownDataset):
    """The 12 body joints of every fixture person with at least 4 of them annotated."""

    def __init__(self, folder, input_size, train, **kwargs):
        super().__init__(BODY_INFO, input_size, train, **kwargs)
        data = json.loads((Path(folder) / "test_coco.json").read_text())
        images = {im["id"]: im["file_name"] for im in data["images"]}
        for ann in data["annotations"]:
            kp = np.asarray(ann["keypoints"], dtype=float).reshape(17, 3)[5:]
            vis = kp[:, 2] > 0
            if vis.sum() < 4:
                continue
            joints = np.zeros((12, 3))
            joints[vis, :2], joints[vis, 2] = kp[vis, :2], 1.0
            center, scale = box_to_center_scale(*ann["bbox"], self.input_size, self.padding)
            self._add(Path(folder) / images[ann["image_id"]], joints, center, scale, image_id=ann["image_id"],
                      ann_id=ann["id"])
        self._finalise(verify_images=False)


@pytest.fixture
def coco_body():
    @register_dataset("coco_body", info=BODY_INFO, folder="mmpose_fixtures/coco", marker="test_coco.json",
                      splits=("train", "val"), main_metric="PCK@0.5",
                      metrics=(PCK(0.5), WithinPixels(20)), input_size=(64, 48))
    def open_body(folder, split, input_size, train, **kwargs):
        return COCOBody(folder, input_size, bool(train), **kwargs)
    yield get_dataset("coco_body")
    DATASETS.unregister("coco_body")
    assert "coco_body" not in DATASETS


def _expected_people():
    data = json.loads((FIXTURE / "test_coco.json").read_text())
    return sum(1 for a in data["annotations"] if (np.asarray(a["keypoints"]).reshape(17, 3)[5:, 2] > 0).sum() >= 4)


@needs_fixture
def test_registered_dataset_resolves_and_opens(coco_body, monkeypatch):
    monkeypatch.setenv("ARCHLAB_DATA", str(ROOT))
    assert resolve_data_dir("coco_body") == FIXTURE and resolve_data_dir("coco_body", FIXTURE) == FIXTURE
    ds = archlab.data.open_dataset("coco_body", split="val")
    assert len(ds) == _expected_people() >= 8 and ds.input_size == (64, 48) and ds.num_joints == 12
    sample = ds[0]
    assert tuple(sample["target"].shape) == (12, 16, 12) and sample["meta"]["joints"].shape == (12, 3)
    with pytest.raises(ValueError, match="unknown coco_body split 'fit'; choose one of train, val"):
        archlab.data.open_dataset("coco_body", split="fit")
    assert get_dataset_info("coco_body") is BODY_INFO and DATASET_INFO["coco_body"] is BODY_INFO


@needs_fixture
def test_registered_dataset_trains_and_evaluates_with_no_library_edit(coco_body, tmp_path, capsys):
    spec = zoo.hrnet(width=8, dataset="coco", modules=(1, 1), blocks=1, input_size=(64, 48), name="tiny_body")
    spec_path = tmp_path / "tiny.yaml"
    spec.to_yaml(spec_path)
    cfg = TrainConfig(model=str(spec_path), data="coco_body", data_root=str(ROOT), input_size=(64, 48), epochs=1,
                      batch=4, max_steps_per_epoch=1, workers=0, progress=False, out=str(tmp_path / "run"))
    res = train(cfg)
    assert res["epochs_done"] == 1 and res["best"]["metric"] == "PCK@0.5"
    run = Path(res["run_dir"])
    assert "num_joints: 12" in (run / "model.yaml").read_text()          # the head follows the dataset
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert {"val_PCK@0.5", "val_within20px", "val_n"} <= set(row) and row["val_n"] == _expected_people()
    # evaluate the checkpoint by the CLI: the dataset comes from its config, the metrics from the registry
    assert train_cli(["eval", str(run / "best.pt"), "--out", str(tmp_path / "preds.json")]) == 0
    out = capsys.readouterr().out
    assert f"coco_body / val: {_expected_people()} samples" in out and "within20px" in out and "left_ankle" in out
    m = json.loads((tmp_path / "preds.metrics.json").read_text())
    assert m["data"] == "coco_body" and m["n"] == _expected_people() and list(m["per_joint"]) == list(_BODY)
    assert set(m["per_joint"]["left_knee"]) == {"PCK@0.5", "within20px"}
    assert m["PCK@0.5"] == pytest.approx(row["val_PCK@0.5"]) and m["within20px"] == pytest.approx(row["val_within20px"])
    # the written predictions reproduce the metric
    preds = json.loads((tmp_path / "preds.json").read_text())
    ds = archlab.data.open_dataset("coco_body", ROOT, "val", (64, 48))
    xy = np.array([p["keypoints"] for p in preds]).reshape(len(preds), 12, 3)[..., :2]
    assert pck(xy, ds.joints, norm=torso_size(ds.joints, BODY_INFO), thr=0.5).mean == pytest.approx(m["PCK@0.5"],
                                                                                                      abs=1e-3)
    # and the Python API, with the dataset named
    assert evaluate(run / "best.pt", data="coco_body", data_root=ROOT, limit=3)["n"] == 3


def test_pckh_needs_a_head_definition():
    with pytest.raises(ValueError, match="defines no head joints"):
        PCKh(0.5).compute({"preds": np.zeros((1, 12, 2)), "joints": np.ones((1, 12, 3))}, BODY_INFO)
    with pytest.raises(ValueError, match="PCKh head must be 'joints' or 'annotation'"):
        PCKh(0.5, head="box")
