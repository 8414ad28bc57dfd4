"""Data side of training and evaluation: the dataset registry, datasets, transforms, heatmaps, metrics.

* :mod:`.registry` -- one entry per dataset (:data:`DATASETS`): joints, splits, default folder,
  metrics; :func:`open_dataset`, :func:`resolve_data_dir`, :func:`compute_metrics`
* :mod:`.joints` -- :class:`DatasetInfo` (joint names, flip pairs, OKS sigmas) of the built-in datasets
* :mod:`.topdown` -- :class:`TopDownDataset`, the shared crop / augment / heatmap pipeline
* :mod:`.lspet`, :mod:`.coco`, :mod:`.mpii` -- the built-in datasets, each registering itself
  (:mod:`.datasets` re-exports them with :func:`build_dataset`)
* :mod:`.transforms` -- affine crops and augmentation (PIL, no OpenCV)
* :mod:`.heatmaps` -- Gaussian target encoding, decoding, flip test
* :mod:`.metrics` -- PCK / PCKh, COCO OKS AP, mean-pose baseline, and the metric classes
  (:class:`PCK`, :class:`PCKh`, :class:`CocoOKS`) a dataset entry lists

Names are imported on first use, so ``archlab.data.registry`` (what the CLI's parser reads)
imports no torch.
"""
from .._lazy import lazy_exports

_MODULES = {
    ".registry": ("DATASETS", "DATASET_INFO", "DEFAULT_DATASET", "DatasetEntry", "UnknownDatasetError",
                  "register_dataset", "get_dataset", "get_dataset_info", "dataset_names", "default_data_root",
                  "resolve_data_dir", "open_dataset", "main_metric", "compute_metrics"),
    ".joints": ("DatasetInfo",),
    ".topdown": ("DatasetError", "TopDownDataset", "box_from_joints", "IMAGENET_MEAN", "IMAGENET_STD"),
    ".lspet": ("LSPETDataset", "LSPET_PROTOCOL_SPLITS"),
    ".coco": ("COCOKeypointDataset",),
    ".mpii": ("MPIIDataset",),
    ".datasets": ("build_dataset",),
    ".heatmaps": ("decode", "encode", "flip_back", "flip_test", "get_final_preds", "to_image_coords"),
    ".metrics": ("PCKResult", "coco_eval", "head_size", "lspet_pck", "mean_pose_baseline", "pck", "pckh",
                 "pose_scores", "to_coco_results", "torso_size", "PCK", "PCKh", "CocoOKS"),
    ".transforms": ("affine_points", "get_affine_transform"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = list(_LAZY)
