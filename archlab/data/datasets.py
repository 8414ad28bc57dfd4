"""The built-in datasets, re-exported from their own files, and :func:`build_dataset`.

Each dataset lives in its own module and registers itself (:mod:`archlab.data.registry`):
:mod:`.lspet` (:class:`LSPETDataset`), :mod:`.coco` (:class:`COCOKeypointDataset`),
:mod:`.mpii` (:class:`MPIIDataset`); all build on :class:`~archlab.data.topdown.TopDownDataset`,
whose docstring gives the sample format.
"""
from __future__ import annotations

from .coco import COCOKeypointDataset
from .lspet import LSPET_PROTOCOL_SPLITS, LSPETDataset
from .mpii import MPIIDataset
from .registry import DATASETS, default_data_root, open_dataset
from .topdown import IMAGENET_MEAN, IMAGENET_STD, DatasetError, TopDownDataset, box_from_joints

__all__ = ["DatasetError", "default_data_root", "TopDownDataset", "LSPETDataset", "LSPET_PROTOCOL_SPLITS",
           "COCOKeypointDataset", "MPIIDataset", "build_dataset", "box_from_joints",
           "IMAGENET_MEAN", "IMAGENET_STD"]


def build_dataset(name: str, split: str = "train", input_size=None, train: bool | None = None,
                  root=None, **kwargs) -> TopDownDataset:
    """Split ``split`` of the registered dataset ``name`` (any case) from ``root`` (the shared
    data folder or the dataset's own; default :func:`default_data_root`). ``input_size``
    defaults to the dataset's, ``train`` to ``split == 'train'``; ``kwargs`` go to the class."""
    entry = DATASETS[str(name).lower()]
    if root is None and default_data_root() is None:
        raise FileNotFoundError("no data folder: set ARCHLAB_DATA or pass root=")
    train = (split == "train") if train is None else train
    return open_dataset(entry.name, root, split, input_size, train, **kwargs)
