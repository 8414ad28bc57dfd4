"""Measured latency in a deployment runtime: eager PyTorch, ONNX Runtime or ``torch.compile``.

``measure(target, runtime='onnxruntime', ...)`` times one network; ``measure_many(targets,
runtimes, ...)`` times several (target, runtime) pairs with their repeats *interleaved*
round-robin, so the noise of a shared machine hits every pair alike. ``target`` is an
``nn.Module``, a zoo name, a spec YAML path, a :class:`~archlab.spec.NetworkSpec` or a training
checkpoint (``.pt``: spec + weights, see :mod:`archlab.train.checkpoint`).

Runtimes:

* ``eager`` -- ``model(x)`` under ``torch.inference_mode`` with ``torch.set_num_threads(threads)``.
* ``onnxruntime`` (default) -- ``torch.onnx.export`` (TorchScript exporter, ``dynamo=False``,
  opset 17, constant folding, static shapes; the dynamo exporter is several times slower to export
  these networks and its opset conversion fails on Lite-HRNet), then an ORT CPU session with
  ``intra_op_num_threads=threads``, ``inter_op_num_threads=1``, sequential execution and every
  graph optimisation (``ORT_ENABLE_ALL``: BN folded into convs, activations fused).
* ``compile`` -- ``torch.compile`` (Inductor, C++ CPU kernels); raises :class:`RuntimeUnavailable`
  with the reason where it cannot compile (no C++ compiler, unsupported platform ...).

Untrained archlab networks (conv weights ``N(0, 0.001)``) underflow into denormal floats, which
slow CPU kernels 10-100x (see :mod:`archlab.cost.latency`); denormals are flushed during timing
(``torch.set_flush_denormal`` for eager/compile, ORT's ``session.set_denormal_as_zero``), as a
trained network never meets them.

With ``check=True`` the ONNX (or compiled) outputs are compared with eager on a fixed seeded
input: ``max|a - b| / max|b|`` must be <= 1e-4, else :class:`ExportMismatch` names the first module
(dotted path as in ``named_modules``) whose own output disagrees, found by exporting and running
the sub-modules on the inputs they receive. A network that cannot be exported raises
:class:`ExportError` naming the operator and the innermost module that holds it.
"""
from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["RUNTIMES", "PARITY_TOL", "OPSET", "RuntimeLatency", "RuntimeUnavailable", "ExportError",
           "ExportMismatch", "measure", "measure_many", "machine_info", "resolve_target", "export_onnx",
           "ort_session", "prepare", "time_interleaved", "relative_error"]

RUNTIMES = ("eager", "onnxruntime", "compile")
PARITY_TOL = 1e-4
OPSET = 17


class RuntimeUnavailable(RuntimeError):
    """The requested runtime cannot run here (not installed, no compiler ...)."""


class ExportError(RuntimeError):
    """The network cannot be exported to ONNX; the message names the operator and module."""


class ExportMismatch(RuntimeError):
    """The exported (or compiled) network disagrees with eager PyTorch beyond the tolerance."""


@dataclass
class RuntimeLatency:
    """One network's latency in one runtime: median / IQR / min over ``repeats`` timed runs (ms).

    ``cpu_median_ms`` is the median CPU time of the process per run (all its threads): on a loaded
    machine it stays near the unloaded latency at 1 thread while the wall-clock figures grow."""

    model: str
    runtime: str
    median_ms: float
    iqr_ms: float
    min_ms: float
    threads: int
    batch: int
    input_size: tuple
    repeats: int
    warmup: int
    machine: dict
    parity_rel_err: float | None = None
    prepare_s: float = 0.0
    cpu_median_ms: float | None = None
    times_ms: list = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        """JSON-ready dict: ``median_ms``, ``iqr_ms``, ``min_ms``, ``runtime``, ``threads``,
        ``batch``, ``input_size`` ([H, W]), ``machine``, ``repeats``, ``model`` and a few more."""
        return {"model": self.model, "runtime": self.runtime, "median_ms": self.median_ms, "iqr_ms": self.iqr_ms,
                "min_ms": self.min_ms, "threads": self.threads, "batch": self.batch,
                "input_size": list(self.input_size), "repeats": self.repeats, "warmup": self.warmup,
                "parity_rel_err": self.parity_rel_err, "prepare_s": self.prepare_s,
                "cpu_median_ms": self.cpu_median_ms, "machine": dict(self.machine)}


