"""Figures check what they draw: each Pareto front is the non-dominated set of the points drawn in
that figure's plane (checked here by brute force), legends count the points drawn, twins are drawn
once, latency points carry their IQR as error bars, baseline labels do not overlap, hypervolume
lines break at failed trials and state their reference point, and saving is byte-for-byte
reproducible. The data are read back from the matplotlib artists (the JSON sidecar is written
from them) of figures built from real Optuna studies in SQLite storage."""
import importlib.util
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from optuna.distributions import CategoricalDistribution, IntDistribution  # noqa: E402
from optuna.trial import TrialState, create_trial  # noqa: E402

from archlab.plots import bubble_chart, pareto_scatter, read_figure_data, save_figure  # noqa: E402
from archlab.plots.search_report import pareto_report  # noqa: E402
from archlab.search import SearchSpace, run_search, trials_table  # noqa: E402
from archlab.search.report import measure_sample_latency, read_latency_csv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def brute_front(xs, ys, directions):
    """Indices of the non-dominated points, O(n^2), written independently of archlab."""
    s = [1 if d == "minimize" else -1 for d in directions]
    pts = [(s[0] * x, s[1] * y) for x, y in zip(xs, ys)]
    return {i for i, p in enumerate(pts)
            if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in pts)}


def artists(ax: dict) -> dict:
    return {a["gid"]: a for a in ax["artists"] if a.get("gid")}


def legend_count(ax: dict, prefix: str) -> int:
    hit = [t for t in ax["legend"] if t.startswith(prefix)]
    assert len(hit) == 1, (prefix, ax["legend"])
    return int(re.search(r"n=(\d+)", hit[0]).group(1))


def check_front(ax: dict, directions):
    """The drawn front is exactly the brute-force front of the drawn feasible points, and each
    legend entry counts the points of its artist."""
    arts = artists(ax)
    drawn = [(x, y) for g in ("trials", "baselines") if g in arts for x, y in zip(arts[g]["x"], arts[g]["y"])]
    front = {drawn[i] for i in brute_front([p[0] for p in drawn], [p[1] for p in drawn], directions)}
    line = arts["front"]
    assert set(zip(line["x"], line["y"])) == front
    assert line["x"] == sorted(line["x"])          # joined in order along x
    assert legend_count(ax, "Pareto front") == len(line["x"])
    for g in ("trials", "baselines", "over budget"):
        if g in arts:
            assert legend_count(ax, g) == len(arts[g]["x"])
    return arts


# ------------------------------------------------------------------------------------------------
def test_save_figure_is_byte_identical(tmp_path):
    def fig():
        f, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2], "-o", label="a")
        ax.scatter([1, 2], [2, 3], label="b")
        ax.legend()
        return f
    a = save_figure(fig(), tmp_path / "a" / "f", {"k": 1})
    b = save_figure(fig(), tmp_path / "b" / "f.png", {"k": 1})
    assert [p.name for p in a] == ["f.png", "f.svg", "f.json"] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    svg = a[1].read_text()
    assert "<dc:date>" not in svg
    with pytest.raises(ValueError, match="unknown format 'jpg'"):
        save_figure(fig(), tmp_path / "c", formats=("jpg",))


