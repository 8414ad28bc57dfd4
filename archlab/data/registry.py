"""The dataset registry: one entry per dataset, registered in the dataset's own file.

An entry describes a dataset by data -- its joints (:class:`~archlab.data.joints.DatasetInfo`:
names, flip pairs, OKS sigmas, PCK/PCKh segments), how to open a split, where its files live by
default, the metric that picks ``best.pt`` and its metric classes (:mod:`archlab.data.metrics`)::

    @register_dataset("lspet", info=LSPET_INFO, folder="lspet", marker="joints.mat",
                      splits=LSPETDataset.SPLITS, main_metric="PCK@0.2", metrics=(PCK(0.2), PCKh(0.5)))
    def open_lspet(folder, split, input_size, train, **kwargs):
        return LSPETDataset(folder, split, input_size, train, **kwargs)

Training and evaluation (:mod:`archlab.train`) only ask this registry (:func:`open_dataset`,
:func:`resolve_data_dir`, :func:`compute_metrics`, :func:`main_metric`), so adding a dataset is
one new file with one ``register_dataset`` call (or a call in a notebook / test before use).

Discovery: this module imports no torch (the CLI lists the names at parse time). The first
lookup imports every module of ``archlab.data`` (where the built-in datasets register) and every
module named by the entry-point group ``archlab.datasets``, as :mod:`archlab.registry` does for
blocks.

>>> DATASETS["lspet"].main_metric, DATASETS["mpii"].info.num_joints, sorted(DATASETS)[:3]
('PCK@0.2', 16, ['coco', 'lspet', 'mpii'])
>>> get_dataset("lspt")
Traceback (most recent call last):
...
archlab.data.registry.UnknownDatasetError: unknown dataset 'lspt'; did you mean 'lspet'? choose one of coco, lspet, mpii
"""
from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..registry import import_plugins
from .joints import DatasetInfo

__all__ = ["DatasetEntry", "DatasetRegistry", "DATASETS", "DATASET_INFO", "DEFAULT_DATASET", "ENTRY_POINT_GROUP",
           "UnknownDatasetError", "register_dataset", "get_dataset", "get_dataset_info", "dataset_names",
           "default_data_root", "resolve_data_dir", "open_dataset", "main_metric", "compute_metrics", "view"]

#: the dataset ``archlab train`` uses when none is named
DEFAULT_DATASET = "lspet"
#: the entry-point group third-party packages use to add datasets
ENTRY_POINT_GROUP = "archlab.datasets"


class UnknownDatasetError(KeyError, ValueError):
    """A dataset name nobody registered; the message suggests the closest names."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset.

    ``open(folder, split, input_size, train, **kwargs)`` returns the split's
    :class:`~archlab.data.topdown.TopDownDataset` from the dataset's own folder (``train=None``:
    the dataset's default for that split). ``folder`` is where the dataset sits under the shared
    data folder; ``marker`` is a path inside the dataset's own folder that identifies it.
    ``splits`` names the accepted splits (``None``: any; the opener decides). ``metrics`` are
    metric objects (``names`` + ``compute(pred, info, dataset)``); ``main_metric`` is one of
    their names and picks ``best.pt``.
    """

    name: str
    info: DatasetInfo
    open: Callable[..., Any]
    folder: str
    marker: str
    main_metric: str
    metrics: tuple
    splits: tuple | None = None
    input_size: tuple = (256, 192)
    description: str = field(default="", compare=False)

    def metric_names(self) -> tuple:
        return tuple(n for m in self.metrics for n in m.names)

    def check_split(self, split: str) -> None:
        """Raise ``ValueError`` naming the accepted splits when ``split`` is not one."""
        if self.splits is not None and split not in self.splits:
            raise ValueError(f"unknown {self.name} split {split!r}; choose one of {', '.join(self.splits)}")


