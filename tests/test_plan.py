"""One plan, two consumers (archlab.nets.plan): the builder and the analytic counter read the same
plan, so for every spec the validator accepts

    analytic params == built params == parameters that receive a gradient, and
    analytic MACs in fvcore's convention == fvcore's count of the built network.

Random specs are drawn across every registered block, head and stem (from the registries, so a
new component is covered without editing this file) and every spec-level option, at small input
sizes; the README's example spec is checked explicitly (its last stage keeps the default
multi-scale output before a DASP head, which reads branch 0 only)."""
from __future__ import annotations

import random

import pytest
import torch
import yaml

import archlab
from archlab import registry
from archlab.cost.counters import run_counter
from archlab.nets.plan import plan_network
from archlab.spec import FUSE_FORWARDS, TRANSITIONS, NetworkSpec, SpecError, StageSpec, StemSpec

README_SPEC = """
name: my_net
num_joints: 14
input_size: [128, 96]
stem: {type: lite, channels: 32, num_blocks: 0, out_channels: 32}
transition: lite
stages:
  - {widths: [24, 48], num_blocks: [1, 1], block: scr, block_options: {kernel: 5, reweight: [eca]}}
  - {widths: [24, 48, 96], num_blocks: [2, 1, 1], num_modules: 2, block: basic, sem: [1, 2]}
head: {type: dasp, options: {rates: [1, 3, 6], growth: 8}}
"""


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ----------------------------------------------------------------------------------------------
# drawing specs from the registries

