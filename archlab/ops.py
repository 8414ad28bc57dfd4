"""The op record of the analytic cost model and the helpers every block's cost function uses.

An :class:`Op` is one operation of a forward pass at batch 1, attributed to the module that runs
it (its dotted path exactly as ``model.named_modules()`` of the built :class:`~archlab.nets.PoseNet`
names it; functional ops inside a module's ``forward`` -- a residual add, ``torch.cat``, SE's
``x.mean`` -- belong to that module). The *analytic* cost is computed from the spec alone: no
``nn.Module`` is built.

Counting convention of the fields
---------------------------------
``macs``
    *Plain* multiply-accumulates, and only for the three multiply-accumulate ops:

    * ``conv`` -- ``out_numel * (cin / groups) * prod(kernel)`` (bias adds **not** included;
      ``has_bias`` and ``out_numel`` in ``detail`` let a convention add them);
    * ``linear`` -- ``out_numel * in_features`` (bias likewise not included);
    * ``bmm`` -- ``b * n * m * p`` for ``(b, n, m) @ (b, m, p)``.

    Every other op has ``macs = 0``; what it costs is a matter of convention (a BN folded into
    the conv is free, an add is one FLOP per element, ...) that the profiles in
    :mod:`archlab.cost.profiles` decide from the element counts below.
``params``
    Parameters owned by the op: conv weight + bias, BN weight + bias (running statistics are
    buffers, not parameters), linear weight + bias, and ``PositionAttention.scale`` on the
    ``mul`` op that applies it. Summed over a network they equal
    ``sum(p.numel() for p in model.parameters())`` exactly.
``numel_in`` / ``numel_out``
    Elements read (summed over all tensor inputs, e.g. both operands of an add; a scalar
    operand counts 0) and elements written, at batch 1.
``detail``
    Sorted ``(key, value)`` pairs: ``kernel``, ``stride``, ``padding``, ``dilation``,
    ``groups``, ``cin``, ``cout``, ``has_bias``, ``out_numel`` for convs; ``in_features``,
    ``out_features``, ``has_bias`` for linears; ``b``, ``n``, ``m``, ``p`` for bmm;
    ``channels`` for BN; ``mode`` for resampling; ``param`` for a parameter-owning mul.

Op vocabulary and classes (:data:`OP_CLASSES`)
----------------------------------------------
=====================================================  ==============  ======================
op                                                     class           element count reported
=====================================================  ==============  ======================
``conv``                                               convolution     MACs
``linear``                                             linear          MACs
``bmm``                                                matmul          MACs
``batch_norm``                                         normalisation   ``numel_out``
``add``, ``mul``, ``mul_scalar``                       elementwise     ``numel_out``
``adaptive_avg_pool2d``, ``mean``                      pooling         ``numel_in``
``upsample_nearest``, ``upsample_bilinear``            resampling      ``numel_out``
``relu``, ``sigmoid``, ``hardsigmoid``, ``softmax``    activation      ``numel_out``
``cat``, ``split``, ``channel_shuffle``                memory          0 (recorded only)
=====================================================  ==============  ======================
"""
from __future__ import annotations

from typing import NamedTuple


__all__ = ["Op", "OpList", "OP_CLASSES", "MAC_CLASSES", "MAC_OPS", "element_count", "join", "conv_out",
           "conv2d_op", "conv1d_op", "linear_op", "bmm_op", "batch_norm_op", "act_op", "eltwise_op",
           "pool_op", "upsample_op", "memory_op"]

#: op name -> op class (the keys of :attr:`CostReport.macs_by_op`).
OP_CLASSES: dict[str, str] = {
    "conv": "convolution", "linear": "linear", "bmm": "matmul",
    "batch_norm": "normalisation",
    "add": "elementwise", "mul": "elementwise", "mul_scalar": "elementwise",
    "adaptive_avg_pool2d": "pooling", "mean": "pooling",
    "upsample_nearest": "resampling", "upsample_bilinear": "resampling",
    "relu": "activation", "sigmoid": "activation", "hardsigmoid": "activation", "softmax": "activation",
    "cat": "memory", "split": "memory", "channel_shuffle": "memory",
}
#: The op classes whose figure in ``macs_by_op`` is multiply-accumulates (``CostReport.macs``
#: sums these); the other classes report element-op counts.
MAC_CLASSES = ("convolution", "linear", "matmul")
MAC_OPS = frozenset(("conv", "linear", "bmm"))
_POOL_OPS = frozenset(("adaptive_avg_pool2d", "mean"))


