"""Declarative network specs: frozen dataclasses, validated on construction, YAML round trip.

A :class:`NetworkSpec` describes a whole HRNet-family pose network:

* ``stem`` (:class:`StemSpec`) -- HRNet's two stride-2 3x3 convs + bottleneck ``layer1``, or
  Lite-HRNet's shuffle stem; its output at 1/4 resolution is also the *low-level features*
  (``f_LLF``) the DASP head fuses.
* ``stages`` (:class:`StageSpec` each) -- a multi-resolution stage: per-branch widths and block
  counts, module count, block type and options, fuse method, SEM placement.
* ``head`` (:class:`HeadSpec`) -- ``simple`` (HRNet final 1x1 conv), ``iterative``
  (Lite-HRNet) or ``dasp`` (SDHRNet).
* ``transition`` -- how transition and fuse layers are built: ``'hrnet'`` (full 3x3 convs) or
  ``'lite'`` (depthwise-separable, as Lite-HRNet).
* ``fuse_forward`` -- ``'hrnet'`` (``y_i = relu(sum_j f_ij(x_j))``) or ``'litehrnet'``, the
  public Lite-HRNet implementation's behaviour (branch 0 is counted twice and, through an
  in-place add, the fused branch-0 sum is what the other outputs see): see
  :mod:`archlab.nets.builder`.

Every error names the offending field, e.g. ``stages[1].widths: expected 3 entries (one per
branch), got 2``. Validation raises :class:`SpecError` (a ``ValueError``), never ``assert``.

Names of blocks, heads, stems and the SEM, and their options, are checked against the component
registries (:mod:`archlab.registry`); this module imports no torch (validating a spec imports the
registered components once, see the registry's discovery notes).
"""
from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from . import registry
from .registry import OptionError

__all__ = ["SpecError", "StemSpec", "StageSpec", "HeadSpec", "NetworkSpec"]


class SpecError(ValueError):
    """A spec is malformed. The message starts with the path of the offending field."""


# ----------------------------------------------------------------------------------------------
# small typed-field helpers

def _kind(k: str, **kw):
    return field(metadata={"kind": k}, **kw)


def _err(path: str, msg: str) -> SpecError:
    return SpecError(f"{path}: {msg}")


def _check_value(path: str, kind: str, v: Any):
    """Check ``v`` against ``kind`` and return it normalised (lists -> tuples)."""
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise _err(path, f"expected an integer, got {type(v).__name__} {v!r}")
        return v
    if kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _err(path, f"expected a number, got {type(v).__name__} {v!r}")
        return float(v)
    if kind == "str":
        if not isinstance(v, str):
            raise _err(path, f"expected a string, got {type(v).__name__} {v!r}")
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise _err(path, f"expected true/false, got {type(v).__name__} {v!r}")
        return v
    if kind in ("ints", "size"):
        if not isinstance(v, (list, tuple)):
            raise _err(path, f"expected a list of integers, got {type(v).__name__} {v!r}")
        out = tuple(_check_value(f"{path}[{i}]", "int", x) for i, x in enumerate(v))
        if kind == "size" and len(out) != 2:
            raise _err(path, f"expected [height, width], got {len(out)} values {list(out)}")
        return out
    if kind == "options":
        if not isinstance(v, dict):
            raise _err(path, f"expected a mapping of options, got {type(v).__name__} {v!r}")
        for key in v:
            if not isinstance(key, str):
                raise _err(path, f"option names must be strings, got {key!r}")
        return {k: tuple(x) if isinstance(x, list) else x for k, x in v.items()}
    raise _err(path, f"internal: unknown field kind {kind}")  # pragma: no cover


def _check_options(path: str, options: dict, allowed: dict, owner: str) -> None:
    """Unknown option names and values whose type disagrees with the default are errors."""
    for k, v in options.items():
        if k not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise _err(f"{path}.{k}", f"unknown option for {owner} (known options: {known})")
        default = allowed[k]
        p = f"{path}.{k}"
        if isinstance(default, bool):
            _check_value(p, "bool", v)
        elif isinstance(default, int):
            _check_value(p, "int", v)
        elif isinstance(default, float):
            _check_value(p, "float", v)
        elif isinstance(default, str):
            _check_value(p, "str", v)
        elif isinstance(default, tuple):
            if not isinstance(v, (tuple, str)):
                raise _err(p, f"expected a list, got {type(v).__name__} {v!r}")