def test_scatter_front_is_computed_in_the_drawn_plane(tmp_path):
    rng = np.random.default_rng(3)
    n = 40
    df = pd.DataFrame({"trial": range(n), "cost": rng.uniform(1, 10, n), "acc": rng.uniform(50, 80, n),
                       "feasible": rng.uniform(size=n) > 0.15, "param_w": range(n),
                       "baseline": [None] * n, "iqr": rng.uniform(0.1, 1, n)})
    df.loc[[5, 9], "cost"] = np.nan                    # no value on this axis: not drawn
    df.loc[[3, 4], "iqr"] = np.nan                     # no spread recorded: no error bar
    df.loc[7, "baseline"] = "studies/specs/base_a.yaml"
    df.loc[8, "baseline"] = "base_b"
    twin = df.iloc[[2]].assign(trial=n, acc=df.loc[2, "acc"] + 1)   # the same configuration, re-scored
    df = pd.concat([df, twin], ignore_index=True)
    files = pareto_scatter(df, "cost", "acc", tmp_path / "f", xlabel="cost (ms)", ylabel="accuracy (%)",
                           directions=("minimize", "maximize"), xerr="iqr")
    assert [f.suffix for f in files] == [".png", ".svg", ".json"]
    ax = read_figure_data(tmp_path / "f")["axes"][0]
    assert (ax["xlabel"], ax["ylabel"]) == ("cost (ms)", "accuracy (%)")
    arts = check_front(ax, ("minimize", "maximize"))
    drawn = sum(len(arts[g]["x"]) for g in ("trials", "baselines", "over budget") if g in arts)
    assert drawn == n - 2                              # two without cost; the twin once
    assert "1 of them scored differently" in ax["legend_title"]
    assert df.loc[2, "acc"] in arts["trials"]["y"] + arts.get("over budget", {"y": []})["y"]   # the first's value
    err = arts["x spread"]
    assert len(err["segments"]) == n - 2 - 2 and legend_count(ax, "IQR") == n - 4
    by_x = df.drop_duplicates("param_w").dropna(subset=["cost", "iqr"]).set_index("cost")["iqr"]
    for (x0, y0), (x1, y1) in err["segments"]:         # full bar length = the IQR, centred
        assert y0 == y1 and x1 - x0 == pytest.approx(by_x[(x0 + x1) / 2])
    labels = [t["text"] for t in ax["texts"] if t["gid"] == "baseline label"]
    assert sorted(labels) == ["base_a", "base_b"]


def _accuracy_study(tmp_path):
    """A real SQLite study of the accuracy kind, trials recorded as a search would, with twins,
    an over-budget trial, baselines and failed trials in between."""
    space_d = {"study": "t_figacc", "base": "sdhrnet_coco",
               "knobs": {"width": {"low": 16, "high": 48, "step": 4}, "block": {"choices": ["basic", "scr"]}},
               "objectives": ["accuracy", "params", {"name": "macs", "profile": "hrnet_paper"}],
               "baselines": ["sdhrnet_coco"], "n_trials": 30,
               "training": {"data": "lspet", "epochs": 2, "limit_train": 1600, "limit_val": 200},
               "latency": {"input_size": "128x96", "repeats": 7}}
    space = SearchSpace.from_dict(space_d)
    study = optuna.create_study(study_name="t_figacc", storage=f"sqlite:///{tmp_path / 's.db'}",
                                directions=["maximize", "minimize", "minimize"])
    study.set_user_attr("objective_names", ["accuracy", "params", "macs[hrnet_paper]"])
    dist = {"width": IntDistribution(16, 48, step=4), "block": CategoricalDistribution(["basic", "scr"])}
    rng = np.random.default_rng(0)
    configs = [(w, b) for w in range(16, 49, 4) for b in ("basic", "scr")]
    for i in range(18):
        w, b = configs[i] if i < 16 else configs[1]      # trials 16, 17 twin trial 1
        if i in (4, 11):
            study.add_trial(create_trial(state=TrialState.FAIL, params={"width": w, "block": b}, distributions=dist))
            continue
        acc = 60 + w / 4 + rng.normal(0, 2) if i < 16 else study.trials[1].values[0]
        params, macs = w ** 2 * 1e4 * (0.6 if b == "scr" else 1), w ** 2 / 300
        attrs = {"params": params, "accuracy": acc, "feasible": params < 1.7e7,   # trial 14 is over
                 **({"baseline": "sdhrnet_coco"} if i == 0 else {})}
        study.add_trial(create_trial(params={"width": w, "block": b}, distributions=dist, values=[acc, params, macs],
                                     user_attrs=attrs))
    return space, study


@pytest.fixture(scope="module")
def accuracy_report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("figacc")
    space, study = _accuracy_study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    # a latency file as older archlab wrote it (no spread, no runtime) plus newer rows with both
    pd.DataFrame({"trial": [0, 1, 2], "latency_ms": [30.0, 20.0, 25.0]}).to_csv(out / "latency.csv", index=False)
    df = trials_table(study)
    lat = measure_sample_latency(space, df, out / "latency.csv", 3,
                                 latency_fn=lambda spec, o: {"median_ms": spec.stages[1].widths[0] / 2.0,
                                                             "iqr_ms": 1.5, "runtime": "test clock"})
    files = pareto_report(space, study, out)
    return study, out, lat, files


