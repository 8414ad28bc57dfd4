"""The component registries (archlab.registry): lookups, errors, a block added from outside the
library (registered in this test module) used in a YAML spec, built and counted exactly, the two
blocks added as single files (mbconv, repvgg) at network level, and archlab.deploy."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import archlab
from archlab import registry
from archlab.blocks.basic import ConvBNAct, conv_bn_act_cost
from archlab.cost import conventions as cv
from archlab.cost.analytic import BLOCK_COSTS, clear_caches
from archlab.cost.counters import run_counter
from archlab.cost.ops import OpList, join
from archlab.spec import NetworkSpec, SpecError


def test_spec_module_imports_no_torch():
    out = subprocess.run([sys.executable, "-c", "import archlab.spec, sys; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_concept_has_its_builtins():
    assert {"basic", "bottleneck", "scr", "shuffle", "ccw", "mbconv", "repvgg"} <= set(registry.BLOCKS)
    assert set(registry.HEADS) == {"simple", "iterative", "dasp"}
    assert set(registry.ATTENTION) == {"se", "eca", "none"}
    assert set(registry.STEMS) == {"hrnet", "lite"}
    assert "sem" in registry.MODULES
    # the public mappings are views of the registries, with the same class facts
    assert dict(archlab.blocks.BLOCKS) == {n: e.cls for n, e in registry.BLOCKS.items()}
    assert archlab.blocks.BLOCKS["bottleneck"].expansion == 4 and archlab.blocks.BLOCKS["ccw"].multi_branch
    assert archlab.blocks.ATTENTION["none"] is None
    assert archlab.blocks.HEADS["iterative"].needs_all_branches
    assert BLOCK_COSTS["scr"] is registry.BLOCKS["scr"].cost
    for name, e in registry.BLOCKS.items():   # every declared knob is a declared option
        assert set(e.knobs) <= set(e.options), name


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown block 'resnext'; choose one of \['basic', 'bottleneck'"):
        registry.BLOCKS["resnext"]
    with pytest.raises(KeyError, match=r"unknown head 'deconv'; choose one of \['dasp', 'iterative', 'simple'\]"):
        registry.HEADS["deconv"]
    assert "resnext" not in archlab.blocks.BLOCKS and archlab.blocks.BLOCKS.get("resnext") is None
    with pytest.raises(ValueError, match=r"unknown attention 'cbam'; choose one of \['eca', 'none', 'se'\]"):
        archlab.blocks.create_attn("cbam", 16)


def test_duplicate_and_malformed_registrations_are_errors():
    class Other(nn.Module):
        pass

    with pytest.raises(ValueError, match=r"block 'basic' is already registered "
                                         r"\(by archlab\.blocks\.basic\.BasicBlock\)"):
        registry.BLOCKS.register("basic")(Other)
    assert registry.BLOCKS["basic"].cls is archlab.blocks.BasicBlock
    with pytest.raises(ValueError, match="checks/knobs for undeclared option 'kernal'"):
        registry.BLOCKS.register("test_bad", options={"kernel": 3}, checks={"kernal": registry.odd_kernel})(Other)
    assert "test_bad" not in registry.BLOCKS
    with pytest.raises(ValueError, match="register the block class first"):
        registry.BLOCKS.cost_of("test_never")(lambda: None)


# ----------------------------------------------------------------------------------------------
# a block from outside the library


class PlainConv(nn.Module):
    """``relu(BN(conv_k(x)))`` -- a user's block, defined and registered here."""

    def __init__(self, in_channels, width, stride=1, *, kernel=3, device=None, dtype=None):
        super().__init__()
        self.conv = ConvBNAct(in_channels, width, kernel, stride, device=device, dtype=dtype)

    def forward(self, x):
        return self.conv(x)


def plain_conv_cost(in_channels, width, stride=1, *, hw, kernel=3, prefix=""):
    r = conv_bn_act_cost(in_channels, width, kernel, stride, hw=hw, prefix=join(prefix, "conv"))
    return OpList(list(r), r.out)


@pytest.fixture
def plain_block():
    registry.BLOCKS.register("test_plain", cost=plain_conv_cost, options={"kernel": 3},
                             checks={"kernel": registry.odd_kernel}, knobs={"kernel": {"choices": [3, 5]}})(PlainConv)
    clear_caches()
    yield registry.BLOCKS["test_plain"]
    registry.BLOCKS.unregister("test_plain")
    clear_caches()