def _check_entry(path: str, where: str, entry, options: dict, owner: str | None = None, **context) -> None:
    """Generic validation of a registered component's options (``path.where`` names the options
    field): unknown names and types against the defaults, then the entry's per-option checks and
    validator (:meth:`archlab.registry.Entry.check`), whose errors are re-rooted at ``path``."""
    at = f"{path}.{where}" if path else where
    _check_options(at, options, entry.options, owner or f"{entry.concept} {entry.name!r}")
    try:
        entry.check(options, **context)
    except OptionError as e:
        raise _err(f"{at}.{e.field}" if e.option else f"{path}.{e.field}" if path else e.field, e.message) from None


class _Spec:
    """Shared machinery: normalise + type-check fields, dict conversion."""

    _default_path = ""

    def _normalise(self, path: str) -> None:
        for f in fields(self):
            kind = f.metadata.get("kind")
            v = getattr(self, f.name)
            p = f"{path}.{f.name}" if path else f.name
            if kind is None:
                continue
            if v is None and f.metadata.get("optional"):
                continue
            if kind.startswith(("spec:", "specs:")):
                continue
            object.__setattr__(self, f.name, _check_value(p, kind, v))

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, _Spec):
                v = v.to_dict()
            elif isinstance(v, tuple) and v and isinstance(v[0], _Spec):
                v = [s.to_dict() for s in v]
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, dict):
                v = {k: list(x) if isinstance(x, tuple) else x for k, x in v.items()}
            out[f.name] = v
        return out

    @classmethod
    def _from_dict(cls, data: Any, path: str):
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise _err(path or cls.__name__, f"expected a mapping for {cls.__name__}, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise _err(where, f"unknown key for {cls.__name__} (known keys: {', '.join(known)})")
        for f in fields(cls):
            if f.name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                where = f"{path}.{f.name}" if path else f.name
                raise _err(where, f"required key missing from {cls.__name__}")
        kwargs = {}
        for k, v in data.items():
            kind = known[k].metadata.get("kind", "")
            p = f"{path}.{k}" if path else k
            if kind.startswith("spec:"):
                sub = _SPEC_TYPES[kind[5:]]
                kwargs[k] = sub._from_dict(v, p)
            elif kind.startswith("specs:"):
                sub = _SPEC_TYPES[kind[6:]]
                if not isinstance(v, (list, tuple)):
                    raise _err(p, f"expected a list of {sub.__name__}, got {type(v).__name__}")
                kwargs[k] = tuple(sub._from_dict(x, f"{p}[{i}]") for i, x in enumerate(v))
            else:
                kwargs[k] = v
        try:
            return cls(**kwargs)
        except TypeError as e:  # missing required keys
            raise _err(path or cls.__name__, str(e).replace("__init__() ", "")) from None
        except SpecError as e:  # re-root the error at this spec's place in the document
            msg, default = str(e), cls._default_path
            if path and default and msg.startswith(default):
                msg = path + msg[len(default):]
            raise SpecError(msg) from None


# ----------------------------------------------------------------------------------------------

TRANSITIONS = ("hrnet", "lite")
FUSE_FORWARDS = ("hrnet", "litehrnet")
FUSE_METHODS = ("sum", "none")


@dataclass(frozen=True)
class StemSpec(_Spec):
    """The stem (1/4 resolution).

    ``type='hrnet'``: ``conv3x3/2 (in -> channels) -> conv3x3/2 (channels -> channels)`` then
    ``num_blocks`` ``block`` units of width ``block_width`` (HRNet's ``layer1``: 4 bottlenecks of
    width 64, 256 channels out). ``type='lite'``: Lite-HRNet's stem with ``channels`` stem
    channels, ``expand_ratio`` and ``out_channels`` (``num_blocks`` must be 0).
    """

    type: str = _kind("str", default="hrnet")
    channels: int = _kind("int", default=64)
    block: str = _kind("str", default="bottleneck")
    num_blocks: int = _kind("int", default=4)
    block_width: int = _kind("int", default=64)
    expand_ratio: float = _kind("float", default=1.0)
    out_channels: int | None = field(default=None, metadata={"kind": "int", "optional": True})

    _default_path = "stem"

    def __post_init__(self):
        self.validate("stem")

    def validate(self, path: str = "stem") -> None:
        self._normalise(path)
        if self.type not in registry.STEMS:
            raise _err(f"{path}.type", f"unknown stem type {self.type!r}; choose one of {sorted(registry.STEMS)}")
        if self.channels < 1:
            raise _err(f"{path}.channels", f"must be positive, got {self.channels}")
        if self.num_blocks < 0:
            raise _err(f"{path}.num_blocks", f"must be >= 0, got {self.num_blocks}")
        _check_entry(path, "", registry.STEMS[self.type], {}, stem=self)

    @property
    def out_width(self) -> int:
        """Channels the stem outputs (the input of the first transition and of the DASP's f_LLF)."""
        return registry.STEMS[self.type].out_width(self)


@dataclass(frozen=True)
class StageSpec(_Spec):
    """One multi-resolution stage: ``num_modules`` modules, each with ``len(widths)`` branches of
    ``num_blocks[b]`` blocks, then a fuse layer.

    * ``block``: a name registered in :data:`archlab.registry.BLOCKS` (``basic``, ``bottleneck``,
      ``scr``, ``shuffle``, ``ccw``, ``mbconv``, ``repvgg``, or your own); ``block_options`` its
      options (e.g. for ``scr``: ``{kernel: 5, reweight: [eca, eca], ratio: 0.5}``), checked by
      the block's registry entry.
    * ``fuse``: ``'sum'`` (HRNet exchange units) or ``'none'``.
    * ``sem``: 0-based indices of the branches whose *input* to this stage goes through a SEM
      first (0 = the highest-resolution branch; SDHRNet: ``(3,)``, the deepest of the last
      stage's four branches).
    * ``multiscale_output``: ``False`` makes the last module fuse into branch 0 only (HRNet
      pose nets' final module). The last stage's last module never builds outputs its head
      does not read, so before a head that reads branch 0 only, ``True`` builds the same as
      ``False`` (see :mod:`archlab.nets.plan`).
    """

    widths: tuple = _kind("ints")
    num_blocks: tuple = _kind("ints")
    num_modules: int = _kind("int", default=1)
    block: str = _kind("str", default="basic")
    block_options: dict = _kind("options", default_factory=dict)
    fuse: str = _kind("str", default="sum")
    sem: tuple = _kind("ints", default=())
    multiscale_output: bool = _kind("bool", default=True)

    _default_path = "stage"

    def __post_init__(self):
        self.validate("stage")

    def validate(self, path: str = "stage") -> None:
        self._normalise(path)
        n = len(self.widths)
        if n < 1:
            raise _err(f"{path}.widths", "a stage needs at least one branch")
        for i, w in enumerate(self.widths):
            if w < 1:
                raise _err(f"{path}.widths[{i}]", f"must be a positive width, got {w}")
        if len(self.num_blocks) != n:
            raise _err(f"{path}.num_blocks", f"expected {n} entries (one per branch, as widths), "
                       f"got {len(self.num_blocks)}")
        for i, b in enumerate(self.num_blocks):
            if b < 0:
                raise _err(f"{path}.num_blocks[{i}]", f"must be >= 0, got {b}")
        if self.num_modules < 1:
            raise _err(f"{path}.num_modules", f"must be >= 1, got {self.num_modules}")
        if self.block not in registry.BLOCKS:
            raise _err(f"{path}.block", f"unknown block {self.block!r}; choose one of {sorted(registry.BLOCKS)}")
        entry = registry.BLOCKS[self.block]
        if entry.multi_branch and len(set(self.num_blocks)) != 1:
            raise _err(f"{path}.num_blocks", f"block {self.block!r} spans all branches, so every branch "
                       f"needs the same block count, got {list(self.num_blocks)}")
        _check_entry(path, "block_options", entry, self.block_options, widths=self.widths,
                     num_blocks=self.num_blocks)
        if self.fuse not in FUSE_METHODS:
            raise _err(f"{path}.fuse", f"unknown fuse method {self.fuse!r}; choose one of {list(FUSE_METHODS)}")
        for i, b in enumerate(self.sem):
            if not 0 <= b < n:
                raise _err(f"{path}.sem[{i}]", f"branch index {b} out of range for {n} branches")
        if len(set(self.sem)) != len(self.sem):
            raise _err(f"{path}.sem", f"repeated branch index in {list(self.sem)}")

    @property
    def out_widths(self) -> tuple:
        e = registry.BLOCKS[self.block].expansion
        return tuple(w * e for w in self.widths)


@dataclass(frozen=True)
class HeadSpec(_Spec):
    """The head: ``type`` in :data:`archlab.blocks.HEADS` (``simple``, ``iterative``, ``dasp``)
    and its ``options`` (e.g. DASP ``rates``, ``growth``)."""

    type: str = _kind("str", default="simple")
    options: dict = _kind("options", default_factory=dict)

    _default_path = "head"

    def __post_init__(self):
        self.validate("head")

    def validate(self, path: str = "head") -> None:
        self._normalise(path)
        if self.type not in registry.HEADS:
            raise _err(f"{path}.type", f"unknown head {self.type!r}; choose one of {sorted(registry.HEADS)}")
        _check_entry(path, "options", registry.HEADS[self.type], self.options)


@dataclass(frozen=True)
class NetworkSpec(_Spec):
    """A whole pose network. Build it with :func:`archlab.create_model`.

    >>> from archlab import get_spec
    >>> s = get_spec('hrnet_w32_coco')
    >>> s.stages[-1].widths, s.input_size, s.num_joints
    ((32, 64, 128, 256), (256, 192), 17)
    """

    name: str = _kind("str")
    num_joints: int = _kind("int")
    input_size: tuple = _kind("size")
    stem: StemSpec = _kind("spec:StemSpec", default_factory=StemSpec)
    stages: tuple = _kind("specs:StageSpec", default=())
    head: HeadSpec = _kind("spec:HeadSpec", default_factory=HeadSpec)
    transition: str = _kind("str", default="hrnet")
    fuse_forward: str = _kind("str", default="hrnet")
    sem_options: dict = _kind("options", default_factory=dict)
    in_channels: int = _kind("int", default=3)
    description: str = _kind("str", default="")

    def __post_init__(self):
        if isinstance(self.stages, list):
            object.__setattr__(self, "stages", tuple(self.stages))
        self.validate()

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> None:
        sem = registry.MODULES["sem"]
        self._normalise("")
        if not self.name.strip():
            raise _err("name", "must not be empty")
        if self.num_joints < 1:
            raise _err("num_joints", f"must be a positive joint count, got {self.num_joints}")
        if self.in_channels < 1:
            raise _err("in_channels", f"must be positive, got {self.in_channels}")
        if not isinstance(self.stem, StemSpec):
            raise _err("stem", f"expected a StemSpec, got {type(self.stem).__name__}")
        if not isinstance(self.head, HeadSpec):
            raise _err("head", f"expected a HeadSpec, got {type(self.head).__name__}")
        if not isinstance(self.stages, tuple) or not self.stages:
            raise _err("stages", "a network needs at least one stage")
        for i, s in enumerate(self.stages):
            if not isinstance(s, StageSpec):
                raise _err(f"stages[{i}]", f"expected a StageSpec, got {type(s).__name__}")
        if self.transition not in TRANSITIONS:
            raise _err("transition", f"unknown transition style {self.transition!r}; choose one of {list(TRANSITIONS)}")
        if self.fuse_forward not in FUSE_FORWARDS:
            raise _err("fuse_forward", f"unknown fuse_forward {self.fuse_forward!r}; choose one of {list(FUSE_FORWARDS)}")
        _check_entry("", "sem_options", sem, self.sem_options, owner="SEM")
        prev = 1
        for i, s in enumerate(self.stages):
            n = len(s.widths)
            if n < prev:
                raise _err(f"stages[{i}].widths", f"a stage cannot have fewer branches ({n}) than the "
                           f"stage before it ({prev})")
            if not s.multiscale_output and i != len(self.stages) - 1:
                raise _err(f"stages[{i}].multiscale_output", "only the last stage may drop its "
                           "low-resolution outputs (later stages need them)")
            prev = n
        for i, s in enumerate(self.stages):
            for b in s.sem:
                c = s.out_widths[b]
                if c // int(self.sem_options.get("reduction", sem.options["reduction"])) < 1:
                    raise _err(f"stages[{i}].sem", f"SEM reduction leaves no query channels at width {c}")
        needs_all = registry.HEADS[self.head.type].facts.get("needs_all_branches", False)
        if needs_all and not self.stages[-1].multiscale_output:
            raise _err("head.type", f"head {self.head.type!r} reads every branch, but the last stage has "
                       "multiscale_output: false")
        last = self.stages[-1]
        if not needs_all and last.fuse == "none" and len(last.widths) > 1:
            raise _err(f"stages[{len(self.stages) - 1}].fuse", f"'none' on the last stage leaves branches 1.."
                       f"{len(last.widths) - 1} unused: head {self.head.type!r} reads branch 0 only (use fuse: "
                       "sum, a head that reads every branch such as 'iterative', or a single-branch last stage)")
        h, w = self.input_size
        branches = max(len(s.widths) for s in self.stages)
        q = 4 * 2 ** (branches - 1)
        if h < 1 or w < 1 or h % q or w % q:
            raise _err("input_size", f"{h}x{w} must be positive multiples of {q} (stem /4, then "
                       f"{branches - 1} halvings for {branches} branches)")

    # -- derived ----------------------------------------------------------------------------
    @property
    def num_branches(self) -> int:
        return len(self.stages[-1].widths)

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return (self.input_size[0] // 4, self.input_size[1] // 4)

    def replace(self, **changes) -> "NetworkSpec":
        """A copy with top-level fields changed (validated), e.g. ``spec.replace(num_joints=14)``."""
        names = {f.name for f in fields(self)}
        bad = sorted(set(changes) - names)
        if bad:
            raise SpecError(f"{bad[0]}: not a NetworkSpec field (fields: {', '.join(sorted(names))})")
        if "input_size" in changes and isinstance(changes["input_size"], str):
            changes["input_size"] = parse_size(changes["input_size"])
        return dataclasses.replace(self, **changes)

    # -- YAML -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict) -> "NetworkSpec":
        return cls._from_dict(data, "")

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The spec as YAML text; also written to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> "NetworkSpec":
        """Load from a YAML file path (or from YAML text containing a newline)."""
        if isinstance(source, Path) or "\n" not in str(source):
            p = Path(source)
            if not p.is_file():
                raise FileNotFoundError(f"spec file not found: {p}")
            text, where = p.read_text(), str(p)
        else:
            text, where = str(source), "<yaml text>"
        try:
            data = yaml.safe_load(io.StringIO(text))
        except yaml.YAMLError as e:
            raise SpecError(f"{where}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise SpecError(f"{where}: expected a YAML mapping at the top level, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except SpecError as e:
            raise SpecError(f"{where}: {e}") from None


def parse_size(value, what: str = "input_size", *, channels: int | None = None) -> tuple:
    """The one size parser: ``'256x192'`` (also ``'256 x 192'``, ``'256X192'``, ``'256×192'``),
    ``[256, 192]`` or ``(256, 192)`` -> ``(256, 192)`` (height, width).

    With ``channels`` (the channel count to assume) the result is ``(C, H, W)``, and a
    three-value form (``(3, 256, 192)`` or ``'3x256x192'``) is accepted as well. Raises
    :class:`SpecError` (a ``ValueError``) whose message starts with ``what``.

    >>> parse_size("256x192"), parse_size([128, 96]), parse_size("64 X 48", channels=3)
    ((256, 192), (128, 96), (3, 64, 48))
    >>> parse_size((1, 32, 32), channels=3)
    (1, 32, 32)
    >>> parse_size("big")
    Traceback (most recent call last):
    ...
    archlab.spec.SpecError: input_size: expected HEIGHTxWIDTH such as 256x192, got 'big'
    """
    forms = (2, 3) if channels is not None else (2,)
    shape = "[height, width]" + (" or [channels, height, width]" if channels is not None else "")
    if isinstance(value, str):
        parts = value.lower().replace("\u00d7", "x").replace(" ", "").split("x")
        if len(parts) not in forms or not all(p.isdigit() for p in parts):
            text = "HEIGHTxWIDTH" + (" or CHANNELSxHEIGHTxWIDTH" if channels is not None else "")
            raise SpecError(f"{what}: expected {text} such as 256x192, got {value!r}")
        value = tuple(int(p) for p in parts)
    if not isinstance(value, (list, tuple)) or len(value) not in forms:
        raise SpecError(f"{what}: expected {shape}, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value):
        raise SpecError(f"{what}: expected positive integers, got {list(value)!r}")
    if channels is not None and len(value) == 2:
        value = (int(channels), *value)
    return tuple(value)


_SPEC_TYPES = {"StemSpec": StemSpec, "StageSpec": StageSpec, "HeadSpec": HeadSpec, "NetworkSpec": NetworkSpec}
