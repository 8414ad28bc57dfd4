"""The knobs of a search space: their names, value types and value checks, and the :class:`Knob` record.

Structural knobs (``s`` a stage index, ``b`` a branch index): ``width`` (branch b gets
``width * 2**b``), ``widths.b``, ``block``, ``block.s``, ``num_modules.s``, ``num_blocks`` /
``num_blocks.s`` (every branch of the stage), ``sem``, ``head``, ``input_size`` (``"HxW"``).

Option knobs come from the registry (:mod:`archlab.registry`): any option a block or head declares
is a knob, with no edit here (a block registered in your own file is searchable too)::

    block_options.BLOCK.OPTION        the option on every stage whose block is BLOCK
    block_options.BLOCK.OPTION.s      ... on stage s only (wins over the form above)
    head_options.HEAD.OPTION          the head's option, when the head is HEAD
    block_options.BLOCK: registry     every knob BLOCK registers (``knobs=`` of its registration),
    head_options.HEAD: registry       ... with the ranges it registers

An option knob takes what any knob takes (a fixed value, ``{choices: [...]}``, ``{low, high,
step, log}``) or the word ``registry``: the range its component registered. Values are checked
against the entry's options schema -- the type of the option's default and its per-option checks
(an even ``kernel``, a ``growth`` below 1); checks that need the whole spec (widths) run when a
draw is built. The older names are aliases of option knobs (the Optuna parameter keeps the name
written, so existing studies resume): see :data:`ALIASES`.

List-valued choices are stored in Optuna as JSON strings (its categorical values must be scalars).
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .. import registry
from ..spec import SpecError, parse_size

__all__ = ["Knob", "SpaceError", "OptionTarget", "KNOB_PATTERNS", "ALIASES", "REGISTRY_RANGE", "knob_type",
           "option_target", "expand_knob", "option_values", "describe_options", "check_unique", "KNOB_MINIMUM"]


class SpaceError(ValueError):
    """A malformed search space; the message names the offending key."""


#: structural knob name patterns -> value type
KNOB_PATTERNS = {
    r"width": int, r"widths\.\d+": int, r"block": str, r"block\.\d+": str, r"num_modules\.\d+": int,
    r"num_blocks": int, r"num_blocks\.\d+": int, r"sem": bool, r"head": str, r"input_size": str,
}
#: older knob names -> the option knob they stand for
ALIASES = {"kernel": "block_options.scr.kernel", "cheap_kernel": "block_options.scr.cheap_kernel",
           "ratio": "block_options.scr.ratio", "reweight": "block_options.scr.reweight",
           "reduction": "block_options.scr.reduction", "dasp_rates": "head_options.dasp.rates",
           "dasp_growth": "head_options.dasp.growth"}
#: the knob value meaning "the range the component registered"
REGISTRY_RANGE = "registry"
_PREFIX = {"block_options": "block", "head_options": "head"}
_FORMS = "block_options.BLOCK.OPTION[.STAGE], head_options.HEAD.OPTION"


def _registry(concept: str) -> registry.Registry:
    return registry.BLOCKS if concept == "block" else registry.HEADS


def _hint(word: str, known) -> str:
    near = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


# ----------------------------------------------------------------------------------------------
# option knobs

@dataclass(frozen=True)
class OptionTarget:
    """What an option knob sets: ``option`` of the ``concept`` ('block' / 'head') called
    ``component``, on stage ``stage`` only (blocks; None: every stage using the block)."""

    concept: str
    component: str
    option: str
    stage: int | None = None

    @property
    def entry(self) -> registry.Entry:
        return _registry(self.concept)[self.component]

    @property
    def default(self):
        return self.entry.options[self.option]

    @property
    def type(self) -> type:
        d = self.default
        for t in (bool, int, float, str):
            if isinstance(d, t):
                return t
        return list if isinstance(d, (tuple, list)) else object

    def normalise(self, value):
        """``value`` as the spec stores it (lists become tuples where the default is one)."""
        return tuple(value) if isinstance(value, list) and isinstance(self.default, tuple) else value

    def describe(self, value):
        """An option value from a spec as the knob writes it (tuples as lists, ``'se'`` as ``['se']``)."""
        if self.type is list:
            return [value] if isinstance(value, str) else list(value)
        return value


def is_option_knob(name: str) -> bool:
    return name in ALIASES or name.split(".")[0] in _PREFIX


@lru_cache(maxsize=None)
def _parse_target(name: str) -> OptionTarget:
    parts = ALIASES.get(name, name).split(".")
    concept = _PREFIX[parts[0]]
    n_max = 4 if concept == "block" else 3
    if len(parts) == 2:
        raise SpaceError(f"knobs.{name}: name an option ({name}.OPTION), or give the value "
                         f"{REGISTRY_RANGE!r} to search every knob {parts[1]!r} registers")
    if not 3 <= len(parts) <= n_max or (len(parts) == 4 and not parts[3].isdigit()):
        raise SpaceError(f"knobs.{name}: expected {_FORMS.split(', ')[concept == 'head']}, got {name!r}")
    reg = _registry(concept)
    if parts[1] not in reg:
        raise SpaceError(f"knobs.{name}: unknown {concept} {parts[1]!r}{_hint(parts[1], reg)}; "
                         f"choose one of {sorted(reg)}")
    options = reg[parts[1]].options
    if parts[2] not in options:
        raise SpaceError(f"knobs.{name}: {concept} {parts[1]!r} has no option {parts[2]!r}"
                         f"{_hint(parts[2], options)} (its options: {', '.join(sorted(options)) or 'none'})")
    return OptionTarget(concept, parts[1], parts[2], int(parts[3]) if len(parts) == 4 else None)


def option_target(name: str) -> OptionTarget:
    """The :class:`OptionTarget` of option knob ``name``; raises :class:`SpaceError` naming it.

    >>> option_target("block_options.mbconv.kernel.1")
    OptionTarget(concept='block', component='mbconv', option='kernel', stage=1)
    >>> option_target("dasp_growth")
    OptionTarget(concept='head', component='dasp', option='growth', stage=None)
    >>> option_target("block_options.mbconv.kernal")
    Traceback (most recent call last):
    ...
    archlab.search.knobs.SpaceError: knobs.block_options.mbconv.kernal: block 'mbconv' has no option 'kernal'; did you mean 'kernel'? (its options: expand_ratio, kernel, se)
    """
    return _parse_target(name)


registry.on_change(_parse_target.cache_clear)   # a re-registered component may change its options


def expand_knob(name: str, raw: Any) -> list[tuple[str, Any]]:
    """``[(name, raw)]``, with ``registry`` values replaced by the registered range, and a whole
    component (``block_options.mbconv: registry``) expanded into one knob per registered knob."""
    parts = name.split(".")
    if raw != REGISTRY_RANGE or not is_option_knob(name):
        return [(name, raw)]
    if len(parts) == 2 and parts[0] in _PREFIX:
        reg = _registry(_PREFIX[parts[0]])
        if parts[1] not in reg:
            raise SpaceError(f"knobs.{name}: unknown {reg.concept} {parts[1]!r}{_hint(parts[1], reg)}; "
                             f"choose one of {sorted(reg)}")
        if not reg[parts[1]].knobs:
            raise SpaceError(f"knobs.{name}: {reg.concept} {parts[1]!r} registers no knobs; name its options "
                             f"({', '.join(sorted(reg[parts[1]].options)) or 'none'}) with choices or ranges")
        return [(f"{name}.{opt}", dict(rng)) for opt, rng in reg[parts[1]].knobs.items()]
    t = option_target(name)
    if t.option not in t.entry.knobs:
        raise SpaceError(f"knobs.{name}: {t.concept} {t.component!r} registers no search range for {t.option!r} "
                         f"(it registers: {', '.join(sorted(t.entry.knobs)) or 'none'}); give choices or low/high")
    return [(name, dict(t.entry.knobs[t.option]))]


def _check_option(where: str, name: str, v) -> None:
    """The option's own check (from its registry entry) on a knob value."""
    t = option_target(name)
    check = t.entry.checks.get(t.option)
    msg = check(t.normalise(v)) if check is not None else None
    if msg:
        raise SpaceError(f"{where}: {msg} ({t.concept} {t.component!r} option {t.option!r})")


