"""A spec's op list grouped into the kernels ONNX Runtime runs on CPU.

ORT folds BatchNorm into the preceding convolution and fuses the activation (``FusedConv``, or
an NCHWc ``Conv`` with the activation attribute), and fuses a residual ``Add`` (+ ReLU) that
directly consumes a convolution's output into it (the NCHWc ``Sum`` input / ``FusedConv``'s
``Z``). Attention blocks export to small subgraphs (pooling, Gemm / Conv1d, gates, a broadcast
multiply, plus shape nodes), so they are profiled as one kernel each. A kernel is a hashable
tuple ``(kind, *config)``; :func:`kernels_of` lists a network's kernels in forward order.

Kinds (:data:`KINDS`): ``conv`` (any 2-D convolution: kernel, stride, dilation, groups,
channels, input size, act, bias, BN, fused sum), ``se``, ``eca``, ``sw`` (Lite-HRNet spatial
weighting), ``pa`` (SEM's position attention), ``add``, ``mul``, ``mul_scalar``, ``act``,
``softmax``, ``upsample``, ``pool``, ``cat``, ``split``, ``shuffle``, ``linear``, ``bmm``.

>>> from archlab import get_spec
>>> ks = kernels_of_spec(get_spec('hrnet_w32_coco'), (128, 96))
>>> ks[0]
('conv', 3, 2, 1, 1, 3, 64, 12288, 'relu', 0, 1, 0)
"""
from __future__ import annotations

__all__ = ["VOCAB_VERSION", "KINDS", "kernels_of", "kernel_spans", "kernels_of_spec", "subkind", "KernelError"]

#: Version of the kernel vocabulary and grouping rules (part of the table's cache key).
VOCAB_VERSION = 8  # 4: SE/ECA export formulation; 5: dilated convs own entry; 6: network scale;
#                   7: in-network samples (attribution rules of .insitu); 8: profiler share out of them
KINDS = ("conv", "se", "eca", "sw", "pa", "add", "mul", "mul_scalar", "act", "softmax", "upsample", "pool", "cat",
         "split", "shuffle", "linear", "bmm")
_ACTS = ("relu", "sigmoid", "hardsigmoid")
_ATTENTION_STARTS = frozenset(("mean", "adaptive_avg_pool2d"))


class KernelError(ValueError):
    """An op sequence the kernel vocabulary does not cover, or a kernel the table lacks."""


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


#: a convolution's ``detail`` as :func:`archlab.ops.conv2d_op` records it (sorted by name)
_CONV_DETAIL = ("cin", "cout", "dilation", "groups", "has_bias", "kernel", "out_numel", "padding", "stride")
_N_DETAIL, _FIRST, _LAST = len(_CONV_DETAIL), _CONV_DETAIL[0], _CONV_DETAIL[-1]


