"""Deployment: fold every reparameterisable block of a built model into its inference form.

A block opts in by defining ``reparameterize()`` (e.g. :class:`archlab.blocks.repvgg.RepVGGBlock`
folds its training-time branches into one convolution); :func:`deploy` knows no block by name.
"""
from __future__ import annotations

__all__ = ["deploy"]


def deploy(model):
    """Call ``reparameterize()`` on every module of ``model`` that has one (in place) and return
    the model in eval mode -- the folded blocks use their BatchNorms' running statistics, so the
    outputs equal the eval-mode outputs of the training-time form.

    The deployed form's cost is ``archlab.count`` of the spec with each such block's deploy option
    set (for RepVGG: ``block_options: {deploy: true}``), which builds the folded form directly.
    """
    if not hasattr(model, "modules"):
        raise TypeError(f"deploy expects a torch.nn.Module, got {type(model).__name__}")
    for m in list(model.modules()):
        fn = getattr(m, "reparameterize", None)
        if callable(fn):
            fn()
    return model.eval()
