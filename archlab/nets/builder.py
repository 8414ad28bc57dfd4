"""The one generic builder: :class:`NetworkSpec` -> :class:`PoseNet`.

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

__all__ = ["PoseNet", "MultiBranchModule", "HRNetStem", "build_network", "init_weights"]


def _dw_sep(cin: int, cout: int, stride: int, act: bool, dd) -> nn.Sequential:
    """Lite-HRNet's ``dw3x3(stride) -> BN -> 1x1 -> BN [-> ReLU]``."""
    return nn.Sequential(ConvBNAct(cin, cin, 3, stride, groups=cin, act=False, **dd),
                         ConvBNAct(cin, cout, 1, act=act, **dd))


def make_transition(pre: tuple, cur: tuple, style: str, dd) -> nn.ModuleList:
    """HRNet ``_make_transition_layer``: change widths of existing branches, derive each new
    branch from the last previous one by stride-2 steps."""
    layers = []
    for i, c in enumerate(cur):
        if i < len(pre):
            if c == pre[i]:
                layers.append(nn.Identity())
            elif style == "hrnet":
                layers.append(ConvBNAct(pre[i], c, 3, 1, **dd))
            else:
                layers.append(_dw_sep(pre[i], c, 1, True, dd))
        else:
            steps = []
            for j in range(i + 1 - len(pre)):
                cin = pre[-1]
                cout = c if j == i - len(pre) else cin
                steps.append(ConvBNAct(cin, cout, 3, 2, **dd) if style == "hrnet" else _dw_sep(cin, cout, 2, True, dd))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


def make_fuse_layers(widths: tuple, num_out: int, style: str, dd) -> nn.ModuleList:
    """HRNet exchange unit: ``f_ij`` = 1x1 conv + BN + nearest upsample (j > i), identity (j = i),
    or ``i - j`` stride-2 3x3 convs (``style='hrnet'``) / depthwise-separable convs (``'lite'``)."""
    rows = []
    for i in range(num_out):
        row = []
        for j, cj in enumerate(widths):
            ci = widths[i]
            if j > i:
                row.append(nn.Sequential(ConvBNAct(cj, ci, 1, act=False, **dd),
                                         nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
            elif j == i:
                row.append(nn.Identity())
            else:
                steps = []
                for k in range(i - j):
                    last = k == i - j - 1
                    cout = ci if last else cj
                    if style == "hrnet":
                        steps.append(ConvBNAct(cj, cout, 3, 2, act=not last, **dd))
                    else:
                        steps.append(_dw_sep(cj, cout, 2, not last, dd))
                row.append(nn.Sequential(*steps))
        rows.append(nn.ModuleList(row))
    return nn.ModuleList(rows)


class MultiBranchModule(nn.Module):
    """One HRNet module: parallel branches of blocks, then the fuse (exchange) layers.

    ``branches`` is a ``ModuleList`` of per-branch ``Sequential`` blocks, or a single
    ``Sequential`` of multi-branch blocks (Lite-HRNet conditional channel weighting)."""

    def __init__(self, in_widths: tuple, stage: StageSpec, multiscale_output: bool, transition: str,
                 fuse_forward: str, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        cls = BLOCKS[stage.block]
        opts = dict(stage.block_options)
        self.multi_branch = getattr(cls, "multi_branch", False)
        n = len(stage.widths)
        if self.multi_branch:
            self.branches = nn.Sequential(*[cls(list(in_widths), **opts, **dd) for _ in range(stage.num_blocks[0])])
        else:
            branches = []
            for b in range(n):
                layers, c = [], in_widths[b]
                for _ in range(stage.num_blocks[b]):
                    layers.append(cls(c, stage.widths[b], **opts, **dd))
                    c = stage.widths[b] * cls.expansion
                branches.append(nn.Sequential(*layers))
            self.branches = nn.ModuleList(branches)
        self.out_widths = stage.out_widths
        self.num_out = n if multiscale_output else 1
        self.fuse_forward = fuse_forward
        self.fuse_layers = None
        if stage.fuse == "sum" and n > 1:
            self.fuse_layers = make_fuse_layers(self.out_widths, self.num_out, transition, dd)
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
    """A top-down pose network built from a :class:`NetworkSpec`; ``forward(images) -> heatmaps``
    of shape ``(N, num_joints, H/4, W/4)``."""

    def __init__(self, spec: NetworkSpec, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.spec = spec
        st = spec.stem
        self.stem = STEMS[st.type].cls.from_spec(st, spec.in_channels, **dd)
        llf = st.out_width
        pre = (llf,)
        self.transitions = nn.ModuleList()
        self.sem = nn.ModuleList()
        self.stages = nn.ModuleList()
        for i, stage in enumerate(spec.stages):
            cur = stage.out_widths
            self.transitions.append(make_transition(pre, cur, spec.transition, dd))
            self.sem.append(nn.ModuleDict({str(b): SEM(cur[b], **spec.sem_options, **dd) for b in stage.sem}))
            modules = []
            for m in range(stage.num_modules):
                last = i == len(spec.stages) - 1 and m == stage.num_modules - 1
                modules.append(MultiBranchModule(cur, stage, stage.multiscale_output or not last,
                                                 spec.transition, spec.fuse_forward, **dd))
            self.stages.append(nn.Sequential(*modules))
            pre = cur
        head_cls = HEADS[spec.head.type]
        self.head = head_cls(list(pre), llf, spec.num_joints, **spec.head.options, **dd)

    def forward_features(self, x: torch.Tensor):
        """Stem and stages: returns ``(branch_outputs, low_level_features)``."""
        llf = self.stem(x)
        ys = [llf]
        for trans, sem, stage in zip(self.transitions, self.sem, self.stages):
            xs = []
            for b, t in enumerate(trans):
                src = ys[b] if b < len(ys) else ys[-1]
                xs.append(t(src))
            for key, m in sem.items():
                xs[int(key)] = m(xs[int(key)])
            ys = stage(xs)
        return ys, llf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys, llf = self.forward_features(x)
        return self.head(ys, llf)


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
