"""Third-party counters (archlab.cost.counters), their conventions (archlab.cost.conventions),
the counting profiles (archlab.cost.profiles) and the latency helpers (archlab.cost.latency).

* every adapter against closed-form formulas on single modules / functional calls (exact ==);
* unsupported-op reporting;
* ``conventions.<counter>(count(spec).ops)`` == the counter's total, by-operator and by-module
  figures, exactly, for every block type and every zoo model at a small input;
* the papers' GFLOPs figures from the profiles.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archlab
from archlab.blocks import (ECA, SC, SCR, SE, SEM, BasicBlock, Bottleneck, ConvBNAct, LiteStem, PositionAttention,
                            ShuffleBlock)
from archlab.blocks.attention import eca_cost, position_attention_cost, se_cost, sem_cost
from archlab.blocks.basic import basic_block_cost, bottleneck_cost, conv_bn_act_cost
from archlab.blocks.lite import lite_stem_cost, shuffle_block_cost
from archlab.blocks.mbconv import MBConv, mbconv_cost
from archlab.blocks.repvgg import RepVGGBlock, repvgg_cost
from archlab.blocks.sc import sc_cost, scr_cost
from archlab.cost import conventions as cv
from archlab.cost.counters import COUNTERS, CounterResult, exclusive_by_module, inclusive_by_module, run_counter
from archlab.cost.latency import LatencyResult, measure_latency, measure_train_step
from archlab.cost.profiles import PROFILES, ProfiledCost, format_cost

ALL = tuple(COUNTERS)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class Fn(nn.Module):
    """A module whose forward is a functional call (what module hooks cannot see)."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


# ----------------------------------------------------------------------------------------------
# adapters vs closed-form formulas, on a (1, 4, 6, 5) input

C, H, W = 4, 6, 5
N = C * H * W


