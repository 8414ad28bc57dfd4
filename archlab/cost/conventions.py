"""What each third-party counter counts, as functions of the analytic op list.

For every counter adapter of :mod:`archlab.cost.counters` there is a function here mapping the
analytic :class:`~archlab.cost.ops.Op` list (``archlab.count(spec).ops``) to *exactly* that
counter's total, by-operator and by-module figures -- established by probing each counter on
single modules and functional calls (see ``tests/test_cost_counters.py``) and by reading its
source (fvcore 0.1.5 ``jit_handles.py``, thop 0.1.1 ``vision/basic_hooks.py`` and
``calc_func.py``, ptflops 0.7.5 ``pytorch_ops.py`` / ``pytorch_engine.py`` / ``aten_ops.py``,
``torch.utils.flop_counter``). Per op (``n_out`` = output elements, ``n_in`` = input elements,
``MACs`` = plain multiply-accumulates, bias excluded):

================== ============ ========== ================= ============ =============
op                 fvcore       thop       ptflops-pytorch   ptflops-aten torch (FLOPs)
================== ============ ========== ================= ============ =============
conv (2d/1d)       MACs         MACs       MACs + bias       MACs + bias  2 MACs
linear             MACs         MACs       MACs + bias       MACs + bias  2 MACs
bmm                MACs         0 (a)      MACs (b)          MACs         2 MACs
batch_norm (eval)  2 n          4 n        2 n               0            0
relu  nn.ReLU      0 (ignored)  0          2 n (c)           0            0
relu  F.relu       0 (ignored)  0 (a)      n (b)             0            0
sigmoid            0 (unsupp.)  0 (d)      0                 0            0
hardsigmoid        0 (unsupp.)  0 (a)      0                 0            0
softmax            0 (unsupp.)  0 (a)      0 (e)             0            0
add / mul / 2*x    0 (unsupp.)  0 (a)      0 (f)             0            0
mean (x.mean)      0 (unsupp.)  0 (a)      0                 0            0
F.adaptive_avg_p.  n_in         0 (a)      n_in (b)          0            0
upsample nearest   n_out        n_out (g)  2 n_out (c, g)    0            0
 (nn.Upsample)
upsample nearest   n_out        0 (a)      n_out (b)         0            0
 (F.interpolate)
upsample bilinear  4 n_out      0 (a)      n_out (b)         0            0
 (F.interpolate)
cat/split/shuffle  0 (ignored)  0          0                 0            0
================== ============ ========== ================= ============ =============

(a) functional call inside a module's ``forward``: invisible to thop's module hooks.
(b) counted by ptflops' monkey-patched ``F.relu`` / ``F.adaptive_avg_pool2d`` / ``F.interpolate``
    / ``torch.bmm``, not attributed to any module (``by_module['']``).
(c) counted twice: the module hook, and again by the patched functional that the module's own
    ``forward`` calls (``nn.ReLU.forward`` calls ``F.relu``, ``nn.Upsample.forward`` calls
    ``F.interpolate``) -- a double count in ptflops 0.7.5's pytorch backend.
(d) ``nn.Sigmoid`` has no thop rule: counted as zero and reported in ``unsupported``.
(e) the code calls ``torch.softmax``; ptflops patches only ``F.softmax``.
(f) ``a + b`` / ``x * w`` / ``2 * x`` go through ``Tensor.__add__``/``__mul__``/``__rmul__``,
    which ptflops does not patch (it patches ``torch.add``, ``Tensor.add``, ``torch.mul``,
    ``Tensor.mul``).
(g) thop: ``nn.Upsample`` nearest = 1 per output element (bilinear would be 11).

Module-run vs functional: the analytic op of a module (``nn.ReLU``, ``nn.Sigmoid``,
``nn.Upsample``) carries that module's path, a functional one the path of the module whose
``forward`` calls it. :func:`module_run` tells them apart from the path (archlab names activation
modules ``act``/``relu`` and the fuse layers' ``nn.Upsample`` by its index in a Sequential), or
exactly from a ``module_types`` map (``{path: class name}``, see :func:`module_types`).

No residual: every counter's total is reproduced exactly for every archlab block and zoo model
(the test suite asserts ``==``). The only part not predicted is the ``unsupported`` record of the
dispatch-based counters (ptflops-aten, torch), whose aten op names depend on the dispatcher
(``F.adaptive_avg_pool2d(x, 1)`` runs as ``aten.mean``, other sizes as
``aten._adaptive_avg_pool2d``): :func:`predict` names the pooling ops ``adaptive_avg_pool2d`` /
``mean`` as the analytic ops do.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .ops import Op

__all__ = ["Prediction", "module_run", "module_types", "fvcore", "thop", "ptflops_pytorch", "ptflops_aten",
           "torch_flop_counter", "CONVENTIONS", "PRICES", "FVCORE_PRICES", "TORCH_PRICES", "predict", "RULES", "conventions_table", "write_conventions_table"]


@dataclass
class Prediction:
    """A counter's figures predicted from the analytic ops (same fields and keys as
    :class:`~archlab.cost.counters.CounterResult`)."""

    counter: str
    unit: str
    total: int
    by_operator: dict = field(default_factory=dict)
    by_module: dict = field(default_factory=dict)
    unsupported: dict = field(default_factory=dict)


_MODULE_CLASS = {"relu": "ReLU", "sigmoid": "Sigmoid", "upsample_nearest": "Upsample",
                 "upsample_bilinear": "Upsample"}


def module_types(model) -> dict:
    """``{path: class name}`` of every module of a built model (a ``device='meta'`` build will do)."""
    return {n: type(m).__name__ for n, m in model.named_modules()}


def module_run(op: Op, types: dict | None = None) -> bool:
    """Whether ``op`` is run by an ``nn.Module`` of its own (an ``nn.ReLU``, ``nn.Sigmoid``,
    ``nn.Upsample``; always true for conv, linear and batch_norm) rather than by a functional call
    in some module's ``forward``. With ``types`` (:func:`module_types`) the answer is exact;
    without, archlab's naming decides: activation modules are called ``act`` or ``relu``, the
    fuse layers' ``nn.Upsample`` is an index in a Sequential."""
    if op.op in ("conv", "linear", "batch_norm"):
        return True
    cls = _MODULE_CLASS.get(op.op)
    if cls is None:
        return False
    if types is not None:
        return types.get(op.module) == cls
    last = op.module.rsplit(".", 1)[-1]
    if op.op in ("relu", "sigmoid"):
        return last in ("act", "relu")
    return last.isdigit()


