"""Geometric transforms for top-down pose crops (no OpenCV: PIL's C affine warp does the pixels).

Conventions
-----------
* Coordinates are 0-based **pixel-centre** coordinates: pixel ``(i, j)`` covers ``[j-0.5, j+0.5]``
  horizontally, so an image of width ``W`` spans ``[-0.5, W-0.5]``.
* Sizes are ``(H, W)`` (archlab's ``input_size`` order); ``scale`` is a box size in pixels
  ``(w, h)``; ``center`` is ``(x, y)``.
* :func:`get_affine_transform` maps the box ``center +- scale/2`` onto the whole output,
  with the box centre going to the output centre ``((W-1)/2, (H-1)/2)`` (the half-pixel-aligned
  "unbiased" mapping, unlike HRNet's ``W/2``). The same function gives the image->heatmap map when
  called with the heatmap size, so a heatmap pixel and an input-crop pixel line up exactly and
  flipping the input is exactly flipping the heatmap (no HRNet-style one-pixel shift needed).
* ``rot`` is in degrees; positive values turn the crop content counter-clockwise.

>>> import numpy as np
>>> M = get_affine_transform((50.0, 40.0), (100.0, 80.0), 0.0, (8, 10))
>>> affine_points(np.array([[50.0, 40.0], [0.0, 0.0]]), M).round(3).tolist()
[[4.5, 3.5], [-0.5, -0.5]]
"""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

__all__ = ["get_affine_transform", "invert_affine", "affine_points", "warp_image", "flip_joints",
           "flip_image", "sample_augmentation", "box_to_center_scale", "fix_aspect_ratio"]


def _size_hw(output_size) -> tuple[int, int]:
    if isinstance(output_size, (int, np.integer)):
        return int(output_size), int(output_size)
    h, w = (int(v) for v in output_size)
    if h <= 0 or w <= 0:
        raise ValueError(f"output size must be positive (H, W), got {tuple(output_size)}")
    return h, w


