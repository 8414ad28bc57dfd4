"""Predicting a spec's latency from the table, kernel by kernel, without building the network.

The spec's op segments (:mod:`archlab.cost.analytic`, memoised per block and module) are walked
in forward order; each segment's kernels and their summed time are memoised per table, so a
search that revisits blocks pays a few dictionary look-ups per segment. A convolution that ends
one segment and the residual/fuse ``add`` that starts the next are stitched into one fused
kernel, as ORT fuses them.
"""
from __future__ import annotations

import gc
import statistics
from contextlib import contextmanager

from pathlib import Path

from ...spec import NetworkSpec
from ..analytic import _check_input_size, _segments
from ..memo import evict as memo_evict
from .kernels import kernels_of
from .table import LatencyTable, LatencyTableError, check_request, load_or_build

__all__ = ["predict_latency", "predict_many", "frozen_gc", "clear_memos", "predict_ms", "get_table",
           "network_calibration",
           "network_scale", "fit_calibration",
           "apply_calibration", "CALIBRATIONS"]

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
        table = _load_path(table)
    elif not isinstance(table, LatencyTable):
        raise TypeError(f"table must be a LatencyTable or a path, got {type(table).__name__}")
    for name, want in (("runtime", runtime), ("threads", threads), ("batch", batch)):
        if table.key.get(name) != want:
            raise LatencyTableError(f"the latency table {table.path or ''} was profiled for {name}="
                                    f"{table.key.get(name)!r}, not {want!r}")
    return table


def _load_path(path) -> LatencyTable:
    """A table file, loaded once per (path, modification time): callers that name the file on every
    prediction (a search space's ``latency.table``) neither re-read it nor lose its memos, and a
    rewritten file is read again."""
    p = Path(path).resolve()
    if not p.is_file():
        raise FileNotFoundError(f"latency table not found: {path}")
    key = ("file", str(p), p.stat().st_mtime_ns)
    if key not in _TABLES:
        _TABLES[key] = LatencyTable.load(p)
    return _TABLES[key]


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


def clear_memos(table: LatencyTable) -> None:
    """Forget every memoised prediction: ``table``'s kernels and network entries, and the analytic
    walk's blocks and modules (:func:`~archlab.cost.analytic.clear_caches`): the next prediction
    is as cold as a fresh process's (for cold-start timings and tests)."""
    from ..analytic import clear_caches
    table.clear_memo()
    table.__dict__.pop("_bodies", None)
    clear_caches()


def _memo_of(table: LatencyTable) -> dict:
    """The table's entry memo, its oldest quarter evicted when full (between networks only: a
    network's walk relies on the entries it found present)."""
    memo = table.__dict__.get("_bodies")
    if memo is None:
        memo = table.__dict__["_bodies"] = {}
    elif len(memo) >= _MEMO_MAX:
        memo_evict(memo, _MEMO_MAX)
    return memo


def _ends(body, ks) -> tuple:
    """``(first add, last conv, its output numel)`` of one run of ops and its kernels ``ks``: the
    kernels :func:`_fold` may fuse with a neighbouring segment's (None where there is none)."""
    first = ks[0] if ks and ks[0][0] == "add" else None
    last = ks[-1] if ks and ks[-1][0] == "conv" and ks[-1][8] == "" and not ks[-1][11] else None
    out = None
    if last is not None:
        out = next(o.get("out_numel") for o in reversed(body) if o.op == "conv")
    return first, last, out


def _body_entry(table: LatencyTable, body, ks, ends) -> tuple:
    """``(body, kernels, ms, first add, last conv, its output numel)`` of one run of ops."""
    return (body, len(ks), table.sum_ms(ks) + _reorders(table, ks), *ends)


def _merged(conv: tuple, add: tuple) -> tuple:
    """The one kernel ORT runs for ``conv`` followed by the residual ``add`` (+ ReLU) it feeds."""
    return conv[:8] + ("relu" if add[2] else "",) + conv[9:11] + (1,)


