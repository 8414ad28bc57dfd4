"""Multi-fidelity search (archlab.search.halving): plans, promotion, the rung loop on a real
Optuna journal storage, and resumption of a rung interrupted by a killed process."""
from __future__ import annotations

import multiprocessing as mp
import os
import time

import optuna
import pytest
from optuna.trial import TrialState

import archlab
from archlab.search import SearchSpace
from archlab.search.halving import (HalvingError, HalvingPlan, nondominated_layers, promote, run_halving,
                                    rung_study_name)
from archlab.search.storage import resolve_storage

SPACE = {
    "study": "t_halving",
    "base": "sdhrnet_coco",
    "knobs": {"width": {"low": 8, "high": 40, "step": 4}, "block": {"choices": ["basic", "scr"]},
              "head": {"choices": ["simple", "dasp"]}},
    "objectives": ["accuracy", {"name": "params", "direction": "minimize"}],
    "sampler": {"type": "random", "seed": 3},
    "baselines": ["sdhrnet_coco"],
    "n_trials": 6,
    "training": {"data": "lspet", "epochs": 1, "seed": 0},
}
PLAN = {"eta": 2, "n0": 6, "rungs": [{"epochs": 1, "limit_train": 500}, {"epochs": 2, "limit_train": 1000},
                                     {"epochs": 4, "limit_train": 2000}]}


def fake_accuracy(spec, training) -> float:
    """A deterministic stand-in for training: depends on the network and grows with the budget."""
    w = spec.stages[-1].widths[0]
    return (w * 7) % 23 + 3.0 * (spec.stages[-1].block == "scr") + training["epochs"] + training["limit_train"] / 1e3


def recording_train(log):
    def train_fn(spec, training, trial_dir):
        log.append((str(trial_dir), training["epochs"], training["limit_train"]))
        return fake_accuracy(spec, training)
    return train_fn


# -- plans -------------------------------------------------------------------------------------
def test_plan_keeps_n0_over_eta_to_the_rung():
    plan = HalvingPlan.from_dict(PLAN)
    assert [r.keep for r in plan.rungs] == [6, 3, 2]
    assert [(r.epochs, r.limit_train) for r in plan.rungs] == [(1, 500), (2, 1000), (4, 2000)]


@pytest.mark.parametrize("bad, match", [
    ({**PLAN, "eta": 1}, r"halving\.eta: expected an integer >= 2"),
    ({**PLAN, "n0": 0}, r"halving\.n0"),
    ({**PLAN, "rungs": []}, r"halving\.rungs: expected a non-empty list"),
    ({**PLAN, "rungs": [{"epochs": 0}]}, r"halving\.rungs\[0\]\.epochs"),
    ({**PLAN, "rungs": [{"epochs": 2, "limit_train": 100}, {"epochs": 1, "limit_train": 100}]},
     r"halving\.rungs\[1\]: the budget .* must grow"),
    ({**PLAN, "prune": True}, "unknown field"),
    ({**PLAN, "rungs": [{"epochs": 2, "milestones": [2]}]}, r"halving\.rungs\[0\]\.milestones: .* 1\.\.1"),
    ({**PLAN, "rungs": [{"epochs": 3, "milestones": [2, 1]}]}, r"halving\.rungs\[0\]\.milestones"),
    ({**PLAN, "rungs": [{"epochs": 3, "milestones": 1}]}, r"halving\.rungs\[0\]\.milestones: expected a list"),
])
def test_bad_plans_name_the_field(bad, match):
    with pytest.raises(HalvingError, match=match):
        HalvingPlan.from_dict(bad)


def test_an_annealed_rung_trains_with_its_own_decay_and_later_rungs_do_not_inherit_it():
    from archlab.search.halving import rung_space
    space = SearchSpace.from_dict({**SPACE, "training": {**SPACE["training"], "milestones": [7]}})
    plan = HalvingPlan.from_dict({"eta": 3, "n0": 9, "rungs": [{"epochs": 2, "limit_train": 500, "milestones": [1]},
                                                           {"epochs": 4, "limit_train": 2000}]})
    assert plan.rungs[0].milestones == (1,) and plan.rungs[1].milestones is None
    t0, t1 = (rung_space(space, plan, r).training for r in (0, 1))
    assert (t0["epochs"], t0["limit_train"], t0["milestones"]) == (2, 500, [1])
    assert "milestones" not in t1 and t1["epochs"] == 4    # the space's own milestones are a budget's too
    from archlab.train import TrainConfig
    assert TrainConfig(**{k: v for k, v in t0.items()}).resolved_milestones() == (1,)


# -- promotion ---------------------------------------------------------------------------------
def _trial(number, values, feasible=True, key=None, state=TrialState.COMPLETE):
    return optuna.trial.FrozenTrial(number=number, state=state, value=None, values=values,
                                    datetime_start=None, datetime_complete=None, params={}, distributions={},
                                    user_attrs={"feasible": feasible, "network_key": key or f"n{number}"},
                                    system_attrs={}, intermediate_values={}, trial_id=number)


