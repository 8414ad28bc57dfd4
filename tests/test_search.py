"""Search: space validation, budgets without building, resume, multi-worker runs on journal
storage and on a real PostgreSQL server, Pareto extraction, figures."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import optuna
import pytest
import yaml

from archlab.plots import read_figure_data
from archlab.plots.search_report import pareto_report
from archlab.search import SearchSpace, SpaceError, pareto_mask, run_search, trials_table
from archlab.search.storage import resolve_storage

SPACE = {
    "study": "t_cost",
    "base": "sdhrnet_coco",
    "knobs": {
        "width": {"low": 8, "high": 40, "step": 4},
        "block": {"choices": ["basic", "scr"]},
        "reweight": {"choices": [["se", "eca"], ["eca", "eca"], ["none", "none"]]},
        "sem": {"choices": [True, False]},
        "head": {"choices": ["simple", "dasp"]},
        "num_modules.1": {"low": 1, "high": 4},
    },
    "objectives": ["params", {"name": "macs", "profile": "hrnet_paper"}],
    "constraints": {"params_max": 20.0e6, "profile": "hrnet_paper"},   # sdhrnet_coco fits, hrnet_w32_coco not
    "sampler": {"type": "nsga2", "seed": 1, "population_size": 8},
    "baselines": ["sdhrnet_coco", "hrnet_w32_coco"],
    "n_trials": 16,
}


def write_space(tmp_path, **changes):
    d = {**SPACE, **changes}
    p = tmp_path / f"{d['study']}.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


BAD_SPACES = [
    ({"knobs": {"widht": 32}}, r"knobs\.widht: unknown knob"),
    ({"knobs": {"width": {"low": 40, "high": 8}}}, r"knobs\.width: low 40 is above high 8"),
    ({"knobs": {"width": {"low": 8}}}, r"knobs\.width: a range needs both low and high"),
    ({"knobs": {"block": {"low": 1, "high": 2}}}, r"knobs\.block: a str knob takes choices"),
    ({"knobs": {"width": {"choices": []}}}, r"knobs\.width\.choices: expected a non-empty list"),
    ({"knobs": {"sem": {"choices": ["yes"]}}}, r"knobs\.sem: expected bool"),
    ({"knobs": {"width": {"low": 8, "high": 40, "stride": 2}}}, r"knobs\.width\.stride: unknown key"),
    ({"objectives": ["speed"]}, r"objectives\[0\]: unknown objective"),
    ({"objectives": ["params", "params"]}, r"objectives: repeated objective"),
    ({"objectives": [{"name": "params", "direction": "up"}]}, r"objectives\[0\]\.direction"),
    ({"constraints": {"flops_max": 3}}, r"constraints\.flops_max: unknown constraint"),
    ({"constraints": {"params_max": -1}}, r"constraints\.params_max: expected a positive number"),
    ({"sampler": {"type": "cmaes"}}, r"sampler\.type: unknown sampler 'cmaes'"),
    ({"n_trials": 0}, r"n_trials: expected a positive integer"),
    ({"base": "hrnet_w99"}, r"base: unknown model 'hrnet_w99'"),
    ({"baselines": ["litehrnet_18_coco"]}, r"baselines: 'litehrnet_18_coco': knobs\.block: value 'ccw' is outside"),
    ({"study": "a b"}, r"study: expected a name"),
    ({"colour": 1}, r"colour: unknown key"),
    # impossible bounds, named by field path
    ({"knobs": {"width": {"low": -16, "high": 32}}}, r"knobs\.width\.low: -16 is below the smallest width \(1\)"),
    ({"knobs": {"num_modules.1": {"low": 0, "high": 3}}}, r"knobs\.num_modules\.1\.low: 0 is below the smallest"),
    ({"knobs": {"num_modules.7": {"low": 1, "high": 3}}}, r"knobs\.num_modules\.7: stage 7 does not exist; .* 3 stages"),
    ({"knobs": {"widths.4": 64}}, r"knobs\.widths\.4: branch 4 does not exist"),
    ({"knobs": {"kernel": {"choices": [3, 4]}}}, r"knobs\.kernel\.choices\[1\]: kernel sizes must be odd, got 4"),
    ({"knobs": {"kernel": {"low": 3, "high": 7}}}, r"knobs\.kernel\.step: a kernel range needs an even step"),
    ({"knobs": {"ratio": {"low": 0.0, "high": 0.5}}}, r"knobs\.ratio\.low: ratio must lie strictly between 0 and 1"),
    ({"knobs": {"block": {"choices": ["basic", "scrr"]}}}, r"knobs\.block\.choices\[1\]: unknown block 'scrr'"),
    ({"knobs": {"reweight": {"choices": [["se", "eac"]]}}}, r"knobs\.reweight\.choices\[0\]: unknown attention 'eac'"),
    ({"knobs": {"input_size": "127x96"}}, r"knobs\.input_size: 127x96 must be positive multiples of 4"),
    ({"knobs": {"width": {"low": 8, "high": 30, "step": 4}}}, r"knobs\.width: high 30 is not low 8 plus a multiple"),
    # objective options: fail at load, not inside trial 0
    ({"objectives": ["params", {"name": "macs", "profile": "hrnet_papr"}]},
     r"objectives\[1\]\.profile: unknown cost profile 'hrnet_papr'; did you mean 'hrnet_paper'\?"),
    ({"objectives": [{"name": "params", "profile": "hrnet_paper"}]}, r"objectives\[0\]\.profile: only the macs"),
    ({"constraints": {"params_max": 2e7, "profile": "hrnet"}}, r"constraints\.profile: unknown cost profile 'hrnet'"),
    ({"latency": {"thread": 1}}, r"latency\.thread: unknown latency option"),
    ({"latency": {"repeats": 0}}, r"latency\.repeats: expected an integer >= 1"),
    ({"training": {"epoch": 2}}, r"training\.epoch: unknown training option"),
    ({"sampler": {"type": "nsga2", "population_size": 1}}, r"sampler\.population_size: expected an integer >= 2"),
]


@pytest.mark.parametrize("changes,message", BAD_SPACES)
def test_space_validation(changes, message):
    if "knobs" in changes:
        changes = {**changes, "baselines": []}  # the error must come from the knob, not a baseline
    with pytest.raises(SpaceError, match=message):
        SearchSpace.from_dict({**SPACE, **changes})


def test_space_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        SearchSpace.from_yaml(tmp_path / "missing.yaml")
    p = tmp_path / "s.yaml"
    p.write_text("study: [")
    with pytest.raises(SpaceError, match="not valid YAML"):
        SearchSpace.from_yaml(p)


def test_baselines_round_trip_through_the_space():
    space = SearchSpace.from_dict(SPACE)
    import archlab
    for name in ("sdhrnet_coco", "hrnet_w32_coco", "sdhrnet_coco_scr"):
        params = space.params_for(name)
        spec = space.apply({k.name: space_value(k, params) for k in space.knobs if k.name in params})
        assert archlab.count(spec).params == archlab.count(name).params


def space_value(knob, params):
    from archlab.search.space import _decode
    return _decode(params[knob.name])


def test_pareto_mask_on_known_points():
    pts = np.array([[1, 9], [2, 7], [3, 8], [4, 3], [5, 3], [6, 1], [2, 7]])
    assert pareto_mask(pts, ["minimize", "minimize"]).tolist() == [True, True, False, True, False, True, True]
    assert pareto_mask(pts, ["maximize", "maximize"]).tolist() == [True, False, True, False, True, True, False]
    with pytest.raises(ValueError):
        pareto_mask(pts, ["minimize"])


def test_constraint_rejection_never_builds(tmp_path, monkeypatch):
    """Over-budget trials are scored from the analytic cost alone: no module is constructed."""
    import archlab.nets.builder as builder
    built = []
    orig = builder.PoseNet.__init__

    def spy(self, spec, **kw):
        built.append(spec.name)
        orig(self, spec, **kw)

    monkeypatch.setattr(builder.PoseNet, "__init__", spy)
    lat_calls = []
    space = SearchSpace.from_yaml(write_space(tmp_path, objectives=["params", "latency"],
                                              constraints={"params_max": 1.0e6}, n_trials=6, baselines=[]))
    from archlab.search.runner import open_study, run_worker
    storage = resolve_storage(None, tmp_path / "run")
    run_worker(space, storage, tmp_path / "run", 6, progress=False,
               latency_fn=lambda spec, opts: lat_calls.append(spec.name) or 1.0)
    study = open_study(space, storage)
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    over = [t for t in trials if not t.user_attrs["feasible"]]
    assert over, "the space should produce over-budget trials"
    for t in over:
        assert t.user_attrs["params"] > 1.0e6 and t.values[1] == 1e18
        assert f"t_cost_t{t.number}" not in lat_calls
    assert built == []  # nothing was ever built (the latency stub does not build either)


def test_resume_reaches_exactly_n_trials(tmp_path):
    space = SearchSpace.from_yaml(write_space(tmp_path))
    run_dir = tmp_path / "run"
    run_search(space, n_trials=6, run_dir=run_dir, progress=False)
    study = run_search(space, n_trials=16, run_dir=run_dir, progress=False)   # resume to 16
    finished = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert len(finished) == 16
    baseline = [t for t in finished if t.user_attrs.get("baseline")]
    assert sorted(t.user_attrs["baseline"] for t in baseline) == ["hrnet_w32_coco", "sdhrnet_coco"]
    assert {t.number for t in baseline} == {0, 1}   # enqueued first, and only once
    again = run_search(space, n_trials=16, run_dir=run_dir, progress=False)
    assert len(again.trials) == len(study.trials)   # nothing more to do


def test_resumed_chunks_do_not_replay_the_sampler(tmp_path):
    """Each process seeds its sampler from the space's seed *and* the trials already stored: a
    search run in chunks (one process per chunk) must not draw the first chunk's
    configurations again, and the same history must give the same draws."""
    def chunks(run_dir):
        space = SearchSpace.from_yaml(write_space(tmp_path, study="t_chunks", sampler={"type": "random", "seed": 3},
                                                  baselines=[]))
        for n in (3, 6, 9):
            study = run_search(space, n_trials=n, run_dir=run_dir, progress=False, check=16)
        return [tuple(sorted(t.params.items())) for t in study.trials]

    drawn = chunks(tmp_path / "a")
    assert len(drawn) == 9
    assert drawn[0:3] != drawn[3:6] and drawn[0:3] != drawn[6:9] and drawn[3:6] != drawn[6:9]
    assert chunks(tmp_path / "b") == drawn          # reproducible from the same history


def test_retry_of_a_killed_trial_trains_in_its_folder(tmp_path):
    """A retried trial (Optuna's ``failed_trial`` system attribute, set by the heartbeat retry
    callback and by :func:`recover_stale_trials`) gets the original trial's folder, so training
    resumes from that trial's checkpoint; fresh trials get their own."""
    from archlab.search.objective import make_objective
    space = SearchSpace.from_yaml(write_space(tmp_path, study="t_retry", objectives=["accuracy", "params"],
                                              constraints={}, baselines=[], n_trials=3))
    folders = []

    def train_fn(spec, options, trial_dir):
        folders.append(trial_dir.name)
        if len(folders) == 1:
            raise RuntimeError("worker killed")      # the original trial fails
        return 50.0

    study = optuna.create_study(study_name="t_retry", storage=f"sqlite:///{tmp_path / 's.db'}",
                                directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(0))
    objective = make_objective(space, tmp_path, train_fn=train_fn)
    study.optimize(objective, n_trials=1, catch=(RuntimeError,))
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    study.enqueue_trial(study.trials[0].params)
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))[-1]
    study._storage.set_trial_system_attr(waiting._trial_id, "failed_trial", 0)  # noqa: SLF001
    study.optimize(objective, n_trials=2)
    assert folders == ["00000", "00000", "00002"]


