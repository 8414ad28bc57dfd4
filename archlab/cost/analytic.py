"""Analytic cost of a :class:`~archlab.spec.NetworkSpec`, computed from the spec alone.

:func:`count` walks the spec exactly as :mod:`archlab.nets.builder` builds the network -- stem,
transitions, SEMs, stages (modules, branches, fuse layers under both ``fuse_forward`` modes and
``multiscale_output``) and head -- and collects every block's op records from the closed-form cost
functions that sit beside the blocks (``basic_block_cost``, ``scr_cost``, ``sem_cost``,
``dasp_cost``, ...). No ``nn.Module`` is built, so it takes a few milliseconds.

Units: ``.macs`` is **multiply-accumulates** (MACs) of convolutions, linear layers and matrix
products, at batch 1 with bias adds not included -- the figure most papers print as "FLOPs"
(HRNet-W32 at 256x192: 7.12 G when divided by ``2**30``). Everything else (BN, activations,
element-wise adds and products, pooling, resampling) is recorded with its element counts so that
a counting convention (:mod:`archlab.cost.profiles`, via :meth:`CostReport.to`) can price it.

>>> r = count('hrnet_w32_coco')
>>> r.macs, r.params
(7645003776, 28536113)
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from ..blocks.attention import sem_cost
from ..blocks.basic import basic_block_cost, bottleneck_cost, conv_bn_act_cost
from ..blocks.heads import HEAD_COSTS
from ..blocks.lite import ccw_cost, lite_stem_cost, shuffle_block_cost
from ..blocks.sc import scr_cost
from ..spec import NetworkSpec, SpecError, parse_size
from .ops import (MAC_CLASSES, OP_CLASSES, Op, OpList, act_op, element_count, eltwise_op, join,
                  upsample_op)

__all__ = ["count", "count_spec", "network_ops", "CostReport", "BLOCK_COSTS", "HEAD_COSTS", "GROUP_LEVELS"]

#: block name (as in :data:`archlab.blocks.BLOCKS`) -> analytic cost function. Per-branch blocks
#: are called as ``fn(in_channels, width, stride, hw=..., prefix=..., **options)``; the
#: multi-branch ``ccw`` as ``fn(widths, hw=[...], prefix=..., **options)``.
BLOCK_COSTS = {
    "basic": basic_block_cost,
    "bottleneck": bottleneck_cost,
    "scr": scr_cost,
    "shuffle": shuffle_block_cost,
    "ccw": ccw_cost,
}
_MULTI_BRANCH = {"ccw"}
_EXPANSION = {"basic": 1, "bottleneck": 4, "scr": 1, "shuffle": 1, "ccw": 1}

#: Op classes in report order (``memory`` -- cat/split/shuffle -- is recorded but costs nothing).
_CLASS_ORDER = ("convolution", "linear", "matmul", "normalisation", "elementwise", "pooling", "resampling",
                "activation")
GROUP_LEVELS = ("top", "stage", "branch")


# ----------------------------------------------------------------------------------------------
# the walker

def _dw_sep_cost(cin: int, cout: int, stride: int, act: bool, hw, prefix: str) -> OpList:
    """Builder's ``_dw_sep``: ``dw3x3(stride) -> BN`` then ``1x1 -> BN [-> ReLU]``."""
    a = conv_bn_act_cost(cin, cin, 3, stride, hw=hw, groups=cin, act=False, prefix=join(prefix, "0"))
    b = conv_bn_act_cost(cin, cout, 1, hw=a.out[1:], act=act, prefix=join(prefix, "1"))
    return OpList([*a, *b], b.out)


