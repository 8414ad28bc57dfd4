"""Zoo models: forward/backward, parity with the published parameter counts and GFLOPs,
meta-device construction, the Lite-HRNet reference fuse behaviour."""
import pytest
import torch
from torch import nn

import archlab
from archlab.nets.builder import MultiBranchModule
from archlab.spec import StageSpec

ALL = archlab.list_models()


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_zoo_specs_are_named_after_their_zoo_entry():
    for name in ALL:
        assert archlab.get_spec(name).name == name


def test_zoo_has_the_required_names():
    required = {"hrnet_w32_coco", "hrnet_w48_coco", "hrnet_w32_mpii", "litehrnet_18_coco", "litehrnet_30_coco",
                "litehrnet_18_mpii", "litehrnet_30_mpii", "sdhrnet_coco", "sdhrnet_mpii", "sdhrnet_coco_scr",
                "sdhrnet_coco_dasp"}
    assert required <= set(ALL)
    assert archlab.list_models("litehrnet_*") == ["litehrnet_18_coco", "litehrnet_18_mpii", "litehrnet_30_coco",
                                                  "litehrnet_30_mpii"]


@pytest.mark.parametrize("name", ALL)
def test_forward_backward_small_input(name):
    model = archlab.create_model(name, input_size=(64, 64))
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert out.shape == (2, model.spec.num_joints, 16, 16)
    out.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:5])


@pytest.mark.parametrize("name", ALL)
def test_meta_device_construction(name):
    meta = archlab.create_model(name, device="meta")
    assert all(p.device.type == "meta" for p in meta.parameters())
    cpu = archlab.create_model(name)
    assert n_params(meta) == n_params(cpu)
    assert [k for k, _ in meta.named_parameters()] == [k for k, _ in cpu.named_parameters()]


# Published figures (millions, as printed): HRNet (Sun et al. 2019 / official repo), Lite-HRNet
# (Yu et al. 2021), SDHRNet (Li et al. 2023, Tables 2 and 3).
PUBLISHED_PARAMS_M = {
    "hrnet_w32_coco": 28.5, "hrnet_w48_coco": 63.6, "hrnet_w32_mpii": 28.5,
    "litehrnet_18_coco": 1.1, "litehrnet_30_coco": 1.8, "litehrnet_18_mpii": 1.1, "litehrnet_30_mpii": 1.8,
    "sdhrnet_coco": 16.8, "sdhrnet_mpii": 16.8, "sdhrnet_coco_scr": 16.7, "sdhrnet_coco_dasp": 16.7,
}


@pytest.mark.parametrize("name,published", sorted(PUBLISHED_PARAMS_M.items()))
def test_parameter_counts_match_published(name, published):
    assert round(n_params(archlab.create_model(name, device="meta")) / 1e6, 1) == published


def test_parameter_counts_to_the_unit():
    """Regression: exact totals of the official implementations' structure (mmpose lists
    HRNet-W32 as 28.54M, W48 63.60M, Lite-HRNet-18 1.13M, Lite-HRNet-30 1.76M)."""
    exact = {name: n_params(archlab.create_model(name, device="meta"))
             for name in ("hrnet_w32_coco", "hrnet_w48_coco", "litehrnet_18_coco", "litehrnet_30_coco")}
    assert round(exact["hrnet_w32_coco"] / 1e6, 2) == 28.54
    assert round(exact["hrnet_w48_coco"] / 1e6, 2) == 63.60
    assert round(exact["litehrnet_18_coco"] / 1e6, 2) == 1.13
    assert round(exact["litehrnet_30_coco"] / 1e6, 2) == 1.76


def conv_linear_macs(model, size):
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Linear):
            total += out.numel() * mod.in_features
        else:
            k = 1
            for s in mod.kernel_size:
                k *= s
            total += out.numel() * (mod.in_channels // mod.groups) * k

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv1d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, *size))
    for h in hs:
        h.remove()
    return total


# "GFLOPs" as HRNet and the SDHRNet tables print them: conv + linear multiply-adds / 2^30.
PUBLISHED_GFLOPS = {"hrnet_w32_coco": 7.1, "hrnet_w48_coco": 14.6, "hrnet_w32_mpii": 9.5,
                    "sdhrnet_coco": 4.5, "sdhrnet_mpii": 6.0, "sdhrnet_coco_scr": 4.4, "sdhrnet_coco_dasp": 4.5}


@pytest.mark.parametrize("name,published", sorted(PUBLISHED_GFLOPS.items()))
def test_gflops_match_published_in_paper_convention(name, published):
    model = archlab.create_model(name)
    assert round(conv_linear_macs(model, model.spec.input_size) / 2 ** 30, 1) == published


def _official_litehrnet_fuse(out, fuse_layers, relu):
    """Literal transcription of the public Lite-HRNet LiteHRModule fuse loop (in-place adds)."""
    out_fuse = []
    for i in range(len(fuse_layers)):
        y = out[0] if i == 0 else fuse_layers[i][0](out[0])
        for j in range(len(out)):
            if i == j:
                y += out[j]
            else:
                y += fuse_layers[i][j](out[j])
        out_fuse.append(relu(y))
    return out_fuse


def test_litehrnet_fuse_forward_reproduces_reference_implementation():
    stage = StageSpec(widths=(8, 16, 32), num_blocks=(0, 0, 0), block="ccw")
    mod = MultiBranchModule((8, 16, 32), stage, True, "lite", "litehrnet").eval()
    xs = [torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4), torch.randn(1, 32, 2, 2)]
    with torch.no_grad():
        ours = mod([x.clone() for x in xs])
        ref = _official_litehrnet_fuse([x.clone() for x in xs], mod.fuse_layers, nn.ReLU())
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    # and the textbook fuse differs from it
    mod.fuse_forward = "hrnet"
    with torch.no_grad():
        plain = mod([x.clone() for x in xs])
    assert not torch.allclose(plain[0], ours[0])


def test_hrnet_final_module_fuses_into_branch_zero_only():
    model = archlab.create_model("hrnet_w32_coco", device="meta")
    last = model.stages[-1][-1]
    assert last.num_out == 1 and len(last.fuse_layers) == 1
    assert model.stages[-1][0].num_out == 4


def test_create_model_overrides_and_errors(tmp_path):
    m = archlab.create_model("sdhrnet_coco", num_joints=14, input_size="128x96", device="meta")
    assert m.spec.num_joints == 14 and m.spec.input_size == (128, 96)
    assert m.head.final.out_channels == 14
    with pytest.raises(KeyError, match="did you mean"):
        archlab.create_model("hrnet_w32_cocoo")
    with pytest.raises(archlab.SpecError, match="not a NetworkSpec field"):
        archlab.create_model("hrnet_w32_coco", joints=3)
    with pytest.raises(FileNotFoundError, match="spec file not found"):
        archlab.create_model(str(tmp_path / "missing.yaml"))
    path = tmp_path / "net.yaml"
    archlab.get_spec("litehrnet_18_coco").to_yaml(path)
    assert n_params(archlab.create_model(str(path), device="meta")) == n_params(
        archlab.create_model("litehrnet_18_coco", device="meta"))
