"""Analytic cost of a :class:`~archlab.spec.NetworkSpec`, computed from the spec alone.

:func:`count` prices the spec's :class:`~archlab.nets.plan.NetworkPlan` -- the same plan
:mod:`archlab.nets.builder` instantiates: stem, transitions, SEMs, stages (modules, branches,
fuse layers under both ``fuse_forward`` modes, only the outputs later layers read) and head --
collecting every layer's op records from the closed-form cost functions registered beside the
blocks (``basic_block_cost``, ``scr_cost``, ``sem_cost``, ``dasp_cost``, ...). No ``nn.Module``
is built, so it takes a few milliseconds.

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
from contextlib import contextmanager
from pathlib import Path

from .. import registry
from ..blocks.basic import conv_bn_act_cost
from ..nets.plan import isolated_plans, plan_network
from ..spec import NetworkSpec, SpecError, parse_size
from .memo import put as memo_put
from .ops import (MAC_CLASSES, MAC_OPS, OP_CLASSES, Op, OpList, act_op, element_count, eltwise_op, join,
                  upsample_op)
from .segments import Summary, combine, summarise

__all__ = ["count", "count_spec", "network_ops", "CostReport", "BLOCK_COSTS", "HEAD_COSTS", "GROUP_LEVELS"]

#: block name (as in :data:`archlab.blocks.BLOCKS`) -> analytic cost function: a live view of
#: :data:`archlab.registry.BLOCKS`. Per-branch blocks are called as
#: ``fn(in_channels, width, stride, hw=..., prefix=..., **options)``; multi-branch ones (``ccw``) as
#: ``fn(widths, hw=[...], prefix=..., **options)``.
BLOCK_COSTS = registry.BLOCKS.view("cost")
#: head type -> analytic cost function (a live view of :data:`archlab.registry.HEADS`)
HEAD_COSTS = registry.HEADS.view("cost")
_EXPANSION = registry.BLOCKS.view("expansion")     # (compatibility; multi-branch: registry.BLOCKS[name].multi_branch)

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


def _step_cost(step, hw, prefix: str) -> OpList:
    """One :class:`~archlab.nets.plan.ConvStep` (``prefix``: its module path)."""
    if step.kind == "conv":
        return conv_bn_act_cost(step.cin, step.cout, step.kernel, step.stride, hw=hw, act=step.act, prefix=prefix)
    return _dw_sep_cost(step.cin, step.cout, step.stride, step.act, hw, prefix)


def _path_cost(path, shape: tuple, prefix: str) -> OpList:
    """A transition or fuse :class:`~archlab.nets.plan.Path` applied to a ``(c, h, w)`` input."""
    if path.bare:
        return _step_cost(path.steps[0], shape[1:], prefix)
    ops = []
    for k, step in enumerate(path.steps):
        r = _step_cost(step, shape[1:], join(prefix, str(k)))
        ops += r
        shape = r.out
    if path.upsample != 1:
        c, h, w = shape
        f = path.upsample
        ops.append(upsample_op(join(prefix, str(len(path.steps))), "nearest", c * h * w, c * h * f * w * f))
        shape = (c, h * f, w * f)
    return OpList(ops, shape)


def _transition_cost(seq: "_Seq", stage, ys: list, prefix: str) -> list:
    """A stage's transition as ``forward_features`` applies it: branch ``b`` reads
    ``ys[stage.sources[b]]`` through ``stage.transition[b]``, appended to ``seq`` as memoised
    leaves. ``ys`` holds ``(c, h, w)`` triples; returns the new branch shapes."""
    shapes = []
    for b, (src, path) in enumerate(zip(stage.sources, stage.transition)):
        if path is None:
            shapes.append(ys[src])
            continue
        shape = tuple(ys[src])
        shapes.append(_leaf(seq, join(prefix, str(b)), ("path", path, shape), lambda: _path_cost(path, shape, "")))
    return shapes


def _check_same(a: tuple, b: tuple, where: str) -> None:
    if a != b:
        raise ValueError(f"{where}: cannot add tensors of shapes {a} and {b} (the input size does not halve "
                         "evenly down to the lowest-resolution branch)")


def _fuse_cost(seq: "_Seq", shapes: list, fuse: tuple, fuse_forward: str) -> list:
    """The exchange unit of ``MultiBranchModule.forward`` (rows ``fuse[i][j]`` of the module
    plan) under ``fuse_forward`` 'hrnet' (``out_i = relu(sum_j f_ij(x_j))``) or 'litehrnet'
    (``z0 = 2 x0 + ...``; ``f_i0`` applied to ``z0`` and doubled, see
    :mod:`archlab.nets.builder`), appended to ``seq`` with paths relative to the module.
    Returns the output shapes."""
    n = len(shapes)
    outs = []

    def numel(s):
        return s[0] * s[1] * s[2]

    def f(i, j):
        path = fuse[i][j]
        out = _leaf(seq, f"fuse_layers.{i}.{j}", ("path", path, tuple(shapes[j])),
                    lambda: _path_cost(path, shapes[j], ""))
        _check_same(out, shapes[i], f"fuse {i}<-{j}")
        return out

    def tail(y):
        for j in range(1, n):
            if i != j:
                f(i, j)
            seq.extend((eltwise_op("", "add", numel(y)),))
        seq.extend((act_op("relu", "relu", numel(y)),))
        outs.append(y)

    if fuse_forward == "litehrnet":
        z0 = shapes[0]
        seq.extend((eltwise_op("", "mul_scalar", numel(z0)),))
        i = 0
        tail(z0)
        for i in range(1, len(fuse)):
            y = f(i, 0)
            seq.extend((eltwise_op("", "mul_scalar", numel(y)),))
            tail(y)
        return outs
    for i in range(len(fuse)):
        tail(shapes[0] if i == 0 else f(i, 0))
    return outs


def _reprefix(ops, prefix: str) -> list[Op]:
    """``ops`` (recorded with paths relative to a block) moved under ``prefix``."""
    dot = prefix + "."
    new = tuple.__new__
    return [new(Op, (dot + o[0] if o[0] else prefix,) + o[1:]) for o in ops]


# -- segments: a tree of ``(prefix, body, summary, is_node)`` (see :mod:`.segments`) ----------------

class _Seq:
    """Builds a segment list in forward order: ``leaf`` appends a (shared) relative op body,
    ``extend`` collects ops that run directly at the parent's level into a run of their own."""

    def __init__(self):
        self.segs: list[tuple] = []
        self._run: list[Op] = []

    def extend(self, ops) -> None:
        self._run.extend(ops)

    def __iadd__(self, ops) -> "_Seq":
        self.extend(ops)
        return self

    def leaf(self, prefix: str | None, body: tuple, summary: tuple) -> None:
        self._flush()
        self.segs.append((prefix, body, summary, False))

    def node(self, prefix: str | None, children: tuple, summary: tuple) -> None:
        self._flush()
        self.segs.append((prefix, children, summary, True))

    def _flush(self) -> None:
        if self._run:
            run = tuple(self._run)           # fuse adds and ReLUs: interned, so equal runs share one body
            body, summary, _ = _memo(("run", run), lambda: OpList(run))
            self.segs.append((None, body, summary, False))
            self._run = []

    def done(self) -> tuple:
        self._flush()
        return tuple(self.segs)


