"""Per-kernel latency models fitted to the profiled samples of a table.

For each table entry (:func:`.kernels.subkind`) a linear cost model
``t = a + b * MACs + c * elements + d * weights`` (non-negative coefficients, fitted on relative
error) gives the trend, and the log-ratio of measured to modelled time of the nearest profiled
kernels (inverse-distance weighted, in log channels / log sizes, with layout flags) corrects it:
an exact lookup for a profiled kernel, an interpolation between neighbours otherwise.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import nnls

__all__ = ["features", "KindModel", "StackedModels"]

_L = math.log


def _conv_features(key):
    _, k, s, d, g, cin, cout, hw, act, bias, bn, summed = key
    hwo = max(1.0, hw / (s * s))
    macs = cout * hwo * (cin / g) * k * k
    elems = cin * hw + cout * hwo * (1 + summed)
    weights = cout * (cin / g) * k * k
    basis = (1.0, macs, elems, weights)
    knn = (_L(cin), _L(cout), _L(hw), 2.0 * (act != ""), 2.0 * summed, _L(d), 2.0 * (cin % 16 == 0),
           2.0 * (cout % 16 == 0), 0.5 * (act == "sigmoid"), 0.5 * bias)
    return basis, knn


def features(key: tuple) -> tuple[tuple, tuple]:
    """``(basis, neighbour coordinates)`` of a kernel for its table entry's model."""
    kind = key[0]
    if kind == "conv":
        return _conv_features(key)
    if kind in ("se", "eca", "sw"):
        _, c, hw, h = key[:4]
        return (1.0, c * hw, c * h), (_L(c), _L(hw), _L(h), 2.0 * (c % 16 == 0))
    if kind == "pa":
        _, c, hw, inner = key
        macs = hw * c * (2 * inner + c) + hw * hw * (inner + c)
        return (1.0, c * hw, macs, hw * hw), (_L(c), _L(hw), _L(inner))
    if kind in ("upsample", "pool"):
        nin, nout = key[-2], key[-1]
        return (1.0, nin, nout), (_L(nin), _L(nout))
    if kind == "linear":
        return (1.0, key[1] * key[2]), (_L(key[1]), _L(key[2]))
    if kind == "bmm":
        _, b, n, m, p = key
        return (1.0, b * n * m * p, b * (n * m + m * p + n * p)), (_L(b * n * m * p), _L(n), _L(p))
    numel = key[2] if kind == "act" else key[1]
    flag = float(key[2]) if kind in ("add", "mul") else 0.0
    return (1.0, numel), (_L(numel), 2.0 * flag)


