"""Layering of the archlab package, read from the source (no imports of it, except the torch check).

The layers, lowest first (a module may import its own layer and the layers below, never above)::

    spec (registry, ops, _lazy)  ->  blocks  ->  nets  ->  cost  ->  data / train / search
        ->  plots / report  ->  cli (archlab.cli, every ``cli`` / ``*_cli`` module, the package root)

The scanner reads every ``import`` statement of every module -- at module level *and* inside
functions, relative and absolute -- plus ``importlib.import_module("archlab...")`` calls with a
literal name. ``from X import name`` counts as an import of the module ``X.name`` when that is a
module, else of ``X``; importing ``a.b.c`` also runs the packages ``a.b`` (its ``__init__``), so
those count for cycles too (except the importer's own parent packages, which are already running).
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: module (or package) prefix -> layer; the longest matching prefix decides
LAYERS = {
    "archlab._lazy": 0, "archlab.registry": 0, "archlab.ops": 0, "archlab.spec": 0,
    "archlab.blocks": 1,
    "archlab.nets": 2,
    "archlab.cost": 3,
    "archlab.data": 4, "archlab.train": 4, "archlab.search": 4,
    "archlab.plots": 5, "archlab.report": 5,
    "archlab.cli": 6, "archlab": 6,
}
#: the CLI layer also holds every module named ``cli`` or ``*_cli`` (subcommand definitions)
CLI_LAYER = 6
#: functions ``archlab/__init__.py`` may define (the lazy re-export hooks of PEP 562)
INIT_HOOKS = {"__getattr__", "__dir__"}


# ------------------------------------------------------------------------------------------------
# the scanner

def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root/package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _known(name: str | None, modules) -> str | None:
    """The longest prefix of ``name`` that is a module of the tree (None: not ours)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _from_base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import of a tree module anywhere in ``path``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(module, path.name == "__init__.py", node)
            names += [(node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
                      for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append((node.lineno, node.args[0].value))
    return [(line, target) for line, name in names if (target := _known(name, modules)) and target != module]


def import_graph(root: Path, package: str) -> tuple[dict, dict]:
    """``(edges, lines)``: module -> sorted modules it imports (with the packages each import
    runs), and ``(module, target) -> first line``."""
    modules = find_modules(root, package)
    edges, lines = {}, {}
    for mod, path in modules.items():
        targets = set()
        for line, t in imports_of(mod, path, modules):
            lines.setdefault((mod, t), line)
            targets.add(t)
            parent = t.rpartition(".")[0]
            while parent and not (mod == parent or mod.startswith(parent + ".")):
                targets.add(parent)
                lines.setdefault((mod, parent), line)
                parent = parent.rpartition(".")[0]
        edges[mod] = sorted(targets)
    return edges, lines


def layer_of(module: str, layers: dict, cli_layer: int | None = CLI_LAYER) -> int:
    last = module.rpartition(".")[2]
    if cli_layer is not None and (last == "cli" or last.endswith("_cli")):
        return cli_layer
    key = _known(module, layers)
    if key is None:
        raise KeyError(f"{module} is in no layer: add it (or its package) to LAYERS")
    return layers[key]


def upward_imports(root: Path, package: str, layers: dict, cli_layer: int | None = CLI_LAYER) -> list[str]:
    """Every import of a module in a higher layer, as ``'file:line: a (layer i) imports b (layer j)'``."""
    edges, lines = import_graph(root, package)
    modules = find_modules(root, package)
    bad = []
    for mod, targets in edges.items():
        low = layer_of(mod, layers, cli_layer)
        for t in targets:
            high = layer_of(t, layers, cli_layer)
            if high > low:
                where = modules[mod].relative_to(root)
                bad.append(f"{where}:{lines[mod, t]}: {mod} (layer {low}) imports {t} (layer {high})")
    return bad


def find_cycles(edges: dict) -> list[list[str]]:
    """Import cycles, each as a closed path ``[a, b, ..., a]`` (one per back edge of a DFS)."""
    state, stack, cycles = {}, [], []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for w in edges.get(v, ()):
            if state.get(w) == "open":
                cycles.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = "done"

    for v in sorted(edges):
        if v not in state:
            visit(v)
    return cycles


# ------------------------------------------------------------------------------------------------
# the scanner finds what it should (a synthetic package tree)

def _write_tree(tmp_path: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


SYNTHETIC_LAYERS = {"pkg": 2, "pkg.low": 0, "pkg.mid": 1, "pkg.high": 2}


def test_scanner_finds_an_upward_import_inside_a_function(tmp_path):
    root = _write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low/__init__.py": "",
        "pkg/low/base.py": """
            import os

            def helper():
                from ..high import top   # upward, hidden in a function
                return top
            """,
        "pkg/mid.py": "from .low.base import helper\nimport pkg.low\n",
        "pkg/high/__init__.py": "",
        "pkg/high/top.py": "from pkg.mid import helper\nfrom ..low import base\n",
    })
    bad = upward_imports(root, "pkg", SYNTHETIC_LAYERS)
    assert bad == [f"{Path('pkg/low/base.py')}:5: pkg.low.base (layer 0) imports pkg.high (layer 2)",
                   f"{Path('pkg/low/base.py')}:5: pkg.low.base (layer 0) imports pkg.high.top (layer 2)"]
    edges, _ = import_graph(root, "pkg")
    assert edges["pkg.mid"] == ["pkg.low", "pkg.low.base"]          # relative and absolute resolved
    assert edges["pkg.high.top"] == ["pkg.low", "pkg.low.base", "pkg.mid"]
    assert find_cycles(edges) == [["pkg.high.top", "pkg.low.base", "pkg.high.top"]]   # via the function import


def test_scanner_cli_modules_sit_in_the_cli_layer(tmp_path):
    root = _write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/low.py": "", "pkg/high.py": "",
                                  "pkg/mid.py": "from . import high\n", "pkg/mid_cli.py": "from . import high\n"})
    assert upward_imports(root, "pkg", SYNTHETIC_LAYERS, cli_layer=2) == \
        [f"{Path('pkg/mid.py')}:1: pkg.mid (layer 1) imports pkg.high (layer 2)"]
    with pytest.raises(KeyError, match="pkg is in no layer"):
        upward_imports(root, "pkg", {"pkg.low": 0, "pkg.mid": 1, "pkg.high": 2}, cli_layer=2)