def _materialise(segments, base: str | None = None, out: list | None = None) -> list[Op]:
    """The flat Op list of a segment tree (paths under ``base``; ``None``: as recorded)."""
    if out is None:
        out = []
    for prefix, body, _, is_node in segments:
        p = base if prefix is None else (prefix if base is None else f"{base}.{prefix}")
        if is_node:
            _materialise(body, p, out)
        elif p is None:
            out.extend(body)
        else:
            out.extend(_reprefix(body, p))
    return out


#: ``(block, cin, width, (h, w), options)`` -> ``(relative ops, summary, out shape)``;
#: multi-branch blocks (all branches' shapes), transition and fuse paths, stems, SEMs and heads
#: likewise. Bounded (the oldest quarter is evicted when full, :func:`~archlab.cost.memo.put`);
#: :func:`clear_caches` empties it.
_BLOCK_MEMO: dict = {}
_BLOCK_MEMO_MAX = 32768


def _memo(key, compute):
    try:
        hit = _BLOCK_MEMO.get(key)
    except TypeError:          # an unhashable option value: computed, not memoised
        key = hit = None
    if hit is None:
        r = compute()
        body = tuple(r)
        hit = (body, Summary.leaf(body), r.out)
        if key is not None:
            memo_put(_BLOCK_MEMO, key, hit, _BLOCK_MEMO_MAX)
    return hit


