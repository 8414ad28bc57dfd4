"""Block library. ``BLOCKS`` maps the block names a spec may use to their classes: a live view
of :data:`archlab.registry.BLOCKS`, which each block's file fills with ``@BLOCKS.register`` (a
new file in this package is found without editing this one).

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

from ..registry import BLOCKS as _BLOCK_REGISTRY

BLOCKS = _BLOCK_REGISTRY.view("cls")

__all__ = ["BLOCKS", "HEADS", "ATTENTION", "BasicBlock", "Bottleneck", "ConvBNAct", "SC", "SCR", "SE", "ECA",
           "SEM", "PositionAttention", "DASP", "DASPHead", "SimpleHead", "IterativeHead", "LiteStem",
           "ShuffleBlock", "SpatialWeighting", "CrossResolutionWeighting", "ConditionalChannelWeighting",
           "channel_shuffle", "create_attn", "eca_kernel_size"]