class DatasetRegistry(Mapping):
    """``name -> DatasetEntry``, filled by :func:`register_dataset` and by discovery."""

    def __init__(self):
        self._entries: dict[str, DatasetEntry] = {}
        self._discovery = {"done": False, "running": False}

    def add(self, entry: DatasetEntry) -> DatasetEntry:
        """Register ``entry`` (re-registering the same opener under its name is a no-op update)."""
        _check_entry(entry)
        old = self._entries.get(entry.name)
        if old is not None and _qualname(old.open) != _qualname(entry.open):
            raise ValueError(f"dataset {entry.name!r} is already registered (by {_qualname(old.open)}); "
                             f"pick another name for {_qualname(entry.open)}")
        self._entries[entry.name] = entry
        return entry

    def unregister(self, name: str) -> DatasetEntry:
        """Remove and return an entry (tests and notebooks that register temporary datasets)."""
        entry = self[name]
        del self._entries[name]
        return entry

    def _discover(self) -> None:
        state = self._discovery
        if state["done"] or state["running"]:
            return
        state["running"] = True
        try:
            import_plugins((__package__,), ENTRY_POINT_GROUP, "dataset")
            state["done"] = True
        finally:
            state["running"] = False

    def unknown(self, name) -> UnknownDatasetError:
        names = sorted(self)
        close = difflib.get_close_matches(str(name).lower(), names, n=2, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        return UnknownDatasetError(f"unknown dataset {name!r}; {hint}choose one of {', '.join(names)}")

    def __getitem__(self, name: str) -> DatasetEntry:
        self._discover()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def __contains__(self, name) -> bool:
        self._discover()
        try:
            return name in self._entries
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        self._discover()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._discover()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"DatasetRegistry({sorted(self)})"


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"


def _check_entry(e: DatasetEntry) -> None:
    if not isinstance(e.name, str) or not e.name or e.name != e.name.lower():
        raise ValueError(f"dataset names must be non-empty lower-case strings, got {e.name!r}")
    if not isinstance(e.info, DatasetInfo):
        raise TypeError(f"dataset {e.name!r}: info must be a DatasetInfo, got {type(e.info).__name__}")
    if not callable(e.open):
        raise TypeError(f"dataset {e.name!r}: open must be callable, got {e.open!r}")
    for m in e.metrics:
        if not (isinstance(getattr(m, "names", None), tuple) and callable(getattr(m, "compute", None))):
            raise TypeError(f"dataset {e.name!r}: metric {m!r} needs a 'names' tuple and a compute() method")
    if e.main_metric not in e.metric_names():
        raise ValueError(f"dataset {e.name!r}: main_metric {e.main_metric!r} is not computed by its metrics "
                         f"(they give {', '.join(e.metric_names()) or 'nothing'})")


DATASETS = DatasetRegistry()


class _View(Mapping):
    """``name -> getattr(entry, attribute)`` of every registered dataset (live)."""

    def __init__(self, attribute: str):
        self._attribute = attribute

    def __getitem__(self, name):
        return getattr(DATASETS[name], self._attribute)

    def __iter__(self):
        return iter(DATASETS)

    def __len__(self):
        return len(DATASETS)

    def __repr__(self):
        return repr(dict(self))


def view(attribute: str) -> Mapping:
    """A live read-only mapping ``dataset name -> entry.<attribute>`` (e.g. ``'main_metric'``)."""
    return _View(attribute)


#: joint metadata of every registered dataset, by name
DATASET_INFO: Mapping[str, DatasetInfo] = view("info")


def register_dataset(name: str, *, info: DatasetInfo, folder: str, marker: str, main_metric: str,
                     metrics, splits=None, input_size=(256, 192), description: str = "") -> Callable:
    """Decorator registering an opener ``open(folder, split, input_size, train, **kwargs)`` as
    dataset ``name`` (see :class:`DatasetEntry`); returns the opener unchanged."""
    def deco(open_fn):
        DATASETS.add(DatasetEntry(name, info, open_fn, folder, marker, main_metric, tuple(metrics),
                                  None if splits is None else tuple(splits), tuple(input_size), description))
        return open_fn
    return deco


def get_dataset(name: str) -> DatasetEntry:
    """The entry of dataset ``name`` (:class:`UnknownDatasetError` suggests close names)."""
    return DATASETS[name]


def dataset_names() -> list:
    return sorted(DATASETS)


def get_dataset_info(name_or_info) -> DatasetInfo:
    """A :class:`DatasetInfo` from a registered dataset's name (any case) or itself."""
    if isinstance(name_or_info, DatasetInfo):
        return name_or_info
    key = str(name_or_info).lower() if isinstance(name_or_info, str) else name_or_info
    return DATASETS[key].info


def main_metric(name: str) -> str:
    """The validation metric that picks ``best.pt``."""
    return DATASETS[name].main_metric


# ------------------------------------------------------------------------------------------------
def default_data_root() -> Path | None:
    """Where the shared data lives: ``$ARCHLAB_DATA`` if set (returned as given), else the first
    existing ``shared/data`` folder next to the repository root or next to the current directory
    or one of its parents (``../shared/data``), else ``None``."""
    env = os.environ.get("ARCHLAB_DATA")
    if env:
        return Path(env).expanduser()
    repo_root = Path(__file__).resolve().parents[2]
    candidates = [repo_root.parent / "shared" / "data"]
    cwd = Path.cwd().resolve()
    for p in (cwd, *cwd.parents):
        candidates += [p / "shared" / "data", p.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


def resolve_data_dir(name: str, data_root=None) -> Path:
    """The dataset's own folder: ``data_root`` may be the shared data folder (holding each
    dataset under its entry's ``folder``) or the dataset's own folder (holding its ``marker``)."""
    entry = DATASETS[name]
    if data_root is None:
        root = default_data_root()
        if root is None:
            raise FileNotFoundError("no data folder found: set ARCHLAB_DATA or pass --data-root DIR")
    else:
        root = Path(data_root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    own, sub = entry.marker, entry.folder
    if (root / own).exists():
        return root
    if (root / sub / own).exists():
        return root / sub
    raise FileNotFoundError(f"no {name} data under {root}: expected {root / own} or {root / sub / own}")


def open_dataset(name: str, data_root=None, split: str = "val", input_size=None, train: bool | None = False,
                 **kwargs):
    """Split ``split`` of dataset ``name`` from ``data_root`` (see :func:`resolve_data_dir`);
    ``input_size`` defaults to the entry's; ``kwargs`` (``sigma``, ``skip_bad``, ...) go to the
    dataset class."""
    entry = DATASETS[name]
    entry.check_split(split)
    folder = resolve_data_dir(name, data_root)
    size = tuple(input_size) if input_size is not None else entry.input_size
    return entry.open(folder, split, size, train, **kwargs)


def _nan_to_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def compute_metrics(name: str, pred: dict, dataset=None) -> dict:
    """Every metric of dataset ``name`` on ``predict``'s output (``preds``, ``maxvals``,
    ``joints``, ``head_size``, ``score``, ``image_id``, ``index``): ``n`` (samples), each
    metric's mean, and ``per_joint`` (joint -> metric -> value) for metrics scored per joint."""
    entry = DATASETS[name]
    n = int(len(pred["index"]))
    out: dict = {"n": n}
    if n == 0:
        return out
    per_joint: dict = {}
    for metric in entry.metrics:
        values, joints = metric.compute(pred, entry.info, dataset)
        out.update(values)
        for metric_name, arr in joints.items():
            for joint, v in zip(entry.info.joint_names, arr):
                per_joint.setdefault(joint, {})[metric_name] = _nan_to_none(float(v))
    if per_joint:
        out["per_joint"] = per_joint
    return out