def _seam(open_conv, add) -> tuple | None:
    """Where a segment that ends in a convolution (``open_conv = (conv kernel, its output
    numel)``, None where it does not) meets one that starts with the residual ``add`` of that
    output (None where it does not): the one fused kernel ORT runs for both, else None. The
    rule :func:`_fold` and :func:`_new_bodies` share."""
    if open_conv is None or add is None or add[1] != open_conv[1]:
        return None
    return _merged(open_conv[0], add)


def _fold(table: LatencyTable, body, parts) -> tuple:
    """The entries ``parts`` of consecutive segments folded into one entry: a convolution that
    ends one part and the residual ``add`` that starts the next are one fused kernel in ORT."""
    total, n = 0.0, 0
    first = open_conv = None
    for i, (_, count, ms, f, last, out) in enumerate(parts):
        if i == 0:
            first = f
        else:
            fused = _seam(open_conv, f)
            if fused is not None:
                total += table.kernel_ms(fused) - table.kernel_ms(open_conv[0]) - table.kernel_ms(f)
                count -= 1
        total += ms
        n += count
        open_conv = (last, out) if last is not None else None
    last, out = open_conv if open_conv is not None else (None, None)
    return (body, n, total, first, last, out)


def _new_bodies(memo: dict, segments, out: dict, merged: list) -> tuple:
    """The op runs under ``segments`` whose entries are not memoised yet, into ``out`` (memoised
    module segments are not entered), and the fused kernels :func:`_fold` will ask for where two
    neighbouring segments meet, into ``merged`` (so that they are predicted in the same batch).
    Returns the ``(first add, last conv, its output numel)`` of ``segments`` folded."""
    first = open_conv = None
    for i, (_prefix, body, _summary, is_node) in enumerate(segments):
        e = memo.get(id(body))
        if e is not None and e[0] is body:
            ends = e[3:]
        elif is_node:
            ends = _new_bodies(memo, body, out, merged)
        else:
            hit = out.get(id(body))
            if hit is None:
                ks = kernels_of(body)
                hit = out[id(body)] = (body, ks, _ends(body, ks))
            ends = hit[2]
        f, last, n = ends
        if i == 0:
            first = f
        else:
            fused = _seam(open_conv, f)
            if fused is not None:
                merged.append(fused)
        open_conv = (last, n) if last is not None else None
    return (first, *(open_conv if open_conv is not None else (None, None)))


def _entry(table: LatencyTable, memo: dict, body, is_node: bool, new: dict, keep: bool = True) -> tuple:
    e = memo.get(id(body))
    if e is not None and e[0] is body:
        return e
    if is_node:
        e = _fold(table, body, [_entry(table, memo, b, nd, new) for _p, b, _s, nd in body])
    else:
        _b, ks, ends = new[id(body)]
        e = _body_entry(table, body, ks, ends)
    if keep:
        memo[id(body)] = e
    return e


def _network_entry(table: LatencyTable, segments) -> tuple:
    """The folded entry of a network's segments. Module segments are memoised by the analytic
    walk (the same tuple for the same module), so their entries are memoised here: a search that
    revisits modules pays one dictionary look-up per module; the kernels of new op runs are
    predicted in one batch first. The stem, transitions, SEMs and head are memoised leaves of
    the analytic walk too, so a network is its segments' entries folded."""
    memo = _memo_of(table)
    new, merged = {}, []
    _new_bodies(memo, segments, new, merged)
    if new or merged:
        table.prefetch([k for _b, ks, _e in new.values() for k in ks] + merged)
    return _fold(table, None, [_entry(table, memo, b, nd, new) for _p, b, _s, nd in segments])


