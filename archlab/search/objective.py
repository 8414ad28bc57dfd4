"""Evaluating one trial: spec from the space, analytic cost and budget check first, then
(only for trials within budget) measured latency and short-training accuracy."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import optuna

from ..spec import SpecError
from .space import TRAIN_KEYS, SearchSpace

__all__ = ["analytic_cost", "make_objective", "constraint_values", "check_latency_table", "LatencyTableMismatch",
           "WORST"]

#: value reported for an objective that was not measured because the trial is over budget
WORST = {"minimize": 1e18, "maximize": -1e18}


def analytic_cost(spec, profile: str = "macs") -> dict:
    """Parameters and multiply-adds from the spec alone (no module is built)."""
    from ..cost import count
    report = count(spec)
    value = report.to(profile)
    value = float(getattr(value, "value", value))
    return {"params": int(report.params), "macs": value, "macs_plain": int(report.macs)}


def constraint_values(space: SearchSpace, cost: dict) -> list[float]:
    """Optuna convention: a trial is feasible when every value is <= 0."""
    c = space.constraints
    out = []
    if "params_max" in c:
        out.append(float(cost["params"] - c["params_max"]))
    if "macs_max" in c:
        out.append(float(cost["macs_budget"] - c["macs_max"]))
    if "latency_max" in c and "latency_ms" in cost:
        out.append(float(cost["latency_ms"] - c["latency_max"]))
    return out


def network_key(spec, training: dict) -> str:
    """A digest of the network (its spec without the name) and the training options: two trials
    with the same key train the same network the same way."""
    import json
    text = spec.replace(name="_").to_yaml() + json.dumps(training, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _trained_twin(trial: optuna.Trial, key: str):
    """A finished trial of the same study whose network and training match ``key`` and that
    has an accuracy, or None."""
    for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.user_attrs.get("network_key") == key and "accuracy" in t.user_attrs:
            return t
    return None


def make_objective(space: SearchSpace, run_dir: str | Path, *, train_fn=None, latency_fn=None):
    """The Optuna objective for ``space``.

    ``train_fn(spec, training_options, trial_dir) -> float`` gives accuracy (default: a short
    LSPET run through :mod:`archlab.train`); ``latency_fn(spec, latency_options) -> float`` gives
    milliseconds (default :func:`_default_latency`: predicted from the spec, or measured with
    ``latency: {method: measure}``). With a ``latency_max`` budget the latency of every trial is
    taken before the budget check (a prediction costs well under a millisecond)."""
    run_dir = Path(run_dir)
    budget_profile = space.constraints.get("profile", "macs")
    predicts = latency_fn is None and space.latency.get("method", "predict") == "predict" and (
        "latency_max" in space.constraints or any(o.name == "latency" for o in space.objectives))
    checked = []

    def objective(trial: optuna.Trial):
        from .storage import mark_worker
        mark_worker(trial)
        if predicts and not checked:
            check_latency_table(trial.study, space.latency)
            checked.append(True)
        try:
            spec = space.suggest(trial)
        except (SpecError, ValueError) as e:
            trial.set_user_attr("invalid", str(e))
            raise optuna.TrialPruned(f"invalid spec: {e}") from None
        costs = {}
        for obj in space.objectives:
            if obj.name == "macs":
                costs[obj.label] = analytic_cost(spec, obj.profile)["macs"]
        base = analytic_cost(spec, budget_profile)
        cost = {"params": base["params"], "macs_budget": base["macs"], "macs_plain": base["macs_plain"]}
        if "latency_max" in space.constraints:
            cost["latency_ms"] = (latency_fn or _default_latency)(spec, space.latency)
        for k, v in cost.items():
            trial.set_user_attr(k, v)
        cons = constraint_values(space, cost)
        for key, v in zip([k for k in ("params_max", "macs_max", "latency_max") if k in space.constraints], cons):
            trial.set_constraint(key, v)  # Optuna >= 5: samplers read these (feasible when <= 0)
        trial.set_user_attr("constraints", cons)
        feasible = all(v <= 0 for v in cons)
        trial.set_user_attr("feasible", feasible)
        key = network_key(spec, space.training)
        trial.set_user_attr("network_key", key)
        values = []
        for obj in space.objectives:
            if obj.name == "params":
                values.append(float(cost["params"]))
            elif obj.name == "macs":
                values.append(costs[obj.label])
            elif not feasible:
                values.append(WORST[obj.direction])  # over budget: never built, measured or trained
            elif obj.name == "latency":
                ms = cost.get("latency_ms")
                if ms is None:
                    ms = (latency_fn or _default_latency)(spec, space.latency)
                trial.set_user_attr("latency_ms", ms)
                values.append(ms)
            elif obj.name == "accuracy" and (prev := _trained_twin(trial, key)) is not None:
                # the same network and training options were trained already (NSGA-II breeds
                # duplicates; knobs such as dasp_rates do not matter under a simple head):
                # training is deterministic for a seed, so the score is reused, not re-earned
                trial.set_user_attr("duplicate_of", prev.number)
                trial.set_user_attr("accuracy", prev.user_attrs["accuracy"])
                values.append(prev.user_attrs["accuracy"])
            elif obj.name == "accuracy":
                # a retry of a killed trial (same params) trains in the original's folder, so it
                # resumes from that trial's last checkpoint instead of starting over
                attrs = trial.study._storage.get_trial_system_attrs(trial._trial_id)  # noqa: SLF001
                folder = int(attrs.get("failed_trial", trial.number))
                acc = (train_fn or _default_train)(spec, space.training, run_dir / "trials" / f"{folder:05d}")
                if acc is None or not math.isfinite(acc):
                    raise RuntimeError(f"training returned no accuracy for trial {trial.number}")
                trial.set_user_attr("accuracy", acc)
                values.append(acc)
        return tuple(values)

    return objective


class LatencyTableMismatch(ValueError):
    """A study whose predicted latencies came from another latency table than this machine's."""