class Op(NamedTuple):
    """One operation of the forward pass at batch 1 (see the module docstring for the fields).

    An immutable named tuple: a network's inventory holds thousands of these, and tuple
    construction keeps the analytic count in the low milliseconds.

    >>> op = conv2d_op('stem.conv1.conv', 3, 64, 3, 2, 256, 192)[0]
    >>> op.macs, op.params, op.get('out_numel')
    (21233664, 1728, 786432)
    """

    module: str
    op: str
    macs: int
    params: int
    numel_in: int
    numel_out: int
    detail: tuple = ()

    def get(self, key: str, default=None):
        """The ``detail`` value called ``key`` (``default`` when absent)."""
        for k, v in self.detail:
            if k == key:
                return v
        return default

    @property
    def op_class(self) -> str:
        """The op's class: convolution, linear, matmul, normalisation, elementwise, pooling,
        resampling, activation or memory."""
        return OP_CLASSES[self.op]

    @property
    def elements(self) -> int:
        """The op's element count under this module's convention (its MACs for conv/linear/bmm,
        ``numel_in`` for pooling, 0 for memory ops, ``numel_out`` otherwise)."""
        return element_count(self)


def _op(module: str, op: str, macs: int, params: int, numel_in: int, numel_out: int, detail: tuple = ()) -> Op:
    """:class:`Op` constructor used on the hot path (positional, no keyword handling)."""
    return _tuple_new(Op, (module, op, macs, params, numel_in, numel_out, detail))


_tuple_new = tuple.__new__


def element_count(op: Op) -> int:
    """MACs for conv/linear/bmm; ``numel_in`` for pooling; 0 for cat/split/shuffle; else ``numel_out``."""
    if op.op in MAC_OPS:
        return op.macs
    if op.op in _POOL_OPS:
        return op.numel_in
    if OP_CLASSES[op.op] == "memory":
        return 0
    return op.numel_out


class OpList(list):
    """A list of :class:`Op` that also carries the output shape(s) of the block that produced it:
    ``out`` is ``(channels, h, w)`` for a single-tensor block, a list of such triples for a
    multi-branch block."""

    __slots__ = ("out",)        # no per-instance dict: cost walks build one per block and layer

    def __init__(self, ops=(), out=None):
        _list_init(self, ops)
        self.out = out


_list_init = list.__init__


