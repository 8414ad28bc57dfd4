"""Search with latency: the space names method (predict / measure), runtime, threads and input
size; the objective and the ``latency_max`` constraint use the predictor by default."""
from __future__ import annotations

import optuna
import pytest

import archlab.cost.predictor.predict as predict_mod
from archlab.cost.predictor import build_table, cache_dir, cache_key, key_digest, predict_latency
from archlab.search import SearchSpace, SpaceError
from archlab.search.objective import _default_latency, make_objective

SIZE = "64x64"
SPACE = {
    "study": "t_latency",
    "base": "hrnet_w18_coco",
    "knobs": {"width": {"choices": [16, 24]}, "num_modules.1": {"low": 1, "high": 2}, "num_blocks": 1},
    "objectives": ["params", "latency"],
    "latency": {"method": "predict", "runtime": "onnxruntime", "threads": 1, "input_size": SIZE},
    "sampler": {"type": "random", "seed": 0},
    "n_trials": 4,
}


@pytest.fixture(scope="module")
def default_table(tmp_path_factory):
    """A tiny table of the space's networks, stored where the default table of this machine
    would be (so the objective finds it without profiling the full grid)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ARCHLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setattr(predict_mod, "_TABLES", {})
    space = SearchSpace.from_dict(SPACE)
    specs = [space.apply({"width": w, "num_modules.1": m, "num_blocks": 1, "input_size": SIZE}, name=f"s{w}_{m}")
             for w in (16, 24) for m in (1, 2)]
    path = cache_dir() / f"table_{key_digest(cache_key())}.json"
    table = build_table(grid="tiny", specs=specs, path=path, progress=False, calibrate=False)
    yield table
    mp.undo()


@pytest.mark.parametrize("latency, message", [
    ({"method": "guess"}, "latency.method"),
    ({"runtime": "tensorrt"}, "latency.runtime"),
    ({"method": "predict", "runtime": "eager"}, "latency.runtime"),
    ({"threads": 0}, "latency.threads"),
])
def test_latency_options_are_validated(latency, message):
    with pytest.raises(SpaceError, match=message):
        SearchSpace.from_dict({**SPACE, "latency": latency})


def test_latency_max_is_validated():
    with pytest.raises(SpaceError, match="constraints.latency_max"):
        SearchSpace.from_dict({**SPACE, "constraints": {"latency_max": -1}})


def test_default_latency_is_the_prediction(default_table):
    space = SearchSpace.from_dict(SPACE)
    spec = space.apply({"width": 16, "num_modules.1": 1, "num_blocks": 1})
    want = predict_latency(spec, input_size=SIZE, table=default_table)["predicted_ms"]
    assert _default_latency(spec, space.latency) == pytest.approx(want)
    # without a method the predictor is used too, at the spec's own size when none is named
    assert _default_latency(spec, {"input_size": SIZE}) == pytest.approx(want)


def test_objective_and_constraint_use_predicted_latency(default_table, tmp_path):
    space = SearchSpace.from_dict({**SPACE, "constraints": {"latency_max": 1e9}})
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(make_objective(space, tmp_path), n_trials=3)
    for t in study.trials:
        spec = space.apply({**t.params, "num_blocks": 1})
        want = predict_latency(spec, input_size=SIZE, table=default_table)["predicted_ms"]
        assert t.values[1] == pytest.approx(want) and t.user_attrs["latency_ms"] == pytest.approx(want)
        assert t.user_attrs["feasible"] and t.user_attrs["constraints"][-1] == pytest.approx(want - 1e9)
    # a budget below every prediction makes every trial infeasible: latency still recorded
    tight = SearchSpace.from_dict({**SPACE, "constraints": {"latency_max": 1e-6}})
    study = optuna.create_study(directions=["minimize", "minimize"])
    study.optimize(make_objective(tight, tmp_path), n_trials=2)
    assert all(not t.user_attrs["feasible"] and t.user_attrs["latency_ms"] > 1e-6 for t in study.trials)


@pytest.mark.slow
def test_measure_method_times_onnxruntime(default_table):
    space = SearchSpace.from_dict(SPACE)
    spec = space.apply({"width": 16, "num_modules.1": 1, "num_blocks": 1})
    ms = _default_latency(spec, {"method": "measure", "runtime": "onnxruntime", "input_size": SIZE, "repeats": 3,
                                 "warmup": 1})
    pred = predict_latency(spec, input_size=SIZE, table=default_table)["predicted_ms"]
    assert 0 < ms and 0.2 < pred / ms < 5     # measured wall clock on a shared machine: a loose check


def test_space_check_screens_the_predicted_latency_budget(default_table, tmp_path):
    """With latency predicted, archlab search's space check counts draws within latency_max and
    refuses a budget below every baseline, naming the constraint."""
    from archlab.search.check import check_space
    space = SearchSpace.from_dict(SPACE)
    specs = [space.apply({"width": w, "num_modules.1": m, "num_blocks": 1}) for w in (16, 24) for m in (1, 2)]
    ms = sorted(_default_latency(s, space.latency) for s in specs)
    specs[0].to_yaml(tmp_path / "baseline.yaml")
    base = _default_latency(specs[0], space.latency)
    budget = max((ms[0] + ms[-1]) / 2, base * 1.01)
    with_budget = {**SPACE, "baselines": [str(tmp_path / "baseline.yaml")]}
    res = check_space(SearchSpace.from_dict({**with_budget, "constraints": {"latency_max": budget}}), draws=24)
    assert res.valid == 24 and 0 < res.feasible <= 24
    assert res.feasible < 24 or budget >= ms[-1]
    assert f"latency_max {budget:.4g} ms predicted" in res.summary()
    with pytest.raises(SpaceError, match=r"constraints\.latency_max: .* below every baseline"):
        check_space(SearchSpace.from_dict({**with_budget, "constraints": {"latency_max": min(ms[0], base) / 2}}),
                    draws=8)


def test_study_records_its_latency_table_and_refuses_another(default_table, tmp_path):
    from archlab.search.objective import LatencyTableMismatch
    space = SearchSpace.from_dict(SPACE)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="t", storage=storage, directions=["minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(make_objective(space, tmp_path), n_trials=2)
    again = optuna.load_study(study_name="t", storage=storage)
    assert again.user_attrs["latency_table"] == key_digest(default_table.key)
    assert again.user_attrs["latency_table_key"]["grid"] == default_table.key["grid"]
    # the same study continued on a machine (or predictor version) with another table stops with
    # an error that names both tables, before any trial is scored with the other table
    again.set_user_attr("latency_table", "0123456789abcdef")
    with pytest.raises(LatencyTableMismatch, match="0123456789abcdef.*not comparable"):
        again.optimize(make_objective(space, tmp_path), n_trials=1)
    assert len([t for t in again.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 2
    # a latency function of the caller's own needs no table
    other = optuna.create_study(directions=["minimize", "minimize"])
    other.optimize(make_objective(space, tmp_path, latency_fn=lambda spec, o: 1.0), n_trials=1)
    assert "latency_table" not in other.user_attrs


def test_study_records_its_calibration_and_refuses_another(default_table, tmp_path):
    from archlab.search.objective import LatencyTableMismatch
    storage = f"sqlite:///{tmp_path / 'study.db'}"

    def study(name):
        return optuna.create_study(study_name=name, storage=storage, directions=["minimize", "minimize"],
                                   sampler=optuna.samplers.RandomSampler(seed=0), load_if_exists=True)
    linear = SearchSpace.from_dict(SPACE)
    scale = SearchSpace.from_dict({**SPACE, "latency": {**SPACE["latency"], "calibration": "scale"}})
    st = study("new")
    st.optimize(make_objective(linear, tmp_path), n_trials=1)
    assert optuna.load_study(study_name="new", storage=storage).user_attrs["latency_calibration"] == "linear"
    with pytest.raises(LatencyTableMismatch, match="'linear' calibration.*asks for 'scale'.*calibration: linear"):
        study("new").optimize(make_objective(scale, tmp_path), n_trials=1)
    # a study that recorded its table before calibrations had names predicted with one factor
    old = study("old")
    old.set_user_attr("latency_table", key_digest(default_table.key))
    with pytest.raises(LatencyTableMismatch, match="'scale' calibration"):
        old.optimize(make_objective(linear, tmp_path), n_trials=1)
    old.optimize(make_objective(scale, tmp_path), n_trials=1)
    done = [t for t in study("old").trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 1 and study("old").user_attrs["latency_calibration"] == "scale"
    with pytest.raises(SpaceError, match="latency.calibration"):
        SearchSpace.from_dict({**SPACE, "latency": {**SPACE["latency"], "calibration": "quadratic"}})


def test_a_named_table_file_predicts_on_any_machine_and_is_recorded_by_content(default_table, tmp_path):
    """``latency.table``: the study predicts with the file it names (committed with the study), not
    with this machine's cache; the study records the file's digest and refuses a changed file."""
    from archlab.search.objective import LatencyTableMismatch
    path = tmp_path / "study_table.json"
    default_table.save(path)
    named = {**SPACE, "latency": {**SPACE["latency"], "table": str(path)}}
    space = SearchSpace.from_dict(named)
    spec = space.apply({"width": 24, "num_modules.1": 2, "num_blocks": 1})
    want = predict_latency(spec, input_size=SIZE, table=str(path))["predicted_ms"]
    assert _default_latency(spec, space.latency) == pytest.approx(want)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="t", storage=storage, directions=["minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(make_objective(space, tmp_path), n_trials=1)
    digest = optuna.load_study(study_name="t", storage=storage).user_attrs["latency_table"]
    assert digest != key_digest(default_table.key)          # the file's contents are part of it
    # the same key with other contents (another build) is another table
    import json
    d = json.loads(path.read_text())
    d["samples"][0]["compute_ms"] *= 2
    path.write_text(json.dumps(d))
    with pytest.raises(LatencyTableMismatch, match=digest):
        study.optimize(make_objective(SearchSpace.from_dict(named), tmp_path), n_trials=1)


@pytest.mark.parametrize("change, message", [
    ({"table": "no/such/table.json"}, r"latency\.table: no latency table file at 'no/such/table\.json'"),
    ({"threads": 2}, r"latency\.table: .* profiled for threads=1, not 2"),
    ({"method": "measure"}, r"latency\.table: a table is for method: predict"),
])
def test_a_named_table_is_checked_when_the_space_is_read(default_table, tmp_path, change, message):
    path = tmp_path / "t.json"
    default_table.save(path)
    with pytest.raises(SpaceError, match=message):
        SearchSpace.from_dict({**SPACE, "latency": {**SPACE["latency"], "table": str(path), **change}})
