"""The LSPET search study's report (studies/search_lspet.py) on recorded run folders: tables, seed
noise, rank fidelity, figures checked by their plotted data, and the verdict's rule."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

STUDIES = Path(__file__).resolve().parents[1] / "studies"
sys.path.insert(0, str(STUDIES))
import final_protocol as fp  # noqa: E402
import search_lspet as sl  # noqa: E402

# model -> (report-test scores over seeds, search-val after epoch 1, ONNX Runtime latency ms)
RECORDED = {
    "litehrnet_18": ([45.0, 45.6, 44.4], 16.0, 5.0),
    "sdhrnet_w16_small": ([41.0, 41.8, 40.2], 13.0, 9.0),
    "hrnet_w16_small": ([40.0, 40.5], 12.0, 10.0),
    "litehrnet_30": ([46.0, 46.4], 17.0, 8.0),
    "cand_fast": ([48.0, 48.6, 47.4], 18.0, 4.5),     # a search pick: better and faster
    "cand_slow": ([50.0, 50.2, 49.8], 19.0, 12.0),    # better but slower than the baseline
}


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(fp, "OUT", tmp_path)
    monkeypatch.setattr(fp, "MODELS", {**fp.MODELS, "cand_fast": "naive_litehrnet_18_coco",
                                       "cand_slow": "litehrnet_30_coco"})
    monkeypatch.setattr(fp, "PICKS", ["cand_fast", "cand_slow"])
    import rung_scores
    monkeypatch.setattr(rung_scores, "OUT", tmp_path / "rung_scores")     # not the repository's rung runs
    lat = []
    for model, (scores, e1, ms) in RECORDED.items():
        for seed, pck in enumerate(scores):
            d = fp.run_dir(model, seed)
            d.mkdir(parents=True)
            rows = [{"epoch": e, "train_loss": 0.006 - 0.0002 * e - 0.00001 * pck, "epoch_time_s": 300.0,
                     "val_time_s": 20.0, "val_PCK@0.2": (e1 + 2 * (e - 1)) / 100} for e in range(1, fp.EPOCHS + 1)]
            (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            (d / "report_test.json").write_text(json.dumps({"PCK@0.2": pck}))
        lat.append({"model": model, "latency_ms": ms, "latency_iqr_ms": 0.1 * ms, "latency_min_ms": 0.9 * ms})
    pd.DataFrame(lat).to_csv(tmp_path / "latency.csv", index=False)
    # the search's rung-0 score (studies/rung_scores.py): the final order with the last two swapped
    rung0 = {"cand_slow": 30.0, "cand_fast": 29.0, "litehrnet_30": 28.0, "litehrnet_18": 27.0,
             "sdhrnet_w16_small": 20.0, "hrnet_w16_small": 21.0}
    first = fp.halving_plan().rungs[0]
    rows = [{"model": m, "budget": fp.search_score(), "seed": 0, "epochs": first.epochs,
             "limit_train": first.limit_train, "milestones": "", "score": v, "cpu_s": 60.0} for m, v in rung0.items()]
    # a second seed of an annealed candidate budget for two models (the score-noise table's input);
    # seed 1 rows never enter the rank-fidelity columns
    for m, (s0, s1) in {"litehrnet_18": (15.0, 16.0), "sdhrnet_w16_small": (12.0, 14.0)}.items():
        rows += [{"model": m, "budget": "rung_2ep_3500_d1", "seed": k, "epochs": 2, "limit_train": 3500,
                  "milestones": "1", "score": v, "cpu_s": 200.0} for k, v in enumerate((s0, s1))]
    pd.DataFrame(rows).to_csv(tmp_path / "rung_scores.csv", index=False)
    return tmp_path


def test_report_tables_noise_fidelity_and_verdict(recorded):
    # the legacy proxy scored for one model so far: no rank-agreement row until 4 models have it
    pd.DataFrame([{"model": "litehrnet_18", "score": 11.0, "seconds": 200.0, "options": "{}"}]).to_csv(
        recorded / "legacy_proxy.csv", index=False)
    assert sl.main([]) == 0
    assert "legacy_2ep_1600" not in set(pd.read_csv(recorded / "rank_fidelity.csv")["score"])
    res = pd.read_csv(recorded / "results.csv").set_index("model")
    assert res.loc["litehrnet_18", "pck_mean"] == pytest.approx(45.0)
    assert res.loc["litehrnet_18", "pck_std"] == pytest.approx(0.6)
    assert res.loc["hrnet_w16_small", "seeds_done"] == 2
    fid = pd.read_csv(recorded / "rank_fidelity.csv").set_index("score")
    # search-val after epoch 1 orders the six models exactly as the final score does
    assert fid.loc["search_val_e1", "tau"] == pytest.approx(1.0) and fid.loc["search_val_e1", "n"] == 6
    v = json.loads((recorded / "verdict.json").read_text())
    assert v["winner"] == "cand_fast"          # cand_slow is more accurate but slower than Lite-HRNet-18
    # the verdict's tau is the rung-0 score's: one discordant pair of 15 -> (14 - 1) / 15
    assert fp.search_score() == "rung_2ep_3500" and fid.loc[fp.search_score(), "n"] == 6
    assert v["baseline_pck_mean"] == pytest.approx(45.0) and v["kendall_tau"] == pytest.approx(13 / 15)
    assert fid.loc[fp.search_score(), "cpu_hours"] == pytest.approx(6 * 60 / 3600)
    # each rung's score: rung 0 from its own runs, the last (the final protocol's training) from
    # search-val after the last epoch of the seed-0 runs, which order the models as the final score does
    first, last = v["kendall_tau_by_rung"]
    assert (first["score"], first["trains"]) == (fp.search_score(), 27) and first["tau"] == pytest.approx(13 / 15)
    assert last["score"] == f"search_val_e{fp.EPOCHS}" and last["trains"] == 3
    assert last["tau"] == pytest.approx(1.0) and last["tau_other_seeds"] == pytest.approx(1.0)
    assert v["seeds"]["cand_fast"] == 3 and v["n_models"] == 6 and v["ahead_needing_seeds"] == []
    assert v["status"].startswith("final: cand_fast (a pick of the successive-halving search")
    assert "beats litehrnet_18 by more than twice" in v["status"] and "still to go" not in v["status"]
    assert v["winner_origin"].startswith("a pick")
    # the learning-curve extrapolation: every recorded curve has the same shape, so it ranks as epoch 1 does
    assert fid.loc["extrap_e3", "tau"] == pytest.approx(1.0)
    assert fid.loc["extrap_e3", "cpu_hours"] == pytest.approx(6 * 3 * 320 / 3600)    # 3 epochs of 320 s, 6 models
    noise = pd.read_csv(recorded / "score_noise.csv").set_index("score")
    # the annealed budget: seeds (15, 16) and (12, 14) -> pooled std sqrt((0.5 + 2) / 2); spread: the
    # std of the two model means 15.5 and 13
    row = noise.loc["rung_2ep_3500_d1"]
    assert row["seed_std"] == pytest.approx(1.25 ** 0.5) and row["models_with_seeds"] == 2
    assert row["spread_across_models"] == pytest.approx(2.5 / 2 ** 0.5)
    assert row["noise_to_spread"] == pytest.approx(1.25 ** 0.5 / (2.5 / 2 ** 0.5))
    assert noise.loc[sl.FINAL, "seeds"] == 16 and noise.loc[sl.FINAL, "models"] == 6
    assert fp.search_score() not in noise.index            # one seed only: no noise measured
    assert v["winner_checkpoint"] is None and v["baseline_checkpoint"] is None    # no model.pt recorded here
    (fp.run_dir("litehrnet_18", 0) / "model.pt").write_bytes(b"x")
    (fp.run_dir("cand_fast", 0) / "model.pt").write_bytes(b"x")
    sl.main([])
    v = json.loads((recorded / "verdict.json").read_text())
    assert v["baseline_checkpoint"].endswith("litehrnet_18/seed0/model.pt")
    assert v["winner_checkpoint"].endswith("cand_fast/seed0/model.pt")
    for key in ("winner_checkpoint", "baseline_checkpoint", "winner_pck_std", "baseline_pck_std", "protocol"):
        assert key in v


def test_accuracy_figure_draws_the_front_of_its_own_plane(recorded):
    sl.main([])
    data = json.loads((recorded / "accuracy_vs_latency.json").read_text())
    # (latency min, accuracy max): cand_fast (4.5 ms, 48.0) dominates litehrnet_18 (5.0 ms, 45.0),
    # litehrnet_30 (8 ms, 46.2); cand_slow (12 ms, 50.0) is the other end
    assert data["front"] == ["cand_fast", "cand_slow"]
    # one label per drawn model, at its point, and no two labels' boxes overlap
    labels = [t for t in data["axes"][0]["texts"] if t["gid"] == "point label"]
    table = pd.read_csv(recorded / "results.csv").dropna(subset=["pck_mean", "latency_ms"])
    assert sorted(t["text"].split(" (")[0] for t in labels) == sorted(table["model"])
    for t in labels:
        row = table[table["model"] == t["text"].split(" (")[0]].iloc[0]
        assert t["xy"] == pytest.approx([row["latency_ms"], row["pck_mean"]])
    boxes = [t["bbox"] for t in labels]
    assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_a_win_inside_twice_the_seed_noise_is_a_tie(recorded):
    d = fp.run_dir("cand_fast", 0)
    for seed, pck in enumerate([45.8, 45.9, 45.7]):
        (fp.run_dir("cand_fast", seed) / "report_test.json").write_text(json.dumps({"PCK@0.2": pck}))
    sl.main([])
    v = json.loads((recorded / "verdict.json").read_text())
    assert d.is_dir() and v["winner"] is None
    assert v["status"].startswith("final: every pick") and "no model of the space beats" in v["status"]


def test_a_model_ahead_with_two_seeds_is_not_yet_a_winner(recorded):
    import shutil
    shutil.rmtree(fp.run_dir("cand_fast", 2))
    sl.main([])
    v = json.loads((recorded / "verdict.json").read_text())
    assert v["winner"] is None and v["ahead_needing_seeds"] == ["cand_fast"]
    # one pick's run is missing: the verdict is not final and says what is left
    assert v["status"].startswith("in progress: 1 final-protocol run") and "cand_fast 2/3" in v["status"]
    assert "cand_slow" not in v["status"]


def test_no_runs_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fp, "OUT", tmp_path)
    assert sl.main([]) == 1


def test_legacy_proxy_is_a_row_of_the_fidelity_table(recorded):
    # the previous search's 2-epoch proxy, inverted against the final order for the first three models
    scores = {"litehrnet_18": 30.0, "sdhrnet_w16_small": 31.0, "hrnet_w16_small": 32.0, "litehrnet_30": 20.0,
              "cand_fast": 21.0, "cand_slow": 22.0}
    pd.DataFrame([{"model": m, "score": s, "seconds": 360.0, "options": "{}"} for m, s in scores.items()]) \
        .to_csv(recorded / "legacy_proxy.csv", index=False)
    assert sl.main([]) == 0
    fid = pd.read_csv(recorded / "rank_fidelity.csv").set_index("score")
    from scipy.stats import kendalltau
    final = [45.0, 41.0, 40.25, 46.2, 48.0, 50.0]
    assert fid.loc["legacy_2ep_1600", "tau"] == pytest.approx(kendalltau(list(scores.values()), final).statistic)
    assert fid.loc["legacy_2ep_1600", "cpu_hours"] == pytest.approx(6 * 360 / 3600)


def _have_lspet() -> bool:
    from archlab.data.datasets import default_data_root
    root = default_data_root()
    return root is not None and (Path(root) / "lspet" / "joints.mat").is_file()


@pytest.mark.skipif(not _have_lspet(), reason="LSPET data not found (set ARCHLAB_DATA to the shared data folder)")
def test_legacy_proxy_trains_real_images_once(tmp_path, monkeypatch):
    import legacy_proxy as lp
    monkeypatch.setattr(lp, "OUT", tmp_path / "legacy_proxy.csv")
    monkeypatch.setattr(lp, "WORK", tmp_path / "work")
    monkeypatch.setattr(lp, "OPTIONS", {**lp.OPTIONS, "epochs": 1, "limit_train": 8, "limit_val": 4, "batch": 4})
    assert lp.main(["litehrnet_18"]) == 0
    t = pd.read_csv(tmp_path / "legacy_proxy.csv")
    assert list(t["model"]) == ["litehrnet_18"] and 0.0 <= t.loc[0, "score"] <= 100.0
    stamp = (tmp_path / "legacy_proxy.csv").stat().st_mtime_ns
    assert lp.main(["litehrnet_18"]) == 0                    # already scored: nothing retrained
    assert (tmp_path / "legacy_proxy.csv").stat().st_mtime_ns == stamp
    with pytest.raises(SystemExit, match="unknown model 'nope'"):
        lp.main(["nope"])


def test_span_draws_are_seeded_distinct_and_within_budget():
    import draw_specs
    a = draw_specs.draw(3, seed=0, max_gmacs=0.2)
    b = draw_specs.draw(3, seed=0, max_gmacs=0.2)
    assert [s.to_yaml() for _, s, _ in a] == [s.to_yaml() for _, s, _ in b]
    assert len({s.to_yaml() for _, s, _ in a}) == 3
    assert all(c.macs <= 0.2e9 for _, _, c in a)
    # the committed span specs are the seed-0 draws of the study's space at its default budget
    from archlab.spec import NetworkSpec
    spans = sorted(m for m in fp.MODELS if m.startswith("span_"))
    assert spans == [f"span_{k}" for k in range(fp.N_SPAN)]
    committed = [NetworkSpec.from_yaml(STUDIES / "specs" / f"{m}.yaml").to_dict() for m in spans]
    assert committed == [s.to_dict() for _, s, _ in draw_specs.draw(fp.N_SPAN, seed=0)]


def test_summary_states_how_near_the_plateau_the_runs_are(recorded):
    # every recorded curve climbs 2 points an epoch: 2.00 at constant LR and 2.00 in the last epoch;
    # one unfinished run (5 epochs) is left out of the statement
    d = fp.run_dir("span_0", 0)
    d.mkdir(parents=True)
    (d / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "train_loss": 0.005, "val_PCK@0.2": 0.5})
                                             + "\n" for e in range(1, 6)))
    assert fp.main(["summary"]) == 0
    text = (recorded / "runs.md").read_text()
    assert "still gain 2.00 points per epoch (range 2.00 to 2.00, 16 runs)" in text
    assert "the last epoch, after the decay, gains 2.00" in text
    assert pd.read_csv(recorded / "runs.csv").set_index(["model", "seed"]).loc[("span_0", 0), "epochs_done"] == 5


def test_queue_processes_share_the_queue_without_training_one_run_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(fp, "OUT", tmp_path)
    monkeypatch.setattr(fp, "QUEUE", [("litehrnet_18", 0), ("litehrnet_18", 1), ("span_0", 0)])
    trained = []

    def fake_chunk(model, seed, epochs, data_root=None):      # one "epoch" that finishes the run
        d = fp.run_dir(model, seed)
        (d / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e}) + "\n" for e in range(1, fp.EPOCHS + 1)))
        (d / "report_test.json").write_text(json.dumps({"PCK@0.2": 1.0}))
        trained.append((model, seed))
    monkeypatch.setattr(fp, "train_chunk", fake_chunk)
    held = fp._claim("litehrnet_18", 1)          # another process trains this one
    assert held is not None and fp._claim("litehrnet_18", 1) is None
    assert fp.main(["queue", "--minutes", "5"]) == 0
    assert trained == [("litehrnet_18", 0), ("span_0", 0)]
    with pytest.raises(SystemExit, match="another process is training this run"):
        fp.main(["run", "litehrnet_18", "--seed", "1"])
    held.close()
    assert fp.main(["queue", "--minutes", "5"]) == 0 and trained[-1] == ("litehrnet_18", 1)


def test_queue_stops_between_epochs_when_its_minutes_are_spent_and_resumes(tmp_path, monkeypatch, capsys):
    """``queue --minutes M`` trains epoch by epoch and stops before an epoch that would start
    after M minutes; the same command again continues the same run where it stopped."""
    monkeypatch.setattr(fp, "OUT", tmp_path)
    monkeypatch.setattr(fp, "QUEUE", [("litehrnet_18", 0), ("span_0", 0)])
    clock = [1000.0]
    monkeypatch.setattr(fp.time, "time", lambda: clock[0])
    chunks = []

    def one_epoch(model, seed, epochs, data_root=None):      # 1 epoch = 10 simulated minutes
        d = fp.run_dir(model, seed)
        rows = fp.read_metrics(d)
        with open(d / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"epoch": len(rows) + 1}) + "\n")
        if len(rows) + 1 == fp.EPOCHS:
            (d / "report_test.json").write_text(json.dumps({"PCK@0.2": 1.0}))
        chunks.append((model, seed, len(rows) + 1))
        clock[0] += 600
    monkeypatch.setattr(fp, "train_chunk", one_epoch)
    assert fp.main(["queue", "--minutes", "25"]) == 0          # epochs start at 0, 10, 20 minutes
    assert "time budget spent" in capsys.readouterr().out
    assert chunks == [("litehrnet_18", 0, e) for e in (1, 2, 3)] and fp.epochs_done("litehrnet_18", 0) == 3
    assert fp.main(["queue", "--minutes", "0"]) == 0 and len(chunks) == 3     # nothing starts at once
    assert fp.main(["queue", "--minutes", str(10 * 2 * fp.EPOCHS)]) == 0
    assert "queue finished" in capsys.readouterr().out
    assert chunks[3] == ("litehrnet_18", 0, 4) and len(chunks) == 2 * fp.EPOCHS
    assert fp.finished("litehrnet_18", 0) and fp.finished("span_0", 0)


def test_picks_apply_the_search_promotion_rule_within_the_latency_limit(tmp_path, monkeypatch):
    """`final_protocol.py picks` on a real SQLite storage of the study's own space (a 2-rung plan,
    stand-ins for training and the latency predictor): the picks are `promote` on rung 1 among the
    searched configurations predicted no slower than the Lite-HRNet-18 baseline + 5%."""
    import optuna
    import yaml
    from archlab.search import SearchSpace
    from archlab.search.halving import promote, run_halving
    from archlab.search.storage import resolve_storage
    d = yaml.safe_load(fp.SPACE.read_text())
    d["base"] = str(fp.ROOT / d["base"])
    d["baselines"] = [str(fp.ROOT / b) for b in d["baselines"]]
    d["constraints"] = {}
    d["halving"] = {"eta": 2, "n0": 12, "rungs": [{"epochs": 1, "limit_train": 100}, {"epochs": 2, "limit_train": 200}]}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(d))
    monkeypatch.setattr(fp, "SPACE", tmp_path / "space.yaml")
    monkeypatch.setattr(fp, "SPECS", tmp_path)
    space = SearchSpace.from_yaml(tmp_path / "space.yaml")
    # deterministic stand-ins, scattered around the baseline's latency so the limit matters
    width = lambda spec: sum(sum(s.widths) for s in spec.stages)                        # noqa: E731
    lat = lambda spec, opts: 6.0 + width(spec) % 9                                      # noqa: E731
    acc = lambda spec, training, folder: float(width(spec) * 7 % 23)                    # noqa: E731
    run = tmp_path / "run"
    run_halving(space, space.halving, resolve_storage(None, run), run, train_fn=acc, latency_fn=lat)
    monkeypatch.setattr(fp, "OUT", tmp_path)
    assert fp.main(["picks", "--run-dir", str(run), "--rung", "1", "-k", "2", "--by", "pareto",
                    "--latency-slack", "0.05"]) == 0
    storage = resolve_storage(None, run)
    base = [t for t in optuna.load_study(study_name=space.study, storage=storage).trials
            if "baseline" in t.user_attrs][0].user_attrs["latency_ms"]
    rung1 = optuna.load_study(study_name=f"{space.study}-rung1", storage=storage).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))
    pool = [t for t in rung1 if "baseline" not in t.user_attrs and t.user_attrs["latency_ms"] <= 1.05 * base]
    expected = promote(pool, 2, [o.direction for o in space.objectives])
    unlimited = promote([t for t in rung1 if "baseline" not in t.user_attrs], 2, [o.direction for o in space.objectives])
    assert expected and [t.number for t in unlimited] != [t.number for t in expected], \
        "the latency limit changed nothing: the test would not check it"
    from archlab.spec import NetworkSpec
    for i, t in enumerate(expected):
        got = NetworkSpec.from_yaml(tmp_path / f"pick_{i}.yaml")
        want = space.suggest(optuna.trial.FixedTrial(t.params))
        assert got.to_dict() == want.replace(name=f"pick_{i}").to_dict()
    assert not (tmp_path / f"pick_{len(expected)}.yaml").exists()
    table = pd.read_csv(tmp_path / "picks.csv")
    assert sorted(table.loc[table["pick"].notna(), "trial"]) == sorted(t.number for t in expected)
    assert (table["within_limit"] == (table["latency_ms"] <= 1.05 * base)).all()
    # --by accuracy (the default): the best search-val accuracy within the limit, twins once
    assert fp.main(["picks", "--run-dir", str(run), "--rung", "1", "-k", "2", "--latency-slack", "0.05"]) == 0
    by_acc = sorted({t.user_attrs["network_key"]: t for t in sorted(pool, key=lambda t: -t.number)}.values(),
                    key=lambda t: (-t.values[0], t.number))[:2]
    for i, t in enumerate(by_acc):
        want = space.suggest(optuna.trial.FixedTrial(t.params)).replace(name=f"pick_{i}")
        assert NetworkSpec.from_yaml(tmp_path / f"pick_{i}.yaml").to_dict() == want.to_dict()
    # --measure: the same rule on ONNX Runtime latency timed now (a spy keeps the real timings)
    timed = []
    real = fp.measured_latency
    monkeypatch.setattr(fp, "measured_latency", lambda specs: timed.append(real(specs)) or timed[-1])
    monkeypatch.setattr(fp, "SPECS", tmp_path / "measured")
    (tmp_path / "measured").mkdir()
    assert fp.main(["picks", "--run-dir", str(run), "--rung", "1", "-k", "2", "--measure", "--by", "pareto",
                    "--latency-slack", "0.05"]) == 0
    searched = [t for t in rung1 if "baseline" not in t.user_attrs and t.user_attrs["feasible"]]
    ms = [r.median_ms for r in timed[0]]
    assert len(ms) == 1 + len(searched) and all(m > 0 for m in ms)
    pool = [t for t, m in zip(searched, ms[1:]) if m <= 1.05 * ms[0]]
    expected = promote(pool, 2, [o.direction for o in space.objectives])
    got = sorted((tmp_path / "measured").glob("pick_*.yaml"))
    assert len(got) == len(expected) and all("measured ONNX Runtime median" in p.read_text() for p in got)
    for i, t in enumerate(expected):
        want = space.suggest(optuna.trial.FixedTrial(t.params)).replace(name=f"pick_{i}")
        assert NetworkSpec.from_yaml(tmp_path / "measured" / f"pick_{i}.yaml").to_dict() == want.to_dict()


def test_measure_latency_times_every_study_model_in_one_interleaved_onnx_runtime_run(tmp_path, monkeypatch):
    monkeypatch.setattr(fp, "OUT", tmp_path)
    monkeypatch.setattr(fp, "MODELS", {k: fp.MODELS[k] for k in ("litehrnet_18", "span_3")})
    t = sl.add_latency(pd.DataFrame({"model": ["litehrnet_18"]}), measure=True)
    lat = pd.read_csv(tmp_path / "latency.csv")
    assert list(lat["model"]) == ["litehrnet_18", "span_3"]       # models without runs are timed too
    assert (lat["latency_min_ms"] > 0).all() and (lat["latency_min_ms"] <= lat["latency_ms"]).all()
    assert (lat["latency_iqr_ms"] >= 0).all() and set(lat["runtime"]) == {"onnxruntime"} and (lat["repeats"] == 21).all()
    assert t.loc[0, "latency_ms"] == lat.loc[0, "latency_ms"]


def test_only_a_quiet_timing_replaces_the_latency_the_verdict_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(fp, "OUT", tmp_path)

    def timing(stamp, base_iqr, ratio):
        t = pd.DataFrame({"model": ["litehrnet_18", "span_2"], "latency_ms": [6.0, 6.0 * ratio],
                          "latency_iqr_ms": [base_iqr, 0.1], "ratio_to_baseline": [1.0, ratio], "measured": stamp})
        t["quiet"] = sl.is_quiet(t)
        return t

    assert sl.record_latency(timing("t0", 0.2, 0.95))                  # IQR 3% of the median: quiet
    assert not sl.record_latency(timing("t1", 1.6, 1.06))              # 27%: recorded, not used
    lat, hist = pd.read_csv(tmp_path / "latency.csv"), pd.read_csv(tmp_path / "latency_history.csv")
    assert set(lat["measured"]) == {"t0"} and list(lat["ratio_to_baseline"]) == [1.0, 0.95]
    assert list(hist["measured"]) == ["t0", "t0", "t1", "t1"] and list(hist["quiet"]) == [True, True, False, False]
    assert sl.record_latency(timing("t2", 0.1, 1.02))                  # a later quiet one replaces it
    assert set(pd.read_csv(tmp_path / "latency.csv")["measured"]) == {"t2"}
    # the first timing is kept whatever its noise: something to read until a quiet one comes
    (tmp_path / "latency.csv").unlink()
    assert sl.record_latency(timing("t3", 3.0, 1.0)) and (tmp_path / "latency.csv").is_file()


@pytest.mark.parametrize("text, want", [
    ("2:3500:1", {"epochs": 2, "limit_train": 3500, "milestones": [1]}),
    ("1:1750", {"epochs": 1, "limit_train": 1750}),
    ("3:all:1,2", {"epochs": 3, "milestones": [1, 2]}),
])
def test_rung_budgets_parse_and_name_themselves(text, want):
    import rung_scores
    got = rung_scores.parse_budget(text)
    assert got == want
    assert fp.budget_name(got) == {"2:3500:1": "rung_2ep_3500_d1", "1:1750": "rung_1ep_1750",
                                   "3:all:1,2": "rung_3ep_all_d1-2"}[text]


@pytest.mark.parametrize("text, match", [("2", "EPOCHS:IMAGES"), ("two:3500", "EPOCHS:IMAGES"),
                                         ("2:3500:2", r"milestones: expected increasing epochs in 1\.\.1"),
                                         ("0:3500", "epochs: expected a positive integer")])
def test_bad_rung_budgets_are_refused_with_the_reason(text, match):
    import rung_scores
    with pytest.raises(SystemExit, match=match):
        rung_scores.parse_budget(text)


def test_rung_scores_csv_gains_a_new_column_without_losing_rows(tmp_path, monkeypatch):
    import rung_scores
    monkeypatch.setattr(fp, "OUT", tmp_path)
    old = ["model", "budget", "seed", "epochs", "limit_train", "milestones", "score", "cpu_s"]
    pd.DataFrame([["litehrnet_18", "rung_1ep_1750", 0, 1, 1750, "", 5.6, 63.8]], columns=old) \
        .to_csv(tmp_path / "rung_scores.csv", index=False)
    rung_scores._upgrade_header()
    rows = rung_scores.read_scores()
    assert list(rows[0]) == rung_scores.FIELDS and rows[0]["resumed"] == "" and rows[0]["score"] == "5.6"
    assert rung_scores.done() == {("litehrnet_18", "rung_1ep_1750", 0)}


def test_rung_scores_default_to_every_rung_but_the_final_protocols(monkeypatch):
    """With the study's 2-rung plan the default is rung 0 only: the last rung is the final protocol
    (10 epochs on every image), which rung_scores must never start by default."""
    import rung_scores
    ran = []
    monkeypatch.setattr(rung_scores, "done", lambda: set())
    monkeypatch.setattr(rung_scores, "score_one", lambda m, b, s, d=None: ran.append((m, fp.budget_name(b), s)) or {})
    assert rung_scores.main(["--models", "litehrnet_18"]) == 0
    plan = fp.halving_plan()
    assert ran == [("litehrnet_18", fp.budget_name(r.budget()), 0) for r in plan.rungs[:-1]]
    assert ("litehrnet_18", "rung_10ep_all", 0) not in ran


def test_queue_trains_the_missing_seeds_of_a_model_ahead_first(recorded):
    import shutil
    for model in ("cand_fast", "cand_slow"):
        for seed in (1, 2):
            shutil.rmtree(fp.run_dir(model, seed))
    # cand_fast (48.0, 4.5 ms) is ahead of Lite-HRNet-18 (45.0, 5.0 ms) by more than twice the
    # pooled std; cand_slow is further ahead but slower, so the verdict could not name it
    assert fp.claim_runs() == [("cand_fast", 1), ("cand_fast", 2)]
    # within twice the seed noise: no claim to make, nothing jumps the queue
    (fp.run_dir("cand_fast", 0) / "report_test.json").write_text(json.dumps({"PCK@0.2": 45.5}))
    assert fp.claim_runs() == []
    # the baseline itself never jumps the queue, and nothing does before it has a score
    assert fp.claim_runs(rows=[{"model": "cand_fast", "report_test_PCK@0.2": 60.0}]) == []


def test_latency_is_compared_per_interleaved_round(recorded):
    # the same round hits both networks alike: 0.9 in every round is 0.9 whatever the drift
    base = [10.0, 12.0, 30.0, 11.0]
    assert sl.paired_ratio([0.9 * b for b in base], base) == pytest.approx((0.9, 0.9, 0.9))
    lo, hi = sl.paired_ratio([9.0, 13.0, 29.0, 12.0], base)[1:]
    assert lo < 1.0 < hi
    # where the ratio was measured it decides "no more latency", not the two medians
    lat = pd.read_csv(recorded / "latency.csv")
    lat["ratio_to_baseline"] = [1.0, 1.8, 2.0, 1.6, 1.05, 2.4]      # cand_fast: 4.5 vs 5.0 ms, but 5% slower paired
    lat.to_csv(recorded / "latency.csv", index=False)
    sl.main([])
    v = json.loads((recorded / "verdict.json").read_text())
    assert v["winner"] is None and v["ahead_needing_seeds"] == []
    lat["ratio_to_baseline"] = [1.0, 1.8, 2.0, 1.6, 0.93, 2.4]
    lat["ratio_lo"], lat["ratio_hi"] = lat["ratio_to_baseline"] - 0.02, lat["ratio_to_baseline"] + 0.02
    lat.to_csv(recorded / "latency.csv", index=False)
    sl.main([])
    v = json.loads((recorded / "verdict.json").read_text())
    assert v["winner"] == "cand_fast" and v["winner_latency_ratio"] == pytest.approx([0.93, 0.91, 0.95])
    slower = fp._slower_than_baseline()
    assert not slower["cand_fast"] and slower["cand_slow"] and not slower["litehrnet_18"]


def test_a_winner_outside_the_picks_is_named_with_its_origin(recorded, monkeypatch):
    import shutil
    monkeypatch.setattr(fp, "PICKS", ["cand_slow"])      # cand_fast is then not one of the search's picks
    shutil.rmtree(fp.run_dir("cand_slow", 2))
    sl.main([])
    v = json.loads((recorded / "verdict.json").read_text())
    assert v["winner"] == "cand_fast" and v["winner_origin"] == "another model of the study"
    assert v["status"].startswith("final: cand_fast") and "still to go: cand_slow 2/3" in v["status"]
    assert sl.origin("span_2").startswith("a random draw of the search space")
    assert sl.origin("litehrnet_18") == "a hand-designed baseline"


def test_score_noise_has_a_row_for_the_summed_loss_of_each_rung_budget(recorded, monkeypatch):
    """The rung runs' summed training losses get their own seed-noise row (``<budget>_loss``),
    from the runs' metrics: seeds (-1, -2) and (-4, -4) -> pooled std sqrt(0.5 / 2), spread the std
    of the means -1.5 and -4."""
    import rung_scores
    monkeypatch.setattr(rung_scores, "OUT", recorded / "rung_scores")
    for m, losses in {"litehrnet_18": (1.0, 2.0), "sdhrnet_w16_small": (4.0, 4.0)}.items():
        for k, loss in enumerate(losses):
            run = rung_scores.run_folder(m, "rung_2ep_3500_d1", k) / "run"
            run.mkdir(parents=True)
            run.joinpath("metrics.jsonl").write_text(json.dumps({"epoch": 1, "train_loss": loss}) + "\n")
    noise = sl.score_noise().set_index("score")
    row = noise.loc["rung_2ep_3500_d1_loss"]
    assert row["seed_std"] == pytest.approx(0.25 ** 0.5) and row["models_with_seeds"] == 2
    assert row["spread_across_models"] == pytest.approx(2.5 / 2 ** 0.5)
    assert "rung_2ep_3500_loss" not in noise.index          # no run folders for it: no row


def test_seed_mean_column_averages_seeds_0_to_2_of_models_that_have_all_three():
    rows = [{"model": "a", "budget": "rung_x", "seed": k, "score": v, "cpu_s": 100.0 * (k + 1)}
            for k, v in enumerate((1.0, 2.0, 6.0, 50.0))]          # seed 3 is not averaged
    rows += [{"model": "b", "budget": "rung_x", "seed": k, "score": 9.0, "cpu_s": 100.0} for k in (0, 1)]
    means, cost = sl._seed_means(rows)
    assert means.loc["a", "rung_x_mean3"] == pytest.approx(3.0) and "b" not in means.index
    assert cost == {"rung_x_mean3": pytest.approx(200.0 * 3 / 3600)}
    assert sl._seed_means(rows[4:])[0].empty


def test_rung_loss_sum_reads_the_rung_run_and_is_nan_without_it(tmp_path, monkeypatch):
    import rung_scores
    monkeypatch.setattr(rung_scores, "OUT", tmp_path)
    run = tmp_path / "span_0" / "rung_2ep_3500_s0" / "run"
    run.mkdir(parents=True)
    run.joinpath("metrics.jsonl").write_text(json.dumps({"epoch": 1, "train_loss": 0.25}) + "\n"
                                             + json.dumps({"epoch": 2, "train_loss": 0.5}) + "\n\n")
    assert sl.rung_loss_sum("span_0", "rung_2ep_3500") == -0.75
    assert math.isnan(sl.rung_loss_sum("span_0", "rung_2ep_3500", seed=1))
    assert math.isnan(sl.rung_loss_sum("span_1", "rung_2ep_3500"))


def test_fidelity_table_says_how_far_seed_noise_caps_each_score(recorded):
    """A second seed of the search's rung score for two models measures its noise; the table then
    gives its reliability over the six models, its noise ceiling and its noise-corrected tau, from
    the closed forms of archlab.search.ceiling."""
    import numpy as np
    from archlab.search.ceiling import noise_free_tau, tau_ceiling
    rows = pd.read_csv(recorded / "rung_scores.csv")
    extra = [{**rows[(rows["model"] == m) & (rows["budget"] == fp.search_score())].iloc[0].to_dict(),
              "seed": 1, "score": v} for m, v in {"litehrnet_18": 28.0, "sdhrnet_w16_small": 22.0}.items()]
    pd.concat([rows, pd.DataFrame(extra)]).to_csv(recorded / "rung_scores.csv", index=False)
    sl.main([])
    fid = pd.read_csv(recorded / "rank_fidelity.csv").set_index("score")
    # rung seeds (27, 28) and (20, 22): noise^2 = (0.5 + 2) / 2; seed-0 values over the six models
    r_rung = 1 - 1.25 / np.var([30.0, 29.0, 28.0, 27.0, 20.0, 21.0], ddof=1)
    # final: seed lists of RECORDED (pooled variance), means over 3, 3, 2, 2, 3, 3 seeds
    groups = [v[0] for v in RECORDED.values()]
    noise2 = sum(((np.array(g) - np.mean(g)) ** 2).sum() for g in groups) / sum(len(g) - 1 for g in groups)
    means = [np.mean(g) for g in groups]
    r_final = 1 - noise2 * np.mean([1 / len(g) for g in groups]) / np.var(means, ddof=1)
    row = fid.loc[fp.search_score()]
    assert row["reliability"] == pytest.approx(r_rung)
    assert row["tau_ceiling"] == pytest.approx(tau_ceiling(r_rung, r_final))
    assert row["tau_noise_free"] == pytest.approx(noise_free_tau(13 / 15, r_rung, r_final))
    assert 0 < row["tau_ceiling"] < 1 and row["tau_noise_free"] > row["tau"]
    # scores read from the final runs share the final score's seed noise: a reliability, no ceiling
    assert fid.loc["search_val_e1", "reliability"] == pytest.approx(1.0)     # every seed's epoch 1 agrees
    assert math.isnan(fid.loc["search_val_e1", "tau_ceiling"]) and math.isnan(fid.loc["extrap_e3", "seeds_for_goal"])


def test_fidelity_curve_plots_tau_after_each_final_epoch(recorded):
    """search-val after epoch k of the seed-0 runs against the final means: cand_slow's epoch 1 is
    made the worst, so only epoch 1 loses agreement; the figure's data is the table's."""
    from scipy.stats import kendalltau
    path = fp.run_dir("cand_slow", 0) / "metrics.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["val_PCK@0.2"] = 0.01
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sl.main([])
    curve = pd.read_csv(recorded / "fidelity_curve.csv").set_index("epoch")
    assert list(curve.index) == list(range(1, fp.EPOCHS + 1))
    e1 = [v[1] for v in RECORDED.values()]
    e1[list(RECORDED).index("cand_slow")] = 1.0
    means = [sum(v[0]) / len(v[0]) for v in RECORDED.values()]
    assert curve.loc[1, "tau"] == pytest.approx(kendalltau(e1, means).statistic) and curve.loc[1, "tau"] < 0.8
    assert curve.loc[2, "tau"] == pytest.approx(1.0) and curve.loc[fp.EPOCHS, "tau"] == pytest.approx(1.0)
    assert curve.loc[3, "cpu_h_per_model"] == pytest.approx(3 * 320 / 3600)
    # against the report-test means of seeds >= 1 only (noise independent of seed 0's)
    later = [sum(v[0][1:]) / len(v[0][1:]) for v in RECORDED.values()]
    assert curve.loc[1, "tau_other_seeds"] == pytest.approx(kendalltau(e1, later).statistic)
    assert curve.loc[2, "tau_other_seeds"] == pytest.approx(1.0) and curve.loc[2, "n_other_seeds"] == 6
    data = json.loads((recorded / "fidelity_curve.json").read_text())
    assert data["curve"]["tau"] == pytest.approx(list(curve["tau"]), abs=1e-6)
    assert data["rungs"] == {fp.search_score(): pytest.approx(13 / 15, abs=1e-6)}
