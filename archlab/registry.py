"""Registries of the named components a spec may use: blocks, heads, attention, stems, SEM.

One registry per concept maps a name to an :class:`Entry` -- the module class, its analytic
cost function, its options (defaults + per-option checks + a validator for checks that need the
surrounding spec), its expansion and multi-branch flag, and its search knobs. A component
registers itself in its own file::

    @BLOCKS.register("mbconv", cost=mbconv_cost, options={"expand_ratio": 6, "kernel": 3, "se": False},
                     checks={"kernel": odd_kernel}, knobs={"kernel": {"choices": [3, 5, 7]}})
    class MBConv(nn.Module): ...

(or ``@BLOCKS.cost_of("mbconv")`` on a cost function defined below the class)

so adding a block is one new file: the spec validator (:mod:`archlab.spec`), the builder
(:mod:`archlab.nets.builder`) and the analytic counter (:mod:`archlab.cost.analytic`) read the
entry, nothing restates it.

Discovery (why lookups import modules by name)
---------------------------------------------
This module is torch-free and sits at the bottom of the layering: :mod:`archlab.spec` imports it
(and no torch) to validate names and options. The components, though, live in torch modules
*above* the spec. So a registry fills itself on its first lookup, as a plugin system does:

* every module of the packages in :data:`COMPONENT_PACKAGES` (data, not imports: a new file in
  ``archlab/blocks/`` is found without editing any other file), then
* every module named by the Python entry-point group ``archlab.components``, so a third-party
  package registers its blocks by declaring, in its ``pyproject.toml``::

      [project.entry-points."archlab.components"]
      myblocks = "mypackage.blocks"

Importing ``archlab.spec`` therefore imports no torch; validating a spec does (once). Code that
registers a component at run time (a test, a notebook) simply calls ``register`` before use.

>>> from archlab.registry import BLOCKS
>>> BLOCKS["basic"].expansion, BLOCKS["bottleneck"].expansion, BLOCKS["ccw"].multi_branch
(1, 4, True)
>>> BLOCKS["resnext"]  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
archlab.registry.UnknownNameError: unknown block 'resnext'; choose one of [...]
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Entry", "Registry", "OptionError", "UnknownNameError", "BLOCKS", "HEADS", "ATTENTION", "STEMS",
           "MODULES", "COMPONENT_PACKAGES", "ENTRY_POINT_GROUP", "odd_kernel", "at_least", "on_change",
           "import_plugins"]

#: packages whose every module is imported on the first lookup (each registers what it defines)
COMPONENT_PACKAGES = ("archlab.blocks",)
#: the entry-point group third-party packages use to add components
ENTRY_POINT_GROUP = "archlab.components"


class UnknownNameError(KeyError):
    """A name no registry entry has; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


class OptionError(ValueError):
    """An option (or, with ``option=False``, another field of the owning spec) is invalid.

    ``field`` is the option name (``'kernel'``, ``'reweight[1]'``) or, for ``option=False``, a
    field of the spec that owns the options (``'widths[0]'``); the spec prefixes its path."""

    def __init__(self, field: str, message: str, *, option: bool = True):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.option = field, message, option


# ----------------------------------------------------------------------------------------------
# reusable per-option checks: value -> error message or None

def odd_kernel(v) -> str | None:
    """A positive odd kernel size."""
    return None if v >= 1 and v % 2 == 1 else f"must be a positive odd kernel size, got {v}"


def at_least(low) -> Callable:
    """A check that a number is ``>= low``."""
    def check(v):
        return None if v >= low else f"must be >= {low}, got {v}"
    check.__doc__ = f"At least {low}."
    return check


# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One registered component (see the module docstring)."""

    name: str
    concept: str
    cls: Any                      # the module class (None for the 'none' attention)
    cost: Callable | None         # the analytic cost function (archlab.ops records)
    options: Mapping = field(default_factory=dict)     # option -> default
    checks: Mapping = field(default_factory=dict)      # option -> check(value) -> message | None
    validate: Callable | None = None   # validate(opts, **context): raises OptionError
    knobs: Mapping = field(default_factory=dict)       # option -> search range ({choices} / {low, high})
    expansion: int = 1
    multi_branch: bool = False
    facts: Mapping = field(default_factory=dict)       # concept-specific facts (needs_all_branches, ...)

    def __getattr__(self, name: str):
        facts = object.__getattribute__(self, "facts")
        if name in facts:
            return facts[name]
        raise AttributeError(f"{self.concept} {self.name!r} has no attribute {name!r}")

    def check(self, options: Mapping, **context) -> dict:
        """Run the per-option checks on ``options`` (already type-checked against the defaults),
        then the validator on all options (defaults filled in); returns the filled options.
        Raises :class:`OptionError`."""
        for k, v in options.items():
            fn = self.checks.get(k)
            msg = fn(v) if fn is not None else None
            if msg:
                raise OptionError(k, msg)
        opts = {**self.options, **options}
        if self.validate is not None:
            self.validate(opts, **context)
        return opts