def test_duplicate_networks_are_trained_once(tmp_path):
    """Two trials that build the same network (here: identical knobs, and knobs that differ only
    in DASP rates under a simple head) reuse the first one's score instead of training again."""
    from archlab.search.objective import make_objective
    space = SearchSpace.from_yaml(write_space(tmp_path, study="t_dup", objectives=["accuracy", "params"],
                                              knobs={"width": {"low": 8, "high": 12, "step": 4},
                                                     "head": {"choices": ["simple", "dasp"]},
                                                     "dasp_rates": {"choices": [[1, 2], [1, 3]]}},
                                              constraints={}, baselines=[], n_trials=4))
    calls = []

    def train_fn(spec, options, trial_dir):
        calls.append(trial_dir.name)
        return 40.0 + len(calls)

    study = optuna.create_study(study_name="t_dup", storage=f"sqlite:///{tmp_path / 's.db'}",
                                directions=["maximize", "minimize"])
    for params in ({"width": 8, "head": "simple", "dasp_rates": "[1, 2]"},
                   {"width": 8, "head": "simple", "dasp_rates": "[1, 2]"},
                   {"width": 8, "head": "simple", "dasp_rates": "[1, 3]"},
                   {"width": 8, "head": "dasp", "dasp_rates": "[1, 3]"}):
        study.enqueue_trial(params)
    study.optimize(make_objective(space, tmp_path, train_fn=train_fn), n_trials=4)
    assert calls == ["00000", "00003"]
    t = study.trials
    assert [x.user_attrs.get("duplicate_of") for x in t] == [None, 0, 0, None]
    assert t[1].values == t[2].values == t[0].values == [41.0, t[0].values[1]] and t[3].values[0] == 42.0


