"""Adapters around the third-party complexity counters, all returning one record.

Every adapter runs its counter on a ``(1, C, H, W)`` input (batch 1, the model in eval mode, on a
deep copy wherever the counter mutates the model) and returns a :class:`CounterResult`:

``counter`` / ``version``
    the adapter name (a key of :data:`COUNTERS`) and the installed package's version;
``unit``
    ``'MACs'`` or ``'FLOPs'`` -- what the counter *means*, whatever it calls it: fvcore's "flops",
    thop's "ops"/"macs" and ptflops' "GMac" are multiply-accumulates (one fused multiply-add = 1);
    ``torch.utils.flop_counter`` counts FLOPs (``2 x MACs`` for matmul and convolution);
``total``
    the counter's total, exactly as it reports it (no rescaling);
``by_operator``
    the counter's own breakdown by operator, in its own vocabulary (fvcore handler names, module
    class names for the module-hook counters, aten op names for the dispatch-based ones);
``by_module``
    module path (as ``model.named_modules()`` names it, ``''`` for the root) -> what the counter
    attributes to that module *itself*, i.e. exclusive of its submodules (counters that report
    inclusive sums -- fvcore, torch -- are converted); zero entries are dropped. Values a counter
    cannot attribute to a module (ptflops' patched functional calls) are put on ``''``;
``unsupported``
    op (or module type) name -> number of calls the counter skipped, i.e. treated as zero without
    having a rule for it. fvcore: its ``unsupported_ops()`` (ops outside its ignore list);
    thop / ptflops-pytorch: leaf module types without a hook rule (functional calls are not even
    seen: see :mod:`archlab.cost.conventions`); ptflops-aten / torch: aten ops executed at the
    top dispatch level that the counter has no formula for, leaving out pure view / memory ops
    (:data:`SHAPE_OPS`);
``seconds``
    wall time of the counter call itself.

Which ops each counter counts, and with which weights, is pinned down in
:mod:`archlab.cost.conventions`, which reproduces every counter's total exactly from the analytic
op list.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import io
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import metadata

import torch
from torch import nn

from ..spec import parse_size

__all__ = ["CounterResult", "flush_denormal", "pinned_threads", "COUNTERS", "run_counter", "count_fvcore", "count_thop", "count_ptflops_pytorch",
           "count_ptflops_aten", "count_torch", "exclusive_by_module", "inclusive_by_module", "parse_input_size",
           "SHAPE_OPS"]


@dataclass
class CounterResult:
    """One counter's answer for one model at one input size (see the module docstring)."""

    counter: str
    version: str
    unit: str
    total: int | float
    by_operator: dict = field(default_factory=dict)
    by_module: dict = field(default_factory=dict)
    unsupported: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __repr__(self) -> str:
        unsup = f", unsupported={dict(self.unsupported)}" if self.unsupported else ""
        return (f"CounterResult({self.counter} {self.version}: {self.total:,} {self.unit}, "
                f"{self.seconds:.3f} s{unsup})")


#: aten ops that only reshape, view, copy or allocate: not reported as "unsupported" for the
#: dispatch-based counters (no counter prices them).
SHAPE_OPS = frozenset({
    "view", "_unsafe_view", "reshape", "t", "transpose", "permute", "expand", "unsqueeze", "squeeze", "select",
    "slice", "split", "split_with_sizes", "chunk", "cat", "clone", "contiguous", "detach", "alias", "empty",
    "empty_like", "zeros", "zeros_like", "ones", "ones_like", "new_empty", "new_zeros", "copy_", "_to_copy",
    "lift_fresh", "flatten", "as_strided", "unbind", "narrow", "stack", "fill_", "zero_", "resize_",
    "empty_strided", "_reshape_alias", "unsafe_split", "unsafe_split_with_sizes", "_local_scalar_dense",
})


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def parse_input_size(input_size, in_channels: int = 3) -> tuple[int, int, int]:
    """``(H, W)``, ``(C, H, W)`` or ``'HxW'`` -> ``(C, H, W)`` (:func:`archlab.spec.parse_size`)."""
    return parse_size(input_size, "input size", channels=in_channels)


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    for t in list(model.parameters()) + list(model.buffers()):
        if t.device.type == "meta":
            raise ValueError("the counters run the model: build it on a real device, not device='meta'")


def _in_channels(model) -> int:
    spec = getattr(model, "spec", None)
    return int(getattr(spec, "in_channels", 3)) if spec is not None else 3


