"""Lazy re-exports for package ``__init__`` modules (PEP 562): a name is imported from its
submodule on first use, so ``import archlab`` and ``archlab --help`` import neither torch nor optuna.

>>> import types
>>> ns = {"__name__": "json"}
>>> getattr_, dir_ = lazy_exports("json", {"dumps": "json"}, ns)
>>> getattr_("dumps")({"a": 1}), "dumps" in dir_()
('{"a": 1}', True)
"""
from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: dict, namespace: dict):
    """``(__getattr__, __dir__)`` for ``package`` whose ``table`` maps an exported name to the
    (relative) module defining it; a resolved name is cached in ``namespace`` (the package's
    globals), so the lookup runs once."""
    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