def _check_front(study):
    df = trials_table(study)
    feas = df[df["feasible"]]
    mine = set(feas[pareto_mask(feas[["params", "macs[hrnet_paper]"]].to_numpy(), ["minimize"] * 2)]["trial"])
    assert mine == set(df[df["pareto"]]["trial"])
    return df


def test_multi_worker_journal(tmp_path):
    space = SearchSpace.from_yaml(write_space(tmp_path, study="t_journal", n_trials=20))
    study = run_search(space, workers=2, run_dir=tmp_path / "run", progress=False)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED) == 20
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    _check_front(study)


@pytest.fixture(scope="module")
def pg_url():
    from pg import find_bin, postgres_server
    if not find_bin("initdb"):
        pytest.skip("PostgreSQL server programs are not installed (apt-get install postgresql); "
                    ".ci/run installs them")
    pytest.importorskip("psycopg2", reason="psycopg2 missing: pip install 'archlab[postgres]'")
    with postgres_server() as url:
        yield url


def test_multi_worker_postgresql(tmp_path, pg_url):
    space = SearchSpace.from_yaml(write_space(tmp_path, study="t_pg", n_trials=24))
    study = run_search(space, storage_url=pg_url, workers=3, run_dir=tmp_path / "run", progress=False)
    finished = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert len(finished) == 24 and len(study.trials) == 24
    df = _check_front(study)
    # the same front as Optuna's own (which honours the constraints set on each trial)
    assert set(df[df["pareto"]]["trial"]) == {t.number for t in study.best_trials}


