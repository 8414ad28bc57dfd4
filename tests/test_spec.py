"""Spec validation (clear errors naming the field) and lossless YAML round trips."""
import copy

import pytest

import archlab
from archlab import HeadSpec, NetworkSpec, SpecError, StageSpec, StemSpec
from archlab.nets.zoo import hrnet, litehrnet, sdhrnet


@pytest.mark.parametrize("name", archlab.list_models())
def test_yaml_round_trip_every_zoo_entry(name, tmp_path):
    spec = archlab.get_spec(name)
    text = spec.to_yaml()
    assert NetworkSpec.from_yaml(text) == spec
    path = tmp_path / f"{name}.yaml"
    spec.to_yaml(path)
    again = NetworkSpec.from_yaml(path)
    assert again == spec and again.to_yaml() == text
    assert NetworkSpec.from_dict(spec.to_dict()) == spec


def test_variants_generated_from_a_few_numbers():
    assert hrnet(48).stages[-1].widths == (48, 96, 192, 384)
    assert hrnet(32, modules=(1, 1, 1)).stages[1].num_modules == 1
    assert litehrnet(30).stages[1].num_modules == 8
    s = sdhrnet("mpii", sem=False)
    assert s.num_joints == 16 and s.input_size == (256, 256) and s.stages[-1].sem == ()
    assert s.stages[0].block == "scr" and s.head.type == "dasp"


def base():
    return archlab.get_spec("sdhrnet_coco").to_dict()


def _set(d, path, value):
    keys = path.split(".")
    cur = d
    for k in keys[:-1]:
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    last = keys[-1]
    if value is _DELETE:
        del cur[last]
    elif isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value
    return d


_DELETE = object()

MALFORMED = [
    # (field path, new value, expected words in the error)
    ("stages.0.block", "resnext", r"stages\[0\]\.block: unknown block 'resnext'"),
    ("stages.1.block_options", {"kernal": 3}, r"stages\[1\]\.block_options\.kernal: unknown option"),
    ("stages.1.block_options", {"reweight": ["se", "cbam"]}, r"reweight\[1\]: unknown attention 'cbam'"),
    ("stages.1.block_options", {"kernel": 4}, r"stages\[1\]\.block_options\.kernel: must be a positive odd"),
    ("stages.1.block_options", {"kernel": "3"}, r"block_options\.kernel: expected an integer"),
    ("stages.1.block_options", {"ratio": 0.375}, r"stages\[1\]\.widths\[0\]: .*cannot be split"),
    ("stages.1.block_options", {"reduction": 64}, r"block_options\.reduction: reduction 64 leaves no hidden"),
    ("stages.1.widths", [32, 64], r"stages\[1\]\.num_blocks: expected 2 entries"),
    ("stages.1.widths", [32, 64, -128], r"stages\[1\]\.widths\[2\]: must be a positive width"),
    ("stages.1.widths", [32, 63, 128], r"stages\[1\]\.widths\[1\]: .*even"),
    ("stages.1.widths", "32,64,128", r"stages\[1\]\.widths: expected a list of integers"),
    ("stages.1.num_blocks", [4, 4.5, 4], r"stages\[1\]\.num_blocks\[1\]: expected an integer"),
    ("stages.1.num_modules", 0, r"stages\[1\]\.num_modules: must be >= 1"),
    ("stages.1.fuse", "concat", r"stages\[1\]\.fuse: unknown fuse method 'concat'"),
    ("stages.2.sem", [4], r"stages\[2\]\.sem\[0\]: branch index 4 out of range"),
    ("stages.1.multiscale_output", False, r"stages\[1\]\.multiscale_output: only the last stage"),
    ("stages.1.colour", "red", r"stages\[1\]\.colour: unknown key for StageSpec"),
    ("stages", [], r"stages: a network needs at least one stage"),
    ("head.type", "deconv", r"head\.type: unknown head 'deconv'"),
    ("head.options", {"rates": [1, 0]}, r"head\.options\.rates: must be a non-empty list of positive"),
    ("head.options", {"growth": 0}, r"head\.options\.growth: must be a positive width"),
    ("head.options", {"dilations": [1, 2]}, r"head\.options\.dilations: unknown option for head 'dasp'"),
    ("stem.type", "vit", r"stem\.type: unknown stem type 'vit'"),
    ("stem.block", "ccw", r"stem\.block: unknown stem block 'ccw'"),
    ("stem.channels", True, r"stem\.channels: expected an integer, got bool"),
    ("stem.out_channels", 64, r"stem\.out_channels: only a 'lite' stem"),
    ("num_joints", 0, r"num_joints: must be a positive joint count"),
    ("num_joints", "17", r"num_joints: expected an integer"),
    ("input_size", [256, 190], r"input_size: 256x190 must be positive multiples of 32"),
    ("input_size", [256], r"input_size: expected \[height, width\]"),
    ("transition", "fancy", r"transition: unknown transition style 'fancy'"),
    ("fuse_forward", "max", r"fuse_forward: unknown fuse_forward 'max'"),
    ("sem_options", {"heads": 4}, r"sem_options\.heads: unknown option for SEM"),
    ("widths", [32], r"widths: unknown key for NetworkSpec"),
    ("name", _DELETE, r"^name: required key missing from NetworkSpec"),
    ("stages.1.widths", _DELETE, r"^stages\[1\]\.widths: required key missing from StageSpec"),
    ("stages.0", "basic", r"stages\[0\]: expected a mapping for StageSpec"),
]


