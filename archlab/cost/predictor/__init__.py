"""Latency predictor (the nn-Meter approach): a spec's ONNX Runtime latency from a per-machine
table of profiled kernels, without building the network.

* :mod:`.kernels` -- the op list grouped into the kernels ORT runs (conv + BN + act fused, ...);
* :mod:`.modules` / :mod:`.profile` -- kernels exported side by side to ONNX and timed with
  ORT's profiler;
* :mod:`.fit` -- per-entry models (a linear cost trend corrected by the nearest profiled kernels);
* :mod:`.table` -- the table, its cache key and its on-disk cache;
* :mod:`.predict` -- :func:`predict_latency`, :func:`predict_many`;
* :mod:`.sample` -- random specs across the option space (profiling grid, benchmark, tests).
"""
from .kernels import VOCAB_VERSION, KernelError, kernels_of, kernels_of_spec, subkind
from .predict import (CALIBRATIONS, apply_calibration, clear_memos, fit_calibration, frozen_gc, get_table,
                      network_calibration, network_scale, predict_latency, predict_many, predict_ms)
from .profile import PROFILE_COUNTER
from .sample import random_spec, random_specs
from .table import (GRIDS, RUNTIMES, LatencyTable, LatencyTableError, build_table, cache_dir, cache_key, cpu_model,
                    key_digest, load_or_build)

__all__ = ["predict_latency", "predict_many", "frozen_gc", "clear_memos", "predict_ms", "network_scale", "network_calibration",
           "fit_calibration",
           "apply_calibration", "CALIBRATIONS",
           "build_table", "load_or_build", "get_table", "LatencyTable",
           "LatencyTableError", "KernelError", "cache_key", "key_digest", "cache_dir", "cpu_model", "kernels_of",
           "kernels_of_spec", "subkind", "random_spec", "random_specs", "VOCAB_VERSION", "RUNTIMES", "GRIDS",
           "PROFILE_COUNTER"]
