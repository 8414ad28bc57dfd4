"""DASP: dense atrous spatial pyramid pooling with low-level-feature fusion (SDHRNet §3.3).

Eq. (18): ``y_l = H_{3, d_l}([y_{l-1}, ..., y_0])`` -- each 3x3 dilated convolution (BN, ReLU)
takes the concatenation of the input ``y_0`` and all earlier outputs (DenseASPP, Yang et al.,
CVPR 2018), with dilation rates ``d = (1, 6, 12, 18)`` by default.

Eq. (19): ``f = K1 * K1 * (K1 * f_LLF  ++  K1 * y)`` -- the dense output ``y`` (the
concatenation ``[y_0, y_1, ..., y_L]``) and the low-level features ``f_LLF`` are each projected
by a 1x1 convolution (BN, ReLU), concatenated ("+" in the paper is a concat), fused by a 1x1
convolution (BN, ReLU) and mapped by a final 1x1 convolution (with bias) to one heatmap per joint.
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops import OpList, conv2d_op, join, memory_op
from .basic import ConvBNAct, conv_bn_act_cost

__all__ = ["DASP", "dasp_cost"]


def check_dasp_args(rates, growth, proj, llf_proj, fuse) -> tuple:
    """Validate DASP's settings (shared by the module and its cost formula); returns the rates."""
    rates = tuple(int(r) for r in rates)
    if not rates or any(r < 1 for r in rates):
        raise ValueError(f"DASP: rates must be a non-empty list of positive dilations, got {rates}")
    for name, v in (("growth", growth), ("proj", proj), ("llf_proj", llf_proj), ("fuse", fuse)):
        if int(v) < 1:
            raise ValueError(f"DASP: {name} must be a positive width, got {v}")
    return rates


class DASP(nn.Module):
    """DASP head: dense dilated 3x3 convs on the backbone's high-resolution output, fused
    with the low-level features, ending in ``num_joints`` heatmaps.

    ``growth`` -- channels each dilated conv adds; ``proj`` / ``llf_proj`` -- widths of the
    1x1 projections of the dense output and of the low-level features; ``fuse`` -- width of
    the fusing 1x1 conv.

    >>> m = DASP(32, 256, 17)
    >>> m(torch.zeros(1, 32, 16, 12), torch.zeros(1, 256, 16, 12)).shape
    torch.Size([1, 17, 16, 12])
    """

    def __init__(self, in_channels: int, llf_channels: int, num_joints: int, *,
                 rates=(1, 6, 12, 18), growth: int = 16, proj: int = 32, llf_proj: int = 32,
                 fuse: int = 32, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        rates = check_dasp_args(rates, growth, proj, llf_proj, fuse)
        self.rates = rates
        self.dense = nn.ModuleList(
            ConvBNAct(in_channels + i * growth, growth, 3, dilation=d, **dd) for i, d in enumerate(rates))
        self.proj = ConvBNAct(in_channels + len(rates) * growth, proj, 1, **dd)
        self.llf_proj = ConvBNAct(llf_channels, llf_proj, 1, **dd)
        self.fuse = ConvBNAct(proj + llf_proj, fuse, 1, **dd)
        self.final = nn.Conv2d(fuse, num_joints, 1, **dd)

    def forward(self, x: torch.Tensor, llf: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.dense:
            feats.append(conv(torch.cat(feats, dim=1)))
        y = self.proj(torch.cat(feats, dim=1))
        return self.final(self.fuse(torch.cat([self.llf_proj(llf), y], dim=1)))


# ----------------------------------------------------------------------------------------------
# Analytic cost (archlab.cost.ops).

def dasp_cost(in_channels: int, llf_channels: int, num_joints: int, *, hw, llf_hw=None, rates=(1, 6, 12, 18),
              growth: int = 16, proj: int = 32, llf_proj: int = 32, fuse: int = 32, prefix: str = "") -> OpList:
    """:class:`DASP` on a ``(1, c, h, w)`` input ``x`` and low-level features of size ``llf_hw``
    (default ``hw``; the concatenation of eq. 19 needs them equal):

    * eq. (18): dense layer ``l`` (``l = 0..L-1``) concatenates ``[y_0, ..., y_l]`` and runs a
      3x3 conv of dilation ``d_l`` (BN, ReLU): MACs ``h w (c + l g) g 9``;
    * eq. (19): ``K1`` projection of the dense output (MACs ``h w (c + L g) proj``) and of
      ``f_LLF`` (``h w c_LLF llf_proj``), concat, ``K1`` fuse (``h w (proj + llf_proj) fuse``)
      and the final ``K1`` with bias (``h w fuse J``).

    The dilation leaves the MACs unchanged (the zero taps are counted, as every counter does)."""
    rates = check_dasp_args(rates, growth, proj, llf_proj, fuse)
    h, w = hw
    llf_hw = tuple(llf_hw) if llf_hw is not None else (h, w)
    ops, c = [], in_channels
    for i, d in enumerate(rates):
        ops.append(memory_op(prefix, "cat", c * h * w))
        layer = conv_bn_act_cost(c, growth, 3, hw=(h, w), dilation=d, prefix=join(prefix, f"dense.{i}"))
        if layer.out[1:] != (h, w):
            raise ValueError(f"DASP: dense layer {i} (dilation {d}) changed the size {h}x{w}")
        ops += layer
        c += growth
    ops.append(memory_op(prefix, "cat", c * h * w))
    ops += conv_bn_act_cost(c, proj, 1, hw=(h, w), prefix=join(prefix, "proj"))
    lp = conv_bn_act_cost(llf_channels, llf_proj, 1, hw=llf_hw, prefix=join(prefix, "llf_proj"))
    if lp.out[1:] != (h, w):
        raise ValueError(f"DASP: low-level features of size {llf_hw[0]}x{llf_hw[1]} cannot be concatenated "
                         f"with the {h}x{w} branch output")
    ops += lp
    ops.append(memory_op(prefix, "cat", (proj + llf_proj) * h * w))
    ops += conv_bn_act_cost(proj + llf_proj, fuse, 1, hw=(h, w), prefix=join(prefix, "fuse"))
    final, _ = conv2d_op(join(prefix, "final"), fuse, num_joints, 1, 1, h, w, bias=True)
    ops.append(final)
    return OpList(ops, (num_joints, h, w))