USER_SPEC = """
name: user_block
num_joints: 5
input_size: [64, 48]
stem: {channels: 16, block: test_plain, num_blocks: 1, block_width: 24}
stages:
  - {widths: [16, 32], num_blocks: [2, 1], block: test_plain, block_options: {kernel: 5}}
  - {widths: [16, 32, 64], num_blocks: [1, 1, 1], block: test_plain, multiscale_output: false}
head: {type: simple}
"""


def _assert_fvcore_exact(model, ops, size):
    res = run_counter("fvcore", model, size)
    pred = cv.predict("fvcore", ops)
    assert res.total == pred.total and res.by_module == pred.by_module


def test_a_block_registered_outside_the_library_works_in_a_spec(plain_block):
    assert plain_block.cls.OPTIONS == {"kernel": 3} and plain_block.expansion == 1
    spec = NetworkSpec.from_yaml(USER_SPEC)
    model = archlab.create_model(spec).eval()
    assert isinstance(model.stages[0][0].branches[0][0], PlainConv)
    assert model.stages[0][0].branches[0][0].conv.conv.kernel_size == (5, 5)
    assert model(torch.randn(1, 3, 64, 48)).shape == (1, 5, 16, 12)
    r = archlab.count(spec)
    assert r.params == sum(p.numel() for p in model.parameters())
    _assert_fvcore_exact(model, r.ops, (64, 48))
    with pytest.raises(SpecError, match=r"stages\[0\]\.block_options\.kernel: "
                                        r"must be a positive odd kernel size, got 4"):
        NetworkSpec.from_yaml(USER_SPEC.replace("kernel: 5", "kernel: 4"))
    with pytest.raises(SpecError, match=r"stages\[0\]\.block_options\.dilation: unknown option for block 'test_plain' "
                                        r"\(known options: kernel\)"):
        NetworkSpec.from_yaml(USER_SPEC.replace("kernel: 5", "dilation: 2"))


def test_unregistered_block_is_unknown_again(plain_block):
    entry = registry.BLOCKS.unregister("test_plain")
    try:
        with pytest.raises(SpecError, match=r"stem\.block: unknown stem block 'test_plain'"):
            NetworkSpec.from_yaml(USER_SPEC)
        with pytest.raises(SpecError, match=r"stages\[0\]\.block: unknown block 'test_plain'"):
            NetworkSpec.from_yaml(USER_SPEC.replace("block: test_plain, num_blocks: 1", "block: basic, num_blocks: 1"))
    finally:
        registry.BLOCKS.register("test_plain", cost=entry.cost, options=entry.options)(PlainConv)


# ----------------------------------------------------------------------------------------------
# the two single-file blocks at network level


def _spec(block, options, stem_block=None):
    d = {"name": "x", "num_joints": 4, "input_size": [64, 32],
         "stem": {"channels": 16, "block": stem_block or block, "num_blocks": 1, "block_width": 16},
         "stages": [{"widths": [16, 32], "num_blocks": [2, 1], "block": block, "block_options": options},
                    {"widths": [16, 32, 48], "num_blocks": [1, 1, 2], "num_modules": 2, "block": block,
                     "block_options": options, "multiscale_output": False}],   # the head reads branch 0
         "head": {"type": "dasp", "options": {"rates": [1, 2], "growth": 4}}}
    return NetworkSpec.from_dict(d)


@pytest.mark.parametrize("block,options", [("mbconv", {}), ("mbconv", {"expand_ratio": 2, "kernel": 5, "se": True}),
                                           ("mbconv", {"expand_ratio": 1}), ("repvgg", {}),
                                           ("repvgg", {"deploy": True})])
def test_new_blocks_in_a_spec_are_counted_exactly(block, options):
    spec = _spec(block, options)
    spec = NetworkSpec.from_yaml(spec.to_yaml())           # usable in YAML
    model = archlab.create_model(spec).eval()
    r = archlab.count(spec)
    assert r.params == sum(p.numel() for p in model.parameters())
    _assert_fvcore_exact(model, r.ops, (64, 32))


