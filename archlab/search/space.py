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
      block_options.mbconv.kernel: {choices: [3, 5]}   # any registered block's or head's option
      head_options.dasp.growth: registry               # the range the dasp head registers
    objectives: [params, {name: macs, profile: hrnet_paper}]
    constraints: {params_max: 20.0e6, macs_max: 5.0, profile: hrnet_paper}
    sampler: {type: nsga2, seed: 0, population_size: 40}
    baselines: [sdhrnet_coco, hrnet_w32_coco]
    n_trials: 500

Knob names (``s`` a stage index, ``b`` a branch index): ``width``, ``widths.b``, ``block``,
``block.s``, ``num_modules.s``, ``num_blocks`` / ``num_blocks.s`` (every branch of the stage),
``sem``, ``head``, ``input_size`` (``"HxW"``), and every option of a registered block or head:
``block_options.BLOCK.OPTION[.s]``, ``head_options.HEAD.OPTION`` (older names such as ``kernel``
or ``dasp_rates`` are aliases); see :mod:`archlab.search.knobs`.

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

from .. import registry
from ..cost.predictor.predict import CALIBRATIONS
from ..spec import HeadSpec, NetworkSpec, SpecError, parse_size
from .knobs import (KNOB_PATTERNS, Knob, SpaceError, _check_size, _decode, check_unique, expand_knob, is_option_knob,
                    describe_options, option_target, option_values)
from .rungs import HalvingError, HalvingPlan

__all__ = ["Knob", "SearchSpace", "Objective", "SpaceError", "KNOB_PATTERNS", "OBJECTIVES"]


OBJECTIVES = {"params": "minimize", "macs": "minimize", "latency": "minimize", "accuracy": "maximize"}
SAMPLERS = ("nsga2", "nsga3", "tpe", "random")


def _canonical(spec: NetworkSpec) -> dict:
    """The spec as a dict with every block/head option filled in (defaults made explicit)."""
    BLOCKS, HEADS = registry.BLOCKS, registry.HEADS
    d = spec.to_dict()
    d.pop("name"), d.pop("description")
    for st in d["stages"]:
        st["block_options"] = {**{k: list(v) if isinstance(v, tuple) else v
                                  for k, v in BLOCKS[st["block"]].options.items()}, **st["block_options"]}
    d["head"]["options"] = {**{k: list(v) if isinstance(v, tuple) else v
                               for k, v in HEADS[d["head"]["type"]].options.items()}, **d["head"]["options"]}
    return d


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


#: options of the ``training`` section (fields of :class:`archlab.train.TrainConfig` a search sets)
TRAIN_KEYS = {"data", "data_root", "input_size", "epochs", "batch", "lr", "workers", "seed", "limit_train",
              "limit_val", "max_steps_per_epoch", "val_every", "device", "checkpoint_every", "flip_test",
              "train_split", "val_split", "milestones", "threads"}
#: options of the ``latency`` section (see :func:`archlab.search.objective._default_latency`)
LATENCY_KEYS = {"input_size": 4, "batch": 1, "threads": 1, "warmup": 0, "repeats": 1}
#: text options of the ``latency`` section: ``method`` predict (from the spec, with this
#: machine's latency table; the default) or measure; the ``runtime`` measured or predicted; the
#: predictor's ``calibration`` (:data:`archlab.cost.predictor.CALIBRATIONS`, default ``linear``)
LATENCY_CHOICES = {"method": ("predict", "measure"), "runtime": ("onnxruntime", "eager", "compile"),
                   "calibration": CALIBRATIONS}
#: ``table``: a latency table file (JSON, as :meth:`LatencyTable.save` writes it) to predict with
#: instead of this machine's cached one: a study that commits its table predicts the same
#: latencies on every machine, and can be resumed anywhere
LATENCY_PATHS = ("table",)


def _check_latency_table(opts: dict) -> None:
    from ..cost.predictor.table import LatencyTable
    path = opts["table"]
    if not isinstance(path, str) or not Path(path).is_file():
        raise SpaceError(f"latency.table: no latency table file at {path!r}")
    if opts.get("method", "predict") != "predict":
        raise SpaceError("latency.table: a table is for method: predict, not measure")
    try:
        key = LatencyTable.load(path).key
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SpaceError(f"latency.table: {path!r} is not a latency table ({e})") from None
    for name, default in (("runtime", "onnxruntime"), ("threads", 1), ("batch", 1)):
        if key.get(name) != opts.get(name, default):
            raise SpaceError(f"latency.table: {path!r} was profiled for {name}={key.get(name)!r}, "
                             f"not {opts.get(name, default)!r}")