def check_latency_table(study: optuna.Study, options: dict) -> str:
    """Record in ``study`` which latency table its predicted latencies come from (the table's
    cache-key digest: CPU, onnxruntime, threads, batch, vocabulary, grid), or refuse to go on
    with another: latencies predicted from two tables (two machines, or two versions of the
    predictor) are not comparable, so one study's front would mix them. Returns the digest."""
    from ..cost.predictor import get_table, key_digest
    table = get_table(options.get("runtime", "onnxruntime"), int(options.get("threads", 1)),
                      int(options.get("batch", 1)), options.get("table"))
    digest = key_digest(table.key)
    if options.get("table"):        # a named file: its contents too (two builds share one key)
        digest = key_digest({**table.key, "sha256": hashlib.sha256(Path(options["table"]).read_bytes()).hexdigest()})
    have = study.user_attrs.get("latency_table")
    if have is None:
        study.set_user_attr("latency_table", digest)
        study.set_user_attr("latency_table_key", {k: table.key[k] for k in ("cpu", "onnxruntime", "vocab", "grid")})
    elif have != digest:
        was = study.user_attrs.get("latency_table_key", {})
        raise LatencyTableMismatch(
            f"study {study.study_name!r} holds latencies predicted with latency table {have} ({was}); this "
            f"machine's table is {digest} ({ {k: table.key[k] for k in ('cpu', 'onnxruntime', 'vocab', 'grid')} }): "
            "their predictions are not comparable. Continue the study where its table is, or start a new "
            "study name or storage")
    _check_study_calibration(study, options.get("calibration", "linear"), recorded_before=have is not None)
    return digest


def _check_study_calibration(study: optuna.Study, calibration: str, recorded_before: bool) -> None:
    """Record the predictor's calibration in ``study``, or refuse another one. A study that had
    recorded its table but no calibration predicted before calibrations had names: with one factor."""
    was = study.user_attrs.get("latency_calibration")
    if was is None:
        was = "scale" if recorded_before else calibration
        study.set_user_attr("latency_calibration", was)
    if was != calibration:
        raise LatencyTableMismatch(
            f"study {study.study_name!r} predicted its latencies with the {was!r} calibration, and the space asks "
            f"for {calibration!r}: one front would mix the two. Set latency.calibration: {was} to continue it, or "
            "start a new study name or storage")


def _default_latency(spec, options: dict) -> float:
    """Latency in ms under the space's ``latency`` options: ``method: predict`` (default) asks
    :func:`archlab.cost.predictor.predict_latency` (``runtime`` onnxruntime, ``threads``,
    ``batch``, ``input_size``; no network is built); ``method: measure`` times the network with
    :func:`archlab.cost.runtime.measure` in ``runtime`` (median of ``repeats`` after ``warmup``)."""
    from ..spec import parse_size
    size = tuple(parse_size(options["input_size"]) if "input_size" in options else spec.input_size)
    runtime = options.get("runtime", "onnxruntime")
    threads, batch = int(options.get("threads", 1)), int(options.get("batch", 1))
    if options.get("method", "predict") == "predict":
        from ..cost.predictor import predict_latency
        return float(predict_latency(spec, runtime=runtime, threads=threads, batch=batch, input_size=size,
                                     table=options.get("table"),
                                     calibration=options.get("calibration", "linear"))["predicted_ms"])
    from ..cost.runtime import measure
    res = measure(spec.replace(input_size=size), runtime, batch=batch, threads=threads,
                  warmup=int(options.get("warmup", 2)), repeats=int(options.get("repeats", 5)))
    return float(res.median_ms)


def short_train(spec, options: dict, trial_dir: Path) -> float:
    """Accuracy of ``spec`` after a short training run (``options``: a subset of
    :class:`archlab.train.TrainConfig` fields; defaults: LSPET at 128x96, 2 epochs). Returns the
    best validation score in percent (PCK@0.2 on LSPET). A trial folder holding a checkpoint is
    resumed, so an interrupted trial loses at most ``checkpoint_every`` steps. Trials train with
    1 intra-op thread unless ``options`` say ``threads``: a score must not depend on how many
    workers shared the machine when it was earned (thread counts change the float sums)."""
    from ..train import TrainConfig, train
    bad = sorted(set(options) - TRAIN_KEYS)
    if bad:
        raise ValueError(f"training.{bad[0]}: unknown training option (known: {', '.join(sorted(TRAIN_KEYS))})")
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    spec_path = trial_dir / "spec.yaml"
    spec.to_yaml(spec_path)
    run = trial_dir / "run"
    cfg = TrainConfig(**{"data": "lspet", "input_size": "128x96", "epochs": 2, "batch": 32, "workers": 2,
                         "threads": 1, **options}, model=str(spec_path), out=str(run), progress=False,
                      resume=(run / "last.pt").exists())
    best = train(cfg)["best"]
    if best.get("value") is None:
        raise RuntimeError(f"training in {run} produced no validation score")
    return 100.0 * float(best["value"])


def _default_train(spec, options: dict, trial_dir: Path) -> float:
    return short_train(spec, options, trial_dir)
