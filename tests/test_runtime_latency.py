"""Deployment latency (archlab.cost.runtime, ``archlab latency``): ONNX export parity on small real
networks, the result keys from the API and the CLI, checkpoint targets and the error paths (an
operator ONNX cannot express, an export that disagrees with eager, a missing runtime, torch.compile
without a compiler). Timings here are tiny and only checked for sanity, never for speed."""
from __future__ import annotations

import builtins
import dataclasses
import json

import pytest
import torch
from torch import nn

import archlab
from archlab.cli import main
from archlab.cost import runtime as rt
from archlab.nets import zoo
from archlab.spec import HeadSpec

KEYS = {"median_ms", "iqr_ms", "min_ms", "runtime", "threads", "batch", "input_size", "machine", "repeats", "model"}


def _small(head="simple", block="basic", sem=False, **opts):
    head_spec = HeadSpec(type=head, options=dict(zoo.SDHRNET_DASP) if head == "dasp" else {})
    spec = zoo.hrnet(8, "lspet", block=block, modules=(1, 1, 1), blocks=1, sem_last=sem, input_size=(64, 64),
                     name=f"tiny_{block}_{head}", **opts)
    last = dataclasses.replace(spec.stages[-1], multiscale_output=head == "iterative")   # the iterative head reads all
    stem = dataclasses.replace(spec.stem, num_blocks=1, channels=16, block_width=16)
    return spec.replace(stages=spec.stages[:-1] + (last,), head=head_spec, stem=stem)


@pytest.mark.parametrize("head", ["simple", "iterative", "dasp"])
def test_onnx_export_parity_on_small_hrnet_heads(head):
    r = rt.prepare(_small(head), "onnxruntime", check=True)
    assert r.parity_rel_err is not None and r.parity_rel_err <= rt.PARITY_TOL
    out = r.step()[0]
    assert out.shape == (1, 14, 16, 16)


def test_onnx_parity_sdhrnet_blocks_and_litehrnet():
    """SCR blocks + SEM + DASP (a small SDHRNet) and Lite-HRNet-18 (CCW blocks, iterative head)."""
    for target, size in ((_small("dasp", "scr", sem=True), None), ("litehrnet_18_coco", "64x64")):
        model, name, (c, h, w) = rt.resolve_target(target, size)
        x = torch.randn(2, c, h, w)
        sess = rt.ort_session(rt.export_onnx(model, x, name))
        err = rt.check_onnx_parity(model, sess, x, name)
        assert 0 <= err <= rt.PARITY_TOL
        with torch.no_grad():
            ref = model(x)
        assert rt.relative_error(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0], ref) == err


def test_measure_keys_and_interleaving():
    res = rt.measure_many([_small(), _small("iterative")], ["eager", "onnxruntime"], repeats=3, warmup=1)
    assert [(r.model, r.runtime) for r in res] == [("tiny_basic_simple", "eager"), ("tiny_basic_simple", "onnxruntime"),
                                                   ("tiny_basic_iterative", "eager"),
                                                   ("tiny_basic_iterative", "onnxruntime")]
    for r in res:
        d = r.as_dict()
        assert KEYS <= set(d)
        assert d["repeats"] == 3 and len(r.times_ms) == 3 and d["input_size"] == [64, 64]
        assert d["min_ms"] <= d["median_ms"] and d["iqr_ms"] >= 0
        assert d["machine"]["torch"] == torch.__version__ and d["machine"]["onnxruntime"] and d["machine"]["cpu"]
    json.dumps([r.as_dict() for r in res])


def test_checkpoint_target(tmp_path):
    from archlab.train.checkpoint import save_atomic
    spec = _small()
    torch.manual_seed(3)
    model = archlab.create_model(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = save_atomic({"format": "archlab-train-checkpoint", "version": 1, "model": model.state_dict(),
                        "spec": spec.to_yaml()}, tmp_path / "best.pt")
    loaded, name, size = rt.resolve_target(path)
    assert name == "tiny_basic_simple (best.pt)" and size == (3, 64, 64)
    x = torch.randn(1, *size)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    r = rt.measure(path, "onnxruntime", repeats=2, warmup=1)
    assert r.model == name and r.parity_rel_err <= rt.PARITY_TOL
    bad = tmp_path / "bad.pt"
    torch.save({"model": {}}, bad)
    with pytest.raises(ValueError, match="not an archlab checkpoint"):
        rt.resolve_target(bad)


class LogGamma(nn.Module):
    """log Gamma of a positive feature: ``aten::lgamma`` has no ONNX symbolic at opset 17."""

    def forward(self, x):
        return torch.lgamma(x.abs() + 1)


class ExportOnlyShift(nn.Module):
    """Behaves differently while being exported: eager and ONNX outputs disagree on purpose."""

    def forward(self, x):
        return x + 1.0 if torch.onnx.is_in_onnx_export() else x


def _nested(bad):
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1),
                         nn.Sequential(nn.ReLU(), nn.Sequential(nn.Conv2d(4, 4, 1), bad)), nn.Conv2d(4, 2, 1))