def _leaf(seq: "_Seq", prefix: str, key, compute):
    """``compute()`` (a cost function called with ``prefix=""``), memoised under ``key`` and
    appended to ``seq`` as a leaf under ``prefix``; returns its output shape."""
    body, summary, out = _memo(key, compute)
    seq.leaf(prefix, body, summary)
    return out


@registry.on_change
def clear_caches() -> None:
    """Forget every memoised block, path, stem, SEM, head and module cost (for cold-start timings; called
    whenever a registry entry changes, since the memo is keyed by block names)."""
    _BLOCK_MEMO.clear()
    _MODULE_MEMO.clear()


#: ``(input shapes, module plan key)`` -> ``(child segments, output shapes, summary)``
_MODULE_MEMO: dict = {}


@contextmanager
def isolated_caches():
    """Cost walks inside this block neither read nor fill this process's memos (blocks,
    modules, network plans): drawing and validating specs (:func:`~archlab.cost.predictor.random_specs`)
    leaves later predictions as cold as they would be, and evicts nothing."""
    global _BLOCK_MEMO, _MODULE_MEMO
    saved = _BLOCK_MEMO, _MODULE_MEMO
    _BLOCK_MEMO, _MODULE_MEMO = {}, {}
    try:
        with isolated_plans():
            yield
    finally:
        _BLOCK_MEMO, _MODULE_MEMO = saved


def _module_segment(shapes: list, mp, prefix: str) -> tuple[tuple, list]:
    """One ``MultiBranchModule`` (a :class:`~archlab.nets.plan.ModulePlan`: branch blocks, then
    the fuse layers) as a node segment under ``prefix``. Modules repeat (same shapes, same plan),
    so their segments are memoised."""
    key = (tuple(shapes), mp.key)
    try:
        hit = _MODULE_MEMO.get(key)
    except TypeError:              # an unhashable option value: compute directly
        key = hit = None
    try:
        if hit is None:
            hit = _module_cost_raw(shapes, mp)
            if key is not None:
                memo_put(_MODULE_MEMO, key, hit, _BLOCK_MEMO_MAX)
    except ValueError as e:
        raise ValueError(f"{prefix}: {e}") from None
    children, outs, summary = hit
    return (prefix, children, summary, True), list(outs)