@pytest.mark.parametrize("options,message", [
    ({"kernel": 4}, r"stages\[0\]\.block_options\.kernel: must be a positive odd kernel size, got 4"),
    ({"expand_ratio": 0}, r"stages\[0\]\.block_options\.expand_ratio: must be >= 1, got 0"),
    ({"se": 1}, r"stages\[0\]\.block_options\.se: expected true/false"),
])
def test_mbconv_option_errors(options, message):
    with pytest.raises(SpecError, match=message):
        _spec("mbconv", options)


def test_deploy_folds_every_repvgg_block_and_keeps_outputs():
    torch.manual_seed(0)
    spec = _spec("repvgg", {}, stem_block="basic")
    model = archlab.create_model(spec)
    for m in model.modules():                    # away from the identity-like initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.2)
        elif isinstance(m, nn.BatchNorm2d):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.uniform_(-0.5, 0.5)
            m.running_var.data.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        before = model(x)
    out = archlab.deploy(model)
    assert out is model and not model.training
    blocks = [m for m in model.modules() if type(m).__name__ == "RepVGGBlock"]
    assert len(blocks) == 3 + 2 * 4 and all(b.fused is not None and b.dense is None for b in blocks)
    with torch.no_grad():
        after = model(x)
    assert before.abs().max() > 1e-2                       # a real signal, not ~0
    assert torch.allclose(after, before, atol=1e-5, rtol=1e-5)
    # the deployed model is exactly what the spec with deploy: true counts and builds
    deployed = _spec("repvgg", {"deploy": True}, stem_block="basic")
    r_train, r_dep = archlab.count(spec), archlab.count(deployed)
    assert sum(p.numel() for p in model.parameters()) == r_dep.params < r_train.params
    assert r_dep.macs < r_train.macs
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in archlab.create_model(deployed, device="meta").state_dict().items()}
    _assert_fvcore_exact(model, r_dep.ops, (64, 32))
    assert archlab.deploy(model) is model                  # idempotent


def test_readme_add_a_block_recipe_works():
    """The README's "Add a block" code, run as written: a spec can use it, it builds and is
    counted exactly, and its knobs are declared."""
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### Add a block", 1)[1].split("\n## ", 1)[0]
    assert len(section.strip().splitlines()) + 1 <= 15
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    try:
        exec(compile(code, "README.md", "exec"), {})
        clear_caches()
        spec = NetworkSpec.from_yaml(USER_SPEC.replace("test_plain", "plain"))
        model = archlab.create_model(spec).eval()
        r = archlab.count(spec)
        assert r.params == sum(p.numel() for p in model.parameters())
        _assert_fvcore_exact(model, r.ops, (64, 48))
        assert registry.BLOCKS["plain"].knobs == {"kernel": {"choices": [3, 5]}}
    finally:
        if "plain" in registry.BLOCKS:
            registry.BLOCKS.unregister("plain")
        clear_caches()


def test_entry_point_plugins_are_discovered(tmp_path, monkeypatch):
    """A third-party package registers a block through the ``archlab.components`` entry-point
    group (a real installed-distribution layout on sys.path), without any library edit."""
    (tmp_path / "archlab_test_plugin.py").write_text(
        "from torch import nn\n"
        "from archlab.registry import BLOCKS\n"
        "@BLOCKS.register('test_plugin_block', cost=lambda cin, width, stride=1, *, hw, prefix='': None)\n"
        "class PluginBlock(nn.Identity):\n"
        "    pass\n")
    dist = tmp_path / "archlab_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: archlab-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[archlab.components]\nblocks = archlab_test_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry._state, "done", False)      # discover again, as a fresh process would
    try:
        assert "test_plugin_block" in registry.BLOCKS
        assert registry.BLOCKS["test_plugin_block"].cls.__module__ == "archlab_test_plugin"
    finally:
        if "test_plugin_block" in registry.BLOCKS:
            registry.BLOCKS.unregister("test_plugin_block")
        sys.modules.pop("archlab_test_plugin", None)
    # a plugin that fails to import says which one it is
    (tmp_path / "archlab_test_plugin.py").write_text("raise RuntimeError('broken on purpose')\n")
    monkeypatch.setitem(registry._state, "done", False)
    with pytest.raises(ImportError, match=r"plugin 'blocks' \(archlab_test_plugin\) failed to import: "
                                          r"RuntimeError: broken on purpose"):
        registry.BLOCKS["basic"]
    sys.modules.pop("archlab_test_plugin", None)
    monkeypatch.setitem(registry._state, "done", True)
