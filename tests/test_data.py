"""Tests for archlab.data: datasets on the real shared data, transforms, heatmaps and metrics."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import loadmat, savemat

from archlab.data import (DATASET_INFO, COCOKeypointDataset, DatasetError, LSPETDataset, MPIIDataset,
                          build_dataset, coco_eval, decode, default_data_root, encode, flip_test, lspet_pck,
                          mean_pose_baseline, pck, pckh, to_coco_results, to_image_coords)
from archlab.data.heatmaps import input_to_heatmap
from archlab.data.metrics import _boxes_from_joints, pose_scores, torso_size
from archlab.data.transforms import (affine_points, flip_image, flip_joints, get_affine_transform,
                                     warp_image)

INPUT = (256, 192)


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_root():
    root = default_data_root()
    if root is None or not (root / "lspet" / "joints.mat").is_file():
        pytest.skip(f"shared pose data not found (default_data_root() -> {root}); "
                    "set ARCHLAB_DATA to the folder holding lspet/, coco_mini/, mmpose_fixtures/")
    return root


@pytest.fixture(scope="module")
def lspet_train(data_root):
    return LSPETDataset(data_root / "lspet", "train", INPUT)


@pytest.fixture(scope="module")
def lspet_val(data_root):
    return LSPETDataset(data_root / "lspet", "val", INPUT)


@pytest.fixture(scope="module")
def coco_val(data_root):
    base = data_root / "coco_mini"
    return COCOKeypointDataset(base / "annotations" / "person_keypoints_val2017.json", base / "val2017", INPUT)


def _make_lspet_folder(path, n=3, joints=None, size=(120, 90)):
    """A tiny LSPET-layout folder with synthetic images and a (14, 3, n) joints.mat."""
    (path / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(arr).save(path / "images" / f"im{i + 1:05d}.jpg")
    if joints is None:
        joints = np.zeros((14, 3, n))
        joints[:, 0, :] = rng.uniform(20, 100, size=(14, n))
        joints[:, 1, :] = rng.uniform(10, 80, size=(14, n))
        joints[:, 2, :] = 1
    savemat(path / "joints.mat", {"joints": joints})
    return path


# -- joint metadata ---------------------------------------------------------------------------------
def test_dataset_info_consistent():
    from pycocotools.cocoeval import Params
    assert np.allclose(DATASET_INFO["coco"].sigmas, Params(iouType="keypoints").kpt_oks_sigmas)
    for name, info in DATASET_INFO.items():
        idx = np.array(info.flip_index)
        assert (idx[idx] == np.arange(info.num_joints)).all(), name
        assert len(info.sigmas) == info.num_joints
        for a, b in info.flip_pairs:  # left/right names mirror each other
            na, nb = info.joint_names[a], info.joint_names[b]
            assert na.replace("left", "X").replace("right", "X") == nb.replace("left", "X").replace("right", "X")
    lsp = DATASET_INFO["lspet"]
    assert lsp.joint_names[lsp.torso[0]] == "left_shoulder" and lsp.joint_names[lsp.torso[1]] == "right_hip"
    assert lsp.head == (12, 13) and lsp.num_joints == 14


# -- LSPET ------------------------------------------------------------------------------------------
def test_lspet_parsing_and_splits(data_root, lspet_train, lspet_val):
    raw = loadmat(data_root / "lspet" / "joints.mat")["joints"]
    assert raw.shape == (14, 3, 9000)
    assert len(lspet_train) == 8000 and len(lspet_val) == 1000
    assert lspet_train.image_ids[0] == 1 and lspet_train.image_ids[-1] == 8000
    assert lspet_val.image_ids[0] == 8001 and lspet_val.image_ids[-1] == 9000
    assert lspet_train.train and not lspet_val.train
    for ds, offset in ((lspet_train, 0), (lspet_val, 8000)):
        for k in (0, 17, len(ds) - 1):
            j = raw[:, :, offset + k]
            vis = j[:, 2] > 0
            got = ds.joints[k]
            assert ((got[:, 2] > 0) == vis).all()
            np.testing.assert_allclose(got[vis, :2], j[vis, :2] - 1.0)  # 1-based -> 0-based
            assert (got[~vis, :2] == 0).all()
            assert ds.image_files[k].endswith(f"im{offset + k + 1:05d}.jpg")
    frac = (lspet_train.joints[..., 2] > 0).mean()
    assert 0.8 < frac < 0.95  # README: 88% visible
    assert ((lspet_train.joints[..., 2] > 0).sum(1) >= 4).all()


def test_lspet_protocol_splits_are_disjoint_fixed_and_cover_the_data(data_root):
    from archlab.data import LSPET_PROTOCOL_SPLITS
    sets = {s: LSPETDataset(data_root / "lspet", s, (128, 96)) for s in LSPET_PROTOCOL_SPLITS}
    ids = {s: set(ds.image_ids) for s, ds in sets.items()}
    assert {s: len(v) for s, v in ids.items()} == {"fit": 7000, "search_val": 1000, "report_test": 1000}
    assert not ids["fit"] & ids["search_val"] and not ids["fit"] & ids["report_test"]
    assert not ids["search_val"] & ids["report_test"]
    assert ids["fit"] | ids["search_val"] | ids["report_test"] == set(range(1, 9001))
    # fixed: the report-test images are LSPET's images 8001-9000 (the legacy 'val' images)
    assert min(ids["report_test"]) == 8001 and max(ids["search_val"]) == 8000
    assert sets["fit"].train and not sets["search_val"].train and not sets["report_test"].train
    with pytest.raises(ValueError, match="unknown LSPET split 'test'"):
        LSPETDataset(data_root / "lspet", "test", (128, 96))


def test_lspet_protocol_split_needs_all_images(tmp_path):
    folder = _make_lspet_folder(tmp_path / "lsp", n=3)
    with pytest.raises(ValueError, match="needs images 7001-8000"):
        LSPETDataset(folder, "search_val", (128, 96))


def test_lspet_box_from_visible_joints(lspet_val):
    ar = INPUT[1] / INPUT[0]
    for k in (0, 5, 500):
        j = lspet_val.joints[k]
        vis = j[:, 2] > 0
        lo, hi = j[vis, :2].min(0), j[vis, :2].max(0)
        c, s = lspet_val.centers[k], lspet_val.scales[k]
        np.testing.assert_allclose(c, (lo + hi) / 2)
        assert s[0] / s[1] == pytest.approx(ar)
        assert (s >= 1.25 * (hi - lo) - 1e-9).all()
        assert min(s[0] / (1.25 * (hi[0] - lo[0]) + 1e-12), s[1] / (1.25 * (hi[1] - lo[1]) + 1e-12)) \
            == pytest.approx(1.0)  # tight on the long side
    assert 0.7 < np.isfinite(lspet_val.head_sizes).mean() < 1  # neck or head-top unannotated in ~22%


def test_lspet_sample_format_and_collate(lspet_train):
    s = lspet_train[3]
    assert s["image"].shape == (3, *INPUT) and s["image"].dtype == torch.float32
    assert s["target"].shape == (14, INPUT[0] // 4, INPUT[1] // 4) and s["target"].dtype == torch.float32
    assert s["target_weight"].shape == (14,) and s["target_weight"].dtype == torch.float32
    assert abs(float(s["image"].mean())) < 3
    m = s["meta"]
    for key in ("index", "center", "scale", "rotation", "joints", "image_id", "flipped"):
        assert key in m
    assert m["image_id"] == 4 and m["index"] == 3 and m["joints"].shape == (14, 3)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(lspet_train, range(4)), batch_size=4)
    b = next(iter(loader))
    assert b["image"].shape == (4, 3, *INPUT)
    assert b["meta"]["center"].shape == (4, 2) and b["meta"]["scale"].shape == (4, 2)
    assert b["meta"]["joints"].shape == (4, 14, 3) and b["meta"]["image_id"].tolist() == [1, 2, 3, 4]


def test_sample_target_decodes_to_image_joints(data_root):
    """Dataset crop + target, decode, map back with meta: lands on the GT joints (with augmentation)."""
    torch.manual_seed(0)
    ds = LSPETDataset(data_root / "lspet", "val", INPUT, train=True, flip_prob=0.0, rot_prob=1.0)
    for k in range(6):
        s = ds[k]
        m = s["meta"]
        coords, _ = decode(s["target"][None])
        img_xy = to_image_coords(coords, m["center"][None], m["scale"][None], (64, 48), m["rotation"])[0]
        w = s["target_weight"].numpy() > 0
        px = float(m["scale"][0]) / 48  # image pixels per heatmap pixel
        err = np.linalg.norm(img_xy - m["joints"][:, :2].numpy(), axis=1)
        hm = input_to_heatmap(m["joints_input"][:, :2].numpy(), INPUT, (64, 48))
        inner = w & ((hm > 0.5) & (hm < np.array([46.5, 62.5]))).all(1)
        assert w.sum() >= 2 and err[w].max() <= 0.71 * px + 1e-3, (k, err[w].max(), px)
        assert err[inner].max() <= 0.36 * px + 1e-3, (k, err[inner].max(), px)  # quarter pixel per axis


# -- heatmaps ---------------------------------------------------------------------------------------
def test_encode_decode_round_trip():
    rng = np.random.default_rng(1)
    n = 2000
    xy = rng.uniform(-0.5, [INPUT[1] - 0.5, INPUT[0] - 0.5], size=(n, 2))
    xy[:200, 0] = rng.uniform(-0.5, 6, 200)       # near the left border
    xy[200:400, 1] = rng.uniform(INPUT[0] - 6, INPUT[0] - 0.5, 200)  # near the bottom
    target, weight = encode(xy, np.ones(n), INPUT, sigma=2)
    assert target.shape == (n, 64, 48) and weight.min() == 1
    coords, maxv = decode(target.reshape(n, 1, 64, 48))
    truth = input_to_heatmap(xy, INPUT, (64, 48))
    err = np.abs(coords[:, 0] - truth)
    interior = ((truth > 0.5) & (truth < np.array([46.5, 62.5]))).all(1)
    assert interior.sum() > 1000
    assert err[interior].max() <= 0.25 + 1e-6   # quarter-pixel refinement inside
    assert err.max() <= 0.5 + 1e-6               # border pixels have no neighbour to step toward
    assert (maxv > 0.75).all()
    tt, _ = decode(torch.from_numpy(target.reshape(n, 1, 64, 48)))
    assert isinstance(tt, torch.Tensor) and np.allclose(tt.numpy(), coords)


def test_encode_weights_invisible_and_out_of_crop():
    xy = np.array([[10, 10], [-3, 50], [50, 300], [100, 100]], float)
    t, w = encode(xy, np.array([1, 1, 1, 0]), INPUT)
    assert w.tolist() == [1, 0, 0, 0]
    assert t[1:].max() == 0 and t[0].max() > 0.9
    peak = np.unravel_index(t[0].argmax(), t[0].shape)
    assert peak == (2, 2)  # (10 + 0.5) / 4 - 0.5 = 2.125


def test_to_image_coords_inverts_crop():
    c, s = np.array([[120.0, 80.0]]), np.array([[96.0, 128.0]])
    pts = np.array([[[100.0, 60.0], [150.0, 130.0]]])
    for rot in (0.0, 25.0):
        m = get_affine_transform(c[0], s[0], rot, (64, 48))
        hm = affine_points(pts[0], m)[None]
        np.testing.assert_allclose(to_image_coords(hm, c, s, (64, 48), rot), pts, atol=1e-9)


def test_flip_test_is_exact_for_mirror_equivariant_model():
    model = torch.nn.AvgPool2d(4)  # commutes with horizontal flips when W % 4 == 0
    x = torch.randn(2, 3, 32, 24)
    out = flip_test(model, x, flip_pairs=[])
    torch.testing.assert_close(out, model(x))
    swapped = flip_test(model, x, flip_pairs=[(0, 2)])
    torch.testing.assert_close(swapped[:, 1], model(x)[:, 1])


# -- flips ------------------------------------------------------------------------------------------
def test_flip_twice_is_identity():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 255, size=(40, 30, 3), dtype=np.uint8)
    joints = np.concatenate([rng.uniform(0, 29, (14, 2)), rng.integers(0, 2, (14, 1))], 1)
    pairs = DATASET_INFO["lspet"].flip_pairs
    np.testing.assert_array_equal(flip_image(flip_image(img)), img)
    np.testing.assert_allclose(flip_joints(flip_joints(joints, 30, pairs), 30, pairs), joints)
    once = flip_joints(joints, 30, pairs)
    np.testing.assert_allclose(once[5], [29 - joints[0, 0], joints[0, 1], joints[0, 2]])
    # a warp with flip=True equals mirroring the unflipped warp
    m = get_affine_transform((15, 20), (30, 40), 0, (40, 30))
    mf = get_affine_transform((15, 20), (30, 40), 0, (40, 30), flip=True)
    np.testing.assert_array_equal(warp_image(img, mf, (40, 30)), flip_image(warp_image(img, m, (40, 30))))


def test_flipped_sample_matches_mirrored_joints(data_root):
    root = data_root / "lspet"
    plain = LSPETDataset(root, "val", INPUT, train=False)
    flipped = LSPETDataset(root, "val", INPUT, train=True, flip_prob=1.0, scale_factor=0.0, rot_prob=0.0)
    pairs = DATASET_INFO["lspet"].flip_pairs
    for k in (0, 7):
        a, b = plain[k], flipped[k]
        assert b["meta"]["flipped"] and not a["meta"]["flipped"]
        ja, jb = a["meta"]["joints_input"].numpy(), b["meta"]["joints_input"].numpy()
        np.testing.assert_allclose(jb, flip_joints(ja, INPUT[1], pairs), atol=1e-4)
        torch.testing.assert_close(b["image"], a["image"].flip(-1), atol=1e-5, rtol=0)
        idx = list(DATASET_INFO["lspet"].flip_index)
        torch.testing.assert_close(b["target"], a["target"].flip(-1)[idx], atol=1e-5, rtol=0)
        torch.testing.assert_close(b["target_weight"], a["target_weight"][idx])
        torch.testing.assert_close(b["meta"]["joints"], a["meta"]["joints"])  # original image coords


# -- metrics ----------------------------------------------------------------------------------------
def test_pck_hand_computed():
    gt = np.zeros((2, 3, 3))
    gt[0] = [[0, 0, 1], [10, 0, 1], [0, 10, 0]]
    gt[1] = [[5, 5, 1], [5, 5, 1], [5, 5, 1]]
    pred = np.zeros((2, 3, 2))
    pred[0] = [[1, 1], [10, 5], [0, 10]]      # dists 1.41, 5, (unannotated)
    pred[1] = [[5, 6], [9, 5], [5, 5]]        # dists 1, 4, 0
    r = pck(pred, gt, norm=np.array([10.0, 10.0]), thr=0.2)  # threshold 2 px
    assert r.counts.tolist() == [2, 2, 1]
    np.testing.assert_allclose(r.per_joint, [1.0, 0.0, 1.0])
    assert r.mean == pytest.approx(3 / 5)
    r = pck(pred, gt, norm=np.array([np.nan, 50.0]), thr=0.1)  # sample 0 has no normaliser
    assert r.counts.tolist() == [1, 1, 1] and r.mean == 1.0
    assert r.as_dict(["a", "b", "c"])["b"] == 1.0


def test_lspet_pck_and_pckh_normalisers():
    gt = np.zeros((1, 14, 3))
    gt[0, :, 2] = 1
    gt[0, 9, :2] = [0, 0]     # left shoulder
    gt[0, 2, :2] = [30, 40]   # right hip: torso = 50
    gt[0, 12, :2] = [0, 0]    # neck
    gt[0, 13, :2] = [0, 20]   # head top: head = 20
    assert torso_size(gt)[0] == pytest.approx(50)
    pred = gt[..., :2].copy()
    pred[0, 0] += [9.9, 0]    # within 0.2 * 50 = 10 and within 0.5 * 20 = 10
    pred[0, 1] += [0, 10.5]   # beyond both
    r = lspet_pck(pred, gt)
    assert r.per_joint[0] == 1 and r.per_joint[1] == 0 and r.mean == pytest.approx(13 / 14)
    rh = pckh(pred, gt)
    assert rh.mean == pytest.approx(13 / 14)
    rh2 = pckh(pred, gt, head_sizes=np.array([10.0]))  # thr 5 px
    assert rh2.per_joint[0] == 0 and rh2.mean == pytest.approx(12 / 14)
    gt[0, 9, 2] = 0
    assert math.isnan(lspet_pck(pred, gt).mean)  # no torso: nothing counted


def test_to_coco_results_and_pose_scores(tmp_path):
    preds = np.arange(2 * 17 * 2, dtype=float).reshape(2, 17, 2)
    res = to_coco_results(preds, [0.9, 0.5], [7, 8], path=tmp_path / "r.json")
    assert res[0]["image_id"] == 7 and res[1]["category_id"] == 1 and len(res[0]["keypoints"]) == 51
    assert res[0]["keypoints"][:3] == [0.0, 1.0, 1.0]
    assert json.loads((tmp_path / "r.json").read_text()) == res
    s = pose_scores(np.array([[0.9, 0.1, 0.5], [0.1, 0.1, 0.1]]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(s, [0.7, 0.0])


def test_coco_oks_ap_of_ground_truth_is_one(data_root, coco_val):
    assert len(coco_val) == 68  # README: 68 persons with keypoints in val2017
    res = to_coco_results(coco_val.joints, np.ones(len(coco_val)), coco_val.image_ids)
    ann = data_root / "coco_mini" / "annotations" / "person_keypoints_val2017.json"
    stats = coco_eval(ann, res)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    noisy = coco_val.joints.copy()
    noisy[..., :2] += np.random.default_rng(0).normal(0, 8, noisy[..., :2].shape)
    worse = coco_eval(coco_val.coco, to_coco_results(noisy, np.ones(len(noisy)), coco_val.image_ids))
    assert worse["AP"] < 0.95


def test_mean_pose_baseline_in_readme_ballpark(lspet_train, lspet_val):
    pred = mean_pose_baseline(lspet_train.joints, _boxes_from_joints(lspet_val.joints))
    p = lspet_pck(pred, lspet_val.joints, thr=0.2).mean
    h = pckh(pred, lspet_val.joints, thr=0.5).mean
    assert 0.01 < p < 0.15, p   # README: about 5%
    assert 0.01 < h < 0.15, h   # README: about 7%


# -- COCO / MPII fixtures ---------------------------------------------------------------------------
def test_coco_sample_and_fixture(data_root, coco_val):
    s = coco_val[0]
    assert s["target"].shape == (17, 64, 48)
    m = s["meta"]
    ann = coco_val.coco.anns[m["ann_id"]]
    assert ann["image_id"] == m["image_id"] and ann["num_keypoints"] > 0
    kp = np.array(ann["keypoints"], float).reshape(17, 3)
    np.testing.assert_allclose(m["joints"][:, 2].numpy(), kp[:, 2] > 0)
    assert s["target_weight"].sum() > 0
    fx = data_root / "mmpose_fixtures" / "coco"
    ds = COCOKeypointDataset(fx / "test_coco.json", fx, INPUT)
    assert len(ds) > 0 and ds[len(ds) - 1]["image"].shape == (3, *INPUT)
    det = COCOKeypointDataset(fx / "test_coco.json", fx, INPUT, bbox_file=fx / "test_coco_det_AP_H_56.json")
    assert len(det) > 0 and det[0]["meta"]["ann_id"] == -1 and 0 < det[0]["meta"]["score"] <= 1


def test_mpii_fixture(data_root):
    fx = data_root / "mmpose_fixtures" / "mpii"
    recs = json.loads((fx / "test_mpii.json").read_text())
    ds = MPIIDataset(fx / "test_mpii.json", fx, (256, 256))
    assert len(ds) == len(recs) == 5
    r = recs[0]
    np.testing.assert_allclose(ds.centers[0], [r["center"][0] - 1, r["center"][1] + 15 * r["scale"] - 1])
    np.testing.assert_allclose(ds.scales[0], [200 * 1.25 * r["scale"]] * 2)
    np.testing.assert_allclose(ds.joints[0, :, :2], np.array(r["joints"]) - 1)
    s = ds[0]
    assert s["target"].shape == (16, 64, 64) and s["target_weight"].sum() > 8
    hs = np.linalg.norm(np.array(r["joints"][8]) - np.array(r["joints"][9]))
    assert s["meta"]["head_size"] == pytest.approx(hs)
    boxes = np.array([[[0, 0], [30, 40]]] * 5, float)
    assert MPIIDataset(fx / "test_mpii.json", fx, (256, 256), headboxes=boxes).head_sizes[0] == pytest.approx(30)
    rect = MPIIDataset(fx / "test_mpii.json", fx, (256, 192))
    assert rect.scales[0][0] / rect.scales[0][1] == pytest.approx(0.75)


def test_build_dataset_and_data_root(data_root, monkeypatch, tmp_path):
    assert len(build_dataset("mpii", root=data_root)) == 5
    assert len(build_dataset("coco", "train", root=data_root)) == 86
    monkeypatch.setenv("ARCHLAB_DATA", str(tmp_path))
    assert default_data_root() == tmp_path


# -- errors -----------------------------------------------------------------------------------------
def test_corrupt_image_named_and_skipped(tmp_path):
    root = _make_lspet_folder(tmp_path / "lsp", n=3)
    bad = root / "images" / "im00002.jpg"
    bad.write_bytes(b"this is not a jpeg" * 10)
    ds = LSPETDataset(root, "all", INPUT)
    assert len(ds) == 3
    ds[0]
    with pytest.raises(DatasetError, match="im00002.jpg"):
        ds[1]
    skip = LSPETDataset(root, "all", INPUT, skip_bad=True)
    assert len(skip) == 2 and skip.skipped == 1 and "im00002.jpg" in skip.skipped_items[0][0]
    assert [skip[i]["meta"]["image_id"] for i in range(2)] == [1, 3]


def test_skipped_images_reach_the_main_process_from_loader_workers(tmp_path):
    """A skipping dataset replaces an image that fails only when decoded (truncated JPEG) and says so
    in the sample's meta, so a DataLoader with workers can report it; without skip_bad the key is
    absent and the error names the file."""
    root = _make_lspet_folder(tmp_path / "lsp", n=6)
    bad = root / "images" / "im00003.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 3])
    ds = LSPETDataset(root, "all", (64, 48), skip_bad=True)
    assert len(ds) == 6 and ds.skipped == 0              # the header reads: only decoding fails
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    metas = [b["meta"] for b in loader]
    notes = [s for m in metas for s in m["skipped"]]
    assert len(notes) == 6 and [n for n in notes if n] == [f"{bad}\t{bad}: " + notes[2].split(": ", 1)[1]]
    assert "truncated" in notes[2] and [int(i) for m in metas for i in m["index"]][2] == 3   # replaced by the next
    assert ds.skipped == 0                                # the count stayed in the worker's copy
    plain = LSPETDataset(root, "all", (64, 48))
    assert "skipped" not in plain[0]["meta"]
    with pytest.raises(DatasetError, match="im00003.jpg: cannot read image.*truncated"):
        plain[2]


def test_missing_files_raise_named_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        LSPETDataset(tmp_path / "nowhere", "all", INPUT)
    root = _make_lspet_folder(tmp_path / "lsp", n=3)
    (root / "images" / "im00003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="im00003.jpg"):
        LSPETDataset(root, "all", INPUT)
    assert LSPETDataset(root, "all", INPUT, skip_bad=True).skipped == 1
    with pytest.raises(FileNotFoundError, match="missing.json"):
        MPIIDataset(tmp_path / "missing.json", tmp_path, INPUT)


def test_malformed_annotations_raise(tmp_path, data_root):
    root = _make_lspet_folder(tmp_path / "a", n=2)
    savemat(root / "joints.mat", {"joints": np.zeros((13, 3, 2))})
    with pytest.raises(DatasetError, match=r"joints.mat.*joint count mismatch"):
        LSPETDataset(root, "all", INPUT)
    savemat(root / "joints.mat", {"joints": np.ones((3, 14, 2))})
    with pytest.raises(DatasetError, match="original LSP layout"):
        LSPETDataset(root, "all", INPUT)
    savemat(root / "joints.mat", {"other": np.ones((14, 3, 2))})
    with pytest.raises(DatasetError, match="no 'joints'"):
        LSPETDataset(root, "all", INPUT)
    (root / "joints.mat").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="joints.mat"):
        LSPETDataset(root, "all", INPUT)

    fx = data_root / "mmpose_fixtures" / "coco"
    data = json.loads((fx / "test_coco.json").read_text())
    first = next(a for a in data["annotations"] if a["num_keypoints"] > 0)
    first["keypoints"] = first["keypoints"][:-3]
    bad = tmp_path / "bad_coco.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"bad_coco.json.*joint count mismatch"):
        COCOKeypointDataset(bad, fx, INPUT)
    ok = COCOKeypointDataset(bad, fx, INPUT, skip_bad=True)
    assert ok.skipped == 1 and len(ok) == len(COCOKeypointDataset(fx / "test_coco.json", fx, INPUT)) - 1
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DatasetError, match="broken.json"):
        COCOKeypointDataset(tmp_path / "broken.json", fx, INPUT)

    mp = data_root / "mmpose_fixtures" / "mpii"
    recs = json.loads((mp / "test_mpii.json").read_text())
    recs[1]["joints"] = recs[1]["joints"][:15]
    recs[2].pop("center")
    (tmp_path / "mpii.json").write_text(json.dumps(recs))
    with pytest.raises(DatasetError, match=r"mpii.json \(record 1\).*joint count mismatch"):
        MPIIDataset(tmp_path / "mpii.json", mp, INPUT)
    m = MPIIDataset(tmp_path / "mpii.json", mp, INPUT, skip_bad=True)
    assert len(m) == 3 and m.skipped == 2


def test_lspet_user_folder_layout(tmp_path):
    """Any folder with images/ and an LSPET-layout joints.mat works; indices select a subset."""
    root = _make_lspet_folder(tmp_path / "mine", n=4)
    ds = LSPETDataset(root, "all", (128, 96), indices=[1, 3])
    assert len(ds) == 2 and ds.image_ids.tolist() == [2, 4]
    s = ds[1]
    assert s["image"].shape == (3, 128, 96) and s["target"].shape == (14, 32, 24)
    raw = loadmat(root / "joints.mat")["joints"]
    np.testing.assert_allclose(ds.joints[1, :, :2], raw[:, :2, 3] - 1)
    shutil.rmtree(root / "images")
    with pytest.raises(FileNotFoundError, match="images"):
        LSPETDataset(root, "all", INPUT)