def _transition_cost(pre: list, cur: tuple, style: str, prefix: str) -> tuple[list, list]:
    """Builder's ``make_transition`` applied as ``forward_features`` does: branch ``b`` reads
    ``pre[b]`` (the previous stage's outputs) or, for a new branch, the last of them.
    ``pre`` holds ``(c, h, w)`` triples; returns (ops, new branch shapes)."""
    ops, shapes = [], []
    for i, c in enumerate(cur):
        p = join(prefix, str(i))
        if i < len(pre):
            cin, h, w = pre[i]
            if c == cin:
                shapes.append(pre[i])
                continue
            if style == "hrnet":
                r = conv_bn_act_cost(cin, c, 3, 1, hw=(h, w), prefix=p)
            else:
                r = _dw_sep_cost(cin, c, 1, True, (h, w), p)
            ops += r
            shapes.append(r.out)
        else:
            shape = pre[-1]
            for j in range(i + 1 - len(pre)):
                cin = pre[-1][0]
                cout = c if j == i - len(pre) else cin
                q = join(p, str(j))
                if style == "hrnet":
                    r = conv_bn_act_cost(cin, cout, 3, 2, hw=shape[1:], prefix=q)
                else:
                    r = _dw_sep_cost(cin, cout, 2, True, shape[1:], q)
                ops += r
                shape = r.out
            shapes.append(shape)
    return ops, shapes


def _fuse_path_cost(shapes: list, i: int, j: int, style: str, prefix: str) -> OpList:
    """``f_ij`` of the builder's ``make_fuse_layers`` applied to branch ``j``'s output (``prefix``
    is ``...fuse_layers.i.j``): 1x1 ConvBN + nearest upsample for ``j > i``, ``i - j`` stride-2
    steps for ``j < i``."""
    ci = shapes[i][0]
    cj, h, w = shapes[j]
    if j > i:
        r = conv_bn_act_cost(cj, ci, 1, hw=(h, w), act=False, prefix=join(prefix, "0"))
        f = 2 ** (j - i)
        ho, wo = int(h * f), int(w * f)
        return OpList([*r, upsample_op(join(prefix, "1"), "nearest", ci * h * w, ci * ho * wo)], (ci, ho, wo))
    ops, shape = [], (cj, h, w)
    for k in range(i - j):
        last = k == i - j - 1
        cout = ci if last else cj
        q = join(prefix, str(k))
        if style == "hrnet":
            r = conv_bn_act_cost(cj, cout, 3, 2, hw=shape[1:], act=not last, prefix=q)
        else:
            r = _dw_sep_cost(cj, cout, 2, not last, shape[1:], q)
        ops += r
        shape = r.out
    return OpList(ops, shape)


def _check_same(a: tuple, b: tuple, where: str) -> None:
    if a != b:
        raise ValueError(f"{where}: cannot add tensors of shapes {a} and {b} (the input size does not halve "
                         "evenly down to the lowest-resolution branch)")


def _fuse_cost(shapes: list, num_out: int, style: str, fuse_forward: str, prefix: str) -> tuple[list, list]:
    """The exchange unit of ``MultiBranchModule.forward`` under ``fuse_forward`` 'hrnet'
    (``out_i = relu(sum_j f_ij(x_j))``) or 'litehrnet' (``z0 = 2 x0 + ...``; ``f_i0`` applied to
    ``z0`` and doubled, see :mod:`archlab.nets.builder`)."""
    ops = []
    fl = join(prefix, "fuse_layers")
    relu = join(prefix, "relu")
    n = len(shapes)
    outs = []

    def numel(s):
        return s[0] * s[1] * s[2]

    def f(i, j):
        r = _fuse_path_cost(shapes, i, j, style, join(fl, f"{i}.{j}"))
        ops.extend(r)
        _check_same(r.out, shapes[i], f"{prefix} fuse {i}<-{j}")
        return r.out

    if fuse_forward == "litehrnet":
        z0 = shapes[0]
        ops.append(eltwise_op(prefix, "mul_scalar", numel(z0)))
        for j in range(1, n):
            f(0, j)
            ops.append(eltwise_op(prefix, "add", numel(z0)))
        ops.append(act_op(relu, "relu", numel(z0)))
        outs.append(z0)
        for i in range(1, num_out):
            y = f(i, 0)
            ops.append(eltwise_op(prefix, "mul_scalar", numel(y)))
            for j in range(1, n):
                if i != j:
                    f(i, j)
                ops.append(eltwise_op(prefix, "add", numel(y)))
            ops.append(act_op(relu, "relu", numel(y)))
            outs.append(y)
        return ops, outs
    for i in range(num_out):
        y = shapes[0] if i == 0 else f(i, 0)
        for j in range(1, n):
            if i != j:
                f(i, j)
            ops.append(eltwise_op(prefix, "add", numel(y)))
        ops.append(act_op(relu, "relu", numel(y)))
        outs.append(y)
    return ops, outs


