"""MBConv: the MobileNetV2 inverted residual block (Sandler et al., *MobileNetV2: Inverted
Residuals and Linear Bottlenecks*, CVPR 2018), with optional squeeze-and-excitation on the
expanded features (as MnasNet and EfficientNet add it).

``1x1 expand (c_in -> t c_in) -> BN -> ReLU``, ``k x k depthwise (stride) -> BN -> ReLU``,
[``SE(t c_in)``], ``1x1 project (-> width) -> BN`` (the linear bottleneck: no activation), plus
the identity shortcut when the stride is 1 and the widths agree (no projection shortcut, as in
the paper). ``expand_ratio: 1`` drops the expansion convolution. ReLU stands in for ReLU6, as
everywhere in archlab (the counters price both alike).

In a spec::

    stages:
      - {widths: [32, 64], num_blocks: [2, 2], block: mbconv,
         block_options: {expand_ratio: 4, kernel: 5, se: true}}
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops import OpList, eltwise_op, join
from ..registry import BLOCKS, OptionError, at_least, odd_kernel
from .attention import SE, se_cost
from .basic import ConvBNAct, conv_bn_act_cost

__all__ = ["MBConv", "mbconv_cost"]

#: the SE's reduction of the expanded width
SE_REDUCTION = 4


def mbconv_cost(in_channels: int, width: int, stride: int = 1, *, hw, expand_ratio: int = 6, kernel: int = 3,
                se: bool = False, prefix: str = "") -> OpList:
    """:class:`MBConv` with ``e = expand_ratio * c_in`` expanded channels on an ``h' x w'`` output:
    plain MACs ``h w c_in e`` (expand) ``+ h' w' e k^2`` (depthwise) ``+ h' w' e width``
    (project), the SE's ``2 e (e // 4)``, and an add of ``width h' w'`` elements when the
    shortcut is the identity."""
    hidden = in_channels * expand_ratio
    ops, size = [], tuple(hw)
    if expand_ratio != 1:
        ops += conv_bn_act_cost(in_channels, hidden, 1, hw=size, prefix=join(prefix, "expand"))
    dw = conv_bn_act_cost(hidden, hidden, kernel, stride, hw=size, groups=hidden, prefix=join(prefix, "depthwise"))
    ops += dw
    if se:
        ops += se_cost(hidden, SE_REDUCTION, hw=dw.out[1:], prefix=join(prefix, "se"))
    pr = conv_bn_act_cost(hidden, width, 1, hw=dw.out[1:], act=False, prefix=join(prefix, "project"))
    ops += pr
    if stride == 1 and in_channels == width:
        ops.append(eltwise_op(prefix, "add", pr.out[0] * pr.out[1] * pr.out[2]))
    return OpList(ops, pr.out)


def _check_mbconv(opts: dict, *, widths, **_) -> None:
    """SE needs at least one hidden unit at every width of the stage."""
    if opts["se"] and any(w * opts["expand_ratio"] // SE_REDUCTION < 1 for w in widths):
        raise OptionError("se", f"SE on {min(widths) * opts['expand_ratio']} expanded channels leaves no hidden "
                          f"units (needs at least {SE_REDUCTION})")


@BLOCKS.register("mbconv", cost=mbconv_cost, options={"expand_ratio": 6, "kernel": 3, "se": False},
                 checks={"expand_ratio": at_least(1), "kernel": odd_kernel}, validate=_check_mbconv,
                 knobs={"expand_ratio": {"choices": [1, 2, 4, 6]}, "kernel": {"choices": [3, 5, 7]},
                        "se": {"choices": [False, True]}}, expansion=1)
class MBConv(nn.Module):
    """MobileNetV2 inverted residual (see the module docstring).

    >>> m = MBConv(16, 16, expand_ratio=4, kernel=5, se=True)
    >>> m(torch.zeros(1, 16, 8, 6)).shape
    torch.Size([1, 16, 8, 6])
    >>> sum(p.numel() for p in MBConv(16, 16, expand_ratio=1).parameters())  # dw 9*16 + BN, 1x1 16*16 + BN
    464
    """

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, expand_ratio: int = 6, kernel: int = 3,
                 se: bool = False, device=None, dtype=None):
        super().__init__()
        if expand_ratio < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"MBConv: expand_ratio must be >= 1 and kernel a positive odd size, got "
                             f"expand_ratio={expand_ratio}, kernel={kernel}")
        dd = dict(device=device, dtype=dtype)
        hidden = in_channels * expand_ratio
        self.expand = ConvBNAct(in_channels, hidden, 1, **dd) if expand_ratio != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, **dd)
        self.se = SE(hidden, SE_REDUCTION, **dd) if se else None
        self.project = ConvBNAct(hidden, width, 1, act=False, **dd)
        self.residual = stride == 1 and in_channels == width
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.depthwise(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y
