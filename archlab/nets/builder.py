"""The one generic builder: :class:`NetworkSpec` -> :class:`PoseNet`.

The spec is first expanded into its :class:`~archlab.nets.plan.NetworkPlan` (which layers, with
which widths, which outputs each module produces, which branches the head reads); this module
only instantiates it, one ``nn.Module`` per descriptor, and :mod:`archlab.cost.analytic` prices
the same plan. Outputs no later layer reads are not built (see :mod:`archlab.nets.plan`).

Layout of the built module (names are stable; the cost breakdowns group by them)::

    stem           HRNet stem (conv/2, conv/2, layer1) or Lite-HRNet stem      -> f_LLF
    transitions[i] per-branch transition into stage i (identity where widths agree)
    sem[i]         SEM on the branches listed in stages[i].sem (after the transition)
    stages[i]      Sequential of MultiBranchModule: branches[b] blocks, then fuse layers
    head           simple / iterative / dasp

``fuse_forward='litehrnet'`` reproduces the public Lite-HRNet forward exactly: there,
``y = out[0]; y += out[0]`` doubles branch 0 in place, so branch 0's fused sum ``z0`` is what
the later outputs read, and ``fuse_layers[i][0]`` is applied twice::

    z0  = 2 x0 + sum_{j>0} f_0j(x_j)                ;  out_0 = relu(z0)
    z_i = 2 f_i0(z0) + x_i + sum_{j>0, j!=i} f_ij(x_j) ;  out_i = relu(z_i)

``fuse_forward='hrnet'`` is the textbook ``out_i = relu(sum_j f_ij(x_j))`` (``f_ii = id``).
Parameters and multiply-adds of the convolutions are identical under both; only the element-wise
adds differ.
"""
from __future__ import annotations

import torch
from torch import nn

from ..blocks import BLOCKS, HEADS, SEM
from ..blocks.basic import ConvBNAct
from ..blocks.stems import HRNetStem
from ..registry import STEMS
from ..spec import NetworkSpec, StageSpec
from .plan import ConvStep, ModulePlan, Path, fuse_paths, plan_module, plan_network, transition_paths

__all__ = ["PoseNet", "MultiBranchModule", "HRNetStem", "build_network", "init_weights"]


def _dw_sep(cin: int, cout: int, stride: int, act: bool, dd) -> nn.Sequential:
    """Lite-HRNet's ``dw3x3(stride) -> BN -> 1x1 -> BN [-> ReLU]``."""
    return nn.Sequential(ConvBNAct(cin, cin, 3, stride, groups=cin, act=False, **dd),
                         ConvBNAct(cin, cout, 1, act=act, **dd))


def make_step(step: ConvStep, dd) -> nn.Module:
    """The module of one :class:`~archlab.nets.plan.ConvStep`."""
    if step.kind == "conv":
        return ConvBNAct(step.cin, step.cout, step.kernel, step.stride, act=step.act, **dd)
    return _dw_sep(step.cin, step.cout, step.stride, step.act, dd)


def make_path(path: Path | None, dd) -> nn.Module:
    """The module of a transition or fuse :class:`~archlab.nets.plan.Path` (``None``: identity)."""
    if path is None:
        return nn.Identity()
    if path.bare:
        return make_step(path.steps[0], dd)
    layers = [make_step(s, dd) for s in path.steps]
    if path.upsample != 1:
        layers.append(nn.Upsample(scale_factor=path.upsample, mode="nearest"))
    return nn.Sequential(*layers)


def make_transition(pre: tuple, cur: tuple, style: str, dd) -> nn.ModuleList:
    """HRNet ``_make_transition_layer`` (:func:`archlab.nets.plan.transition_paths`, built)."""
    return nn.ModuleList(make_path(p, dd) for p in transition_paths(tuple(pre), tuple(cur), style))


def make_fuse_layers(widths: tuple, num_out: int, style: str, dd) -> nn.ModuleList:
    """HRNet exchange unit (:func:`archlab.nets.plan.fuse_paths`, built): ``f_ij`` = 1x1 conv +
    BN + nearest upsample (j > i), identity (j = i), or ``i - j`` stride-2 3x3 convs
    (``style='hrnet'``) / depthwise-separable convs (``'lite'``)."""
    return _fuse_modules(fuse_paths(tuple(widths), num_out, style), dd)


def _fuse_modules(rows: tuple, dd) -> nn.ModuleList:
    return nn.ModuleList(nn.ModuleList(make_path(p, dd) for p in row) for row in rows)