# ------------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(mod: str):
    try:
        return __import__(mod).__version__
    except Exception:       # not installed (or broken): recorded as absent
        return None


def machine_info() -> dict:
    """The machine a measurement ran on: CPU model, logical CPUs, load average, library versions.

    >>> sorted(machine_info())[:3]
    ['cpu', 'cpu_count', 'load_avg_1m']
    """
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "load_avg_1m": load, "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": _version("onnxruntime"),
            "onnx": _version("onnx")}


def _import_ort():
    try:
        import onnxruntime
    except ImportError as e:
        raise RuntimeUnavailable(f"runtime 'onnxruntime' needs ONNX Runtime: pip install onnxruntime ({e})") from e
    return onnxruntime


# ------------------------------------------------------------------------------------------------
def _is_checkpoint(target) -> bool:
    return isinstance(target, (str, Path)) and str(target).endswith((".pt", ".pth"))


def _load_checkpoint(path, input_size):
    """Model from a checkpoint holding ``spec`` (YAML text) and ``model`` (state dict); loaded with
    ``weights_only=True`` (the format of :mod:`archlab.train.checkpoint`)."""
    from ..nets.factory import create_model
    from ..spec import NetworkSpec
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200] if str(e) else ''})") from e
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("spec"), str) or "model" not in ckpt:
        raise ValueError(f"{path}: not an archlab checkpoint (needs a 'spec' YAML string and 'model' weights)")
    spec = NetworkSpec.from_yaml(ckpt["spec"] if "\n" in ckpt["spec"] else ckpt["spec"] + "\n")
    model = create_model(spec, **({"input_size": input_size} if input_size else {}))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the stored spec ({str(e).splitlines()[0]})") from e
    return model, f"{spec.name or path.stem} ({path.name})"


def resolve_target(target, input_size=None):
    """``(model in eval mode, name, (C, H, W))`` for any target :func:`measure` accepts."""
    from ..nets.factory import create_model
    from .counters import parse_input_size
    size = parse_input_size(input_size)[1:] if input_size is not None else None
    if isinstance(target, nn.Module):
        model = target
        spec = getattr(model, "spec", None)
        name = getattr(spec, "name", None) or type(model).__name__
    elif _is_checkpoint(target):
        model, name = _load_checkpoint(target, size)
        spec = model.spec
    else:
        model = create_model(target, **({"input_size": size} if size else {}))
        spec = model.spec
        name = spec.name or str(target)
    if size is None:
        if spec is None:
            raise ValueError(f"input_size is required for {name} (a module without a spec)")
        size = tuple(spec.input_size)
    c = int(getattr(spec, "in_channels", 3)) if spec is not None else 3
    return model.eval(), name, (c, *size)


def _input(c, h, w, batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, c, h, w, generator=g)


def relative_error(a, b) -> float:
    """``max|a - b| / max|b|`` over numpy arrays / tensors (0 when both are all zero).

    >>> round(relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0002])), 6)
    0.0001
    """
    a, b = (np.asarray(v.detach().numpy() if isinstance(v, torch.Tensor) else v, dtype=np.float64) for v in (a, b))
    if a.shape != b.shape:
        return float("inf")
    scale = float(np.abs(b).max()) if b.size else 0.0
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


# ------------------------------------------------------------------------------------------------
def _export_bytes(module, args, kwargs=None) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(args), buf, kwargs=kwargs or None, dynamo=False, opset_version=OPSET,
                          do_constant_folding=True)
    return buf.getvalue()


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__)[:300]


def _op_of(e: BaseException):
    m = re.search(r"operator '([\w:.]+)'", str(e))
    return m.group(1) if m else None


