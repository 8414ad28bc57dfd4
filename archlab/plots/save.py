"""Writing figures: byte-for-byte reproducible files plus a JSON sidecar read back from the artists.

:func:`save_figure` is the one place archlab (library and studies) writes a matplotlib figure.
Files are deterministic: SVG ids come from a fixed ``svg.hashsalt`` and the SVG/PDF date and the PNG
"Software" stamp are left out, so regenerating an unchanged figure leaves the committed file as it
is. The sidecar (``PATH.json``) holds what was *drawn*, read back from matplotlib's artists after
rendering: per axes its labels and scales, each labelled artist's data (scatter offsets, line
vertices, error-bar segments), the legend texts and the annotations with their pixel boxes; plus
whatever ``data`` the caller adds. Tests and reports read it with :func:`read_figure_data`.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402

__all__ = ["save_figure", "read_figure_data", "figure_artists", "SVG_HASHSALT"]

#: fixed salt for the ids matplotlib writes into SVG files (random per process by default)
SVG_HASHSALT = "archlab"
_METADATA = {"svg": {"Date": None}, "png": {"Software": None}, "pdf": {"CreationDate": None, "ModDate": None}}
FORMATS = tuple(_METADATA)


def _stem(path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix.lstrip(".") in FORMATS + ("json",) else path


def save_figure(fig, path, data: dict | None = None, *, formats=("png", "svg"), dpi: int = 150,
                sidecar: bool = True, close: bool = True) -> list[Path]:
    """Write ``path``.<format> for each of ``formats`` (``png``, ``svg``, ``pdf``) and, with
    ``sidecar``, ``path``.json (:func:`figure_artists` plus ``data``); close the figure.

    ``path`` may carry one of those suffixes or none. Returns the files written, figures first.
    Saving the same figure twice gives identical bytes.
    """
    stem = _stem(path)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"save_figure: unknown format {bad[0] if bad else None!r}; choose from {FORMATS}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    with plt.rc_context({"svg.hashsalt": SVG_HASHSALT}):
        for fmt in formats:
            p = Path(f"{stem}.{fmt}")
            fig.savefig(p, dpi=dpi, bbox_inches="tight", metadata=_METADATA[fmt])
            out.append(p)
        if sidecar:
            p = Path(f"{stem}.json")
            p.write_text(json.dumps({**figure_artists(fig), **(data or {})}, indent=1, default=_jsonable) + "\n")
            out.append(p)
    if close:
        plt.close(fig)
    return out


def read_figure_data(path) -> dict:
    """The JSON sidecar of a figure written by :func:`save_figure` (``path`` with or without suffix)."""
    return json.loads(Path(f"{_stem(path)}.json").read_text())


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    return float(v)


def _xy(a) -> list:
    a = np.ma.filled(np.ma.asarray(a, dtype=float), np.nan)
    return [[None if np.isnan(v) else float(v) for v in col] for col in a.T] if a.size else [[], []]


def _artist(art) -> dict | None:
    """What one artist drew (data coordinates), or None for artists archlab does not name."""
    gid, label = art.get_gid(), art.get_label()
    if gid is None and (not label or label.startswith("_")):
        return None
    d = {"gid": gid, "label": label}
    if isinstance(art, PathCollection):
        x, y = _xy(art.get_offsets())
        d.update(kind="scatter", x=x, y=y, sizes=np.asarray(art.get_sizes(), float).tolist())
    elif isinstance(art, LineCollection):
        d.update(kind="segments", segments=[np.asarray(s, float).tolist() for s in art.get_segments()])
    elif isinstance(art, PolyCollection):
        d.update(kind="polygons")
    elif isinstance(art, matplotlib.lines.Line2D):
        x, y = _xy(np.c_[art.get_xdata(orig=False), art.get_ydata(orig=False)])
        d.update(kind="line", x=x, y=y, marker=str(art.get_marker()), linestyle=str(art.get_linestyle()))
    else:
        return None
    return d


def _text_box(t, renderer):
    """The pixel box of a text's glyphs (an annotation's leader line left out)."""
    if hasattr(t, "update_positions"):
        t.update_positions(renderer)
    return matplotlib.text.Text.get_window_extent(t, renderer)


def figure_artists(fig) -> dict:
    """Read back every axes of ``fig`` (colour bars skipped): title, axis labels and scales, the
    artists that carry a gid or a public label, the legend texts, and each annotation with its
    bounding box in display pixels (so label overlaps can be checked)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = []
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        arts = [d for a in [*ax.collections, *ax.lines] if (d := _artist(a)) is not None]
        leg = ax.get_legend()
        texts = [{"text": t.get_text(), "gid": t.get_gid(), "xy": [float(v) for v in getattr(t, "xy", (np.nan,) * 2)],
                  "bbox": [float(v) for v in _text_box(t, renderer).extents]}
                 for t in ax.texts if t.get_text() and t.get_visible()]
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                     "xscale": ax.get_xscale(), "yscale": ax.get_yscale(), "artists": arts,
                     "legend": [t.get_text() for t in leg.get_texts()] if leg is not None else [],
                     "legend_title": leg.get_title().get_text() if leg is not None else "",
                     "texts": texts})
    return {"axes": axes, "suptitle": fig.get_suptitle()}
