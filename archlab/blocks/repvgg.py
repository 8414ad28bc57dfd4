"""RepVGG block (Ding et al., *RepVGG: Making VGG-style ConvNets Great Again*, CVPR 2021).

Training-time form: ``relu(BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x))`` -- the identity branch (a
BatchNorm alone) only where the stride is 1 and the widths agree. All three branches are linear
in ``x`` in eval mode, so :meth:`RepVGGBlock.reparameterize` folds them into one 3x3 convolution
with bias: ``relu(conv3x3(x))``. :func:`archlab.deploy` does this for every block of a model
that has a ``reparameterize()`` method.

Both forms are countable: the option ``deploy: true`` builds (and counts) the fused form, so the
deployed cost of a spec is ``archlab.count`` of the same spec with ``block_options: {deploy:
true}``, and ``archlab.deploy(create_model(spec))`` has exactly its parameters.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ..ops import OpList, act_op, batch_norm_op, conv2d_op, eltwise_op, join
from ..registry import BLOCKS
from .basic import ConvBNAct, conv_bn_act_cost, make_norm

__all__ = ["RepVGGBlock", "repvgg_cost", "fuse_conv_bn"]


def repvgg_cost(in_channels: int, width: int, stride: int = 1, *, hw, deploy: bool = False,
                prefix: str = "") -> OpList:
    """:class:`RepVGGBlock` on an ``h x w`` input with an ``h' x w'`` output. Training form: plain
    MACs ``h' w' c_in width (9 + 1)``, three BNs (two when there is no identity branch), the adds
    and the ReLU. Deployed form (``deploy=True``): one 3x3 conv with bias, MACs
    ``9 h' w' c_in width``, and the ReLU."""
    h, w = hw
    if deploy:
        op, (ho, wo) = conv2d_op(join(prefix, "fused"), in_channels, width, 3, stride, h, w, bias=True)
        return OpList([op, act_op(join(prefix, "relu"), "relu", width * ho * wo)], (width, ho, wo))
    dense = conv_bn_act_cost(in_channels, width, 3, stride, hw=hw, act=False, prefix=join(prefix, "dense"))
    point = conv_bn_act_cost(in_channels, width, 1, stride, hw=hw, act=False, prefix=join(prefix, "pointwise"))
    n = dense.out[0] * dense.out[1] * dense.out[2]
    ops = [*dense, *point, eltwise_op(prefix, "add", n)]
    if stride == 1 and in_channels == width:
        ops += [batch_norm_op(join(prefix, "identity"), in_channels, h, w), eltwise_op(prefix, "add", n)]
    return OpList([*ops, act_op(join(prefix, "relu"), "relu", n)], dense.out)


def fuse_conv_bn(weight: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``BN(conv(x))`` in eval mode as one conv: returns its ``(weight, bias)``."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return weight * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


@BLOCKS.register("repvgg", cost=repvgg_cost, options={"deploy": False}, expansion=1)
class RepVGGBlock(nn.Module):
    """RepVGG block; ``deploy=True`` builds the fused single-conv form directly.

    >>> m = RepVGGBlock(8, 8).eval()
    >>> x = torch.randn(1, 8, 6, 5)
    >>> y = m(x)
    >>> _ = m.reparameterize()
    >>> type(m.fused).__name__, torch.allclose(m(x), y, atol=1e-5)
    ('Conv2d', True)
    """

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, deploy: bool = False,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.in_channels, self.out_channels, self.stride = in_channels, width, stride
        if deploy:
            self.fused = nn.Conv2d(in_channels, width, 3, stride, 1, bias=True, **dd)
            self.dense = self.pointwise = self.identity = None
        else:
            self.fused = None
            self.dense = ConvBNAct(in_channels, width, 3, stride, act=False, **dd)
            self.pointwise = ConvBNAct(in_channels, width, 1, stride, act=False, **dd)
            self.identity = make_norm(in_channels, **dd) if stride == 1 and in_channels == width else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.relu(self.fused(x))
        y = self.dense(x) + self.pointwise(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.relu(y)

    @torch.no_grad()
    def reparameterize(self) -> "RepVGGBlock":
        """Fold the three branches (with their BNs' running statistics) into ``self.fused``, one
        3x3 convolution with bias; a no-op on an already fused block. Equal in eval mode."""
        if self.fused is not None:
            return self
        k3, b3 = fuse_conv_bn(self.dense.conv.weight, self.dense.bn)
        k1, b1 = fuse_conv_bn(self.pointwise.conv.weight, self.pointwise.bn)
        kernel, bias = k3 + F.pad(k1, [1, 1, 1, 1]), b3 + b1
        if self.identity is not None:
            eye = torch.zeros_like(k3)
            eye[torch.arange(self.in_channels), torch.arange(self.in_channels), 1, 1] = 1
            ki, bi = fuse_conv_bn(eye, self.identity)
            kernel, bias = kernel + ki, bias + bi
        w = self.dense.conv.weight
        self.fused = nn.Conv2d(self.in_channels, self.out_channels, 3, self.stride, 1, bias=True,
                               device=w.device, dtype=w.dtype)
        self.fused.weight.copy_(kernel)
        self.fused.bias.copy_(bias)
        self.dense = self.pointwise = self.identity = None
        return self