def _bias(op: Op) -> int:
    return op.get("out_numel", op.numel_out) if op.get("has_bias") else 0


def _conv_class(op: Op) -> str:
    return "Conv1d" if len(op.get("kernel", (1, 1))) == 1 else "Conv2d"


class _Acc:
    def __init__(self):
        self.total = 0
        self.by_op: Counter = Counter()
        self.by_mod: Counter = Counter()
        self.unsupported: Counter = Counter()

    def add(self, value, key: str, module: str):
        if value:
            self.total += value
            self.by_op[key] += value
            self.by_mod[module] += value

    def result(self, counter: str, unit: str) -> Prediction:
        clean = lambda d: {k: v for k, v in d.items() if v}  # noqa: E731
        return Prediction(counter, unit, self.total, clean(self.by_op), clean(self.by_mod), dict(self.unsupported))


def _ops(ops_or_report):
    return ops_or_report.ops if hasattr(ops_or_report, "ops") else list(ops_or_report)


_FV_UNSUPPORTED = {"add": "aten::add", "mul": "aten::mul", "mul_scalar": "aten::mul", "sigmoid": "aten::sigmoid",
                   "hardsigmoid": "aten::hardsigmoid", "softmax": "aten::softmax", "mean": "aten::mean"}


#: fvcore's handlers as prices: analytic op -> ``(per MAC, per input element, per output
#: element, fvcore operator name)``. Ops not listed are ignored (relu, cat, split, ...) or
#: unsupported (:data:`_FV_UNSUPPORTED`) by fvcore and cost 0.
FVCORE_PRICES = {
    "conv": (1, 0, 0, "conv"), "linear": (1, 0, 0, "linear"), "bmm": (1, 0, 0, "bmm"),
    "batch_norm": (0, 0, 2, "batch_norm"),
    "upsample_nearest": (0, 0, 1, "upsample_nearest2d"), "upsample_bilinear": (0, 0, 4, "upsample_bilinear2d"),
    "adaptive_avg_pool2d": (0, 1, 0, "adaptive_avg_pool2d"),
}
#: FlopCounterMode's formulas as prices (operator names of linear depend on the bias, see
#: :func:`torch_flop_counter`): 2 FLOPs per MAC of conv, linear and bmm, nothing else.
TORCH_PRICES = {"conv": (2, 0, 0, "convolution"), "linear": (2, 0, 0, "addmm"), "bmm": (2, 0, 0, "bmm")}