SLOW_WORKER = textwrap.dedent("""
    import sys, time
    from archlab.search.space import SearchSpace
    from archlab.search.runner import run_worker
    from archlab.search.storage import resolve_storage
    space = SearchSpace.from_yaml(sys.argv[1])
    def slow(spec, opts):
        print("started", flush=True)
        time.sleep(60)
        return 1.0
    run_worker(space, resolve_storage(sys.argv[2], sys.argv[3], heartbeat_interval=1, grace_period=2),
               sys.argv[3], 1, progress=False, latency_fn=slow)
""")


@pytest.mark.parametrize("backend", ["journal", "postgresql"])
def test_killed_worker_trial_is_failed_and_retried(tmp_path, backend, request):
    url = f"journal:{tmp_path / 'k.journal'}" if backend == "journal" else request.getfixturevalue("pg_url")
    space_path = write_space(tmp_path, study=f"t_kill_{backend}", objectives=["params", "latency"],
                             constraints={}, baselines=[], n_trials=3)
    script = tmp_path / "slow.py"
    script.write_text(SLOW_WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(space_path), url, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "started"   # mid-trial
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    time.sleep(3)  # > grace period of the RDB heartbeat
    space = SearchSpace.from_yaml(space_path)
    from archlab.search.runner import open_study, run_worker
    storage = resolve_storage(url, tmp_path, heartbeat_interval=1, grace_period=2)
    run_worker(space, storage, tmp_path, 2, progress=False, latency_fn=lambda s, o: 2.0)
    study = open_study(space, storage)
    failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert [t.number for t in failed] == [0]
    retried = [t for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
               if t.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].params == failed[0].params


def test_pareto_report_figures(tmp_path):
    space = SearchSpace.from_yaml(write_space(tmp_path, study="t_fig"))
    study = run_search(space, run_dir=tmp_path / "run", progress=False)
    files = pareto_report(space, study, tmp_path / "out", latency_sample=2,
                          latency_fn=lambda spec, opts: float(len(spec.name)))
    for f in ("trials.csv", "pareto.csv", "pareto_front.png", "pareto_front.svg", "hypervolume.png",
              "latency_vs_macs.svg"):
        assert (tmp_path / "out" / f).exists(), f
    data = read_figure_data(tmp_path / "out" / "pareto_front")
    ax = data["axes"][0]
    assert ax["xlabel"].startswith("parameters") and ax["ylabel"].startswith("multiply-adds [hrnet_paper")
    from archlab.search.pareto import distinct_configs  # every configuration drawn once (tests/test_figures.py)
    assert sorted(data["points"]["trial"]) == sorted(distinct_configs(trials_table(study))["trial"])
    hv = read_figure_data(tmp_path / "out" / "hypervolume")
    assert hv["axes"][0]["ylabel"].startswith("hypervolume of the feasible front")
    assert all(b >= a for a, b in zip(hv["hypervolume"], hv["hypervolume"][1:]))  # monotone


# -- checking a space before a search ----------------------------------------------------------

def test_check_counts_valid_and_feasible_draws():
    """The check's counts match the same random draws counted independently: width 9 with the
    SCR block is not a valid network (an odd branch width cannot be halved), and only the two
    smaller widths fit the parameter budget."""
    import archlab
    from archlab.search.check import check_space
    space = SearchSpace.from_dict({**SPACE, "knobs": {"width": {"choices": [9, 16, 24, 40]},
                                                      "block": {"choices": ["basic", "scr"]}},
                                   "baselines": [], "constraints": {"params_max": 14.0e6}})
    params = {(w, b): archlab.count(space.apply({"width": w, "block": b})).params
              for w in (16, 24, 40) for b in ("basic", "scr")}
    params[(9, "basic")] = archlab.count(space.apply({"width": 9, "block": "basic"})).params
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = [(t.suggest_categorical("width", [9, 16, 24, 40]), t.suggest_categorical("block", ["basic", "scr"]))
             for t in (study.ask() for _ in range(120))]
    valid = [d for d in drawn if d != (9, "scr")]
    feasible = [d for d in valid if params[d] <= 14.0e6]
    assert 0 < len(feasible) < len(valid) < len(drawn)   # the space exercises all three outcomes
    res = check_space(space, draws=120, seed=0)
    assert (res.valid, res.feasible) == (len(valid), len(feasible))
    assert f"{len(valid)} of 120 random draws are valid networks, {len(feasible)} within budget " \
           "(params_max 14 M parameters)" in res.summary()
    assert "not a whole number of primary channels" in res.summary()   # why the invalid ones are


CHECK_ERRORS = [
    # every draw invalid: odd widths cannot be split by the SCR block
    ({"knobs": {"width": {"low": 9, "high": 17, "step": 4}, "block": "scr"}, "baselines": []},
     r"knobs: no draw is a valid network \(0 of 64 random draws; .* not a whole number of primary channels"),
    # a budget every baseline exceeds (a units slip: 1 GFLOP where the baselines need 4.5 and 7.1)
    ({"constraints": {"macs_max": 1.0, "profile": "hrnet_paper"}},
     r"constraints\.macs_max: 1 GFLOPs \[hrnet_paper\] is below every baseline \(smallest: sdhrnet_coco with 4\.5 "),
    ({"constraints": {"params_max": 12.0e6}},
     r"constraints\.params_max: 12 M parameters is below every baseline \(smallest: sdhrnet_coco with 16\.77 M"),
    # no baselines, and no draw fits
    ({"constraints": {"params_max": 1000}, "baselines": []},
     r"constraints: nothing fits the budget \(params_max 0\.001 M parameters\): 0 of 64 valid random draws"),
    ({"objectives": ["accuracy", "params"], "training": {"data": "lspet", "epochs": 0}}, r"training: epochs: must be >= 1"),
]


@pytest.mark.parametrize("changes,message", CHECK_ERRORS)
def test_check_rejects_hopeless_spaces(changes, message):
    from archlab.search.check import check_space
    space = SearchSpace.from_dict({**SPACE, **changes})
    with pytest.raises(SpaceError, match=message):
        check_space(space, draws=64)


def test_hopeless_search_fails_before_writing_anything(tmp_path, capsys):
    """`archlab search` on a space whose budget the baselines exceed exits 2 with the check's
    message, before any trial and without creating the run folder."""
    from archlab.cli import main
    space = write_space(tmp_path, constraints={"params_max": 12.0e6})
    assert main(["search", str(space), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "constraints.params_max: 12 M parameters is below every baseline" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_misspelled_profile_fails_at_load_and_leaves_the_folder_reusable(tmp_path, capsys):
    from archlab.cli import main
    run = tmp_path / "run"
    bad = write_space(tmp_path, objectives=["params", {"name": "macs", "profile": "hrnet_papr"}], n_trials=3)
    assert main(["search", str(bad), "--run-dir", str(run), "--quiet", "--check-draws", "16"]) == 2
    err = capsys.readouterr().err
    assert "objectives[1].profile: unknown cost profile 'hrnet_papr'; did you mean 'hrnet_paper'?" in err
    assert not run.exists()
    # a folder such a run left before this check existed (study with the misspelled objective,
    # baselines enqueued, trial 0 failed) is reused, not a dead end
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run.mkdir()
    old = optuna.create_study(study_name="t_cost", storage=f"sqlite:///{run / 'study.db'}",
                              directions=["minimize", "minimize"])
    old.set_user_attr("objective_names", ["params", "macs[hrnet_papr]"])
    old.enqueue_trial({"width": 32})
    old.tell(old.ask(), state=optuna.trial.TrialState.FAIL)
    good = write_space(tmp_path, n_trials=3)
    assert main(["search", str(good), "--run-dir", str(run), "--quiet", "--check-draws", "16"]) == 0
    out = capsys.readouterr()
    assert "replacing a stored study with other objectives" in out.err
    study = optuna.load_study(study_name="t_cost", storage=f"sqlite:///{run / 'study.db'}")
    assert study.user_attrs["objective_names"] == ["params", "macs[hrnet_paper]"]
    assert len(study.trials) == 3 and study.trials[0].user_attrs["baseline"] == "sdhrnet_coco"


@pytest.mark.parametrize("changes,why", [
    ({"constraints": {"params_max": 1000}, "baselines": []}, "no completed trial is within budget"),
    ({"knobs": {"width": {"low": 9, "high": 17, "step": 4}, "block": "scr"}, "baselines": []},
     "no trial completed"),
])
def test_search_that_produces_nothing_exits_nonzero(tmp_path, capsys, changes, why):
    """With the check skipped (``--check-draws 0``), a study that ends with nothing feasible
    says so and exits 1."""
    from archlab.cli import main
    space = write_space(tmp_path, n_trials=3, **changes)
    assert main(["search", str(space), "--run-dir", str(tmp_path / "run"), "--quiet", "--check-draws", "0"]) == 1
    out = capsys.readouterr()
    assert f"0 within budget; 0 on the Pareto front. Nothing to report: {why}" in out.err
    assert "Next:" not in out.out + out.err


def _cli(*args):
    import shutil
    exe = [shutil.which("archlab")] if shutil.which("archlab") else [sys.executable, "-m", "archlab.cli"]
    return exe + list(args)


NOISE = ("[I ", "ExperimentalWarning", "Warning:", "Traceback")


def test_search_next_command_runs_as_printed_and_output_is_quiet(tmp_path):
    """A real `archlab search --quiet` process (default warning filters, SQLite storage with
    heartbeats): no Optuna INFO or experimental-feature lines on stderr; its printed "Next:"
    command names the run folder and, run as printed from the same folder, writes the report there."""
    import shlex
    write_space(tmp_path, n_trials=4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONWARNINGS": "default"}
    r = subprocess.run(_cli("search", "t_cost.yaml", "--run-dir", "elsewhere/run", "--quiet", "--check-draws", "32"),
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not [ln for ln in r.stderr.splitlines() if any(n in ln for n in NOISE)], r.stderr
    nxt = shlex.split(r.stdout.split("Next: ")[1].strip())
    assert nxt[:2] == ["archlab", "pareto"] and nxt[nxt.index("--run-dir") + 1] == "elsewhere/run"
    p = subprocess.run(_cli(*nxt[1:]), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert not [ln for ln in p.stderr.splitlines() if any(n in ln for n in NOISE)], p.stderr
    assert (tmp_path / "elsewhere/run/pareto/pareto.csv").is_file() and not (tmp_path / "runs").exists()


def test_pareto_output_location(tmp_path, monkeypatch, capsys):
    """`archlab pareto --storage FILE` without --run-dir writes beside the storage file, never
    under the current folder; a server database needs --out; a missing file is an error (and is
    not created)."""
    from archlab.cli import main
    space = SearchSpace.from_yaml(write_space(tmp_path, n_trials=4))
    run_search(space, run_dir=tmp_path / "store", progress=False, check=16)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yml = str(tmp_path / "t_cost.yaml")
    assert main(["pareto", yml, "--storage", f"sqlite:///{tmp_path / 'store' / 'study.db'}", "--quiet"]) == 0
    assert (tmp_path / "store/pareto/pareto.csv").is_file() and list(cwd.iterdir()) == []
    assert main(["pareto", yml, "--storage", "postgresql+psycopg2://nobody@localhost/none"]) == 2
    assert "with a database --storage and no --run-dir, say where the report goes: --out" in capsys.readouterr().err
    assert main(["pareto", yml, "--storage", f"sqlite:///{tmp_path / 'nope.db'}"]) == 2
    assert "storage: no such file" in capsys.readouterr().err and not (tmp_path / "nope.db").exists()
    assert list(cwd.iterdir()) == []


def test_rerun_measures_a_baseline_whose_trial_failed(tmp_path):
    """A baseline whose only trial failed (an error in an earlier run) is enqueued again when
    the search is rerun, so the rerun measures it; a baseline that completed is not repeated."""
    from archlab.search.runner import open_study
    space = SearchSpace.from_yaml(write_space(tmp_path, n_trials=4))
    (tmp_path / "run").mkdir()
    study = open_study(space, f"sqlite:///{tmp_path / 'run' / 'study.db'}")   # (no heartbeat: ask/tell by hand)
    first = study.ask()
    assert first.user_attrs["baseline"] == "sdhrnet_coco"
    study.tell(first, state=optuna.trial.TrialState.FAIL)
    study = run_search(space, run_dir=tmp_path / "run", progress=False, check=16)
    done = [t for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)) if t.user_attrs.get("baseline")]
    assert sorted(t.user_attrs["baseline"] for t in done) == ["hrnet_w32_coco", "sdhrnet_coco"]
    run_search(space, n_trials=5, run_dir=tmp_path / "run", progress=False, check=16)
    assert [t.user_attrs.get("baseline") for t in study.trials].count("sdhrnet_coco") == 2  # failed + rerun
