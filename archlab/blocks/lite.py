"""Lite-HRNet blocks (Yu et al., *Lite-HRNet: A Lightweight High-Resolution Network*, CVPR 2021).

Written to match the public reference implementation (HRNet/Lite-HRNet,
``models/backbones/litehrnet.py``) layer for layer, so parameter counts agree exactly:

* :func:`channel_shuffle` -- ShuffleNet's channel shuffle.
* :class:`LiteStem` -- ``conv3x3/2`` then a ShuffleNet-style two-branch stride-2 unit.
* :class:`ShuffleBlock` -- the ShuffleNetV2 unit of *naive* Lite-HRNet (per branch).
* :class:`SpatialWeighting`, :class:`CrossResolutionWeighting` and
  :class:`ConditionalChannelWeighting` -- the conditional channel weighting block of
  Lite-HRNet (section 3.2), which replaces the costly 1x1 convolutions. It is a
  *multi-branch* block: it takes and returns the list of all branch tensors.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ..ops import OpList, eltwise_op, join, memory_op, pool_op, upsample_op
from ..registry import BLOCKS, STEMS, OptionError, at_least
from .basic import ConvBNAct, conv_bn_act_cost

__all__ = ["channel_shuffle", "LiteStem", "ShuffleBlock", "SpatialWeighting",
           "CrossResolutionWeighting", "ConditionalChannelWeighting", "check_even", "lite_stem_cost",
           "shuffle_block_cost", "spatial_weighting_cost", "cross_resolution_weighting_cost", "ccw_cost"]


def check_even(channels: int, where: str) -> None:
    if channels % 2:
        raise ValueError(f"{where}: needs an even width (it splits channels in two), got {channels}")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle: ``(n, g*k, h, w) -> (n, k*g, h, w)`` interleaved."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _check_lite_stem(opts: dict, *, stem, **_) -> None:
    """A ``'lite'`` :class:`~archlab.spec.StemSpec`'s fields (the spec validator calls this)."""
    if stem.num_blocks != 0:
        raise OptionError("num_blocks", "a 'lite' stem has no layer1 blocks; set num_blocks: 0", option=False)
    if stem.channels % 2:
        raise OptionError("channels", f"a 'lite' stem splits its channels in two: needs an even number, got "
                          f"{stem.channels}", option=False)
    if stem.expand_ratio <= 0:
        raise OptionError("expand_ratio", f"must be positive, got {stem.expand_ratio}", option=False)
    if stem.out_channels is not None and stem.out_channels <= stem.channels // 2 \
            and stem.out_channels != stem.channels:
        raise OptionError("out_channels", f"too small for {stem.channels} stem channels", option=False)


@STEMS.register("lite", validate=_check_lite_stem, out_width=lambda stem: stem.out_channels or stem.channels)
class LiteStem(nn.Module):
    """Lite-HRNet stem: ``conv3x3/2 (3 -> s)``, then split in halves; one half goes
    ``dw3x3/2 -> 1x1``, the other ``1x1 (expand) -> dw3x3/2 -> 1x1``; concat; shuffle.
    Output: ``out_channels`` at 1/4 resolution.

    >>> LiteStem(3, 32, 32)(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 32, 16, 16])
    """

    def __init__(self, in_channels: int, stem_channels: int, out_channels: int,
                 expand_ratio: float = 1.0, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        check_even(stem_channels, "LiteStem")
        self.out_channels = out_channels
        self.conv1 = ConvBNAct(in_channels, stem_channels, 3, 2, **dd)
        mid = int(round(stem_channels * expand_ratio))
        half = stem_channels // 2
        inc = out_channels - half if stem_channels == out_channels else out_channels - stem_channels
        if inc < 1:
            raise ValueError(f"LiteStem: out_channels {out_channels} too small for stem_channels {stem_channels}")
        self.branch1 = nn.Sequential(ConvBNAct(half, half, 3, 2, groups=half, act=False, **dd),
                                     ConvBNAct(half, inc, 1, **dd))
        self.expand_conv = ConvBNAct(half, mid, 1, **dd)
        self.depthwise_conv = ConvBNAct(mid, mid, 3, 2, groups=mid, act=False, **dd)
        self.linear_conv = ConvBNAct(mid, half if stem_channels == out_channels else stem_channels, 1, **dd)

    @classmethod
    def from_spec(cls, stem, in_channels: int, *, device=None, dtype=None) -> "LiteStem":
        return cls(in_channels, stem.channels, stem.out_width, stem.expand_ratio, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x1, x2 = x.chunk(2, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat((self.branch1(x1), x2), dim=1), 2)


def _check_even_widths(name: str):
    def check(opts: dict, *, widths, **_) -> None:
        for i, w in enumerate(widths):
            if w % 2:
                raise OptionError(f"widths[{i}]", f"block {name!r} splits channels in two: needs an even width, "
                                  f"got {w}", option=False)
    return check


@BLOCKS.register("shuffle", validate=_check_even_widths("shuffle"))
class ShuffleBlock(nn.Module):
    """ShuffleNetV2 unit (stride 1), the block of *naive* Lite-HRNet.

    Half the channels pass through; the other half go ``1x1 -> dw3x3 -> 1x1``; concat; shuffle.

    >>> ShuffleBlock(40, 40)(torch.zeros(1, 40, 8, 8)).shape
    torch.Size([1, 40, 8, 8])
    """

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, device=None, dtype=None):
        super().__init__()
        if stride != 1 or in_channels != width:
            raise ValueError(f"ShuffleBlock: only stride 1 with equal in/out widths is supported "
                             f"(got in={in_channels}, out={width}, stride={stride})")
        check_even(width, "ShuffleBlock")
        dd = dict(device=device, dtype=dtype)
        b = width // 2
        self.branch2 = nn.Sequential(ConvBNAct(b, b, 1, **dd),
                                     ConvBNAct(b, b, 3, 1, groups=b, act=False, **dd),
                                     ConvBNAct(b, b, 1, **dd))
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)