def join(prefix: str, name: str) -> str:
    """Dotted-path join that drops empty parts: ``join('', 'conv') == 'conv'``."""
    if not prefix:
        return name
    if not name:
        return prefix
    return f"{prefix}.{name}"


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """PyTorch's convolution output length ``floor((size + 2p - d(k - 1) - 1) / s) + 1``."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"convolution (kernel {kernel}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}) leaves no output on an input of size {size}")
    return out


def _check_channels(where: str, cin: int, cout: int, groups: int) -> None:
    if type(cin) is int and type(cout) is int and type(groups) is int and cin > 0 and cout > 0 and groups > 0 \
            and not cin % groups and not cout % groups:
        return
    for name, v in (("in_channels", cin), ("out_channels", cout), ("groups", groups)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{where}: {name} must be a positive integer, got {v!r}")
    if cin % groups or cout % groups:
        raise ValueError(f"{where}: in_channels {cin} and out_channels {cout} must be divisible by groups {groups}")


def conv2d_op(module: str, cin: int, cout: int, kernel: int, stride: int, h: int, w: int, *, groups: int = 1,
              dilation: int = 1, padding: int | None = None, bias: bool = False) -> tuple[Op, tuple[int, int]]:
    """A square ``Conv2d`` on a ``(1, cin, h, w)`` input: returns the op and the output ``(h, w)``.

    MACs ``= cout * ho * wo * (cin / groups) * k * k``; params ``= cout * (cin / groups) * k * k
    (+ cout with bias)``. ``padding`` defaults to ``dilation * (k - 1) // 2`` (as
    :class:`~archlab.blocks.basic.ConvBNAct`)."""
    _check_channels(module or "conv", cin, cout, groups)
    if padding is None:
        padding = dilation * (kernel - 1) // 2
    span = dilation * (kernel - 1) + 1 - 2 * padding           # conv_out, inlined on the hot path
    ho = (h - span) // stride + 1
    wo = (w - span) // stride + 1
    if ho < 1 or wo < 1:
        conv_out(h, kernel, stride, padding, dilation)         # raises the error naming the sizes
        conv_out(w, kernel, stride, padding, dilation)
    out = cout * ho * wo
    per_out = (cin // groups) * kernel * kernel
    params = cout * per_out + (cout if bias else 0)
    op = _op(module, "conv", out * per_out, params, cin * h * w, out,
             (("cin", cin), ("cout", cout), ("dilation", dilation), ("groups", groups), ("has_bias", bool(bias)),
              ("kernel", (kernel, kernel)), ("out_numel", out), ("padding", padding), ("stride", stride)))
    return op, (ho, wo)


def conv1d_op(module: str, cin: int, cout: int, kernel: int, length: int, *, padding: int = 0,
              bias: bool = False, groups: int = 1) -> tuple[Op, int]:
    """A stride-1 ``Conv1d`` on a ``(1, cin, length)`` input (ECA's channel convolution, paper
    eq. 7): MACs ``= cout * lo * (cin / groups) * k``. Returns the op and the output length."""
    _check_channels(module or "conv1d", cin, cout, groups)
    lo = conv_out(length, kernel, 1, padding, 1)
    out = cout * lo
    per_out = (cin // groups) * kernel
    op = _op(module, "conv", out * per_out, cout * per_out + (cout if bias else 0), cin * length, out,
             (("cin", cin), ("cout", cout), ("dilation", 1), ("groups", groups), ("has_bias", bool(bias)),
              ("kernel", (kernel,)), ("out_numel", out), ("padding", padding), ("stride", 1)))
    return op, lo


def linear_op(module: str, in_features: int, out_features: int, *, bias: bool = True, rows: int = 1) -> Op:
    """``nn.Linear`` on ``rows`` vectors: MACs ``= rows * out_features * in_features``."""
    out = rows * out_features
    return _op(module, "linear", out * in_features, in_features * out_features + (out_features if bias else 0),
               rows * in_features, out, (("has_bias", bool(bias)), ("in_features", in_features),
                                         ("out_features", out_features), ("out_numel", out)))


def bmm_op(module: str, b: int, n: int, m: int, p: int) -> Op:
    """``torch.bmm`` of ``(b, n, m)`` and ``(b, m, p)``: MACs ``= b * n * m * p``."""
    return _op(module, "bmm", b * n * m * p, 0, b * n * m + b * m * p, b * n * p, (("b", b), ("m", m), ("n", n), ("p", p)))


def batch_norm_op(module: str, channels: int, h: int, w: int) -> Op:
    """``BatchNorm2d``: ``2 * channels`` parameters (affine weight and bias), no plain MACs."""
    n = channels * h * w
    return _op(module, "batch_norm", 0, 2 * channels, n, n, (("channels", channels),))


def act_op(module: str, kind: str, numel: int) -> Op:
    """An activation (``relu``, ``sigmoid``, ``hardsigmoid``, ``softmax``) on ``numel`` elements."""
    if kind not in ("relu", "sigmoid", "hardsigmoid", "softmax"):
        raise ValueError(f"unknown activation {kind!r}")
    return _op(module, kind, 0, 0, numel, numel)


def eltwise_op(module: str, kind: str, numel_out: int, numel_in: int | None = None, *, params: int = 0,
               detail: tuple = ()) -> Op:
    """``add``/``mul`` (two tensor operands; ``numel_in`` defaults to ``2 * numel_out``) or
    ``mul_scalar`` (one tensor operand)."""
    if kind not in ("add", "mul", "mul_scalar"):
        raise ValueError(f"unknown element-wise op {kind!r}")
    if numel_in is None:
        numel_in = numel_out if kind == "mul_scalar" else 2 * numel_out
    return _op(module, kind, 0, params, numel_in, numel_out, detail)


def pool_op(module: str, kind: str, numel_in: int, numel_out: int) -> Op:
    """Average pooling (``adaptive_avg_pool2d`` or ``mean``): ``numel_in`` additions."""
    if kind not in ("adaptive_avg_pool2d", "mean"):
        raise ValueError(f"unknown pooling op {kind!r}")
    return _op(module, kind, 0, 0, numel_in, numel_out)


def upsample_op(module: str, mode: str, numel_in: int, numel_out: int) -> Op:
    """Nearest or bilinear resampling to ``numel_out`` elements."""
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"unknown upsampling mode {mode!r}")
    return _op(module, f"upsample_{mode}", 0, 0, numel_in, numel_out, (("mode", mode),))


def memory_op(module: str, kind: str, numel: int) -> Op:
    """``cat``, ``split`` or ``channel_shuffle`` of ``numel`` elements (recorded, costs nothing)."""
    if kind not in ("cat", "split", "channel_shuffle"):
        raise ValueError(f"unknown memory op {kind!r}")
    return _op(module, kind, 0, 0, numel, numel)
