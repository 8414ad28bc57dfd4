"""Option knobs read from the registry: a block registered in this test file (options + knobs)
is searchable with no library edit -- suggested by Optuna on its real in-memory storage with a
random sampler, the drawn options land in the spec, the spec builds and counts exactly -- and
bad option knobs are refused naming the field, with a "did you mean"."""
from __future__ import annotations

import optuna
import pytest
import torch
import yaml
from torch import nn

import archlab
from archlab import registry
from archlab.blocks.basic import ConvBNAct, conv_bn_act_cost
from archlab.ops import OpList, join
from archlab.search import SearchSpace, SpaceError
from archlab.search.check import check_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Knobbed(nn.Module):
    """``1x1 conv (width * expand) -> kxk conv (width)`` -- a user's block with two options."""

    def __init__(self, in_channels, width, stride=1, *, kernel=3, expand=2, device=None, dtype=None):
        super().__init__()
        self.expand = ConvBNAct(in_channels, width * expand, 1, 1, device=device, dtype=dtype)
        self.conv = ConvBNAct(width * expand, width, kernel, stride, device=device, dtype=dtype)

    def forward(self, x):
        return self.conv(self.expand(x))


def knobbed_cost(in_channels, width, stride=1, *, hw, kernel=3, expand=2, prefix=""):
    a = conv_bn_act_cost(in_channels, width * expand, 1, 1, hw=hw, prefix=join(prefix, "expand"))
    b = conv_bn_act_cost(width * expand, width, kernel, stride, hw=a.out[1:], prefix=join(prefix, "conv"))
    return OpList([*a, *b], b.out)


@pytest.fixture
def knobbed():
    registry.BLOCKS.register("test_knobbed", cost=knobbed_cost, options={"kernel": 3, "expand": 2},
                             checks={"kernel": registry.odd_kernel, "expand": registry.at_least(1)},
                             knobs={"kernel": {"choices": [3, 5]}, "expand": {"low": 1, "high": 3}})(Knobbed)
    yield registry.BLOCKS["test_knobbed"]
    registry.BLOCKS.unregister("test_knobbed")


BASE = {"name": "knobbed_base", "num_joints": 5, "input_size": [64, 48],
        "stem": {"channels": 16, "block": "basic", "num_blocks": 1, "block_width": 16},
        "stages": [{"widths": [16, 32], "num_blocks": [1, 1], "block": "test_knobbed"},
                   {"widths": [16, 32, 64], "num_blocks": [1, 1, 1], "block": "test_knobbed",
                    "multiscale_output": False}],
        "head": {"type": "simple"}}


def _space(tmp_path, knobs: dict, **extra) -> SearchSpace:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    data = {"study": "t_knobs", "base": str(base), "knobs": knobs, "objectives": ["params"],
            "sampler": {"type": "random", "seed": 0}, "n_trials": 8, **extra}
    return SearchSpace.from_dict(data)


