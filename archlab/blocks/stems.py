"""The stems a spec's ``stem.type`` names (``'hrnet'``, ``'lite'``), registered in
:data:`archlab.registry.STEMS`.

A stem entry's class has ``from_spec(stem, in_channels, *, device, dtype)``; its cost function is
called as ``cost(stem, in_channels, hw=(H, W), prefix='stem')``; its validator checks the
type-specific fields of a :class:`~archlab.spec.StemSpec`; ``out_width(stem)`` is the channel
count it outputs (the first transition's input and the DASP head's low-level features).

* ``'hrnet'`` -- :class:`HRNetStem`: two stride-2 3x3 ConvBNActs, then ``layer1``.
* ``'lite'`` -- :class:`~archlab.blocks.lite.LiteStem` (registered in :mod:`archlab.blocks.lite`).
"""
from __future__ import annotations

from torch import nn

from ..ops import OpList, join
from ..registry import BLOCKS, STEMS, OptionError
from .basic import ConvBNAct, conv_bn_act_cost

__all__ = ["HRNetStem", "hrnet_stem_cost"]


def _check_hrnet(opts: dict, *, stem, **_) -> None:
    if stem.block not in BLOCKS or BLOCKS[stem.block].multi_branch:
        names = [b for b in BLOCKS if not BLOCKS[b].multi_branch]
        raise OptionError("block", f"unknown stem block {stem.block!r}; choose one of {names}", option=False)
    if stem.block_width < 1:
        raise OptionError("block_width", f"must be positive, got {stem.block_width}", option=False)
    if stem.num_blocks:     # the first unit maps channels -> block_width: probe the block's cost function
        try:
            BLOCKS[stem.block].cost(stem.channels, stem.block_width, 1, hw=(1, 1))
        except ValueError as e:
            raise OptionError("block", f"{stem.block!r} cannot start layer1 at channels={stem.channels}, "
                              f"block_width={stem.block_width}: {e}", option=False) from None
    if stem.out_channels is not None:
        raise OptionError("out_channels", "only a 'lite' stem takes out_channels (an 'hrnet' stem outputs "
                          "block_width * expansion)", option=False)


def _hrnet_out_width(stem) -> int:
    return stem.channels if stem.num_blocks == 0 else stem.block_width * BLOCKS[stem.block].expansion


@STEMS.register("hrnet", validate=_check_hrnet, out_width=_hrnet_out_width)
class HRNetStem(nn.Module):
    """``conv3x3/2 -> BN -> ReLU -> conv3x3/2 -> BN -> ReLU`` then ``layer1`` (HRNet stage 1)."""

    def __init__(self, in_channels: int, channels: int, block: str, num_blocks: int, block_width: int,
                 *, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.conv1 = ConvBNAct(in_channels, channels, 3, 2, **dd)
        self.conv2 = ConvBNAct(channels, channels, 3, 2, **dd)
        cls = BLOCKS[block].cls
        layers, c = [], channels
        for _ in range(num_blocks):
            layers.append(cls(c, block_width, **dd))
            c = block_width * cls.expansion
        self.layer1 = nn.Sequential(*layers)
        self.out_channels = c

    @classmethod
    def from_spec(cls, stem, in_channels: int, *, device=None, dtype=None) -> "HRNetStem":
        return cls(in_channels, stem.channels, stem.block, stem.num_blocks, stem.block_width,
                   device=device, dtype=dtype)

    def forward(self, x):
        return self.layer1(self.conv2(self.conv1(x)))


@STEMS.cost_of("hrnet")
def hrnet_stem_cost(stem, in_channels: int, *, hw, prefix: str = "") -> OpList:
    """:class:`HRNetStem`: the two stride-2 ConvBNActs, then ``num_blocks`` ``block`` units."""
    r = conv_bn_act_cost(in_channels, stem.channels, 3, 2, hw=hw, prefix=join(prefix, "conv1"))
    ops = list(r)
    r = conv_bn_act_cost(stem.channels, stem.channels, 3, 2, hw=r.out[1:], prefix=join(prefix, "conv2"))
    ops += r
    shape = r.out
    fn = BLOCKS[stem.block].cost
    for k in range(stem.num_blocks):
        r = fn(shape[0], stem.block_width, 1, hw=shape[1:], prefix=join(prefix, f"layer1.{k}"))
        ops += r
        shape = r.out
    return OpList(ops, shape)
