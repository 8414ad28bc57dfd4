"""The paper's lightweight feature encoder: SC and SCR (SDHRNet, section 3.1, eqs. 1-14).

:class:`SC` -- semi-channel depthwise convolution with channel redistribution:

1. ``Y' = conv_kxk(X)``: a regular convolution from ``c_in`` to ``p = ratio * c`` channels,
   BN, ReLU (eq. 1);
2. ``Y_ij = dwconv_k'xk'(Y')``: a depthwise ("cheap") convolution on those ``p`` channels,
   producing the other ``c - p`` channels (channel multiplier ``(c - p) / p``), BN, ReLU (eq. 2);
3. ``Y_s = concat(Y', Y_ij)`` -- ``c`` channels (eq. 3, where "+" is a concatenation);
4. channel reweighting ``Y = Y_s * w``: ``'se'`` (two FC layers, eq. 6, the paper's ``n = 1``),
   ``'eca'`` (adaptive 1-D conv, eqs. 5 and 7, ``n = 2``) or ``'none'``.

:class:`SCR` -- the SC units in a residual, the drop-in replacement for HRNet's BasicBlock
(Fig. 4): ``relu(SC_eca(SC_se(x)) + shortcut(x))``.
Variants are options, not copies: ``kernel``, ``cheap_kernel``, ``ratio``, ``reweight``
(one entry per SC unit, so ``('eca',)`` is a one-unit SCR), ``reduction``.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import create_attn
from .basic import ConvBNAct, make_downsample

__all__ = ["SC", "SCR", "check_sc_split"]


def check_sc_split(channels: int, ratio: float, where: str = "SC") -> int:
    """Return the primary width ``p = ratio * channels`` or raise a clear ``ValueError``.

    ``p`` must be a positive integer and the cheap part ``channels - p`` a positive
    multiple of ``p`` (the depthwise convolution expands each primary channel into
    ``(channels - p) / p`` channels)."""
    p = channels * ratio
    if not (0 < ratio < 1) or abs(p - round(p)) > 1e-9:
        raise ValueError(f"{where}: ratio {ratio} times {channels} channels is not a whole number of "
                         f"primary channels (with ratio 0.5 the width must be even)")
    p = int(round(p))
    if p < 1 or (channels - p) % p != 0:
        raise ValueError(f"{where}: {channels} channels cannot be split into {p} primary and "
                         f"{channels - p} depthwise channels (need a whole multiple)")
    return p


class SC(nn.Module):
    """Semi-channel depthwise convolution + channel redistribution (eqs. 1-7).

    >>> m = SC(32, 32, reweight='eca')
    >>> m(torch.zeros(2, 32, 8, 6)).shape
    torch.Size([2, 32, 8, 6])
    >>> sum(p.numel() for p in SC(32, 32, reweight='none').parameters())  # 9*32*16 + 9*16 + 4*16
    4816
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, kernel: int = 3,
                 cheap_kernel: int = 3, ratio: float = 0.5, reweight: str = "se", reduction: int = 4,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        p = check_sc_split(out_channels, ratio)
        self.primary = ConvBNAct(in_channels, p, kernel, stride, **dd)
        self.cheap = ConvBNAct(p, out_channels - p, cheap_kernel, 1, groups=p, **dd)
        self.reweight = create_attn(reweight, out_channels, reduction=reduction, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.primary(x)
        y = torch.cat([y, self.cheap(y)], dim=1)
        return y if self.reweight is None else self.reweight(y)


class SCR(nn.Module):
    """SC units in a residual (paper Fig. 4): ``relu(SC_n(...SC_1(x)) + shortcut(x))``.

    Default ``reweight=('se', 'eca')`` is the paper's SC(n=1) followed by SC(n=2).
    The shortcut is the identity, or ``1x1 conv + BN`` when the width or stride changes
    (as in HRNet's BasicBlock).

    >>> SCR(32, 32)(torch.zeros(1, 32, 8, 8)).shape
    torch.Size([1, 32, 8, 8])
    """

    expansion = 1
    OPTIONS = {"kernel": 3, "cheap_kernel": 3, "ratio": 0.5, "reweight": ("se", "eca"), "reduction": 4}

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, kernel: int = 3,
                 cheap_kernel: int = 3, ratio: float = 0.5, reweight=("se", "eca"), reduction: int = 4,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        if isinstance(reweight, str):
            reweight = (reweight,)
        if len(reweight) < 1:
            raise ValueError("SCR: reweight needs at least one entry (one per SC unit)")
        units = []
        for i, rw in enumerate(reweight):
            units.append(SC(in_channels if i == 0 else width, width, stride if i == 0 else 1,
                            kernel=kernel, cheap_kernel=cheap_kernel, ratio=ratio, reweight=rw,
                            reduction=reduction, **dd))
        self.units = nn.Sequential(*units)
        self.downsample = make_downsample(in_channels, width, stride, **dd)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.units(x) + identity)
