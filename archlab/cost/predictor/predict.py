"""Predicting a spec's latency from the table, kernel by kernel, without building the network.

The spec's op segments (:mod:`archlab.cost.analytic`, memoised per block and module) are walked
in forward order; each segment's kernels and their summed time are memoised per table, so a
search that revisits blocks pays a few dictionary look-ups per segment. A convolution that ends
one segment and the residual/fuse ``add`` that starts the next are stitched into one fused
kernel, as ORT fuses them.
"""
from __future__ import annotations

import statistics

from pathlib import Path

from ..analytic import _check_input_size, _segments
from .kernels import kernels_of
from .table import LatencyTable, LatencyTableError, check_request, load_or_build

__all__ = ["predict_latency", "predict_ms", "get_table"]

_TABLES: dict = {}
_MEMO_MAX = 50000


def get_table(runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, table=None,
              progress: bool = True) -> LatencyTable:
    """``table`` (a :class:`LatencyTable` or a path), else this machine's cached table for the
    setting (profiled on first use). A table for another setting is refused."""
    check_request(runtime, threads, batch)
    if table is None:
        ck = (runtime, threads, batch)
        if ck not in _TABLES:
            _TABLES[ck] = load_or_build(runtime, threads, batch, progress=progress)
        table = _TABLES[ck]
    elif isinstance(table, (str, Path)):
        table = LatencyTable.load(table)
    elif not isinstance(table, LatencyTable):
        raise TypeError(f"table must be a LatencyTable or a path, got {type(table).__name__}")
    for name, want in (("runtime", runtime), ("threads", threads), ("batch", batch)):
        if table.key.get(name) != want:
            raise LatencyTableError(f"the latency table {table.path or ''} was profiled for {name}="
                                    f"{table.key.get(name)!r}, not {want!r}")
    return table


def _walk(segments, out: list) -> list:
    for _prefix, body, _summary, is_node in segments:
        if is_node:
            _walk(body, out)
        else:
            out.append(body)
    return out


_LAYOUT_FREE = frozenset(("add", "act", "mul_scalar", "pool", "cat"))


def _nchw_only(table: LatencyTable, key: tuple) -> bool:
    """Whether ORT runs ``key`` in plain NCHW layout only (so NCHWc data is reordered for it)."""
    kind = key[0]
    if kind == "conv":
        return table.kernel(key)[2] < 0.5
    if kind in _LAYOUT_FREE:
        return False
    if kind == "upsample":
        return key[1] != "nearest"
    if kind == "mul":
        return bool(key[2])
    return True


def _reorders(table: LatencyTable, ks: list) -> float:
    """NCHWc reorders of a kernel sequence: an NCHWc convolution next to an NCHW-only kernel
    pays the reorder its profiled copy paid at that side."""
    if not REORDERS:
        return 0.0
    total = 0.0
    last = len(ks) - 1
    for i, k in enumerate(ks):
        if k[0] != "conv":
            continue
        _, _, nchwc, rin, rout = table.kernel(k)
        if nchwc < 0.5:
            continue
        if i > 0 and _nchw_only(table, ks[i - 1]):
            total += rin
        if i < last and _nchw_only(table, ks[i + 1]):
            total += rout
    return total


#: NCHWc reorders modelled from kernel adjacency: off (the profiled kernels' times already
#: predict networks better without them on the benchmark's specs)
REORDERS = False


def _body_entry(table: LatencyTable, body, ks=None) -> tuple:
    memo = table.__dict__.setdefault("_bodies", {})
    e = memo.get(id(body))
    if e is not None and e[0] is body:
        return e
    if ks is None:
        ks = kernels_of(body)
    total = sum(table.kernel_ms(k) for k in ks) + _reorders(table, ks)
    first = ks[0] if ks and ks[0][0] == "add" else None
    last = ks[-1] if ks and ks[-1][0] == "conv" and ks[-1][8] == "" and not ks[-1][11] else None
    out = None
    if last is not None:
        out = next(o.get("out_numel") for o in reversed(body) if o.op == "conv")
    e = (body, len(ks), total, first, last, out)
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[id(body)] = e
    return e