def _input(model, input_size) -> torch.Tensor:
    c, h, w = parse_input_size(input_size, _in_channels(model))
    p = next(iter(model.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None else torch.float32
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, c, h, w, generator=g, dtype=dtype).to(device)


@contextlib.contextmanager
def pinned_threads(n):
    """Run with torch's intra-op thread count set to ``n`` (``None``: unchanged), restored after;
    yields the count in effect. The one place counters and latency pin threads."""
    old = torch.get_num_threads()
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"threads must be a positive integer, got {n!r}")
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def flush_denormal():
    """Flush denormal floats to zero while inside (restored afterwards). archlab initialises conv
    weights with ``N(0, 0.001)`` (as HRNet does), so the activations of an untrained network
    underflow into denormals after a few layers, which makes CPU kernels 10-100x slower; counting
    does not depend on the values, and latency of a trained network does not see denormals."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)     # PyTorch's default (there is no getter to restore from)


@contextlib.contextmanager
def _eval(model):
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _num(v):
    """An int when the value is integral (thop returns floats, numpy ints elsewhere)."""
    f = float(v)
    return int(f) if f.is_integer() else f


def _clean(d: dict) -> dict:
    return {k: _num(v) for k, v in d.items() if v}


def exclusive_by_module(inclusive: dict) -> dict:
    """Inclusive per-module sums (a module's value includes its submodules') -> exclusive ones.

    A path's parent is the nearest ancestor path present in ``inclusive`` (``''`` is the root)."""
    keys = set(inclusive)
    out = dict(inclusive)
    for path, v in inclusive.items():
        if path == "":
            continue
        parts = path.split(".")
        for k in range(len(parts) - 1, -1, -1):
            parent = ".".join(parts[:k])
            if parent in keys:
                out[parent] -= v
                break
    return _clean(out)


def inclusive_by_module(exclusive: dict) -> dict:
    """Exclusive per-module values -> inclusive sums over every ancestor path (``''`` = total)."""
    out: dict = defaultdict(int)
    for path, v in exclusive.items():
        out[""] += v
        if path:
            parts = path.split(".")
            for k in range(1, len(parts) + 1):
                out[".".join(parts[:k])] += v
    return dict(out)


#: leaf module types that do nothing (not reported as unsupported by the module-hook counters).
_NO_OP_MODULES = (nn.Identity, nn.Flatten, nn.Dropout)


def _leaf_types(model) -> dict:
    return {n: type(m) for n, m in model.named_modules() if not list(m.children())}


def _count_calls(model, types_wanted) -> tuple[Counter, list]:
    """Forward hooks that count calls of leaf modules whose type is in ``types_wanted``."""
    calls: Counter = Counter()
    handles = []
    for n, m in model.named_modules():
        if not list(m.children()) and type(m) in types_wanted:
            handles.append(m.register_forward_hook(lambda mod, i, o, t=type(m).__name__: calls.update([t])))
    return calls, handles


def _denormal_free(fn):
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with flush_denormal():
            return fn(*args, **kwargs)
    return wrapped


# ----------------------------------------------------------------------------------------------
# fvcore

@_denormal_free
def count_fvcore(model: nn.Module, input_size) -> CounterResult:
    """fvcore ``FlopCountAnalysis`` (JIT trace; counts one fused multiply-add as one "flop", so
    the unit is MACs). Its unsupported ops -- ``aten::add``, ``aten::mul``, ``aten::sigmoid``,
    ``aten::mean``, ... -- are returned in ``unsupported`` instead of being dropped silently."""
    from fvcore.nn import FlopCountAnalysis
    _check_model(model)
    x = _input(model, input_size)
    with _eval(model):
        t0 = time.perf_counter()
        fca = FlopCountAnalysis(model, x)
        fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        logger = logging.getLogger("fvcore")
        old = logger.level
        logger.setLevel(logging.ERROR)
        try:
            total = fca.total()
            by_op = dict(fca.by_operator())
            by_mod_incl = dict(fca.by_module())
            unsupported = dict(fca.unsupported_ops())
        finally:
            logger.setLevel(old)
        seconds = time.perf_counter() - t0
    return CounterResult("fvcore", _version("fvcore"), "MACs", _num(total), _clean(by_op),
                         exclusive_by_module(by_mod_incl), dict(sorted(unsupported.items())), seconds)


# ----------------------------------------------------------------------------------------------
# thop