def _check_option_range(where: str, name: str, lo, hi, step) -> None:
    """Every value of an integer range (up to 10,000 of them) passes the option's check."""
    t = option_target(name)
    if t.type is int and t.option in t.entry.checks and (hi - lo) / (step or 1) <= 10_000:
        for v in range(int(lo), int(hi) + 1, int(step or 1)):
            _check_option(f"{where} (value {v})", name, v)


def option_values(values: dict) -> dict:
    """Knob values -> ``{(concept, component, stage): {option: value}}`` for the option knobs."""
    out: dict = {}
    for name, v in values.items():
        if is_option_knob(name):
            t = option_target(name)
            out.setdefault((t.concept, t.component, t.stage), {})[t.option] = t.normalise(v)
    return out


def describe_options(spec) -> dict:
    """The option knob values that describe ``spec`` (defaults filled in): per stage, for every
    stage (the first stage using the block), for the head, and under the older names."""
    v: dict = {}
    for i, st in enumerate(spec.stages):
        for opt, val in {**registry.BLOCKS[st.block].options, **st.block_options}.items():
            val = OptionTarget("block", st.block, opt, i).describe(val)
            v[f"block_options.{st.block}.{opt}.{i}"] = val
            v.setdefault(f"block_options.{st.block}.{opt}", val)
    h = spec.head
    for opt, val in {**registry.HEADS[h.type].options, **h.options}.items():
        v[f"head_options.{h.type}.{opt}"] = OptionTarget("head", h.type, opt).describe(val)
    v.update({alias: v[target] for alias, target in ALIASES.items() if target in v})
    return v