class MultiBranchModule(nn.Module):
    """One HRNet module: parallel branches of blocks, then the fuse (exchange) layers.

    ``branches`` is a ``ModuleList`` of per-branch ``Sequential`` blocks, or a single
    ``Sequential`` of multi-branch blocks (Lite-HRNet conditional channel weighting).
    ``MultiBranchModule(in_widths, stage, multiscale_output, transition, fuse_forward)`` plans
    the module itself; :meth:`from_plan` builds a :class:`~archlab.nets.plan.ModulePlan`."""

    def __init__(self, in_widths: tuple, stage: StageSpec, multiscale_output: bool, transition: str,
                 fuse_forward: str, *, device=None, dtype=None):
        super().__init__()
        n = len(stage.widths)
        self._build(plan_module(in_widths, stage, n if multiscale_output else 1, transition, fuse_forward),
                    dict(device=device, dtype=dtype))

    @classmethod
    def from_plan(cls, plan: ModulePlan, *, device=None, dtype=None) -> "MultiBranchModule":
        """The module a :class:`~archlab.nets.plan.ModulePlan` describes."""
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self._build(plan, dict(device=device, dtype=dtype))
        return self

    def _build(self, plan: ModulePlan, dd) -> None:
        cls = BLOCKS[plan.block]
        opts = dict(plan.options)
        self.multi_branch = plan.multi_branch
        if self.multi_branch:
            self.branches = nn.Sequential(*[cls(list(plan.in_widths), **opts, **dd)
                                            for _ in range(plan.num_blocks[0])])
        else:
            branches = []
            for b, (c, w) in enumerate(zip(plan.in_widths, plan.widths)):
                layers = []
                for _ in range(plan.num_blocks[b]):
                    layers.append(cls(c, w, **opts, **dd))
                    c = w * cls.expansion
                branches.append(nn.Sequential(*layers))
            self.branches = nn.ModuleList(branches)
        self.out_widths = plan.out_widths
        self.num_out = plan.num_out
        self.fuse_forward = plan.fuse_forward
        self.fuse_layers = None
        if plan.fuse is not None:
            self.fuse_layers = _fuse_modules(plan.fuse, dd)
            self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.multi_branch:
            xs = self.branches(list(xs))
        else:
            xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs[: self.num_out]
        f = self.fuse_layers
        if self.fuse_forward == "litehrnet":
            z0 = 2 * xs[0]
            for j in range(1, len(xs)):
                z0 = z0 + f[0][j](xs[j])
            out = [self.relu(z0)]
            for i in range(1, self.num_out):
                y = 2 * f[i][0](z0)
                for j in range(1, len(xs)):
                    y = y + (xs[j] if i == j else f[i][j](xs[j]))
                out.append(self.relu(y))
            return out
        out = []
        for i in range(self.num_out):
            y = xs[0] if i == 0 else f[i][0](xs[0])
            for j in range(1, len(xs)):
                y = y + (xs[j] if i == j else f[i][j](xs[j]))
            out.append(self.relu(y))
        return out


class PoseNet(nn.Module):
    """A top-down pose network built from a :class:`NetworkSpec` (through its
    :class:`~archlab.nets.plan.NetworkPlan`, which the analytic counter prices too);
    ``forward(images) -> heatmaps`` of shape ``(N, num_joints, H/4, W/4)``."""

    def __init__(self, spec: NetworkSpec, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.spec = spec
        plan = self.plan = plan_network(spec)
        self.stem = STEMS[plan.stem.type].cls.from_spec(plan.stem, plan.in_channels, **dd)
        self.transitions = nn.ModuleList()
        self.sem = nn.ModuleList()
        self.stages = nn.ModuleList()
        for st in plan.stages:
            self.transitions.append(nn.ModuleList(make_path(p, dd) for p in st.transition))
            self.sem.append(nn.ModuleDict({str(b): SEM(c, **plan.sem_options, **dd) for b, c in st.sem}))
            self.stages.append(nn.Sequential(*[MultiBranchModule.from_plan(mp, **dd) for mp in st.modules]))
        self._sources = [st.sources for st in plan.stages]
        h = plan.head
        self.head = HEADS[h.type](list(h.in_widths), h.llf_width, h.num_joints, **h.options, **dd)
        self.register_load_state_dict_pre_hook(_drop_unbuilt_fuse_rows)

    def forward_features(self, x: torch.Tensor):
        """Stem and stages: returns ``(branch_outputs, low_level_features)``."""
        llf = self.stem(x)
        ys = [llf]
        for trans, sem, stage, sources in zip(self.transitions, self.sem, self.stages, self._sources):
            xs = [t(ys[s]) for t, s in zip(trans, sources)]
            for key, m in sem.items():
                xs[int(key)] = m(xs[int(key)])
            ys = stage(xs)
        return ys, llf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys, llf = self.forward_features(x)
        return self.head(ys, llf)


def _drop_unbuilt_fuse_rows(module, state_dict, prefix, *args) -> None:
    """Checkpoints written before the plan stopped building unread outputs hold the last
    module's fuse rows ``i >= num_out`` (weights that never got a gradient): drop them on load."""
    i = len(module.stages) - 1
    last = module.stages[i][-1]
    if last.fuse_layers is None:
        return
    head = f"{prefix}stages.{i}.{len(module.stages[i]) - 1}.fuse_layers."
    for key in [k for k in state_dict if k.startswith(head)]:
        row = key[len(head):].split(".", 1)[0]
        if row.isdigit() and int(row) >= last.num_out:
            del state_dict[key]


def init_weights(model: nn.Module) -> nn.Module:
    """HRNet/Lite-HRNet initialisation: conv weights ``N(0, 0.001)``, biases 0, BN weight 1 and
    bias 0 (skipped on the ``meta`` device, where there is nothing to fill)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if m.weight.device.type == "meta":
                continue
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.weight.device.type != "meta":
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def build_network(spec: NetworkSpec, *, device=None, dtype=None) -> PoseNet:
    """Build (and initialise, unless on ``meta``) the network a spec describes."""
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"build_network expects a NetworkSpec, got {type(spec).__name__}")
    return init_weights(PoseNet(spec, device=device, dtype=dtype))
