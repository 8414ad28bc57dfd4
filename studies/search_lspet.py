"""The LSPET search study's report: final-protocol scores, seed noise, rank fidelity, figures, verdict.

Reads what the runs recorded (``studies/final_protocol.py`` run folders, the zero-cost scores CSV,
the measured ONNX Runtime latencies) and writes ``reports/search_lspet/``:

    results.csv / results.md     report-test PCK@0.2 (flip test) mean +- std over seeds per model,
                                 seed counts, parameters, multiply-adds, ONNX Runtime latency
    score_noise.csv / .md        each score's seed std against its spread across models
    rank_fidelity.csv / .md      Kendall tau and Spearman rho (bootstrap 95% intervals) of every
                                 cheap score against the final score, with tau per CPU-hour
    accuracy_vs_latency.png      final-protocol accuracy (error bars: seed std) against ONNX Runtime
                                 latency (error bars: IQR); the front is computed in this plane
    proxy_vs_final.png           each cheap score against the final score, tau printed on it
    fidelity_curve.csv / .png    tau of search-val after k final-protocol epochs against CPU-hours
                                 per model, the rung scores beside it
    verdict.json                 the issue's deliverable keys (``status`` says whether it is final)

(the figures are drawn by ``studies/search_lspet_figures.py``).

Regenerate everything from the recorded results with one command (no training, no timing)::

    python studies/search_lspet.py
    python studies/search_lspet.py --measure-latency     # also time missing models (ONNX Runtime)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import final_protocol as fp  # noqa: E402

from archlab.search.ceiling import noise_free_tau, reliability, seeds_for_tau, tau_ceiling  # noqa: E402
from archlab.search.rank import extrapolate_curve, fidelity_table, pooled_std, verdict  # noqa: E402
from search_lspet_figures import TAU_GOAL, accuracy_figure, fidelity_curve_figure, proxy_figure  # noqa: E402

BASELINE = fp.BASELINE
FINAL = "report_test_PCK@0.2"
#: seeds a model needs before a claim about it is made (issue 11 item 2)
CLAIM_SEEDS = fp.CLAIM_SEEDS


def run_metrics(model: str, seed: int) -> list[dict]:
    return fp.read_metrics(fp.run_dir(model, seed))


def cheap_scores(model: str, seed: int = 0) -> dict:
    """Scores a search could act on, read from the first epochs of the seed-0 run: search-val
    PCK@0.2 after k epochs (a longer proxy each), the summed training loss of the first k epochs
    (lower is better: negated), the search-val curve of the first k epochs extrapolated to the
    protocol's last epoch (``extrap_e<k>``, a + b log(epoch)), and the CPU-hours each cost."""
    rows = run_metrics(model, seed)
    out = {}
    for k in (1, 2, 3, 5):
        first = [r for r in rows if int(r["epoch"]) <= k]
        if len(first) < k:
            break
        val, cpu = _after_epochs(first)
        if val == val:
            out[f"search_val_e{k}"] = val
        out[f"neg_loss_sum_e{k}"] = -sum(r["train_loss"] for r in first)
        if k >= 3:
            curve = [100 * r["val_PCK@0.2"] if r.get("val_PCK@0.2") is not None else math.nan for r in first]
            out[f"extrap_e{k}"] = extrapolate_curve(curve, fp.EPOCHS)
        out[f"cpu_h_e{k}"] = cpu
    return out


def _after_epochs(first: list) -> tuple[float, float]:
    """``(search-val PCK@0.2 in %, CPU-hours)`` after the metrics rows ``first`` (NaN score where
    the last epoch was not validated)."""
    val = first[-1].get("val_PCK@0.2")
    cpu = sum(r.get("epoch_time_s", 0) + (r.get("val_time_s") or 0) for r in first) / 3600
    return (100 * val if val is not None else math.nan), cpu


def spec_costs(model: str) -> dict:
    import archlab
    r = archlab.count(fp.model_spec(model))
    return {"params_M": r.params / 1e6, "GMACs": r.macs / 1e9}


