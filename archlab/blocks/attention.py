"""Channel and spatial attention: SE, ECA, position attention and the paper's SEM.

* :class:`SE` -- squeeze-and-excitation with two fully connected layers
  (Hu et al., CVPR 2018); SDHRNet paper eq. (6), the ``n = 1`` reweighting of SC.
* :class:`ECA` -- efficient channel attention, a 1-D convolution across the pooled channel
  vector with an adaptive odd kernel (Wang et al., CVPR 2020); paper eqs. (5) and (7).
* :class:`PositionAttention` -- DANet's position attention module (Fu et al., CVPR 2019);
  paper eq. (16).
* :class:`SEM` -- the paper's semantic enhancement module, eqs. (15)-(17).

``ATTENTION`` maps reweighting names to classes and :func:`create_attn` builds one by name
(``'none'`` gives ``None``), in the style of timm's ``create_attn``.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from ..ops import (OpList, act_op, bmm_op, conv1d_op, conv2d_op, eltwise_op, join, linear_op,
                        pool_op)
from ..registry import ATTENTION as ATTENTION_REGISTRY
from ..registry import MODULES

__all__ = ["eca_kernel_size", "eca_band", "SE", "ECA", "PositionAttention", "SEM", "ATTENTION", "create_attn",
           "se_cost", "eca_cost", "attn_cost", "position_attention_cost", "sem_cost"]


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """Paper eq. (5): ``k = |log2(c)/gamma + b/gamma|`` truncated, then made odd (+1 if even).

    This is the rule of the ECA-Net reference implementation
    (``t = int(abs((log2(c) + b) / gamma)); k = t if t % 2 else t + 1``).

    >>> [eca_kernel_size(c) for c in (16, 32, 64, 128, 256)]
    [3, 3, 3, 5, 5]
    """
    if channels < 1:
        raise ValueError(f"eca_kernel_size: channels must be positive, got {channels}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@ATTENTION_REGISTRY.register("se")
class SE(nn.Module):
    """Squeeze-and-excitation: ``x * sigmoid(W2 relu(W1 GAP(x) + b1) + b2)``.

    ``W1: c -> c // reduction`` and ``W2: c // reduction -> c`` are fully connected layers
    with bias (paper eq. 6; the paper's eq. 12 uses ``reduction = 4``).
    Parameters: ``2 * c * (c // r) + c // r + c``.

    >>> SE(32)(torch.ones(1, 32, 4, 4)).shape
    torch.Size([1, 32, 4, 4])
    """

    OPTIONS = {"reduction": 4}

    def __init__(self, channels: int, reduction: int = 4, *, device=None, dtype=None):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(f"SE: channels // reduction must be >= 1 (channels={channels}, reduction={reduction})")
        self.fc1 = nn.Linear(channels, hidden, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, channels, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _export_formulation():
            return self.forward_conv(x)
        w = x.mean(dim=(2, 3))
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w))))
        return x * w[:, :, None, None]

    def forward_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The same function as :meth:`forward` from 1x1 convolutions on ``[N, C, 1, 1]`` (used when
        exporting to ONNX; see :func:`_export_formulation`): global average pool, the two FC layers
        as 1x1 convs (hidden width zero-padded to a multiple of 16), gate, and the product as a
        same-shape multiply with the gate spread over ``H x W`` (see :func:`_spread`)."""
        w1, b1 = _pad_rows(self.fc1.weight[:, :, None, None], self.fc1.bias)
        w2 = self.fc2.weight
        w2 = torch.cat([w2, w2.new_zeros(w2.shape[0], w1.shape[0] - w2.shape[1])], 1)[:, :, None, None]
        w1, b1, w2, b2 = (_frozen(t) for t in (w1, b1, w2, self.fc2.bias))
        g = F.relu(F.conv2d(F.adaptive_avg_pool2d(x, 1), w1, b1))
        return x * _spread(torch.sigmoid(F.conv2d(g, w2, b2)), x)


@ATTENTION_REGISTRY.register("eca")
class ECA(nn.Module):
    """Efficient channel attention: ``x * gate(Conv1d_k(GAP(x)))`` with ``k`` from eq. (5).

    ``gate='sigmoid'`` is eq. (7) (SC, ``n = 2``); ``gate='hardsigmoid'`` is the channel branch
    of SEM, eq. (15). The 1-D convolution has no bias: ``k`` parameters in all.

    >>> ECA(64).conv.kernel_size
    (3,)
    """

    OPTIONS = {"gamma": 2, "b": 1, "gate": "sigmoid"}

    def __init__(self, channels: int, gamma: int = 2, b: int = 1, gate: str = "sigmoid", *,
                 device=None, dtype=None):
        super().__init__()
        if gate not in ("sigmoid", "hardsigmoid"):
            raise ValueError(f"ECA: gate must be 'sigmoid' or 'hardsigmoid', got {gate!r}")
        k = eca_kernel_size(channels, gamma, b)
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False, device=device, dtype=dtype)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _export_formulation():
            return self.forward_conv(x)
        w = self.conv(x.mean(dim=(2, 3))[:, None, :])[:, 0, :]
        w = torch.sigmoid(w) if self.gate == "sigmoid" else F.hardsigmoid(w)
        return x * w[:, :, None, None]

    def forward_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The same function as :meth:`forward` with the 1-D convolution across channels as a
        ``C x C`` banded 1x1 convolution on the pooled ``[N, C, 1, 1]`` (used when exporting to
        ONNX: no reshapes, and ORT keeps it in its blocked layout; ``C^2`` instead of ``k C``
        multiply-adds on a 1x1 map, negligible)."""
        band = _frozen(eca_band(self.conv.weight.reshape(-1), int(x.shape[1]))[:, :, None, None])
        w = F.conv2d(F.adaptive_avg_pool2d(x, 1), band)
        w = torch.sigmoid(w) if self.gate == "sigmoid" else F.hardsigmoid(w)
        return x * _spread(w, x)


# ----------------------------------------------------------------------------------------------
# Export formulations. ONNX Runtime's CPU provider runs convolutions in a blocked channel layout
# (NCHWc, 16 channels a block here) and keeps a tensor in it across Conv, GlobalAveragePool,
# Concat, Add, activations, nearest Upsample and *same-shape* Mul -- but not across ReduceMean,
# Gemm, Unsqueeze/Gather or a broadcasting ``[N,C,H,W] * [N,C,1,1]`` Mul, around each of which it
# reorders the whole feature map out of and back into the blocked layout. The eager SE/ECA export
# to exactly those operators, so when exporting (and only then: eager keeps the module calls the
# counters hook) they take an equivalent form built from the first list.

def _export_formulation() -> bool:
    """Whether SE/ECA use their export formulation (``forward_conv``): while ``torch.onnx`` traces."""
    return torch.onnx.is_in_onnx_export()


def _frozen(t: torch.Tensor) -> torch.Tensor:
    """``t``'s current values as a constant of the trace (an ONNX initializer once exported): weights
    derived from parameters (padded, banded) are computed in Python, not exported as operators.
    No gradient flows through it: the export formulations are for inference."""
    return torch.tensor(t.detach().cpu().tolist(), dtype=t.dtype, device=t.device)


def _pad_rows(w: torch.Tensor, b: torch.Tensor, multiple: int = 16):
    """A conv weight/bias with output channels zero-padded to ``multiple`` (ORT's NCHWc block needs
    whole blocks; the padded channels are ``relu(0) = 0`` and meet zero weights downstream)."""
    extra = -w.shape[0] % multiple
    if extra:
        w = torch.cat([w, w.new_zeros(extra, *w.shape[1:])])
        b = torch.cat([b, b.new_zeros(extra)])
    return w, b


def _spread(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The gate ``g`` ``[N, C, 1, 1]`` repeated over ``x``'s ``H x W`` by a nearest upsample with
    integer scales (exact: every output pixel copies the one input pixel), so ``x * _spread(g, x)``
    is a same-shape multiply that stays in ORT's blocked layout."""
    h, w = int(x.shape[2]), int(x.shape[3])
    return F.interpolate(g, scale_factor=(float(h), float(w)), mode="nearest")


def eca_band(taps: torch.Tensor, channels: int) -> torch.Tensor:
    """The ``channels x channels`` matrix ``M`` with ``M @ v == conv1d(v, taps, padding=k // 2)``:
    ``M[i, j] = taps[j - i + k // 2]`` inside the band, 0 outside (PyTorch convs correlate).

    >>> eca_band(torch.tensor([1., 2., 3.]), 4)
    tensor([[2., 3., 0., 0.],
            [1., 2., 3., 0.],
            [0., 1., 2., 3.],
            [0., 0., 1., 2.]])
    """
    k = taps.numel()
    if k % 2 == 0:
        raise ValueError(f"eca_band: the kernel must be odd (ECA pads k // 2 each side), got {k} taps")
    pad = F.pad(taps.flip(0), (channels - 1, channels - 1))       # index channels - 1 + k//2 - (j - i)
    i = torch.arange(channels)
    return pad[(channels - 1 + k // 2) - (i[None, :] - i[:, None])]



#: reweighting name -> class (``None`` for ``'none'``): a live view of
#: :data:`archlab.registry.ATTENTION`, which the ``register`` decorators fill
ATTENTION = ATTENTION_REGISTRY.view("cls")


def create_attn(name: str, channels: int, *, device=None, dtype=None, **kwargs) -> nn.Module | None:
    """Build a channel-reweighting module by name (``'se'``, ``'eca'``, ``'none'``).

    >>> type(create_attn('eca', 64)).__name__, create_attn('none', 64)
    ('ECA', None)
    """
    entry = _attention(name)
    if entry.cls is None:
        return None
    allowed = {k: v for k, v in kwargs.items() if k in entry.options}
    return entry.cls(channels, **allowed, device=device, dtype=dtype)


def _attention(name: str):
    if name not in ATTENTION_REGISTRY:
        raise ValueError(f"unknown attention {name!r}; choose one of {sorted(ATTENTION_REGISTRY)}")
    return ATTENTION_REGISTRY[name]


class PositionAttention(nn.Module):
    """DANet position attention (paper eq. 16).

    ``A, B = 1x1 conv(c -> c // reduction)`` (query, key), ``D = 1x1 conv(c -> c)`` (value), all
    with bias; ``E = softmax(R(A)^T R(B))`` over the ``n = h*w`` positions;
    ``out = x + scale * R(R(D) E^T)`` with a learnable ``scale`` initialised to 0.
    """

    def __init__(self, channels: int, reduction: int = 8, *, device=None, dtype=None):
        super().__init__()
        inner = channels // reduction
        if inner < 1:
            raise ValueError(f"PositionAttention: channels // reduction must be >= 1 "
                             f"(channels={channels}, reduction={reduction})")
        dd = dict(device=device, dtype=dtype)
        self.query = nn.Conv2d(channels, inner, 1, **dd)
        self.key = nn.Conv2d(channels, inner, 1, **dd)
        self.value = nn.Conv2d(channels, channels, 1, **dd)
        self.scale = nn.Parameter(torch.zeros(1, **dd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2)                    # n, c', hw
        k = self.key(x).flatten(2)                      # n, c', hw
        v = self.value(x).flatten(2)                    # n, c, hw
        energy = torch.bmm(q.transpose(1, 2), k)        # n, hw, hw
        attn = torch.softmax(energy, dim=-1)
        out = torch.bmm(v, attn.transpose(1, 2)).view(n, c, h, w)
        return x + self.scale * out


@MODULES.register("sem")
class SEM(nn.Module):
    """Semantic enhancement module, paper eqs. (15)-(17).

    ``H = x * hardsigmoid(ECA1d(GAP(x)))  +  PositionAttention(x)``.

    Options: ``reduction`` of the query/key convolutions (8, as in DANet), ``gamma``/``b`` of
    the ECA kernel rule (eq. 5).

    >>> SEM(64)(torch.zeros(1, 64, 4, 3)).shape
    torch.Size([1, 64, 4, 3])
    """

    OPTIONS = {"reduction": 8, "gamma": 2, "b": 1}

    def __init__(self, channels: int, reduction: int = 8, gamma: int = 2, b: int = 1, *,
                 device=None, dtype=None):
        super().__init__()
        self.channel = ECA(channels, gamma, b, gate="hardsigmoid", device=device, dtype=dtype)
        self.spatial = PositionAttention(channels, reduction, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel(x) + self.spatial(x)


# ----------------------------------------------------------------------------------------------
# Analytic cost (archlab.cost.ops): constructor arguments + input size ``hw`` (batch 1) +
# module path ``prefix`` -> OpList (``out`` = (c, h, w)).

def _gate(prefix: str, channels: int, hw, gate_ops: list) -> OpList:
    """Shared tail of the channel-attention modules: ``GAP -> gate_ops -> x * w`` (broadcast)."""
    h, w = hw
    n = channels * h * w
    return OpList([pool_op(prefix, "mean", n, channels), *gate_ops, eltwise_op(prefix, "mul", n, n + channels)],
                  (channels, h, w))


@ATTENTION_REGISTRY.cost_of("se")
def se_cost(channels: int, reduction: int = 4, *, hw, prefix: str = "") -> OpList:
    """:class:`SE`, paper eq. (6): ``Y = sigma(W2 relu(W1 GAP(x))) * x``.

    Plain MACs ``2 c (c // r)`` (the two fully connected layers, eq. 11 ``G_c1 = 2 c c_mid``);
    params ``2 c (c // r) + c // r + c`` (eq. 10 plus the biases). The GAP reads ``c h w``
    elements, the reweighting multiplies ``c h w``."""
    hidden = channels // reduction
    if hidden < 1:
        raise ValueError(f"SE: channels // reduction must be >= 1 (channels={channels}, reduction={reduction})")
    gate = [linear_op(join(prefix, "fc1"), channels, hidden), act_op(prefix, "relu", hidden),
            linear_op(join(prefix, "fc2"), hidden, channels), act_op(prefix, "sigmoid", channels)]
    return _gate(prefix, channels, hw, gate)


@ATTENTION_REGISTRY.cost_of("eca")
def eca_cost(channels: int, gamma: int = 2, b: int = 1, gate: str = "sigmoid", *, hw, prefix: str = "") -> OpList:
    """:class:`ECA`, paper eqs. (5) and (7) (``gate='hardsigmoid'``: the SEM channel branch, eq. 15):
    ``Y = gate(Conv1d_k(GAP(x))) * x`` with ``k`` from :func:`eca_kernel_size`.

    Plain MACs ``k c`` (the 1-D convolution over the ``c`` pooled channels, "negligible" in the
    paper); ``k`` params."""
    if gate not in ("sigmoid", "hardsigmoid"):
        raise ValueError(f"ECA: gate must be 'sigmoid' or 'hardsigmoid', got {gate!r}")
    k = eca_kernel_size(channels, gamma, b)
    conv, _ = conv1d_op(join(prefix, "conv"), 1, 1, k, channels, padding=k // 2)
    return _gate(prefix, channels, hw, [conv, act_op(prefix, gate, channels)])


def attn_cost(name: str, channels: int, *, hw, prefix: str = "", **kwargs) -> OpList:
    """The cost of :func:`create_attn` ``(name, channels, **kwargs)`` (empty for ``'none'``)."""
    entry = _attention(name)
    allowed = {k: v for k, v in kwargs.items() if k in entry.options}
    return entry.cost(channels, **allowed, hw=hw, prefix=prefix)


def _no_attention_cost(channels: int, *, hw, prefix: str = "") -> OpList:
    """``'none'``: no module, no ops."""
    return OpList([], (channels, *hw))


ATTENTION_REGISTRY.add("none", None, cost=_no_attention_cost)


def position_attention_cost(channels: int, reduction: int = 8, *, hw, prefix: str = "") -> OpList:
    """:class:`PositionAttention`, paper eq. (16), with ``n = h w`` positions and ``c' = c // r``:

    * query/key/value 1x1 convs (with bias): MACs ``n c (2 c' + c)``;
    * ``E = softmax(R(A)^T R(B))``: a ``(n, c') @ (c', n)`` bmm, ``n^2 c'`` MACs, softmax over
      ``n^2`` elements;
    * ``R(D) E^T``: a ``(c, n) @ (n, n)`` bmm, ``c n^2`` MACs;
    * ``x + scale * out``: a multiply (owning the 1-element ``scale`` parameter) and an add of
      ``c n`` elements each."""
    inner = channels // reduction
    if inner < 1:
        raise ValueError(f"PositionAttention: channels // reduction must be >= 1 "
                         f"(channels={channels}, reduction={reduction})")
    h, w = hw
    n = h * w
    cn = channels * n
    ops = [conv2d_op(join(prefix, "query"), channels, inner, 1, 1, h, w, bias=True)[0],
           conv2d_op(join(prefix, "key"), channels, inner, 1, 1, h, w, bias=True)[0],
           conv2d_op(join(prefix, "value"), channels, channels, 1, 1, h, w, bias=True)[0],
           bmm_op(prefix, 1, n, inner, n), act_op(prefix, "softmax", n * n), bmm_op(prefix, 1, channels, n, n),
           eltwise_op(prefix, "mul", cn, cn + 1, params=1, detail=(("param", "scale"),)),
           eltwise_op(prefix, "add", cn)]
    return OpList(ops, (channels, h, w))


@MODULES.cost_of("sem")
def sem_cost(channels: int, reduction: int = 8, gamma: int = 2, b: int = 1, *, hw, prefix: str = "") -> OpList:
    """:class:`SEM`, paper eq. (17): ``H = H_channel (eq. 15, ECA with hard sigmoid) + H_spatial
    (eq. 16, position attention)`` -- the two branches' ops and one add of ``c h w`` elements."""
    ch = eca_cost(channels, gamma, b, gate="hardsigmoid", hw=hw, prefix=join(prefix, "channel"))
    sp = position_attention_cost(channels, reduction, hw=hw, prefix=join(prefix, "spatial"))
    return OpList([*ch, *sp, eltwise_op(prefix, "add", channels * hw[0] * hw[1])], (channels, *hw))