def fvcore(ops, types: dict | None = None) -> Prediction:
    """fvcore ``FlopCountAnalysis`` (unit MACs): conv/linear/bmm MACs without bias; its default
    handlers add ``batch_norm`` (eval, affine: 2 per element), ``upsample_nearest2d`` (1 per
    output element), ``upsample_bilinear2d`` (4 per output element) and ``adaptive_avg_pool2d``
    (1 per *input* element). ReLU, cat, chunk, split, view, transpose are on its ignore list;
    add, mul, sigmoid, hardsigmoid, softmax and mean are *unsupported* (reported, counted 0).
    By module: the module whose ``__call__`` runs the op, i.e. the op's analytic path.
    Prices: :data:`FVCORE_PRICES`."""
    acc = _Acc()
    for op in _ops(ops):
        p = FVCORE_PRICES.get(op.op)
        if p is not None:
            acc.add(p[0] * op.macs + p[1] * op.numel_in + p[2] * op.numel_out, p[3], op.module)
        elif op.op in _FV_UNSUPPORTED:
            acc.unsupported[_FV_UNSUPPORTED[op.op]] += 1
    p = acc.result("fvcore", "MACs")
    p.unsupported = dict(sorted(p.unsupported.items()))
    return p


def thop(ops, types: dict | None = None) -> Prediction:
    """thop ``profile`` (unit MACs; forward hooks on leaf modules only): ``Conv1d``/``Conv2d``
    MACs without bias, ``Linear`` ``in_features`` per output element (no bias), ``BatchNorm2d``
    4 per element (``calculate_norm`` gives 2 n, doubled again for affine), ``nn.Upsample``
    nearest 1 per output element, ``nn.ReLU`` 0. ``nn.Sigmoid`` has no rule (``unsupported``).
    Every functional call -- ``torch.bmm``, ``F.interpolate``, ``F.adaptive_avg_pool2d``,
    ``x.mean``, ``torch.sigmoid``, ``F.hardsigmoid``, ``torch.softmax``, ``F.relu``, adds and
    products -- is invisible."""
    acc = _Acc()
    for op in _ops(ops):
        k = op.op
        if k == "conv":
            acc.add(op.macs, _conv_class(op), op.module)
        elif k == "linear":
            acc.add(op.macs, "Linear", op.module)
        elif k == "batch_norm":
            acc.add(4 * op.numel_out, "BatchNorm2d", op.module)
        elif k == "upsample_nearest" and module_run(op, types):
            acc.add(op.numel_out, "Upsample", op.module)
        elif k == "upsample_bilinear" and module_run(op, types):
            acc.add(11 * op.numel_out, "Upsample", op.module)
        elif k == "sigmoid" and module_run(op, types):
            acc.unsupported["Sigmoid"] += 1
    return acc.result("thop", "MACs")


def ptflops_pytorch(ops, types: dict | None = None) -> Prediction:
    """ptflops ``backend='pytorch'`` (unit MACs): module hooks -- conv MACs + bias (1 per output
    element), ``Linear`` MACs + bias, ``BatchNorm2d`` 2 per element, ``nn.ReLU`` 1 per element,
    ``nn.Upsample`` 1 per output element -- plus patched functionals, unattributed
    (``by_module['']``, ``by_operator['functional']``): ``F.relu`` and ``F.interpolate`` (1 per
    output element, any mode), ``F.adaptive_avg_pool2d`` (1 per input element), ``torch.bmm``
    (MACs). ``nn.ReLU`` and ``nn.Upsample`` call the patched ``F.relu``/``F.interpolate`` in
    their ``forward``, so they count twice. Not counted: sigmoid, hardsigmoid, ``torch.softmax``,
    ``x.mean``, and the ``+``/``*`` operators."""
    acc = _Acc()
    for op in _ops(ops):
        k = op.op
        if k == "conv":
            acc.add(op.macs + _bias(op), _conv_class(op), op.module)
        elif k == "linear":
            acc.add(op.macs + _bias(op), "Linear", op.module)
        elif k == "batch_norm":
            acc.add(2 * op.numel_out, "BatchNorm2d", op.module)
        elif k == "bmm":
            acc.add(op.macs, "functional", "")
        elif k == "adaptive_avg_pool2d":
            acc.add(op.numel_in, "functional", "")
        elif k in ("relu", "upsample_nearest", "upsample_bilinear"):
            if module_run(op, types):
                acc.add(op.numel_out, "ReLU" if k == "relu" else "Upsample", op.module)
            acc.add(op.numel_out, "functional", "")
        elif k == "sigmoid" and module_run(op, types):
            acc.unsupported["Sigmoid"] += 1
    return acc.result("ptflops-pytorch", "MACs")