@pytest.mark.parametrize("path,value,message", MALFORMED, ids=[m[0] + "=" + repr(m[1])[:20] for m in MALFORMED])
def test_malformed_specs_raise_clear_errors(path, value, message):
    d = _set(base(), path, value if value is _DELETE else copy.deepcopy(value))
    with pytest.raises(SpecError, match=message):
        NetworkSpec.from_dict(d)


def test_at_least_twenty_malformed_cases():
    assert len(MALFORMED) >= 20


def test_head_needing_all_branches_rejects_single_scale_output():
    d = base()
    d["head"] = {"type": "iterative", "options": {}}
    with pytest.raises(SpecError, match="head.type: head 'iterative' reads every branch"):
        NetworkSpec.from_dict(d)


def test_lite_specific_validation():
    d = archlab.get_spec("litehrnet_18_coco").to_dict()
    d["stages"][0]["num_blocks"] = [2, 3]
    with pytest.raises(SpecError, match=r"stages\[0\]\.num_blocks: block 'ccw' spans all branches"):
        NetworkSpec.from_dict(d)
    d = archlab.get_spec("litehrnet_18_coco").to_dict()
    d["stem"]["num_blocks"] = 4
    with pytest.raises(SpecError, match=r"stem\.num_blocks: a 'lite' stem has no layer1"):
        NetworkSpec.from_dict(d)
    d = archlab.get_spec("litehrnet_18_coco").to_dict()
    d["stages"][1]["widths"] = [40, 80, 161]
    with pytest.raises(SpecError, match=r"stages\[1\]\.widths\[2\]: block 'ccw' splits channels"):
        NetworkSpec.from_dict(d)


def test_fewer_branches_than_previous_stage():
    d = base()
    d["stages"][1]["widths"] = [32]
    d["stages"][1]["num_blocks"] = [4]
    d["stages"][1]["sem"] = []
    with pytest.raises(SpecError, match=r"stages\[1\]\.widths: a stage cannot have fewer branches"):
        NetworkSpec.from_dict(d)


def test_yaml_level_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        NetworkSpec.from_yaml(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="expected a YAML mapping"):
        NetworkSpec.from_yaml(bad)
    bad.write_text(archlab.get_spec("hrnet_w32_coco").to_yaml().replace("block: basic", "block: basik", 1))
    with pytest.raises(SpecError, match=r"bad\.yaml: stages\[0\]\.block: unknown block 'basik'"):
        NetworkSpec.from_yaml(bad)
    with pytest.raises(FileNotFoundError):
        NetworkSpec.from_yaml(tmp_path / "nope.yaml")


def test_specs_are_frozen_and_python_construction_validates():
    spec = archlab.get_spec("hrnet_w32_coco")
    with pytest.raises(Exception):
        spec.num_joints = 3
    with pytest.raises(SpecError, match="widths"):
        StageSpec(widths=(32, 0), num_blocks=(1, 1))
    with pytest.raises(SpecError, match="head.type"):
        HeadSpec(type="nope")
    with pytest.raises(SpecError, match="stem.channels"):
        StemSpec(channels=-1)