def test_accuracy_report_figures(accuracy_report):
    study, out, lat, files = accuracy_report
    assert list(lat.columns[:4]) == ["trial", "latency_ms", "latency_iqr_ms", "latency_runtime"]
    assert lat.set_index("trial").loc[[0, 1, 2], "latency_ms"].tolist() == [30.0, 20.0, 25.0]   # kept
    assert lat["latency_iqr_ms"].isna().sum() == 3 and (lat["latency_iqr_ms"].dropna() == 1.5).all()
    assert read_latency_csv(out / "latency.csv").equals(lat)
    assert {"accuracy_vs_params", "accuracy_vs_macs[hrnet_paper]", "accuracy_vs_latency_ms", "bubble"} <= set(files)

    ax = read_figure_data(out / "accuracy_vs_latency_ms")["axes"][0]
    arts = check_front(ax, ("minimize", "maximize"))
    assert sum(len(arts[g]["x"]) for g in ("trials", "baselines", "over budget") if g in arts) == \
        len(set(lat["trial"]) - {16, 17})                       # twins of trial 1 (measured) drawn once
    assert len(arts["x spread"]["segments"]) == int(lat.set_index("trial")["latency_iqr_ms"].notna().sum())
    assert "CPU latency (ms, median of 7)" in ax["xlabel"] and "test clock" in ax["xlabel"]
    assert "search proxy" in ax["ylabel"] and "2 epochs" in ax["ylabel"] and "1,600" in ax["ylabel"]

    ax = read_figure_data(out / "accuracy_vs_params")["axes"][0]
    arts = check_front(ax, ("minimize", "maximize"))
    assert ax["xlabel"] == "parameters (M)"
    assert max(arts["trials"]["x"]) < 100                       # drawn in millions
    assert ax["legend_title"].startswith("2 twin trial(s) (same configuration) drawn once")
    assert "scored differently" not in ax["legend_title"]     # trials 16, 17 repeat trial 1's score
    assert sum(len(arts[g]["x"]) for g in ("trials", "baselines", "over budget")) == 16 - 2
    assert legend_count(ax, "over budget") == 1

    bub = read_figure_data(out / "bubble")
    left, right = bub["axes"]
    assert "hrnet_paper" not in left["xlabel"] and "convention" in left["xlabel"]
    for conv in bub["reference"]["gflops_convention"]:
        marker = artists(left)[f"paper: {conv}"]
        assert legend_count(left, {"hrnet_paper": "HRNet's", "litehrnet_paper": "Lite-HRNet's",
                                   "as_cited": "cited"}[conv]) == len(marker["x"])
    lite = [g for g, m in zip(bub["reference"]["gflops"], bub["reference"]["method"]) if m == "Lite-HRNet"]
    assert sorted(artists(left)["paper: litehrnet_paper"]["x"]) == sorted(lite)
    assert "proxy" in right["ylabel"] and right["xlabel"].startswith("multiply-adds [hrnet_paper")


def test_hypervolume_figure_breaks_at_failed_trials(accuracy_report):
    _, tmp_path, _, _ = accuracy_report
    d = read_figure_data(tmp_path / "hypervolume")
    ax = d["axes"][0]
    line, failed = artists(ax)["hypervolume"], artists(ax)["failed"]
    assert failed["x"] == [4, 11] and legend_count(ax, "failed") == 2
    assert line["x"] == list(range(18))
    assert [i for i, v in enumerate(line["y"]) if v is None] == [4, 11]     # the line is broken there
    done = [v for v in line["y"] if v is not None]
    assert all(b >= a for a, b in zip(done, done[1:])) and legend_count(ax, "after each") == len(done) == 16
    ref = next(t["text"] for t in ax["texts"] if t["gid"] == "reference")
    assert re.search(r"accuracy [\d.]+ %, params [\d.]+ M, macs\[hrnet_paper\] [\d.]+ GFLOPs", ref)
    assert "(% × M params × GFLOPs [hrnet_paper])" in ax["ylabel"]
    hv = pd.read_csv(tmp_path / "hypervolume.csv")
    assert np.allclose(np.array(done) * 1e6, hv["hypervolume"])


