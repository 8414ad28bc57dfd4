"""The plan: a :class:`~archlab.spec.NetworkSpec` expanded into the layers it builds.

One walk of the spec decides every layer of the network -- the stem, each stage's transition
paths (which previous output each branch reads, through which convolutions), its SEMs, its
modules (branch blocks, fuse paths, how many outputs each module produces) and the head (which
branches it reads). Two consumers read the same plan:

* :mod:`archlab.nets.builder` instantiates it (``nn.Module`` per descriptor);
* :mod:`archlab.cost.analytic` prices it (the registered cost function per descriptor),

so the counted network is the built one by construction. This module imports no torch.

Outputs nobody reads are not built
----------------------------------
The last module of the last stage produces only the branches the head reads: every branch for a
head registered with ``needs_all_branches`` (``iterative``), branch 0 for the others
(``simple``, ``dasp``). A last stage left at ``multiscale_output: true`` before a head that
reads branch 0 therefore builds (and counts) its fuse layers into branch 0 only, exactly as
``multiscale_output: false`` does; otherwise those fuse rows would hold parameters that never get
a gradient and work that no output uses. Every other module's outputs are read by the next
transition. The one remaining way to compute unread work -- a last stage with several branches,
``fuse: none`` and a head that reads branch 0 only -- is refused by the spec validator
(``stages[k].fuse``).

>>> from archlab.spec import NetworkSpec
>>> spec = NetworkSpec.from_dict({"name": "p", "num_joints": 3, "input_size": [64, 64],
...     "stages": [{"widths": [8, 16], "num_blocks": [1, 1]}], "head": {"type": "dasp"}})
>>> p = plan_network(spec)
>>> p.stages[0].modules[-1].num_out, p.head.reads, p.head.in_widths
(1, 1, (8,))
>>> p.stages[0].transition[1]
Path(steps=(ConvStep(kind='conv', cin=256, cout=16, kernel=3, stride=2, act=True),), upsample=1, bare=False)
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

from .. import registry
from ..spec import NetworkSpec, StageSpec, StemSpec

__all__ = ["ConvStep", "Path", "ModulePlan", "StagePlan", "HeadPlan", "NetworkPlan", "plan_network",
           "plan_module", "transition_paths", "fuse_paths", "head_reads"]


class ConvStep(NamedTuple):
    """One layer of a transition or fuse path.

    ``kind='conv'``: ``ConvBNAct(cin, cout, kernel, stride, act)``; ``kind='dwsep'``: Lite-HRNet's
    ``dw3x3(stride) -> BN`` then ``1x1 -> BN [-> ReLU]`` (``kernel`` is 3)."""

    kind: str
    cin: int
    cout: int
    kernel: int
    stride: int
    act: bool


class Path(NamedTuple):
    """A transition or fuse path: ``steps`` in order, then a nearest upsample by ``upsample``
    (1: none). ``bare``: the single step is the module itself rather than item 0 of a
    ``Sequential`` (HRNet's width-changing transition), which fixes the parameter names."""

    steps: tuple
    upsample: int = 1
    bare: bool = False


class ModulePlan(NamedTuple):
    """One ``MultiBranchModule``: ``num_blocks[b]`` ``block`` units of width ``widths[b]`` per
    branch (one shared sequence for a multi-branch block), then ``fuse`` -- ``fuse[i][j]`` the
    path from branch ``j`` to output ``i`` (``None``: identity), one row per output, or ``None``
    for no fuse layer. It returns its first ``num_out`` branch outputs."""

    block: str
    options: tuple            # sorted (name, value) pairs
    in_widths: tuple          # channels entering each branch
    widths: tuple
    num_blocks: tuple
    multi_branch: bool
    out_widths: tuple         # channels each branch leaves its blocks with
    fuse: tuple | None
    num_out: int
    style: str                # transition / fuse layer style: 'hrnet' or 'lite'
    fuse_forward: str

    @property
    def key(self) -> tuple:
        """What decides the module (the fuse paths follow from it): a memo key."""
        return (self.block, self.options, self.in_widths, self.widths, self.num_blocks, self.fuse is not None,
                self.num_out, self.style, self.fuse_forward)


class StagePlan(NamedTuple):
    """One stage: per branch, the previous output it reads (``sources[b]``) through
    ``transition[b]`` (``None``: identity); SEMs as ``(branch, channels)``; the modules."""

    sources: tuple
    transition: tuple
    sem: tuple
    modules: tuple


class HeadPlan(NamedTuple):
    """The head: ``type`` and ``options`` (a dict), the widths of the branches it reads (the first
    ``reads`` of the last stage), the low-level feature width and the joint count."""

    type: str
    options: dict
    in_widths: tuple
    reads: int
    llf_width: int
    num_joints: int


class NetworkPlan(NamedTuple):
    """The whole network: stem (built from its spec), stages, head."""

    stem: StemSpec
    in_channels: int
    llf_width: int
    stages: tuple
    head: HeadPlan
    sem_options: dict

    def summary(self) -> str:
        """One line per stage and module (widths, blocks, outputs) and the head."""
        lines = [f"stem {self.stem.type}: {self.in_channels} -> {self.llf_width} channels (1/4)"]
        for i, st in enumerate(self.stages):
            trans = ", ".join("id" if p is None else f"{len(p.steps)} step(s)" for p in st.transition)
            lines.append(f"stage {i}: transition from outputs {list(st.sources)} [{trans}]"
                         + (f", SEM on {[b for b, _ in st.sem]}" if st.sem else ""))
            for m, mp in enumerate(st.modules):
                lines.append(f"  module {m}: {mp.block} x {list(mp.num_blocks)} at widths {list(mp.widths)}, "
                             f"fuse {'sum' if mp.fuse is not None else 'none'}, outputs {mp.num_out}")
        h = self.head
        lines.append(f"head {h.type}: reads {h.reads} branch(es) of widths {list(h.in_widths)}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------

def head_reads(head_type: str, num_branches: int) -> int:
    """How many of the last stage's branches (the first ones) a head reads: all for a head
    registered with ``needs_all_branches``, else branch 0 only."""
    return num_branches if registry.HEADS[head_type].facts.get("needs_all_branches", False) else 1


def _step(style: str, cin: int, cout: int, stride: int, act: bool) -> ConvStep:
    return ConvStep("conv" if style == "hrnet" else "dwsep", cin, cout, 3, stride, act)


@lru_cache(maxsize=512)
def transition_paths(pre: tuple, cur: tuple, style: str) -> tuple:
    """HRNet ``_make_transition_layer``: an existing branch whose width changes gets one
    3x3 step; a new branch is derived from the last previous one by stride-2 steps (the last
    sets its width). Returns one :class:`Path` or ``None`` (identity) per branch of ``cur``."""
    paths = []
    for i, c in enumerate(cur):
        if i < len(pre):
            paths.append(None if c == pre[i] else Path((_step(style, pre[i], c, 1, True),), bare=True))
            continue
        steps = []
        for j in range(i + 1 - len(pre)):
            cin = pre[-1]
            steps.append(_step(style, cin, c if j == i - len(pre) else cin, 2, True))
        paths.append(Path(tuple(steps)))
    return tuple(paths)


@lru_cache(maxsize=512)
def fuse_paths(widths: tuple, num_out: int, style: str) -> tuple:
    """HRNet exchange unit: row ``i < num_out``, column ``j``: a 1x1 ConvBN then a nearest
    upsample by ``2**(j-i)`` (``j > i``), identity (``j == i``), or ``i - j`` stride-2 3x3
    steps, the last without activation (``j < i``)."""
    rows = []
    for i in range(num_out):
        ci, row = widths[i], []
        for j, cj in enumerate(widths):
            if j > i:
                row.append(Path((ConvStep("conv", cj, ci, 1, 1, False),), upsample=2 ** (j - i)))
            elif j == i:
                row.append(None)
            else:
                row.append(Path(tuple(_step(style, cj, ci if k == i - j - 1 else cj, 2, k != i - j - 1)
                                      for k in range(i - j))))
        rows.append(tuple(row))
    return tuple(rows)


def _options_key(options: dict) -> tuple:
    return tuple(sorted(options.items()))


def plan_module(in_widths, stage: StageSpec, num_out: int, style: str, fuse_forward: str) -> ModulePlan:
    """The plan of one module of ``stage`` on branch inputs of ``in_widths`` channels that
    returns its first ``num_out`` outputs (fuse rows are planned for those only)."""
    entry = registry.BLOCKS[stage.block]
    n = len(stage.widths)
    if not 1 <= num_out <= n:
        raise ValueError(f"plan_module: num_out must be in 1..{n}, got {num_out}")
    out_widths = tuple(w * entry.expansion for w in stage.widths)
    fuse = fuse_paths(out_widths, num_out, style) if stage.fuse == "sum" and n > 1 else None
    return ModulePlan(stage.block, _options_key(stage.block_options), tuple(in_widths), stage.widths,
                      stage.num_blocks, entry.multi_branch, out_widths, fuse, num_out, style, fuse_forward)


def _plan_stages(spec: NetworkSpec, llf: int, reads: int) -> tuple:
    stages = []
    pre = (llf,)
    last_stage = len(spec.stages) - 1
    for i, stage in enumerate(spec.stages):
        cur = stage.out_widths
        n = len(cur)
        sources = tuple(min(b, len(pre) - 1) for b in range(n))
        full = plan_module(cur, stage, n, spec.transition, spec.fuse_forward)
        modules = [full] * stage.num_modules
        if i == last_stage:
            modules[-1] = plan_module(cur, stage, reads if stage.multiscale_output else 1, spec.transition,
                                      spec.fuse_forward)
        sem_c = tuple((b, cur[b]) for b in stage.sem)
        stages.append(StagePlan(sources, transition_paths(pre, cur, spec.transition), sem_c, tuple(modules)))
        pre = cur
    return tuple(stages)


def _build_plan(spec: NetworkSpec) -> NetworkPlan:
    llf = spec.stem.out_width
    last = spec.stages[-1].out_widths
    reads = head_reads(spec.head.type, len(last))
    head = HeadPlan(spec.head.type, dict(spec.head.options), last[:reads], reads, llf, spec.num_joints)
    return NetworkPlan(spec.stem, spec.in_channels, llf, _plan_stages(spec, llf, reads), head,
                       dict(spec.sem_options))


#: id(spec) -> (weak reference to the spec, its plan); emptied when a registry entry changes
_PLANS: dict[int, tuple[Any, NetworkPlan]] = {}
_PLANS_MAX = 512


@registry.on_change
def clear_plans() -> None:
    """Forget the memoised plans (a block's expansion or a head's reads may have changed)."""
    _PLANS.clear()
    transition_paths.cache_clear()
    fuse_paths.cache_clear()


@contextmanager
def isolated_plans():
    """Plans made inside this block are neither looked up in nor added to the memo (see
    :func:`archlab.cost.analytic.isolated_caches`)."""
    global _PLANS
    saved, _PLANS = _PLANS, {}
    try:
        yield
    finally:
        _PLANS = saved


def plan_network(spec: NetworkSpec) -> NetworkPlan:
    """The plan of ``spec`` (memoised per spec object; specs are immutable)."""
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"plan_network expects a NetworkSpec, got {type(spec).__name__}")
    hit = _PLANS.get(id(spec))
    if hit is not None and hit[0]() is spec:
        return hit[1]
    plan = _build_plan(spec)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(spec)] = (weakref.ref(spec), plan)
    return plan