def check_unique(names) -> None:
    """Two knobs may not set the same thing (``kernel`` and ``block_options.scr.kernel``, or a
    ``registry`` group and one of its options)."""
    seen: dict = {}
    for n in names:
        key = option_target(n) if is_option_knob(n) else n
        if key in seen:
            raise SpaceError(f"knobs.{n}: sets the same option as knobs.{seen[key]}")
        seen[key] = n


# ----------------------------------------------------------------------------------------------
# every knob

def knob_type(name: str) -> type:
    """The value type of knob ``name`` (int, float, str, bool, list); raises for an unknown knob."""
    for pat, typ in KNOB_PATTERNS.items():
        if re.fullmatch(pat, name):
            return typ
    if is_option_knob(name):
        return option_target(name).type
    known = [*(p.replace(r"\.\d+", ".0") for p in KNOB_PATTERNS), *ALIASES,
             *(f"{p}.{c}.{o}" for p, concept in _PREFIX.items() for c, e in _registry(concept).items()
               for o in e.options)]
    raise SpaceError(f"knobs.{name}: unknown knob{_hint(name, known)} (known: {', '.join(KNOB_PATTERNS)}, "
                     f"{', '.join(ALIASES)}, {_FORMS}; s/b are stage/branch indices)")


#: the smallest value of each numeric knob family (what the spec itself accepts)
KNOB_MINIMUM = {"width": 1, "widths": 1, "num_modules": 1, "num_blocks": 0, "kernel": 1, "cheap_kernel": 1,
                "reduction": 1, "dasp_growth": 1}


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


def _check_value(where: str, name: str, v) -> None:
    """Reject a knob value no network can have (``where`` names the field in the space file).

    >>> _check_value("knobs.width.low", "width", -16)
    Traceback (most recent call last):
    ...
    archlab.search.knobs.SpaceError: knobs.width.low: -16 is below the smallest width (1)
    """
    fam = name.split(".")[0]
    if fam in KNOB_MINIMUM and v < KNOB_MINIMUM[fam]:
        raise SpaceError(f"{where}: {v} is below the smallest {fam} ({KNOB_MINIMUM[fam]})")
    if fam in ("kernel", "cheap_kernel") and v % 2 == 0:
        raise SpaceError(f"{where}: kernel sizes must be odd, got {v}")
    if fam == "ratio" and not 0 < v < 1:
        raise SpaceError(f"{where}: ratio must lie strictly between 0 and 1, got {v}")
    if fam in ("block", "head", "reweight"):
        known = {"block": registry.BLOCKS, "head": registry.HEADS, "reweight": registry.ATTENTION}[fam]
        for x in (v if fam == "reweight" else [v]):
            if x not in known:
                raise SpaceError(f"{where}: unknown {'attention' if fam == 'reweight' else fam} {x!r}"
                                 f"{_hint(str(x), known)}; choose from {sorted(known)}")
    if fam in ("reweight", "dasp_rates") and not v:
        raise SpaceError(f"{where}: expected a non-empty list")
    if fam == "dasp_rates" and any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in v):
        raise SpaceError(f"{where}: dilation rates must be positive integers, got {v}")
    if fam == "input_size":
        _check_size(where, v)
    if is_option_knob(name):
        _check_option(where, name, v)


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
    if is_option_knob(name) and not log:
        _check_option_range(where, name, lo, hi, step)


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
        typ = knob_type(name)
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
        if knob_type(self.name) is int:
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


def _decode(v):
    if isinstance(v, str) and v.startswith("["):
        return json.loads(v)
    return v
