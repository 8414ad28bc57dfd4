"""Zero-cost proxies: score an untrained pose network from one minibatch, in seconds.

Each proxy is a function ``proxy(model, batch) -> float`` (higher is meant to be better) kept in
the table :data:`PROXIES`; :func:`register_proxy` adds one without editing this file. ``batch`` is
a dict with ``image`` (N, 3, H, W) and, for the loss-based proxies, ``target`` (N, J, H/4, W/4) and
``target_weight`` (N, J, 1), as :func:`lspet_batch` returns it (a bare image tensor works for the
image-only proxies). Every proxy works on a deep copy, so the model passed in is left unchanged.

* ``synflow`` (Tanaka et al. 2020, as in Abdelfattah et al. 2021 "Zero-Cost Proxies for
  Lightweight NAS"): BatchNorm layers are removed (identity), every parameter and buffer is
  replaced by its absolute value, one all-ones input in float64 goes through, and the score is
  ``sum |theta * dR/dtheta|`` over the weights of Conv and Linear layers (biases feed ``R`` but are
  not summed), ``R`` = the sum of the output.
* ``naswot`` (Mellor et al. 2021): the binary code ``c = 1[x > 0]`` of every ``nn.ReLU`` module's
  input (equivalently its output, so inplace ReLUs are fine; a module applied several times in one
  forward counts each call) over the minibatch, ``K = sum c c^T + (1-c)(1-c)^T``, score
  ``log|det K|``; ``-inf`` when ``K`` is singular (e.g. every image gives the same codes).
  Functional ``F.relu`` calls are not seen: in archlab only the hidden layer of the
  squeeze-and-excitation gate (:class:`archlab.blocks.attention.SE`) uses one; sigmoid gates are
  not ReLUs. Train mode (batch statistics), as in the reference.
* ``jacob_cov`` (Mellor et al. 2020, v1): the input Jacobians ``d sum(y) / d x_i`` of the
  minibatch (train mode), their correlation matrix's eigenvalues ``v``, score
  ``-sum(log(v + k) + 1/(v + k))`` with ``k = 1e-5``; ``nan`` when a Jacobian is constant.
* ``grad_norm`` and ``snip`` (Abdelfattah et al. 2021): after one backward pass of the heatmap
  loss (:class:`archlab.train.loop.JointsMSELoss`) in train mode, ``sum ||dL/dW||`` and
  ``sum |W * dL/dW|`` over Conv and Linear weights.

:func:`score_spec` builds a spec's network (14 joints), draws a seeded minibatch of LSPET ``fit``
images (1-7000; never ``search_val`` or ``report_test``) and returns each proxy's score with the
CPU and wall seconds it took.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
>>> with torch.no_grad():
...     _ = net[0].weight.copy_(torch.tensor([[1., -2., 0.], [3., 1., -1.]]))
...     _ = net[1].weight.copy_(torch.tensor([[2., -1.]]))
>>> synflow(net, torch.zeros(4, 3))   # R = 2*3 + 1*5 = 11; each of the 2 layers carries R
22.0
"""
from __future__ import annotations

import copy
import math
import time
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["PROXIES", "register_proxy", "synflow", "naswot", "jacob_cov", "grad_norm", "snip", "lspet_batch",
           "score_spec", "score_model"]

#: proxy name -> ``fn(model, batch) -> float``; add entries with :func:`register_proxy`
PROXIES: dict[str, Callable] = {}
#: proxies :func:`score_spec` computes when none are named
DEFAULT_PROXIES = ("synflow", "naswot", "jacob_cov", "grad_norm", "snip")