class Registry(Mapping):
    """``name -> Entry`` for one concept, filled by :meth:`register` and by discovery."""

    def __init__(self, concept: str, *, per_class: tuple = ()):
        self.concept = concept
        self._entries: dict[str, Entry] = {}
        self._per_class = per_class       # class attributes written back by register (compatibility)

    # -- registering --------------------------------------------------------------------------
    def register(self, name: str, *, cost: Callable | None = None, options: Mapping | None = None,
                 checks: Mapping | None = None, validate: Callable | None = None, knobs: Mapping | None = None,
                 expansion: int | None = None, multi_branch: bool | None = None, **facts) -> Callable:
        """Class decorator registering ``cls`` under ``name``. Unset ``options``, ``expansion``,
        ``multi_branch`` and facts are read from the class (``OPTIONS``, ...); the entry's values
        are written back onto the class so ``cls.OPTIONS`` and ``cls.expansion`` agree with it."""
        def deco(cls):
            self.add(name, cls, cost=cost, options=options, checks=checks, validate=validate, knobs=knobs,
                     expansion=expansion, multi_branch=multi_branch, **facts)
            return cls
        return deco

    def add(self, name: str, cls, *, cost=None, options=None, checks=None, validate=None, knobs=None,
            expansion=None, multi_branch=None, **facts) -> Entry:
        """Register ``cls`` (may be ``None``: a 'no module' choice) under ``name``; see :meth:`register`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.concept} names must be non-empty strings, got {name!r}")
        old = self._entries.get(name)
        if old is not None and _qualname(old.cls) != _qualname(cls):
            raise ValueError(f"{self.concept} {name!r} is already registered (by {_qualname(old.cls)}); "
                             f"pick another name for {_qualname(cls)}")
        options = dict(getattr(cls, "OPTIONS", {}) if options is None else options)
        unknown = sorted(set(checks or {}) - set(options)) + sorted(set(knobs or {}) - set(options))
        if unknown:
            raise ValueError(f"{self.concept} {name!r}: checks/knobs for undeclared option {unknown[0]!r} "
                             f"(options: {sorted(options)})")
        expansion = getattr(cls, "expansion", 1) if expansion is None else expansion
        multi_branch = getattr(cls, "multi_branch", False) if multi_branch is None else multi_branch
        for k in self._per_class:
            if k not in facts and hasattr(cls, k):
                facts[k] = getattr(cls, k)
        entry = Entry(name, self.concept, cls, cost, options, dict(checks or {}), validate, dict(knobs or {}),
                      int(expansion), bool(multi_branch), facts)
        if cls is not None:
            cls.OPTIONS, cls.expansion, cls.multi_branch = entry.options, entry.expansion, entry.multi_branch
            for k, v in facts.items():
                setattr(cls, k, v)
        self._entries[name] = entry
        _changed()
        return entry

    def cost_of(self, name: str) -> Callable:
        """Function decorator: make the decorated function the analytic cost of the already
        registered ``name`` (so a file can keep its classes above its cost functions)."""
        def deco(fn):
            if name not in self._entries:
                raise ValueError(f"cost_of({name!r}): register the {self.concept} class first")
            self._entries[name] = dataclasses.replace(self._entries[name], cost=fn)
            _changed()
            return fn
        return deco

    def unregister(self, name: str) -> Entry:
        """Remove and return an entry (for tests and notebooks that register temporary components)."""
        _discover()
        if name not in self._entries:
            raise self._unknown(name)
        entry = self._entries.pop(name)
        _changed()
        return entry

    # -- lookups ------------------------------------------------------------------------------
    def _unknown(self, name) -> UnknownNameError:
        return UnknownNameError(f"unknown {self.concept} {name!r}; choose one of {sorted(self._entries)}")

    def __getitem__(self, name: str) -> Entry:
        _discover()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self._unknown(name) from None

    def __contains__(self, name) -> bool:
        _discover()
        try:
            return name in self._entries
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        _discover()
        return iter(list(self._entries))

    def __len__(self) -> int:
        _discover()
        return len(self._entries)

    def view(self, attribute: str) -> "View":
        """A live read-only mapping ``name -> entry.<attribute>`` (e.g. ``'cls'``, ``'cost'``)."""
        return View(self, attribute)

    def __repr__(self) -> str:
        return f"Registry({self.concept!r}, {sorted(self)})"


class View(Mapping):
    """``name -> getattr(entry, attribute)`` of a registry, live (sees later registrations)."""

    def __init__(self, registry: Registry, attribute: str):
        self._registry, self._attribute = registry, attribute

    def __getitem__(self, name):
        return getattr(self._registry[name], self._attribute)

    def __contains__(self, name) -> bool:
        return name in self._registry

    def __iter__(self):
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def __repr__(self) -> str:
        return repr(dict(self))


def _qualname(obj) -> str:
    return "None" if obj is None else f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


# ----------------------------------------------------------------------------------------------
# change listeners (caches keyed by component names, e.g. the analytic counter's memo)

_listeners: list[Callable[[], None]] = []


def on_change(fn: Callable[[], None]) -> Callable[[], None]:
    """Call ``fn()`` whenever any registry gains, loses or changes an entry."""
    _listeners.append(fn)
    return fn


def _changed() -> None:
    for fn in _listeners:
        fn()


# ----------------------------------------------------------------------------------------------
# discovery

_state = {"done": False, "running": False}


def _discover() -> None:
    """Import every component module once (see the module docstring); re-entrant calls made
    while the modules import (a component looking something up) see what is registered so far."""
    if _state["done"] or _state["running"]:
        return
    _state["running"] = True
    try:
        import_plugins(COMPONENT_PACKAGES, ENTRY_POINT_GROUP, "component")
        _state["done"] = True
    finally:
        _state["running"] = False


def import_plugins(packages, group: str, what: str) -> None:
    """Import every public module of ``packages`` and every module the entry-point ``group``
    names (how a registry fills itself; the dataset registry uses it too). A broken plugin is
    an ``ImportError`` naming it."""
    for pkg_name in packages:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{info.name}")
    for ep in importlib.metadata.entry_points(group=group):
        try:
            ep.load()
        except Exception as e:  # a broken plugin must say which one it is
            raise ImportError(f"archlab {what} plugin {ep.name!r} ({ep.value}) failed to import: "
                              f"{type(e).__name__}: {e}") from e


BLOCKS = Registry("block")
HEADS = Registry("head", per_class=("needs_all_branches",))
ATTENTION = Registry("attention")
STEMS = Registry("stem type")
#: other modules a spec configures by name and options (the SEM: ``NetworkSpec.sem_options``)
MODULES = Registry("module")