# ------------------------------------------------------------------------------------------------
# the rules, on archlab

def test_no_import_goes_up_a_layer():
    bad = upward_imports(ROOT, "archlab", LAYERS)
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_import_cycles():
    edges, _ = import_graph(ROOT, "archlab")
    assert len(edges) > 50 and sum(map(len, edges.values())) > 200    # the scan saw the package
    cycles = find_cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_package_init_only_reexports():
    tree = ast.parse((ROOT / "archlab" / "__init__.py").read_text())
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert defs and set(defs) <= INIT_HOOKS, f"archlab/__init__.py defines {sorted(set(defs) - INIT_HOOKS)}"
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.FunctionDef, ast.Expr)
    other = [type(n).__name__ for n in tree.body if not isinstance(n, allowed)]
    assert not other, f"archlab/__init__.py runs statements other than re-exports: {other}"


@pytest.mark.parametrize("module", ["archlab.spec", "archlab.registry", "archlab.ops"])
def test_bottom_layer_imports_no_torch(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing {module} imported torch modules: {out.stdout[:300]}"


def test_library_functions_and_files_stay_readable():
    """Issue 12's limits: no library function over 80 lines, no library file over 600 lines."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "archlab"
    long_files, long_funcs = [], []
    for path in sorted(root.rglob("*.py")):
        src = path.read_text()
        if src.count("\n") > 600:
            long_files.append((str(path.relative_to(root)), src.count("\n")))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long_funcs.append((f"{path.relative_to(root)}:{node.name}", node.end_lineno - node.lineno + 1))
    assert not long_files, long_files
    assert not long_funcs, long_funcs