def test_a_block_registered_in_a_test_is_searchable_from_its_registry_entry(knobbed, tmp_path):
    space = _space(tmp_path, {"block.0": {"choices": ["test_knobbed", "basic"]},
                              "block_options.test_knobbed": "registry",           # kernel and expand
                              "block_options.test_knobbed.kernel.1": {"choices": [3, 7]},   # stage 1 only
                              "head_options.simple.kernel": "registry"},
                   baselines=[str(tmp_path / "base.yaml")])
    assert sorted(k.name for k in space.knobs) == [
        "block.0", "block_options.test_knobbed.expand", "block_options.test_knobbed.kernel",
        "block_options.test_knobbed.kernel.1", "head_options.simple.kernel"]
    # the base spec is inside the space: its options are read back as knob values
    assert space.params_for(str(tmp_path / "base.yaml")) == {
        "block.0": "test_knobbed", "block_options.test_knobbed.expand": 2, "block_options.test_knobbed.kernel": 3,
        "block_options.test_knobbed.kernel.1": 3, "head_options.simple.kernel": 1}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))   # in-memory storage
    seen = set()
    for _ in range(12):
        trial = study.ask()
        spec = space.suggest(trial)
        p = trial.params
        s0, s1 = spec.stages
        assert s0.block == p["block.0"]
        want0 = {"kernel": p["block_options.test_knobbed.kernel"], "expand": p["block_options.test_knobbed.expand"]}
        assert s0.block_options == (want0 if s0.block == "test_knobbed" else {})
        assert s1.block_options == {**want0, "kernel": p["block_options.test_knobbed.kernel.1"]}
        assert spec.head.options == {"kernel": p["head_options.simple.kernel"]}
        seen.add((s0.block, s1.block_options["expand"], s1.block_options["kernel"], spec.head.options["kernel"]))
        study.tell(trial, 0.0)
    for i, want in enumerate(({"basic", "test_knobbed"}, {1, 2, 3}, {3, 7}, {1, 3})):   # every choice drawn
        assert {x[i] for x in seen} == want
    # the last draw builds, runs, and the analytic count is the built network's
    model = archlab.create_model(spec).eval()
    convs = [m for m in model.stages[1].modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    k = s1.block_options["kernel"]
    assert {m.kernel_size for m in convs if m.in_channels == m.out_channels * s1.block_options["expand"]} == {(k, k)}
    assert model(torch.randn(1, 3, 64, 48)).shape == (1, 5, 16, 12)
    assert archlab.count(spec).params == sum(q.numel() for q in model.parameters())
    res = check_space(space, draws=6)
    assert res.valid == 6 and res.baselines[str(tmp_path / "base.yaml")]["over"] == []


@pytest.mark.parametrize("knobs, message", [
    ({"block_options.test_knobed.kernel": 3},
     r"knobs\.block_options\.test_knobed\.kernel: unknown block 'test_knobed'; did you mean 'test_knobbed'\?"),
    ({"block_options.test_knobbed.kernal": {"choices": [3]}},
     r"knobs\.block_options\.test_knobbed\.kernal: block 'test_knobbed' has no option 'kernal'; "
     r"did you mean 'kernel'\? \(its options: expand, kernel\)"),
    ({"block_options.test_knobbed.kernel": {"choices": [3, 4]}},
     r"knobs\.block_options\.test_knobbed\.kernel\.choices\[1\]: must be a positive odd kernel size, got 4"),
    ({"block_options.test_knobbed.kernel": {"low": 3, "high": 7}},
     r"knobs\.block_options\.test_knobbed\.kernel \(value 4\): must be a positive odd kernel size"),
    ({"block_options.test_knobbed.expand": {"low": 0, "high": 2}},
     r"knobs\.block_options\.test_knobbed\.expand\.low: must be >= 1, got 0"),
    ({"block_options.test_knobbed.expand": {"choices": [1.5]}},
     r"knobs\.block_options\.test_knobbed\.expand: expected an integer, got 1\.5"),
    ({"block_options.test_knobbed.kernel.5": 3},
     r"knobs\.block_options\.test_knobbed\.kernel\.5: stage 5 does not exist; the base .* has 2 stages"),
    ({"block_options.test_knobbed.kernel.x": 3},
     r"knobs\.block_options\.test_knobbed\.kernel\.x: expected block_options\.BLOCK\.OPTION\[\.STAGE\]"),
    ({"block_options.test_knobbed": {"choices": [3]}},
     r"knobs\.block_options\.test_knobbed: name an option \(block_options\.test_knobbed\.OPTION\)"),
    ({"head_options.dasp.proj": "registry"},
     r"knobs\.head_options\.dasp\.proj: head 'dasp' registers no search range for 'proj'"),
    ({"kernel": 3, "block_options.scr.kernel": 5},
     r"knobs\.block_options\.scr\.kernel: sets the same option as knobs\.kernel"),
    ({"block_options.test_knobbed": "registry", "block_options.test_knobbed.kernel": 5},
     r"knobs\.block_options\.test_knobbed\.kernel: sets the same option as knobs\.block_options\.test_knobbed\.kernel"),
    ({"blok_options.test_knobbed.kernel": 3}, r"knobs\.blok_options\.test_knobbed\.kernel: unknown knob; "
                                              r"did you mean 'block_options\.test_knobbed\.kernel'\?"),
])
def test_bad_option_knobs_name_the_field(knobbed, tmp_path, knobs, message):
    with pytest.raises(SpaceError, match=message):
        _space(tmp_path, knobs)


def test_option_knobs_of_library_components_and_aliases_agree(tmp_path):
    """``kernel`` and ``block_options.scr.kernel`` set the same thing; a head option applies only
    when the drawn head is that head."""
    base = {"study": "t", "base": "sdhrnet_coco", "objectives": ["params"]}
    old = SearchSpace.from_dict({**base, "knobs": {"kernel": 5, "dasp_growth": 8, "head": "dasp"}})
    new = SearchSpace.from_dict({**base, "knobs": {"block_options.scr.kernel": 5, "head_options.dasp.growth": 8,
                                                   "head": "dasp"}})
    a, b = old.apply({"kernel": 5, "dasp_growth": 8, "head": "dasp"}), \
        new.apply({"block_options.scr.kernel": 5, "head_options.dasp.growth": 8, "head": "dasp"})
    assert a == b and {s.block_options["kernel"] for s in a.stages} == {5} and a.head.options["growth"] == 8
    simple = new.apply({"head": "simple", "head_options.dasp.growth": 8})
    assert simple.head.type == "simple" and simple.head.options == {}


def test_sample_draws_distinct_valid_specs_reproducibly():
    from pathlib import Path
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace.from_yaml(Path(__file__).resolve().parents[1] / "studies" / "search_lspet.yaml")
    a, b = space.sample(12, seed=4), space.sample(12, seed=4)
    assert [s.to_yaml() for s in a] == [s.to_yaml() for s in b]
    bodies = {s.to_yaml().split("\n", 1)[1] for s in a}
    assert len(bodies) == 12                                   # distinct networks, not just names
    assert {s.to_yaml() for s in space.sample(12, seed=5)} != {s.to_yaml() for s in a}
    for s in a:
        assert archlab.count(s).params > 0
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.sample(0)
    one = SearchSpace.from_dict({**yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "studies" / "search_lspet.yaml").read_text()),
        "knobs": {"sem": {"choices": [False]}}})
    with pytest.raises(SpaceError, match="only 1 distinct valid specs"):
        one.sample(2, tries=3)                                 # a space of one network