def test_nondominated_layers_closed_form():
    # (accuracy max, params min): A(50,1) and B(60,2) are the front, C(40,2) is dominated by A,
    # D(60,3) by B; C and D form the second layer
    vals = [(50, 1), (60, 2), (40, 2), (60, 3)]
    assert nondominated_layers(vals, ["maximize", "minimize"]) == [[0, 1], [2, 3]]


def test_promote_takes_whole_layers_then_cuts_by_accuracy_and_counts_twins_once():
    d = ["maximize", "minimize"]
    trials = [_trial(0, [50, 1]), _trial(1, [60, 2]), _trial(2, [40, 2]), _trial(3, [45, 2.5]),
              _trial(4, [60, 2], key="n1"),                       # twin of trial 1
              _trial(5, [99, 0.5], feasible=False),              # over budget: never promoted
              _trial(6, None, state=TrialState.FAIL)]
    got = lambda k: [t.number for t in promote(trials, k, d)]  # noqa: E731
    assert got(2) == [1, 0]            # the front, best accuracy first
    assert got(3) == [1, 0, 3]         # second layer {2, 3} cut by accuracy: 45 > 40
    assert got(10) == [1, 0, 3, 2]     # everything promotable, twins and infeasible left out


# -- the rung loop -----------------------------------------------------------------------------
def test_rungs_train_exactly_the_promoted_configurations_with_growing_budgets(tmp_path):
    space = SearchSpace.from_dict(SPACE)
    plan = HalvingPlan.from_dict(PLAN)
    storage = resolve_storage(None, tmp_path)
    log = []
    studies = run_halving(space, plan, storage, tmp_path, train_fn=recording_train(log))
    assert [s.study_name for s in studies] == [rung_study_name(space, r) for r in range(3)]
    done = [s.get_trials(states=(TrialState.COMPLETE,)) for s in studies]
    assert [len(d) for d in done] == [6, 3, 2]
    assert done[0][0].user_attrs.get("baseline") == "sdhrnet_coco"   # baselines enter rung 0 first
    d = ["maximize", "minimize"]
    for r in (1, 2):
        expected = promote(done[r - 1], plan.rungs[r].keep, d)
        assert sorted(map(repr, (t.params for t in expected))) == sorted(map(repr, (t.params for t in done[r])))
        assert {t.user_attrs["promoted_from"] for t in done[r]} == {t.number for t in expected}
    budgets = {(e, n) for _, e, n in log}
    assert budgets == {(1, 500), (2, 1000), (4, 2000)}
    assert len(log) == 6 + 3 + 2


def _killed_run(tmp, kill_at):
    calls = []

    def train_fn(spec, training, trial_dir):
        calls.append(1)
        if len(calls) == kill_at:
            os._exit(3)     # the process dies mid-trial: the trial stays RUNNING in the storage
        return fake_accuracy(spec, training)
    space, plan = SearchSpace.from_dict(SPACE), HalvingPlan.from_dict(PLAN)
    run_halving(space, plan, _storage(tmp), tmp, train_fn=train_fn)


def _storage(tmp):
    """The run folder's default SQLite storage, with heartbeats short enough for a test."""
    return resolve_storage(None, tmp, heartbeat_interval=1, grace_period=2)


def test_an_interrupted_rung_resumes_without_retraining_finished_trials(tmp_path):
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_killed_run, args=(tmp_path, 6 + 2))    # dies on rung 1's second trial
    p.start()
    p.join(120)
    assert p.exitcode == 3
    space, plan = SearchSpace.from_dict(SPACE), HalvingPlan.from_dict(PLAN)
    storage = _storage(tmp_path)
    rung1 = optuna.load_study(study_name=rung_study_name(space, 1), storage=storage)
    assert len(rung1.get_trials(states=(TrialState.COMPLETE,))) == 1
    assert len(rung1.get_trials(states=(TrialState.RUNNING,))) == 1
    time.sleep(3)   # past the heartbeat grace period: the killed trial is stale
    log = []
    studies = run_halving(space, plan, storage, tmp_path, train_fn=recording_train(log))
    # rung 0 is not re-run; rung 1 retrains the killed trial and the one never started, then rung 2
    assert [(e, n) for _, e, n in log] == [(2, 1000), (2, 1000), (4, 2000), (4, 2000)]
    done1 = studies[1].get_trials(states=(TrialState.COMPLETE,))
    assert len(done1) == 3 and len({repr(t.params) for t in done1}) == 3
    retried = [t for t in done1 if "failed_trial" in t.system_attrs]     # Optuna's retry of the killed one
    assert len(retried) == 1 and retried[0].user_attrs["promoted_from"] is not None


