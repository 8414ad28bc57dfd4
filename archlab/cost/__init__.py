"""Cost accounting: parameters and multiply-accumulates of every network and block.

* :mod:`archlab.ops` (re-exported as :mod:`archlab.cost.ops`) -- the :class:`~archlab.ops.Op`
  record and the op vocabulary; it sits below the blocks, whose cost functions use it.
* :mod:`archlab.cost.analytic` -- :func:`count`: the analytic cost of a spec, computed from the
  spec alone (each block's closed-form cost function lives beside the block, e.g.
  :func:`archlab.blocks.basic.basic_block_cost`).

``count`` and ``CostReport`` are resolved lazily, so ``import archlab.cost`` imports no torch.
"""
from __future__ import annotations

from .ops import OP_CLASSES, Op

__all__ = ["count", "CostReport", "Op", "OP_CLASSES"]


def __getattr__(name: str):
    if name in ("count", "CostReport"):
        from . import analytic
        return getattr(analytic, name)
    raise AttributeError(f"module 'archlab.cost' has no attribute {name!r}")
