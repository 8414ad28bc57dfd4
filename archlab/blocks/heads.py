"""Pose heads. Every head is built as ``Head(branch_channels, llf_channels, num_joints, **options)``
and called as ``head(branch_outputs, low_level_features) -> heatmaps`` (1/4 input resolution).

* ``'simple'`` -- :class:`SimpleHead`: HRNet's final layer, a ``k x k`` convolution (with bias)
  from the highest-resolution branch to one heatmap per joint.
* ``'iterative'`` -- :class:`IterativeHead`: Lite-HRNet's iterative head (low-to-high
  resolution, bilinear upsampling and depthwise-separable convs) followed by the simple head.
* ``'dasp'`` -- :class:`DASPHead`: the paper's DASP (:mod:`archlab.blocks.dasp`).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ..ops import OpList, conv2d_op, eltwise_op, join, upsample_op
from ..registry import HEADS as HEAD_REGISTRY
from .basic import ConvBNAct, conv_bn_act_cost
from .dasp import DASP, dasp_cost

__all__ = ["SimpleHead", "IterativeHead", "DASPHead", "HEADS", "simple_head_cost", "iterative_head_cost",
           "dasp_head_cost", "HEAD_COSTS"]


def _kernel_1_or_3(v) -> str | None:
    return None if v in (1, 3) else f"must be 1 or 3, got {v}"


def _positive_width(v) -> str | None:
    return None if v >= 1 else f"must be a positive width, got {v}"


def _dilations(rates) -> str | None:
    if not rates or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
        return f"must be a non-empty list of positive integer dilations, got {list(rates)}"
    return None


@HEAD_REGISTRY.register("simple", checks={"kernel": _kernel_1_or_3}, knobs={"kernel": {"choices": [1, 3]}})
class SimpleHead(nn.Module):
    """``Conv2d(c0 -> num_joints, kernel, bias=True)`` on branch 0 (HRNet ``final_layer``).

    >>> SimpleHead([32, 64], 0, 17)([torch.zeros(1, 32, 16, 12)], None).shape
    torch.Size([1, 17, 16, 12])
    """

    OPTIONS = {"kernel": 1}
    needs_all_branches = False

    def __init__(self, branch_channels, llf_channels: int, num_joints: int, *, kernel: int = 1,
                 device=None, dtype=None):
        super().__init__()
        if kernel not in (1, 3):
            raise ValueError(f"SimpleHead: kernel must be 1 or 3, got {kernel}")
        self.final = nn.Conv2d(branch_channels[0], num_joints, kernel, padding=kernel // 2,
                               device=device, dtype=dtype)

    def forward(self, xs, llf=None):
        return self.final(xs[0])


class _DWSeparable(nn.Sequential):
    """mmcv ``DepthwiseSeparableConvModule`` as Lite-HRNet's head uses it: ``dw3x3 -> BN``
    (no activation), ``1x1 -> BN -> ReLU``."""

    def __init__(self, cin: int, cout: int, *, device=None, dtype=None):
        super().__init__(ConvBNAct(cin, cin, 3, groups=cin, act=False, device=device, dtype=dtype),
                         ConvBNAct(cin, cout, 1, device=device, dtype=dtype))


@HEAD_REGISTRY.register("iterative", checks={"kernel": _kernel_1_or_3}, knobs={"kernel": {"choices": [1, 3]}})
class IterativeHead(nn.Module):
    """Lite-HRNet ``IterativeHead`` + the 1x1 final conv (mmpose ``TopDownSimpleHead``).

    Branches are visited from lowest to highest resolution; each is summed with the previous
    (bilinear, ``align_corners=True``) result and projected to the next branch's width.

    >>> h = IterativeHead([40, 80], 0, 17)
    >>> h([torch.zeros(1, 40, 8, 8), torch.zeros(1, 80, 4, 4)]).shape
    torch.Size([1, 17, 8, 8])
    """

    OPTIONS = {"kernel": 1}
    needs_all_branches = True

    def __init__(self, branch_channels, llf_channels: int, num_joints: int, *, kernel: int = 1,
                 device=None, dtype=None):
        super().__init__()
        rev = list(branch_channels)[::-1]
        self.projects = nn.ModuleList(
            _DWSeparable(rev[i], rev[i + 1] if i + 1 < len(rev) else rev[i], device=device, dtype=dtype)
            for i in range(len(rev)))
        self.final = SimpleHead(branch_channels, llf_channels, num_joints, kernel=kernel,
                                device=device, dtype=dtype)

    def forward(self, xs, llf=None):
        last = None
        ys = []
        for s, proj in zip(xs[::-1], self.projects):
            if last is not None:
                s = s + F.interpolate(last, size=s.shape[-2:], mode="bilinear", align_corners=True)
            last = proj(s)
            ys.append(last)
        return self.final(ys[::-1])


@HEAD_REGISTRY.register("dasp", checks={"rates": _dilations, **dict.fromkeys(("growth", "proj", "llf_proj", "fuse"),
                                                                             _positive_width)},
                        knobs={"rates": {"choices": [[1, 6, 12, 18], [1, 3, 6, 9]]},
                               "growth": {"choices": [8, 16, 32]}})
class DASPHead(DASP):
    """The DASP module used as the network head (branch 0 + low-level features)."""

    OPTIONS = {"rates": (1, 6, 12, 18), "growth": 16, "proj": 32, "llf_proj": 32, "fuse": 32}
    needs_all_branches = False

    def __init__(self, branch_channels, llf_channels: int, num_joints: int, *, device=None, dtype=None, **kw):
        super().__init__(branch_channels[0], llf_channels, num_joints, device=device, dtype=dtype, **kw)

    def forward(self, xs, llf=None):  # type: ignore[override]
        return super().forward(xs[0], llf)


#: head type -> class: a live view of :data:`archlab.registry.HEADS`
HEADS = HEAD_REGISTRY.view("cls")


# ----------------------------------------------------------------------------------------------
# Analytic cost (archlab.cost.ops). A head's cost function takes the head's constructor
# arguments, ``hw`` -- the list of per-branch input sizes (h, w) -- and ``llf_hw``, the size of
# the low-level features, and returns an OpList whose ``out`` is the heatmaps' (J, h, w).

@HEAD_REGISTRY.cost_of("simple")
def simple_head_cost(branch_channels, llf_channels: int, num_joints: int, *, hw, llf_hw=None, kernel: int = 1,
                     prefix: str = "") -> OpList:
    """:class:`SimpleHead`: one ``k x k`` conv with bias on branch 0, MACs ``h w c_0 J k^2``."""
    if kernel not in (1, 3):
        raise ValueError(f"SimpleHead: kernel must be 1 or 3, got {kernel}")
    h, w = hw[0]
    op, (ho, wo) = conv2d_op(join(prefix, "final"), list(branch_channels)[0], num_joints, kernel, 1, h, w,
                             padding=kernel // 2, bias=True)
    return OpList([op], (num_joints, ho, wo))


@HEAD_REGISTRY.cost_of("iterative")
def iterative_head_cost(branch_channels, llf_channels: int, num_joints: int, *, hw, llf_hw=None, kernel: int = 1,
                        prefix: str = "") -> OpList:
    """:class:`IterativeHead`: from the lowest resolution up, add the bilinearly upsampled previous
    result (``c_i h_i w_i`` elements each), then a depthwise-separable projection
    (``dw3x3 -> BN``, ``1x1 -> BN -> ReLU``: MACs ``h_i w_i c_i (9 + c_{i-1})``); then the simple
    head on the highest-resolution result."""
    chans = list(branch_channels)
    sizes = [tuple(s) for s in hw]
    if len(sizes) < len(chans):
        raise ValueError(f"IterativeHead: {len(chans)} branches but only {len(sizes)} input sizes")
    rev = chans[::-1]
    ops, last = [], None
    for i, (c, (h, w)) in enumerate(zip(rev, sizes[: len(chans)][::-1])):
        if last is not None:
            lc, lh, lw = last
            if lc != c:
                raise ValueError(f"IterativeHead: projection {i - 1} gives {lc} channels, branch has {c}")
            ops += [upsample_op(prefix, "bilinear", lc * lh * lw, c * h * w), eltwise_op(prefix, "add", c * h * w)]
        cout = rev[i + 1] if i + 1 < len(rev) else rev[i]
        dw = conv_bn_act_cost(c, c, 3, hw=(h, w), groups=c, act=False, prefix=join(prefix, f"projects.{i}.0"))
        pw = conv_bn_act_cost(c, cout, 1, hw=dw.out[1:], prefix=join(prefix, f"projects.{i}.1"))
        ops += dw
        ops += pw
        last = pw.out
    fin = simple_head_cost(chans, llf_channels, num_joints, hw=[last[1:]], kernel=kernel,
                           prefix=join(prefix, "final"))
    return OpList([*ops, *fin], fin.out)


@HEAD_REGISTRY.cost_of("dasp")
def dasp_head_cost(branch_channels, llf_channels: int, num_joints: int, *, hw, llf_hw=None, prefix: str = "",
                   **options) -> OpList:
    """:class:`DASPHead`: :func:`~archlab.blocks.dasp.dasp_cost` on branch 0 and the low-level
    features (paper eqs. 18-19)."""
    unknown = sorted(set(options) - set(DASPHead.OPTIONS))
    if unknown:
        raise ValueError(f"DASPHead: unknown option {unknown[0]!r} (known: {', '.join(DASPHead.OPTIONS)})")
    opts = {**DASPHead.OPTIONS, **options}
    return dasp_cost(list(branch_channels)[0], llf_channels, num_joints, hw=hw[0], llf_hw=llf_hw, prefix=prefix,
                     **opts)


#: head type -> analytic cost function (the counterpart of :data:`HEADS`; a live registry view).
HEAD_COSTS = HEAD_REGISTRY.view("cost")
