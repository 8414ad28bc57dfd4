"""Multi-fidelity search: successive halving over epochs x training images, as a rung loop over
Optuna storage.

Optuna's pruners do not work in multi-objective studies (``trial.report`` raises), so the rungs
are separate studies in the same storage: rung 0 is the space's own study (its sampler draws the
configurations, the baselines are enqueued first) trained with the cheapest budget; rung ``r``
(study ``<study>-rung<r>``) holds the configurations promoted from rung ``r - 1``, enqueued with
their parameters and trained with rung ``r``'s budget. Every rung is resumable: finished trials
stay finished, a killed trial is failed and retried by :func:`~archlab.search.storage.recover_stale_trials`
(its training resumes from its checkpoint), and promotion is a pure function of the finished
trials of the rung below, so a resumed loop promotes the same configurations.

Promotion (:func:`promote`): the feasible finished trials are sorted into non-dominated layers
over the space's objectives (Pareto rank, as NSGA-II), layers are taken whole while they fit,
and the last layer is cut by the first objective (usually search-validation accuracy), ties by
trial number. Twins (same network and training) count once.

The plan (rungs, budgets, ``eta``) is data: :mod:`archlab.search.rungs`.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from .objective import make_objective
from .rungs import HalvingError, HalvingPlan, Rung
from .storage import recover_stale_trials

if TYPE_CHECKING:
    from .space import SearchSpace

__all__ = ["Rung", "HalvingPlan", "HalvingError", "promote", "nondominated_layers", "run_halving",
           "rung_study_name", "with_budget"]


def rung_study_name(space: SearchSpace, r: int) -> str:
    return space.study if r == 0 else f"{space.study}-rung{r}"


# ----------------------------------------------------------------------------------------------
# promotion
def _dominates(a, b, signs) -> bool:
    better = False
    for x, y, s in zip(a, b, signs):
        if s * x < s * y:
            return False
        better |= s * x > s * y
    return better


def nondominated_layers(values: list, directions: list) -> list[list[int]]:
    """Indices of ``values`` (one tuple per point) in Pareto layers, best first (O(n^2) per layer)."""
    signs = [1 if d == "maximize" else -1 for d in directions]
    left, layers = list(range(len(values))), []
    while left:
        layer = [i for i in left if not any(_dominates(values[j], values[i], signs) for j in left if j != i)]
        layers.append(layer)
        left = [i for i in left if i not in layer]
    return layers


def promote(trials: list, k: int, directions: list) -> list:
    """The ``k`` trials (``optuna.trial.FrozenTrial``) to promote: feasible, finished, one per
    network; whole Pareto layers first, the last one cut by the first objective (ties: number)."""
    seen, pool = set(), []
    for t in sorted(trials, key=lambda t: t.number):
        if t.state != TrialState.COMPLETE or not t.user_attrs.get("feasible", True) or t.values is None:
            continue
        key = t.user_attrs.get("network_key") or repr(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            pool.append(t)
    chosen = []
    first = 1 if directions[0] == "maximize" else -1
    for layer in nondominated_layers([tuple(t.values) for t in pool], directions):
        layer = sorted((pool[i] for i in layer), key=lambda t: (-first * t.values[0], t.number))
        chosen.extend(layer[: k - len(chosen)])
        if len(chosen) >= k:
            break
    return chosen


# ----------------------------------------------------------------------------------------------
# the rung loop
def rung_space(space: SearchSpace, plan: HalvingPlan, r: int) -> SearchSpace:
    """``space`` with rung ``r``'s training budget and study name."""
    training = with_budget(space.training, plan.rungs[r].budget())
    return dataclasses.replace(space, training=training, study=rung_study_name(space, r))


def with_budget(training: dict, budget: dict) -> dict:
    """Training options ``training`` on a rung's ``budget`` (:meth:`Rung.budget`): the budget's
    epochs, images and LR decay replace the space's own."""
    return {**{k: v for k, v in training.items() if k not in ("limit_train", "milestones")}, **budget}


