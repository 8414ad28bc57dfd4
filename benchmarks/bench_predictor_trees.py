"""The latency predictor's speed in two source trees, side by side (for a change to the cost
walk or the predictor's memos: the ratio is what a claim may quote on this noisy machine).

    git worktree add /tmp/base <rev>
    python benchmarks/bench_predictor_trees.py /tmp/base . [--rounds 4] [--many] [--table reports/search_lspet/latency_table.json]

Each round runs one fresh process per tree, alternating which goes first. A process loads the
same table, clears every memo, then predicts one stream of never-seen random specs (the same
seeds in both trees), timed by chunks (``--chunks``, specs each): the first chunk is a search's
cold start, the last its steady state. Prints min / median specs/s per chunk and tree, the ratio of
the medians, and the median of the per-round ratios (a round's two processes run back to back,
so pairing them removes the machine's drift between rounds).

``--in-process`` imports both trees into one process instead (the base tree's package copied to
a temporary folder as ``archlab_base``), and alternates them round by round on the same cold
streams: the two sides of a round run seconds apart in the same interpreter, which on this VM
(whose speed drifts up to 2x within minutes) pairs far better than two processes. Prints the
per-round ratios' median and IQR.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r'''
import gc, json, sys, time
sys.path.insert(0, ".")
from archlab.cost.analytic import clear_caches
from archlab.cost.predictor import predict_latency, random_specs
from archlab.cost.predictor.table import LatencyTable
many = sys.argv[3] == "many"
if many:
    from archlab.cost.predictor import predict_many
table = LatencyTable.load(sys.argv[1])
sizes = [int(x) for x in sys.argv[2].split(",")]
predict_latency(random_specs(1, 1)[0], table=table)      # the calibration fit, not timed
# (spelled out, not clear_memos(): the base tree may predate it)
clear_caches(); table._memo.clear(); table.__dict__.get("_ms", {}).clear(); table.__dict__.pop("_bodies", None)
chunks = [random_specs(n, 5000 + i) for i, n in enumerate(sizes)]
rates = []
for chunk in chunks:
    gc.collect(); t0 = time.perf_counter()
    if many:
        predict_many(chunk, table=table)
    else:
        for s in chunk:
            predict_latency(s, table=table)
    rates.append(len(chunk) / (time.perf_counter() - t0))
print(json.dumps(rates))
'''


def _run(tree: Path, table: str, sizes: str, way: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, table, sizes, way], cwd=tree, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{tree}: the child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _renamed_copy(tree: Path, tmp: Path) -> None:
    """``tree/archlab`` copied to ``tmp/archlab_base``, its by-name self-references
    (``"archlab.blocks"``, ``"archlab.plots"``, ...) pointed at the copy: importable beside
    ``archlab`` with registries and memos of its own."""
    import re
    import shutil
    dst = tmp / "archlab_base"
    shutil.copytree(tree / "archlab", dst, ignore=shutil.ignore_patterns("__pycache__"))
    for f in dst.rglob("*.py"):
        text = f.read_text()
        new = re.sub(r'(["\'])archlab\.', r"\1archlab_base.", text)
        if new != text:
            f.write_text(new)


def _in_process(trees: dict, table: str, rounds: int, n: int) -> dict:
    """Rounds of one cold stream of ``n`` never-seen specs through ``predict_many`` of each tree,
    imported side by side (``base`` as a renamed copy), alternating which goes first."""
    import importlib
    import shutil
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="bench_trees_"))
    try:
        _renamed_copy(trees["base"], tmp)
        sys.path.insert(0, str(tmp))
        sys.path.insert(0, str(trees["new"]))
        sides = {}
        for name, pkg, root in (("base", "archlab_base", tmp), ("new", "archlab", trees["new"])):
            mod = importlib.import_module(f"{pkg}.cost.predictor")
            if not Path(mod.__file__).resolve().is_relative_to(root):
                raise SystemExit(f"{name}: imported {mod.__file__}, not the tree {root} (an installed copy shadows it)")
            tab = importlib.import_module(f"{pkg}.cost.predictor.table").LatencyTable.load(table)
            mod.predict_latency(mod.random_specs(1, 1)[0], table=tab)      # the calibration fit, not timed
            sides[name] = (mod, tab)
        return _alternate(sides, rounds, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _alternate(sides: dict, rounds: int, n: int) -> dict:
    """specs/s of each side's ``predict_many`` on the same cold stream, round by round (a base
    tree older than fa41d98 keeps its conv-head memo across rounds: a bias in its favour)."""
    import gc
    import time
    res: dict = {"base": [], "new": []}
    for r in range(rounds):
        for name in (("base", "new") if r % 2 == 0 else ("new", "base")):
            mod, tab = sides[name]
            specs = mod.random_specs(n, 9000 + r)
            mod.clear_memos(tab)
            gc.collect()
            t0 = time.perf_counter()
            mod.predict_many(specs, table=tab)
            res[name].append(n / (time.perf_counter() - t0))
            print(f"round {r + 1} {name:4s} {res[name][-1]:7.0f}", flush=True)
    return res


def _print_in_process(res: dict, trees: dict, n: int) -> None:
    b, w = res["base"], res["new"]
    ratios = [x / y for x, y in zip(w, b)]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"\nspecs/s with predict_many of {n} never-seen specs from cold memos, both trees in one process "
          f"(base {trees['base']}, new {trees['new']}), {len(b)} rounds:")
    print(f"  base min / median {min(b):6.0f} / {statistics.median(b):6.0f}   new {min(w):6.0f} / "
          f"{statistics.median(w):6.0f}")
    print(f"  new/base by round: median {statistics.median(ratios):.3f}x, IQR [{q[0]:.3f}, {q[2]:.3f}], "
          f"min {min(ratios):.3f}x, max {max(ratios):.3f}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the baseline source tree (a git worktree of the old revision)")
    ap.add_argument("new", help="the tree under test")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--chunks", default="1000,3000,1000", help="stream chunk sizes, comma-separated")
    ap.add_argument("--table", default="reports/search_lspet/latency_table.json")
    ap.add_argument("--many", action="store_true", help="time predict_many(chunk) (what a search calls) instead of a "
                    "predict_latency loop (both trees must have predict_many)")
    ap.add_argument("--in-process", action="store_true", help="both trees in one process, predict_many of the "
                    "first chunk's size, alternating round by round (see the module docstring)")
    a = ap.parse_args(argv)
    table = str(Path(a.table).resolve())
    trees = {"base": Path(a.base).resolve(), "new": Path(a.new).resolve()}
    for name, tree in trees.items():
        if not (tree / "archlab" / "cost" / "predictor").is_dir():
            raise SystemExit(f"{name} tree {tree}: no archlab/cost/predictor in it")
    if a.in_process:
        n = int(a.chunks.split(",")[0])
        _print_in_process(_in_process(trees, table, a.rounds, n), trees, n)
        return 0
    res: dict = {"base": [], "new": []}
    for r in range(a.rounds):
        for name in (("base", "new") if r % 2 == 0 else ("new", "base")):
            res[name].append(_run(trees[name], table, a.chunks, "many" if a.many else "loop"))
            print(f"round {r + 1} {name:4s} " + " ".join(f"{x:7.0f}" for x in res[name][-1]), flush=True)
    sizes = a.chunks.split(",")
    start = 0
    way = "predict_many(chunk)" if a.many else "a predict_latency loop"
    print(f"\nspecs/s with {way}, min / median of {a.rounds} processes per tree (base {trees['base']}, "
          f"new {trees['new']}):")
    for k, n in enumerate(sizes):
        b = [x[k] for x in res["base"]]
        w = [x[k] for x in res["new"]]
        label = f"stream specs {start + 1}-{start + int(n)}"
        print(f"  {label:28s} base {min(b):6.0f} / {statistics.median(b):6.0f}   new {min(w):6.0f} / "
              f"{statistics.median(w):6.0f}   new/base {statistics.median(w) / statistics.median(b):.2f}x, "
              f"paired by round {statistics.median(x / y for x, y in zip(w, b)):.2f}x")
        start += int(n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