#: PoseNet's top-level children that are containers (never called, so ptflops-aten's hooks on
#: them never fire).
_CONTAINERS = {"transitions": "ModuleList", "sem": "ModuleList", "stages": "ModuleList"}


def ptflops_aten(ops, types: dict | None = None) -> Prediction:
    """ptflops ``backend='aten'`` (unit MACs): only ``aten.convolution`` (MACs + bias),
    ``aten.addmm`` (MACs + bias), ``aten.mm``/``aten.matmul`` and ``aten.bmm`` (MACs). It
    attributes to the model's *top-level children* only, and only to those that are called: for
    a PoseNet ``stem`` and ``head``; what runs inside the ``transitions``/``sem``/``stages``
    ModuleLists (never called themselves) stays on the root ``''``."""
    acc = _Acc()
    for op in _ops(ops):
        k = op.op
        top = op.module.split(".", 1)[0]
        if (types.get(top) if types is not None else _CONTAINERS.get(top)) in ("ModuleList", "ModuleDict"):
            top = ""
        if k == "conv":
            acc.add(op.macs + _bias(op), "convolution", top)
        elif k == "linear":
            acc.add(op.macs + _bias(op), "addmm" if op.get("has_bias") else "mm", top)
        elif k == "bmm":
            acc.add(op.macs, "bmm", top)
        else:
            _aten_unsupported(acc, op)
    return acc.result("ptflops-aten", "MACs")


_ATEN_NAME = {"batch_norm": "native_batch_norm", "relu": "relu", "sigmoid": "sigmoid", "hardsigmoid": "hardsigmoid",
              "softmax": "_softmax", "add": "add", "mul": "mul", "mul_scalar": "mul", "mean": "mean",
              "adaptive_avg_pool2d": "adaptive_avg_pool2d", "upsample_nearest": "upsample_nearest2d",
              "upsample_bilinear": "upsample_bilinear2d"}


def _aten_unsupported(acc: _Acc, op: Op) -> None:
    name = _ATEN_NAME.get(op.op)
    if name:
        acc.unsupported[name] += 1


def torch_flop_counter(ops, types: dict | None = None) -> Prediction:
    """``torch.utils.flop_counter.FlopCounterMode`` (unit FLOPs): ``2 x`` the MACs of
    convolutions (bias never counted; ``c_in`` is the weight's, i.e. already divided by groups),
    ``addmm``/``mm`` (linear, no bias) and ``bmm``. Nothing else has a formula.
    Prices: :data:`TORCH_PRICES`."""
    acc = _Acc()
    for op in _ops(ops):
        p = TORCH_PRICES.get(op.op)
        if p is not None:
            name = p[3] if op.op != "linear" or op.get("has_bias") else "mm"
            acc.add(p[0] * op.macs + p[1] * op.numel_in + p[2] * op.numel_out, name, op.module)
        else:
            _aten_unsupported(acc, op)
    return acc.result("torch", "FLOPs")


#: counter adapter name -> convention function ``(ops, types=None) -> Prediction``.
CONVENTIONS = {
    "fvcore": fvcore,
    "thop": thop,
    "ptflops-pytorch": ptflops_pytorch,
    "ptflops-aten": ptflops_aten,
    "torch": torch_flop_counter,
}

#: the conventions that price every op by its name alone (``(per MAC, per input element, per
#: output element, operator)``): their totals are sums over a report's per-op totals
#: (``CostReport.op_totals``), no op list needed.
PRICES = {"fvcore": FVCORE_PRICES, "torch": TORCH_PRICES}


def predict(counter: str, ops_or_report, types: dict | None = None) -> Prediction:
    """``CONVENTIONS[counter](ops)`` for an op list or a :class:`~archlab.cost.analytic.CostReport`."""
    if counter not in CONVENTIONS:
        raise ValueError(f"unknown counter {counter!r}; choose one of {sorted(CONVENTIONS)}")
    return CONVENTIONS[counter](ops_or_report, types)


