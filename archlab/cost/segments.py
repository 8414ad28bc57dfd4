"""Segment summaries of the analytic cost walk (:mod:`archlab.cost.analytic`).

A network's ops are kept as a tree of segments ``(prefix, body, summary, is_node)``: a leaf's
body is a tuple of Ops with paths relative to ``prefix`` (``None``: relative to the parent), a
node's body a tuple of child segments. Repeated blocks and modules share one body, so a count
builds each distinct block's ops once and never prefixes or sums the copies; the flat op list
is materialised only when ``.ops``/``.by_module`` ask for it. A leaf's summary is a
:class:`Summary` that gives ``(params, number of ops, {op name: (macs, numel_in,
numel_out)})`` -- enough for every total that is linear in the per-op figures (``macs``,
``macs_by_op``, the paper profiles and the fvcore/torch conventions); a node's combines its
children's. Both are computed on first use only: the latency predictor walks the same
segments and reads neither.
"""
from __future__ import annotations

__all__ = ["summarise", "combine", "Summary"]


def summarise(ops) -> tuple:
    """A leaf's summary: ``(params, number of ops, {op name: (macs, numel_in, numel_out)})``."""
    params = 0
    kinds: dict = {}
    for o in ops:
        params += o[3]
        k = kinds.get(o[1])
        if k is None:
            kinds[o[1]] = [o[2], o[4], o[5]]
        else:
            k[0] += o[2]
            k[1] += o[4]
            k[2] += o[5]
    return params, len(ops), {k: tuple(v) for k, v in kinds.items()}


class Summary:
    """A segment's summary, computed only when a count asks for it (the latency predictor walks
    the same segments and never does): :meth:`leaf` summarises a leaf's ops, :meth:`node`
    combines a module node's children."""

    __slots__ = ("_fn", "_of", "_value")

    def __init__(self, fn, of):
        self._fn, self._of, self._value = fn, of, None

    @classmethod
    def leaf(cls, ops: tuple) -> "Summary":
        return cls(summarise, ops)

    @classmethod
    def node(cls, children: tuple) -> "Summary":
        return cls(_children, children)

    def get(self) -> tuple:
        if self._value is None:
            self._value = self._fn(self._of)
        return self._value


def _children(children: tuple) -> tuple:
    return combine(c[2] for c in children)


def combine(summaries) -> tuple:
    """The summary of a sequence of segments' summaries (shared summaries are added once,
    times their multiplicity; a :class:`Summary` is resolved first)."""
    groups: dict = {}
    for sm in summaries:
        g = groups.get(id(sm))
        if g is None:
            groups[id(sm)] = [sm, 1]
        else:
            g[1] += 1
    params = n = 0
    kinds: dict = {}
    for sm, times in groups.values():
        p, m, ks = sm.get() if type(sm) is Summary else sm
        params += times * p
        n += times * m
        for k, v in ks.items():
            a = kinds.get(k)
            if a is None:
                kinds[k] = (times * v[0], times * v[1], times * v[2])
            else:
                kinds[k] = (a[0] + times * v[0], a[1] + times * v[1], a[2] + times * v[2])
    return params, n, kinds
