"""Data side of training and evaluation: datasets, transforms, heatmaps and metrics.

* :mod:`.joints` -- per-dataset joint metadata (:data:`DATASET_INFO`)
* :mod:`.datasets` -- :class:`LSPETDataset`, :class:`COCOKeypointDataset`, :class:`MPIIDataset`
* :mod:`.transforms` -- affine crops and augmentation (PIL, no OpenCV)
* :mod:`.heatmaps` -- Gaussian target encoding, decoding, flip test
* :mod:`.metrics` -- PCK / PCKh, COCO OKS AP, mean-pose baseline
"""
from .datasets import (IMAGENET_MEAN, IMAGENET_STD, LSPET_PROTOCOL_SPLITS, COCOKeypointDataset, DatasetError,
                       LSPETDataset, MPIIDataset, TopDownDataset, box_from_joints, build_dataset, default_data_root)
from .heatmaps import decode, encode, flip_back, flip_test, get_final_preds, to_image_coords
from .joints import DATASET_INFO, DatasetInfo, get_dataset_info
from .metrics import (PCKResult, coco_eval, head_size, lspet_pck, mean_pose_baseline, pck, pckh,
                      pose_scores, to_coco_results, torso_size)
from .transforms import affine_points, get_affine_transform

__all__ = ["DATASET_INFO", "DatasetInfo", "get_dataset_info", "DatasetError", "default_data_root",
           "TopDownDataset", "LSPETDataset", "LSPET_PROTOCOL_SPLITS", "COCOKeypointDataset", "MPIIDataset",
           "build_dataset",
           "box_from_joints", "IMAGENET_MEAN", "IMAGENET_STD", "encode", "decode", "to_image_coords",
           "get_final_preds", "flip_test", "flip_back", "get_affine_transform", "affine_points", "pck",
           "PCKResult", "lspet_pck", "pckh", "torso_size", "head_size", "coco_eval", "to_coco_results",
           "pose_scores", "mean_pose_baseline"]