# ----------------------------------------------------------------------------------------------
# the table

_COUNTER_ORDER = ("analytic", "fvcore", "thop", "ptflops-pytorch", "ptflops-aten", "torch")

#: op class -> counter -> what the counter counts for it (``n`` elements; MACs bias excluded).
RULES: dict[str, dict[str, str]] = {
    "conv (Conv2d, groups, dilation; Conv1d)": {
        "analytic": "MACs (`out_numel * cin/groups * prod(k)`), bias recorded", "fvcore": "MACs",
        "thop": "MACs", "ptflops-pytorch": "MACs + bias (1/out elem)", "ptflops-aten": "MACs + bias",
        "torch": "2 x MACs"},
    "conv bias": {"analytic": "not in MACs", "fvcore": "0", "thop": "0", "ptflops-pytorch": "1 per output element",
                  "ptflops-aten": "1 per output element", "torch": "0"},
    "linear (nn.Linear)": {"analytic": "MACs", "fvcore": "MACs", "thop": "MACs", "ptflops-pytorch": "MACs + bias",
                           "ptflops-aten": "MACs + bias (addmm)", "torch": "2 x MACs"},
    "bmm (torch.bmm)": {"analytic": "MACs", "fvcore": "MACs", "thop": "0 (functional: invisible)",
                        "ptflops-pytorch": "MACs (patched torch.bmm, unattributed)", "ptflops-aten": "MACs",
                        "torch": "2 x MACs"},
    "batch_norm (BatchNorm2d, eval)": {"analytic": "n (elements)", "fvcore": "2 n", "thop": "4 n",
                                       "ptflops-pytorch": "2 n", "ptflops-aten": "0", "torch": "0"},
    "ReLU module (nn.ReLU)": {"analytic": "n", "fvcore": "0 (ignored op)", "thop": "0",
                              "ptflops-pytorch": "2 n (hook + patched F.relu inside forward)",
                              "ptflops-aten": "0", "torch": "0"},
    "F.relu (functional)": {"analytic": "n", "fvcore": "0 (ignored op)", "thop": "0 (invisible)",
                            "ptflops-pytorch": "n (patched, unattributed)", "ptflops-aten": "0", "torch": "0"},
    "sigmoid (nn.Sigmoid / torch.sigmoid)": {"analytic": "n", "fvcore": "0, listed unsupported",
                                             "thop": "0 (nn.Sigmoid: no rule, listed unsupported)",
                                             "ptflops-pytorch": "0", "ptflops-aten": "0", "torch": "0"},
    "hardsigmoid (F.hardsigmoid)": {"analytic": "n", "fvcore": "0, listed unsupported", "thop": "0 (invisible)",
                                    "ptflops-pytorch": "0", "ptflops-aten": "0", "torch": "0"},
    "softmax (torch.softmax)": {"analytic": "n", "fvcore": "0, listed unsupported", "thop": "0 (invisible)",
                                "ptflops-pytorch": "0 (only F.softmax is patched)", "ptflops-aten": "0",
                                "torch": "0"},
    "elementwise add / mul / 2*x (operators)": {
        "analytic": "n (output elements)", "fvcore": "0, listed unsupported", "thop": "0 (invisible)",
        "ptflops-pytorch": "0 (operators are not patched)", "ptflops-aten": "0", "torch": "0"},
    "mean (x.mean, SE/ECA squeeze)": {"analytic": "n_in", "fvcore": "0, listed unsupported",
                                      "thop": "0 (invisible)", "ptflops-pytorch": "0", "ptflops-aten": "0",
                                      "torch": "0"},
    "F.adaptive_avg_pool2d": {"analytic": "n_in", "fvcore": "n_in", "thop": "0 (invisible)",
                              "ptflops-pytorch": "n_in (patched, unattributed)", "ptflops-aten": "0",
                              "torch": "0"},
    "upsample nearest, nn.Upsample": {"analytic": "n_out", "fvcore": "n_out", "thop": "n_out",
                                      "ptflops-pytorch": "2 n_out (hook + patched F.interpolate)",
                                      "ptflops-aten": "0", "torch": "0"},
    "upsample nearest, F.interpolate": {"analytic": "n_out", "fvcore": "n_out", "thop": "0 (invisible)",
                                        "ptflops-pytorch": "n_out (patched, unattributed)", "ptflops-aten": "0",
                                        "torch": "0"},
    "upsample bilinear, F.interpolate": {"analytic": "n_out", "fvcore": "4 n_out", "thop": "0 (invisible)",
                                         "ptflops-pytorch": "n_out (patched, unattributed)",
                                         "ptflops-aten": "0", "torch": "0"},
    "cat / chunk / split / view / channel shuffle": {"analytic": "recorded, 0", "fvcore": "0 (ignored ops)",
                                                     "thop": "0", "ptflops-pytorch": "0", "ptflops-aten": "0",
                                                     "torch": "0"},
    "unit of the total": {"analytic": "MACs (`.macs`: conv + linear + bmm)", "fvcore": "MACs (called flops)",
                          "thop": "MACs", "ptflops-pytorch": "MACs (GMac)", "ptflops-aten": "MACs (GMac)",
                          "torch": "FLOPs (2 per MAC)"},
    "per-module attribution": {"analytic": "the module running the op", "fvcore": "yes (inclusive; made exclusive)",
                               "thop": "leaf modules", "ptflops-pytorch": "leaf modules; functionals unattributed",
                               "ptflops-aten": "top-level children only",
                               "torch": "yes (inclusive, `Root.path` names; made exclusive)"},
}


