"""Search spaces as YAML: which knobs of a base spec a search may turn, and how far.

A space file::

    study: search_cost            # study name (also the run folder's name)
    base: sdhrnet_coco            # zoo name or spec YAML the knobs modify
    knobs:                        # each knob: a fixed value, {choices: [...]}, or {low, high, step}
      width: {low: 16, high: 48, step: 4}      # branch b gets width * 2**b
      block: {choices: [basic, scr]}           # every stage (block.0, block.1, ... per stage)
      num_modules.1: {low: 1, high: 4}
      reweight: {choices: [[se, eca], [eca, eca], [se, se]]}
      sem: {choices: [true, false]}            # SEM on the deepest branch entering the last stage
      head: {choices: [simple, dasp]}
      dasp_rates: {choices: [[1, 6, 12, 18], [1, 3, 6, 9]]}
    objectives: [params, {name: macs, profile: hrnet_paper}]
    constraints: {params_max: 20.0e6, macs_max: 5.0, profile: hrnet_paper}
    sampler: {type: nsga2, seed: 0, population_size: 40}
    baselines: [sdhrnet_coco, hrnet_w32_coco]
    n_trials: 500

Knob names (``s`` a stage index, ``b`` a branch index): ``width``, ``widths.b``, ``block``,
``block.s``, ``num_modules.s``, ``num_blocks`` / ``num_blocks.s`` (every branch of the stage),
``kernel``, ``cheap_kernel``, ``ratio``, ``reweight``, ``reduction`` (SCR options), ``sem``,
``head``, ``dasp_rates``, ``dasp_growth``, ``input_size`` (``"HxW"``).
List-valued choices are stored in Optuna as JSON strings (its categorical values must be scalars).

Loading checks every value a knob can take (``width: {low: -16}``, ``num_modules.1: {low: 0}``,
an even kernel, a stage index the base lacks, an unknown block, head or attention), the cost
profiles and the latency/training/sampler options; each error names its field. Whether the
space's draws are valid networks within budget is :func:`archlab.search.check.check_space`'s job.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..spec import HeadSpec, NetworkSpec, SpecError, parse_size
from .rungs import HalvingError, HalvingPlan

__all__ = ["Knob", "SearchSpace", "Objective", "SpaceError", "KNOB_PATTERNS", "OBJECTIVES"]


class SpaceError(ValueError):
    """A malformed search space; the message names the offending key."""


KNOB_PATTERNS = {
    r"width": int, r"widths\.\d+": int, r"block": str, r"block\.\d+": str, r"num_modules\.\d+": int,
    r"num_blocks": int, r"num_blocks\.\d+": int, r"kernel": int, r"cheap_kernel": int, r"ratio": float,
    r"reweight": list, r"reduction": int, r"sem": bool, r"head": str, r"dasp_rates": list,
    r"dasp_growth": int, r"input_size": str,
}
OBJECTIVES = {"params": "minimize", "macs": "minimize", "latency": "minimize", "accuracy": "maximize"}
SAMPLERS = ("nsga2", "nsga3", "tpe", "random")


def _knob_type(name: str):
    for pat, typ in KNOB_PATTERNS.items():
        if re.fullmatch(pat, name):
            return typ
    raise SpaceError(f"knobs.{name}: unknown knob (known: {', '.join(KNOB_PATTERNS)}; s/b are stage/branch indices)")


@dataclass(frozen=True)
class Knob:
    """One searchable (or fixed) setting."""

    name: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    value: Any = None

    @classmethod
    def parse(cls, name: str, raw: Any) -> "Knob":
        typ = _knob_type(name)
        where = f"knobs.{name}"
        if isinstance(raw, dict):
            extra = set(raw) - {"choices", "low", "high", "step", "log"}
            if extra:
                raise SpaceError(f"{where}.{sorted(extra)[0]}: unknown key (use choices, or low/high/step/log)")
            if "choices" in raw:
                ch = raw["choices"]
                if not isinstance(ch, list) or not ch:
                    raise SpaceError(f"{where}.choices: expected a non-empty list")
                for i, c in enumerate(ch):
                    _check_type(where, typ, c)
                    _check_value(f"{where}.choices[{i}]", name, c)
                return cls(name, choices=tuple(json.dumps(c) if isinstance(c, list) else c for c in ch))
            if "low" not in raw or "high" not in raw:
                raise SpaceError(f"{where}: a range needs both low and high")
            if typ not in (int, float):
                raise SpaceError(f"{where}: a {typ.__name__} knob takes choices, not a range")
            lo, hi = raw["low"], raw["high"]
            for k, v in (("low", lo), ("high", hi), ("step", raw.get("step", 1))):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise SpaceError(f"{where}.{k}: expected a number, got {v!r}")
            if typ is int and not all(float(v).is_integer() for v in (lo, hi, raw.get("step", 1))):
                raise SpaceError(f"{where}: an integer knob needs integer low/high/step")
            if lo > hi:
                raise SpaceError(f"{where}: low {lo} is above high {hi}")
            if raw.get("step") is not None and raw["step"] <= 0:
                raise SpaceError(f"{where}.step: must be positive")
            _check_range(where, name, lo, hi, raw.get("step"), raw.get("log", False))
            return cls(name, low=lo, high=hi, step=raw.get("step"), log=bool(raw.get("log", False)))
        _check_type(where, typ, raw)
        _check_value(where, name, raw)
        return cls(name, value=json.dumps(raw) if isinstance(raw, list) else raw)

    @property
    def fixed(self) -> bool:
        return self.choices is None and self.low is None

    def suggest(self, trial) -> Any:
        if self.fixed:
            return _decode(self.value)
        if self.choices is not None:
            return _decode(trial.suggest_categorical(self.name, list(self.choices)))
        if _knob_type(self.name) is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def encode(self, value) -> Any:
        """The Optuna parameter value for ``value`` (to enqueue a baseline); raises if outside."""
        v = json.dumps(list(value)) if isinstance(value, (list, tuple)) else value
        if self.fixed:
            ok = v == self.value
        elif self.choices is not None:
            ok = v in self.choices
        else:
            ok = self.low <= v <= self.high and (not self.step or abs(((v - self.low) / self.step) % 1) < 1e-9)
        if not ok:
            raise SpaceError(f"knobs.{self.name}: value {value!r} is outside the space")
        return v


def _check_type(where, typ, v):
    if typ is list:
        if not isinstance(v, list):
            raise SpaceError(f"{where}: expected a list value, got {v!r}")
    elif typ is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpaceError(f"{where}: expected a number, got {v!r}")
    elif typ is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise SpaceError(f"{where}: expected an integer, got {v!r}")
    elif not isinstance(v, typ):
        raise SpaceError(f"{where}: expected {typ.__name__}, got {v!r}")


#: the smallest value of each numeric knob family (what the spec itself accepts)
KNOB_MINIMUM = {"width": 1, "widths": 1, "num_modules": 1, "num_blocks": 0, "kernel": 1, "cheap_kernel": 1,
                "reduction": 1, "dasp_growth": 1}


def _check_value(where: str, name: str, v) -> None:
    """Reject a knob value no network can have (``where`` names the field in the space file).

    >>> _check_value("knobs.width.low", "width", -16)
    Traceback (most recent call last):
    ...
    archlab.search.space.SpaceError: knobs.width.low: -16 is below the smallest width (1)
    """
    fam = name.split(".")[0]
    if fam in KNOB_MINIMUM and v < KNOB_MINIMUM[fam]:
        raise SpaceError(f"{where}: {v} is below the smallest {fam} ({KNOB_MINIMUM[fam]})")
    if fam in ("kernel", "cheap_kernel") and v % 2 == 0:
        raise SpaceError(f"{where}: kernel sizes must be odd, got {v}")
    if fam == "ratio" and not 0 < v < 1:
        raise SpaceError(f"{where}: ratio must lie strictly between 0 and 1, got {v}")
    if fam in ("block", "head", "reweight"):
        from ..blocks import ATTENTION, BLOCKS, HEADS
        known = {"block": BLOCKS, "head": HEADS, "reweight": ATTENTION}[fam]
        for x in (v if fam == "reweight" else [v]):
            if x not in known:
                raise SpaceError(f"{where}: unknown {'attention' if fam == 'reweight' else fam} {x!r}; "
                                 f"choose from {sorted(known)}")
    if fam in ("reweight", "dasp_rates") and not v:
        raise SpaceError(f"{where}: expected a non-empty list")
    if fam == "dasp_rates" and any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in v):
        raise SpaceError(f"{where}: dilation rates must be positive integers, got {v}")
    if fam == "input_size":
        _check_size(where, v)


def _check_size(where: str, text) -> None:
    try:
        h, w = parse_size(text)
    except SpecError as e:
        raise SpaceError(f"{where}: {e.args[0].split(': ', 1)[-1]}") from None
    if h < 4 or w < 4 or h % 4 or w % 4:
        raise SpaceError(f"{where}: {h}x{w} must be positive multiples of 4 (heatmaps are 1/4 size)")


def _check_range(where: str, name: str, lo, hi, step, log) -> None:
    """Reject a range whose bounds hold values no network can have, or that Optuna would bend."""
    _check_value(f"{where}.low", name, lo)
    _check_value(f"{where}.high", name, hi)
    if log and (step is not None or lo <= 0):
        raise SpaceError(f"{where}.log: a log range needs a positive low and no step")
    if step is not None and abs(round((hi - lo) / step) * step - (hi - lo)) > 1e-9 * max(1.0, abs(hi)):
        raise SpaceError(f"{where}: high {hi} is not low {lo} plus a multiple of step {step}")
    fam = name.split(".")[0]
    if fam in ("kernel", "cheap_kernel") and lo != hi and (step or 1) % 2:
        raise SpaceError(f"{where}.step: a kernel range needs an even step (odd sizes only), got {step or 1}")


def _canonical(spec: NetworkSpec) -> dict:
    """The spec as a dict with every block/head option filled in (defaults made explicit)."""
    from ..blocks import BLOCKS, HEADS
    d = spec.to_dict()
    d.pop("name"), d.pop("description")
    for st in d["stages"]:
        st["block_options"] = {**{k: list(v) if isinstance(v, tuple) else v
                                  for k, v in BLOCKS[st["block"]].OPTIONS.items()}, **st["block_options"]}
    d["head"]["options"] = {**{k: list(v) if isinstance(v, tuple) else v
                               for k, v in HEADS[d["head"]["type"]].OPTIONS.items()}, **d["head"]["options"]}
    return d


def _decode(v):
    if isinstance(v, str) and v.startswith("["):
        return json.loads(v)
    return v


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str
    profile: str = "macs"

    @property
    def label(self) -> str:
        return f"macs[{self.profile}]" if self.name == "macs" else self.name


def _known_profile(where: str, prof) -> str:
    from ..cost.profiles import PROFILES
    if not isinstance(prof, str) or prof not in PROFILES:
        import difflib
        near = difflib.get_close_matches(str(prof), list(PROFILES), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SpaceError(f"{where}: unknown cost profile {prof!r}; {hint}choose one of {sorted(PROFILES)}")
    return prof


def _parse_objectives(raw_objs) -> tuple:
    if not isinstance(raw_objs, list) or not raw_objs:
        raise SpaceError("objectives: expected a non-empty list")
    objs = []
    for i, o in enumerate(raw_objs):
        o = {"name": o} if isinstance(o, str) else o
        if not isinstance(o, dict) or o.get("name") not in OBJECTIVES:
            raise SpaceError(f"objectives[{i}]: unknown objective {o!r}; choose from {sorted(OBJECTIVES)}")
        extra = set(o) - {"name", "direction", "profile"}
        if extra:
            raise SpaceError(f"objectives[{i}].{sorted(extra)[0]}: unknown key (name, direction, profile)")
        d = o.get("direction", OBJECTIVES[o["name"]])
        if d not in ("minimize", "maximize"):
            raise SpaceError(f"objectives[{i}].direction: must be minimize or maximize, got {d!r}")
        if "profile" in o and o["name"] != "macs":
            raise SpaceError(f"objectives[{i}].profile: only the macs objective takes a counting profile")
        objs.append(Objective(o["name"], d, _known_profile(f"objectives[{i}].profile", o.get("profile", "macs"))))
    labels = [o.label for o in objs]
    if len(set(labels)) != len(labels):
        raise SpaceError(f"objectives: repeated objective in {labels}")
    return tuple(objs)


def _parse_constraints(raw) -> dict:
    cons = raw if raw is not None else {}
    if not isinstance(cons, dict):
        raise SpaceError("constraints: expected a mapping")
    cons = dict(cons)
    bad = sorted(set(cons) - {"params_max", "macs_max", "latency_max", "profile"})
    if bad:
        raise SpaceError(f"constraints.{bad[0]}: unknown constraint (params_max, macs_max, latency_max, profile)")
    for k in ("params_max", "macs_max", "latency_max"):
        if isinstance(cons.get(k), str):  # YAML 1.1 reads 30.0e6 (no sign in the exponent) as text
            try:
                cons[k] = float(cons[k])
            except ValueError:
                raise SpaceError(f"constraints.{k}: expected a positive number, got {cons[k]!r}") from None
        if k in cons and (isinstance(cons[k], bool) or not isinstance(cons[k], (int, float)) or cons[k] <= 0):
            raise SpaceError(f"constraints.{k}: expected a positive number, got {cons[k]!r}")
    if "profile" in cons:
        _known_profile("constraints.profile", cons["profile"])
    return cons


def _parse_sampler(raw) -> dict:
    sampler = dict(raw or {"type": "nsga2"})
    if sampler.get("type", "nsga2") not in SAMPLERS:
        raise SpaceError(f"sampler.type: unknown sampler {sampler.get('type')!r}; choose one of {list(SAMPLERS)}")
    bad = sorted(set(sampler) - {"type", "seed", "population_size"})
    if bad:
        raise SpaceError(f"sampler.{bad[0]}: unknown key (type, seed, population_size)")
    seed = sampler.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SpaceError(f"sampler.seed: expected a non-negative integer, got {seed!r}")
    pop = sampler.get("population_size", 50)
    if isinstance(pop, bool) or not isinstance(pop, int) or pop < 2:
        raise SpaceError(f"sampler.population_size: expected an integer >= 2, got {pop!r}")
    return sampler


#: options of the ``latency`` section (see :func:`archlab.search.objective._default_latency`)
LATENCY_KEYS = {"input_size": 4, "batch": 1, "threads": 1, "warmup": 0, "repeats": 1}
#: text options of the ``latency`` section: ``method`` predict (from the spec, with this
#: machine's latency table; the default) or measure; the ``runtime`` measured or predicted
LATENCY_CHOICES = {"method": ("predict", "measure"), "runtime": ("onnxruntime", "eager", "compile")}


def _parse_latency(raw) -> dict:
    opts = raw if raw is not None else {}
    if not isinstance(opts, dict):
        raise SpaceError("latency: expected a mapping of options")
    for k, v in opts.items():
        if k in LATENCY_CHOICES:
            if v not in LATENCY_CHOICES[k]:
                raise SpaceError(f"latency.{k}: expected one of {list(LATENCY_CHOICES[k])}, got {v!r}")
            continue
        if k not in LATENCY_KEYS:
            raise SpaceError(f"latency.{k}: unknown latency option (known: "
                             f"{', '.join([*LATENCY_KEYS, *LATENCY_CHOICES])})")
        if k == "input_size":
            _check_size("latency.input_size", v)
        elif isinstance(v, bool) or not isinstance(v, int) or v < LATENCY_KEYS[k]:
            raise SpaceError(f"latency.{k}: expected an integer >= {LATENCY_KEYS[k]}, got {v!r}")
    if opts.get("method", "predict") == "predict" and opts.get("runtime", "onnxruntime") != "onnxruntime":
        raise SpaceError(f"latency.runtime: the latency predictor covers onnxruntime only, not "
                         f"{opts['runtime']!r}; set latency.method: measure to time it")
    return dict(opts)


def _parse_training(raw) -> dict:
    from .objective import TRAIN_KEYS  # (objective imports this module)
    opts = raw if raw is not None else {}
    if not isinstance(opts, dict):
        raise SpaceError("training: expected a mapping of training options")
    bad = sorted(set(opts) - TRAIN_KEYS)
    if bad:
        raise SpaceError(f"training.{bad[0]}: unknown training option (known: {', '.join(sorted(TRAIN_KEYS))})")
    return dict(opts)


def _parse_halving(raw) -> HalvingPlan | None:
    if raw is None:
        return None
    try:
        return HalvingPlan.from_dict(raw)
    except HalvingError as e:
        raise SpaceError(str(e)) from None


@dataclass(frozen=True)
class SearchSpace:
    study: str
    base: str
    knobs: tuple
    objectives: tuple
    constraints: dict = field(default_factory=dict)
    sampler: dict = field(default_factory=lambda: {"type": "nsga2", "seed": 0})
    baselines: tuple = ()
    n_trials: int = 100
    training: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    source: str = ""
    halving: HalvingPlan | None = None      # multi-fidelity rungs (archlab.search.rungs), or one budget

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> "SearchSpace":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"search space file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise SpaceError(f"{p}: not valid YAML: {e}") from None
        try:
            return cls.from_dict(data, source=str(p))
        except SpaceError as e:
            raise SpaceError(f"{p}: {e}") from None

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> "SearchSpace":
        if not isinstance(data, dict):
            raise SpaceError("expected a mapping at the top level")
        known = {"study", "base", "knobs", "objectives", "constraints", "sampler", "baselines", "n_trials",
                 "training", "latency", "halving"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpaceError(f"{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        for req in ("study", "base", "knobs", "objectives"):
            if req not in data:
                raise SpaceError(f"{req}: required key missing")
        if not isinstance(data["study"], str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", data["study"]):
            raise SpaceError(f"study: expected a name of letters, digits, _ . -, got {data['study']!r}")
        if not isinstance(data["knobs"], dict) or not data["knobs"]:
            raise SpaceError("knobs: expected a non-empty mapping of knob -> value/choices/range")
        knobs = tuple(Knob.parse(str(k), v) for k, v in data["knobs"].items())
        n_trials = data.get("n_trials", 100)
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise SpaceError(f"n_trials: expected a positive integer, got {n_trials!r}")
        baselines = data.get("baselines") or []
        if not isinstance(baselines, list) or not all(isinstance(b, str) for b in baselines):
            raise SpaceError("baselines: expected a list of zoo names or spec paths")
        space = cls(study=data["study"], base=str(data["base"]), knobs=knobs,
                    objectives=_parse_objectives(data["objectives"]),
                    constraints=_parse_constraints(data.get("constraints")),
                    sampler=_parse_sampler(data.get("sampler")), baselines=tuple(baselines), n_trials=n_trials,
                    training=_parse_training(data.get("training")), latency=_parse_latency(data.get("latency")),
                    source=source, halving=_parse_halving(data.get("halving")))
        space._check_indices()  # also: the base must resolve
        for b in space.baselines:
            space.params_for(b)  # every baseline must lie inside the space
        return space

    def _check_indices(self) -> None:
        """Stage and branch indices in knob names must exist in the base spec."""
        base = self.base_spec()
        n_stages, n_branches = len(base.stages), max(len(s.widths) for s in base.stages)
        for k in self.knobs:
            fam, _, idx = k.name.partition(".")
            if not idx:
                continue
            what, n = ("branch", n_branches) if fam == "widths" else ("stage", n_stages)
            if int(idx) >= n:
                plural = "branches" if what == "branch" else "stages"
                raise SpaceError(f"knobs.{k.name}: {what} {idx} does not exist; the base {self.base!r} has "
                                 f"{n} {plural} (0-{n - 1})")

    # -- spec generation -------------------------------------------------------------------
    def base_spec(self) -> NetworkSpec:
        from ..nets.factory import resolve_spec
        try:
            return resolve_spec(self.base)
        except (KeyError, FileNotFoundError, SpecError) as e:
            raise SpaceError(f"base: {e.args[0] if e.args else e}") from None

    def suggest(self, trial) -> NetworkSpec:
        """Sample every knob on ``trial`` and return the (validated) spec."""
        values = {k.name: k.suggest(trial) for k in self.knobs}
        return self.apply(values, name=f"{self.study}_t{trial.number}")

    def apply(self, values: dict, name: str | None = None) -> NetworkSpec:
        """The base spec with knob ``values`` applied (raises SpecError for an invalid combination)."""
        base = self.base_spec()
        stages = list(base.stages)
        nb = max(len(s.widths) for s in stages)
        widths = list(stages[-1].widths)
        if "width" in values:
            widths = [int(values["width"]) * 2 ** b for b in range(nb)]
        for b in range(nb):
            if f"widths.{b}" in values:
                widths[b] = int(values[f"widths.{b}"])
        scr_opts = {k: values[k] for k in ("kernel", "cheap_kernel", "ratio", "reweight", "reduction") if k in values}
        if "reweight" in scr_opts:
            scr_opts["reweight"] = tuple(scr_opts["reweight"])
        new_stages = []
        for s_i, st in enumerate(stages):
            n = len(st.widths)
            block = values.get(f"block.{s_i}", values.get("block", st.block))
            opts = dict(st.block_options) if block == st.block else {}
            if block == "scr":
                opts.update(scr_opts)
            blocks = values.get(f"num_blocks.{s_i}", values.get("num_blocks"))
            sem = st.sem
            if "sem" in values and s_i == len(stages) - 1:
                sem = (n - 1,) if values["sem"] else ()
            new_stages.append(dataclasses.replace(
                st, widths=tuple(widths[:n]), block=block, block_options=opts,
                num_modules=int(values.get(f"num_modules.{s_i}", st.num_modules)),
                num_blocks=(int(blocks),) * n if blocks is not None else st.num_blocks, sem=sem))
        head = base.head
        head_type = values.get("head", head.type)
        if head_type != head.type:
            head = HeadSpec(type=head_type)
        if head.type == "dasp":
            opts = dict(head.options)
            if "dasp_rates" in values:
                opts["rates"] = tuple(values["dasp_rates"])
            if "dasp_growth" in values:
                opts["growth"] = int(values["dasp_growth"])
            head = HeadSpec(type="dasp", options=opts)
        size = parse_size(values["input_size"]) if "input_size" in values else base.input_size
        return dataclasses.replace(base, name=name or base.name, stages=tuple(new_stages), head=head,
                                   input_size=size)

    def params_for(self, baseline: str) -> dict:
        """Optuna parameters reproducing a baseline spec (zoo name or YAML), for enqueueing.

        Raises :class:`SpaceError` when the baseline cannot be expressed in this space."""
        from ..nets.factory import resolve_spec
        try:
            spec = resolve_spec(baseline)
        except (KeyError, FileNotFoundError, SpecError) as e:
            raise SpaceError(f"baselines: {baseline!r}: {e.args[0] if e.args else e}") from None
        values = self.describe(spec)
        out, used = {}, {}
        irrelevant = {"dasp_rates", "dasp_growth"} if spec.head.type != "dasp" else set()
        if not any(s.block == "scr" for s in spec.stages):
            irrelevant |= {"kernel", "cheap_kernel", "ratio", "reweight", "reduction"}
        for k in self.knobs:
            if k.name not in values:
                if k.name in irrelevant:
                    continue  # has no effect on this baseline: left to the sampler
                raise SpaceError(f"baselines: {baseline!r} has no value for knob {k.name!r}")
            try:
                enc = k.encode(values[k.name])
            except SpaceError as e:
                raise SpaceError(f"baselines: {baseline!r}: {e}") from None
            used[k.name] = _decode(enc)
            if not k.fixed:
                out[k.name] = enc
        rebuilt = self.apply(used, name=spec.name)
        if _canonical(rebuilt) != _canonical(spec):
            raise SpaceError(f"baselines: {baseline!r} differs from base {self.base!r} in ways the knobs "
                             "cannot express (different stem, transitions or module layout)")
        return out

    @staticmethod
    def describe(spec: NetworkSpec) -> dict:
        """Knob values that describe ``spec`` (inverse of :meth:`apply`, where defined)."""
        from ..blocks import BLOCKS
        st = spec.stages
        last = st[-1]
        v: dict[str, Any] = {f"widths.{b}": w for b, w in enumerate(last.widths)}
        if all(w == last.widths[0] * 2 ** b for b, w in enumerate(last.widths)):
            v["width"] = last.widths[0]
        for i, s in enumerate(st):
            v[f"block.{i}"] = s.block
            v[f"num_modules.{i}"] = s.num_modules
            if len(set(s.num_blocks)) == 1:
                v[f"num_blocks.{i}"] = s.num_blocks[0]
        if len({s.block for s in st}) == 1:
            v["block"] = st[0].block
        if len({v.get(f"num_blocks.{i}") for i in range(len(st))}) == 1:
            v["num_blocks"] = v["num_blocks.0"]
        scr = next((s for s in st if s.block == "scr"), None)
        if scr is not None:
            o = {**BLOCKS["scr"].OPTIONS, **scr.block_options}
            for k in ("kernel", "cheap_kernel", "ratio", "reduction"):
                v[k] = o[k]
            rw = o["reweight"]
            v["reweight"] = [rw] if isinstance(rw, str) else list(rw)
        v["sem"] = bool(last.sem)
        v["head"] = spec.head.type
        if spec.head.type == "dasp":
            from ..blocks import HEADS
            o = {**HEADS["dasp"].OPTIONS, **spec.head.options}
            v["dasp_rates"] = list(o["rates"])
            v["dasp_growth"] = o["growth"]
        v["input_size"] = f"{spec.input_size[0]}x{spec.input_size[1]}"
        return v