def _reprefix(ops, prefix: str) -> list[Op]:
    """``ops`` (recorded with paths relative to a block) moved under ``prefix``."""
    dot = prefix + "."
    new = tuple.__new__
    return [new(Op, (dot + o[0] if o[0] else prefix,) + o[1:]) for o in ops]


@lru_cache(maxsize=1024)
def _module_cost_cached(shapes: tuple, block: str, options: tuple, widths: tuple, num_blocks: tuple, fuse: str,
                        multiscale_output: bool, transition: str, fuse_forward: str) -> tuple:
    ops, outs = _module_cost_raw(list(shapes), block, dict(options), widths, num_blocks, fuse, multiscale_output,
                                 transition, fuse_forward, "")
    ops = tuple(ops)
    return ops, tuple(outs), _summarise(ops)


def _module_segment(shapes: list, stage, multiscale_output: bool, transition: str, fuse_forward: str,
                    prefix: str) -> tuple[tuple, list]:
    """One ``MultiBranchModule`` (branch blocks, then the fuse layers) as a segment
    ``(prefix, relative ops, summary)``. Modules repeat (same shapes, same stage), so their
    relative op lists are memoised; :func:`_materialise` moves them under ``prefix``."""
    key = (tuple(shapes), stage.block, tuple(sorted(stage.block_options.items())), stage.widths, stage.num_blocks,
           stage.fuse, bool(multiscale_output), transition, fuse_forward)
    try:
        hash(key)
    except TypeError:          # an unhashable option value: compute directly
        ops, outs = _module_cost_raw(list(shapes), stage.block, dict(stage.block_options), stage.widths,
                                     stage.num_blocks, stage.fuse, multiscale_output, transition, fuse_forward, "")
        return (prefix, tuple(ops), _summarise(ops)), list(outs)
    ops, outs, summary = _module_cost_cached(*key)
    return (prefix, ops, summary), list(outs)


def _summarise(ops) -> tuple:
    """``(params, macs, per-class element counts in _CLASS_ORDER)`` of an op sequence."""
    params = macs = 0
    counts = dict.fromkeys(_CLASS_ORDER, 0)
    for op in ops:
        params += op.params
        macs += op.macs
        cls = OP_CLASSES[op.op]
        if cls in counts:
            counts[cls] += element_count(op)
    return params, macs, tuple(counts.values())


def _materialise(segments) -> list[Op]:
    """The flat Op list of ``(prefix, ops, summary)`` segments (``prefix`` ``None``: absolute paths)."""
    out: list[Op] = []
    for prefix, ops, _ in segments:
        if prefix is None:
            out.extend(ops)
        else:
            out.extend(_reprefix(ops, prefix))
    return out


def _module_cost_raw(shapes: list, block: str, opts: dict, widths: tuple, num_blocks: tuple, fuse: str,
                     multiscale_output: bool, transition: str, fuse_forward: str,
                     prefix: str) -> tuple[list, list]:
    ops = []
    fn = BLOCK_COSTS[block]
    n = len(widths)
    if block in _MULTI_BRANCH:
        bw = [s[0] for s in shapes]
        sizes = [s[1:] for s in shapes]
        for k in range(num_blocks[0]):
            r = fn(bw, hw=sizes, prefix=join(prefix, f"branches.{k}"), **opts)
            ops += r
            bw = [s[0] for s in r.out]
            sizes = [s[1:] for s in r.out]
        xs = [(c, *s) for c, s in zip(bw, sizes)]
    else:
        xs = []
        for b in range(n):
            shape = shapes[b]
            memo = {}  # a branch repeats the same block on the same shape: cost it once, re-prefix the rest
            for k in range(num_blocks[b]):
                key = tuple(shape)
                if key not in memo:
                    r = fn(shape[0], widths[b], 1, hw=shape[1:], prefix="", **opts)
                    memo[key] = (list(r), r.out)
                rel, shape = memo[key]
                ops += _reprefix(rel, join(prefix, f"branches.{b}.{k}"))
            xs.append(shape)
    num_out = n if multiscale_output else 1
    if fuse == "sum" and n > 1:
        fops, outs = _fuse_cost(xs, num_out, transition, fuse_forward, prefix)
        return ops + fops, outs
    return ops, xs[:num_out]