def conventions_table() -> str:
    """The counting conventions as a markdown table: rows = op classes, columns = counters."""
    from . import counters as _c
    versions = {"fvcore": _c._version("fvcore"), "thop": _c._version("thop"), "ptflops-pytorch": _c._version("ptflops"),
                "ptflops-aten": _c._version("ptflops"), "torch": _c._version("torch")}
    head = ["op class"] + [f"{c}" + (f" {versions[c]}" if c in versions else "") for c in _COUNTER_ORDER]
    lines = ["# Counting conventions of the complexity counters", "",
             "What each counter adds to its total per op class (`n` = elements at batch 1, `n_in`/`n_out` = "
             "input/output elements; MACs exclude bias). Generated by `archlab.cost.conventions.conventions_table()`;"
             " each column is implemented by the matching function of `archlab.cost.conventions`, which reproduces the "
             "counter's total exactly from `archlab.count(spec).ops` (asserted for every block type and zoo model in "
             "`tests/test_cost_counters.py`).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cls, row in RULES.items():
        lines.append("| " + " | ".join([cls] + [row.get(c, "") for c in _COUNTER_ORDER]) + " |")
    lines += ["", "Notes:", "",
              "* *invisible*: a functional call (`torch.bmm`, `F.interpolate`, `x * w`, `a + b`, `torch.cat`) inside "
              "a module's `forward` is not seen by counters that hook `nn.Module`s (thop, ptflops' module hooks); "
              "ptflops patches a fixed list of functionals (`F.relu`, `F.interpolate`, `F.adaptive_avg_pool2d`, "
              "`F.softmax`, `torch.bmm`, `torch.add`/`Tensor.add`, `torch.mul`/`Tensor.mul`, ...) but not the "
              "`+`/`*` operators or `torch.softmax`/`torch.sigmoid`.",
              "* ptflops' patches replace module attributes (`F.relu = wrapper`), so they only see calls that look "
              "the function up at call time (`F.relu(x)`); a reference taken earlier (`act = F.relu`) escapes them.",
              "* fvcore's unsupported ops are returned by the adapter (`CounterResult.unsupported`), not dropped "
              "silently.",
              "* ptflops 0.7.5 (pytorch backend) counts `nn.ReLU` and `nn.Upsample` twice: the module hook and the "
              "patched functional their `forward` calls.",
              "* thop 0.1.1 prices an affine BatchNorm at 4 per element (`calculate_norm` = 2 n, doubled for "
              "affine); fvcore and ptflops at 2 per element; the dispatch counters (ptflops-aten, torch) at 0."]
    return "\n".join(lines) + "\n"


def write_conventions_table(path="reports/counting_conventions.md") -> str:
    """Write :func:`conventions_table` to ``path`` (returns the path)."""
    from pathlib import Path
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(conventions_table())
    return str(p)


def main(argv=None) -> int:
    """``python -m archlab.cost.conventions [--out FILE]``: print or write the conventions table."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m archlab.cost.conventions", description=main.__doc__)
    ap.add_argument("--out", help="write the markdown table here (default: print it)")
    args = ap.parse_args(argv)
    if args.out:
        print(write_conventions_table(args.out))
    else:
        print(conventions_table(), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