#: How summed kernel times become a network's time, fitted on the table's calibration networks
#: (random specs of ``overhead['scale_seed']`` measured when the table was built, median run):
#:
#: * ``linear`` (default): ``scale * kernel sum + per_kernel_ms * kernels``, by least relative
#:   squares. Kernels timed inside profiled networks keep a few microseconds each of the
#:   profiler's own time, which a factor cannot take out: with one factor small-kernel networks
#:   (Lite-HRNet types, ~10 us per kernel) came out 15-25% slow and large-kernel ones 10% fast.
#: * ``scale``: one factor, the median of measured / summed (what the LSPET search predicted with).
#: * ``none``: the summed kernels as they are (for diagnostics and refits).
CALIBRATIONS = ("linear", "scale", "none")


def _check_calibration(calibration: str) -> str:
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration: expected one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    return calibration


def fit_calibration(summed, kernels, measured, calibration: str = "linear") -> tuple[float, float]:
    """``(scale, per_kernel_ms)`` from networks' summed kernel times (ms), kernel counts and
    measured times (ms). ``linear`` minimises the squared relative error of
    ``scale * summed + per_kernel_ms * kernels``; with fewer than 3 networks, or a fit that would
    predict a non-positive time for one of them, it falls back to ``scale``."""
    _check_calibration(calibration)
    if not measured or calibration == "none":
        return 1.0, 0.0
    ratio = statistics.median(m / p for p, m in zip(summed, measured))
    if calibration == "scale" or len(measured) < 3:
        return ratio, 0.0
    import numpy as np
    m = np.asarray(measured, dtype=float)
    A = np.column_stack([np.asarray(summed, dtype=float) / m, np.asarray(kernels, dtype=float) / m])
    (s, b), *_ = np.linalg.lstsq(A, np.ones(len(m)), rcond=None)
    if s <= 0 or np.any(A @ np.array([s, b]) <= 0):
        return ratio, 0.0
    return float(s), float(b)


def network_calibration(table: LatencyTable, calibration: str = "linear") -> tuple[float, float]:
    """``(scale, per_kernel_ms)`` of ``table`` under ``calibration`` (:data:`CALIBRATIONS`), fitted
    on first use on the table's calibration networks; ``(1, 0)`` for a table without them."""
    _check_calibration(calibration)
    fits = table.__dict__.setdefault("_calibrations", {})
    if calibration not in fits:
        measured = table.overhead.get("scale_measured_ms")
        raw = table.__dict__.get("_calibration_sums")
        if raw is None:
            raw = []
            if measured:
                from .sample import random_specs
                specs = random_specs(len(measured), table.overhead["scale_seed"])
                raw = [_summed(sp, tuple(sp.input_size), table) for sp in specs]
            table._calibration_sums = raw
        fits[calibration] = fit_calibration([r[0] for r in raw], [r[1] for r in raw], measured or [], calibration)
    return fits[calibration]


def network_scale(table: LatencyTable) -> float:
    """The one-factor calibration's factor (``network_calibration(table, 'scale')[0]``)."""
    return network_calibration(table, "scale")[0]


def _summed(spec, size, table: LatencyTable) -> tuple[float, int]:
    """``(per-run overhead + summed kernel times in ms, kernel count)``: the uncalibrated prediction."""
    gc_on = gc.isenabled()
    gc.disable()        # no reference cycles are made here; collections over the memos cost half the time
    try:
        _, n, total, _f, _l, _o = _network_entry(table, _segments(spec, size))
    finally:
        if gc_on:
            gc.enable()
    return table.overhead["run_ms"] + total, n


def predict_ms(spec, input_size, table: LatencyTable, calibration: str = "linear") -> tuple[float, int]:
    """``(predicted ms, kernel count)`` of a :class:`NetworkSpec` at ``input_size`` (a
    ``linear`` calibration is kept at or above half the scaled sum: a guard for networks of far
    smaller kernels than any calibration network)."""
    summed, n = _summed(spec, _check_input_size(spec, input_size), table)
    return apply_calibration(summed, n, *network_calibration(table, calibration)), n


def apply_calibration(summed: float, kernels: int, scale: float, per_kernel_ms: float) -> float:
    """``scale * summed + per_kernel_ms * kernels``, kept at or above half the scaled sum."""
    return max(scale * summed + per_kernel_ms * kernels, 0.5 * scale * summed)


