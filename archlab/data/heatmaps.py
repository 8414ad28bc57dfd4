"""Gaussian heatmap targets and their decoding (HRNet style, with aligned pixel geometry).

Input-crop pixel ``x`` (pixel-centre coordinates, see :mod:`archlab.data.transforms`) sits at
heatmap coordinate ``(x + 0.5) * w / W - 0.5``: pixel edges line up, so the map from image to
heatmap is ``get_affine_transform(center, scale, rot, heatmap_size)``, the same function as for
the input crop. Targets are un-normalised Gaussians ``exp(-d^2 / (2 sigma^2))`` centred at the
exact sub-pixel location (peak 1 when the joint falls on a heatmap pixel), zero beyond
``3 sigma`` per axis like HRNet's window. Decoding is HRNet's ``get_final_preds``: argmax plus a
quarter-pixel step toward the higher neighbour.

>>> import numpy as np
>>> t, w = encode(np.array([[37.0, 50.0]]), np.array([1]), (128, 96), sigma=2)
>>> t.shape, w.tolist()
((1, 32, 24), [1.0])
>>> c, v = decode(t[None])
>>> c.round(2).tolist(), round(float(v[0, 0]), 3)
([[[8.75, 12.25]]], 0.996)
"""
from __future__ import annotations

import numpy as np
import torch

from .transforms import affine_points, get_affine_transform

__all__ = ["heatmap_size_for", "input_to_heatmap", "heatmap_to_input", "encode", "decode",
           "to_image_coords", "get_final_preds", "flip_test", "flip_back"]


def heatmap_size_for(input_size, stride: int = 4) -> tuple[int, int]:
    """Heatmap ``(h, w)`` for an input ``(H, W)``: ``H // stride, W // stride``."""
    h, w = (int(v) for v in input_size)
    return h // stride, w // stride


def input_to_heatmap(xy, input_size, heatmap_size):
    """Input-crop pixel coords (..., 2) -> heatmap pixel coords (edge-aligned)."""
    h_in, w_in = input_size
    h, w = heatmap_size
    xy = np.asarray(xy, dtype=np.float64)
    return (xy + 0.5) * np.array([w / w_in, h / h_in]) - 0.5


def heatmap_to_input(xy, input_size, heatmap_size):
    """Inverse of :func:`input_to_heatmap`."""
    h_in, w_in = input_size
    h, w = heatmap_size
    xy = np.asarray(xy, dtype=np.float64)
    return (xy + 0.5) * np.array([w_in / w, h_in / h]) - 0.5


def encode(joints_xy, visible, input_size, sigma: float = 2.0, heatmap_size=None):
    """Gaussian targets for one person.

    ``joints_xy`` (J, 2) in input-crop pixels, ``visible`` (J,) (nonzero = annotated),
    ``input_size`` ``(H, W)``; ``heatmap_size`` defaults to ``(H // 4, W // 4)``; ``sigma`` is in
    heatmap pixels. Returns ``target`` float32 (J, h, w) and ``weight`` float32 (J,): 0 for joints
    not annotated or outside the crop (their target is all zeros), else 1.
    """
    hm_h, hm_w = heatmap_size if heatmap_size is not None else heatmap_size_for(input_size)
    xy = np.asarray(joints_xy, dtype=np.float64).reshape(-1, 2)
    vis = np.asarray(visible).reshape(-1) > 0
    if vis.shape[0] != xy.shape[0]:
        raise ValueError(f"encode: {xy.shape[0]} joints but {vis.shape[0]} visibility flags")
    mu = input_to_heatmap(xy, input_size, (hm_h, hm_w))
    finite = np.isfinite(mu).all(axis=1)
    inside = finite & (mu[:, 0] >= -0.5) & (mu[:, 0] < hm_w - 0.5) & (mu[:, 1] >= -0.5) & \
        (mu[:, 1] < hm_h - 0.5)
    weight = (vis & inside).astype(np.float32)
    mu = np.where(finite[:, None], mu, 0.0)
    dx = np.arange(hm_w, dtype=np.float64)[None, :] - mu[:, 0:1]
    dy = np.arange(hm_h, dtype=np.float64)[None, :] - mu[:, 1:2]
    two_s2 = 2.0 * float(sigma) ** 2
    gx = np.where(np.abs(dx) <= 3 * sigma, np.exp(-dx * dx / two_s2), 0.0) * weight[:, None]
    gy = np.where(np.abs(dy) <= 3 * sigma, np.exp(-dy * dy / two_s2), 0.0)
    target = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    return target, weight


