"""Checking a space before a search spends anything on it: draw configurations through the
sampler's own code path (:meth:`SearchSpace.suggest` on Optuna trials from a seeded random
sampler), count each one analytically (nothing is built or trained), count the baselines, and
say how many draws are valid networks and how many fit the budget.

A space where no draw is a valid network, a budget that every baseline exceeds, or a space where
nothing at all (no draw, no baseline) fits the budget is a :class:`SpaceError` before any trial.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import optuna

from ..spec import SpecError
from .objective import analytic_cost, constraint_values
from .space import SearchSpace, SpaceError

__all__ = ["SpaceCheck", "check_space", "DEFAULT_DRAWS"]

DEFAULT_DRAWS = 256


@dataclass
class SpaceCheck:
    """What :func:`check_space` found. ``baselines`` maps each baseline to its analytic cost and
    the budgets it exceeds."""

    draws: int
    valid: int
    feasible: int
    reasons: Counter = field(default_factory=Counter)
    baselines: dict = field(default_factory=dict)
    budgets: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the console (and ``search.json``)."""
        out = f"space check: {self.valid} of {self.draws} random draws are valid networks"
        if self.budgets:
            out += f", {self.feasible} within budget ({_fmt_budgets(self.budgets)})"
        if self.reasons:
            reason, n = self.reasons.most_common(1)[0]
            out += f"; most common invalid reason ({n} draws): {reason}"
        if self.baselines:
            over = [b for b, info in self.baselines.items() if info["over"]]
            out += f"; baselines within budget: {len(self.baselines) - len(over)} of {len(self.baselines)}"
            if over:
                out += " (" + ", ".join(f"{b} over {'/'.join(self.baselines[b]['over'])}" for b in over) + ")"
        return out

    def to_dict(self) -> dict:
        return {"draws": self.draws, "valid": self.valid, "feasible": self.feasible,
                "invalid_reasons": dict(self.reasons.most_common(5)), "baselines": self.baselines,
                "summary": self.summary()}


def _fmt(key: str, value: float, profile: str = "macs") -> str:
    """A budget or cost in readable units: ``params_max`` in millions, ``macs_max`` in its profile's."""
    if key.startswith("params"):
        return f"{value / 1e6:.4g} M parameters"
    if key.startswith("latency"):
        return f"{value:.4g} ms predicted"
    from ..cost.profiles import PROFILES
    return f"{value:.4g} {PROFILES[profile].unit.split(' (')[0]} [{profile}]"


def _fmt_budgets(budgets: dict) -> str:
    prof = budgets.get("profile", "macs")
    return ", ".join(f"{k} {_fmt(k, budgets[k], prof)}" for k in BUDGETS if k in budgets)


BUDGETS = ("params_max", "macs_max", "latency_max")


def _screens_latency(space: SearchSpace) -> bool:
    """A ``latency_max`` budget is screened here only when latency is predicted (no network is
    built); measured latency is checked per trial."""
    return "latency_max" in space.constraints and space.latency.get("method", "predict") == "predict"


def _budget_cost(space: SearchSpace, spec) -> dict:
    base = analytic_cost(spec, space.constraints.get("profile", "macs"))
    cost = {"params": base["params"], "macs_budget": base["macs"], "macs_plain": base["macs_plain"]}
    if _screens_latency(space):
        from .objective import _default_latency
        cost["latency_ms"] = _default_latency(spec, space.latency)
    return cost


def _over(space: SearchSpace, cost: dict) -> list[str]:
    keys = [k for k in BUDGETS if k in space.constraints and (k != "latency_max" or "latency_ms" in cost)]
    return [k for k, v in zip(keys, constraint_values(space, cost)) if v > 0]


def _check_training(space: SearchSpace) -> None:
    """Training options must make a valid :class:`archlab.train.TrainConfig` (the objective's
    defaults included), so a typo fails here instead of inside trial 0."""
    if not any(o.name == "accuracy" for o in space.objectives):
        return
    from ..train.config import TrainConfig
    defaults = {"data": "lspet", "input_size": "128x96", "epochs": 2, "batch": 32, "workers": 2}
    try:
        TrainConfig(**{**defaults, **space.training}, model="check", out="check", progress=False)
    except (TypeError, ValueError) as e:
        raise SpaceError(f"training: {e}") from None


def _draw(space: SearchSpace, draws: int, seed: int):
    """Yield ``(spec, None)`` or ``(None, reason)`` for ``draws`` random trials."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(draws):
        trial = study.ask()
        try:
            yield space.suggest(trial), None
        except (SpecError, ValueError) as e:
            yield None, str(e)


def check_space(space: SearchSpace, draws: int = DEFAULT_DRAWS, seed: int = 0) -> SpaceCheck:
    """Draw ``draws`` configurations of ``space`` and count the baselines (see the module
    docstring); raises :class:`SpaceError` when the search could produce nothing."""
    _check_training(space)
    res = SpaceCheck(draws=draws, valid=0, feasible=0, budgets=dict(space.constraints))
    prev = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(prev, optuna.logging.WARNING))  # no "new study created" line
    try:
        for spec, reason in _draw(space, draws, seed):
            if spec is None:
                res.reasons[reason] += 1
                continue
            res.valid += 1
            res.feasible += not _over(space, _budget_cost(space, spec))
    finally:
        optuna.logging.set_verbosity(prev)
    from ..nets.factory import resolve_spec
    for b in space.baselines:
        cost = _budget_cost(space, resolve_spec(b))
        res.baselines[b] = {"params": cost["params"], "macs_budget": cost["macs_budget"],
                            "latency_ms": cost.get("latency_ms"), "over": _over(space, cost)}
    _raise_if_hopeless(space, res)
    return res


def _raise_if_hopeless(space: SearchSpace, res: SpaceCheck) -> None:
    if res.draws and res.valid == 0:
        reason, n = res.reasons.most_common(1)[0]
        raise SpaceError(f"knobs: no draw is a valid network (0 of {res.draws} random draws; "
                         f"{n} fail with: {reason}); narrow the ranges")
    prof = space.constraints.get("profile", "macs")
    for key, col in (("params_max", "params"), ("macs_max", "macs_budget"), ("latency_max", "latency_ms")):
        if res.baselines and key in space.constraints and all(key in i["over"] for i in res.baselines.values()):
            low = min(res.baselines, key=lambda b: res.baselines[b][col])
            raise SpaceError(f"constraints.{key}: {_fmt(key, space.constraints[key], prof)} is below every "
                             f"baseline (smallest: {low} with {_fmt(key, res.baselines[low][col], prof)}); "
                             "raise the budget or check its units")
    fits = any(not i["over"] for i in res.baselines.values())
    if space.constraints and res.draws and res.feasible == 0 and not fits:
        raise SpaceError(f"constraints: nothing fits the budget ({_fmt_budgets(space.constraints)}): "
                         f"0 of {res.valid} valid random draws{', and no baseline' if res.baselines else ''}")
