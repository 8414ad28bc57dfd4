"""``archlab report``: the manifest in reports/, commands run without a shell, the index."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from archlab.cli import main
from archlab.report import ManifestError, load_manifest, regenerate, write_index

ROOT = Path(__file__).resolve().parents[1]


def _manifest(tmp_path, body: str) -> Path:
    rep = tmp_path / "reports"
    rep.mkdir()
    (rep / "manifest.yaml").write_text(body)
    return rep


def test_repository_manifest_loads_and_names_existing_scripts():
    reports = load_manifest(ROOT / "reports")
    assert len(reports) >= 10 and len({r.name for r in reports}) == len(reports)
    for r in reports:
        for cmd in r.produce + r.regenerate:
            script = cmd.argv[1] if cmd.argv[0] == "python" and cmd.argv[1] != "-m" else None
            if script:
                assert (ROOT / script).is_file(), f"{r.name}: {script} does not exist"


def _help_call(argv: tuple):
    """``(argv that prints the command's --help, the --options it passes)`` of a manifest command
    run by python or archlab (``bash studies/quiet.sh CMD`` unwrapped); None for other programs."""
    from archlab.report import Command
    if argv[:2] == ("bash", "studies/quiet.sh"):
        argv = argv[2:]
    if argv[0] not in ("python", "archlab"):
        return None
    n = 3 if argv[:2] == ("python", "-m") else (2 if argv[0] == "python" else 1)
    rest = argv[n:]
    words = [a for a in rest[:next((i for i, a in enumerate(rest) if a.startswith("-")), len(rest))]]
    flags = {a.split("=")[0] for a in rest if a.startswith("--")}
    return Command((*argv[:n], *words, "--help")).resolved(), flags


@pytest.mark.slow
def test_every_manifest_command_passes_options_its_program_accepts():
    """The commands the reports' index prints are the ones a reader runs: each program must exist
    and accept every ``--option`` the manifest passes it (checked against its own ``--help``, one
    call per program and subcommand, so no study is run)."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor
    wanted: dict = {}
    for r in load_manifest(ROOT / "reports"):
        for cmd in r.produce + r.regenerate:
            got = _help_call(cmd.argv)
            if got is not None:
                wanted.setdefault(tuple(got[0]), set()).update(got[1])
    assert len(wanted) >= 15

    def run(argv):
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(wanted, pool.map(run, wanted)))
    for argv, p in done.items():
        shown = " ".join(argv[1:])
        assert p.returncode == 0, f"{shown}: exit {p.returncode}: {p.stderr[-400:]}"
        missing = sorted(f for f in wanted[argv] if not re.search(re.escape(f) + r"(?![\w-])", p.stdout))
        assert not missing, f"{shown}: the manifest passes {missing}, which its --help does not list"


def test_commands_run_without_a_shell_in_order_and_write_stdout(tmp_path):
    # '&&' and '>' inside an argument stay literal text: no shell interprets them
    rep = _manifest(tmp_path, """reports:
  - name: demo
    path: out.txt
    what: "a demo"
    produce: [[python, -c, "print(1)"]]
    regenerate: [[python, -c, "open('reports/out.txt', 'w').write('a && b > c')"],
                 {run: [python, -c, "print(open('reports/out.txt').read() + '!')"], stdout: reports/echo.txt}]
""")
    status = regenerate(rep)
    assert status == {"demo": "regenerated"}
    assert (rep / "out.txt").read_text() == "a && b > c"
    assert (rep / "echo.txt").read_text().strip() == "a && b > c!"
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    index = (rep / "README.md").read_text()
    assert "[out.txt](out.txt)" in index and "python -c 'print(1)'" in index


def test_failures_skips_and_measurements_are_reported(tmp_path):
    rep = _manifest(tmp_path, """reports:
  - {name: bad, path: x, what: w, produce: [[python, -c, "1"]], regenerate: [[python, -c, "import sys; sys.exit('boom')"]]}
  - {name: wait, path: y, what: w, produce: [[python, -c, "1"]], regenerate: [[python, -c, "1"]], needs: run/db}
  - {name: bench, path: z, what: w, produce: [[python, -c, "1"]]}
""")
    st = regenerate(rep)
    assert st["bad"].startswith("failed (exit 1)") and "boom" in st["bad"]
    assert st["wait"].startswith("skipped:") and "run/db" in st["wait"]
    assert st["bench"] == "recorded measurement (not re-run)"
    with pytest.raises(KeyError, match="unknown report 'nope'"):
        regenerate(rep, ["nope"])
    assert main(["report", "--dir", str(rep), "bad"]) == 1


@pytest.mark.parametrize("body, match", [
    ("reports: 3", "a 'reports' list"),
    ("reports:\n  - {name: a, path: p, what: w}", r"reports\[0\]\.produce: missing"),
    ("reports:\n  - {name: a, path: p, what: w, produce: [python]}", r"reports\[0\] \(a\)\.produce\[0\]"),
    ("reports:\n  - {name: a, path: p, what: w, produce: [[x]], shell: true}", "unknown field"),
    ("reports:\n  - {name: a, path: p, what: w, produce: [[x]]}\n  - {name: a, path: q, what: w, produce: [[x]]}",
     "repeated"),
    ("reports: [", "malformed YAML"),
])
def test_malformed_manifests_name_the_problem(tmp_path, body, match):
    rep = _manifest(tmp_path, body)
    with pytest.raises(ManifestError, match=match):
        load_manifest(rep)


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.yaml not found"):
        write_index(tmp_path)


def test_committed_reports_index_is_the_manifests(tmp_path):
    """reports/README.md is generated from reports/manifest.yaml: an edit to one alone is drift
    (rebuild it with ``archlab.report.write_index('reports')``)."""
    from pathlib import Path
    reports = Path(__file__).resolve().parents[1] / "reports"
    fresh = write_index(reports, out=tmp_path / "README.md")
    assert fresh.read_text() == (reports / "README.md").read_text()
    assert (reports / "README.md").read_text().count("\n| [") == len(load_manifest(reports))