def _check_input_size(spec: NetworkSpec, size) -> tuple[int, int]:
    if size is None:
        return tuple(spec.input_size)
    if isinstance(size, str):
        size = parse_size(size)
    if not isinstance(size, Sequence) or len(size) != 2 \
            or any(isinstance(v, bool) or not isinstance(v, int) for v in size):
        raise SpecError(f"input_size: expected (height, width) integers or 'HxW', got {size!r}")
    h, w = size
    branches = max(len(s.widths) for s in spec.stages)
    q = 4 * 2 ** (branches - 1)
    if h < 1 or w < 1 or h % q or w % q:
        raise SpecError(f"input_size: {h}x{w} must be positive multiples of {q} for {spec.name!r} (stem /4, then "
                        f"{branches - 1} halvings for {branches} branches)")
    return (h, w)


def _segments(spec: NetworkSpec, size: tuple[int, int]) -> list[tuple]:
    """The network's ops as ``(prefix, ops, summary)`` segments in forward order."""
    h, w = size
    st = spec.stem
    segs: list[tuple] = []
    ops: list[Op] = []          # the current run of absolute-path ops

    def flush():
        if ops:
            segs.append((None, tuple(ops), _summarise(ops)))
            ops.clear()

    if st.type == "hrnet":
        r = conv_bn_act_cost(spec.in_channels, st.channels, 3, 2, hw=(h, w), prefix="stem.conv1")
        ops += r
        r = conv_bn_act_cost(st.channels, st.channels, 3, 2, hw=r.out[1:], prefix="stem.conv2")
        ops += r
        shape = r.out
        fn = BLOCK_COSTS[st.block]
        for k in range(st.num_blocks):
            r = fn(shape[0], st.block_width, 1, hw=shape[1:], prefix=f"stem.layer1.{k}")
            ops += r
            shape = r.out
    else:
        r = lite_stem_cost(spec.in_channels, st.channels, st.out_width, st.expand_ratio, hw=(h, w), prefix="stem")
        ops += r
        shape = r.out
    llf = shape
    ys = [llf]
    sem_opts = dict(spec.sem_options)
    n_stages = len(spec.stages)
    for i, stage in enumerate(spec.stages):
        cur = stage.out_widths
        tops, xs = _transition_cost(ys, cur, spec.transition, f"transitions.{i}")
        ops += tops
        for b in stage.sem:
            c, bh, bw = xs[b]
            r = sem_cost(c, **sem_opts, hw=(bh, bw), prefix=f"sem.{i}.{b}")
            ops += r
            xs[b] = r.out
        flush()
        for m in range(stage.num_modules):
            last = i == n_stages - 1 and m == stage.num_modules - 1
            seg, xs = _module_segment(xs, stage, stage.multiscale_output or not last, spec.transition,
                                      spec.fuse_forward, f"stages.{i}.{m}")
            segs.append(seg)
        ys = xs
    head_fn = HEAD_COSTS[spec.head.type]
    ops += head_fn([s[0] for s in ys], llf[0], spec.num_joints, hw=[s[1:] for s in ys], llf_hw=llf[1:],
                   prefix="head", **spec.head.options)
    flush()
    return segs


def network_ops(spec: NetworkSpec, input_size=None) -> list[Op]:
    """Every op of ``build_network(spec)`` on a ``(1, in_channels, H, W)`` input, in forward
    order, with module paths as ``named_modules()`` gives them."""
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"network_ops expects a NetworkSpec, got {type(spec).__name__}")
    return _materialise(_segments(spec, _check_input_size(spec, input_size)))


# ----------------------------------------------------------------------------------------------
# the report