def _entries(table: LatencyTable, bodies: list) -> list:
    """Memoised body entries; the kernels of new bodies are predicted in one batch first."""
    memo = table.__dict__.setdefault("_bodies", {})
    new = {}
    for b in bodies:
        e = memo.get(id(b))
        if (e is None or e[0] is not b) and id(b) not in new:
            new[id(b)] = kernels_of(b)
    if new:
        table.prefetch(k for ks in new.values() for k in ks)
    return [_body_entry(table, b, new.get(id(b))) for b in bodies]


def network_scale(table: LatencyTable) -> float:
    """One factor from summed kernels to whole networks, fitted when first needed: the median of
    measured / predicted over the table's calibration networks (``overhead['scale_measured_ms']``,
    random specs of ``overhead['scale_seed']`` measured when the table was built). A kernel
    profiled alone, its inputs just written by a producer, runs faster than inside a network
    whose other kernels compete for the caches; this factor carries that. Fitted against the
    median run (what ``archlab latency`` reports first): on a shared machine a network's fastest
    run is 10-25% below its median, and the minimum of N runs drifts down as N grows. 1 for a
    table without calibration networks."""
    s = table.__dict__.get("_scale")
    if s is None:
        measured = table.overhead.get("scale_measured_ms")
        table._scale = 1.0                      # unscaled predictions while fitting
        if measured:
            from .sample import random_specs
            specs = random_specs(len(measured), table.overhead["scale_seed"])
            table._scale = statistics.median(m / predict_ms(sp, tuple(sp.input_size), table)[0]
                                             for sp, m in zip(specs, measured))
        s = table._scale
    return s


def predict_ms(spec, input_size, table: LatencyTable) -> tuple[float, int]:
    """``(predicted ms, kernel count)`` of a :class:`NetworkSpec` at ``input_size``."""
    size = _check_input_size(spec, input_size)
    total = table.overhead["run_ms"]
    n = 0
    open_conv = None
    for _, count, ms, first, last, out in _entries(table, _walk(_segments(spec, size), [])):
        if open_conv is not None and first is not None and first[1] == open_conv[1]:
            conv = open_conv[0]
            merged = conv[:8] + ("relu" if first[2] else "",) + conv[9:11] + (1,)
            total += table.kernel_ms(merged) - table.kernel_ms(conv) - table.kernel_ms(first)
            count -= 1
        total += ms
        n += count
        open_conv = (last, out) if last is not None else None
    return total * network_scale(table), n


def _resolve(spec):
    from ...spec import NetworkSpec
    if isinstance(spec, NetworkSpec):
        return spec
    if isinstance(spec, (str, Path)):
        from ...nets.factory import resolve_spec
        return resolve_spec(spec)
    raise TypeError(f"predict_latency expects a NetworkSpec, a zoo name or a spec YAML, got {type(spec).__name__}")


def predict_latency(spec, *, runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, input_size=None,
                    table=None) -> dict:
    """Predicted inference latency of ``spec`` (a :class:`NetworkSpec`, zoo name or YAML path)
    in ``runtime`` with ``threads`` intra-op threads at ``batch``, from the spec alone.

    ``table``: a :class:`LatencyTable` or its path; default: this machine's cached table for
    the setting (profiled on first use, a few minutes). Returns ``predicted_ms``, ``runtime``,
    ``threads``, ``batch``, ``input_size`` ([h, w]), ``table`` (the table's path) and
    ``kernels`` (how many kernels were summed)."""
    check_request(runtime, threads, batch)
    s = _resolve(spec)
    tab = get_table(runtime, threads, batch, table)
    size = _check_input_size(s, input_size)
    ms, n = predict_ms(s, size, tab)
    return {"predicted_ms": ms, "runtime": runtime, "threads": threads, "batch": batch, "input_size": list(size),
            "table": tab.path, "kernels": n}
