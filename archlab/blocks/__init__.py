"""Block library. ``BLOCKS`` maps the block names a spec may use to their classes.

Per-branch blocks are called as ``Block(in_channels, width, stride=1, **options)`` and output
``width * Block.expansion`` channels; a *multi-branch* block (``multi_branch = True``, the
Lite-HRNet conditional channel weighting) is called as ``Block(widths, **options)`` on the list
of branch tensors. Each class lists its options and their defaults in ``OPTIONS``.
"""
from .attention import ATTENTION, ECA, SE, SEM, PositionAttention, create_attn, eca_kernel_size
from .basic import BasicBlock, Bottleneck, ConvBNAct
from .dasp import DASP
from .heads import HEADS, DASPHead, IterativeHead, SimpleHead
from .lite import (ConditionalChannelWeighting, CrossResolutionWeighting, LiteStem, ShuffleBlock,
                   SpatialWeighting, channel_shuffle)
from .sc import SC, SCR

BLOCKS = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "scr": SCR,
    "shuffle": ShuffleBlock,
    "ccw": ConditionalChannelWeighting,
}

__all__ = ["BLOCKS", "HEADS", "ATTENTION", "BasicBlock", "Bottleneck", "ConvBNAct", "SC", "SCR", "SE", "ECA",
           "SEM", "PositionAttention", "DASP", "DASPHead", "SimpleHead", "IterativeHead", "LiteStem",
           "ShuffleBlock", "SpatialWeighting", "CrossResolutionWeighting", "ConditionalChannelWeighting",
           "channel_shuffle", "create_attn", "eca_kernel_size"]
