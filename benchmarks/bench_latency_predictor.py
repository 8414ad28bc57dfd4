"""Latency predictor: accuracy against measured ONNX Runtime latency, and prediction speed.

    python benchmarks/bench_latency_predictor.py [--n 50] [--seed 2027] [--repeats 9]
        [--out reports/bench_latency_predictor.txt]

``--n`` random specs drawn across the whole option space (:mod:`archlab.cost.predictor.sample`:
every block, stem, transition, head, width, depth and input size; a seed the profiling grid
never used) are predicted from the spec with this machine's cached table (profiled first if
missing) and measured in ONNX Runtime (opset 17, 1 intra-op thread, batch 1, interleaved runs).
Measurement: :func:`archlab.cost.runtime.measure_many` when present (wall clock), and always the
predictor's own interleaved timing (:func:`archlab.cost.predictor.validate.measure_specs`), whose
minimum per-run *thread CPU time* is the reference on a shared machine (time spent descheduled
does not count; minimum wall time is reported beside it). Prints the fraction of specs predicted
within +-10% (and +-20%), the median absolute error, and the prediction speed in specs/s
(min / median over ``--speed-repeats`` passes over the specs, memoised kernels: what a search
sees), one cold pass (memos cleared), and one stream of ``--stream`` never-seen specs from cold
memos timed by thousands (a search's warm-up, then its steady state), as a plain loop and with
``predict_many``, side by side. Writes the report and a per-spec CSV beside it.

    python benchmarks/bench_latency_predictor.py --speed-only --table reports/search_lspet/latency_table.json \
        --out reports/bench_latency_predictor_speed.txt

re-measures the speed alone (no references, no table build).

    python benchmarks/bench_latency_predictor.py --rescore --table reports/search_lspet/latency_table.json \
        --out reports/bench_latency_predictor_rescore.txt

re-scores a saved table's predictions against the cached reference timings (``--measured``),
which must have been measured on the table's own CPU: after a change to the predictor, anyone
can check its accuracy on any machine, without re-profiling or re-measuring.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _load() -> str:
    la = os.getloadavg()
    return f"load average {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f} (1/5/15 min) on {os.cpu_count()} cores"


def _runtime_measure(specs, repeats):
    """:func:`archlab.cost.runtime.measure_many` (interleaved, wall clock) of ``specs``, when
    that module exists (None otherwise)."""
    if not specs:
        return None
    try:
        from archlab.cost.runtime import measure_many
    except ImportError:
        return None
    res = measure_many(specs, "onnxruntime", threads=1, batch=1, repeats=repeats, check=False, progress=True)
    return [r.as_dict() for r in res]


#: the stream's timing chunk (specs), and its rounds (each: a plain loop and predict_many, alternating)
STREAM_CHUNK = 1000
STREAM_ROUNDS = 2


def _rate(batch, fn) -> float:
    """specs/s of ``fn(batch)``, the garbage collector run once before (and left on)."""
    import gc
    gc.collect()
    t0 = time.perf_counter()
    fn(batch)
    return len(batch) / (time.perf_counter() - t0)


def _ways(table) -> dict:
    """The two ways a stream is predicted: a plain ``predict_latency`` loop and ``predict_many``."""
    from archlab.cost.predictor import predict_latency, predict_many
    return {"loop": lambda b: [predict_latency(s, table=table) for s in b],
            "many": lambda b: predict_many(b, table=table)}


def _speed(specs, table, repeats, seed, stream_n):
    """specs/s: a cold pass (every memo cleared), ``repeats`` passes over the same specs (memoised
    kernels and blocks: a search re-evaluating its population), ``repeats`` passes over fresh
    random specs each (never seen before; the memos of the earlier passes kept), and one stream
    of ``stream_n`` never-seen specs from cold memos (what a search sees from its start), timed
    by chunks of :data:`STREAM_CHUNK` (its warm-up, then a long search's steady state), both as a
    plain ``predict_latency`` loop and with ``predict_many`` (the memos kept off the garbage
    collector's full collections), in :data:`STREAM_ROUNDS` alternating rounds. Drawing specs
    does not warm the memos (``random_specs`` validates them in ``isolated_caches``). The garbage
    collector is run once before each timing, and left on while timing."""
    from archlab.cost.predictor import clear_memos, predict_latency, random_specs
    loop = _ways(table)["loop"]
    predict_latency(specs[0], table=table)     # the table's calibration is fitted once, not timed
    clear_memos(table)
    cold = _rate(specs, loop)
    same = [_rate(specs, loop) for _ in range(repeats)]
    fresh_sets = [random_specs(len(specs), seed + 1000 + i) for i in range(repeats)]
    fresh = [_rate(batch, loop) for batch in fresh_sets]
    if not stream_n:
        return cold, same, fresh, None
    return cold, same, fresh, _stream_rates(random_specs(stream_n, seed + 5000), table)


def _stream_rates(stream, table) -> dict:
    """way (:func:`_ways`) -> rounds -> specs/s of each chunk of ``stream``, every round from cold
    memos, the ways alternating in order round by round."""
    from archlab.cost.predictor import clear_memos
    ways = _ways(table)
    chunks = [stream[i:i + STREAM_CHUNK] for i in range(0, len(stream), STREAM_CHUNK)]
    out: dict = {k: [] for k in ways}
    for r in range(STREAM_ROUNDS):
        for k in (list(ways) if r % 2 == 0 else list(ways)[::-1]):
            clear_memos(table)
            out[k].append([_rate(c, ways[k]) for c in chunks])
    return out


def _space_stream(path, n, seed, table) -> dict:
    """:func:`_stream_rates` of ``n`` never-seen specs drawn from the search space file ``path``
    (:meth:`SearchSpace.sample`: what the search's latency objective screens), cold memos."""
    import optuna
    from archlab.search import SearchSpace
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return _stream_rates(SearchSpace.from_yaml(path).sample(n, seed), table)


def _errors(pred, meas):
    e = np.asarray(pred) / np.asarray(meas) - 1.0
    return {"within10": float(np.mean(np.abs(e) <= 0.10)), "within20": float(np.mean(np.abs(e) <= 0.20)),
            "median_abs": float(np.median(np.abs(e))), "mean": float(e.mean())}


def _refit_lines(table, specs, calib, own, own_calib, say, prefix=""):
    """Accuracy with each calibration refitted on the table's calibration specs measured in this
    session, interleaved with the test specs (the machine's state of the moment, not the
    build's): what a user gets who re-measures the calibration networks before predicting."""
    from archlab.cost.predictor import apply_calibration, fit_calibration, network_calibration, predict_ms
    rs = [predict_ms(s, tuple(s.input_size), table, "none") for s in specs]
    rc = [predict_ms(c, tuple(c.input_size), table, "none") for c in calib]
    fits = []
    for cal in ("linear", "scale"):
        for stat in ("cpu_median_ms", "cpu_min_ms"):
            f = fit_calibration([p for p, _ in rc], [n for _, n in rc], [m[stat] for m in own_calib], cal)
            fits.append(f"{cal} {stat.split('_')[1]} {_fit_text(f)}")
            e = _errors([apply_calibration(p, n, *f) for p, n in rs], [m[stat] for m in own])
            name = f"{prefix}{cal}, {stat.split('_')[1]}, refit here ({len(calib)} specs)"
            say(f"{name:44s} {e['within10']:>10.0%} {e['within20']:>10.0%} {e['median_abs']:>12.1%} "
                f"{e['mean']:>+9.1%}")
    say(f"# {prefix}fitted at the build: linear {_fit_text(network_calibration(table))}, scale "
        f"{_fit_text(network_calibration(table, 'scale'))}; refit here: {'; '.join(fits)}")


def _fit_text(fit) -> str:
    return f"{fit[0]:.3f} x sum {fit[1] * 1e3:+.2f} us/kernel"


def _measure_key(args) -> dict:
    import onnxruntime
    from archlab.cost.predictor import cpu_model
    return {"n": args.n, "seed": args.seed, "repeats": args.repeats, "burst": args.burst, "cpu": cpu_model(),
            "onnxruntime": onnxruntime.__version__}


def _measure(specs, args, say) -> list[dict]:
    """The reference timings: interleaved ORT runs of every spec (min over ``--repeats``),
    cached in ``--measured`` (keyed by spec seed, count, repeats, CPU and onnxruntime) so that
    a re-run of the predictor side on a loaded machine need not re-export 50 networks."""
    from archlab.cost.predictor.validate import measure_specs
    path = Path(args.measured)
    key = _measure_key(args)
    if path.is_file() and not args.remeasure:
        d = json.loads(path.read_text())
        if d.get("key") == key and [m["spec"] for m in d["measured"]] == [s.name for s in specs]:
            say(f"# reference timings from {path} (measured {d['when']} UTC, {d['load_before']} -> "
                f"{d['load_after']})")
            return d["measured"]
        say(f"# {path} was measured for another setting: measuring again")
    before = _load()
    say(f"# before measuring: {before}")
    own = measure_specs(specs, repeats=args.repeats, burst=args.burst, progress=True)
    after = _load()
    say(f"# after measuring: {after}")
    own = [{"spec": s.name, **m} for s, m in zip(specs, own)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "when": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                                "load_before": before, "load_after": after, "measured": own}, indent=1))
    return own


def _accuracy_lines(predicted: dict, own: list, helper, say) -> None:
    """Within +-10% / +-20%, median |error| and mean error of each calibration's predictions
    against each reference timing."""
    refs = {"thread CPU time, min": [m["cpu_min_ms"] for m in own],
            "thread CPU time, median": [m["cpu_median_ms"] for m in own],
            "wall time, min": [m["wall_min_ms"] for m in own]}
    if helper:
        k = len(helper)
        refs[f"measure_many wall, median ({k})"] = [h["median_ms"] for h in helper]
        refs[f"measure_many wall, min ({k})"] = [h["min_ms"] for h in helper]
        refs[f"thread CPU time, min ({k})"] = refs["thread CPU time, min"][:k]
    say("")
    say(f"{'calibration: reference (specs)':44s} {'within 10%':>10s} {'within 20%':>10s} {'median |err|':>12s} "
        f"{'mean err':>9s}")
    for cal, pms in predicted.items():
        for name, ref in refs.items():
            e = _errors(pms[:len(ref)], ref)
            say(f"{cal + ': ' + name:44s} {e['within10']:>10.0%} {e['within20']:>10.0%} {e['median_abs']:>12.1%} "
                f"{e['mean']:>+9.1%}")


def _write_csv(path: Path, specs, preds, scaled, own, helper) -> None:
    """The per-spec table: the spec's shape, both calibrations' predictions and every reference."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["spec", "input_size", "stem", "transition", "blocks", "head", "kernels", "predicted_ms",
                    "predicted_scale_ms", "cpu_min_ms", "cpu_median_ms", "wall_min_ms", "wall_median_ms", "wall_iqr_ms",
                    "helper_median_ms", "helper_iqr_ms"])
        for i, (s, p, m, sc) in enumerate(zip(specs, preds, own, scaled)):
            h = helper[i] if helper and i < len(helper) else {}
            w.writerow([s.name, "x".join(map(str, s.input_size)), s.stem.type, s.transition,
                        "/".join(st.block for st in s.stages), s.head.type, p["kernels"], f"{p['predicted_ms']:.3f}",
                        f"{sc:.3f}", f"{m['cpu_min_ms']:.3f}", f"{m['cpu_median_ms']:.3f}", f"{m['wall_min_ms']:.3f}",
                        f"{m['wall_median_ms']:.3f}", f"{m['wall_iqr_ms']:.3f}", h.get("median_ms", ""),
                        h.get("iqr_ms", "")])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50, help="random specs (default 50)")
    ap.add_argument("--seed", type=int, default=2027, help="seed of the random specs (not the grid's)")
    ap.add_argument("--repeats", type=int, default=25, help="interleaved timed runs per spec")
    ap.add_argument("--burst", type=int, default=3, help="runs of a spec back to back per round; the last is "
                    "timed (steady state; 1 = every timed run follows the other specs' runs, caches cold)")
    ap.add_argument("--speed-repeats", type=int, default=7, help="timed prediction passes")
    ap.add_argument("--stream", type=int, default=6000, help="never-seen specs predicted in one stream from cold "
                    "memos, timed by thousands (0: skip)")
    ap.add_argument("--space", action="append", default=[], metavar="YAML", help="also a stream of --stream "
                    "never-seen specs drawn from this search space file (repeatable)")
    ap.add_argument("--compare-grid", default="", help="also score the table of this profiling grid on the same "
                    "references (e.g. 'isolated': kernels profiled alone only; built first if missing)")
    ap.add_argument("--helper-n", type=int, default=0, help="also time the first N specs with "
                    "archlab.cost.runtime.measure_many (wall clock; every export costs ~10-40 s on a busy 2-core "
                    "machine, so not all of them by default)")
    ap.add_argument("--out", default="reports/bench_latency_predictor.txt")
    ap.add_argument("--measured", default="reports/bench_latency_predictor_measured.json",
                    help="cache of the reference timings (re-used when its setting matches)")
    ap.add_argument("--remeasure", action="store_true", help="measure again even if --measured matches")
    ap.add_argument("--measure-only", action="store_true", help="only measure (and cache) the references")
    ap.add_argument("--speed-only", action="store_true", help="only the prediction speed (no references, no "
                    "accuracy), written to --out")
    ap.add_argument("--table", default="", help="with --speed-only: a latency table file (default: this "
                    "machine's table, built on first use)")
    ap.add_argument("--rescore", action="store_true", help="with --table: score that table's predictions against "
                    "the cached references (--measured, timed on the table's CPU); no measuring, no speed")
    args = ap.parse_args(argv)
    if args.table and not (args.speed_only or args.rescore):
        ap.error("--table goes with --speed-only or --rescore (the accuracy run scores this machine's table)")
    if args.rescore and not args.table:
        ap.error("--rescore needs --table (the table the cached references were measured beside)")
    if args.speed_only:
        return _speed_only(args)
    if args.rescore:
        return _rescore(args)
    import onnxruntime
    import torch
    from archlab.cost.predictor import cpu_model, get_table, predict_latency, random_specs

    say, lines = _reporter()
    t0 = time.perf_counter()
    table = get_table()
    say(f"# bench_latency_predictor: {args.n} random specs (seed {args.seed}), onnxruntime, 1 thread, batch 1")
    say(f"# {cpu_model()}, python {platform.python_version()}, torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}")
    say(f"# table: {table.path} ({len(table.samples)} profiled kernels, {len(table.entries)} entries, profiled "
        f"in {table.info.get('profile_s', float('nan')):.0f} s; loaded in {time.perf_counter() - t0:.2f} s)")
    say(f"# per-node overhead {table.overhead['per_node_ms'] * 1e3:.2f} us, per-run {table.overhead['run_ms'] * 1e3:.1f} us")
    specs = random_specs(args.n, args.seed)
    calib = random_specs(table.overhead.get("scale_measured_ms") and len(table.overhead["scale_measured_ms"]) or 0,
                         table.overhead.get("scale_seed", 7))
    own = _measure(specs + calib, args, say)
    own, own_calib = own[:len(specs)], own[len(specs):]
    if args.measure_only:
        return 0
    helper = _runtime_measure(specs[:args.helper_n], args.repeats)
    say(f"# after runtime.measure_many of the first {len(helper)} specs: {_load()}" if helper
        else "# archlab.cost.runtime.measure_many not run: own timing only")
    preds = [predict_latency(s, table=table) for s in specs]
    scaled = [predict_latency(s, table=table, calibration="scale")["predicted_ms"] for s in specs]
    _accuracy_lines({"linear": [p["predicted_ms"] for p in preds], "scale": scaled}, own, helper, say)
    if own_calib:
        _refit_lines(table, specs, calib, own, own_calib, say)
    if args.compare_grid:
        from archlab.cost.predictor import load_or_build
        other = load_or_build(grid=args.compare_grid)
        say(f"# the same references, table of grid {args.compare_grid!r} ({len(other.samples)} kernels, "
            f"{sum(1 for r in other.samples if r.get('source') == 'network')} timed in networks)")
        _refit_lines(other, specs, calib, own, own_calib, say, f"{args.compare_grid}: ")
    _speed_lines(specs, table, args, say)
    out = _write_report(args.out, lines)
    _write_csv(out.with_suffix(".csv"), specs, preds, scaled, own, helper)
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


def _reporter():
    """``(say, lines)``: ``say`` prints a line and keeps it in ``lines`` for the report file."""
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)
    return say, lines


def _write_report(path, lines) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


def _speed_lines(specs, table, args, say) -> None:
    cold, same, fresh, stream = _speed(specs, table, args.speed_repeats, args.seed, args.stream)
    say("")
    say(f"prediction speed, specs/s (min / median of {args.speed_repeats} passes of {len(specs)} specs each, "
        "one predict_latency call per spec, the garbage collector left as it is):")
    say(f"  same specs again (memoised kernels and blocks)  {min(same):>8,.0f} / {statistics.median(same):,.0f}")
    say(f"  fresh random specs each pass (never seen)       {min(fresh):>8,.0f} / {statistics.median(fresh):,.0f}")
    say(f"  first pass, every memo cleared                  {cold:>8,.0f}")
    if stream is not None:
        say(f"  one stream of {args.stream:,} never-seen random specs of the whole option space from cold "
            f"memos (a search from its start), by {STREAM_CHUNK:,}; min / median of {STREAM_ROUNDS} rounds:")
        _stream_table(stream, args.stream, say)
    for path in args.space:
        say(f"  one stream of {args.stream:,} never-seen specs drawn from the search space {path} (what its "
            f"latency objective screens), cold memos, by {STREAM_CHUNK:,}; min / median of {STREAM_ROUNDS} rounds:")
        _stream_table(_space_stream(path, args.stream, args.seed, table), args.stream, say)
    say(f"# end: {_load()}")


def _stream_table(stream: dict, n: int, say) -> None:
    say(f"    {'specs':18s} {'predict_latency loop':>22s} {'predict_many':>16s} {'many / loop':>12s}")
    for i in range(len(stream["loop"][0])):
        lo, ma = [r[i] for r in stream["loop"]], [r[i] for r in stream["many"]]
        span = f"{i * STREAM_CHUNK + 1:,}-{min((i + 1) * STREAM_CHUNK, n):,}"
        say(f"    {span:18s} {min(lo):>11,.0f} / {statistics.median(lo):<8,.0f} {min(ma):>7,.0f} / "
            f"{statistics.median(ma):<6,.0f} {statistics.median(ma) / statistics.median(lo):>10.2f}x")


def _speed_only(args) -> int:
    """``--speed-only``: the speed lines alone, with ``--table`` (or this machine's table), to
    ``--out``; no reference timing, no accuracy."""
    import gc
    from archlab.cost.predictor import cpu_model, get_table, random_specs
    say, lines = _reporter()
    table = get_table(table=args.table or None)
    say(f"# bench_latency_predictor --speed-only: {args.n} random specs (seed {args.seed}); {cpu_model()}, "
        f"python {platform.python_version()}; table {table.path} ({len(table.samples)} profiled kernels)")
    say(f"# garbage collector on (thresholds {gc.get_threshold()}); start: {_load()}")
    _speed_lines(random_specs(args.n, args.seed), table, args, say)
    print(f"wrote {_write_report(args.out, lines)}")
    return 0


def _rescore(args) -> int:
    """``--rescore``: the accuracy lines of ``--table`` against the cached references, which must
    come from the table's CPU and cover the same specs (else a clear error)."""
    from archlab.cost.predictor import get_table, predict_latency, random_specs
    table = get_table(table=args.table)
    path = Path(args.measured)
    if not path.is_file():
        raise SystemExit(f"--rescore: no cached reference timings at {path}")
    d = json.loads(path.read_text())
    cpu = table.key.get("cpu")
    if d["key"].get("cpu") != cpu:
        raise SystemExit(f"--rescore: {path} was measured on {d['key'].get('cpu')!r}, the table {args.table} "
                         f"profiled on {cpu!r}: their errors would measure the machines, not the predictor")
    n, seed = d["key"]["n"], d["key"]["seed"]
    specs = random_specs(n, seed)
    calib = random_specs(len(table.overhead.get("scale_measured_ms") or []), table.overhead.get("scale_seed", 7))
    own = d["measured"]
    if [m["spec"] for m in own] != [s.name for s in specs + calib]:
        raise SystemExit(f"--rescore: {path} does not hold the {n} specs of seed {seed} and the table's "
                         "calibration specs")
    say, lines = _reporter()
    say(f"# bench_latency_predictor --rescore: table {args.table} ({len(table.samples)} kernels, profiled on {cpu}); "
        f"references {path} (measured {d['when']} UTC on that CPU, {n} specs of seed {seed})")
    own, own_calib = own[:n], own[n:]
    preds = [predict_latency(s, table=table)["predicted_ms"] for s in specs]
    scaled = [predict_latency(s, table=table, calibration="scale")["predicted_ms"] for s in specs]
    _accuracy_lines({"linear": preds, "scale": scaled}, own, [], say)
    if own_calib:
        _refit_lines(table, specs, calib, own, own_calib, say)
    print(f"wrote {_write_report(args.out, lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