def get_affine_transform(center, scale, rot, output_size, *, flip: bool = False,
                         inv: bool = False) -> np.ndarray:
    """2x3 matrix mapping image pixel coords to crop coords (or back, with ``inv=True``).

    ``center`` (x, y) and ``scale`` (w, h) give the source box in pixels; ``output_size`` is
    ``(H, W)``. The zoom is isotropic, ``min(W / w, H / h)``, so a box whose aspect ratio already
    matches the output (see :func:`fix_aspect_ratio`) fills it exactly and any other box fits
    inside it. ``flip=True`` mirrors the crop horizontally (``x -> W-1-x``) after the warp.
    """
    h_out, w_out = _size_hw(output_size)
    cx, cy = (float(v) for v in np.asarray(center, dtype=np.float64).reshape(2))
    sw, sh = (float(v) for v in np.asarray(scale, dtype=np.float64).reshape(-1)[:2]) \
        if np.size(scale) >= 2 else (float(np.asarray(scale).reshape(-1)[0]),) * 2
    if not (sw > 0 and sh > 0) or not (math.isfinite(sw) and math.isfinite(sh)):
        raise ValueError(f"box scale must be positive and finite, got {(sw, sh)}")
    k = min(w_out / sw, h_out / sh)
    t = math.radians(float(rot))
    cs, sn = math.cos(t) * k, math.sin(t) * k
    ox, oy = (w_out - 1) / 2.0, (h_out - 1) / 2.0
    m = np.array([[cs, sn, ox - cs * cx - sn * cy],
                  [-sn, cs, oy + sn * cx - cs * cy]], dtype=np.float64)
    if flip:
        m[0] = -m[0]
        m[0, 2] += w_out - 1
    return invert_affine(m) if inv else m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    full = np.vstack([np.asarray(m, dtype=np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def affine_points(points, m) -> np.ndarray:
    """Apply a 2x3 affine ``m`` to points of shape ``(..., 2)`` (extra columns are ignored)."""
    p = np.asarray(points, dtype=np.float64)[..., :2]
    m = np.asarray(m, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def warp_image(image, m, output_size, *, fill=0, resample=Image.BILINEAR) -> np.ndarray:
    """Warp ``image`` (PIL image or HxWxC uint8 array) with affine ``m`` -> ``(H, W, C)`` uint8.

    PIL samples output pixel ``(x, y)`` at continuous coordinate ``(x+0.5, y+0.5)`` and treats
    input pixel ``j`` as covering ``[j, j+1]``; the pixel-centre matrix is converted accordingly.
    Areas outside the source are filled with ``fill``.
    """
    h_out, w_out = _size_hw(output_size)
    if not isinstance(image, Image.Image):
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            raise TypeError(f"warp_image expects a uint8 array or a PIL image, got {arr.dtype}")
        image = Image.fromarray(np.ascontiguousarray(arr))
    inv = invert_affine(m)
    a, b, c0 = inv[0]
    d, e, f0 = inv[1]
    coeffs = (a, b, c0 + 0.5 - 0.5 * (a + b), d, e, f0 + 0.5 - 0.5 * (d + e))
    if isinstance(fill, (int, float)) and image.mode in ("RGB", "RGBA"):
        fill = (int(fill),) * len(image.mode)
    out = image.transform((w_out, h_out), Image.AFFINE, coeffs, resample=resample, fillcolor=fill)
    return np.array(out)  # a writable copy (torch.from_numpy needs one)


def flip_joints(joints, width, flip_pairs) -> np.ndarray:
    """Mirror joints (J, 2+) of an image ``width`` pixels wide (``x -> width-1-x``) and swap
    left/right pairs. Extra columns (visibility) travel with their joint."""
    out = np.array(joints, dtype=np.float64, copy=True)
    out[:, 0] = (width - 1) - out[:, 0]
    for a, b in flip_pairs:
        out[[a, b]] = out[[b, a]]
    return out


def flip_image(image: np.ndarray) -> np.ndarray:
    """Mirror an HxW[xC] array horizontally."""
    return np.ascontiguousarray(np.asarray(image)[:, ::-1])


def sample_augmentation(scale_factor: float = 0.25, rot_factor: float = 30.0, rot_prob: float = 0.6,
                        flip_prob: float = 0.5, generator: torch.Generator | None = None):
    """Random ``(scale_multiplier, rotation_degrees, flip)`` for one training sample.

    Scale multiplier uniform in ``[1-scale_factor, 1+scale_factor]``; rotation uniform in
    ``[-rot_factor, rot_factor]`` with probability ``rot_prob`` (else 0); flip with probability
    ``flip_prob``. Uses torch's RNG so each DataLoader worker draws different values.
    """
    u = torch.rand(4, generator=generator).tolist()
    s = 1.0 + scale_factor * (2.0 * u[0] - 1.0)
    r = rot_factor * (2.0 * u[1] - 1.0) if u[2] < rot_prob else 0.0
    return s, r, bool(u[3] < flip_prob)


def fix_aspect_ratio(w: float, h: float, aspect_ratio: float) -> tuple[float, float]:
    """Grow ``w`` or ``h`` so that ``w / h == aspect_ratio`` (HRNet's ``_box2cs`` rule)."""
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return w, h


def box_to_center_scale(x0, y0, w, h, input_size, padding: float = 1.25, min_size: float = 1.0):
    """HRNet's ``_box2cs``: box ``(x0, y0, w, h)`` -> ``center`` (2,), ``scale`` (2,) in pixels,
    with the aspect ratio fixed to ``input_size`` ``(H, W)`` and the box padded by ``padding``."""
    h_in, w_in = _size_hw(input_size)
    w = max(float(w), min_size)
    h = max(float(h), min_size)
    center = np.array([x0 + w * 0.5, y0 + h * 0.5], dtype=np.float64)
    w, h = fix_aspect_ratio(w, h, w_in / h_in)
    return center, np.array([w * padding, h * padding], dtype=np.float64)