class SpatialWeighting(nn.Module):
    """Lite-HRNet spatial weighting: ``x * sigmoid(conv1x1(relu(conv1x1(GAP(x)))))``, with bias, no BN."""

    def __init__(self, channels: int, ratio: int = 4, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        hidden = int(channels / ratio)
        if hidden < 1:
            raise ValueError(f"SpatialWeighting: channels/ratio < 1 (channels={channels}, ratio={ratio})")
        self.conv1 = ConvBNAct(channels, hidden, 1, norm=False, **dd)
        self.conv2 = ConvBNAct(hidden, channels, 1, norm=False, act="sigmoid", **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))


class CrossResolutionWeighting(nn.Module):
    """Lite-HRNet cross-resolution weighting: pool every branch to the smallest resolution,
    concatenate, ``1x1 conv -> BN -> ReLU -> 1x1 conv -> BN -> sigmoid``, split, and scale each
    branch by its (nearest-upsampled) weights."""

    def __init__(self, channels: list[int], ratio: int = 8, *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.channels = list(channels)
        total = sum(channels)
        hidden = int(total / ratio)
        if hidden < 1:
            raise ValueError(f"CrossResolutionWeighting: sum(channels)/ratio < 1 ({total}/{ratio})")
        self.conv1 = ConvBNAct(total, hidden, 1, **dd)
        self.conv2 = ConvBNAct(hidden, total, 1, act="sigmoid", **dd)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        size = xs[-1].shape[-2:]
        pooled = [F.adaptive_avg_pool2d(s, size) for s in xs[:-1]] + [xs[-1]]
        w = self.conv2(self.conv1(torch.cat(pooled, dim=1)))
        ws = torch.split(w, self.channels, dim=1)
        return [s * F.interpolate(a, size=s.shape[-2:], mode="nearest") for s, a in zip(xs, ws)]


def _check_ccw(opts: dict, *, widths, **_) -> None:
    _check_even_widths("ccw")(opts, widths=widths)
    if int(sum(w // 2 for w in widths) / opts["reduce_ratio"]) < 1:
        raise OptionError("reduce_ratio", "leaves no hidden channels")
    if any(int((w // 2) / opts["spatial_ratio"]) < 1 for w in widths):
        raise OptionError("spatial_ratio", "leaves no hidden channels")


@BLOCKS.register("ccw", checks={"reduce_ratio": at_least(1), "spatial_ratio": at_least(1)}, validate=_check_ccw,
                 knobs={"reduce_ratio": {"choices": [4, 8, 16]}, "spatial_ratio": {"choices": [2, 4, 8]}})
class ConditionalChannelWeighting(nn.Module):
    """Lite-HRNet conditional channel weighting block (multi-branch).

    Every branch is split in halves; the second halves get cross-resolution weighting,
    a 3x3 depthwise conv + BN and spatial weighting; halves are concatenated and shuffled.

    >>> m = ConditionalChannelWeighting([40, 80])
    >>> [t.shape[1] for t in m([torch.zeros(1, 40, 8, 8), torch.zeros(1, 80, 4, 4)])]
    [40, 80]
    """

    expansion = 1
    multi_branch = True
    OPTIONS = {"reduce_ratio": 8, "spatial_ratio": 4}

    def __init__(self, widths: list[int], *, reduce_ratio: int = 8, spatial_ratio: int = 4,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        for c in widths:
            check_even(c, "ConditionalChannelWeighting")
        half = [c // 2 for c in widths]
        self.cross_resolution_weighting = CrossResolutionWeighting(half, reduce_ratio, **dd)
        self.depthwise_convs = nn.ModuleList(ConvBNAct(c, c, 3, 1, groups=c, act=False, **dd) for c in half)
        self.spatial_weighting = nn.ModuleList(SpatialWeighting(c, spatial_ratio, **dd) for c in half)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        parts = [s.chunk(2, dim=1) for s in xs]
        x1 = [p[0] for p in parts]
        x2 = self.cross_resolution_weighting([p[1] for p in parts])
        x2 = [sw(dw(s)) for s, dw, sw in zip(x2, self.depthwise_convs, self.spatial_weighting)]
        return [channel_shuffle(torch.cat([a, b], dim=1), 2) for a, b in zip(x1, x2)]


# ----------------------------------------------------------------------------------------------
# Analytic cost (archlab.cost.ops): constructor arguments + input size ``hw`` (batch 1; a list
# of per-branch sizes for the multi-branch blocks) + module path ``prefix`` -> OpList (``out`` =
# (c, h, w), or a list of them).

def lite_stem_cost(in_channels: int, stem_channels: int, out_channels: int, expand_ratio: float = 1.0, *, hw,
                   prefix: str = "") -> OpList:
    """:class:`LiteStem`: ``conv3x3/2``, split, ``1x1 -> dw3x3/2 -> 1x1`` on one half,
    ``dw3x3/2 -> 1x1`` on the other, concat, shuffle. Plain MACs: the six convolutions."""
    check_even(stem_channels, "LiteStem")
    mid = int(round(stem_channels * expand_ratio))
    half = stem_channels // 2
    inc = out_channels - half if stem_channels == out_channels else out_channels - stem_channels
    if inc < 1:
        raise ValueError(f"LiteStem: out_channels {out_channels} too small for stem_channels {stem_channels}")
    c1 = conv_bn_act_cost(in_channels, stem_channels, 3, 2, hw=hw, prefix=join(prefix, "conv1"))
    h, w = c1.out[1:]
    split = memory_op(prefix, "split", stem_channels * h * w)
    e = conv_bn_act_cost(half, mid, 1, hw=(h, w), prefix=join(prefix, "expand_conv"))
    d = conv_bn_act_cost(mid, mid, 3, 2, hw=(h, w), groups=mid, act=False, prefix=join(prefix, "depthwise_conv"))
    lin_out = half if stem_channels == out_channels else stem_channels
    lc = conv_bn_act_cost(mid, lin_out, 1, hw=d.out[1:], prefix=join(prefix, "linear_conv"))
    b0 = conv_bn_act_cost(half, half, 3, 2, hw=(h, w), groups=half, act=False, prefix=join(prefix, "branch1.0"))
    b1 = conv_bn_act_cost(half, inc, 1, hw=b0.out[1:], prefix=join(prefix, "branch1.1"))
    ho, wo = b1.out[1:]
    n = (inc + lin_out) * ho * wo
    return OpList([*c1, split, *e, *d, *lc, *b0, *b1, memory_op(prefix, "cat", n),
                   memory_op(prefix, "channel_shuffle", n)], (inc + lin_out, ho, wo))


@STEMS.cost_of("lite")
def _lite_stem_spec_cost(stem, in_channels: int, *, hw, prefix: str = "") -> OpList:
    """:func:`lite_stem_cost` from a ``'lite'`` :class:`~archlab.spec.StemSpec`."""
    return lite_stem_cost(in_channels, stem.channels, stem.out_width, stem.expand_ratio, hw=hw, prefix=prefix)


@BLOCKS.cost_of("shuffle")
def shuffle_block_cost(in_channels: int, width: int, stride: int = 1, *, hw, prefix: str = "") -> OpList:
    """:class:`ShuffleBlock` (ShuffleNetV2 unit): split, ``1x1 -> dw3x3 -> 1x1`` on ``b = c/2``
    channels (plain MACs ``h w (2 b^2 + 9 b)``), concat, shuffle."""
    if stride != 1 or in_channels != width:
        raise ValueError(f"ShuffleBlock: only stride 1 with equal in/out widths is supported "
                         f"(got in={in_channels}, out={width}, stride={stride})")
    check_even(width, "ShuffleBlock")
    b = width // 2
    n = width * hw[0] * hw[1]
    c0 = conv_bn_act_cost(b, b, 1, hw=hw, prefix=join(prefix, "branch2.0"))
    c1 = conv_bn_act_cost(b, b, 3, 1, hw=hw, groups=b, act=False, prefix=join(prefix, "branch2.1"))
    c2 = conv_bn_act_cost(b, b, 1, hw=hw, prefix=join(prefix, "branch2.2"))
    return OpList([memory_op(prefix, "split", n), *c0, *c1, *c2, memory_op(prefix, "cat", n),
                   memory_op(prefix, "channel_shuffle", n)], (width, *hw))


def spatial_weighting_cost(channels: int, ratio: int = 4, *, hw, prefix: str = "") -> OpList:
    """:class:`SpatialWeighting`: GAP (``c h w`` reads), two 1x1 convs with bias on the pooled
    vector (plain MACs ``2 c int(c / ratio)``), sigmoid, and the ``c h w`` broadcast multiply."""
    hidden = int(channels / ratio)
    if hidden < 1:
        raise ValueError(f"SpatialWeighting: channels/ratio < 1 (channels={channels}, ratio={ratio})")
    n = channels * hw[0] * hw[1]
    c1 = conv_bn_act_cost(channels, hidden, 1, hw=(1, 1), norm=False, prefix=join(prefix, "conv1"))
    c2 = conv_bn_act_cost(hidden, channels, 1, hw=(1, 1), norm=False, act="sigmoid", prefix=join(prefix, "conv2"))
    return OpList([pool_op(prefix, "adaptive_avg_pool2d", n, channels), *c1, *c2,
                   eltwise_op(prefix, "mul", n, n + channels)], (channels, *hw))


def cross_resolution_weighting_cost(channels, ratio: int = 8, *, hw, prefix: str = "") -> OpList:
    """:class:`CrossResolutionWeighting` on branches of ``channels[i]`` channels and sizes
    ``hw[i]``: adaptive pooling of every branch but the last to the last one's ``h_L x w_L``,
    concat, two 1x1 ConvBNActs on ``C = sum(channels)`` channels (plain MACs
    ``2 h_L w_L C int(C / ratio)``), split, and per branch a nearest upsampling of its weights
    and a multiply (``c_i h_i w_i`` elements each)."""
    channels = list(channels)
    hw = [tuple(s) for s in hw]
    if len(hw) != len(channels):
        raise ValueError(f"CrossResolutionWeighting: {len(channels)} branches but {len(hw)} input sizes")
    total = sum(channels)
    hidden = int(total / ratio)
    if hidden < 1:
        raise ValueError(f"CrossResolutionWeighting: sum(channels)/ratio < 1 ({total}/{ratio})")
    hl, wl = hw[-1]
    small = total * hl * wl
    ops = [pool_op(prefix, "adaptive_avg_pool2d", c * h * w, c * hl * wl) for c, (h, w) in zip(channels[:-1], hw)]
    ops.append(memory_op(prefix, "cat", small))
    ops += conv_bn_act_cost(total, hidden, 1, hw=(hl, wl), prefix=join(prefix, "conv1"))
    ops += conv_bn_act_cost(hidden, total, 1, hw=(hl, wl), act="sigmoid", prefix=join(prefix, "conv2"))
    ops.append(memory_op(prefix, "split", small))
    for c, (h, w) in zip(channels, hw):
        n = c * h * w
        ops += [upsample_op(prefix, "nearest", c * hl * wl, n), eltwise_op(prefix, "mul", n)]
    return OpList(ops, [(c, h, w) for c, (h, w) in zip(channels, hw)])


@BLOCKS.cost_of("ccw")
def ccw_cost(widths, *, hw, reduce_ratio: int = 8, spatial_ratio: int = 4, prefix: str = "") -> OpList:
    """:class:`ConditionalChannelWeighting` (Lite-HRNet section 3.2) on branches of ``widths[i]``
    channels and sizes ``hw[i]``: split every branch in halves; cross-resolution weighting of the
    second halves; per branch a 3x3 depthwise ConvBN (plain MACs ``9 (c_i / 2) h_i w_i``) and
    spatial weighting; concat and shuffle."""
    widths = list(widths)
    hw = [tuple(s) for s in hw]
    if len(hw) != len(widths):
        raise ValueError(f"ConditionalChannelWeighting: {len(widths)} branches but {len(hw)} input sizes")
    for c in widths:
        check_even(c, "ConditionalChannelWeighting")
    half = [c // 2 for c in widths]
    ops = [memory_op(prefix, "split", c * h * w) for c, (h, w) in zip(widths, hw)]
    ops += cross_resolution_weighting_cost(half, reduce_ratio, hw=hw, prefix=join(prefix, "cross_resolution_weighting"))
    for i, (c, s) in enumerate(zip(half, hw)):
        ops += conv_bn_act_cost(c, c, 3, 1, hw=s, groups=c, act=False, prefix=join(prefix, f"depthwise_convs.{i}"))
        ops += spatial_weighting_cost(c, spatial_ratio, hw=s, prefix=join(prefix, f"spatial_weighting.{i}"))
    for c, (h, w) in zip(widths, hw):
        ops += [memory_op(prefix, "cat", c * h * w), memory_op(prefix, "channel_shuffle", c * h * w)]
    return OpList(ops, [(c, h, w) for c, (h, w) in zip(widths, hw)])