def _draw_options(rng: random.Random, entry) -> dict:
    """An option value per declared option: from its search knob when it has one, a random
    bool for flags, else the default or half of it (ints), so every option moves."""
    out = {}
    for name, default in entry.options.items():
        knob = entry.knobs.get(name)
        if knob and "choices" in knob:
            v = rng.choice(knob["choices"])
        elif knob and "low" in knob:
            v = rng.randint(knob["low"], knob["high"])
        elif isinstance(default, bool):
            v = rng.random() < 0.5
        elif isinstance(default, int) and default > 1:
            v = rng.choice((default, default // 2))
        else:
            continue
        out[name] = list(v) if isinstance(v, (list, tuple)) else v
    return out


def _draw_stem(rng: random.Random) -> dict:
    per_branch = [b for b in registry.BLOCKS if not registry.BLOCKS[b].multi_branch]
    return {"type": rng.choice(sorted(registry.STEMS)), "channels": rng.choice((8, 16)),
            "block": rng.choice(per_branch), "num_blocks": rng.choice((0, 1, 2)),
            "block_width": rng.choice((8, 16)), "expand_ratio": rng.choice((1.0, 2.0)),
            "out_channels": rng.choice((None, 16))}


def _draw_stage(rng: random.Random, n: int, last: bool) -> dict:
    block = rng.choice(sorted(registry.BLOCKS))
    base = rng.choice((8, 16))
    entry = registry.BLOCKS[block]
    blocks = [rng.randint(0, 2)] * n if entry.multi_branch else [rng.randint(0, 2) for _ in range(n)]
    return {"widths": [base * 2 ** b for b in range(n)], "num_blocks": blocks, "num_modules": rng.randint(1, 2),
            "block": block, "block_options": _draw_options(rng, entry), "fuse": rng.choice(("sum", "sum", "none")),
            "sem": sorted(rng.sample(range(n), rng.randint(0, min(2, n)))) if rng.random() < 0.3 else [],
            "multiscale_output": rng.random() < 0.5 if last else True}


def random_spec(rng: random.Random, name: str) -> NetworkSpec:
    """A random spec the validator accepts (invalid draws are redrawn)."""
    while True:
        n_stages = rng.randint(1, 3)
        first = rng.randint(1, 2)
        counts = [min(first + i, 4) for i in range(n_stages)]
        head = rng.choice(sorted(registry.HEADS))
        stem = _draw_stem(rng)
        if stem["out_channels"] is None:
            del stem["out_channels"]
        size = 4 * 2 ** (counts[-1] - 1)
        data = {"name": name, "num_joints": rng.choice((3, 5)), "in_channels": rng.choice((1, 3)),
                "input_size": [size * rng.choice((2, 3)), size * 2],
                "stem": stem, "stages": [_draw_stage(rng, n, i == n_stages - 1) for i, n in enumerate(counts)],
                "head": {"type": head, "options": _draw_options(rng, registry.HEADS[head])},
                "transition": rng.choice(TRANSITIONS), "fuse_forward": rng.choice(FUSE_FORWARDS),
                "sem_options": _draw_options(rng, registry.MODULES["sem"])}
        try:
            return NetworkSpec.from_dict(data)
        except SpecError:
            continue


def random_specs(n: int, seed: int) -> list[NetworkSpec]:
    rng = random.Random(seed)
    return [random_spec(rng, f"plan_{seed}_{i}") for i in range(n)]


# ----------------------------------------------------------------------------------------------
# the exactness check

def assert_exact(spec: NetworkSpec) -> None:
    size = tuple(spec.input_size)
    r = archlab.count(spec, size)
    torch.manual_seed(0)
    model = archlab.create_model(spec).eval()
    params = dict(model.named_parameters())
    assert r.params == sum(p.numel() for p in params.values()), spec.name
    x = torch.randn(1, spec.in_channels, *size)
    model(x).square().sum().backward()
    unused = sorted(k for k, p in params.items() if p.grad is None)
    assert not unused, f"{spec.name}: parameters without a gradient: {unused[:5]}"
    model.zero_grad(set_to_none=True)
    fv = run_counter("fvcore", model, size)
    assert r.to("fvcore").count == fv.total, f"{spec.name}: analytic {r.to('fvcore').count} != fvcore {fv.total}"


def _coverage(specs) -> dict:
    seen = {"block": set(), "head": set(), "stem": set(), "transition": set(), "fuse_forward": set(),
            "fuse": set(), "multiscale_last": set()}
    for s in specs:
        seen["head"].add(s.head.type)
        seen["stem"].add(s.stem.type)
        seen["transition"].add(s.transition)
        seen["fuse_forward"].add(s.fuse_forward)
        seen["multiscale_last"].add(s.stages[-1].multiscale_output)
        for st in s.stages:
            seen["block"].add(st.block)
            seen["fuse"].add(st.fuse)
    return seen


SPECS = random_specs(40, seed=0)


def test_random_specs_cover_every_registered_component():
    seen = _coverage(SPECS)
    assert seen["block"] == set(registry.BLOCKS)
    assert seen["head"] == set(registry.HEADS)
    assert seen["stem"] == set(registry.STEMS)
    assert seen["transition"] == set(TRANSITIONS) and seen["fuse_forward"] == set(FUSE_FORWARDS)
    assert seen["fuse"] == {"sum", "none"} and seen["multiscale_last"] == {True, False}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_random_spec_is_counted_as_built(spec):
    assert_exact(spec)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_random_specs_bigger_sweep(seed):
    for spec in random_specs(40, seed):
        assert_exact(spec)


# ----------------------------------------------------------------------------------------------
# the README example and the outputs-nobody-reads rule

def test_readme_example_spec_builds_only_what_the_head_reads():
    spec = NetworkSpec.from_dict(yaml.safe_load(README_SPEC))
    plan = plan_network(spec)
    assert spec.stages[-1].multiscale_output and plan.head.reads == 1
    assert [m.num_out for m in plan.stages[-1].modules] == [3, 1]
    assert plan.summary().splitlines()[-2].endswith("fuse sum, outputs 1")
    model = archlab.create_model(spec)
    assert len(model.stages[-1][-1].fuse_layers) == 1 and len(model.stages[-1][0].fuse_layers) == 3
    # the same network as the explicit multiscale_output: false
    explicit = spec.replace(stages=(spec.stages[0], StageSpec(**{**spec.stages[1].__dict__,
                                                                  "multiscale_output": False})))
    assert archlab.count(spec).params == archlab.count(explicit).params
    assert archlab.count(spec).macs == archlab.count(explicit).macs
    assert_exact(spec)


def test_head_reading_every_branch_keeps_every_output():
    spec = archlab.get_spec("litehrnet_18_coco")
    plan = plan_network(spec)
    assert plan.head.reads == 4 and plan.stages[-1].modules[-1].num_out == 4
    assert archlab.count("litehrnet_18_coco").params == 1_130_769     # unchanged (README zoo table)


def test_unread_branches_without_fuse_are_refused():
    stages = ({"widths": [8, 16], "num_blocks": [1, 1], "fuse": "none"},)
    base = {"name": "x", "num_joints": 3, "input_size": [32, 32], "stages": stages}
    with pytest.raises(SpecError, match=r"^stages\[0\]\.fuse: 'none' on the last stage leaves branches 1..1 unused"):
        NetworkSpec.from_dict({**base, "head": {"type": "simple"}})
    ok = NetworkSpec.from_dict({**base, "head": {"type": "iterative"}})     # reads both branches
    assert plan_network(ok).stages[0].modules[0].num_out == 2


def test_old_checkpoints_with_unread_fuse_rows_load():
    """A state dict written when the unread fuse rows were still built loads (they are dropped)."""
    spec = NetworkSpec.from_dict(yaml.safe_load(README_SPEC))
    model = archlab.create_model(spec)
    sd = model.state_dict()
    extra = {k.replace("fuse_layers.0.1.", "fuse_layers.1.0."): v for k, v in sd.items()
             if k.startswith("stages.1.1.fuse_layers.0.1.")}
    assert extra
    model.load_state_dict({**sd, **extra})
    with pytest.raises(RuntimeError, match="Unexpected key"):
        model.load_state_dict({**sd, "stages.1.1.branches.0.0.extra": torch.zeros(1)})


def test_plan_is_memoised_and_torch_free():
    import ast
    from pathlib import Path

    import archlab.nets.plan as plan_module
    spec = archlab.get_spec("hrnet_w32_coco")
    assert plan_network(spec) is plan_network(spec)
    assert plan_network(spec.replace(num_joints=3)).head.num_joints == 3
    tree = ast.parse(Path(plan_module.__file__).read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in names if m and m.split(".")[0] == "torch"}


def test_stem_block_that_cannot_start_layer1_is_refused():
    """Drawn by the random specs above: a shuffle unit keeps its width, so an hrnet stem of 16
    channels cannot start a layer1 of width 8 with it (the validator used to accept it and the
    build failed)."""
    with pytest.raises(SpecError, match=r"^stem\.block: 'shuffle' cannot start layer1 at channels=16, block_width=8"):
        StemSpec(channels=16, block="shuffle", num_blocks=1, block_width=8)
    assert StemSpec(channels=16, block="shuffle", num_blocks=1, block_width=16).out_width == 16
    assert StemSpec(channels=16, block="basic", num_blocks=1, block_width=8).out_width == 8