def register_proxy(name: str, *, replace: bool = False):
    """Decorator: add ``fn(model, batch) -> float`` to :data:`PROXIES` under ``name``.

    >>> @register_proxy("n_params_demo")
    ... def n_params(model, batch):
    ...     return float(sum(p.numel() for p in model.parameters()))
    >>> "n_params_demo" in PROXIES
    True
    >>> del PROXIES["n_params_demo"]
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a proxy name must be a non-empty string, got {name!r}")
    if name in PROXIES and not replace:
        raise ValueError(f"proxy {name!r} is already registered (pass replace=True to override it)")

    def deco(fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"proxy {name!r}: expected a function, got {type(fn).__name__}")
        PROXIES[name] = fn
        return fn
    return deco


def check_proxies(proxies) -> list[str]:
    """The proxy names to compute (all defaults for ``None``); unknown names raise ``ValueError``."""
    names = list(DEFAULT_PROXIES if proxies is None else ([proxies] if isinstance(proxies, str) else proxies))
    unknown = [p for p in names if p not in PROXIES]
    if unknown:
        raise ValueError(f"unknown zero-cost prox{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(PROXIES))}")
    if not names:
        raise ValueError("no proxies to compute")
    return names


# ------------------------------------------------------------------------------------------------
def _images(batch) -> torch.Tensor:
    x = batch["image"] if isinstance(batch, dict) else batch
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError(f"batch must be an image tensor (N, ...) or a dict with 'image', got {type(x).__name__}")
    return x


def _weighted_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]


def _drop_batchnorm(net: nn.Module) -> nn.Module:
    """Replace every BatchNorm module of ``net`` (in place) by ``nn.Identity``."""
    for m in list(net.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, _BatchNorm):
                setattr(m, child_name, nn.Identity())
    return net


@register_proxy("synflow")
def synflow(model: nn.Module, batch) -> float:
    """SynFlow of the sign-linearised, BatchNorm-free network on one all-ones float64 input."""
    x = _images(batch)
    net = _drop_batchnorm(copy.deepcopy(model)).double().eval()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    net.zero_grad(set_to_none=True)
    net(torch.ones((1, *x.shape[1:]), dtype=torch.float64)).sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    for m in _weighted_layers(net):
        if m.weight.grad is not None:
            total += (m.weight.detach() * m.weight.grad).abs().sum()
    return float(total)


@register_proxy("naswot")
def naswot(model: nn.Module, batch) -> float:
    """``log|det K|`` of the ReLU binary-code agreement kernel over the minibatch (``-inf`` if singular)."""
    x = _images(batch)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"naswot needs a minibatch of at least 2 images, got {n}")
    net = copy.deepcopy(model).train()
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError("naswot: the network has no nn.ReLU modules to read binary codes from")
    K = torch.zeros((n, n), dtype=torch.float64)

    def hook(module, inputs, out):
        if out.shape[0] != n:
            raise ValueError(f"naswot: a ReLU output {tuple(out.shape)} does not start with the batch size {n}")
        c = (out.detach().reshape(n, -1) > 0).to(torch.float64)
        K.add_(c @ c.T).add_((1 - c) @ (1 - c).T)

    handles = [m.register_forward_hook(hook) for m in relus]
    try:
        with torch.no_grad():
            net(x.clone())                      # an inplace ReLU first must not change the batch
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(K)
    return float(logdet) if float(sign) != 0 else -math.inf


@register_proxy("jacob_cov")
def jacob_cov(model: nn.Module, batch) -> float:
    """``-sum(log(v + k) + 1/(v + k))`` over the eigenvalues ``v`` of the input-Jacobian correlations."""
    x = _images(batch).detach().clone().requires_grad_(True)
    if x.shape[0] < 2:
        raise ValueError(f"jacob_cov needs a minibatch of at least 2 images, got {x.shape[0]}")
    net = copy.deepcopy(model).train()
    y = net(x)
    y.backward(torch.ones_like(y))
    jac = x.grad.detach().reshape(x.shape[0], -1).double().numpy()
    if np.any(jac.std(axis=1) == 0):
        return math.nan
    v = np.linalg.eigvalsh(np.corrcoef(jac))
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def _loss_grads(model: nn.Module, batch) -> list[nn.Module]:
    """Deep copy of ``model`` (train mode) after one backward pass of the heatmap loss on ``batch``."""
    from ..train.loop import JointsMSELoss
    if not isinstance(batch, dict) or "target" not in batch or "target_weight" not in batch:
        raise ValueError("this proxy needs a batch dict with 'image', 'target' and 'target_weight' "
                         "(as lspet_batch returns)")
    net = copy.deepcopy(model).train()
    net.zero_grad(set_to_none=True)
    JointsMSELoss()(net(batch["image"]), batch["target"], batch["target_weight"]).backward()
    return [m for m in _weighted_layers(net) if m.weight.grad is not None]


@register_proxy("grad_norm")
def grad_norm(model: nn.Module, batch) -> float:
    """Sum over Conv/Linear layers of the L2 norm of the loss gradient of their weights."""
    return float(sum(float(m.weight.grad.double().norm()) for m in _loss_grads(model, batch)))


@register_proxy("snip")
def snip(model: nn.Module, batch) -> float:
    """SNIP saliency ``sum |W * dL/dW|`` over Conv/Linear weights."""
    layers = _loss_grads(model, batch)
    return float(sum(float((m.weight.detach().double() * m.weight.grad.double()).abs().sum()) for m in layers))


# ------------------------------------------------------------------------------------------------
def lspet_batch(batch_size: int = 16, seed: int = 0, input_size=(128, 96), data_root=None) -> dict:
    """A seeded minibatch of LSPET ``fit`` images (1-7000) with the training augmentation:
    ``image``, ``target``, ``target_weight`` tensors and the 0-based ``index`` of each image."""
    from ..train.evaluate import open_dataset
    if not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
    ds = open_dataset("lspet", data_root, "fit", tuple(input_size), train=True)
    if batch_size > len(ds):
        raise ValueError(f"batch_size {batch_size} exceeds the {len(ds)} images of the LSPET fit split")
    idx = np.sort(np.random.default_rng(seed).choice(len(ds), size=batch_size, replace=False))
    torch.manual_seed(seed)                     # the augmentation draws from torch's RNG
    samples = [ds[int(i)] for i in idx]
    out = {k: torch.stack([s[k] for s in samples]) for k in ("image", "target", "target_weight")}
    out["index"] = [int(s["meta"]["index"]) for s in samples]
    return out


def score_model(model: nn.Module, batch, proxies=None, seed: int = 0) -> dict:
    """``{proxy: {"score", "cpu_s", "wall_s"}}`` for ``model`` on ``batch`` (torch seeded before each)."""
    names = check_proxies(proxies)
    res = {}
    for name in names:
        torch.manual_seed(seed)
        c0, w0 = time.process_time(), time.perf_counter()
        score = float(PROXIES[name](model, batch))
        res[name] = {"score": score, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0}
    return res


def score_spec(spec, proxies=None, batch_size: int = 16, seed: int = 0, input_size=(128, 96), *,
               data_root=None, num_joints: int = 14, batch=None) -> dict:
    """Build ``spec`` (zoo name, YAML path or :class:`~archlab.NetworkSpec`) with ``num_joints`` and
    ``input_size``, initialised from ``seed``, and score it on a seeded LSPET ``fit`` minibatch
    (or on ``batch``). Returns ``{proxy: {"score", "cpu_s", "wall_s"}}``; the same seed gives the
    same scores."""
    from ..nets.factory import create_model
    names = check_proxies(proxies)                      # fail on a bad name before any work
    if batch is None:
        batch = lspet_batch(batch_size, seed, input_size, data_root)
    torch.manual_seed(seed)
    model = create_model(spec, num_joints=num_joints, input_size=tuple(input_size))
    return score_model(model, batch, names, seed)
