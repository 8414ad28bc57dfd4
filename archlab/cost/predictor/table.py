"""The latency lookup table: profiled kernels of one machine + runtime + threads + batch, cached.

A table is profiled once and stored as JSON under ``$ARCHLAB_CACHE/latency/`` (default
``~/.cache/archlab/latency/``). Its file name is a digest of the *cache key* -- CPU model,
onnxruntime version, runtime, threads, batch, kernel-vocabulary version and the profiling grid --
so a different machine, library version or setting finds no table and profiles a new one.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .fit import KindModel, StackedModels
from .kernels import VOCAB_VERSION, KernelError, kernels_of_spec, subkind

__all__ = ["LatencyTable", "LatencyTableError", "cache_key", "cache_dir", "cpu_model", "build_table",
           "load_or_build", "merge_samples", "RUNTIMES", "GRIDS", "IN_NETWORK_MIN_KEYS"]

#: runtimes the predictor can profile
RUNTIMES = ("onnxruntime",)
#: profiling grids: random specs whose kernels are sampled, how many, and per-entry caps; random
#: networks profiled whole (kernels timed in situ); calibration networks of the network scale
_DEFAULT_GRID = {"specs": 80, "seed": 20261202, "sizes": ((256, 192), (128, 96)), "max_kernels": 700, "min_per": 6,
                 "scale_specs": 16, "scale_seed": 7, "network_specs": 40, "network_seed": 20261206,
                 "network_size": None}
GRIDS = {
    "default": _DEFAULT_GRID,
    # the default grid's kernels profiled alone only (no in-network samples): for comparison
    "isolated": {**_DEFAULT_GRID, "network_specs": 0, "network_seed": 0},
    "tiny": {"specs": 0, "seed": 0, "sizes": ((64, 64),), "max_kernels": 40, "min_per": 2, "scale_specs": 0,
             "scale_seed": 0, "network_specs": 0, "network_seed": 0, "network_size": (64, 64)},
}
#: an entry's isolated samples give way to in-network ones when these many distinct kernels of it
#: were timed inside the grid's networks
IN_NETWORK_MIN_KEYS = 3


class LatencyTableError(KernelError):
    """A kernel the table cannot predict, or a table that does not match the request."""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    info = Path("/proc/cpuinfo")
    if info.is_file():                          # Linux; elsewhere the platform module's names
        for line in info.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cache_dir() -> Path:
    root = os.environ.get("ARCHLAB_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "archlab") / "latency"


def check_request(runtime: str, threads, batch) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} has no latency predictor; choose one of {list(RUNTIMES)} "
                         "(measure eager or compile latency with `archlab latency` instead)")
    for name, v in (("threads", threads), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def cache_key(runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, grid: str = "default", *,
              cpu: str | None = None, ort_version: str | None = None) -> dict:
    """What a table depends on; :func:`key_digest` of it names the cache file."""
    check_request(runtime, threads, batch)
    if ort_version is None:
        import onnxruntime
        ort_version = onnxruntime.__version__
    return {"cpu": cpu or cpu_model(), "onnxruntime": ort_version, "runtime": runtime, "threads": threads,
            "batch": batch, "vocab": VOCAB_VERSION, "grid": grid, "grid_spec": json.dumps(GRIDS.get(grid, grid))}


def key_digest(key: dict) -> str:
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


class LatencyTable:
    """Profiled kernel samples + per-node overhead, with the fitted per-entry models."""

    def __init__(self, key: dict, samples: list, overhead: dict, path: str | None = None, info: dict | None = None):
        self.key = dict(key)
        self.samples = samples
        self.overhead = dict(overhead)
        self.path = path
        self.info = dict(info or {})
        self._models: dict = {}
        self._memo: dict = {}
        self._ms: dict = {}             # kernel -> kernel_ms, filled with _memo
        by = defaultdict(list)
        for s in samples:
            by[subkind(tuple(s["key"]))].append(s)
        self._by = dict(by)

    @property
    def entries(self) -> list[str]:
        return sorted(self._by)

    def model(self, entry: str) -> KindModel:
        m = self._models.get(entry)
        if m is None:
            rows = self._by.get(entry)
            if not rows:
                raise LatencyTableError(f"kernel {entry!r} is not in the latency table {self.path or ''} (profiled: "
                                        f"{', '.join(self.entries)}); rebuild the table with a grid that covers it")
            m = self._models[entry] = KindModel([tuple(r["key"]) for r in rows], [r["compute_ms"] for r in rows],
                                                [r["nodes"] for r in rows], [r["nchwc"] for r in rows],
                                                [r["reorder_in_ms"] for r in rows], [r["reorder_out_ms"] for r in rows])
        return m

    def kernel(self, key: tuple) -> tuple:
        """``(compute_ms, nodes, nchwc, reorder_in_ms, reorder_out_ms)`` of one kernel (memoised)."""
        hit = self._memo.get(key)
        if hit is None:
            hit = self._remember(key, self.model(subkind(key)).predict(key))
        return hit

    def _remember(self, key: tuple, hit: tuple) -> tuple:
        """Memoise a kernel's prediction and its time in a network (:meth:`kernel_ms`)."""
        self._memo[key] = hit
        self._ms[key] = hit[0] + hit[1] * self.overhead["per_node_ms"]
        return hit

    def stacked(self) -> StackedModels:
        """All entries' models in one :class:`StackedModels` (built on first use)."""
        st = self.__dict__.get("_stacked")
        if st is None:
            st = self._stacked = StackedModels({e: self.model(e) for e in self.entries})
        return st

    def prefetch(self, keys) -> None:
        """Predict every kernel of ``keys`` not memoised yet, in one vectorised pass over all entries."""
        memo = self._memo
        todo = {k: None for k in keys if k not in memo}
        if not todo:
            return
        ks = list(todo)
        entries = [subkind(k) for k in ks]
        st = self.stacked()
        for e in set(entries):
            if e not in st.index:
                self.model(e)           # raises the table's error naming the missing entry
        for key, hit in zip(ks, st.predict(entries, ks)):
            self._remember(key, hit)

    def kernel_ms(self, key: tuple) -> float:
        """A kernel's time in a network: its compute plus its nodes' dispatch overhead."""
        v = self._ms.get(key)
        if v is None:
            self.kernel(key)
            v = self._ms[key]
        return v

    def sum_ms(self, keys) -> float:
        """``sum(kernel_ms(k) for k in keys)``, one dictionary look-up per memoised kernel."""
        get = self._ms.get
        total = 0.0
        for k in keys:
            v = get(k)
            total += self.kernel_ms(k) if v is None else v
        return total

    def clear_memo(self) -> None:
        """Forget every predicted kernel."""
        self._memo.clear()
        self._ms.clear()

    # -- storage -------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"key": self.key, "overhead": self.overhead, "info": self.info, "samples": self.samples}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)
        self.path = str(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"latency table not found: {path}")
        try:
            d = json.loads(path.read_text())
            return cls(d["key"], d["samples"], d["overhead"], str(path), d.get("info"))
        except (ValueError, KeyError) as e:
            raise LatencyTableError(f"{path}: not a latency table ({e})") from None

    def __repr__(self) -> str:
        return (f"LatencyTable({self.key.get('runtime')}, threads={self.key.get('threads')}, "
                f"batch={self.key.get('batch')}, {len(self.samples)} kernels, {len(self._by)} entries)")


