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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the baseline source tree (a git worktree of the old revision)")
    ap.add_argument("new", help="the tree under test")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--chunks", default="1000,3000,1000", help="stream chunk sizes, comma-separated")
    ap.add_argument("--table", default="reports/search_lspet/latency_table.json")
    ap.add_argument("--many", action="store_true", help="time predict_many(chunk) (what a search calls) instead of a "
                    "predict_latency loop (both trees must have predict_many)")
    a = ap.parse_args(argv)
    table = str(Path(a.table).resolve())
    trees = {"base": Path(a.base).resolve(), "new": Path(a.new).resolve()}
    for name, tree in trees.items():
        if not (tree / "archlab" / "cost" / "predictor").is_dir():
            raise SystemExit(f"{name} tree {tree}: no archlab/cost/predictor in it")
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