def export_onnx(model: nn.Module, x: torch.Tensor, name: str = "model") -> bytes:
    """The ONNX bytes of ``model`` traced on ``x`` (opset 17, TorchScript exporter, static
    shapes: Lite-HRNet's adaptive pooling cannot export with a symbolic batch). Raises
    :class:`ExportError` naming the operator and the innermost module that cannot export."""
    try:
        with _flush():
            return _export_bytes(model, (x,))
    except Exception as e:
        op = _op_of(e)

        def fails(mod, args, kwargs):
            try:
                _export_bytes(mod, args, kwargs)
            except Exception as sub:
                return _op_of(sub) == op if op else type(sub) is type(e)
            return False
        where = _locate(model, (x,), fails)
        what = f"operator {op!r}" if op else f"{type(e).__name__}: {_first_line(e)}"
        raise ExportError(f"{name} cannot be exported to ONNX (opset {OPSET}): {what}, in module "
                          f"{_describe(model, where)}") from e


def _describe(model, path: str) -> str:
    mod = model.get_submodule(path) if path else model
    return f"{path!r} ({type(mod).__name__})" if path else f"<root> ({type(mod).__name__}, its own forward)"


def _child_inputs(module: nn.Module, args, kwargs=None) -> dict:
    """Each direct child's first call during ``module(*args)``: ``name -> (args, kwargs)`` (cloned,
    as in-place activations would change them afterwards)."""
    seen, hooks = {}, []

    def clone(v):
        if isinstance(v, torch.Tensor):
            return v.detach().clone()
        if isinstance(v, (list, tuple)):
            return type(v)(clone(i) for i in v)
        return v
    for cname, child in module.named_children():
        def pre(mod, a, kw, cname=cname):
            seen.setdefault(cname, (clone(tuple(a)), clone(dict(kw))))
        hooks.append(child.register_forward_pre_hook(pre, with_kwargs=True))
    try:
        with torch.no_grad():
            module(*args, **(kwargs or {}))
    finally:
        for h in hooks:
            h.remove()
    return seen


def _locate(model: nn.Module, args, fails, kwargs=None) -> str:
    """Walk down from ``model``: at each level, the first child (in call order) for which
    ``fails(child, args, kwargs)`` holds; returns the dotted path of the innermost one ('' = root)."""
    path, mod = "", model
    while True:
        try:
            calls = _child_inputs(mod, args, kwargs)
        except Exception:
            return path
        for cname, (a, kw) in calls.items():
            child = getattr(mod, cname)
            if fails(child, a, kw):
                path, mod, args, kwargs = (f"{path}.{cname}" if path else cname), child, a, kw
                break
        else:
            return path


# ------------------------------------------------------------------------------------------------
def ort_session(onnx_bytes: bytes, threads: int = 1, profile_prefix: str | None = None):
    """An ONNX Runtime CPU session: ``threads`` intra-op threads, 1 inter-op thread, sequential
    execution, every graph optimisation, denormals as zero; ``profile_prefix`` turns ORT's
    profiler on (``session.end_profiling()`` writes the JSON trace)."""
    ort = _import_ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = str(profile_prefix)
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def _ort_run(sess, *arrays):
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, arrays)))


def _flat_tensors(v) -> list:
    if isinstance(v, torch.Tensor):
        return [v]
    if isinstance(v, (list, tuple)):
        return [t for i in v for t in _flat_tensors(i)]
    if isinstance(v, dict):
        return [t for i in v.values() for t in _flat_tensors(i)]
    return []


def _onnx_rel_err(module, args, kwargs=None, threads=1) -> float:
    """Worst relative error of ``module``'s ONNX Runtime outputs against eager on ``args``."""
    with torch.no_grad():
        ref = _flat_tensors(module(*args, **(kwargs or {})))
    sess = ort_session(_export_bytes(module, args, kwargs), threads)
    ins = [t.numpy() for t in _flat_tensors((args, kwargs or {}))]
    outs = _ort_run(sess, *ins[:len(sess.get_inputs())])
    if len(outs) != len(ref):
        return float("inf")
    return max((relative_error(o, r) for o, r in zip(outs, ref)), default=0.0)