@_denormal_free
def count_thop(model: nn.Module, input_size) -> CounterResult:
    """thop ``profile`` (forward hooks on leaf modules; MACs). Runs on a deep copy: thop registers
    ``total_ops``/``total_params`` buffers and hooks on every module."""
    import thop
    from thop.profile import register_hooks
    _check_model(model)
    m = copy.deepcopy(model).eval()
    x = _input(m, input_size)
    leaf = _leaf_types(m)
    unknown = {t for t in leaf.values() if t not in register_hooks and not issubclass(t, _NO_OP_MODULES)}
    calls, handles = _count_calls(m, unknown)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        total, _params, layers = thop.profile(m, inputs=(x,), verbose=False, ret_layer_info=True)
    seconds = time.perf_counter() - t0
    for h in handles:
        h.remove()
    by_module: dict = {}

    def walk(prefix: str, tree: dict):
        for name, (ops, _p, sub) in tree.items():
            path = f"{prefix}.{name}" if prefix else name
            if sub:
                walk(path, sub)
            elif ops:
                by_module[path] = by_module.get(path, 0) + ops
    walk("", layers)
    own = total - sum(by_module.values())          # the root's own hook (a leaf model)
    if own:
        by_module[""] = own
    by_op: Counter = Counter()
    for path, v in by_module.items():
        by_op[leaf[path].__name__ if path in leaf else "?"] += v
    return CounterResult("thop", _version("thop"), "MACs", _num(total), _clean(by_op), _clean(by_module),
                         dict(sorted(calls.items())), seconds)


# ----------------------------------------------------------------------------------------------
# ptflops

@_denormal_free
def count_ptflops_pytorch(model: nn.Module, input_size) -> CounterResult:
    """ptflops ``get_model_complexity_info(backend='pytorch')``: forward hooks on the module types
    of ``ptflops.pytorch_ops.MODULES_MAPPING`` plus monkey-patched functionals (``F.relu``,
    ``F.interpolate``, ``F.adaptive_avg_pool2d``, ``F.softmax``, ``torch.bmm``, ``torch.add`` /
    ``Tensor.add``, ``torch.mul`` / ``Tensor.mul``, ...). MACs. Per-module values come from
    wrapping ptflops' own module hooks (``custom_modules_hooks``); the functional part cannot be
    attributed and is put on ``''`` (``by_operator['functional']``)."""
    from ptflops import get_model_complexity_info
    from ptflops.pytorch_ops import MODULES_MAPPING
    _check_model(model)
    m = copy.deepcopy(model).eval()
    c, h, w = parse_input_size(input_size, _in_channels(m))
    names = {id(mod): n for n, mod in m.named_modules()}
    leaf = _leaf_types(m)
    per_module: Counter = Counter()

    def wrap(hook):
        def wrapped(mod, inp, out):
            before = mod.__flops__
            hook(mod, inp, out)
            per_module[names.get(id(mod), "?")] += mod.__flops__ - before
        return wrapped

    custom = {t: wrap(MODULES_MAPPING[t]) for t in set(leaf.values()) if t in MODULES_MAPPING}
    unknown = {t for t in leaf.values() if t not in MODULES_MAPPING and not issubclass(t, _NO_OP_MODULES)}
    calls, handles = _count_calls(m, unknown)
    xin = _input(m, (c, h, w))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        macs, _params = get_model_complexity_info(
            m, (c, h, w), as_strings=False, print_per_layer_stat=False, verbose=False, backend="pytorch",
            custom_modules_hooks=custom, input_constructor=lambda _res: xin)
    seconds = time.perf_counter() - t0
    for hd in handles:
        hd.remove()
    if macs is None:
        raise RuntimeError("ptflops (pytorch backend) failed on this model; see its printed traceback")
    by_module = dict(per_module)
    functional = macs - sum(by_module.values())
    by_op: Counter = Counter()
    for path, v in by_module.items():
        by_op[leaf[path].__name__ if path in leaf else "?"] += v
    if functional:
        by_module[""] = by_module.get("", 0) + functional
        by_op["functional"] += functional
    return CounterResult("ptflops-pytorch", _version("ptflops"), "MACs", _num(macs), _clean(by_op),
                         _clean(by_module), dict(sorted(calls.items())), seconds)