def _parse_latency(raw) -> dict:
    opts = raw if raw is not None else {}
    if not isinstance(opts, dict):
        raise SpaceError("latency: expected a mapping of options")
    for k, v in opts.items():
        if k in LATENCY_PATHS:
            continue
        if k in LATENCY_CHOICES:
            if v not in LATENCY_CHOICES[k]:
                raise SpaceError(f"latency.{k}: expected one of {list(LATENCY_CHOICES[k])}, got {v!r}")
            continue
        if k not in LATENCY_KEYS:
            raise SpaceError(f"latency.{k}: unknown latency option (known: "
                             f"{', '.join([*LATENCY_KEYS, *LATENCY_CHOICES, *LATENCY_PATHS])})")
        if k == "input_size":
            _check_size("latency.input_size", v)
        elif isinstance(v, bool) or not isinstance(v, int) or v < LATENCY_KEYS[k]:
            raise SpaceError(f"latency.{k}: expected an integer >= {LATENCY_KEYS[k]}, got {v!r}")
    if opts.get("method", "predict") == "predict" and opts.get("runtime", "onnxruntime") != "onnxruntime":
        raise SpaceError(f"latency.runtime: the latency predictor covers onnxruntime only, not "
                         f"{opts['runtime']!r}; set latency.method: measure to time it")
    if "table" in opts:
        _check_latency_table(opts)
    return dict(opts)


def _parse_training(raw) -> dict:
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
        knobs = tuple(Knob.parse(name, raw) for k, v in data["knobs"].items() for name, raw in expand_knob(str(k), v))
        check_unique([k.name for k in knobs])
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
            if is_option_knob(k.name):
                fam, idx = "stage", option_target(k.name).stage
                idx = "" if idx is None else str(idx)
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

    def draws(self, seed: int = 0):
        """Endless random draws of the space as ``(knob values, spec)`` (Optuna's seeded
        ``RandomSampler`` on an in-memory study: the same seed, the same draws); a draw the spec
        validator refuses comes as ``(knob values, None)``."""
        import optuna
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        while True:
            trial = study.ask()
            try:
                spec = self.suggest(trial)
            except SpecError:
                spec = None
            yield trial.params, spec

    def sample(self, n: int, seed: int = 0, *, tries: int = 50) -> list[NetworkSpec]:
        """``n`` distinct valid specs of :meth:`draws` (the same seed draws the same specs); at
        most ``tries * n`` draws in all."""
        if n < 1:
            raise ValueError(f"sample: n must be >= 1, got {n}")
        seen, out = set(), []
        for _, (_params, spec) in zip(range(tries * n), self.draws(seed)):
            if spec is None:
                continue
            key = dataclasses.replace(spec, name=self.study).to_yaml()   # names differ per trial
            if key not in seen:
                seen.add(key)
                out.append(spec)
                if len(out) == n:
                    return out
        raise SpaceError(f"sample: only {len(out)} distinct valid specs in {tries * n} draws of {self.study!r}")

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
        opts_of = option_values(values)   # (concept, component, stage) -> {option: value}
        new_stages = []
        for s_i, st in enumerate(stages):
            n = len(st.widths)
            block = values.get(f"block.{s_i}", values.get("block", st.block))
            opts = dict(st.block_options) if block == st.block else {}
            opts.update({**opts_of.get(("block", block, None), {}), **opts_of.get(("block", block, s_i), {})})
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
        if ("head", head.type, None) in opts_of:
            head = HeadSpec(type=head.type, options={**head.options, **opts_of["head", head.type, None]})
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
        for k in self.knobs:
            if k.name not in values:
                if is_option_knob(k.name):
                    continue  # an option of a block/head the baseline does not use: left to the sampler
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
        v["sem"] = bool(last.sem)
        v["head"] = spec.head.type
        v.update(describe_options(spec))
        v["input_size"] = f"{spec.input_size[0]}x{spec.input_size[1]}"
        return v