def _fit_linear(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the relative error ``(X b - y) / y``."""
    scale = X.max(axis=0)
    scale[scale == 0] = 1.0
    A = X / scale / y[:, None]
    coef, _ = nnls(A, np.ones_like(y), maxiter=50 * A.shape[1])
    return coef / scale


class KindModel:
    """The fitted model of one table entry (``compute_ms``, node count, NCHWc flag)."""

    def __init__(self, keys: list, compute: list, nodes: list, nchwc: list, reorder_in: list, reorder_out: list):
        self.keys = keys
        X = np.array([features(k)[0] for k in keys], dtype=float)
        self.knn = np.array([features(k)[1] for k in keys], dtype=float)
        y = np.maximum(np.array(compute, dtype=float), 1e-4)
        self.coef = _fit_linear(X, y)
        base = np.maximum(X @ self.coef, 1e-6)
        self.resid = np.log(y / base)
        self.nodes = np.array(nodes, dtype=float)
        self.nchwc = np.array(nchwc, dtype=float)
        self.reorder = np.array([reorder_in, reorder_out], dtype=float)
        self.lo = self.knn.min(axis=0)
        self.hi = self.knn.max(axis=0)

    def predict(self, key: tuple, k: int = 4) -> tuple:
        """``(compute_ms, nodes, nchwc, reorder_in_ms, reorder_out_ms)`` of ``key`` (all but the
        compute time from the nearest profiled kernel)."""
        basis, coords = features(key)
        base = max(float(np.dot(basis, self.coef)), 1e-6)
        d = np.sqrt(((self.knn - np.asarray(coords)) ** 2).sum(axis=1))
        k = min(k, len(d))
        idx = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
        w = 1.0 / (d[idx] + 0.05)
        corr = float((w * self.resid[idx]).sum() / w.sum())
        near = idx[np.argmin(d[idx])]
        return (base * math.exp(corr), float(self.nodes[near]), float(self.nchwc[near]), float(self.reorder[0, near]),
                float(self.reorder[1, near]))

    def residual_spread(self) -> float:
        """Median absolute relative error of the linear trend alone on the samples."""
        return float(np.median(np.abs(np.expm1(self.resid)))) if len(self.resid) else float("nan")


class StackedModels:
    """Every entry's :class:`KindModel` in flat arrays, so that the kernels of a new spec, whatever
    their entries, are predicted in one pass (:meth:`predict`): features and trends for all of
    them at once, then one nearest-neighbour query.

    The samples of all entries share one k-d tree, each entry's set apart by one more coordinate
    (the entry's index times :attr:`SEPARATION`, farther than any two samples' distance), so a
    kernel's neighbours are the nearest samples of its own entry -- the exact Euclidean distances
    of :meth:`KindModel.predict`, found from the row's own coordinates: a prediction does not
    depend on which other kernels share its pass."""

    #: distance between two entries' sample sets in the tree (coordinates are logs of channel
    #: counts and sizes, and flags: two samples of one entry are < 100 apart)
    SEPARATION = 1e4

    def __init__(self, models: dict):
        from scipy.spatial import cKDTree
        self.index = {e: i for i, e in enumerate(models)}
        ms = list(models.values())
        self.n_b = max(len(m.coef) for m in ms)
        self.n_d = max(m.knn.shape[1] for m in ms)
        self.coef = np.zeros((len(ms), self.n_b))
        pts, resid, extra = [], [], []
        for i, m in enumerate(ms):
            self.coef[i, :len(m.coef)] = m.coef
            p = np.zeros((len(m.keys), self.n_d + 1))
            p[:, :m.knn.shape[1]] = m.knn
            p[:, -1] = i * self.SEPARATION
            pts.append(p)
            resid.append(m.resid)
            extra.append(np.column_stack([m.nodes, m.nchwc, m.reorder[0], m.reorder[1]]))
        self.k = min(4, sum(len(m.keys) for m in ms))
        self._ks = list(range(1, self.k + 1))
        self.tree = cKDTree(np.concatenate(pts), leafsize=16)
        self.resid = np.concatenate(resid)
        self.extra = np.concatenate(extra)

    def _correction(self, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse-distance weighted residual of the ``k`` nearest samples of entry ``e`` to each
        row ``(*coordinates, e * SEPARATION)`` of ``Q`` (all of the entry's samples where it has
        fewer: neighbours found in another entry's set weigh nothing), and the nearest sample's
        index."""
        dk, idx = self.tree.query(Q, k=self._ks)
        w = np.where(dk < 0.5 * self.SEPARATION, 1.0 / (dk + 0.05), 0.0)
        corr = np.add.reduce(w * self.resid[idx], axis=1) / np.add.reduce(w, axis=1)
        return corr, idx[:, 0]

    def predict(self, entries: list, keys: list) -> list[tuple]:
        """:meth:`KindModel.predict` of ``keys`` (whose entries are ``entries``) at once."""
        n = len(keys)
        e = [self.index[x] for x in entries]
        nb, nd, sep = self.n_b, self.n_d, self.SEPARATION
        feats = [features(key) for key in keys]
        B = np.array([b + (0.0,) * (nb - len(b)) for b, _ in feats])
        Q = np.array([c + (0.0,) * (nd - len(c)) + (i * sep,) for (_, c), i in zip(feats, e)])
        base = np.maximum(np.einsum("ij,ij->i", B, self.coef[e]), 1e-6)
        corr, near = self._correction(Q)
        t = (base * np.exp(corr)).tolist()
        ex = self.extra[near].tolist()
        return [(t[j], *ex[j]) for j in range(n)]