def _rung_study(space_r: SearchSpace, storage, r: int) -> optuna.Study:
    directions = [o.direction for o in space_r.objectives]
    if r == 0:
        from .runner import open_study
        return open_study(space_r, storage)
    return optuna.create_study(study_name=space_r.study, storage=storage, directions=directions,
                               sampler=optuna.samplers.RandomSampler(seed=0), load_if_exists=True)


def _params_key(t) -> str:
    """The configuration of a trial; a WAITING (enqueued) trial holds it as ``fixed_params``."""
    params = t.params if t.state != TrialState.WAITING else t.system_attrs.get("fixed_params", {})
    return repr(sorted(params.items()))


def _enqueue_promoted(study: optuna.Study, parents: list, r: int) -> None:
    present = {_params_key(t) for t in study.get_trials(deepcopy=False) if t.state != TrialState.FAIL}
    for p in parents:
        if _params_key(p) not in present:
            attrs = {"promoted_from": p.number, "rung": r}
            if "baseline" in p.user_attrs:
                attrs["baseline"] = p.user_attrs["baseline"]
            study.enqueue_trial(p.params, user_attrs=attrs)


def _recover(study: optuna.Study) -> None:
    """Fail (and re-enqueue) trials of dead workers: journal storages by process check, RDB
    storages by heartbeat (Optuna's own ``fail_stale_trials``)."""
    recover_stale_trials(study)
    storage = study._storage  # noqa: SLF001
    if getattr(storage, "get_heartbeat_interval", lambda: None)():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def _trained(study: optuna.Study) -> int:
    """Finished trials that were trained: a trial over a budget (``feasible`` False) is finished
    at once, never built or trained, so it is not one of the rung's configurations."""
    return sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
               if t.user_attrs.get("feasible", True))


def _waiting(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def run_rung(space: SearchSpace, plan: HalvingPlan, r: int, storage, run_dir, *, train_fn=None,
             latency_fn=None, parents: list | None = None) -> optuna.Study:
    """Run (or resume) rung ``r``. Rung 0 samples until it holds ``plan.rungs[0].keep`` trained
    trials (draws over a budget are finished untrained and do not count; at most ten times that
    many attempts); a later rung trains exactly the promoted ``parents`` (retrying killed ones) and
    never samples a configuration of its own."""
    space_r = rung_space(space, plan, r)
    study = _rung_study(space_r, storage, r)
    if r > 0:
        _enqueue_promoted(study, parents or [], r)
    objective = make_objective(space_r, Path(run_dir) / f"rung{r}", train_fn=train_fn, latency_fn=latency_fn)
    attempts = 10 * plan.rungs[r].keep
    while attempts > 0:
        _recover(study)
        if (r == 0 and _trained(study) >= plan.rungs[0].keep) or (r > 0 and not _waiting(study)):
            break
        study.optimize(objective, n_trials=1, catch=(RuntimeError,), gc_after_trial=False)
        attempts -= 1
    return study


def run_halving(space: SearchSpace, plan: HalvingPlan, storage, run_dir, *, train_fn=None, latency_fn=None,
                until_rung: int | None = None) -> list[optuna.Study]:
    """Run (or resume) every rung in order, promoting between them; returns the rung studies.
    ``until_rung`` stops after that rung (chunked sessions)."""
    directions = [o.direction for o in space.objectives]
    studies, parents = [], None
    last = len(plan.rungs) - 1 if until_rung is None else min(until_rung, len(plan.rungs) - 1)
    for r in range(last + 1):
        study = run_rung(space, plan, r, storage, run_dir, train_fn=train_fn, latency_fn=latency_fn,
                         parents=parents)
        studies.append(study)
        if r + 1 < len(plan.rungs):
            parents = promote(study.get_trials(deepcopy=False), plan.rungs[r + 1].keep, directions)
    return studies