def decode(heatmaps):
    """HRNet ``get_final_preds`` in heatmap pixels.

    ``heatmaps`` (N, J, h, w) (torch or numpy) -> ``coords`` (N, J, 2) (x, y) and ``maxvals``
    (N, J), as torch tensors for torch input, numpy arrays otherwise. The argmax moves a quarter
    pixel toward the higher neighbour on each axis (when both neighbours exist); joints whose
    maximum is <= 0 get coordinates (0, 0).
    """
    is_torch = isinstance(heatmaps, torch.Tensor)
    hm = heatmaps.detach() if is_torch else torch.from_numpy(np.asarray(heatmaps))
    if hm.dim() != 4:
        raise ValueError(f"decode expects heatmaps of shape (N, J, h, w), got {tuple(hm.shape)}")
    hm = hm.float()
    n, j, h, w = hm.shape
    flat = hm.reshape(n, j, h * w)
    maxvals, idx = flat.max(dim=-1)
    xi, yi = idx % w, torch.div(idx, w, rounding_mode="floor")

    def at(x, y):
        return flat.gather(-1, (y * w + x).unsqueeze(-1)).squeeze(-1)

    ok_x = (xi >= 1) & (xi <= w - 2)
    ok_y = (yi >= 1) & (yi <= h - 2)
    xl, xr = (xi - 1).clamp(0, w - 1), (xi + 1).clamp(0, w - 1)
    yu, yd = (yi - 1).clamp(0, h - 1), (yi + 1).clamp(0, h - 1)
    dx = torch.sign(at(xr, yi) - at(xl, yi)) * ok_x
    dy = torch.sign(at(xi, yd) - at(xi, yu)) * ok_y
    coords = torch.stack([xi.float() + 0.25 * dx, yi.float() + 0.25 * dy], dim=-1)
    coords = coords * (maxvals > 0).unsqueeze(-1)
    if is_torch:
        return coords, maxvals
    return coords.numpy(), maxvals.numpy()


def to_image_coords(coords, center, scale, heatmap_size, rotation=0.0) -> np.ndarray:
    """Heatmap-pixel coords (N, J, 2) (or (J, 2)) -> original image coords (same shape, numpy).

    ``center`` (N, 2) and ``scale`` (N, 2) (box size in pixels) are the sample's ``meta`` values
    (un-augmented, as in evaluation); ``rotation`` a scalar or (N,) in degrees;
    ``heatmap_size`` ``(h, w)``.
    """
    c = np.asarray(coords.cpu() if isinstance(coords, torch.Tensor) else coords, dtype=np.float64)
    single = c.ndim == 2
    if single:
        c = c[None]
    centers = np.asarray(center.cpu() if isinstance(center, torch.Tensor) else center,
                         dtype=np.float64).reshape(-1, 2)
    scales = np.asarray(scale.cpu() if isinstance(scale, torch.Tensor) else scale,
                        dtype=np.float64).reshape(centers.shape[0], -1)
    rot = np.broadcast_to(np.asarray(rotation.cpu() if isinstance(rotation, torch.Tensor) else rotation,
                                     dtype=np.float64).reshape(-1), (c.shape[0],))
    if centers.shape[0] != c.shape[0]:
        raise ValueError(f"to_image_coords: {c.shape[0]} samples but {centers.shape[0]} centers")
    out = np.empty_like(c)
    for i in range(c.shape[0]):
        m = get_affine_transform(centers[i], scales[i], rot[i], heatmap_size, inv=True)
        out[i] = affine_points(c[i], m)
    return out[0] if single else out


def get_final_preds(heatmaps, center, scale, rotation=0.0):
    """Decode heatmaps (N, J, h, w) straight to image coords: ``(coords (N, J, 2), maxvals (N, J))``
    as numpy arrays."""
    coords, maxvals = decode(heatmaps)
    if isinstance(coords, torch.Tensor):
        coords, maxvals = coords.cpu().numpy(), maxvals.cpu().numpy()
    h, w = heatmaps.shape[-2:]
    return to_image_coords(coords, center, scale, (h, w), rotation), maxvals


def _flip_index(flip_pairs, num_joints: int) -> list:
    pairs = getattr(flip_pairs, "flip_pairs", flip_pairs)
    idx = list(range(num_joints))
    for a, b in pairs:
        idx[a], idx[b] = b, a
    return idx


def flip_back(heatmaps: torch.Tensor, flip_pairs, shift: bool = False) -> torch.Tensor:
    """Mirror heatmaps of a flipped input back and swap left/right channels.

    ``shift=True`` also moves them one pixel right (HRNet's ``shift_heatmap``), which only
    compensates HRNet's own half-pixel-biased target placement; archlab's aligned targets need
    no shift.
    """
    out = heatmaps.flip(-1)[:, _flip_index(flip_pairs, heatmaps.shape[1])]
    if shift:
        out = out.clone()
        out[..., 1:] = out[..., :-1].clone()
    return out


@torch.no_grad()
def flip_test(model, images: torch.Tensor, flip_pairs, shift: bool = False) -> torch.Tensor:
    """Average the model's heatmaps on ``images`` and on their mirror (flipped back).

    ``flip_pairs`` is a list of (left, right) joint pairs or a ``DatasetInfo``. See
    :func:`flip_back` for ``shift``.
    """
    out = model(images)
    out_f = model(images.flip(-1))
    return 0.5 * (out + flip_back(out_f, flip_pairs, shift=shift))
