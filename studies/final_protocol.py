"""The final training protocol of the LSPET search study (issue: a search whose accuracy ranks models).

Every model compared is trained the same way, on CPU, in resumable one-epoch chunks:

* LSPET splits ``fit`` (images 1-7000) to train, ``search_val`` (7001-8000) to validate after
  every epoch (learning curves; the only split a search or a selection step may look at), and
  ``report_test`` (8001-9000) scored **once** per finished run, with flip test, on the last epoch's
  weights (no checkpoint selection);
* input 128x96, batch 32, Adam lr 1e-3, step decay x0.1 at the paper's 170/210 and 200/210 of the
  epochs, ``EPOCHS`` epochs, the standard augmentation of :mod:`archlab.train`, 1 torch thread and
  1 loader worker for every run (recorded in ``protocol.json``).

Runs live in ``reports/search_lspet/runs/<model>/seed<k>/`` (metrics, config and, while a run is
unfinished, ``last.pt`` so the next session resumes it). Commands::

    python studies/final_protocol.py queue --minutes 120     # train the queue in order, resumably
                                                             # (one such process per core: each
                                                             # trains a run the others do not hold)
    python studies/final_protocol.py run litehrnet_18 --seed 0 --stop-epoch 3
    python studies/final_protocol.py summary                 # results.csv / results.md

``queue`` stops between epochs once ``--minutes`` are spent (a kill loses at most
``checkpoint_every`` steps). ``summary`` reports mean +- std of report-test PCK@0.2 over seeds and
the pooled seed std; a difference under twice the pooled std is written as a tie.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "search_lspet"
EPOCHS = 10
THREADS = 1
PROTOCOL = {"data": "lspet", "train_split": "fit", "val_split": "search_val", "test_split": "report_test",
            "input_size": [128, 96], "epochs": EPOCHS, "batch": 32, "lr": 1e-3, "workers": 1,
            "threads": THREADS, "checkpoint_every": 50, "report_flip_test": True,
            "report_weights": "last epoch (no selection)"}

SPECS = ROOT / "studies" / "specs"
#: random draws of the space in the rank-fidelity set (span_5 and span_6 added 2026-12-07, when the
#: 12 models' tau intervals were still ~0.7 wide: more models is what narrows them)
N_SPAN = 7
#: models of the study: short name -> zoo name or spec YAML (joints/input are set by the protocol)
MODELS = {
    "litehrnet_18": "litehrnet_18_coco",
    "sdhrnet_w16_small": "studies/specs/sdhrnet_w16_small_lspet.yaml",
    "hrnet_w16_small": "studies/specs/hrnet_w16_small_lspet.yaml",
    "sdhrnet_scr_w16_small": "studies/specs/sdhrnet_scr_w16_small_lspet.yaml",
    "litehrnet_30": "litehrnet_30_coco",
    # random draws that span studies/search_lspet.yaml (studies/draw_specs.py, seed 0, <= 0.3 GMACs):
    # the rank-fidelity set needs >= 10 architectures besides the search's own picks
    **{f"span_{k}": f"studies/specs/span_{k}.yaml" for k in range(N_SPAN)},
    # the search's picks (``picks`` below writes them), trained with 3 seeds each
    **{p.stem: f"studies/specs/{p.name}" for p in sorted(SPECS.glob("pick_*.yaml"))},
}
PICKS = [m for m in MODELS if m.startswith("pick_")]
#: the hand-designed models every accuracy figure shows; any other model came from the search space
BASELINES = frozenset({"litehrnet_18", "sdhrnet_w16_small", "hrnet_w16_small", "sdhrnet_scr_w16_small",
                       "litehrnet_30"})
SPACE = ROOT / "studies" / "search_lspet.yaml"


def budget_name(budget: dict) -> str:
    """The name of a rung budget (``{epochs, limit_train, milestones}``), the column its scores get:
    ``rung_1ep_1750``; ``rung_2ep_3500_d1`` decays the learning rate after epoch 1; ``rung_10ep_all``.

    >>> budget_name({"epochs": 2, "limit_train": 3500, "milestones": [1]})
    'rung_2ep_3500_d1'
    """
    name = f"rung_{budget['epochs']}ep_{budget.get('limit_train') or 'all'}"
    if budget.get("milestones"):
        name += "_d" + "-".join(str(m) for m in budget["milestones"])
    return name


def halving_plan():
    from archlab.search import SearchSpace
    plan = SearchSpace.from_yaml(SPACE).halving
    if plan is None:
        raise SystemExit(f"{SPACE}: no halving section")
    return plan


def search_score() -> str:
    """The cheap score the search acts on (its rank fidelity is the verdict's ``kendall_tau``): the
    first rung of studies/search_lspet.yaml, as written there (milestones included), measured for
    every model by studies/rung_scores.py with the search's own training function."""
    return budget_name(halving_plan().rungs[0].budget())


#: training order: the seed-noise pair first (3 seeds of Lite-HRNet-18 and one other), the spanning
#: models, then seed 0 of every search pick (the rank-fidelity table and a first look at the verdict
#: need one run each), then the second seed of every one-seed model, cheapest first (item 2: two
#: seeds for every model compared), then the picks' third seeds, and the last span draws last
#: (span_6, the cheaper, before span_5)
QUEUE = [("litehrnet_18", 0), ("litehrnet_18", 1), ("sdhrnet_w16_small", 0), ("litehrnet_18", 2),
         ("hrnet_w16_small", 0), ("sdhrnet_w16_small", 1), ("sdhrnet_scr_w16_small", 0), ("litehrnet_30", 0),
         ("sdhrnet_w16_small", 2), *((f"span_{k}", 0) for k in range(3)), *((m, 0) for m in PICKS),
         # item 2: at least 2 seeds for every model compared, before more models; cheapest first
         *((m, 1) for m in ("pick_2", "hrnet_w16_small", "pick_1", "sdhrnet_scr_w16_small", "pick_0",
                            "span_0", "span_1", "litehrnet_30")),
         *((m, 2) for m in PICKS), *((m, s) for s in range(2) for m in ("span_3", "span_4")),
         *((m, s) for s in range(2) for m in ("span_6", "span_5"))]


def model_source(model: str) -> str:
    """A study model's zoo name, or its spec YAML as an absolute path."""
    if model not in MODELS:
        raise SystemExit(f"unknown model {model!r}; the study's models: {', '.join(MODELS)}")
    src = MODELS[model]
    return str(ROOT / src) if src.endswith(".yaml") else src


def model_spec(model: str):
    """The spec of a study model at the protocol's input size and LSPET's 14 joints."""
    import archlab
    return archlab.resolve_spec(model_source(model), num_joints=14, input_size=tuple(PROTOCOL["input_size"]))


def run_dir(model: str, seed: int) -> Path:
    return OUT / "runs" / model / f"seed{seed}"


def make_config(model: str, seed: int, stop_epoch=None, data_root=None):
    from archlab.train import TrainConfig
    src = model_source(model)
    d = run_dir(model, seed)
    p = PROTOCOL
    return TrainConfig(model=src, data=p["data"], data_root=data_root, input_size=tuple(p["input_size"]),
                       epochs=p["epochs"], batch=p["batch"], lr=p["lr"], workers=p["workers"], seed=seed,
                       device="cpu", out=str(d), resume=(d / "last.pt").is_file(), stop_epoch=stop_epoch,
                       checkpoint_every=p["checkpoint_every"], train_split=p["train_split"],
                       val_split=p["val_split"], progress=False, threads=THREADS)


def read_metrics(folder: Path) -> list[dict]:
    """The per-epoch rows of a training run's ``metrics.jsonl`` in ``folder`` ([] before its first
    epoch): :func:`archlab.train.read_metrics`."""
    from archlab.train import read_metrics as rows
    return rows(folder)


def epochs_done(model: str, seed: int) -> int:
    return max((int(r["epoch"]) for r in read_metrics(run_dir(model, seed))), default=0)


def report_test(model: str, seed: int, data_root=None) -> dict:
    """Score the finished run once on report-test (flip test, last-epoch weights); cached."""
    from archlab.train import evaluate
    d = run_dir(model, seed)
    out = d / "report_test.json"
    if out.is_file():
        return json.loads(out.read_text())
    m = evaluate(d / "last.pt", data="lspet", data_root=data_root, split=PROTOCOL["test_split"],
                 flip_test=PROTOCOL["report_flip_test"], batch=32, workers=0)
    res = {"model": model, "seed": seed, "n": m["n"], "PCK@0.2": 100 * m["PCK@0.2"],
           "PCKh@0.5": 100 * m["PCKh@0.5"], "split": PROTOCOL["test_split"], "flip_test": True,
           "weights": PROTOCOL["report_weights"]}
    out.write_text(json.dumps(res, indent=2) + "\n")
    slim_checkpoint(d)
    return res


def slim_checkpoint(d: Path) -> Path:
    """``model.pt`` (weights + spec + config, ~4x smaller than ``last.pt``, evaluable with
    ``archlab eval`` and timeable with ``archlab latency``) for a finished run; ``last.pt`` goes."""
    from archlab.train import load_checkpoint, save_atomic
    ck = load_checkpoint(d / "last.pt")
    out = save_atomic({"format": "archlab-model", "version": 1, "model": ck["model"], "spec": ck["spec"],
                       "config": ck["config"], "epoch": ck["epoch"], "best": ck.get("best")}, d / "model.pt")
    (d / "last.pt").unlink()
    return out


def train_chunk(model: str, seed: int, epochs: int = 1, data_root=None) -> int:
    """Train ``epochs`` more epochs of one run (resuming); score report-test when it finishes."""
    from archlab.train import train
    done = epochs_done(model, seed)
    if done < EPOCHS:
        stop = min(EPOCHS, done + epochs)
        cfg = make_config(model, seed, stop_epoch=stop, data_root=data_root)
        t0 = time.time()
        train(cfg)
        print(f"{model} seed {seed}: epochs {done + 1}-{stop} of {EPOCHS} in {time.time() - t0:.0f} s", flush=True)
    if epochs_done(model, seed) >= EPOCHS:
        r = report_test(model, seed, data_root)
        print(f"{model} seed {seed}: report-test PCK@0.2 {r['PCK@0.2']:.2f}", flush=True)
    return epochs_done(model, seed)


def _claim(model: str, seed: int):
    """An exclusive, non-blocking lock on one run's folder (``.lock``, released when the process
    ends), so several ``queue`` processes -- one per core -- train different runs; None if taken."""
    import fcntl
    d = run_dir(model, seed)
    d.mkdir(parents=True, exist_ok=True)
    f = (d / ".lock").open("w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


def finished(model: str, seed: int) -> bool:
    return epochs_done(model, seed) >= EPOCHS and (run_dir(model, seed) / "report_test.json").is_file()


#: seeds a claim about a model needs (the verdict's rule)
CLAIM_SEEDS = 3
BASELINE = "litehrnet_18"


def claim_runs(rows=None, latency=None) -> list:
    """``(model, seed)`` runs that go before :data:`QUEUE`: the missing seeds of every searched
    model whose report-test mean is ahead of Lite-HRNet-18's by more than twice the pooled seed
    std, at no more measured latency (``latency``: model -> slower than the baseline; default
    from ``latency.csv``): the verdict can only name such a model once it has :data:`CLAIM_SEEDS`
    seeds."""
    from archlab.search.rank import pooled_std, verdict
    scores: dict = {}
    for r in collect() if rows is None else rows:
        if r.get("report_test_PCK@0.2") is not None:
            scores.setdefault(r["model"], []).append(r["report_test_PCK@0.2"])
    if BASELINE not in scores:
        return []
    if latency is None:
        latency = _slower_than_baseline()
    base, noise = sum(scores[BASELINE]) / len(scores[BASELINE]), pooled_std(scores.values())
    out = []
    for model, got in scores.items():
        if model in BASELINES or len(got) >= CLAIM_SEEDS or latency.get(model, False):
            continue
        if verdict(sum(got) / len(got), base, noise) == "A beats B":
            out += [(model, s) for s in range(CLAIM_SEEDS) if not finished(model, s)]
    return out


def _slower_than_baseline() -> dict:
    """model -> whether ``latency.csv`` measured it slower than Lite-HRNet-18: the median of the
    per-round ratios of one interleaved timing above 1, or, without ratios, its median above."""
    f = OUT / "latency.csv"
    if not f.is_file():
        return {}
    import pandas as pd
    lat = pd.read_csv(f).set_index("model")
    if BASELINE not in lat.index:
        return {}
    base = lat.loc[BASELINE, "latency_ms"]
    return {m: not no_slower(r.get("ratio_to_baseline"), r["latency_ms"], base) for m, r in lat.iterrows()}


def no_slower(ratio, ms, base_ms) -> bool:
    """At no more ONNX Runtime latency than the baseline: the median of the per-round ratios of one
    interleaved timing at most 1 where it was measured, else the two medians."""
    if ratio is not None and ratio == ratio:
        return ratio <= 1.0
    return base_ms is not None and base_ms == base_ms and ms is not None and ms == ms and ms <= base_ms


def cmd_queue(a) -> int:
    """Train the queue in order for at most ``--minutes`` (:func:`claim_runs` first, looked up
    again after every finished run); runs another process holds are skipped."""
    t_end = time.time() + 60 * a.minutes
    while True:
        todo = [r for r in claim_runs() + QUEUE if not finished(*r)]
        took = _train_first_free(todo, t_end, a.data_root)
        if took is None:
            break
        if took == "time":
            print("time budget spent; run the same command again to continue", flush=True)
            return 0
    print("queue finished")
    return 0


def _train_first_free(todo: list, t_end: float, data_root):
    """Train the first run of ``todo`` no other process holds to its end: the run, ``'time'`` if
    the budget ran out first, or None when every run is taken or none is left."""
    for model, seed in todo:
        if finished(model, seed):
            continue
        lock = _claim(model, seed)
        if lock is None:
            continue
        with lock:
            while not finished(model, seed):
                if time.time() >= t_end:
                    return "time"
                train_chunk(model, seed, 1, data_root)
        return (model, seed)
    return None


def collect() -> list:
    rows = []
    for model in MODELS:
        for d in sorted((OUT / "runs" / model).glob("seed*")):
            seed = int(d.name[4:])
            row = {"model": model, "seed": seed, "epochs_done": epochs_done(model, seed)}
            for r in read_metrics(d):
                if r.get("val_PCK@0.2") is not None:
                    row[f"search_val_e{r['epoch']}"] = 100 * r["val_PCK@0.2"]
            if (d / "report_test.json").is_file():
                row["report_test_PCK@0.2"] = json.loads((d / "report_test.json").read_text())["PCK@0.2"]
            rows.append(row)
    return rows


def plateau_lines(df) -> list[str]:
    """How near their plateau the finished runs are: search-val gain per epoch at constant LR
    (epochs 5-8) and the gain of the last epoch (after the decay)."""
    e = EPOCHS
    cols = [f"search_val_e{k}" for k in (5, 8, e - 1, e)]
    fin = df[df["epochs_done"] >= e].dropna(subset=[c for c in cols if c in df]) if set(cols) <= set(df) else df[:0]
    if fin.empty:
        return []
    per_epoch = (fin["search_val_e8"] - fin["search_val_e5"]) / 3
    last = fin[f"search_val_e{e}"] - fin[f"search_val_e{e - 1}"]
    return ["## How near the plateau (search-val PCK@0.2, finished runs)", "",
            f"At constant LR (epochs 5-8) the runs still gain {per_epoch.mean():.2f} points per epoch "
            f"(range {per_epoch.min():.2f} to {per_epoch.max():.2f}, {len(fin)} runs); the last epoch, after "
            f"the decay, gains {last.mean():.2f} (range {last.min():.2f} to {last.max():.2f}). {e} epochs "
            "is therefore not a plateau: the final scores rank models at this budget, and a longer "
            "protocol could reorder close ones.", ""]


def cmd_summary(a) -> int:
    import pandas as pd
    from archlab.search.rank import pooled_std
    for model in MODELS:     # finished runs keep a slim model.pt instead of last.pt
        for d in sorted((OUT / "runs" / model).glob("seed*")):
            if (d / "report_test.json").is_file() and (d / "last.pt").is_file() and not (d / "model.pt").is_file():
                slim_checkpoint(d)
    rows = collect()
    if not rows:
        print("no runs yet", file=sys.stderr)
        return 1
    df = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / "runs.csv", index=False)
    (OUT / "protocol.json").write_text(json.dumps(PROTOCOL, indent=2) + "\n")
    lines = ["# Final-protocol runs so far", "", "Protocol: " + json.dumps(PROTOCOL), "",
             df.to_markdown(index=False, floatfmt=".2f"), ""]
    if "report_test_PCK@0.2" in df:
        fin = df.dropna(subset=["report_test_PCK@0.2"])
        groups = [list(g["report_test_PCK@0.2"]) for _, g in fin.groupby("model")]
        agg = fin.groupby("model")["report_test_PCK@0.2"].agg(["mean", "std", "count"])
        lines += ["## report-test PCK@0.2 (flip test), mean +- std over seeds", "",
                  agg.to_markdown(floatfmt=".2f"), "",
                  f"Pooled seed std: {pooled_std(groups):.2f} points (models with >= 2 seeds). "
                  "A difference under twice this is a tie.", ""]
    lines += plateau_lines(df)
    (OUT / "runs.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def measured_latency(specs: list) -> list:
    """ONNX Runtime latency (:class:`~archlab.cost.runtime.RuntimeLatency`) of ``specs`` at the
    protocol's input, batch 1, 1 thread: all of them in one interleaved timing (21 rounds after 3
    warm-ups, the order rotating, so a change of the machine's load hits all alike), seeded weights."""
    import torch
    import archlab
    from archlab.cost.runtime import measure_many
    modules = []
    for s in specs:
        torch.manual_seed(0)
        modules.append(archlab.create_model(s.replace(input_size=tuple(PROTOCOL["input_size"]))).eval())
    return measure_many(modules, "onnxruntime", batch=1, threads=1, repeats=21, warmup=3, progress=True)


def _pick_latencies(pool: list, done0: list, space, measure: bool) -> tuple[dict, float, str]:
    """``({trial number: ms}, Lite-HRNet-18's ms, what the ms are)``: predicted (the trials' own
    ``latency_ms``, the baseline trial of rung 0) or measured now, the baseline in the same run."""
    import optuna
    if measure:
        specs = [space.suggest(optuna.trial.FixedTrial(t.params)) for t in pool]
        ms = [r.median_ms for r in measured_latency([model_spec("litehrnet_18")] + specs)]
        return {t.number: m for t, m in zip(pool, ms[1:])}, ms[0], "measured ONNX Runtime median"
    base = [t.user_attrs["latency_ms"] for t in done0 if "litehrnet_18" in str(t.user_attrs.get("baseline", ""))
            and "latency_ms" in t.user_attrs]
    if not base:
        raise SystemExit("rung 0: the Lite-HRNet-18 baseline has no finished trial with a latency yet")
    return {t.number: t.user_attrs.get("latency_ms", float("inf")) for t in pool}, base[0], "predicted"


def _write_pick_table(pool: list, lat: dict, limit: float, what: str, picks: list, rule: str) -> None:
    import pandas as pd
    chosen = {t.number: i for i, t in enumerate(picks)}
    rows = [{"trial": t.number, "accuracy": t.values[0],
             "predicted_ms": t.user_attrs.get("latency_ms"), "latency_ms": lat[t.number], "latency_is": what,
             "limit_ms": limit, "within_limit": lat[t.number] <= limit, "params": t.user_attrs.get("params"),
             "pick": chosen.get(t.number), "rule": rule} for t in pool]
    pd.DataFrame(rows).sort_values("trial").to_csv(OUT / "picks.csv", index=False)


def cmd_picks(a) -> int:
    """The search's picks from the finished trials of halving rung ``--rung``, among configurations
    no slower than Lite-HRNet-18 times ``1 + --latency-slack``: predicted (the baseline trial of
    rung 0, where every baseline is), or with ``--measure`` timed now in ONNX Runtime, every
    candidate and Lite-HRNet-18 in one interleaved run (the deliverable's test is measured latency;
    the predictor's error differs by block family). ``--by accuracy`` (default) takes the best
    search-val accuracy within that limit -- the deliverable asks for more accuracy at no more
    latency, so once the limit holds, smaller or faster is worth nothing more; ``--by pareto``
    applies the halving's own rule (Pareto layers over accuracy, latency, parameters, cut by
    accuracy), which spends picks on the fastest and smallest networks. Twins count once. Writes
    ``studies/specs/pick_<i>.yaml`` and ``picks.csv`` (every candidate: accuracy, predicted and
    used latency, within the limit, pick); the queue then trains each pick with 3 seeds."""
    import optuna
    from archlab.search import SearchSpace
    from archlab.search.halving import promote, rung_study_name
    from archlab.search.storage import load_run_study
    space = SearchSpace.from_yaml(SPACE)
    rung = a.rung if a.rung is not None else max(0, len(halving_plan().rungs) - 2)
    storage = load_run_study(space, a.run_dir, a.storage)._storage  # noqa: SLF001
    done = {r: optuna.load_study(study_name=rung_study_name(space, r), storage=storage).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) for r in {0, rung}}
    pool = [t for t in done[rung] if "baseline" not in t.user_attrs and t.user_attrs.get("feasible", True)]
    lat, base, what = _pick_latencies(pool, done[0], space, a.measure)
    limit = base * (1 + a.latency_slack)
    print(f"latency limit ({what}): {limit:.2f} ms = Lite-HRNet-18 {base:.2f} ms x {1 + a.latency_slack:.2f}")
    directions = [o.direction for o in space.objectives]
    if a.by == "accuracy":
        if space.objectives[0].name != "accuracy":
            raise SystemExit(f"--by accuracy: the space's first objective is {space.objectives[0].name}, not accuracy")
        directions = directions[:1]
    picks = promote([t for t in pool if lat[t.number] <= limit], a.k, directions)
    _write_pick_table(pool, lat, limit, what, picks, a.by)
    if not picks:
        raise SystemExit(f"rung {rung}: no finished searched configuration is within {limit:.2f} ms ({what})")
    for old in SPECS.glob("pick_*.yaml"):      # an earlier pick list is replaced whole
        old.unlink()
    for i, t in enumerate(picks):
        spec = space.suggest(optuna.trial.FixedTrial(t.params)).replace(name=f"pick_{i}")
        out = SPECS / f"pick_{i}.yaml"
        out.write_text(f"# search pick {i}: trial {t.number} of halving rung {rung} (values {list(t.values)}; "
                       f"{what} {lat[t.number]:.2f} ms, limit {limit:.2f})\n" + spec.to_yaml())
        print(f"pick_{i}: trial {t.number}, values {list(t.values)}, {what} {lat[t.number]:.2f} ms -> {out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None, help="shared data folder (default: $ARCHLAB_DATA or ../shared/data)")
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queue", help="train the queue in order, resumably, for at most --minutes")
    q.add_argument("--minutes", type=float, default=60.0)
    r = sub.add_parser("run", help="train one run (resuming) for --epochs more epochs")
    r.add_argument("model", choices=sorted(MODELS))
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--epochs", type=int, default=EPOCHS)
    sub.add_parser("summary", help="write runs.csv / runs.md from the run folders")
    k = sub.add_parser("picks", help="write the search's picks (studies/specs/pick_<i>.yaml) from a halving rung")
    k.add_argument("--run-dir", default=str(OUT / "search"))
    k.add_argument("--storage", default=None, help="Optuna storage URL (default: the run folder's)")
    k.add_argument("--rung", type=int, default=None,
                   help="halving rung to pick from (default: the last one before the final protocol's)")
    k.add_argument("-k", type=int, default=3, help="how many configurations to pick")
    k.add_argument("--latency-slack", type=float, default=0.0,
                   help="admit configurations up to this fraction slower than Lite-HRNet-18 (default 0: the "
                        "verdict asks for no more latency)")
    k.add_argument("--by", choices=("accuracy", "pareto"), default="accuracy",
                   help="accuracy: the best search-val accuracy within the latency limit (default); pareto: "
                        "the halving's promotion rule over all objectives")
    k.add_argument("--measure", action="store_true",
                   help="filter on ONNX Runtime latency measured now (candidates and Lite-HRNet-18 interleaved), "
                        "not on the predictor's")
    a = p.parse_args(argv)
    if a.cmd == "queue":
        return cmd_queue(a)
    if a.cmd == "picks":
        return cmd_picks(a)
    if a.cmd == "run":
        lock = _claim(a.model, a.seed)
        if lock is None:
            raise SystemExit(f"{a.model} seed {a.seed}: another process is training this run")
        with lock:
            train_chunk(a.model, a.seed, a.epochs, a.data_root)
        return 0
    return cmd_summary(a)


if __name__ == "__main__":
    sys.exit(main())