def test_export_error_names_operator_and_module():
    with pytest.raises(rt.ExportError, match=r"aten::lgamma.*'1\.1\.1' \(LogGamma\)"):
        rt.prepare(_nested(LogGamma()), "onnxruntime", input_size=(16, 16))


def test_mismatch_names_first_disagreeing_module():
    with pytest.raises(rt.ExportMismatch, match=r"first disagreeing module: '1\.1\.1' \(ExportOnlyShift\)"):
        rt.prepare(_nested(ExportOnlyShift()), "onnxruntime", input_size=(16, 16))
    r = rt.prepare(_nested(ExportOnlyShift()), "onnxruntime", input_size=(16, 16), check=False)
    assert r.parity_rel_err is None


def test_missing_onnxruntime_says_how_to_install(monkeypatch, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    _small().to_yaml(path)
    real = builtins.__import__

    def no_ort(name, *a, **k):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_ort)
    with pytest.raises(rt.RuntimeUnavailable, match="pip install onnxruntime"):
        rt.measure(_small(), "onnxruntime", repeats=1)
    assert rt.machine_info()["onnxruntime"] is None
    rc = main(["latency", str(path), "--runtime", "onnxruntime"])
    assert rc == 2 and "pip install onnxruntime" in capsys.readouterr().err


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        rt.measure(_small(), "tensorrt")
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        rt.measure(_small(), "eager", threads=0)
    with pytest.raises(ValueError, match="input_size is required"):
        rt.measure(nn.Conv2d(3, 3, 1), "eager")


def test_compile_unavailable_without_compiler(monkeypatch):
    import torch._inductor.config as cfg
    torch._dynamo.reset()
    monkeypatch.setattr(cfg.cpp, "cxx", ("/nonexistent/c++",))
    with pytest.raises(rt.RuntimeUnavailable, match="runtime 'compile'.*cannot compile"):
        rt.measure(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), "compile", input_size=(8, 8), repeats=1)
    torch._dynamo.reset()


@pytest.mark.slow   # Inductor's first C++ build takes minutes on a loaded 2-core machine
def test_compile_runs_where_a_compiler_exists():
    torch._dynamo.reset()
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    try:
        r = rt.measure(m, "compile", input_size=(8, 8), repeats=2, warmup=1)
    except rt.RuntimeUnavailable as e:
        pytest.skip(str(e))
    assert r.runtime == "compile" and r.parity_rel_err <= rt.PARITY_TOL and len(r.times_ms) == 2


