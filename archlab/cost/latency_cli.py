"""``archlab latency``: a network's latency in a deployment runtime, measured or predicted.

* ``archlab latency TARGET [--runtime eager|onnxruntime|compile] [--input-size HxW] [--batch B]
  [--threads T] [--repeats N] [--json]`` -- measured (:func:`archlab.cost.runtime.measure`);
* ``archlab latency TARGET --predict [--runtime onnxruntime] [--threads T] [--json]`` --
  predicted from the spec alone by :func:`archlab.cost.predictor.predict_latency`.

TARGET is a zoo name, a spec YAML or a training checkpoint (``.pt``).
"""
from __future__ import annotations

import json
import sys

__all__ = ["register", "cmd_latency", "format_result"]

#: the runtimes of :data:`archlab.cost.runtime.RUNTIMES` (not imported here: the parser stays light)
_RUNTIMES = ("eager", "onnxruntime", "compile")


def register(subparsers) -> None:
    p = subparsers.add_parser("latency", help="latency in a deployment runtime (ONNX Runtime by default), "
                              "measured or --predict'ed", description=__doc__.split("\n\n")[0])
    p.add_argument("target", help="zoo name (see `archlab models`), spec YAML or training checkpoint (.pt)")
    p.add_argument("--runtime", default="onnxruntime", choices=_RUNTIMES, help="default onnxruntime")
    p.add_argument("--input-size", metavar="HxW", help="input size (default: the spec's)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs; median/IQR/min over them (default 7)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    p.add_argument("--no-check", action="store_true", help="skip the ONNX/compile vs eager output check")
    p.add_argument("--predict", action="store_true", help="predict from the spec (lookup table) instead of "
                   "measuring")
    p.add_argument("--calibration", default="linear", choices=("linear", "scale", "none"),
                   help="with --predict: summed kernels to a network's time by a factor plus a per-kernel "
                        "offset (linear, default) or by one factor (scale), both fitted on the table's "
                        "calibration networks, or summed as they are (none)")
    p.add_argument("--table", metavar="JSON", help="with --predict: a latency table file (default: this machine's "
                   "cached table, profiled on first use)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (same keys as the Python API)")
    p.set_defaults(func=cmd_latency)


def _machine_line(m: dict) -> str:
    libs = ", ".join(f"{k} {m[k]}" for k in ("torch", "onnxruntime", "onnx", "python") if m.get(k))
    load = f", load {m['load_avg_1m']:.2f}" if m.get("load_avg_1m") is not None else ""
    return "; ".join(p for p in (f"{m.get('cpu')} ({m.get('cpu_count')} CPUs{load})", libs) if p)


def format_result(d: dict) -> str:
    """Readable text for a :meth:`RuntimeLatency.as_dict` result.

    >>> print(format_result({"model": "m", "runtime": "eager", "median_ms": 2.0, "iqr_ms": 0.1, "min_ms": 1.9,
    ...     "threads": 1, "batch": 1, "input_size": [64, 48], "repeats": 7, "cpu_median_ms": 1.95,
    ...     "machine": {"cpu": "X", "cpu_count": 2, "load_avg_1m": 0.5, "torch": "2.13"}}))
    m: eager, input 64x48, batch 1, 1 thread(s): median 2.00 ms, IQR 0.10 ms, min 1.90 ms (7 runs); CPU time per run 1.95 ms
      machine: X (2 CPUs, load 0.50); torch 2.13
    """
    h, w = d["input_size"]
    line = (f"{d['model']}: {d['runtime']}, input {h}x{w}, batch {d['batch']}, {d['threads']} thread(s): "
            f"median {d['median_ms']:.2f} ms, IQR {d['iqr_ms']:.2f} ms, min {d['min_ms']:.2f} ms "
            f"({d['repeats']} runs)")
    if d.get("cpu_median_ms") is not None:
        line += f"; CPU time per run {d['cpu_median_ms']:.2f} ms"
    if d.get("parity_rel_err") is not None:
        line += f"; max rel. error vs eager {d['parity_rel_err']:.1e}"
    return line + "\n  machine: " + _machine_line(d.get("machine", {}))


def _predict(args):
    try:
        from .predictor import predict_latency
    except ImportError as e:
        raise ValueError(f"--predict needs archlab.cost.predictor, which is not available in this build ({e})") \
            from e
    from ..nets.factory import resolve_spec
    spec = resolve_spec(args.target)
    return predict_latency(spec, runtime=args.runtime, threads=args.threads, batch=args.batch,
                           input_size=args.input_size, table=args.table, calibration=args.calibration)


def cmd_latency(args) -> int:
    from .runtime import ExportError, ExportMismatch, RuntimeUnavailable, measure
    try:
        if args.predict:
            d = _predict(args)
            if args.json:
                print(json.dumps(d, indent=2, default=str))
            else:
                size = d.get("input_size")
                size = f"{size[0]}x{size[1]}" if isinstance(size, (list, tuple)) else size
                print(f"{args.target}: predicted {d['predicted_ms']:.2f} ms in {d.get('runtime')}, input {size}, "
                      f"batch {d.get('batch')}, {d.get('threads')} thread(s) (table: {d.get('table')}, "
                      f"{d.get('calibration')} calibration)")
            return 0
        r = measure(args.target, args.runtime, input_size=args.input_size, batch=args.batch, threads=args.threads,
                    repeats=args.repeats, warmup=args.warmup, check=not args.no_check)
    except (RuntimeUnavailable, ExportError, ExportMismatch) as e:
        print(f"archlab latency: error: {e}", file=sys.stderr)
        return 2
    d = r.as_dict()
    print(json.dumps(d, indent=2) if args.json else format_result(d))
    return 0