def check_onnx_parity(model, sess, x, name="model", tol=PARITY_TOL) -> float:
    """Relative error of the session's output against eager on ``x``; :class:`ExportMismatch`
    naming the first disagreeing module when above ``tol``."""
    with torch.no_grad():
        ref = _flat_tensors(model(x))
    outs = _ort_run(sess, x.numpy())
    err = max((relative_error(o, r) for o, r in zip(outs, ref)), default=0.0) if len(outs) == len(ref) else np.inf
    if err <= tol:
        return err

    def fails(mod, args, kwargs):
        try:
            return _onnx_rel_err(mod, args, kwargs) > tol
        except Exception:
            return False
    where = _locate(model, (x,), fails)
    raise ExportMismatch(f"{name}: ONNX Runtime output differs from eager PyTorch (relative error {err:.3g} > "
                         f"{tol:g}); first disagreeing module: {_describe(model, where)}")


# ------------------------------------------------------------------------------------------------
@dataclass
class Runner:
    """A prepared (target, runtime) pair: ``step()`` runs one forward pass; ``times_ms`` collects."""

    name: str
    runtime: str
    threads: int
    batch: int
    input_size: tuple
    step: object
    parity_rel_err: float | None = None
    prepare_s: float = 0.0
    times_ms: list = field(default_factory=list)
    cpu_ms: list = field(default_factory=list)