@contextmanager
def frozen_gc():
    """A block of many predictions, the garbage collector's full collections kept off the memos.

    The memos the predictor grows (analytic op records, kernel entries: ~0.9 M tracked objects
    after a few thousand specs) make every full collection traverse them, which took 35-50% of a
    stream of never-seen specs. Inside this block every object that exists (the memos included) is
    frozen (:func:`gc.freeze`) at its start and again after each :func:`predict_many` prediction,
    and :func:`gc.unfreeze` at its end returns them all to the collector: nothing stays exempt
    after the block. Reference counting frees as usual meanwhile (an evicted memo entry is freed at
    once); only cyclic garbage made inside the block waits for its end. The collector is also
    paused for the block (and its earlier state restored): with everything frozen after each
    prediction there is nothing for it to find, and its young-generation passes over each new
    network's op records cost ~6% of a cold stream. In a process that already froze objects
    (``gc.get_freeze_count() > 0``, e.g. a pre-fork server) it does nothing, so as not to
    unfreeze them."""
    if gc.get_freeze_count() > 0:
        yield False
        return
    was_on = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield True
    finally:
        gc.unfreeze()
        if was_on:
            gc.enable()


def predict_many(specs, *, runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, input_size=None,
                 table=None, calibration: str = "linear", progress: bool = False) -> list[dict]:
    """:func:`predict_latency` of each of ``specs`` (one table, looked up once), inside
    :func:`frozen_gc`: what a search screening many candidates should call (1.4-2.0x the speed of
    a plain loop over a stream's first 3,000 never-seen specs; from cold memos 1,100 specs/s on the
    first thousand random specs of the whole option space, 2,000-4,000 on specs drawn from
    ``studies/search_lspet.yaml``; ``benchmarks/bench_latency_predictor.py --speed-only``).
    ``progress`` shows a progress bar."""
    from tqdm.auto import tqdm
    specs = list(specs)
    tab = get_table(runtime, threads, batch, table)
    out = []
    with frozen_gc() as frozen:
        for s in tqdm(specs, desc="predicting latency", unit="spec", disable=not progress):
            out.append(predict_latency(s, runtime=runtime, threads=threads, batch=batch, input_size=input_size,
                                       table=tab, calibration=calibration))
            if frozen:
                gc.freeze()
    return out


def _resolve(spec):
    if isinstance(spec, NetworkSpec):
        return spec
    if isinstance(spec, (str, Path)):
        from ...nets.factory import resolve_spec
        return resolve_spec(spec)
    raise TypeError(f"predict_latency expects a NetworkSpec, a zoo name or a spec YAML, got {type(spec).__name__}")


def predict_latency(spec, *, runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, input_size=None,
                    table=None, calibration: str = "linear") -> dict:
    """Predicted inference latency of ``spec`` (a :class:`NetworkSpec`, zoo name or YAML path)
    in ``runtime`` with ``threads`` intra-op threads at ``batch``, from the spec alone.

    ``table``: a :class:`LatencyTable` or its path; default: this machine's cached table for
    the setting (profiled on first use, a few minutes). Returns ``predicted_ms``, ``runtime``,
    ``threads``, ``batch``, ``input_size`` ([h, w]), ``table`` (the table's path) and
    ``kernels`` (how many kernels were summed) and ``calibration`` (:data:`CALIBRATIONS`: how the
    summed kernels become a network's time)."""
    check_request(runtime, threads, batch)
    _check_calibration(calibration)
    s = _resolve(spec)
    tab = get_table(runtime, threads, batch, table)
    size = _check_input_size(s, input_size)
    ms, n = predict_ms(s, size, tab, calibration)
    return {"predicted_ms": ms, "runtime": runtime, "threads": threads, "batch": batch, "input_size": list(size),
            "table": tab.path, "kernels": n, "calibration": calibration}