def final_table() -> pd.DataFrame:
    rows = fp.collect()
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    if FINAL not in df:
        df[FINAL] = math.nan
    g = df.groupby("model")
    t = pd.DataFrame({"pck_mean": g[FINAL].mean(), "pck_std": g[FINAL].std(), "seeds_done": g[FINAL].count(),
                      "runs": g["seed"].count()})
    for m in t.index:
        for k, v in {**spec_costs(m), **cheap_scores(m)}.items():
            t.loc[m, k] = v
    return t.reset_index()


#: a timing is quiet when the baseline's IQR over its rounds is at most this share of its median
#: (the two quiet timings of 2026-12-06: 0.6% and 3.3%; five of 2026-12-07, the VM disturbed: 6-35%)
QUIET_IQR = 0.05


def measure_latency(models: list) -> pd.DataFrame:
    """ONNX Runtime latency of ``models`` at the protocol's input, batch 1, 1 thread: every model
    in one interleaved timing (21 rounds after 3 warm-ups, the order rotating), so a change of the
    machine's load hits all alike. Median, IQR and minimum in ms, with the load recorded."""
    import time as _time
    res = fp.measured_latency([fp.model_spec(m) for m in models])
    stamp = _time.strftime("%Y-%m-%d %H:%M UTC", _time.gmtime())
    base = res[models.index(BASELINE)].times_ms if BASELINE in models else None
    rows = []
    for m, r in zip(models, res):
        ratio = paired_ratio(r.times_ms, base) if base else (math.nan,) * 3
        rows.append({"model": m, "latency_ms": r.median_ms, "latency_iqr_ms": r.iqr_ms, "latency_min_ms": r.min_ms,
                     "ratio_to_baseline": ratio[0], "ratio_lo": ratio[1], "ratio_hi": ratio[2],
                     "runtime": "onnxruntime", "threads": 1, "batch": 1, "repeats": 21,
                     "load_avg_1m": r.machine.get("load_avg_1m"), "measured": stamp})
    out = pd.DataFrame(rows)
    out["quiet"] = is_quiet(out)
    return out


def is_quiet(timing: pd.DataFrame) -> bool:
    """Whether one interleaved timing was quiet: the baseline's IQR at most :data:`QUIET_IQR` of
    its median (every model's, in a timing without the baseline)."""
    b = timing[timing["model"] == BASELINE]
    b = b if len(b) else timing
    return bool(len(b)) and bool((b["latency_iqr_ms"] <= QUIET_IQR * b["latency_ms"]).all())