def _check_args(runtime, batch, threads, repeats, warmup):
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    for name, v, lo in (("batch", batch, 1), ("threads", threads, 1), ("repeats", repeats, 1),
                        ("warmup", warmup, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")


@contextlib.contextmanager
def _torch_threads(n):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _eager_step(model, x, threads):
    def step():
        with torch.inference_mode(), _torch_threads(threads):
            return model(x)
    return step


def _compile_step(model, x, threads, name, check):
    """A compiled forward (first call compiles); :class:`RuntimeUnavailable` where it cannot."""
    if not hasattr(torch, "compile"):
        raise RuntimeUnavailable(f"runtime 'compile' needs torch.compile (torch >= 2.0, have {torch.__version__})")
    if sys.platform == "win32" and sys.version_info < (3, 12):
        raise RuntimeUnavailable("runtime 'compile': torch.compile's CPU backend is not supported on this platform")
    compiled = torch.compile(model, dynamic=False)

    def step():
        with torch.no_grad(), _torch_threads(threads):
            return compiled(x)
    try:
        out = step()
    except Exception as e:   # Inductor / Dynamo failure: no compiler, unsupported op or platform
        raise RuntimeUnavailable(f"runtime 'compile': torch.compile cannot compile {name} on this machine "
                                 f"({type(e).__name__}: {_first_line(e)})") from e
    err = None
    if check:
        with torch.inference_mode():
            err = max((relative_error(o, r) for o, r in zip(_flat_tensors(out), _flat_tensors(model(x)))), default=0.0)
        if err > PARITY_TOL:
            raise ExportMismatch(f"{name}: torch.compile output differs from eager (relative error {err:.3g} > "
                                 f"{PARITY_TOL:g})")
    return step, err


def _onnx_step(model, x, threads, name, check, profile_prefix=None, onnx_bytes=None):
    t = _input(*x.shape[1:], x.shape[0], seed=1234)
    onnx_bytes = onnx_bytes or export_onnx(model, x, name)
    sess = ort_session(onnx_bytes, threads, profile_prefix)
    err = check_onnx_parity(model, sess, t, name) if check else None
    feed = {sess.get_inputs()[0].name: x.numpy()}

    def step():
        return sess.run(None, feed)
    step.session = sess
    step.onnx_bytes = onnx_bytes
    return step, err


def prepare(target, runtime: str = "onnxruntime", *, input_size=None, batch: int = 1, threads: int = 1,
            check: bool = True, profile_prefix: str | None = None, onnx_bytes: bytes | None = None,
            _resolved=None) -> Runner:
    """Resolve ``target``, export / compile it for ``runtime`` and check parity; the returned
    :class:`Runner`'s ``step()`` runs one forward pass (untimed here); for ONNX Runtime,
    ``step.session`` is the session and ``step.onnx_bytes`` the model. ``onnx_bytes`` reuses an
    export of the same network at the same input shape (the parity check still runs)."""
    _check_args(runtime, batch, threads, 1, 0)
    if runtime == "onnxruntime":
        _import_ort()
    model, name, (c, h, w) = _resolved or resolve_target(target, input_size)
    x = _input(c, h, w, batch)
    t0 = time.perf_counter()
    err = None
    with _flush():   # tracing / compiling / checking run the untrained network too
        if runtime == "eager":
            step = _eager_step(model, x, threads)
        elif runtime == "compile":
            step, err = _compile_step(model, x, threads, name, check)
        else:
            step, err = _onnx_step(model, x, threads, name, check, profile_prefix, onnx_bytes)
    return Runner(name, runtime, threads, batch, (h, w), step, err, time.perf_counter() - t0)


@contextlib.contextmanager
def _flush():
    from .counters import flush_denormal
    with flush_denormal():
        yield


def time_interleaved(runners, repeats: int = 7, warmup: int = 3, progress: bool = False) -> None:
    """Warm every runner up, then time ``repeats`` rounds; each round runs every runner once, the
    order rotating by one each round so no runner always follows the same one. Appends to each
    runner's ``times_ms``."""
    runners = list(runners)
    with _flush():
        for r in runners:
            for _ in range(warmup):
                r.step()
        rounds = range(repeats)
        if progress:
            from tqdm.auto import tqdm
            rounds = tqdm(rounds, desc=f"timing {len(runners)} runner(s)", unit="round", leave=False)
        for i in rounds:
            k = i % len(runners)
            for r in runners[k:] + runners[:k]:
                c0, t0 = time.process_time(), time.perf_counter()
                r.step()
                r.times_ms.append((time.perf_counter() - t0) * 1000.0)
                r.cpu_ms.append((time.process_time() - c0) * 1000.0)


def _result(r: Runner, warmup: int, machine: dict) -> RuntimeLatency:
    from .latency import _stats
    med, iqr, _, mn = _stats(r.times_ms)
    return RuntimeLatency(r.name, r.runtime, med, iqr, mn, r.threads, r.batch, tuple(r.input_size), len(r.times_ms),
                          warmup, machine, r.parity_rel_err, r.prepare_s, _stats(r.cpu_ms)[0] if r.cpu_ms else None,
                          list(r.times_ms))


def measure_many(targets, runtimes=("onnxruntime",), *, input_size=None, batch: int = 1, threads: int = 1,
                 repeats: int = 7, warmup: int = 3, check: bool = True, progress: bool = False) -> list:
    """Latency of every (target, runtime) pair, timed with interleaved repeats (see
    :func:`time_interleaved`); one :class:`RuntimeLatency` per pair, targets outer, runtimes inner."""
    runtimes = [runtimes] if isinstance(runtimes, str) else list(runtimes)
    for rt in runtimes:
        _check_args(rt, batch, threads, repeats, warmup)
    targets = [targets] if isinstance(targets, (str, Path, nn.Module)) else list(targets)
    runners = []
    for tgt in targets:
        resolved = resolve_target(tgt, input_size)
        for rt in runtimes:
            runners.append(prepare(tgt, rt, batch=batch, threads=threads, check=check, _resolved=resolved))
    time_interleaved(runners, repeats, warmup, progress)
    machine = machine_info()
    return [_result(r, warmup, machine) for r in runners]


def measure(target, runtime: str = "onnxruntime", *, input_size=None, batch: int = 1, threads: int = 1,
            repeats: int = 7, warmup: int = 3, check: bool = True) -> RuntimeLatency:
    """Latency of ``target`` in ``runtime`` (``'eager'``, ``'onnxruntime'`` or ``'compile'``):
    median, IQR and minimum of ``repeats`` timed forward passes after ``warmup`` untimed ones, on a
    ``(batch, C, H, W)`` input (``input_size`` ``(H, W)`` or ``'HxW'``, default the spec's)."""
    return measure_many([target], [runtime], input_size=input_size, batch=batch, threads=threads, repeats=repeats,
                        warmup=warmup, check=check)[0]
