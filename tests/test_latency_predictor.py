"""The latency predictor: kernel grouping, the table's cache key and cache, predictions against
measured ONNX Runtime latency (a tiny profiling grid, so the module stays fast), error paths."""
from __future__ import annotations

import pytest

from archlab.blocks.basic import basic_block_cost
from archlab.cost.analytic import network_ops
from archlab.cost.predictor import (PROFILE_COUNTER, KernelError, LatencyTable, LatencyTableError, build_table,
                                    cache_key, fit_calibration, key_digest, kernels_of, load_or_build,
                                    network_calibration, network_scale, predict_latency, predict_ms)
from archlab.cost.predictor.validate import measure_specs
from archlab.nets.zoo import hrnet, litehrnet, sdhrnet
from archlab.spec import HeadSpec

SIZE = (64, 64)


def _specs():
    return [hrnet(16, modules=(1, 1, 1), blocks=1, input_size=SIZE, name="tiny_hrnet"),
            sdhrnet(width=16, input_size=SIZE, name="tiny_sdhrnet").replace(
                head=HeadSpec(type="dasp", options={"rates": (1, 2, 4), "growth": 8, "proj": 16, "llf_proj": 16,
                                                    "fuse": 16})),
            litehrnet(18, width=16, input_size=SIZE, name="tiny_lite")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("archlab_cache")
    mp.setenv("ARCHLAB_CACHE", str(root))
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def table(cache):
    """A table of exactly the kernels of the three tiny specs (profiled once, ~10-20 s)."""
    return build_table(grid="tiny", specs=_specs(), progress=False, calibrate=False)


def test_kernels_fuse_bn_act_and_residual_add():
    ops = basic_block_cost(32, 32, hw=(8, 8))
    assert kernels_of(ops) == [("conv", 3, 1, 1, 1, 32, 32, 64, "relu", 0, 1, 0),
                               ("conv", 3, 1, 1, 1, 32, 32, 64, "relu", 0, 1, 1)]


def test_kernels_of_unknown_op_is_a_clear_error():
    from archlab.cost.ops import conv1d_op
    op, _ = conv1d_op("head.odd", 1, 1, 3, 16, padding=1)
    with pytest.raises(KernelError, match="head.odd: a 1-D convolution"):
        kernels_of([op])


def test_cache_key_changes_with_every_setting():
    base = cache_key("onnxruntime", 1, 1, cpu="cpu A", ort_version="1.32.0")
    assert key_digest(base) == key_digest(cache_key("onnxruntime", 1, 1, cpu="cpu A", ort_version="1.32.0"))
    others = [cache_key("onnxruntime", 2, 1, cpu="cpu A", ort_version="1.32.0"),
              cache_key("onnxruntime", 1, 8, cpu="cpu A", ort_version="1.32.0"),
              cache_key("onnxruntime", 1, 1, cpu="cpu B", ort_version="1.32.0"),
              cache_key("onnxruntime", 1, 1, cpu="cpu A", ort_version="1.33.0"),
              cache_key("onnxruntime", 1, 1, "tiny", cpu="cpu A", ort_version="1.32.0"),
              {**base, "runtime": "compile"}, {**base, "vocab": base["vocab"] + 1}]
    digests = {key_digest(k) for k in others}
    assert len(digests) == len(others) and key_digest(base) not in digests


def test_cached_table_is_reused_without_profiling(table, cache):
    assert table.path.startswith(str(cache))
    before = dict(PROFILE_COUNTER)
    again = LatencyTable.load(table.path)
    assert again.samples == table.samples and PROFILE_COUNTER == before
    # the cache file of the default key is found by load_or_build (no profiling either)
    key = cache_key(grid="tiny")
    (cache / "latency" / f"table_{key_digest(key)}.json").write_text((cache / "latency" / table.path.split("/")[-1])
                                                                     .read_text())
    got = load_or_build(grid="tiny", progress=False)
    assert PROFILE_COUNTER == before and len(got.samples) == len(table.samples)


def test_prediction_walks_the_same_kernels_as_the_op_list(table):
    for spec in _specs():
        _, n = predict_ms(spec, SIZE, table)
        assert n == len(kernels_of(network_ops(spec, SIZE)))


@pytest.mark.slow
def test_predictions_near_measured(table):
    """Against ORT measured in this process (median thread CPU time of interleaved runs; exports
    take a while on a busy 2-core machine, hence slow). The tiny test table has no per-node
    calibration and no network scale. The full table's accuracy is what benchmarks/bench_latency_predictor.py measures. The band is a gross check
    (units, missing kernels, a wrong table) and nothing more: tiny networks of ~1-3 ms measured
    on a shared 2-core machine have read from 0.6x to 1.6x of this uncalibrated table's
    prediction from one run to the next, so any tighter band is a timing test that fails on load."""
    bands = {"tiny_hrnet": (0.25, 4.0), "tiny_lite": (0.25, 4.0)}
    specs = _specs()[::2]
    measured = measure_specs(specs, [SIZE] * len(specs), repeats=9)
    for spec, m in zip(specs, measured):
        p = predict_latency(spec, table=table)
        assert set(p) >= {"predicted_ms", "runtime", "threads", "batch", "input_size", "table", "kernels"}
        assert p["input_size"] == list(SIZE) and p["kernels"] > 10
        ratio = p["predicted_ms"] / m["cpu_median_ms"]          # the median run: what the table is fitted to
        lo, hi = bands[spec.name]
        assert lo <= ratio <= hi, (spec.name, p["predicted_ms"], m)
    # the order of clearly different networks is kept
    lite, big = (predict_latency(s, table=table)["predicted_ms"] for s in (specs[1], _specs()[1].replace(
        input_size=(128, 128))))
    assert big > lite


def test_error_paths(table):
    spec = _specs()[0]
    with pytest.raises(ValueError, match="runtime 'tensorrt'"):
        predict_latency(spec, runtime="tensorrt", table=table)
    for bad in (0, -1, "2", 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            predict_latency(spec, threads=bad, table=table)
    with pytest.raises(LatencyTableError, match="threads=1, not 2"):
        predict_latency(spec, threads=2, table=table)
    no_se = LatencyTable(table.key, [s for s in table.samples if s["key"][0] != "se"], table.overhead)
    with pytest.raises(LatencyTableError, match="kernel 'se' is not in the latency table"):
        predict_latency(_specs()[1], table=no_se)
    with pytest.raises(FileNotFoundError):
        predict_latency(spec, table="/nonexistent/table.json")


def test_network_scale_is_the_median_ratio_of_its_calibration_specs(table, monkeypatch):
    """A table holding measured calibration networks scales every prediction by the median of
    measured / unscaled-predicted over them (fitted lazily, on first use); without them, 1. The
    calibration specs are regenerated from their seed: here the tiny specs stand in for them."""
    import statistics
    from archlab.cost.predictor import sample
    assert network_scale(table) == 1.0
    specs = _specs()
    raw = [predict_ms(s, SIZE, table)[0] for s in specs]
    seeds = []
    monkeypatch.setattr(sample, "random_specs", lambda n, seed: seeds.append((n, seed)) or specs[:n])
    measured = [2.0 * raw[0], 1.5 * raw[1], 3.0 * raw[2]]
    scaled = LatencyTable(table.key, table.samples, {**table.overhead, "scale_seed": 11,
                                                     "scale_measured_ms": measured}, info=table.info)
    assert network_scale(scaled) == pytest.approx(statistics.median([2.0, 1.5, 3.0])) and seeds == [(3, 11)]
    for s, r in zip(specs, raw):
        assert predict_ms(s, SIZE, scaled, "scale")[0] == pytest.approx(2.0 * r, rel=1e-9)
    assert network_scale(scaled) == pytest.approx(2.0) and seeds == [(3, 11)]      # fitted once


def test_fit_calibration_recovers_a_factor_and_a_per_kernel_offset():
    summed, kernels = [4.0, 10.0, 30.0, 80.0], [400, 300, 250, 200]
    measured = [1.1 * p - 0.003 * n for p, n in zip(summed, kernels)]
    s, b = fit_calibration(summed, kernels, measured)
    assert s == pytest.approx(1.1) and b == pytest.approx(-0.003)
    # one factor: the median ratio, no offset
    import statistics
    assert fit_calibration(summed, kernels, measured, "scale") == (
        pytest.approx(statistics.median(m / p for p, m in zip(summed, measured))), 0.0)
    # too few networks for two parameters, or a fit with a non-positive factor (measured times
    # that fall as the summed kernels grow): one factor
    assert fit_calibration(summed[:2], kernels[:2], measured[:2])[1] == 0.0
    assert fit_calibration([1.0, 2.0, 3.0], [10, 10, 10], [3.0, 2.0, 1.0]) == (pytest.approx(1.0), 0.0)
    assert fit_calibration([], [], []) == (1.0, 0.0)
    with pytest.raises(ValueError, match="calibration: expected one of linear, scale"):
        fit_calibration(summed, kernels, measured, "quadratic")


def test_linear_calibration_predicts_factor_times_sum_plus_offset_per_kernel(table, monkeypatch):
    from archlab.cost.predictor import sample
    specs = _specs()
    raw = [predict_ms(s, SIZE, table) for s in specs]           # no calibration networks: (sum, kernels)
    monkeypatch.setattr(sample, "random_specs", lambda n, seed: specs[:n])
    measured = [1.3 * p + 0.002 * n for p, n in raw]
    cal = LatencyTable(table.key, table.samples, {**table.overhead, "scale_seed": 5, "scale_measured_ms": measured},
                       info=table.info)
    assert network_calibration(cal) == (pytest.approx(1.3), pytest.approx(0.002))
    for s, m, r in zip(specs, measured, raw):
        assert predict_ms(s, SIZE, cal)[0] == pytest.approx(m, rel=1e-9)
        assert predict_ms(s, SIZE, cal, "none") == (pytest.approx(r[0], rel=1e-12), r[1])
        d = predict_latency(s, input_size=SIZE, table=cal, calibration="scale")
        assert d["calibration"] == "scale" and d["predicted_ms"] == pytest.approx(
            network_scale(cal) * predict_ms(s, SIZE, table)[0], rel=1e-9)
    with pytest.raises(ValueError, match="calibration"):
        predict_latency(specs[0], input_size=SIZE, table=cal, calibration="quadratic")


def test_measure_specs_rejects_a_bad_burst():
    with pytest.raises(ValueError, match="burst must be an integer >= 1"):
        measure_specs(_specs()[:1], burst=0)


def test_drawing_random_specs_leaves_the_cost_memos_as_they_were():
    """Validating a draw walks its costs inside ``isolated_caches``: a later prediction of it is
    as cold as a never-seen spec's (the predictor benchmark's speed depends on it), and the
    memos of earlier walks are neither evicted nor added to."""
    from archlab.cost import analytic
    from archlab.cost.predictor import random_specs
    from archlab.nets import plan
    analytic.clear_caches()
    network_ops(_specs()[0])
    before = (dict(analytic._BLOCK_MEMO), dict(analytic._MODULE_MEMO), dict(plan._PLANS))
    assert before[0] and before[1] and before[2]
    drawn = random_specs(5, seed=11)
    assert len(drawn) == 5
    assert (analytic._BLOCK_MEMO, analytic._MODULE_MEMO, plan._PLANS) == before
    network_ops(drawn[0])           # walking it afterwards fills the memos as usual
    hit = plan._PLANS.get(id(drawn[0]))     # (an id of a freed spec may be reused: no size check)
    assert len(analytic._BLOCK_MEMO) > len(before[0]) and hit is not None and hit[0]() is drawn[0]


def _cold_predictions(specs, table):
    """``(spec, its prediction from cleared memos)`` for the specs the tiny table covers."""
    from archlab.cost.predictor import clear_memos
    out = []
    for s in specs:
        clear_memos(table)
        try:
            out.append((s, predict_ms(s, tuple(s.input_size), table, "none")))
        except LatencyTableError:       # a kernel kind the tiny grid did not profile
            continue
    return out


@pytest.mark.parametrize("block_max, entry_max", [(16, 24), (4096, 24)])
def test_bounded_memos_evict_without_changing_a_prediction_or_an_op(table, monkeypatch, block_max, entry_max):
    """With memos far smaller than a stream's working set, every eviction (the oldest quarter, at
    the analytic walk's block and module memos and between networks at the predictor's) leaves
    each prediction and op list equal to the spec's own cold computation, and no memo outgrows
    its bound."""
    from archlab.cost import analytic
    from archlab.cost.predictor import clear_memos, random_specs
    from archlab.cost.predictor import predict as pred
    specs, cold = zip(*_cold_predictions(random_specs(40, seed=31), table))
    assert len(specs) >= 8
    cold_ops = [network_ops(s) for s in specs]
    monkeypatch.setattr(analytic, "_BLOCK_MEMO_MAX", block_max)
    monkeypatch.setattr(pred, "_MEMO_MAX", entry_max)
    clear_memos(table)
    for _ in range(2):
        for s, want, ops in zip(specs, cold, cold_ops):
            got = predict_ms(s, tuple(s.input_size), table, "none")
            assert got[1] == want[1] and got[0] == pytest.approx(want[0], rel=1e-12)
            assert network_ops(s) == ops
            assert len(analytic._BLOCK_MEMO) <= block_max and len(analytic._MODULE_MEMO) <= block_max
    assert len(table._bodies) > 0


def test_memo_put_evicts_the_oldest_quarter():
    from archlab.cost.memo import put
    memo: dict = {}
    for k in range(8):
        put(memo, k, str(k), 8)
    assert list(memo) == list(range(8))
    put(memo, "new", 1, 8)
    assert list(memo) == [2, 3, 4, 5, 6, 7, "new"]


def test_predict_many_equals_one_by_one_and_returns_every_object_to_the_collector(table):
    import gc
    from archlab.cost.predictor import frozen_gc, predict_many
    specs = _specs()
    one = [predict_latency(s, table=table) for s in specs]
    assert gc.get_freeze_count() == 0
    assert predict_many(specs, table=table) == one
    assert gc.get_freeze_count() == 0                 # unfrozen at the end: nothing stays exempt
    assert gc.isenabled()
    with frozen_gc() as frozen:
        assert frozen and gc.get_freeze_count() > 0
        assert not gc.isenabled()                     # paused inside the block ...
    assert gc.get_freeze_count() == 0 and gc.isenabled()     # ... and back on after it
    gc.disable()                                       # a caller that had it off keeps it off
    try:
        with frozen_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()                                        # a process that froze objects itself
    try:
        held = gc.get_freeze_count()
        assert predict_many(specs[:1], table=table) == one[:1]
        with frozen_gc() as frozen:
            assert not frozen
        # its frozen objects stay frozen (none unfrozen, none added); reference counting may
        # free a few of them meanwhile, so the count can fall slightly, never to zero
        assert held // 2 < gc.get_freeze_count() <= held
    finally:
        gc.unfreeze()


def _kind_model(keys, seed):
    import numpy as np
    from archlab.cost.predictor.fit import KindModel
    rng = np.random.default_rng(seed)
    n = len(keys)
    return KindModel(keys, list(rng.uniform(0.01, 1.0, n)), list(rng.integers(1, 4, n)), list(rng.integers(0, 2, n)),
                     list(rng.uniform(0, 0.01, n)), list(rng.uniform(0, 0.01, n)))


def test_stacked_models_predict_each_kernel_from_its_own_entrys_neighbours():
    """The one-pass predictor (one k-d tree over every entry's samples) gives each kernel what its
    entry's own model gives -- also for an entry with fewer samples than neighbours asked for --
    and the same numbers whatever other kernels share the pass."""
    import random
    from archlab.cost.predictor.fit import StackedModels
    rnd = random.Random(3)

    def conv(k, cin, cout, hw, act=""):
        return ("conv", k, 1, 1, 1, cin, cout, hw, act, 0, 1, 0)

    chans = [8, 12, 16, 24, 32, 40, 48, 64, 96, 128, 160, 256]
    big = [conv(3, c, rnd.choice(chans), rnd.choice([48, 192, 768, 3072])) for c in chans]
    small = [conv(1, 16, 32, 192), conv(1, 64, 16, 768, "relu"), conv(1, 128, 128, 48)]   # 3 samples < k = 4
    models = {"conv3x3s1": _kind_model(big, 0), "conv1x1s1": _kind_model(small, 1)}
    st = StackedModels(models)
    queries = [conv(3, 20, 40, 300), conv(3, 200, 100, 1000, "relu"), conv(1, 50, 60, 500), conv(1, 16, 32, 192),
               conv(3, 64, 48, 3072), conv(1, 300, 10, 20, "relu")]
    entries = ["conv3x3s1", "conv3x3s1", "conv1x1s1", "conv1x1s1", "conv3x3s1", "conv1x1s1"]
    together = st.predict(entries, queries)
    for e, q, got in zip(entries, queries, together):
        want = models[e].predict(q)
        assert got[0] == pytest.approx(want[0], rel=1e-9) and got[1:] == pytest.approx(want[1:], rel=1e-12)
        assert st.predict([e], [q]) == [got]          # alone: bit-identical to the batch
    # a profiled kernel is its own nearest sample: its layout flags and node count come back
    hit = st.predict(["conv1x1s1"], [small[1]])[0]
    ref = models["conv1x1s1"]
    assert hit[1:3] == (ref.nodes[1], ref.nchwc[1])


def test_conv_kernel_head_reads_the_recorded_layout_and_any_other_by_name():
    """Kernel grouping reads a convolution's detail by position when it has the layout
    ``conv2d_op`` / ``conv1d_op`` record, and by name otherwise: both give the same head."""
    from archlab.cost.predictor.kernels import _CONV_DETAIL, _conv_head
    from archlab.ops import Op, conv1d_op, conv2d_op
    o, _ = conv2d_op("m", 64, 32, 3, 2, 32, 24, groups=2, dilation=2, bias=True)
    o1, _ = conv1d_op("m", 1, 1, 5, 64, padding=2)
    for op in (o, o1):
        assert tuple(k for k, _ in op.detail) == _CONV_DETAIL
    assert _conv_head(o) == (3, 2, 2, 2, 64, 32, 32 * 24, 1, 32 * 16 * 12)
    shuffled = Op(*o[:6], tuple(reversed(o.detail)))          # a third-party block's own order
    assert _conv_head(shuffled) == _conv_head(o)


def test_op_details_are_recorded_sorted_by_name():
    """Every op constructor records its detail sorted by name (what ``Op.get`` and the kernel
    grouping's positional reads rely on)."""
    from archlab import ops
    made = [ops.conv2d_op("c", 8, 16, 3, 1, 8, 8, bias=True)[0], ops.conv1d_op("e", 1, 1, 3, 16, padding=1)[0],
            ops.linear_op("l", 16, 4), ops.bmm_op("b", 1, 4, 5, 6), ops.upsample_op("u", "nearest", 4, 16),
            ops.batch_norm_op("n", 8, 4, 4)]
    for op in made:
        names = [k for k, _ in op.detail]
        assert names == sorted(names) and len(names) == len(set(names)), op
    assert made[2].get("in_features") == 16 and made[3].get("p") == 6 and made[4].get("mode") == "nearest"


def test_fused_conv_add_kernels_are_predicted_in_the_specs_batch(table):
    """Where a fuse layer's convolution feeds the residual add of the next segment, the fused
    kernel is predicted in the spec's one batch with the others: no kernel is predicted on its
    own (``LatencyTable.kernel`` past the memo) while a network's segments are folded, and the
    prediction equals one that predicts the fused kernels one by one."""
    from archlab.cost.predictor import clear_memos
    from archlab.cost.predictor import predict as P
    spec = _specs()[0]                                  # HRNet: fuse layers on every multi-branch module
    singles, fused_seen = [], []
    orig_kernel, orig_merged, orig_new = type(table).kernel, P._merged, P._new_bodies

    def kernel(self, key):
        if key not in self._memo:
            singles.append(key)
        return orig_kernel(self, key)

    def merged(conv, add):
        fused_seen.append(orig_merged(conv, add))
        return fused_seen[-1]

    mp = pytest.MonkeyPatch()
    try:
        clear_memos(table)
        mp.setattr(type(table), "kernel", kernel)
        mp.setattr(P, "_merged", merged)
        batched = predict_latency(spec, table=table)["predicted_ms"]
        assert fused_seen and not singles               # fused kernels met, none predicted alone
        clear_memos(table)
        mp.setattr(P, "_new_bodies", lambda memo, segs, out, _merged: orig_new(memo, segs, out, []))
        alone = predict_latency(spec, table=table)["predicted_ms"]
        assert singles                                   # the old way: the fold asked for them one by one
    finally:
        mp.undo()
        clear_memos(table)
    assert alone == pytest.approx(batched, rel=1e-9)