def _group_key(path: str, level) -> str:
    parts = path.split(".")
    if isinstance(level, int) and not isinstance(level, bool):
        if level < 1:
            raise ValueError(f"by_group: depth must be >= 1, got {level}")
        return ".".join(parts[:level])
    top = parts[0]
    if level == "top":
        return top
    if top in ("transitions", "sem", "stages") and len(parts) > 1:
        if level == "stage" or top != "stages":
            return f"{top}.{parts[1]}"
        # level == 'branch': stages.i.branches.b (per-branch blocks over all modules), stages.i.fuse
        if len(parts) > 3 and parts[3] == "branches":
            if len(parts) > 4 and parts[4].isdigit() and len(parts) > 5 and parts[5].isdigit():
                return f"stages.{parts[1]}.branches.{parts[4]}"
            return f"stages.{parts[1]}.branches"          # a multi-branch (ccw) block spans all branches
        return f"stages.{parts[1]}.fuse"
    return top


class CostReport:
    """The analytic cost of one network at one input size (batch 1).

    * ``params`` -- parameters (== ``sum(p.numel() for p in model.parameters())``);
    * ``macs`` -- plain multiply-accumulates of convolutions, linear layers and bmm, bias adds
      excluded (**MACs, not FLOPs**: a FLOP convention doubles them; see ``.to(profile)``);
    * ``macs_by_op`` -- per op class. ``convolution``, ``linear`` and ``matmul`` are MACs (their
      sum is ``macs``); ``normalisation``, ``elementwise``, ``activation`` and ``resampling`` are
      output element counts, ``pooling`` input element counts -- *not* included in ``macs``
      (``cat``/``split``/``channel_shuffle`` are recorded in ``ops`` only, at no cost);
    * ``ops`` -- the :class:`~archlab.cost.ops.Op` records in forward order;
    * ``by_module`` -- a pandas DataFrame indexed by module path (params, macs, elements);
      ``by_group(level)`` aggregates it (``'top'``, ``'stage'``, ``'branch'`` or a path depth).
    """

    def __init__(self, spec: NetworkSpec, input_size: tuple[int, int], ops=None, *, name: str | None = None,
                 _segments=None):
        if (ops is None) == (_segments is None):
            raise ValueError("CostReport: give the op list (or, internally, the op segments), not both")
        self.spec = spec
        self.name = name or spec.name
        self.input_size = tuple(input_size)
        if _segments is None:
            self._ops = list(ops)
            summaries = [_summarise(self._ops)]
            self.num_ops = len(self._ops)
        else:
            self._ops = None
            self._segments = _segments
            summaries = [sg[2] for sg in _segments]
            self.num_ops = sum(len(sg[1]) for sg in _segments)
        self.params = sum(sm[0] for sm in summaries)
        self.macs = sum(sm[1] for sm in summaries)
        self.macs_by_op = {cls: sum(sm[2][k] for sm in summaries) for k, cls in enumerate(_CLASS_ORDER)}
        self._by_module = None

    @property
    def ops(self) -> list[Op]:
        """The :class:`~archlab.cost.ops.Op` records in forward order (built on first access)."""
        if self._ops is None:
            self._ops = _materialise(self._segments)
        return self._ops

    # -- views ------------------------------------------------------------------------------
    @property
    def gmacs(self) -> float:
        """``macs / 2**30`` -- the "GFLOPs" figure of HRNet's and the paper's tables."""
        return self.macs / 2 ** 30

    @property
    def by_module(self):
        """pandas DataFrame indexed by module path (forward order of first use) with columns
        ``params``, ``macs`` (plain MACs) and ``elements`` (element counts of the non-MAC ops)."""
        if self._by_module is None:
            import pandas as pd
            rows: dict[str, list[int]] = {}
            for op in self.ops:
                row = rows.get(op.module)
                if row is None:
                    row = rows[op.module] = [0, 0, 0]
                row[0] += op.params
                row[1] += op.macs
                if op.op not in ("conv", "linear", "bmm"):
                    row[2] += element_count(op)
            df = pd.DataFrame.from_dict(rows, orient="index", columns=["params", "macs", "elements"])
            df.index.name = "module"
            self._by_module = df
        return self._by_module.copy()

    def by_group(self, level="stage"):
        """Aggregate ``by_module`` into groups (DataFrame indexed by group, in forward order).

        ``level``: ``'top'`` (stem, transitions, sem, stages, head), ``'stage'`` (stem,
        transitions.i, sem.i, stages.i, head), ``'branch'`` (as 'stage' but each stage split into
        ``stages.i.branches.b`` -- branch ``b``'s blocks over all modules -- and ``stages.i.fuse``,
        the fuse layers with their adds and ReLUs; multi-branch ``ccw`` blocks form
        ``stages.i.branches``), or an int: the first ``level`` components of the module path."""
        if not (isinstance(level, int) and not isinstance(level, bool)) and level not in GROUP_LEVELS:
            raise ValueError(f"by_group: level must be one of {list(GROUP_LEVELS)} or a positive path depth, "
                             f"got {level!r}")
        df = self.by_module
        keys = [_group_key(p, level) for p in df.index]
        out = df.groupby(keys, sort=False).sum()
        out.index.name = "group"
        return out

    def to(self, profile: str):
        """This report under a counting convention: ``archlab.cost.profiles.PROFILES[profile].apply(self)``."""
        from . import profiles
        if profile not in profiles.PROFILES:
            raise ValueError(f"unknown cost profile {profile!r}; choose one of {sorted(profiles.PROFILES)}")
        return profiles.PROFILES[profile].apply(self)

    def summary(self) -> str:
        """A short multi-line text summary (units: parameters and MACs)."""
        h, w = self.input_size
        lines = [f"{self.name} @ {h}x{w}, batch 1: {self.params:,} params ({self.params / 1e6:.3f} M), "
                 f"{self.macs:,} MACs ({self.gmacs:.3f} GMACs = MACs / 2**30; conv + linear + bmm, no bias adds)"]
        for cls, v in self.macs_by_op.items():
            unit = "MACs" if cls in MAC_CLASSES else ("input elements" if cls == "pooling" else "output elements")
            lines.append(f"  {cls:<14}{v:>16,} {unit}")
        lines.append("  (only convolution + linear + matmul make up the MACs; the element counts are for "
                     "counting conventions, see .to(profile); cat/split/shuffle are recorded in .ops at no cost)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        h, w = self.input_size
        return (f"CostReport({self.name!r}, input {h}x{w}, params={self.params:,}, MACs={self.macs:,} "
                f"({self.gmacs:.3f} GMACs), ops={self.num_ops})")


def count_spec(spec: NetworkSpec, input_size=None, *, name: str | None = None) -> CostReport:
    """:func:`count` for a :class:`NetworkSpec`."""
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"count_spec expects a NetworkSpec, got {type(spec).__name__}")
    size = _check_input_size(spec, input_size)
    return CostReport(spec, size, name=name, _segments=_segments(spec, size))


def count(name_or_spec, input_size=None) -> CostReport:
    """Analytic cost of a network: a zoo name, a YAML path or a :class:`NetworkSpec`, on a
    ``(1, in_channels, H, W)`` input; ``input_size`` is ``(H, W)`` or ``'HxW'`` (default: the
    spec's ``input_size``). Sizes must be multiples of ``4 * 2**(branches - 1)``; others raise
    :class:`~archlab.spec.SpecError` (a ``ValueError``).

    >>> count('sdhrnet_coco', '128x96').input_size
    (128, 96)
    """
    name = None
    if isinstance(name_or_spec, NetworkSpec):
        spec = name_or_spec
    elif isinstance(name_or_spec, (str, Path)):
        from .. import resolve_spec
        spec = resolve_spec(name_or_spec)
        if isinstance(name_or_spec, str) and not name_or_spec.endswith((".yaml", ".yml")) \
                and not Path(name_or_spec).is_file():
            name = name_or_spec      # the zoo name asked for (some zoo specs carry their base model's name)
    else:
        raise TypeError(f"count expects a model name, a YAML path or a NetworkSpec, got {type(name_or_spec).__name__}")
    return count_spec(spec, input_size, name=name)
