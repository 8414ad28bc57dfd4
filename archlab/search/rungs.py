"""Multi-fidelity plans: the rungs of a successive-halving search (epochs x training images).

A plan is data in the space file::

    halving:
      eta: 3          # each rung keeps ceil(1/eta) of the one below
      n0: 27          # configurations trained at rung 0 (the baselines among them)
      rungs:          # budgets, growing from rung to rung
        - {epochs: 1, limit_train: 1750}
        - {epochs: 2, limit_train: 3500}
        - {epochs: 10}                     # no limit_train: the whole training split

A rung may also set ``milestones``: learning-rate decay epochs *within its own budget*
(``{epochs: 2, limit_train: 3500, milestones: [1]}`` trains epoch 2 at a tenth of the rate). The
default schedule (x0.1 at 170/210 and 200/210 of the epochs) never decays inside a 1-2 epoch
rung, so such a rung scores weights caught mid-descent at full rate; an annealed rung scores
settled weights, which halves the seed noise of the score (``reports/search_lspet/score_noise.csv``).

The rung loop itself is :mod:`archlab.search.halving`.

>>> plan = HalvingPlan.from_dict({"eta": 3, "n0": 9, "rungs": [{"epochs": 1, "limit_train": 700},
...                                                      {"epochs": 3, "limit_train": 7000}]})
>>> [(r.keep, r.epochs, r.limit_train) for r in plan.rungs]
[(9, 1, 700), (3, 3, 7000)]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Rung", "HalvingPlan", "HalvingError", "parse_rung"]


class HalvingError(ValueError):
    """A halving plan is malformed; the message names the field."""


@dataclass(frozen=True)
class Rung:
    keep: int                     # configurations trained at this rung
    epochs: int
    limit_train: int | None       # training images (None: the whole training split)
    milestones: tuple | None = None   # LR-decay epochs within the rung (None: the default schedule)

    def budget(self) -> dict:
        """The training options this rung sets (``epochs``, ``limit_train``, ``milestones``)."""
        out = {"epochs": self.epochs}
        if self.limit_train is not None:
            out["limit_train"] = self.limit_train
        if self.milestones is not None:
            out["milestones"] = list(self.milestones)
        return out


@dataclass(frozen=True)
class HalvingPlan:
    eta: int
    rungs: tuple

    @classmethod
    def from_dict(cls, d: dict) -> "HalvingPlan":
        """``{eta, n0, rungs: [{epochs, limit_train}, ...]}``: rung ``r`` trains
        ``ceil(n0 / eta**r)`` configurations (at least 1)."""
        if not isinstance(d, dict):
            raise HalvingError(f"halving: expected a mapping, got {type(d).__name__}")
        unknown = sorted(set(d) - {"eta", "n0", "rungs"})
        if unknown:
            raise HalvingError(f"halving: unknown field(s) {unknown}; known: eta, n0, rungs")
        eta, n0, rungs = d.get("eta", 3), d.get("n0"), d.get("rungs")
        for name, v in (("eta", eta), ("n0", n0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (2 if name == "eta" else 1):
                raise HalvingError(f"halving.{name}: expected an integer >= {2 if name == 'eta' else 1}, got {v!r}")
        if not isinstance(rungs, list) or not rungs:
            raise HalvingError("halving.rungs: expected a non-empty list of {epochs, limit_train}")
        out = []
        for r, raw in enumerate(rungs):
            out.append(parse_rung(raw, max(1, math.ceil(n0 / eta ** r)), f"halving.rungs[{r}]"))
        for r in range(1, len(out)):
            a, b = out[r - 1], out[r]
            if b.epochs * (b.limit_train or 10 ** 9) <= a.epochs * (a.limit_train or 10 ** 9):
                raise HalvingError(f"halving.rungs[{r}]: the budget (epochs x images) must grow from rung to rung")
        return cls(eta, tuple(out))


def parse_rung(raw, keep: int = 1, where: str = "rung") -> Rung:
    """One rung ``{epochs, limit_train, milestones}``; errors name ``where`` and the field."""
    if not isinstance(raw, dict) or set(raw) - {"epochs", "limit_train", "milestones"} or "epochs" not in raw:
        raise HalvingError(f"{where}: expected {{epochs: N, limit_train: M, milestones: [..]}}, got {raw!r}")
    ep, lim, ms = raw["epochs"], raw.get("limit_train"), raw.get("milestones")
    if isinstance(ep, bool) or not isinstance(ep, int) or ep < 1:
        raise HalvingError(f"{where}.epochs: expected a positive integer, got {ep!r}")
    if lim is not None and (isinstance(lim, bool) or not isinstance(lim, int) or lim < 1):
        raise HalvingError(f"{where}.limit_train: expected a positive integer or null, got {lim!r}")
    if ms is not None:
        if not isinstance(ms, (list, tuple)) or any(isinstance(m, bool) or not isinstance(m, int) for m in ms):
            raise HalvingError(f"{where}.milestones: expected a list of epochs, got {ms!r}")
        if list(ms) != sorted(set(ms)) or any(not 1 <= m < ep for m in ms):
            raise HalvingError(f"{where}.milestones: expected increasing epochs in 1..{ep - 1} (decay within "
                               f"the rung's {ep} epochs), got {list(ms)!r}")
        ms = tuple(ms)
    return Rung(keep, ep, lim, ms)