class _AtenOps(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the aten ops executed at the top dispatch level (what ptflops-aten and
    ``FlopCounterMode`` see)."""

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def _aten_ops(model, x) -> Counter:
    mode = _AtenOps()
    with torch.no_grad(), mode:
        model(x)
    return mode.ops


def _aten_name(name: str) -> str:
    """In-place variants under their base name (``relu_`` -> ``relu``); ``_adaptive_avg_pool2d``
    as ``adaptive_avg_pool2d``."""
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return "adaptive_avg_pool2d" if name == "_adaptive_avg_pool2d" else name


def _unsupported_aten(ops: Counter, known: set) -> dict:
    out: Counter = Counter()
    for k, v in ops.items():
        if k in known or k in SHAPE_OPS:
            continue
        name = _aten_name(k)
        if name not in SHAPE_OPS:
            out[name] += v
    return dict(sorted(out.items()))


@_denormal_free
def count_ptflops_aten(model: nn.Module, input_size) -> CounterResult:
    """ptflops ``get_model_complexity_info(backend='aten')``: a ``TorchDispatchMode`` pricing only
    ``aten.convolution`` (incl. bias), ``aten.addmm`` (incl. bias), ``aten.mm``, ``aten.matmul``,
    ``aten.bmm``. MACs. It attributes per *top-level child* only (hooks on
    ``model.named_children()``, never removed -- hence the deep copy); ``by_module`` gives the
    top-level children (``stem``, ``transitions``, ``sem``, ``stages``, ``head``)."""
    from ptflops import get_model_complexity_info
    from ptflops import aten_engine
    from ptflops.aten_ops import ATEN_OPS_MAPPING
    _check_model(model)
    m = copy.deepcopy(model).eval()
    c, h, w = parse_input_size(input_size, _in_channels(m))
    xin = _input(m, (c, h, w))
    captured = {}
    orig = aten_engine.FlopCounterMode

    class _Capture(orig):
        def __exit__(self, *args):
            r = super().__exit__(*args)
            captured["counts"] = {k: dict(v) for k, v in self.flop_counts.items()}
            return r

    aten_engine.FlopCounterMode = _Capture
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            macs, _params = get_model_complexity_info(
                m, (c, h, w), as_strings=False, print_per_layer_stat=False, verbose=False, backend="aten",
                input_constructor=lambda _res: xin)
    finally:
        aten_engine.FlopCounterMode = orig
    seconds = time.perf_counter() - t0
    if macs is None:
        raise RuntimeError("ptflops (aten backend) failed on this model; see its printed traceback")
    counts = captured.get("counts", {})
    by_op = Counter()
    for k, v in counts.get("Global", {}).items():
        by_op[str(k).replace("aten.", "")] += v
    incl = {"": macs}
    for name, d in counts.items():
        if name != "Global":
            incl[name] = sum(d.values())
    known = {p.__name__ for p in ATEN_OPS_MAPPING}
    unsupported = _unsupported_aten(_aten_ops(copy.deepcopy(model).eval(), xin), known)
    return CounterResult("ptflops-aten", _version("ptflops"), "MACs", _num(macs), _clean(by_op),
                         exclusive_by_module(incl), unsupported, seconds)


# ----------------------------------------------------------------------------------------------
# torch.utils.flop_counter

@_denormal_free
def count_torch(model: nn.Module, input_size) -> CounterResult:
    """``torch.utils.flop_counter.FlopCounterMode``: FLOPs (``2 x MACs``) of matmul-like ops and
    convolutions (bias never counted); nothing else. Per-module values from
    ``get_flop_counts()`` (inclusive, names prefixed with the root class) made exclusive."""
    from torch.utils.flop_counter import FlopCounterMode, flop_registry
    _check_model(model)
    x = _input(model, input_size)
    with _eval(model), torch.no_grad():
        t0 = time.perf_counter()
        fc = FlopCounterMode(display=False)
        with fc:
            model(x)
        total = fc.get_total_flops()
        counts = fc.get_flop_counts()
        seconds = time.perf_counter() - t0
        known = {p.__name__ for p in flop_registry}
        unsupported = _unsupported_aten(_aten_ops(model, x), known)
    root = type(model).__name__
    incl = {}
    by_op: Counter = Counter()
    for name, d in counts.items():
        v = sum(d.values())
        if name == "Global":
            for k, n in d.items():
                by_op[getattr(k, "__name__", str(k))] += n
            continue
        if name == root:
            path = ""
        elif name.startswith(root + "."):
            path = name[len(root) + 1:]
        else:
            continue
        incl[path] = v
    incl.setdefault("", total)
    return CounterResult("torch", torch.__version__, "FLOPs", _num(total), _clean(by_op), exclusive_by_module(incl),
                         unsupported, seconds)


#: adapter name -> function ``(model, input_size) -> CounterResult``.
COUNTERS = {
    "fvcore": count_fvcore,
    "thop": count_thop,
    "ptflops-pytorch": count_ptflops_pytorch,
    "ptflops-aten": count_ptflops_aten,
    "torch": count_torch,
}


def run_counter(name: str, model: nn.Module, input_size, *, threads: int | None = 1) -> CounterResult:
    """Run the counter called ``name`` (a key of :data:`COUNTERS`) on ``model`` with a
    ``(1, C, H, W)`` input; ``input_size`` is ``(H, W)``, ``(C, H, W)`` or ``'HxW'``.

    ``threads`` (default 1; ``None`` keeps the current setting) is set for the run and restored:
    counts do not depend on it, and intra-op threads on a busy machine can slow the forward pass
    down by two orders of magnitude."""
    if name not in COUNTERS:
        raise ValueError(f"unknown counter {name!r}; choose one of {sorted(COUNTERS)}")
    with pinned_threads(threads):
        return COUNTERS[name](model, input_size)