def _conv_macs(cin, cout, k, groups, ho, wo):
    return cout * ho * wo * (cin // groups) * k * k


CASES = {
    # name: (module, {counter: expected total})
    "conv3x3": (nn.Conv2d(4, 8, 3, padding=1, bias=False),
                dict.fromkeys(("fvcore", "thop", "ptflops-pytorch", "ptflops-aten"), _conv_macs(4, 8, 3, 1, H, W))
                | {"torch": 2 * _conv_macs(4, 8, 3, 1, H, W)}),
    "conv3x3_bias": (nn.Conv2d(4, 8, 3, padding=1, bias=True),
                     {"fvcore": _conv_macs(4, 8, 3, 1, H, W), "thop": _conv_macs(4, 8, 3, 1, H, W),
                      "ptflops-pytorch": _conv_macs(4, 8, 3, 1, H, W) + 8 * H * W,
                      "ptflops-aten": _conv_macs(4, 8, 3, 1, H, W) + 8 * H * W,
                      "torch": 2 * _conv_macs(4, 8, 3, 1, H, W)}),
    "conv_groups2_dilation2": (nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=2, bias=False),
                               dict.fromkeys(("fvcore", "thop", "ptflops-pytorch", "ptflops-aten"),
                                             _conv_macs(4, 8, 3, 2, H, W))
                               | {"torch": 2 * _conv_macs(4, 8, 3, 2, H, W)}),
    "depthwise_stride2": (nn.Conv2d(4, 4, 3, 2, 1, groups=4, bias=False),
                          dict.fromkeys(("fvcore", "thop", "ptflops-pytorch", "ptflops-aten"), 4 * 3 * 3 * 9)
                          | {"torch": 2 * 4 * 3 * 3 * 9}),
    "batch_norm_eval": (nn.BatchNorm2d(4), {"fvcore": 2 * N, "thop": 4 * N, "ptflops-pytorch": 2 * N,
                                            "ptflops-aten": 0, "torch": 0}),
    "relu_module": (nn.Sequential(nn.ReLU()), {"fvcore": 0, "thop": 0, "ptflops-pytorch": 2 * N,
                                               "ptflops-aten": 0, "torch": 0}),
    "relu_functional": (Fn(lambda x: F.relu(x)), {"fvcore": 0, "thop": 0, "ptflops-pytorch": N, "ptflops-aten": 0, "torch": 0}),
    "sigmoid_module": (nn.Sequential(nn.Sigmoid()), dict.fromkeys(ALL, 0)),
    "hardsigmoid": (Fn(lambda x: F.hardsigmoid(x)), dict.fromkeys(ALL, 0)),
    "softmax": (Fn(lambda x: torch.softmax(x, -1)), dict.fromkeys(ALL, 0)),
    "mean": (Fn(lambda x: x.mean(dim=(2, 3))), dict.fromkeys(ALL, 0)),
    "adaptive_avg_pool2d": (Fn(lambda x: F.adaptive_avg_pool2d(x, (3, 1))),
                            {"fvcore": N, "thop": 0, "ptflops-pytorch": N, "ptflops-aten": 0, "torch": 0}),
    "upsample_module_nearest": (nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest")),
                                {"fvcore": 4 * N, "thop": 4 * N, "ptflops-pytorch": 8 * N, "ptflops-aten": 0,
                                 "torch": 0}),
    "interpolate_nearest": (Fn(lambda x: F.interpolate(x, size=(12, 10), mode="nearest")),
                            {"fvcore": 4 * N, "thop": 0, "ptflops-pytorch": 4 * N, "ptflops-aten": 0, "torch": 0}),
    "interpolate_bilinear": (Fn(lambda x: F.interpolate(x, size=(12, 10), mode="bilinear", align_corners=True)),
                             {"fvcore": 16 * N, "thop": 0, "ptflops-pytorch": 4 * N, "ptflops-aten": 0,
                              "torch": 0}),
    "add": (Fn(lambda x: x + x), dict.fromkeys(ALL, 0)),
    "mul_broadcast": (Fn(lambda x: x * x.mean(dim=(2, 3), keepdim=True)), dict.fromkeys(ALL, 0)),
    "mul_scalar": (Fn(lambda x: 2 * x), dict.fromkeys(ALL, 0)),
    "bmm": (Fn(lambda x: torch.bmm(x.flatten(2).transpose(1, 2), x.flatten(2))),
            {"fvcore": (H * W) ** 2 * C, "thop": 0, "ptflops-pytorch": (H * W) ** 2 * C,
             "ptflops-aten": (H * W) ** 2 * C, "torch": 2 * (H * W) ** 2 * C}),
    "cat_chunk_view": (Fn(lambda x: torch.cat(x.chunk(2, 1)[::-1], 1).view(1, -1)), dict.fromkeys(ALL, 0)),
    "linear": (nn.Sequential(nn.Flatten(), nn.Linear(N, 7)),
               {"fvcore": 7 * N, "thop": 7 * N, "ptflops-pytorch": 7 * N + 7, "ptflops-aten": 7 * N + 7,
                "torch": 2 * 7 * N}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_adapters_closed_form(case):
    module, expected = CASES[case]
    got = {c: run_counter(c, module, (C, H, W)).total for c in ALL}
    assert got == expected


def test_conv1d_eca_style():
    class Eca(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 1, 3, padding=1, bias=False)

        def forward(self, x):
            return self.conv(x.mean(dim=(2, 3))[:, None, :])
    got = {c: run_counter(c, Eca(), (C, H, W)).total for c in ALL}
    assert got == {"fvcore": 3 * C, "thop": 3 * C, "ptflops-pytorch": 3 * C, "ptflops-aten": 3 * C,
                   "torch": 6 * C}


def test_result_record_and_units():
    r = run_counter("fvcore", nn.Conv2d(3, 8, 3, padding=1), "6x5")
    assert isinstance(r, CounterResult) and r.counter == "fvcore" and r.unit == "MACs" and r.seconds > 0
    assert r.version and r.by_operator == {"conv": r.total} and r.by_module == {"": r.total}
    assert run_counter("torch", nn.Conv2d(4, 8, 3), (4, 6, 5)).unit == "FLOPs"
    assert {run_counter(c, nn.Conv2d(3, 3, 1), (3, 4, 4)).unit for c in ALL if c != "torch"} == {"MACs"}


# ----------------------------------------------------------------------------------------------
# unsupported ops are reported, not silently zero

def test_unsupported_reporting():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.sig = nn.Sigmoid()

        def forward(self, x):
            return x * self.sig(x.mean(dim=(2, 3), keepdim=True)) + torch.softmax(x, -1)
    m = Gate()
    fv = run_counter("fvcore", m, (C, H, W)).unsupported
    assert fv == {"aten::add": 1, "aten::mean": 1, "aten::mul": 1, "aten::sigmoid": 1, "aten::softmax": 1}
    assert run_counter("thop", m, (C, H, W)).unsupported == {"Sigmoid": 1}
    assert run_counter("ptflops-pytorch", m, (C, H, W)).unsupported == {"Sigmoid": 1}
    for c in ("ptflops-aten", "torch"):
        assert run_counter(c, m, (C, H, W)).unsupported == {"_softmax": 1, "add": 1, "mean": 1, "mul": 1,
                                                             "sigmoid": 1}


def test_counters_leave_the_model_alone():
    m = archlab.create_model("litehrnet_18_coco", input_size=(64, 64)).train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    for c in ALL:
        run_counter(c, m, (64, 64))
    assert m.training
    assert set(m.state_dict()) == set(before)               # no thop total_ops/total_params buffers
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())   # BN stats untouched
    for mod in m.modules():
        assert not mod._forward_hooks and not mod._forward_pre_hooks
        assert not hasattr(mod, "__flops__") and not hasattr(mod, "start_flops_count")


def test_counter_errors():
    with pytest.raises(ValueError, match="unknown counter"):
        run_counter("nope", nn.Conv2d(1, 1, 1), (1, 2, 2))
    with pytest.raises(ValueError, match="meta"):
        run_counter("fvcore", nn.Conv2d(1, 1, 1, device="meta"), (1, 2, 2))
    with pytest.raises(ValueError, match="input size"):
        run_counter("fvcore", nn.Conv2d(1, 1, 1), "2by2")
    with pytest.raises(ValueError, match="unknown counter"):
        cv.predict("nope", [])


def test_inclusive_exclusive_roundtrip():
    excl = {"": 1, "a": 2, "a.b": 3, "c.d": 4}
    incl = inclusive_by_module(excl)
    assert incl == {"": 10, "a": 5, "a.b": 3, "c": 4, "c.d": 4}
    assert exclusive_by_module(incl) == excl


# ----------------------------------------------------------------------------------------------
# conventions reproduce every counter exactly

def _merge_pool(d):
    d = dict(d)
    n = d.pop("mean", 0) + d.pop("adaptive_avg_pool2d", 0)
    if n:
        d["mean|adaptive_avg_pool2d"] = n
    return d


def _assert_exact(model, ops, size, types=None):
    for c in ALL:
        res = run_counter(c, model, size)
        pred = cv.predict(c, ops, types)
        assert res.total == pred.total, (c, res.total, pred.total)
        assert res.unit == pred.unit
        assert res.by_operator == pred.by_operator, c
        assert res.by_module == pred.by_module, c
        if c in ("ptflops-aten", "torch"):      # aten names of pooling depend on the output size
            assert _merge_pool(res.unsupported) == _merge_pool(pred.unsupported), c
        else:
            assert res.unsupported == pred.unsupported, c


BLOCKS = {
    "conv_bn_act": (lambda: ConvBNAct(8, 16, 3, 2), lambda hw: conv_bn_act_cost(8, 16, 3, 2, hw=hw), 8),
    "conv_sigmoid_nobn": (lambda: ConvBNAct(8, 8, 1, norm=False, act="sigmoid"),
                          lambda hw: conv_bn_act_cost(8, 8, 1, hw=hw, norm=False, act="sigmoid"), 8),
    "dilated_grouped": (lambda: ConvBNAct(8, 8, 3, dilation=6, groups=4),
                        lambda hw: conv_bn_act_cost(8, 8, 3, hw=hw, dilation=6, groups=4), 8),
    "basic": (lambda: BasicBlock(8, 8), lambda hw: basic_block_cost(8, 8, hw=hw), 8),
    "basic_proj": (lambda: BasicBlock(8, 16, 2), lambda hw: basic_block_cost(8, 16, 2, hw=hw), 8),
    "bottleneck": (lambda: Bottleneck(16, 8), lambda hw: bottleneck_cost(16, 8, hw=hw), 16),
    "sc_none": (lambda: SC(16, 16, reweight="none"), lambda hw: sc_cost(16, 16, hw=hw, reweight="none"), 16),
    "sc_se": (lambda: SC(16, 16, reweight="se"), lambda hw: sc_cost(16, 16, hw=hw, reweight="se"), 16),
    "sc_eca": (lambda: SC(16, 16, reweight="eca"), lambda hw: sc_cost(16, 16, hw=hw, reweight="eca"), 16),
    "scr": (lambda: SCR(16, 16), lambda hw: scr_cost(16, 16, hw=hw), 16),
    "scr_proj": (lambda: SCR(8, 16, 2), lambda hw: scr_cost(8, 16, 2, hw=hw), 8),
    "se": (lambda: SE(16), lambda hw: se_cost(16, hw=hw), 16),
    "eca_hardsigmoid": (lambda: ECA(16, gate="hardsigmoid"), lambda hw: eca_cost(16, gate="hardsigmoid", hw=hw), 16),
    "position_attention": (lambda: PositionAttention(16), lambda hw: position_attention_cost(16, hw=hw), 16),
    "sem": (lambda: SEM(16), lambda hw: sem_cost(16, hw=hw), 16),
    "shuffle": (lambda: ShuffleBlock(16, 16), lambda hw: shuffle_block_cost(16, 16, hw=hw), 16),
    "lite_stem": (lambda: LiteStem(3, 32, 32), lambda hw: lite_stem_cost(3, 32, 32, hw=hw), 3),
    "mbconv": (lambda: MBConv(16, 16), lambda hw: mbconv_cost(16, 16, hw=hw), 16),
    "mbconv_se_stride": (lambda: MBConv(8, 16, 2, expand_ratio=4, kernel=5, se=True),
                         lambda hw: mbconv_cost(8, 16, 2, hw=hw, expand_ratio=4, kernel=5, se=True), 8),
    "repvgg": (lambda: RepVGGBlock(16, 16), lambda hw: repvgg_cost(16, 16, hw=hw), 16),
    "repvgg_stride": (lambda: RepVGGBlock(8, 16, 2), lambda hw: repvgg_cost(8, 16, 2, hw=hw), 8),
    "repvgg_deployed": (lambda: RepVGGBlock(16, 16).eval().reparameterize(),
                        lambda hw: repvgg_cost(16, 16, hw=hw, deploy=True), 16),
}


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_conventions_exact_per_block(block):
    make, cost, cin = BLOCKS[block]
    torch.manual_seed(0)
    m = make().eval()
    hw = (12, 8)
    _assert_exact(m, cost(hw), (cin, *hw), cv.module_types(m))
    _assert_exact(m, cost(hw), (cin, *hw))                    # the path heuristic agrees


ZOO = archlab.list_models()
#: one of each architecture: the MPII / LSPET variants differ from the COCO ones only in the
#: number of heatmaps (the MPII ones are run at 128x96 below).
ZOO_ARCH = [n for n in ZOO if n.split("_")[-1] == "coco" or "_coco_" in n]


@pytest.mark.parametrize("name", ZOO_ARCH)
def test_conventions_exact_per_zoo_model(name):
    """Covers the multi-branch and two-input blocks too (CCW, iterative / DASP heads, fuse layers
    under both fuse forwards, transitions, SEM)."""
    size = (64, 64)
    m = archlab.create_model(name, input_size=size).eval()
    _assert_exact(m, archlab.count(name, size).ops, size)


def test_conventions_exact_at_128x96():
    for name in ("litehrnet_18_mpii", "sdhrnet_mpii", "hrnet_w18_mpii"):
        size = (128, 96)
        m = archlab.create_model(name, input_size=size).eval()
        _assert_exact(m, archlab.count(name, size).ops, size, cv.module_types(m))


@pytest.mark.parametrize("name,counter", [("hrnet_w32_coco", "fvcore"), ("sdhrnet_coco", "ptflops-pytorch"),
                                          ("litehrnet_18_coco", "thop")])
def test_full_size_counters(name, counter):
    m = archlab.create_model(name).eval()
    r = archlab.count(name)
    assert run_counter(counter, m, r.input_size).total == r.to(counter).count == cv.predict(counter, r).total


def test_module_run_heuristic_matches_module_types():
    for name in ZOO:
        m = archlab.create_model(name, device="meta")
        types = cv.module_types(m)
        for op in archlab.count(name).ops:
            assert cv.module_run(op) == cv.module_run(op, types), (name, op.module, op.op)


def test_conventions_table(tmp_path):
    md = cv.conventions_table()
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    header = lines[0]
    for c in ("analytic", *ALL):
        assert c in header
    ncol = header.count("|")
    assert all(ln.count("|") == ncol for ln in lines)
    for row in ("batch_norm", "upsample bilinear", "bmm", "sigmoid", "conv bias", "elementwise"):
        assert any(row in ln for ln in lines[2:]), row
    p = cv.write_conventions_table(tmp_path / "c.md")
    assert Path(p).read_text() == md


# ----------------------------------------------------------------------------------------------
# profiles

PAPER = [
    ("hrnet_w32_coco", "hrnet_paper", 1, 7.1), ("hrnet_w48_coco", "hrnet_paper", 1, 14.6),
    ("hrnet_w32_mpii", "hrnet_paper", 1, 9.5), ("sdhrnet_coco", "sdhrnet_paper", 1, 4.5),
    ("sdhrnet_mpii", "sdhrnet_paper", 1, 6.0), ("sdhrnet_coco_scr", "sdhrnet_paper", 1, 4.4),
    ("sdhrnet_coco", "hrnet_paper", 1, 4.5),
    ("litehrnet_18_coco", "litehrnet_paper", 2, 0.20), ("litehrnet_30_coco", "litehrnet_paper", 2, 0.31),
    ("litehrnet_18_mpii", "litehrnet_paper", 2, 0.27), ("litehrnet_30_mpii", "litehrnet_paper", 2, 0.42),
]


@pytest.mark.parametrize("name,profile,digits,expected", PAPER)
def test_paper_figures(name, profile, digits, expected):
    v = archlab.count(name).to(profile)
    assert isinstance(v, ProfiledCost)
    assert round(v.value, digits) == pytest.approx(expected)


def test_litehrnet_readme_figures():
    """Lite-HRNet README: 205.2M / 319.2M (COCO 256x192), 273.4M / 425.3M (MPII 256x256), binary M."""
    for name, m in (("litehrnet_18_coco", 205.2), ("litehrnet_30_coco", 319.2), ("litehrnet_18_mpii", 273.4),
                    ("litehrnet_30_mpii", 425.3)):
        assert archlab.count(name).to("litehrnet_paper").count / 2 ** 20 == pytest.approx(m, abs=0.051)


def test_other_readings_do_not_reproduce_litehrnet_mpii():
    r18, r30 = archlab.count("litehrnet_18_mpii"), archlab.count("litehrnet_30_mpii")
    assert (round(r18.macs / 1e9, 2), round(r30.macs / 1e9, 2)) != (0.27, 0.42)
    assert (round(r18.macs / 2 ** 30, 2), round(r30.macs / 2 ** 30, 2)) != (0.27, 0.42)


def test_profiles_units_and_format():
    r = archlab.count("sdhrnet_coco")
    for name, p in PROFILES.items():
        assert p.unit and p.divisor > 0 and p.description
        v = r.to(name)
        assert v.value == pytest.approx(v.count / p.divisor)
    assert r.to("macs").value == r.macs
    assert r.to("flops").value == 2 * r.macs
    assert r.to("hrnet_paper").divisor == 2 ** 30
    assert format_cost(r.to("hrnet_paper")) == "4.50 GFLOPs [hrnet_paper: conv+linear MACs / 2^30]"
    assert format_cost(4.5, "sdhrnet_paper") == "4.50 GFLOPs [sdhrnet_paper: conv+linear MACs / 2^30]"
    assert str(r.to("macs")).endswith("MACs [macs: conv+linear+bmm MACs]")
    with pytest.raises(ValueError):
        format_cost(1.0)
    with pytest.raises(ValueError):
        r.to("no-such-profile")


# ----------------------------------------------------------------------------------------------
# latency

def test_latency_runs():
    m = ConvBNAct(3, 8, 3, 2)
    threads = torch.get_num_threads()
    r = measure_latency(m, (32, 32), warmup=1, repeats=3, threads=1)
    assert isinstance(r, LatencyResult) and r.kind == "inference"
    assert r.median_ms > 0 and r.iqr_ms >= 0 and r.min_ms > 0 and len(r.times_ms) == 3
    assert r.peak_memory_mb >= 0 and r.memory_method and r.throughput > 0
    assert torch.get_num_threads() == threads
    t = measure_train_step("litehrnet_18_coco", "64x64", batch=2, warmup=1, repeats=2)
    assert t.kind == "train_step" and t.median_ms > 0 and t.input_size == (3, 64, 64)
    assert measure_latency(m, (32, 32), warmup=0, repeats=1, channels_last=True).median_ms > 0
    with pytest.raises(ValueError):
        measure_latency(m, (32, 32), repeats=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            measure_latency(m, (32, 32), device="cuda")


def test_math_sanity():
    assert math.isclose(archlab.count("hrnet_w32_coco").to("hrnet_paper").value, 7.12, abs_tol=0.005)
