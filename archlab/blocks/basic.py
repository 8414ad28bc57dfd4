"""Convolution units and the two HRNet residual blocks.

* :class:`ConvBNAct` -- ``Conv2d -> BatchNorm2d -> activation`` (activation optional).
* :class:`BasicBlock` -- He et al., *Deep Residual Learning*, CVPR 2016, Fig. 2 left;
  the block HRNet (Sun et al., CVPR 2019 / TPAMI 2021) stacks in its branches.
* :class:`Bottleneck` -- the 1x1-3x3-1x1 residual block (expansion 4) of HRNet's stage 1.

Every constructor takes ``device`` and ``dtype`` so that a network can be built on the
``meta`` device (no memory, no initialisation cost) for instant parameter counts.
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops import OpList, act_op, batch_norm_op, conv2d_op, eltwise_op, join
from ..registry import BLOCKS

__all__ = ["ConvBNAct", "BasicBlock", "Bottleneck", "make_norm", "make_downsample",
           "conv_bn_act_cost", "downsample_cost", "basic_block_cost", "bottleneck_cost"]


def make_norm(channels: int, *, device=None, dtype=None) -> nn.BatchNorm2d:
    """BatchNorm2d with PyTorch's defaults (eps 1e-5, momentum 0.1).

    HRNet's official code uses momentum 0.1 as well (``BN_MOMENTUM``)."""
    return nn.BatchNorm2d(channels, device=device, dtype=dtype)


class ConvBNAct(nn.Sequential):
    """``Conv2d(k, stride, dilation, groups, bias=False) -> BN -> ReLU``.

    ``padding`` defaults to ``dilation * (kernel - 1) // 2`` ("same" for odd kernels and
    stride 1). ``act=False`` drops the activation; ``norm=False`` drops the BN and turns the
    convolution bias on (the mmcv ``ConvModule(bias='auto')`` rule).

    >>> m = ConvBNAct(8, 16, kernel=3, stride=2)
    >>> m(torch.zeros(1, 8, 10, 10)).shape
    torch.Size([1, 16, 5, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, *,
                 groups: int = 1, dilation: int = 1, padding: int | None = None,
                 norm: bool = True, act: bool | str = True, device=None, dtype=None):
        super().__init__()
        if padding is None:
            padding = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding,
                              dilation=dilation, groups=groups, bias=not norm,
                              device=device, dtype=dtype)
        if norm:
            self.bn = make_norm(out_channels, device=device, dtype=dtype)
        if act is True or act == "relu":
            self.act = nn.ReLU(inplace=True)
        elif act == "sigmoid":
            self.act = nn.Sigmoid()
        elif act not in (False, None):
            raise ValueError(f"ConvBNAct: unknown act {act!r} (use True/'relu', 'sigmoid' or False)")


def make_downsample(in_channels: int, out_channels: int, stride: int, *, device=None, dtype=None):
    """The residual projection HRNet uses: ``1x1 conv(stride) -> BN``, or ``None`` for identity."""
    if stride == 1 and in_channels == out_channels:
        return None
    return ConvBNAct(in_channels, out_channels, 1, stride, act=False, device=device, dtype=dtype)


@BLOCKS.register("basic")
class BasicBlock(nn.Module):
    """ResNet/HRNet basic block: ``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``.

    Parameters ``2 * 9 * c^2 + 4c`` for ``c`` in = out channels (paper eq. 13 counts only the
    ``18 c^2`` convolution weights).

    >>> BasicBlock(32, 32)(torch.zeros(2, 32, 8, 8)).shape
    torch.Size([2, 32, 8, 8])
    """

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        out = width * self.expansion
        self.conv1 = ConvBNAct(in_channels, width, 3, stride, **dd)
        self.conv2 = ConvBNAct(width, out, 3, 1, act=False, **dd)
        self.downsample = make_downsample(in_channels, out, stride, **dd)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


@BLOCKS.register("bottleneck")
class Bottleneck(nn.Module):
    """ResNet bottleneck (``1x1 -> 3x3 -> 1x1``, expansion 4), as in HRNet's stage 1.

    ``width`` is the bottleneck ("planes") width; the block outputs ``4 * width`` channels.

    >>> Bottleneck(64, 64)(torch.zeros(1, 64, 8, 8)).shape
    torch.Size([1, 256, 8, 8])
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        out = width * self.expansion
        self.conv1 = ConvBNAct(in_channels, width, 1, **dd)
        self.conv2 = ConvBNAct(width, width, 3, stride, **dd)
        self.conv3 = ConvBNAct(width, out, 1, act=False, **dd)
        self.downsample = make_downsample(in_channels, out, stride, **dd)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