# ------------------------------------------------------------------------------------------------
def test_cli_json_keys_match_api(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    _small().to_yaml(path)
    rc = main(["latency", str(path), "--runtime", "eager", "--repeats", "2", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    api = rt.measure(path, "eager", repeats=2).as_dict()
    assert set(d) == set(api) and KEYS <= set(d)
    assert d["runtime"] == "eager" and d["input_size"] == [64, 64] and d["repeats"] == 2 and d["batch"] == 1
    rc = main(["latency", str(path), "--input-size", "32x32", "--batch", "2", "--repeats", "2"])
    text = capsys.readouterr().out
    assert rc == 0 and "onnxruntime" in text and "32x32" in text and "batch 2" in text and "median" in text


# ------------------------------------------------------------------------------------------------
def _study():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "studies" / "latency_study.py"
    spec = importlib.util.spec_from_file_location("latency_study", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_study_node_kinds_and_figure_data(tmp_path):
    """The profiler-node classification and the figure's plotted points / legend counts."""
    import pandas as pd
    study = _study()
    assert study._module_path("/stages.1/stages.1.0/branches.0/branches.0.0/units/units.1/reweight/Mul") == \
        "stages.1.0.branches.0.0.units.1.reweight"
    model = archlab.create_model(_small("dasp", "scr", sem=True), device="meta")
    types = {p: type(m) for p, m in model.named_modules()}
    se_node = "/stages.0/stages.0.0/branches.0/branches.0.0/units/units.0/reweight/ReduceMean"
    assert study.node_kind(se_node, "ReduceMean", [], types) == "channel attention (SE/ECA/CCW)"
    assert study.node_kind("/sem.2.3/spatial/Softmax", "Softmax", [], types) == "SEM"
    conv = "/stages.0/stages.0.0/branches.0/branches.0.0/units/units.0/cheap/act/Relu_output_0_nchwc"
    assert study.node_kind(conv, "Conv", [{}, {"float": [8, 1, 3, 3]}], types) == "conv depthwise"
    assert study.node_kind(conv, "Conv", [{}, {"float": [8, 8, 1, 1]}], types) == "conv 1x1"
    assert study.node_kind("ReorderInput_token_1", "ReorderInput", [], types) == "layout reorder (NCHWc)"
    df = pd.DataFrame({"model": ["a", "a", "b", "b", "a"], "input": ["8x8"] * 5,
                       "runtime": ["eager", "onnxruntime", "eager", "onnxruntime", "eager"],
                       "batch": [1, 1, 1, 1, 8], "threads": 1, "median_ms": [4.0, 2.0, 8.0, 3.0, 20.0],
                       "iqr_ms": 0.5, "gmacs": [1.0, 1.0, 2.0, 2.0, 1.0]})
    labels, drawn = study.figure(df, tmp_path)
    assert labels == ["eager (2 points)", "onnxruntime (2 points)"]
    assert drawn == {"eager": [(1.0, 4.0), (2.0, 8.0)], "onnxruntime": [(1.0, 2.0), (2.0, 3.0)]}
    assert (tmp_path / "latency_vs_macs.svg").exists() and (tmp_path / "latency_vs_macs.png").exists()


def test_study_render_draws_compile_points_but_not_their_eager_partners(tmp_path):
    import json
    import pandas as pd
    study = _study()
    rows = [("hrnet_w18_coco", "eager", "", 40.0), ("hrnet_w18_coco", "onnxruntime", "", 10.0),
            ("hrnet_w18_coco", "eager", "compile pair (own process)", 35.0),
            ("hrnet_w18_coco", "compile", "compile pair (own process)", 30.0)]
    pd.DataFrame([{"model": m, "input": "128x96", "runtime": r, "batch": 1, "threads": 1, "median_ms": ms,
                   "iqr_ms": 1.0, "min_ms": ms - 1, "cpu_median_ms": ms, "note": note, "gmacs": 1.0}
                  for m, r, note, ms in rows]).to_csv(tmp_path / "latency.csv", index=False)
    study.render(tmp_path, "test")
    points = json.loads((tmp_path / "latency_vs_macs.json").read_text())["points"]
    assert points == {"eager": [[1.0, 40.0]], "onnxruntime": [[1.0, 10.0]], "compile": [[1.0, 30.0]]}


def test_study_compile_table_pairs_rows():
    import pandas as pd
    study = _study()
    rows = []
    for batch, threads, scale in ((1, 1, 1.0), (8, 2, 4.0)):
        base = {"model": "m", "input": "8x8", "batch": batch, "threads": threads, "load_avg_1m": 1.0}
        rows += [{**base, "runtime": "onnxruntime", "median_ms": 2.0 * scale, "min_ms": 1.9, "note": None},
                 {**base, "runtime": "eager", "median_ms": 10.0 * scale, "min_ms": 9.0,
                  "note": "compile pair (own process)"},
                 {**base, "runtime": "compile", "median_ms": 7.0 * scale, "min_ms": 6.5,
                  "note": "compile pair (own process)", "compile_s": 120.0}]
    df = pd.DataFrame(rows)
    t = study.compile_table(df)
    assert t.to_dict("records") == [
        {"model": "m", "input": "8x8", "batch": 1, "threads": 1, "compile s": 120.0,
         "eager median / min ms": "10.0 / 9.0", "compile median / min ms": "7.0 / 6.5",
         "compile / eager (median)": 0.7, "ONNX Runtime median ms": 2.0, "load": 1.0},
        {"model": "m", "input": "8x8", "batch": 8, "threads": 2, "compile s": 120.0,
         "eager median / min ms": "40.0 / 9.0", "compile median / min ms": "28.0 / 6.5",
         "compile / eager (median)": 0.7, "ONNX Runtime median ms": 8.0, "load": 1.0}]
    assert study.compile_table(df[df.runtime == "onnxruntime"]) is None
    # a pair at batch 8 / 2 threads is its own entry: measuring batch 1 does not mark it done
    assert study._done_compile(rows[:3], retry_failed=False) == {("m", "8x8", 1, 1)}
    assert study._done_compile(rows, retry_failed=False) == {("m", "8x8", 1, 1), ("m", "8x8", 8, 2)}


def test_study_breakdown_reads_the_profiler_by_layer_kind():
    """The study's breakdown from a real ONNX Runtime profile: Lite-HRNet's kinds, all timed."""
    study = _study()
    per_kind = study.profile_model("litehrnet_18_coco", study.build("litehrnet_18_coco", "64x64"), runs=1)
    assert {"conv depthwise", "conv 1x1", "channel attention (SE/ECA/CCW)"} <= set(per_kind)
    assert all(ms > 0 for ms in per_kind.values())