def test_cost_search_figures(tmp_path):
    """A real cost-only search (params maximised) with near-identical baselines, plus latency."""
    space_d = yaml.safe_load((ROOT / "studies" / "search_cost.yaml").read_text())
    space_d.update(study="t_figcost", n_trials=14, sampler={"type": "nsga2", "seed": 0, "population_size": 8},
                   baselines=["sdhrnet_coco", "sdhrnet_coco_scr", "sdhrnet_coco_dasp", "hrnet_w32_coco"])
    space = SearchSpace.from_dict(space_d)
    study = run_search(space, run_dir=tmp_path / "run", progress=False)
    rng = np.random.default_rng(1)
    files = pareto_report(space, study, tmp_path / "out", latency_sample=3,
                          latency_fn=lambda spec, o: {"median_ms": float(rng.uniform(10, 20)), "iqr_ms": 0.5})
    assert {"front", "latency_vs_params", "latency_vs_macs", "hypervolume"} <= set(files)
    ax = read_figure_data(tmp_path / "out" / "pareto_front")["axes"][0]
    check_front(ax, ("maximize", "minimize"))
    assert ax["xlabel"] == "parameters (M), maximised" and "parameters maximised" in ax["title"]
    boxes = [t["bbox"] for t in ax["texts"] if t["gid"] == "baseline label"]
    assert len(boxes) == 4
    for i, a in enumerate(boxes):                       # no two labels print on top of each other
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for name, dirs in (("latency_vs_params", ("maximize", "minimize")), ("latency_vs_macs", ("minimize", "minimize"))):
        ax = read_figure_data(tmp_path / "out" / name)["axes"][0]
        arts = check_front(ax, dirs)
        n = sum(len(arts[g]["x"]) for g in ("trials", "baselines", "over budget") if g in arts)
        assert len(arts["y spread"]["segments"]) == n == legend_count(ax, "IQR")


def test_learning_curve_labels_its_protocols(tmp_path):
    spec = importlib.util.spec_from_file_location("train_lspet", ROOT / "studies" / "train_lspet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_PCK@0.2": 0.1 * e, "val_PCKh@0.5": 0.12 * e} for e in (1, 2, 3)]
    mod.learning_curve(rows, tmp_path / "lc.png", {"epoch": 3, "PCK@0.2": 0.33, "PCKh@0.5": 0.4, "flip_test": True})
    ax = read_figure_data(tmp_path / "lc")["axes"][1]
    arts = artists(ax)
    assert arts["val PCK@0.2"]["y"] == pytest.approx([10, 20, 30]) and "no flip test" in arts["val PCK@0.2"]["label"]
    assert arts["final PCK@0.2"]["y"] == pytest.approx([33.0]) and "flip test: 33.0" in arts["final PCK@0.2"]["label"]
    assert not (tmp_path / "lc.svg").exists()


def test_sampled_latency_in_onnxruntime_with_spread(tmp_path):
    """The default latency of a report is measured in ONNX Runtime with its IQR (a real export and
    timing of tiny networks), drawn as error bars; a file of another runtime is not mixed in."""
    from archlab.nets import zoo
    base = tmp_path / "tiny.yaml"
    zoo.hrnet(width=8, dataset="lspet", modules=(1, 1), blocks=1, input_size=(64, 64), name="tiny").to_yaml(base)
    space = SearchSpace.from_dict({
        "study": "t_figort", "base": str(base), "knobs": {"width": {"low": 8, "high": 16, "step": 4}},
        "objectives": ["params", {"name": "macs", "profile": "hrnet_paper"}], "baselines": [str(base)],
        "sampler": {"type": "nsga2", "seed": 0, "population_size": 4}, "n_trials": 4,
        "latency": {"repeats": 3, "warmup": 1}})
    study = run_search(space, run_dir=tmp_path / "run", progress=False)
    pareto_report(space, study, tmp_path / "out", latency_sample=1)
    lat = read_latency_csv(tmp_path / "out" / "latency.csv")
    assert len(lat) >= 2 and set(lat["latency_runtime"]) == {"onnxruntime"} and (lat["latency_repeats"] == 3).all()
    assert lat["latency_iqr_ms"].notna().all() and (lat["latency_ms"] > 0).all()
    ax = read_figure_data(tmp_path / "out" / "latency_vs_macs")["axes"][0]
    assert "ONNX Runtime" in ax["ylabel"] and "median of 3" in ax["ylabel"]
    n = len(set(study.trials[t].params["width"] for t in lat["trial"]))
    assert len(artists(ax)["y spread"]["segments"]) == n
    old = tmp_path / "old"
    old.mkdir()
    pd.DataFrame({"trial": [0], "latency_ms": [5.0]}).to_csv(old / "latency.csv", index=False)
    with pytest.raises(ValueError, match="runtime not recorded; measuring more with ONNX Runtime would mix"):
        pareto_report(space, study, old, latency_sample=1)
