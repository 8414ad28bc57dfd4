"""The command line as a user runs it."""
import subprocess
import sys

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