def _conv_head(o) -> tuple:
    """(kernel, stride, dilation, groups, cin, cout, input size, bias, output numel) of a
    convolution op: read by position from the layout :func:`~archlab.ops.conv2d_op` records
    (checked by its first and last names), by name from any other."""
    d = o[6]
    if len(d) == _N_DETAIL and d[0][0] == _FIRST and d[-1][0] == _LAST:
        cin = d[0][1]
        return (d[5][1][0], d[8][1], d[2][1], d[3][1], cin, d[1][1], o[4] // cin, int(d[4][1]), d[6][1])
    d = dict(d)
    cin = d["cin"]
    return (d["kernel"][0], d["stride"], d["dilation"], d["groups"], cin, d["cout"], o[4] // cin,
            int(d["has_bias"]), d["out_numel"])


def _conv(ops, i):
    o = ops[i]
    k, s, dil, g, cin, cout, hw, bias, out = _conv_head(o)
    j = i + 1
    n = len(ops)
    bn = summed = 0
    act = ""
    if j < n and ops[j][1] == "batch_norm" and ops[j][5] == out:
        bn, j = 1, j + 1
    if j < n:
        nxt = ops[j]
        op = nxt[1]
        if op in _ACTS and nxt[4] == out and nxt[0].startswith(_parent(o[0])):
            act, j = op, j + 1
        elif op == "add" and nxt[5] == out and nxt[4] == 2 * out:
            summed, j = 1, j + 1
            if j < n and ops[j][1] == "relu" and ops[j][4] == out:
                act, j = "relu", j + 1
    return ("conv", k, s, dil, g, cin, cout, hw, act, bias, bn, summed), j


def _attention(ops, i):
    """SE / ECA (from a ``mean``), spatial weighting (global adaptive pool + 1x1 convs) or
    position attention (from its ``query`` conv); None when ``ops[i]`` starts none of them."""
    o = ops[i]
    n = len(ops)
    nxt = ops[i + 1] if i + 1 < n else None
    if o.op == "mean" and nxt is not None:
        c = o.numel_out
        hw = o.numel_in // c
        if nxt.op == "linear" and i + 5 < n and ops[i + 5].op == "mul":
            return ("se", c, hw, nxt.get("out_features")), i + 6
        if nxt.op == "conv" and len(nxt.get("kernel")) == 1 and i + 3 < n and ops[i + 3].op == "mul":
            return ("eca", c, hw, nxt.get("kernel")[0], ops[i + 2].op), i + 4
    if o.op == "adaptive_avg_pool2d" and nxt is not None and nxt.op == "conv" and nxt.get("cin") == o.numel_out \
            and nxt.get("out_numel") == nxt.get("cout"):
        c = o.numel_out
        j = i + 1
        while j < n and ops[j].op != "mul":
            j += 1
        return ("sw", c, o.numel_in // c, nxt.get("cout")), j + 1
    if o.op == "conv" and o.module.endswith(".query") and i + 7 < n and ops[i + 3].op == "bmm":
        c = o.get("cin")
        return ("pa", c, o.numel_in // c, o.get("cout")), i + 8
    return None


def _simple(ops, i):
    o = ops[i]
    op = o.op
    if op == "add":
        if i + 1 < len(ops) and ops[i + 1].op == "relu" and ops[i + 1].numel_in == o.numel_out:
            return ("add", o.numel_out, 1), i + 2
        return ("add", o.numel_out, 0), i + 1
    if op == "mul":
        return ("mul", o.numel_out, int(o.numel_in < 2 * o.numel_out)), i + 1
    if op == "mul_scalar":
        return ("mul_scalar", o.numel_out), i + 1
    if op in _ACTS:
        return ("act", op, o.numel_out), i + 1
    if op == "softmax":
        return ("softmax", o.numel_out), i + 1
    if op.startswith("upsample_"):
        return ("upsample", op[9:], o.numel_in, o.numel_out), i + 1
    if op in ("mean", "adaptive_avg_pool2d"):
        return ("pool", o.numel_in, o.numel_out), i + 1
    if op in ("cat", "split"):
        return (op, o.numel_out), i + 1
    if op == "channel_shuffle":
        return ("shuffle", o.numel_out), i + 1
    if op == "linear":
        return ("linear", o.get("in_features"), o.get("out_features")), i + 1
    if op == "bmm":
        return ("bmm", o.get("b"), o.get("n"), o.get("m"), o.get("p")), i + 1
    if op == "batch_norm":      # a BN that follows no convolution: ORT runs it as a scale + shift
        return ("mul", o.numel_out, 1), i + 1
    raise KernelError(f"{o.module or '<top>'}: op {op!r} has no kernel in the latency vocabulary "
                      f"(version {VOCAB_VERSION})")


def _next_kernel(ops, i: int) -> tuple[tuple, int]:
    """The kernel that starts at ``ops[i]`` and the index of the op after it."""
    o = ops[i]
    op = o[1]
    if op == "conv":
        hit = _attention(ops, i) if o[0].endswith(".query") else None
        if hit is None:
            if len(o.get("kernel")) != 2:
                raise KernelError(f"{o.module}: a 1-D convolution outside ECA has no kernel in the latency "
                                  "vocabulary")
            hit = _conv(ops, i)
        return hit
    if op in _ATTENTION_STARTS:
        return _attention(ops, i) or _simple(ops, i)
    return _simple(ops, i)


def kernels_of(ops) -> list[tuple]:
    """The kernels of an op list (:func:`archlab.cost.analytic.network_ops`) in forward order."""
    out = []
    append = out.append
    i, n = 0, len(ops)
    while i < n:
        key, i = _next_kernel(ops, i)
        append(key)
    return out


def kernel_spans(ops) -> list[tuple[tuple, int, int]]:
    """``(kernel, first op index, end op index)`` of each kernel of an op list, in forward order."""
    out = []
    i, n = 0, len(ops)
    while i < n:
        key, j = _next_kernel(ops, i)
        out.append((key, i, j))
        i = j
    return out


def kernels_of_spec(spec, input_size=None) -> list[tuple]:
    """:func:`kernels_of` of ``network_ops(spec, input_size)``."""
    from ..analytic import network_ops
    return kernels_of(network_ops(spec, input_size))


def subkind(key: tuple) -> str:
    """The table entry a kernel is predicted from: ``conv3x3s1``, ``conv3x3s2dw``, ``conv1x1s1``,
    ``conv3x3s1d`` (dilated: ORT runs those on another path, ~10% slower per multiply-add than
    their undilated neighbours here, and DASP heads hold several), ..., ``upsample_nearest``,
    ``act_sigmoid`` or the plain kind."""
    kind = key[0]
    if kind == "conv":
        _, k, s, d, g, cin, cout = key[:7]
        tag = "dw" if g == cin == cout and g > 1 else ("g" if g > 1 else "")
        return f"conv{k}x{k}s{s}{tag}{'d' if d > 1 else ''}"
    if kind in ("upsample", "act"):
        return f"{kind}_{key[1]}"
    return kind
