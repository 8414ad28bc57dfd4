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

from ..ops import OpList, act_op, eltwise_op, join, memory_op
from ..registry import ATTENTION, BLOCKS, OptionError, odd_kernel
from .attention import attn_cost, create_attn
from .basic import ConvBNAct, conv_bn_act_cost, downsample_cost, make_downsample

__all__ = ["SC", "SCR", "check_sc_split", "sc_cost", "scr_cost"]


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


def _check_scr(opts: dict, *, widths, **_) -> None:
    """A stage's SCR options against its widths (the spec validator calls this)."""
    for i, w in enumerate(widths):
        try:
            check_sc_split(w, float(opts["ratio"]), "scr")
        except ValueError as e:
            raise OptionError(f"widths[{i}]", str(e), option=False) from None
    rw = opts["reweight"]
    rw = (rw,) if isinstance(rw, str) else tuple(rw)
    if not rw:
        raise OptionError("reweight", "needs at least one entry (one per SC unit)")
    for j, r in enumerate(rw):
        if r not in ATTENTION:
            raise OptionError(f"reweight[{j}]", f"unknown attention {r!r}; choose one of {sorted(ATTENTION)}")
    if opts["reduction"] < 1 or any(w // opts["reduction"] < 1 for w in widths):
        raise OptionError("reduction", f"reduction {opts['reduction']} leaves no hidden units at width {min(widths)}")


@BLOCKS.register("scr", checks={"kernel": odd_kernel, "cheap_kernel": odd_kernel}, validate=_check_scr,
                 knobs={"kernel": {"choices": [3, 5, 7]}, "cheap_kernel": {"choices": [3, 5]},
                        "ratio": {"choices": [0.25, 0.5]}, "reweight": {"choices": [["se", "eca"], ["eca", "eca"],
                                                                                   ["se", "se"], ["eca"]]},
                        "reduction": {"choices": [4, 8]}})
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


# ----------------------------------------------------------------------------------------------
# Analytic cost (archlab.cost.ops): constructor arguments + input size ``hw`` (batch 1) +
# module path ``prefix`` -> OpList (``out`` = (c, h, w)).

def sc_cost(in_channels: int, out_channels: int, stride: int = 1, *, hw, kernel: int = 3, cheap_kernel: int = 3,
            ratio: float = 0.5, reweight: str = "se", reduction: int = 4, prefix: str = "") -> OpList:
    """:class:`SC`, paper eqs. (1)-(9), with ``p = ratio * c`` primary channels on an ``h' x w'``
    output:

    * primary ``k x k`` conv (eq. 1): MACs ``h' w' c_in p k^2``;
    * cheap depthwise ``k' x k'`` conv (eq. 2, channel multiplier ``(c - p) / p``): MACs
      ``h' w' (c - p) k'^2``. For ``c_in = c`` and ratio 0.5 the two give eq. (9),
      ``G_s = H W (c (c/2) k^2 + k'^2 c/2)``;
    * the concatenation (eq. 3) and the reweighting (eqs. 6/7, :func:`attn_cost`)."""
    p = check_sc_split(out_channels, ratio)
    prim = conv_bn_act_cost(in_channels, p, kernel, stride, hw=hw, prefix=join(prefix, "primary"))
    _, ho, wo = prim.out
    cheap = conv_bn_act_cost(p, out_channels - p, cheap_kernel, 1, hw=(ho, wo), groups=p,
                             prefix=join(prefix, "cheap"))
    cat = memory_op(prefix, "cat", out_channels * ho * wo)
    rw = attn_cost(reweight, out_channels, hw=(ho, wo), reduction=reduction, prefix=join(prefix, "reweight"))
    return OpList([*prim, *cheap, cat, *rw], (out_channels, ho, wo))


@BLOCKS.cost_of("scr")
def scr_cost(in_channels: int, width: int, stride: int = 1, *, hw, kernel: int = 3, cheap_kernel: int = 3,
             ratio: float = 0.5, reweight=("se", "eca"), reduction: int = 4, prefix: str = "") -> OpList:
    """:class:`SCR` (paper Fig. 4): the SC units (one per ``reweight`` entry), the shortcut, the
    residual add and the ReLU. Default options give eq. (12)'s structure: plain MACs
    ``2 G_s + 2 c (c / 4) + k_c2 c`` on a stride-1, ``c``-channel input."""
    if isinstance(reweight, str):
        reweight = (reweight,)
    if len(reweight) < 1:
        raise ValueError("SCR: reweight needs at least one entry (one per SC unit)")
    ops, shape = [], (in_channels, *hw)
    for i, rw in enumerate(reweight):
        unit = sc_cost(shape[0], width, stride if i == 0 else 1, hw=shape[1:], kernel=kernel,
                       cheap_kernel=cheap_kernel, ratio=ratio, reweight=rw, reduction=reduction,
                       prefix=join(prefix, f"units.{i}"))
        ops += unit
        shape = unit.out
    sc = downsample_cost(in_channels, width, stride, hw=hw, prefix=join(prefix, "downsample"))
    n = shape[0] * shape[1] * shape[2]
    return OpList([*sc, *ops, eltwise_op(prefix, "add", n), act_op(join(prefix, "relu"), "relu", n)], shape)