def test_a_user_written_combination(tmp_path):
    """A new network nobody ships: Lite stem, SCR with 5x5 ECA-only units, SEM on two branches, DASP."""
    text = """
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
    spec = NetworkSpec.from_yaml(text)
    model = archlab.create_model(spec)
    import torch
    out = model(torch.randn(1, 3, 128, 96))
    assert out.shape == (1, 14, 32, 24)
    assert NetworkSpec.from_yaml(spec.to_yaml()) == spec


# -- the one size parser (archlab.spec.parse_size) ----------------------------------------------------
@pytest.mark.parametrize("value, channels, expected", [
    ("256x192", None, (256, 192)), ("256 x 192", None, (256, 192)), ("128X96", None, (128, 96)),
    ("128\u00d796", None, (128, 96)), ([256, 192], None, (256, 192)), ((64, 48), None, (64, 48)),
    ("256x192", 3, (3, 256, 192)), ((256, 192), 1, (1, 256, 192)), ((3, 256, 192), 3, (3, 256, 192)),
    ([4, 32, 24], 3, (4, 32, 24)), ("3x64x48", 3, (3, 64, 48)),
])
def test_parse_size_accepted_forms(value, channels, expected):
    from archlab.spec import parse_size
    assert parse_size(value, channels=channels) == expected


@pytest.mark.parametrize("value, channels, message", [
    ("big", None, r"input_size: expected HEIGHTxWIDTH such as 256x192, got 'big'"),
    ("256x", None, r"input_size: expected HEIGHTxWIDTH"),
    ("3x256x192", None, r"input_size: expected HEIGHTxWIDTH such as"),   # channels only where asked for
    ("2by2", 3, r"input_size: expected HEIGHTxWIDTH or CHANNELSxHEIGHTxWIDTH"),
    ([256], None, r"input_size: expected \[height, width\], got \[256\]"),
    ((3, 256, 192), None, r"input_size: expected \[height, width\], got"),
    ((1, 2, 3, 4), 3, r"expected \[height, width\] or \[channels, height, width\]"),
    (None, None, r"input_size: expected \[height, width\], got None"),
    ([0, 192], None, r"input_size: expected positive integers, got \[0, 192\]"),
    ([-4, 8], 3, r"expected positive integers, got \[-4, 8\]"),
    ([128.0, 96], None, r"expected positive integers"),
    ([True, 96], None, r"expected positive integers"),
    ("-4x8", None, r"expected HEIGHTxWIDTH"),
])
def test_parse_size_errors_name_the_field(value, channels, message):
    from archlab.spec import parse_size
    with pytest.raises(SpecError, match=message):
        parse_size(value, channels=channels)


def test_every_size_entry_point_is_the_one_parser():
    """The training config and the counters accept the same forms and say the same thing,
    under their own error type / field name."""
    from archlab.cost.counters import parse_input_size
    from archlab.spec import parse_size
    from archlab.train.config import ConfigError, TrainConfig
    from archlab.train.config import parse_size as config_parse_size
    for value in ("96x64", [96, 64], (96, 64), "96 X 64"):
        assert config_parse_size(value) == parse_size(value) == (96, 64)
        assert TrainConfig(input_size=value).input_size == (96, 64)
        assert parse_input_size(value) == (3, 96, 64) and parse_input_size(value, 1) == (1, 96, 64)
    assert parse_input_size((2, 96, 64)) == (2, 96, 64)
    with pytest.raises(ConfigError, match=r"input_size: expected HEIGHTxWIDTH such as 256x192, got 'big'"):
        TrainConfig(input_size="big")
    with pytest.raises(ConfigError, match=r"input_size: expected positive integers, got \[0, 8\]"):
        config_parse_size([0, 8])
    with pytest.raises(ValueError, match=r"input size: expected positive integers, got \[3, 0, 8\]"):
        parse_input_size((3, 0, 8))
    with pytest.raises(SpecError, match=r"input_size: expected HEIGHTxWIDTH"):
        NetworkSpec.from_dict(hrnet(8).to_dict()).replace(input_size="8by8")
