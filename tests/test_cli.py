"""The command line as a user runs it."""
import subprocess
import sys

import pandas as pd
import pytest

from archlab.cli import main


def test_models_table(capsys, tmp_path):
    assert main(["models", "litehrnet_*", "--csv", str(tmp_path / "zoo.csv")]) == 0
    out = capsys.readouterr().out
    assert "litehrnet_18_coco" in out and "1.131" in out and "hrnet_w32" not in out
    assert (tmp_path / "zoo.csv").read_text().startswith("model,params (M)")
    assert main(["models", "nothing*"]) == 1


def test_show_zoo_name_and_yaml(capsys, tmp_path):
    assert main(["show", "sdhrnet_coco"]) == 0
    out = capsys.readouterr().out
    assert "block: scr" in out and "16,766,975" in out and "sem.2" in out
    path = tmp_path / "net.yaml"
    path.write_text(out.split("\n# module summary")[0])
    assert main(["show", str(path), "--depth", "1"]) == 0
    assert "16,766,975" in capsys.readouterr().out


def test_clear_errors_and_exit_codes(capsys, tmp_path):
    assert main(["show", "hrnet_w32_cocoo"]) == 2
    assert "did you mean hrnet_w32_coco" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnum_joints: 3\ninput_size: [64, 64]\nstages: [{widths: [8], num_blocks: [1], block: foo}]\n")
    assert main(["show", str(bad)]) == 2
    assert "stages[0].block: unknown block 'foo'" in capsys.readouterr().err


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "archlab.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("archlab ")


_HEAVY = "print(sorted(m for m in ('torch', 'optuna', 'pandas', 'matplotlib') if m in sys.modules))"


def test_import_does_not_import_torch():
    """`import archlab` stays light: the re-exports and the subpackages' names are imported on
    first use."""
    r = subprocess.run([sys.executable, "-c", "import sys, archlab, archlab.cli; " + _HEAVY],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_help_does_not_import_torch():
    """Building the parser (what `archlab --help` and every command's argument errors do) imports
    no heavy library: each command family's ``register`` must defer its imports to the command."""
    r = subprocess.run([sys.executable, "-c", "import sys, archlab.cli; archlab.cli.build_parser(); " + _HEAVY],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", "a register() imports a heavy library at parser-build time"
    # and the lazy names still resolve to the real objects
    code = ("import archlab, archlab.nets, archlab.train, archlab.search; from archlab.nets.zoo import get_spec; "
            "from archlab.train.loop import train; from archlab.search.space import SearchSpace; "
            "assert archlab.get_spec is get_spec and archlab.nets.get_spec is get_spec; "
            "assert archlab.train.train is train and archlab.search.SearchSpace is SearchSpace; "
            "assert archlab.NetworkSpec is archlab.spec.NetworkSpec; print(archlab.count('sdhrnet_coco').params)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "16766975"


def test_cost_by_module_in_the_profile_unit(capsys, tmp_path):
    import archlab
    from archlab.cost.cli import module_table
    r = archlab.count("sdhrnet_coco")
    assert main(["cost", "sdhrnet_coco", "--profile", "hrnet_paper", "--by", "module", "--depth", "2",
                 "--csv", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "hrnet_paper [GFLOPs]" in out
    assert "\nhead " not in out                       # the empty 'head' container row is left out
    t = module_table(r, 2, "hrnet_paper")
    assert (t["params"] > 0).all()
    assert int(t["params"].sum()) == r.params
    assert t["hrnet_paper [GFLOPs]"].sum() == pytest.approx(r.to("hrnet_paper").value, rel=1e-12)
    # each group is in 2^30 units of its own conv + linear MACs, not raw MACs
    stem = sum(o.macs for o in r.ops if o.module.startswith("stem.layer1") and o.op in ("conv", "linear"))
    assert t.loc["stem.layer1", "hrnet_paper [GFLOPs]"] == stem / 2 ** 30
    assert "0.8086" in out and "868,220,928" not in out
    assert list(pd.read_csv(tmp_path / "m.csv").columns)[:3] == ["group", "params", "params %"]
    # a counter profile: groups add up to the counter's total
    f = module_table(r, 1, "fvcore")
    assert int(f["fvcore [MACs]"].sum()) == r.to("fvcore").count