def paired_ratio(times, base, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Median over interleaved rounds of ``times[i] / base[i]`` (the same round: the machine's
    state of that moment hits both), with a 95% bootstrap interval over rounds."""
    import warnings

    import numpy as np
    from scipy import stats
    r = np.asarray(times, dtype=float) / np.asarray(base, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)     # equal ratios: a zero-width interval
        ci = stats.bootstrap((r,), np.median, n_resamples=n_boot, method="percentile",
                             rng=np.random.default_rng(seed)).confidence_interval
    return float(np.median(r)), float(ci.low), float(ci.high)


def record_latency(new: pd.DataFrame) -> bool:
    """Append a timing to ``latency_history.csv`` (every timing, quiet or not) and, if it was quiet
    (:data:`QUIET_IQR`) or there is none yet, make it ``latency.csv``, the one the tables and the
    verdict read. Returns whether ``latency.csv`` was replaced."""
    f, hist = fp.OUT / "latency.csv", fp.OUT / "latency_history.csv"
    both = pd.concat([pd.read_csv(hist), new], ignore_index=True) if hist.is_file() else new
    both.to_csv(hist, index=False)
    if is_quiet(new) or not f.is_file():
        new.to_csv(f, index=False)
        return True
    print(f"latency: not a quiet timing (IQR over {QUIET_IQR:.0%} of the median): kept in latency_history.csv "
          f"only; latency.csv keeps the timing of {pd.read_csv(f)['measured'].iloc[0]}. Time again on a quiet "
          "machine (studies/quiet.sh).", file=sys.stderr)
    return False


def add_latency(t: pd.DataFrame, measure: bool) -> pd.DataFrame:
    """ONNX Runtime latency at the protocol's input, batch 1, 1 thread (median / IQR in ms) from
    ``latency.csv``; ``measure`` re-times every study model first, all in one interleaved run
    (:func:`record_latency`: kept only if quiet)."""
    f = fp.OUT / "latency.csv"
    if measure:
        record_latency(measure_latency(list(fp.MODELS)))
    lat = pd.read_csv(f) if f.is_file() else pd.DataFrame(columns=["model"])
    return t.merge(lat, on="model", how="left") if len(lat) else t


def seed_noise(t: pd.DataFrame) -> float:
    groups = []
    for m in t["model"]:
        groups.append([r[FINAL] for r in fp.collect() if r["model"] == m and FINAL in r and r[FINAL] == r[FINAL]])
    return pooled_std(groups)


def add_zero_cost(t: pd.DataFrame) -> pd.DataFrame:
    """Zero-cost proxy scores (``studies/zero_cost_scores.py``: seed 0) as columns ``zc_<proxy>``."""
    f = fp.OUT / "zero_cost.csv"
    if not f.is_file():
        return t
    z = pd.read_csv(f)
    z = z[z["seed"] == 0] if "seed" in z else z
    wide = z.pivot_table(index="model", columns="proxy", values="score").add_prefix("zc_")
    cpu = z.groupby("proxy")["seconds"].sum() / 3600
    t = t.merge(wide.reset_index(), on="model", how="left")
    t.attrs["zc_cpu_h"] = {f"zc_{p}": float(v) for p, v in cpu.items()}
    return t


def add_legacy_proxy(t: pd.DataFrame) -> pd.DataFrame:
    """The previous search's 2-epoch proxy (``studies/legacy_proxy.py``) as column ``legacy_2ep_1600``."""
    f = fp.OUT / "legacy_proxy.csv"
    if not f.is_file():
        return t
    z = pd.read_csv(f)[["model", "score", "seconds"]]
    attrs = dict(t.attrs)
    t = t.merge(z.rename(columns={"score": "legacy_2ep_1600", "seconds": "legacy_seconds"}), on="model", how="left")
    t.attrs = {**attrs, "legacy_cpu_h": float(z["seconds"].sum() / 3600)}
    return t


#: fewest models (with a final score and the cheap score) a rank-agreement row is computed over
MIN_FIDELITY_MODELS = 4
#: issue 11 item 4: the rank fidelity the score the search acts on should reach
#: cheap scores read from the first epochs of the final-protocol runs (``cheap_scores``)
FROM_FINAL_RUNS = ("search_val_e", "neg_loss_sum_e", "extrap_e")


def fidelity(t: pd.DataFrame) -> pd.DataFrame | None:
    """Rank agreement of every cheap score with the final score, over models with a final score."""
    have = t.dropna(subset=["pck_mean"])
    cols = [c for c in have.columns if c.startswith(("search_val_e", "neg_loss_sum_e", "extrap_e", "zc_", "legacy_2ep", "rung"))]
    cols = [c for c in cols if have[c].notna().sum() >= MIN_FIDELITY_MODELS]    # a score still being measured waits
    if len(have) < MIN_FIDELITY_MODELS or not cols:
        return None
    zc = t.attrs.get("zc_cpu_h", {})
    cost = {c: zc.get(c, math.nan) if c.startswith("zc_") else
            t.attrs.get("legacy_cpu_h", math.nan) if c.startswith("legacy_") else
            t.attrs.get("rung_cpu_h", {}).get(c, math.nan) if c.startswith("rung") else
            have[f"cpu_h_e{c.rsplit('_e', 1)[1]}"].sum() for c in cols}
    return noise_ceiling(fidelity_table(have, "pck_mean", cost), have)


def _checkpoint(model: str):
    """The seed-0 final-protocol checkpoint of ``model`` (path from the repository root, the file
    ``archlab eval`` and ``archlab latency`` take), or None while that run is unfinished."""
    f = fp.run_dir(model, 0) / "model.pt"
    if not (f.is_file() and (fp.run_dir(model, 0) / "report_test.json").is_file()):
        return None
    try:
        return str(f.relative_to(fp.ROOT))
    except ValueError:
        return str(f)


def write_verdict(t: pd.DataFrame, noise: float, fid, curve: pd.DataFrame | None = None) -> dict:
    """verdict.json: a searched model that beats Lite-HRNet-18 on report-test by more than twice the
    pooled seed std at no more ONNX Runtime latency, or none (``status`` says whether it is final)."""
    base = t[t["model"] == BASELINE]
    b_mean = None if base.empty else _num(base["pck_mean"].iloc[0])
    b_lat = None if base.empty or "latency_ms" not in base else _num(base["latency_ms"].iloc[0])
    tau = None
    if fid is not None and fp.search_score() in set(fid["score"]):
        tau = _num(fid.loc[fid["score"] == fp.search_score(), "tau"].iloc[0])
    out = {"status": None, "winner": None, "winner_checkpoint": None,
           "baseline_checkpoint": _checkpoint(BASELINE), "winner_pck_mean": None, "winner_pck_std": None,
           "winner_latency_ratio": None, "winner_origin": None,
           "baseline_pck_mean": b_mean, "baseline_pck_std": None if base.empty else _num(base["pck_std"].iloc[0]),
           "kendall_tau": tau, "search_score": fp.search_score(),
           "n_models": int(t["pck_mean"].notna().sum()),
           "seeds": {m: int(n) for m, n in zip(t["model"], t["seeds_done"])},
           "pooled_seed_std": _num(noise), "protocol": fp.PROTOCOL}
    out["ahead_needing_seeds"] = []
    for _, row in t[~t["model"].isin(fp.BASELINES)].dropna(subset=["pck_mean"]).iterrows():
        faster = fp.no_slower(row.get("ratio_to_baseline"), row.get("latency_ms"), b_lat)
        if not (faster and verdict(row["pck_mean"], b_mean if b_mean is not None else math.nan, noise) == "A beats B"):
            continue
        if row["seeds_done"] < CLAIM_SEEDS:      # a claim needs 3 seeds: ahead, but not yet a winner
            out["ahead_needing_seeds"].append(row["model"])
        elif out["winner"] is None or row["pck_mean"] > out["winner_pck_mean"]:
            out.update(winner=row["model"], winner_origin=origin(row["model"]),
                       winner_pck_mean=_num(row["pck_mean"]), winner_pck_std=_num(row["pck_std"]),
                       winner_checkpoint=_checkpoint(row["model"]),
                       winner_latency_ratio=[_num(row.get(k)) for k in ("ratio_to_baseline", "ratio_lo", "ratio_hi")])
    out["kendall_tau_by_rung"] = rung_taus(fid, curve)
    out["status"] = verdict_status(out["seeds"], out["winner"])
    (fp.OUT / "verdict.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def rung_taus(fid, curve) -> list[dict]:
    """The rank fidelity of each rung's score of the search's halving plan: a rung measured in runs
    of its own (``rung_scores.py``) from the fidelity table; the last rung, when it is the final
    protocol's training scored on search-val, from the fidelity curve's last epoch (also against
    seeds >= 1 only, whose noise is independent of the seed-0 run it reads)."""
    out = []
    for i, rung in enumerate(fp.halving_plan().rungs):
        name = fp.budget_name(rung.budget())
        row = {"rung": i, "trains": rung.keep, "budget": name}
        if fid is not None and name in set(fid["score"]):
            f = fid[fid["score"] == name].iloc[0]
            row.update(score=name, tau=_num(f["tau"]), tau_interval=[_num(f["tau_lo"]), _num(f["tau_hi"])],
                       source="runs of its own, seed 0")
        elif (rung.epochs == fp.EPOCHS and rung.limit_train is None and rung.milestones is None
              and curve is not None and fp.EPOCHS in set(curve.get("epoch", []))):
            c = curve[curve["epoch"] == fp.EPOCHS].iloc[0]
            row.update(score=f"search_val_e{fp.EPOCHS}", tau=_num(c["tau"]),
                       tau_interval=[_num(c["tau_lo"]), _num(c["tau_hi"])],
                       tau_other_seeds=_num(c.get("tau_other_seeds")),
                       source="search-val after the last epoch of the seed-0 final runs (the same training)")
        out.append(row)
    return out


def origin(model: str) -> str:
    """Where a study model comes from (the verdict names it for its winner)."""
    if model in fp.PICKS:
        return "a pick of the successive-halving search (final_protocol.py picks)"
    if model.startswith("span_"):
        return "a random draw of the search space (studies/draw_specs.py), trained to span it"
    return "a hand-designed baseline" if model in fp.BASELINES else "another model of the study"


def verdict_status(seeds: dict, winner) -> str:
    """``final`` once a model of the search space beats the baseline with its claim's seeds, or
    every pick of the search has them without one; else how many pick runs are still to go."""
    todo = {p: CLAIM_SEEDS - seeds.get(p, 0) for p in fp.PICKS if seeds.get(p, 0) < CLAIM_SEEDS}
    left = ", ".join(f"{p} {seeds.get(p, 0)}/{CLAIM_SEEDS}" for p in todo)
    rule = f"{BASELINE} by more than twice the pooled seed std at no more latency ({CLAIM_SEEDS} seeds)"
    if winner:
        tail = f"; the picks' runs still to go: {left}" if todo else ""
        return f"final: {winner} ({origin(winner)}) beats {rule}{tail}"
    if not fp.PICKS:
        return "in progress: the search has no picks yet (final_protocol.py picks)"
    if not todo:
        return f"final: every pick ({', '.join(fp.PICKS)}) has {CLAIM_SEEDS} seeds; no model of the space beats {rule}"
    return f"in progress: {sum(todo.values())} final-protocol runs of the search's picks to go (seeds done: {left})"


def fidelity_curve(t: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau (bootstrap interval) against the final score of search-val PCK@0.2 after each
    epoch k of the seed-0 final runs, with the mean CPU-hours per model that k epochs took: how
    much of the final protocol a score needs before it ranks models. These scores come from the
    final runs themselves: against the final mean they share seed 0's noise, which flatters them
    (epoch ``EPOCHS`` is then the final weights scored on the other split), so ``tau_other_seeds``
    also ranks them against the mean report-test score of seeds >= 1 alone (independent noise;
    models with a second seed)."""
    from archlab.search.rank import rank_agreement
    have = t.dropna(subset=["pck_mean"])
    runs = pd.DataFrame(fp.collect())
    later = runs[runs["seed"] > 0].dropna(subset=[FINAL]).groupby("model")[FINAL].mean() if len(runs) else {}
    other = have["model"].map(later).to_numpy(float)      # report-test of seeds >= 1: noise independent of seed 0
    rows = []
    for k in range(1, fp.EPOCHS + 1):
        vals, cpu = [], []
        for m in have["model"]:
            first = [r for r in run_metrics(m, 0) if int(r["epoch"]) <= k]
            v, c = _after_epochs(first) if len(first) == k else (math.nan, math.nan)
            vals.append(v)
            cpu.append(c if v == v else math.nan)
        if sum(v == v for v in vals) >= MIN_FIDELITY_MODELS:
            r = rank_agreement(vals, have["pck_mean"].to_numpy(float))
            rows.append({"epoch": k, "n": r["n"], "tau": r["tau"], "tau_lo": r["tau_lo"], "tau_hi": r["tau_hi"],
                         "cpu_h_per_model": float(pd.Series(cpu).mean())})
            if sum(v == v and o == o for v, o in zip(vals, other)) >= MIN_FIDELITY_MODELS:
                r = rank_agreement(vals, other)
                rows[-1].update({"n_other_seeds": r["n"], "tau_other_seeds": r["tau"],
                                 "tau_other_seeds_lo": r["tau_lo"], "tau_other_seeds_hi": r["tau_hi"]})
    return pd.DataFrame(rows)


def _num(v):
    return None if v is None or v != v else float(v)


def rung_loss_sum(model: str, budget: str, seed: int = 0) -> float:
    """The summed training loss of ``model``'s run on a rung ``budget`` (``rung_scores.py``),
    negated (higher is better, like every score); NaN without its metrics. Read from separate
    runs, unlike ``neg_loss_sum_e<k>``, which shares the final run's seed luck."""
    import rung_scores
    rows = fp.read_metrics(rung_scores.run_folder(model, budget, seed) / "run")
    return -sum(r["train_loss"] for r in rows) if rows else math.nan


#: seeds a rung score is averaged over in its ``<budget>_mean<k>`` column (what a search that
#: trains each configuration that many times would act on)
SEED_MEAN = 3
MEAN_SUFFIX = f"_mean{SEED_MEAN}"


def _budget_cpu_h(z: pd.DataFrame) -> pd.Series:
    """CPU-hours per budget of the rung runs in ``z``: a resumed training's ``cpu_s`` covers its
    last part only, so a budget costs its median run times its runs."""
    return z.groupby("budget")["cpu_s"].agg(lambda x: x.median() * len(x)) / 3600


def _seed_means(scores: list) -> tuple[pd.DataFrame, dict]:
    """``<budget>_mean3``: the mean rung score over seeds 0-2 of every model that has all three
    (NaN otherwise), and each such column's CPU-hours (its budget's median run times its runs)."""
    z = pd.DataFrame(scores).astype({"score": float, "cpu_s": float, "seed": int})
    z = z[z["seed"] < SEED_MEAN]
    full = z.groupby(["budget", "model"]).filter(lambda g: g["seed"].nunique() == SEED_MEAN)
    if full.empty:
        return pd.DataFrame(), {}
    wide = full.pivot_table(index="model", columns="budget", values="score", aggfunc="mean")
    cost = _budget_cpu_h(full)
    return wide.add_suffix(MEAN_SUFFIX), {f"{b}{MEAN_SUFFIX}": float(v) for b, v in cost.items()}


def add_rung_scores(t: pd.DataFrame) -> pd.DataFrame:
    """The search's own rung scores (``studies/rung_scores.py``, seed 0) as columns named by their
    budget (``rung_1ep_1750``), their summed training losses as ``<budget>_loss``, their means over
    seeds 0-2 as ``<budget>_mean3`` (models with all three), with their CPU-hours in
    ``t.attrs['rung_cpu_h']``."""
    import rung_scores
    every = rung_scores.read_scores()
    rows = [r for r in every if int(r["seed"]) == 0]
    if not rows:
        return t
    z = pd.DataFrame(rows).astype({"score": float, "cpu_s": float})
    z["loss"] = [rung_loss_sum(r["model"], r["budget"]) for r in rows]
    wide = z.pivot_table(index="model", columns="budget", values="score")
    loss = z.dropna(subset=["loss"]).pivot_table(index="model", columns="budget", values="loss")
    wide = wide.join(loss.add_suffix("_loss"), how="left")
    means, mean_cost = _seed_means(every)
    if len(means):
        wide = wide.join(means, how="left")
    cost = _budget_cpu_h(z)
    cost = {**{c: float(v) for c, v in cost.items()}, **{f"{c}_loss": float(v) for c, v in cost.items()},
            **mean_cost}
    attrs = {**t.attrs, "rung_cpu_h": cost}
    t = t.merge(wide.reset_index(), on="model", how="left")
    t.attrs = attrs
    return t


def seed_groups() -> dict:
    """score -> model -> values over seeds, for every score measured with more than one seed: the
    rung budgets (``rung_scores.csv``) and their summed training losses (``<budget>_loss``),
    search-val after k epochs and the final score (the runs)."""
    import rung_scores
    out: dict = {}
    for r in rung_scores.read_scores():
        out.setdefault(r["budget"], {}).setdefault(r["model"], []).append(float(r["score"]))
        loss = rung_loss_sum(r["model"], r["budget"], int(r["seed"]))
        if loss == loss:
            out.setdefault(r["budget"] + "_loss", {}).setdefault(r["model"], []).append(loss)
    for row in fp.collect():
        cheap = {k: v for k, v in cheap_scores(row["model"], int(row["seed"])).items()
                 if k.startswith(("neg_loss_sum_e", "extrap_e"))}
        for k, v in {**row, **cheap}.items():
            if k.startswith(("search_val_e", "neg_loss_sum_e", "extrap_e", FINAL)) and v == v:
                out.setdefault(k, {}).setdefault(row["model"], []).append(v)
    return out


def _noise(groups: dict, score: str) -> float:
    return pooled_std([v for v in groups.get(score, {}).values() if len(v) >= 2])


def noise_ceiling(fid: pd.DataFrame, have: pd.DataFrame) -> pd.DataFrame:
    """The rank-fidelity table with what seed noise allows (:mod:`archlab.search.ceiling`): each
    score's ``reliability`` over the same models (the share of its spread that is not seed noise;
    NaN where its seed noise is unmeasured), ``tau_ceiling`` (its tau if its noise-free values
    ranked as the final score's do), ``tau_noise_free`` (its tau corrected for both scores' noise)
    and ``seeds_for_goal`` (seeds per model its expected tau needs to reach the goal; empty where
    none suffice). The last three assume the two scores' seed noise independent, so they are left
    empty for scores read from the final runs themselves (their noise is the final score's)."""
    groups = seed_groups()
    r_final = reliability(have["pck_mean"], _noise(groups, FINAL), have["seeds_done"].clip(lower=1))
    extra = []
    for score, tau in zip(fid["score"], fid["tau"]):
        base, k = (score[:-len(MEAN_SUFFIX)], SEED_MEAN) if score.endswith(MEAN_SUFFIX) else (score, 1)
        noise, values = _noise(groups, base), have[score].to_numpy(float)
        r = reliability(values, noise, k)
        if score.startswith(FROM_FINAL_RUNS):      # its noise is the final score's own: not independent
            extra.append({"reliability": r})
            continue
        n = seeds_for_tau(TAU_GOAL, tau, values, noise, r_final, seeds=k) if r == r else None
        extra.append({"reliability": r, "tau_ceiling": tau_ceiling(r, r_final),
                      "tau_noise_free": noise_free_tau(tau, r, r_final), "seeds_for_goal": n})
    out = pd.concat([fid, pd.DataFrame(extra, index=fid.index)], axis=1)
    out.attrs["final_reliability"] = r_final
    return out


def score_noise() -> pd.DataFrame:
    """For each score: its pooled seed std (models with >= 2 seeds) against its spread across models
    (std of the per-model means). A ratio near 1 means the score ranks models mostly by seed luck."""
    rows = []
    for score, by_model in seed_groups().items():
        seeded = [v for v in by_model.values() if len(v) >= 2]
        if not seeded:
            continue
        means = pd.Series({m: sum(v) / len(v) for m, v in by_model.items()})
        noise = pooled_std(seeded)
        spread = float(means.std()) if len(means) >= 2 else math.nan
        rows.append({"score": score, "seed_std": noise, "models_with_seeds": len(seeded),
                     "seeds": sum(len(v) for v in seeded), "spread_across_models": spread,
                     "models": len(means), "noise_to_spread": noise / spread if spread else math.nan})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--measure-latency", action="store_true", help="time models without a recorded latency")
    a = p.parse_args(argv)
    t = final_table()
    if t.empty:
        print("no final-protocol runs yet: python studies/final_protocol.py queue", file=sys.stderr)
        return 1
    t = add_rung_scores(add_legacy_proxy(add_zero_cost(add_latency(t, a.measure_latency))))
    noise = seed_noise(t)
    fp.OUT.mkdir(parents=True, exist_ok=True)
    t.to_csv(fp.OUT / "results.csv", index=False)
    fid = fidelity(t)
    if fid is not None:
        fid.to_csv(fp.OUT / "rank_fidelity.csv", index=False)
    sn = score_noise()
    if not sn.empty:
        sn.to_csv(fp.OUT / "score_noise.csv", index=False)
        (fp.OUT / "score_noise.md").write_text(sn.to_markdown(index=False, floatfmt=".3g") + "\n")
    accuracy_figure(t, noise)
    curve = fidelity_curve(t)
    if not curve.empty:
        curve.to_csv(fp.OUT / "fidelity_curve.csv", index=False)
        fidelity_curve_figure(curve, fid)
    proxy_figure(t, fid)
    v = write_verdict(t, noise, fid, curve)
    print(t.to_string(index=False))
    print(f"pooled seed std: {noise:.2f}" if noise == noise else "pooled seed std: not yet (needs 2 seeds)")
    print(json.dumps({k: v[k] for k in ("status", "winner", "n_models")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