def _grid_kernels(grid: dict, specs=None) -> list[tuple]:
    """The kernels a grid profiles: those of random specs (and ``specs``), sampled per entry."""
    from ...nets.zoo import get_spec, list_models
    from .sample import random_specs
    pool = list(specs or [])
    if grid["specs"]:
        pool += random_specs(grid["specs"], grid["seed"]) + [get_spec(n) for n in list_models("*_coco*")]
    kernels = set()
    for spec in pool:
        for size in (None, *grid["sizes"]):
            try:
                kernels.update(kernels_of_spec(spec, size))
            except ValueError:
                continue
    by = defaultdict(list)
    for k in sorted(kernels, key=repr):
        by[subkind(k)].append(k)
    rng = random.Random(grid["seed"])
    total = sum(len(v) ** 0.5 for v in by.values())
    out = []
    for entry, ks in sorted(by.items()):
        n = max(grid["min_per"], round(grid["max_kernels"] * len(ks) ** 0.5 / total))
        out += ks if len(ks) <= n else rng.sample(ks, n)
    return out


def build_table(runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, *, grid: str = "default",
                specs=None, path: str | Path | None = None, progress: bool = True, chunk: int = 40,
                calibrate: bool = True) -> LatencyTable:
    """Profile a table (the kernels of ``grid``, plus those of ``specs`` if given) and save it
    (default: the cache file of its key). ``calibrate=False`` skips the two calibration
    networks of the per-node correction (~30 s) and takes it from the profiling models instead
    (less accurate: their many inputs and outputs add per-run work; for quick tables in tests)."""
    from .profile import profile_kernels
    if grid not in GRIDS:
        raise ValueError(f"unknown profiling grid {grid!r}; choose one of {sorted(GRIDS)}")
    key = cache_key(runtime, threads, batch, grid)
    if specs:
        key["extra_specs"] = sorted(s.name for s in specs)
    if not calibrate:
        key["calibrated"] = False
    keys = _grid_kernels(GRIDS[grid], specs)
    random.Random(0).shuffle(keys)
    t0 = time.perf_counter()
    samples, runs = [], []
    chunks = [keys[i:i + chunk] for i in range(0, len(keys), chunk)]
    from tqdm import tqdm
    for part in tqdm(chunks, desc=f"profiling {len(keys)} kernels ({runtime}, {threads} thread(s))",
                     disable=not progress, unit="model"):
        recs, info = profile_kernels(part, threads=threads, batch=batch)
        runs.append(info)
        samples += [{"key": list(k), **r} for k, r in zip(part, recs)]
    in_net, net_info = _in_network(GRIDS[grid], threads, batch, progress)
    samples = merge_samples(samples, in_net)
    overhead = _overhead(threads, batch) if calibrate else {
        "per_node_ms": sum(r["run_ms"] - r["node_ms"] for r in runs) / sum(r["nodes"] for r in runs), "run_ms": 0.0}
    table = LatencyTable(key, samples, overhead, info={"profile_s": time.perf_counter() - t0,
                                                        "kernels": len(samples), "models": len(runs),
                                                        "networks": net_info})
    if calibrate and GRIDS[grid]["scale_specs"]:
        overhead.update(_network_scale(GRIDS[grid], threads, batch))
        table = LatencyTable(key, samples, overhead, info={**table.info, "profile_s": time.perf_counter() - t0})
    table.save(path or cache_dir() / f"table_{key_digest(key)}.json")
    return table