def test_space_file_halving_section_runs_through_the_cli(tmp_path):
    import yaml
    from archlab.cli import main
    space_file = tmp_path / "space.yaml"
    d = {**SPACE, "objectives": ["params", {"name": "macs", "profile": "hrnet_paper"}],
         "halving": {"eta": 2, "n0": 4, "rungs": [{"epochs": 1, "limit_train": 100}, {"epochs": 2, "limit_train": 200}]}}
    space_file.write_text(yaml.safe_dump(d))
    assert main(["search", str(space_file), "--run-dir", str(tmp_path / "run"), "--quiet", "--check-draws", "8",
                 "--until-rung", "0"]) == 0
    storage = resolve_storage(None, tmp_path / "run")
    assert len(optuna.load_study(study_name="t_halving", storage=storage).get_trials(
        states=(TrialState.COMPLETE,))) == 4
    assert main(["search", str(space_file), "--run-dir", str(tmp_path / "run"), "--quiet", "--check-draws", "0"]) == 0
    rung1 = optuna.load_study(study_name="t_halving-rung1", storage=storage)
    assert len(rung1.get_trials(states=(TrialState.COMPLETE,))) == 2
    bad = {**d, "halving": {**d["halving"], "eta": 1}}
    space_file.write_text(yaml.safe_dump(bad))
    with pytest.raises(Exception, match=r"halving\.eta"):
        SearchSpace.from_yaml(space_file)


def test_bench_search_counts_trials_per_rung_from_the_storage(tmp_path):
    """benchmarks/bench_search.py --halving-run reads each rung's finished trials from the storage."""
    import importlib.util
    import re

    import yaml
    space, plan = SearchSpace.from_dict(SPACE), HalvingPlan.from_dict(PLAN)
    run_halving(space, plan, resolve_storage(None, tmp_path), tmp_path, train_fn=recording_train([]))
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({**SPACE, "halving": PLAN}))
    spec = importlib.util.spec_from_file_location("bench_search", "benchmarks/bench_search.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines, cpu_h = bench.halving(tmp_path, str(tmp_path / "space.yaml"))
    counts = [int(re.search(r": (\d+) finished trials", x).group(1)) for x in lines]
    assert counts == [6, 3, 2]
    assert "1 epochs on 500 fit images" in lines[0] and "4 epochs on 2000 fit images" in lines[2]
    assert 0 <= cpu_h < 0.01     # the stand-in trainer takes no time


def test_bench_search_reports_trials_per_cpu_hour_of_every_rung_budget(tmp_path):
    import importlib.util

    import pandas as pd
    spec = importlib.util.spec_from_file_location("bench_search", "benchmarks/bench_search.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [("a", "rung_1ep_1750", 0, 60.0), ("b", "rung_1ep_1750", 0, 120.0), ("c", "rung_1ep_1750", 0, 90.0),
            ("a", "rung_2ep_3500_d1", 0, 360.0), ("a", "rung_2ep_3500_d1", 1, 360.0)]
    pd.DataFrame(rows, columns=["model", "budget", "seed", "cpu_s"]).to_csv(tmp_path / "r.csv", index=False)
    lines, cpu_h = bench.rung_scores(tmp_path / "r.csv")
    assert "rung_1ep_1750: 3 trainings, 40.0 trials per CPU-hour" in lines[1]      # median 90 s
    assert "rung_2ep_3500_d1: 2 trainings, 10.0 trials per CPU-hour" in lines[2]
    assert cpu_h == pytest.approx((3 * 90 + 2 * 360) / 3600)          # median x trainings per budget


def test_rung_zero_counts_trained_configurations_not_draws_over_budget(tmp_path):
    """n0 is what rung 0 trains: a draw over the params budget is finished untrained (infeasible)
    and the rung samples on until n0 configurations were trained."""
    from archlab.search.halving import run_rung
    space = SearchSpace.from_dict(SPACE)
    widths = sorted({space.apply({"width": w, "block": "basic", "head": "simple"}).stages[-1].widths[0]
                     for w in range(8, 44, 4)})
    params = lambda w: archlab.count(space.apply({"width": w, "block": "scr", "head": "dasp"})).params  # noqa: E731
    budget = params(24)        # roughly half the widths are over it
    tight = SearchSpace.from_dict({**SPACE, "baselines": [], "constraints": {"params_max": budget}})
    plan = HalvingPlan.from_dict({"eta": 2, "n0": 4, "rungs": [{"epochs": 1, "limit_train": 100}]})
    log = []
    study = run_rung(tight, plan, 0, resolve_storage(None, tmp_path), tmp_path, train_fn=recording_train(log))
    done = study.get_trials(states=(TrialState.COMPLETE,))
    over = [t for t in done if not t.user_attrs["feasible"]]
    assert len(log) == 4 and len(done) - len(over) == 4
    assert over, f"no draw was over budget ({widths}): the test would not check the count"