def _module_cost_raw(shapes, mp) -> tuple:
    """``(child segments, output shapes, summary)`` of one module, paths relative to it."""
    seq = _Seq()
    fn = registry.BLOCKS[mp.block].cost
    opts = dict(mp.options)
    if mp.multi_branch:
        bw = [s[0] for s in shapes]
        sizes = [s[1:] for s in shapes]
        for k in range(mp.num_blocks[0]):
            body, summary, out = _memo(
                (mp.block, "multi_branch", tuple(bw), tuple(map(tuple, sizes)), mp.options),
                lambda bw=bw, sizes=sizes: fn(bw, hw=sizes, prefix="", **opts))
            seq.leaf(f"branches.{k}", body, summary)
            bw = [s[0] for s in out]
            sizes = [s[1:] for s in out]
        xs = [(c, *s) for c, s in zip(bw, sizes)]
    else:
        xs = []
        for b, width in enumerate(mp.widths):
            shape = tuple(shapes[b])
            for k in range(mp.num_blocks[b]):
                body, summary, out = _memo(
                    (mp.block, shape, width, mp.options),
                    lambda s=shape: fn(s[0], width, 1, hw=s[1:], prefix="", **opts))
                seq.leaf(f"branches.{b}.{k}", body, summary)
                shape = tuple(out)
            xs.append(shape)
    if mp.fuse is not None:
        xs = _fuse_cost(seq, xs, mp.fuse, mp.fuse_forward)
    else:
        xs = xs[:mp.num_out]
    children = seq.done()
    return children, tuple(xs), Summary.node(children)


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
    """The network's ops as ``(prefix, ops, summary)`` segments in forward order: the spec's
    :class:`~archlab.nets.plan.NetworkPlan` (what the builder builds), priced."""
    plan = plan_network(spec)
    seq = _Seq()
    size = tuple(size)
    llf = _leaf(seq, "stem", ("stem", plan.stem, plan.in_channels, size),
                lambda: registry.STEMS[plan.stem.type].cost(plan.stem, plan.in_channels, hw=size, prefix=""))
    ys = [llf]
    sem_cost = registry.MODULES["sem"].cost
    sem_key = tuple(sorted(plan.sem_options.items()))
    for i, st in enumerate(plan.stages):
        xs = _transition_cost(seq, st, ys, f"transitions.{i}")
        for b, c in st.sem:
            hw = tuple(xs[b][1:])
            xs[b] = _leaf(seq, f"sem.{i}.{b}", ("sem", c, hw, sem_key),
                          lambda c=c, hw=hw: sem_cost(c, **plan.sem_options, hw=hw, prefix=""))
        for m, mp in enumerate(st.modules):
            seg, xs = _module_segment(xs, mp, f"stages.{i}.{m}")
            seq.node(*seg[:3])
        ys = xs
    h = plan.head
    hw = tuple(tuple(s[1:]) for s in ys[:h.reads])
    _leaf(seq, "head", ("head", h.type, h.in_widths, llf, h.num_joints, hw, tuple(sorted(h.options.items()))),
          lambda: HEAD_COSTS[h.type](list(h.in_widths), llf[0], h.num_joints, hw=list(hw),
                                     llf_hw=llf[1:], prefix="", **h.options))
    return seq.done()


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
            summary = summarise(self._ops)
        else:
            self._ops = None
            self._segments = _segments
            summary = combine(sg[2] for sg in _segments)
        self.params, self.num_ops, kinds = summary
        #: op name -> (macs, numel_in, numel_out) summed over the network (what linear
        #: conventions price without touching the op list)
        self.op_totals = dict(kinds)
        self.macs = sum(v[0] for k, v in kinds.items() if k in MAC_OPS)
        by_class = dict.fromkeys(_CLASS_ORDER, 0)
        for k, (macs, nin, nout) in kinds.items():
            cls = OP_CLASSES[k]
            if cls in by_class:
                by_class[cls] += macs if k in MAC_OPS else nin if cls == "pooling" else nout
        self.macs_by_op = by_class
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
        from ..nets.factory import resolve_spec
        spec = resolve_spec(name_or_spec)
        if isinstance(name_or_spec, str) and not name_or_spec.endswith((".yaml", ".yml")) \
                and not Path(name_or_spec).is_file():
            name = name_or_spec      # the zoo name asked for (some zoo specs carry their base model's name)
    else:
        raise TypeError(f"count expects a model name, a YAML path or a NetworkSpec, got {type(name_or_spec).__name__}")
    return count_spec(spec, input_size, name=name)
