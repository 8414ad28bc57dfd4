"""``archlab report``: regenerate ``reports/`` from recorded results, and its index.

What the reports are and how each is made lives in data, ``reports/manifest.yaml``: per report its
path, a line on what it is, the commands that produce it from scratch (``produce``) and the cheap
commands that rebuild it from recorded results (``regenerate``; absent for measurements, which are
never re-run here), and the input it ``needs``. Commands are argument lists, run one after the
other from the repository root (the folder above ``reports/``) **without a shell**; ``python`` and
``archlab`` run in the current interpreter. A command may be ``{run: [...], stdout: FILE}``.

>>> cmd = Command(("python", "x.py"), stdout="out.txt")
>>> cmd.display()
'python x.py > out.txt'
"""
from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Report", "Command", "ManifestError", "load_manifest", "regenerate", "write_index"]

MANIFEST = "manifest.yaml"


class ManifestError(ValueError):
    """``reports/manifest.yaml`` is missing or malformed; the message names the entry and field."""


@dataclass(frozen=True)
class Command:
    argv: tuple
    stdout: str | None = None

    def display(self) -> str:
        s = shlex.join(self.argv)
        return f"{s} > {self.stdout}" if self.stdout else s

    def resolved(self) -> list:
        """``argv`` with ``python`` / ``archlab`` bound to the running interpreter."""
        head, rest = self.argv[0], list(self.argv[1:])
        if head == "python":
            return [sys.executable, *rest]
        if head == "archlab":
            return [sys.executable, "-m", "archlab.cli", *rest]
        return [head, *rest]


@dataclass(frozen=True)
class Report:
    name: str
    path: str                     # file or folder under reports/
    what: str
    produce: tuple                # Commands that (re)produce it from scratch
    regenerate: tuple = ()        # cheap Commands that rebuild it from recorded results (empty: recorded only)
    needs: str | None = None      # input under reports/ that must exist for `regenerate`


def _commands(value, where: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ManifestError(f"{where}: expected a list of commands (each a list of arguments)")
    out = []
    for k, c in enumerate(value):
        stdout = None
        if isinstance(c, dict):
            unknown = set(c) - {"run", "stdout"}
            if unknown or "run" not in c:
                raise ManifestError(f"{where}[{k}]: a mapping command needs 'run' (and optionally 'stdout'), "
                                    f"got keys {sorted(c)}")
            c, stdout = c["run"], c.get("stdout")
        if not isinstance(c, list) or not c or not all(isinstance(a, (str, int, float)) for a in c):
            raise ManifestError(f"{where}[{k}]: expected a non-empty list of arguments, got {c!r}")
        out.append(Command(tuple(str(a) for a in c), None if stdout is None else str(stdout)))
    return tuple(out)


def _entry(e, k: int) -> Report:
    if not isinstance(e, dict):
        raise ManifestError(f"reports[{k}]: expected a mapping, got {type(e).__name__}")
    known = {"name", "path", "what", "produce", "regenerate", "needs"}
    unknown = sorted(set(e) - known)
    if unknown:
        raise ManifestError(f"reports[{k}]: unknown field(s) {unknown}; known: {sorted(known)}")
    for f in ("name", "path", "what", "produce"):
        if not e.get(f):
            raise ManifestError(f"reports[{k}].{f}: missing")
    where = f"reports[{k}] ({e['name']})"
    return Report(str(e["name"]), str(e["path"]), str(e["what"]), _commands(e["produce"], f"{where}.produce"),
                  _commands(e.get("regenerate"), f"{where}.regenerate"), e.get("needs"))


def load_manifest(reports_dir: str | Path = "reports") -> list[Report]:
    """The reports listed in ``reports_dir/manifest.yaml``."""
    path = Path(reports_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no report manifest: {path} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ManifestError(f"{path}: malformed YAML ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
        raise ManifestError(f"{path}: expected a mapping with a 'reports' list")
    reports = [_entry(e, k) for k, e in enumerate(data["reports"])]
    names = [r.name for r in reports]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ManifestError(f"{path}: report names must be unique, repeated: {dup}")
    return reports


def _shown(cmds: tuple) -> str:
    return " && ".join(c.display() for c in cmds)


def write_index(reports_dir: str | Path = "reports", reports: list[Report] | None = None,
                out: str | Path | None = None) -> Path:
    """The reports index (``README.md`` of ``reports_dir``, or ``out``) from the manifest: one row
    per report, linked where its path exists."""
    root = Path(reports_dir)
    reports = load_manifest(root) if reports is None else reports
    lines = ["# Reports", "", "Everything here is produced by a command in this repository (listed in "
             "[manifest.yaml](manifest.yaml)). `archlab report` regenerates what can be rebuilt from recorded "
             "results (study databases, run folders) without measuring or training again.", "",
             "| report | what | produced by | rebuilt by `archlab report` |", "|---|---|---|---|"]
    for r in reports:
        link = f"[{r.path}]({r.path})" if (root / r.path).exists() else f"{r.path} (not produced yet)"
        rebuild = f"`{_shown(r.regenerate)}`" if r.regenerate else "no (a measurement; re-run the command)"
        lines.append(f"| {link} | {r.what} | `{_shown(r.produce)}` | {rebuild} |")
    out = root / "README.md" if out is None else Path(out)
    out.write_text("\n".join(lines) + "\n")
    return out


def _run(cmd: Command, cwd: Path) -> subprocess.CompletedProcess:
    if cmd.stdout is None:
        return subprocess.run(cmd.resolved(), cwd=cwd, capture_output=True, text=True)
    with open(cwd / cmd.stdout, "w") as fh:
        return subprocess.run(cmd.resolved(), cwd=cwd, stdout=fh, stderr=subprocess.PIPE, text=True)


def _rebuild(r: Report, cwd: Path) -> str:
    for cmd in r.regenerate:
        proc = _run(cmd, cwd)
        if proc.returncode != 0:
            err = (proc.stderr or "").strip().splitlines()
            return f"failed (exit {proc.returncode}) in `{cmd.display()}`: {err[-1] if err else ''}"
    return "regenerated"


def regenerate(reports_dir: str | Path = "reports", only: list[str] | None = None) -> dict[str, str]:
    """Rebuild each report whose recorded inputs exist; returns name -> status."""
    root = Path(reports_dir)
    reports = load_manifest(root)
    unknown = sorted(set(only or ()) - {r.name for r in reports})
    if unknown:
        raise KeyError(f"unknown report {unknown[0]!r}; choose from {[r.name for r in reports]}")
    status = {}
    for r in reports:
        if only and r.name not in only:
            continue
        if not r.regenerate:
            status[r.name] = "recorded measurement (not re-run)"
        elif r.needs and not (root / r.needs).exists():
            status[r.name] = f"skipped: {root / r.needs} not found (run: {_shown(r.produce)})"
        else:
            status[r.name] = _rebuild(r, root.resolve().parent)
    write_index(root, reports)
    return status