# ----------------------------------------------------------------------------------------------
# Analytic cost (see archlab.cost.ops for the Op record and the counting convention). Every
# function takes the block's constructor arguments plus the input size ``hw = (h, w)`` (batch 1)
# and the block's module path ``prefix``, and returns an OpList whose ``out`` is (c, h, w).

def conv_bn_act_cost(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, *, hw,
                     groups: int = 1, dilation: int = 1, padding: int | None = None, norm: bool = True,
                     act: bool | str = True, prefix: str = "") -> OpList:
    """:class:`ConvBNAct`: ``conv`` (MACs ``c_out h' w' (c_in / g) k^2``, no bias unless
    ``norm=False``), ``batch_norm`` (``2 c_out`` params) and the activation (``c_out h' w'``
    elements)."""
    if act is True or act == "relu":
        act = "relu"
    elif act in (False, None):
        act = None
    elif act != "sigmoid":
        raise ValueError(f"ConvBNAct: unknown act {act!r} (use True/'relu', 'sigmoid' or False)")
    h, w = hw
    dot = prefix + "." if prefix else ""
    conv, (ho, wo) = conv2d_op(dot + "conv", in_channels, out_channels, kernel, stride, h, w,
                               groups=groups, dilation=dilation, padding=padding, bias=not norm)
    ops = OpList((conv,), (out_channels, ho, wo))
    if norm:
        ops.append(batch_norm_op(dot + "bn", out_channels, ho, wo))
    if act is not None:
        ops.append(act_op(dot + "act", act, out_channels * ho * wo))
    return ops


def downsample_cost(in_channels: int, out_channels: int, stride: int, *, hw, prefix: str = "") -> OpList:
    """:func:`make_downsample`: nothing for an identity shortcut, else ``1x1 conv(stride) -> BN``."""
    if stride == 1 and in_channels == out_channels:
        return OpList([], (in_channels, *hw))
    return conv_bn_act_cost(in_channels, out_channels, 1, stride, hw=hw, act=False, prefix=prefix)


def _residual(prefix: str, body: OpList, shortcut: OpList, out: tuple) -> OpList:
    n = out[0] * out[1] * out[2]
    return OpList([*shortcut, *body, eltwise_op(prefix, "add", n), act_op(join(prefix, "relu"), "relu", n)], out)


@BLOCKS.cost_of("basic")
def basic_block_cost(in_channels: int, width: int, stride: int = 1, *, hw, prefix: str = "") -> OpList:
    """:class:`BasicBlock`: two 3x3 ConvBNAct, the shortcut, the residual add and the ReLU.

    With ``c`` in = out channels, stride 1 and an ``h x w`` input, plain MACs are
    ``18 c^2 h w`` -- ``h w`` times the weight count of the paper's eq. (13), ``P_0 = 2 k^2 c^2``."""
    out = width * BasicBlock.expansion
    c1 = conv_bn_act_cost(in_channels, width, 3, stride, hw=hw, prefix=join(prefix, "conv1"))
    c2 = conv_bn_act_cost(width, out, 3, 1, hw=c1.out[1:], act=False, prefix=join(prefix, "conv2"))
    sc = downsample_cost(in_channels, out, stride, hw=hw, prefix=join(prefix, "downsample"))
    return _residual(prefix, OpList([*c1, *c2]), sc, c2.out)


@BLOCKS.cost_of("bottleneck")
def bottleneck_cost(in_channels: int, width: int, stride: int = 1, *, hw, prefix: str = "") -> OpList:
    """:class:`Bottleneck`: ``1x1 (c_in -> w) -> 3x3 (w -> w, stride) -> 1x1 (w -> 4w)``, shortcut,
    add, ReLU; plain MACs ``h w c_in w + h' w' (9 w^2 + 4 w^2)`` plus the projection."""
    out = width * Bottleneck.expansion
    c1 = conv_bn_act_cost(in_channels, width, 1, hw=hw, prefix=join(prefix, "conv1"))
    c2 = conv_bn_act_cost(width, width, 3, stride, hw=c1.out[1:], prefix=join(prefix, "conv2"))
    c3 = conv_bn_act_cost(width, out, 1, hw=c2.out[1:], act=False, prefix=join(prefix, "conv3"))
    sc = downsample_cost(in_channels, out, stride, hw=hw, prefix=join(prefix, "downsample"))
    return _residual(prefix, OpList([*c1, *c2, *c3]), sc, c3.out)
