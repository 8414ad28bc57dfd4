"""Zero-cost proxies: closed-form cases on tiny networks, and real archlab networks on real LSPET images."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from archlab.data.datasets import default_data_root
from archlab.search.zero_cost import (PROXIES, grad_norm, jacob_cov, lspet_batch, naswot, register_proxy,
                                      score_model, score_spec, snip, synflow)

ROOT = Path(__file__).resolve().parents[1]
SMALL = (64, 64)   # 4 branches need multiples of 32


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # many small ops: one thread is fastest, and 2 threads on a loaded 2-core machine spin for seconds
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data_root():
    root = default_data_root()
    if root is None or not (Path(root) / "lspet").is_dir():
        pytest.skip(f"shared LSPET data not found (default_data_root() -> {root}); set ARCHLAB_DATA")
    return root


@pytest.fixture(scope="module")
def small_batch(data_root):
    return lspet_batch(4, seed=0, input_size=SMALL, data_root=data_root)


def _set(module, **tensors):
    with torch.no_grad():
        for k, v in tensors.items():
            getattr(module, k).copy_(torch.as_tensor(v, dtype=getattr(module, k).dtype))
    return module


# -- synflow ---------------------------------------------------------------------------------------
def test_synflow_conv_bn_relu_chain_equals_hand_value_and_ignores_batchnorm():
    # conv1x1 (3->2) -> BN -> ReLU -> conv1x1 (2->1), all-ones 5x4 input. BN is removed, weights |.|:
    # per pixel R = |W2| |W1| 1 = [2, 1] . [3, 5] = 11, R = 20 px * 11 = 220; each layer carries R.
    c1, c2 = nn.Conv2d(3, 2, 1, bias=False), nn.Conv2d(2, 1, 1, bias=False)
    _set(c1, weight=[[[[1.]], [[-2.]], [[0.]]], [[[3.]], [[1.]], [[-1.]]]])
    _set(c2, weight=[[[[2.]], [[-1.]]]])
    bn = _set(nn.BatchNorm2d(2), weight=[5., -4.], bias=[-3., 2.], running_mean=[7., 7.], running_var=[4., 9.])
    net = nn.Sequential(c1, bn, nn.ReLU(), c2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert synflow(net, torch.randn(2, 3, 5, 4)) == pytest.approx(2 * 220.0, rel=1e-12)
    # the network passed in is unchanged (signs, BatchNorm, dtype)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_synflow_counts_weights_not_biases_but_biases_feed_R():
    # y = |w| * 1 + |b| on one pixel: R = 2 + 3 = 5, score = |w| dR/dw = 2 * 1 (bias not summed)
    lin = _set(nn.Linear(1, 1), weight=[[-2.]], bias=[-3.])
    assert synflow(lin, torch.zeros(3, 1)) == pytest.approx(2.0)


def test_synflow_grows_with_width_at_equal_depth():
    def net(w):
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(w, 4, 1))
    x = torch.zeros(2, 3, 8, 8)
    scores = [synflow(net(w), x) for w in (4, 8, 16)]
    assert scores[0] < scores[1] < scores[2]


# -- naswot ----------------------------------------------------------------------------------------
X3 = torch.tensor([[1., -1., 1.], [1., 1., -1.], [-1., -1., -1.]])   # codes 101, 110, 000


def test_naswot_closed_form_kernel():
    # K = codes agreement counts: diag 3, every pair agrees in exactly one place -> det [[3,1,1],[1,3,1],[1,1,3]] = 20
    assert naswot(nn.Sequential(nn.ReLU()), X3) == pytest.approx(math.log(20.0), rel=1e-12)
    # a module applied twice in one forward counts twice: K doubles, det x 2^3
    r = nn.ReLU(inplace=True)
    assert naswot(nn.Sequential(r, r), X3.clone()) == pytest.approx(math.log(160.0), rel=1e-12)


def test_naswot_identical_codes_give_minus_inf_distinct_codes_finite():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    _set(conv, weight=torch.zeros_like(conv.weight), bias=[1., -1., 2., 0.5])     # output ignores the image
    x = torch.randn(5, 3, 6, 6)
    assert naswot(nn.Sequential(conv, nn.ReLU()), x) == -math.inf
    torch.manual_seed(1)
    assert math.isfinite(naswot(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()), x))
    with pytest.raises(ValueError, match="no nn.ReLU"):
        naswot(nn.Sequential(nn.Conv2d(3, 4, 1)), x)


# -- jacob_cov -------------------------------------------------------------------------------------
def test_jacob_cov_linear_net_has_rank_one_correlation():
    # a linear network has the same input Jacobian for every image: correlation all ones, eigenvalues {n, 0, ...}
    torch.manual_seed(0)
    n, k = 4, 1e-5
    got = jacob_cov(nn.Conv2d(3, 2, 3, padding=1), torch.randn(n, 3, 6, 5))
    want = -(math.log(n + k) + 1 / (n + k)) - (n - 1) * (math.log(k) + 1 / k)
    assert got == pytest.approx(want, rel=1e-6)
    # per-image Jacobians that differ (x^2 -> 2x) score far higher
    assert jacob_cov(nn.Sequential(_Square()), torch.randn(n, 3, 6, 5)) > want + 1e5
    # a constant Jacobian (identity) has no correlation to compute
    assert math.isnan(jacob_cov(nn.Identity(), torch.randn(n, 3, 6, 5)))


class _Square(nn.Module):
    def forward(self, x):
        return x * x


# -- loss-based proxies ----------------------------------------------------------------------------
def test_grad_norm_and_snip_match_hand_gradient():
    # y = a x (1x1 conv, 1 joint), L = 0.5 mean((a x - t)^2)  ->  dL/da = mean((a x - t) x)
    torch.manual_seed(0)
    x, t = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    conv = _set(nn.Conv2d(1, 1, 1, bias=False), weight=[[[[-0.7]]]])
    batch = {"image": x, "target": t, "target_weight": torch.ones(3, 1, 1)}
    g = float(((-0.7 * x - t) * x).mean())
    assert grad_norm(conv, batch) == pytest.approx(abs(g), rel=1e-5)
    assert snip(conv, batch) == pytest.approx(abs(0.7 * g), rel=1e-5)
    with pytest.raises(ValueError, match="target_weight"):
        snip(conv, x)


# -- registry and errors ---------------------------------------------------------------------------
def test_registry_user_proxy_and_unknown_names():
    @register_proxy("test_depth")
    def depth(model, batch):
        return float(sum(isinstance(m, nn.Conv2d) for m in model.modules()))
    try:
        res = score_model(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)), torch.zeros(2, 3, 4, 4),
                          ["test_depth", "synflow"])
        assert res["test_depth"]["score"] == 2.0 and res["test_depth"]["cpu_s"] >= 0
        with pytest.raises(ValueError, match="already registered"):
            register_proxy("test_depth")(depth)
    finally:
        del PROXIES["test_depth"]
    with pytest.raises(ValueError, match="unknown zero-cost proxy 'synflw'.*synflow"):
        score_spec("litehrnet_18_coco", proxies=["synflw"])


# -- real networks, real images --------------------------------------------------------------------
def test_lspet_batch_draws_fit_images_only(data_root):
    b = lspet_batch(6, seed=3, input_size=SMALL, data_root=data_root)
    assert b["image"].shape == (6, 3, *SMALL) and b["target"].shape == (6, 14, SMALL[0] // 4, SMALL[1] // 4)
    assert all(0 <= i < 7000 for i in b["index"]) and len(set(b["index"])) == 6
    with pytest.raises(ValueError, match="batch_size"):
        lspet_batch(1, data_root=data_root)


def test_real_spec_scores_finite_and_deterministic(data_root, small_batch):
    kw = dict(proxies=["synflow", "naswot", "jacob_cov"], input_size=SMALL, data_root=data_root)
    a = score_spec("litehrnet_18_coco", batch=small_batch, **kw)
    b = score_spec("litehrnet_18_coco", batch_size=4, seed=0, **kw)        # draws the same batch itself
    assert {k: v["score"] for k, v in a.items()} == {k: v["score"] for k, v in b.items()}
    assert all(np.isfinite(v["score"]) and v["cpu_s"] > 0 for v in a.values())
    kw["proxies"] = ["synflow", "naswot"]
    c = score_spec("litehrnet_18_coco", batch_size=4, seed=1, **kw)         # another init and other images
    assert c["naswot"]["score"] != a["naswot"]["score"] and c["synflow"]["score"] != a["synflow"]["score"]


def test_second_family_scores_finite(data_root, small_batch):
    res = score_spec(ROOT / "studies/specs/sdhrnet_w16_small_lspet.yaml",
                     ["synflow", "naswot", "jacob_cov", "grad_norm"], input_size=SMALL, batch=small_batch)
    assert all(np.isfinite(v["score"]) for v in res.values()) and res["grad_norm"]["score"] > 0


def test_study_script_table_matches_library_and_names_models(data_root, small_batch, tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("zero_cost_scores", ROOT / "studies" / "zero_cost_scores.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    models = study.models_to_score([str(ROOT / "studies/specs/hrnet_w16_small_lspet.yaml"), "litehrnet_18_coco"])
    assert {"litehrnet_18", "sdhrnet_w16_small", "litehrnet_18_coco"} <= set(models)
    with pytest.raises(SystemExit, match="not found"):
        study.models_to_score([str(tmp_path / "missing.yaml")])
    t = study.score_all({"hrnet_small": models["hrnet_w16_small"]}, ["synflow"], seeds=(0,), batch_size=4,
                        input_size=SMALL, threads=1, data_root=data_root)
    assert list(t[["model", "proxy", "seed"]].itertuples(index=False, name=None)) == [("hrnet_small", "synflow", 0)]
    want = score_spec(models["hrnet_w16_small"], ["synflow"], input_size=SMALL, batch=small_batch)["synflow"]["score"]
    assert t["score"].iloc[0] == want and t["source"].iloc[0] == "studies/specs/hrnet_w16_small_lspet.yaml"
    assert t["images"].iloc[0].split() == [str(i + 1) for i in small_batch["index"]]
