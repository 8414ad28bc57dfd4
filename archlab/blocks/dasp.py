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

from .basic import ConvBNAct

__all__ = ["DASP"]


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
        rates = tuple(int(r) for r in rates)
        if not rates or any(r < 1 for r in rates):
            raise ValueError(f"DASP: rates must be a non-empty list of positive dilations, got {rates}")
        for name, v in (("growth", growth), ("proj", proj), ("llf_proj", llf_proj), ("fuse", fuse)):
            if int(v) < 1:
                raise ValueError(f"DASP: {name} must be a positive width, got {v}")
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
