"""One small ``nn.Module`` per kernel (the archlab block where there is one), with its inputs.

:func:`kernel_module` returns ``(module, example inputs)`` reproducing a kernel of
:mod:`.kernels`; :mod:`.profile` exports many of them side by side into one ONNX model and
reads each one's time from ONNX Runtime's profiler.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...blocks import ECA, SE, ConvBNAct, PositionAttention, SpatialWeighting, channel_shuffle
from .kernels import KernelError

__all__ = ["kernel_module", "grid_hw"]


def grid_hw(hw: int) -> tuple[int, int]:
    """``(h, w)`` with ``h * w == hw`` and ``h / w`` closest to 4:3 (pose inputs' aspect)."""
    best = (hw, 1)
    for w in range(1, int(math.isqrt(hw)) + 1):
        if hw % w == 0:
            h = hw // w
            if abs(math.log(h / w / (4 / 3))) < abs(math.log(best[0] / best[1] / (4 / 3))):
                best = (h, w)
    return best


def _chw(numel: int) -> tuple[int, int, int]:
    for c in (32, 16, 8, 4, 2, 1):
        if numel % c == 0 and numel // c >= 4:
            return (c, *grid_hw(numel // c))
    return (1, *grid_hw(numel))


class _Conv(nn.Module):
    def __init__(self, k, s, d, g, cin, cout, act, bias, bn, summed):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, d * (k - 1) // 2, dilation=d, groups=g, bias=bool(bias))
        self.bn = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.act = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "hardsigmoid": nn.Hardsigmoid(), "": nn.Identity()}[act]
        self.summed = bool(summed)

    def forward(self, x, y=None):
        z = self.bn(self.conv(x))
        return self.act(z + y if self.summed else z)


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _conv(key):
    _, k, s, d, g, cin, cout, hw, act, bias, bn, summed = key
    h, w = grid_hw(hw)
    m = _Conv(k, s, d, g, cin, cout, act, bias, bn, summed)
    x = torch.randn(1, cin, h, w)
    if not summed:
        return m, (x,)
    with torch.no_grad():
        y = torch.randn_like(m.bn(m.conv(x)))
    return m, (x, y)


def _attention(key):
    kind, c, hw = key[:3]
    x = torch.randn(1, c, *grid_hw(hw))
    if kind == "se":
        m = SE(c, 1)
        m.fc1, m.fc2 = nn.Linear(c, key[3]), nn.Linear(key[3], c)
    elif kind == "eca":
        m = ECA(c, gate=key[4])
        m.conv = nn.Conv1d(1, 1, key[3], padding=key[3] // 2, bias=False)
    elif kind == "sw":
        m = SpatialWeighting(c, 1)
        m.conv1 = ConvBNAct(c, key[3], 1, norm=False)
        m.conv2 = ConvBNAct(key[3], c, 1, norm=False, act="sigmoid")
    else:
        m = PositionAttention(c, 1)
        m.query, m.key = nn.Conv2d(c, key[3], 1), nn.Conv2d(c, key[3], 1)
        with torch.no_grad():
            m.scale.fill_(0.5)
    return m, (x,)


def _elementwise(key):
    kind = key[0]
    if kind == "add":
        x = torch.randn(1, *_chw(key[1]))
        return _Fn((lambda a, b: F.relu(a + b)) if key[2] else (lambda a, b: a + b)), (x, torch.randn_like(x))
    if kind == "mul":
        x = torch.randn(1, *_chw(key[1]))
        y = torch.randn(1, x.shape[1], 1, 1) if key[2] else torch.randn_like(x)
        return _Fn(lambda a, b: a * b), (x, y)
    if kind == "mul_scalar":
        return _Fn(lambda a: 2 * a), (torch.randn(1, *_chw(key[1])),)
    if kind == "act":
        fn = {"relu": F.relu, "sigmoid": torch.sigmoid, "hardsigmoid": F.hardsigmoid}[key[1]]
        return _Fn(fn), (torch.randn(1, *_chw(key[2])),)
    if kind == "softmax":
        n = max(1, math.isqrt(key[1]))
        return _Fn(lambda a: torch.softmax(a, -1)), (torch.randn(1, n, n),)
    if kind in ("cat", "split", "shuffle"):
        c, h, w = _chw(key[1])
        c2 = max(2, c - c % 2)
        x = torch.randn(1, c2, h, w)
        if kind == "cat":
            return _Fn(lambda a, b: torch.cat((a, b), 1)), (x[:, : c2 // 2].clone(), x[:, c2 // 2:].clone())
        if kind == "split":
            return _Fn(lambda a: a.chunk(2, dim=1)), (x,)
        return _Fn(lambda a: channel_shuffle(a, 2)), (x,)
    return None


def _resample(key):
    if key[0] == "upsample":
        _, mode, nin, nout = key
        f = max(1, round(math.sqrt(nout / nin)))
        c, h, w = _chw(nin)
        x = torch.randn(1, c, h, w)
        if mode == "nearest":
            return nn.Upsample(scale_factor=f, mode="nearest"), (x,)
        return _Fn(lambda a: F.interpolate(a, size=(h * f, w * f), mode="bilinear", align_corners=True)), (x,)
    _, nin, nout = key
    c, ho, wo = _chw(nout)
    f = max(1, round(math.sqrt(nin / nout)))
    return _Fn(lambda a: F.adaptive_avg_pool2d(a, (ho, wo))), (torch.randn(1, c, ho * f, wo * f),)


def kernel_module(key: tuple):
    """``(module, inputs)`` that runs ``key`` (a kernel tuple from :func:`.kernels_of`)."""
    kind = key[0]
    if kind == "conv":
        return _conv(key)
    if kind in ("se", "eca", "sw", "pa"):
        return _attention(key)
    if kind in ("upsample", "pool"):
        return _resample(key)
    if kind == "linear":
        return nn.Linear(key[1], key[2]), (torch.randn(1, key[1]),)
    if kind == "bmm":
        _, b, n, m, p = key
        return _Fn(torch.bmm), (torch.randn(b, n, m), torch.randn(b, m, p))
    hit = _elementwise(key)
    if hit is None:
        raise KernelError(f"no profiling module for kernel kind {kind!r}")
    return hit