def _in_network(grid: dict, threads: int, batch: int, progress: bool) -> tuple[list, list]:
    """Kernel samples timed inside ``grid['network_specs']`` random networks of their own seed
    (:mod:`.insitu`), one record per distinct kernel (median time and node count over its
    occurrences), and each network's profile summary."""
    from .insitu import profile_networks
    from .sample import random_specs
    n = grid.get("network_specs", 0)
    specs = random_specs(n, grid["network_seed"]) if n else []
    by, info = defaultdict(list), []
    for recs, summary in profile_networks(specs, [grid.get("network_size")] * n, threads=threads, batch=batch,
                                          progress=progress) if specs else []:
        info.append(summary)
        for r in recs:
            by[tuple(r["key"])].append(r)
    out = []
    for key, rs in by.items():
        # nodes 0: the profiler's share is already out of these (no per-node correction)
        out.append({"key": list(key), "compute_ms": float(np.median([r["compute_ms"] for r in rs])),
                    "nodes": 0, "ort_nodes": float(np.median([r["nodes"] for r in rs])),
                    "nchwc": max(r["nchwc"] for r in rs),
                    "reorder_in_ms": 0.0, "reorder_out_ms": 0.0, "source": "network", "count": len(rs)})
    return out, info


def merge_samples(isolated: list, in_network: list, min_keys: int = IN_NETWORK_MIN_KEYS) -> list:
    """The table's samples: for every entry with at least ``min_keys`` distinct kernels timed in
    networks, those (reorders included, as the network ran them); the isolated ones elsewhere."""
    per = defaultdict(list)
    for r in in_network:
        per[subkind(tuple(r["key"]))].append(r)
    covered = {e for e, rs in per.items() if len(rs) >= min_keys}
    return ([r for r in isolated if subkind(tuple(r["key"])) not in covered]
            + [r for e in sorted(covered) for r in per[e]])


def _calibration_specs():
    """Two small networks (an HRNet and a Lite-HRNet, neither in any benchmark) whose profiled
    runs give the per-node correction."""
    from ...nets.zoo import hrnet, litehrnet
    return [hrnet(16, modules=(1, 1, 1), blocks=1, input_size=(128, 96), name="calib_hrnet"),
            litehrnet(18, width=16, input_size=(128, 96), name="calib_lite")]


def _overhead(threads: int, batch: int) -> dict:
    """Per-node correction: ORT's profiler adds its own time to every node it times, and the
    executor adds dispatch time between nodes. On real networks (:func:`_calibration_specs`)
    ``(plain run time - summed profiled node times) / nodes`` measures both together (it is
    negative when the profiler's share dominates); a one-node model gives the per-run cost."""
    from .profile import profile_network
    runs = [profile_network(s, threads=threads, batch=batch) for s in _calibration_specs()]
    per_node = sum(r["run_ms"] - r["node_ms"] for r in runs) / sum(r["nodes"] for r in runs)
    return {"per_node_ms": per_node, "run_ms": 0.0, "calibration": runs}


def _network_scale(grid: dict, threads: int, batch: int) -> dict:
    """What :meth:`LatencyTable.scale` is fitted on: the measured median ms of
    ``grid['scale_specs']`` random specs of their own seed (none of them in the profiling grid or
    the benchmark), in steady state (:func:`.validate.measure_specs`, ``burst=3``)."""
    from .sample import random_specs
    from .validate import measure_specs
    specs = random_specs(grid["scale_specs"], grid["scale_seed"])
    measured = measure_specs(specs, threads=threads, batch=batch, repeats=9, burst=3)
    col = "cpu_median_ms" if threads == 1 else "wall_median_ms"
    return {"scale_seed": grid["scale_seed"], "scale_measured_ms": [round(m[col], 4) for m in measured]}


def load_or_build(runtime: str = "onnxruntime", threads: int = 1, batch: int = 1, grid: str = "default", *,
                  progress: bool = True) -> LatencyTable:
    """The cached table of this machine and setting, profiled first if there is none."""
    key = cache_key(runtime, threads, batch, grid)
    path = cache_dir() / f"table_{key_digest(key)}.json"
    if path.is_file():
        return LatencyTable.load(path)
    return build_table(runtime, threads, batch, grid=grid, path=path, progress=progress)
