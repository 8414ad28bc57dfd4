"""Cost accounting: parameters and multiply-accumulates of every network and block.

* :mod:`archlab.cost.ops` -- the :class:`~archlab.cost.ops.Op` record and the op vocabulary.
* :mod:`archlab.cost.analytic` -- :func:`count`: the analytic cost of a spec, computed from the
  spec alone (each block's closed-form cost function lives beside the block, e.g.
  :func:`archlab.blocks.basic.basic_block_cost`).

``count`` and ``CostReport`` are resolved lazily: the block modules import
:mod:`archlab.cost.ops` while :mod:`archlab.blocks` is still initialising, so this package must
not import the analytic walker (which needs the blocks) at import time.
"""
from __future__ import annotations

from .ops import OP_CLASSES, Op

__all__ = ["count", "CostReport", "Op", "OP_CLASSES"]


def __getattr__(name: str):
    if name in ("count", "CostReport"):
        from . import analytic
        return getattr(analytic, name)
    raise AttributeError(f"module 'archlab.cost' has no attribute {name!r}")
