"""Training configuration: a frozen, validated dataclass with a YAML round trip.

>>> c = TrainConfig(model='litehrnet_18_coco', epochs=210)
>>> c.resolved_milestones()
(170, 200)
>>> TrainConfig(epochs=20).resolved_milestones()
(16, 19)
>>> TrainConfig.from_yaml_text(c.to_yaml()) == c
True
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from ..data.registry import DATASETS, DEFAULT_DATASET
from ..spec import SpecError
from ..spec import parse_size as _parse_size

__all__ = ["TrainConfig", "ConfigError", "parse_size", "DATASETS", "DEVICES"]

DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A training configuration value is invalid. The message names the field."""


def parse_size(value, what: str = "input_size") -> tuple[int, int]:
    """``'128x96'``, ``[128, 96]`` or ``(128, 96)`` -> ``(128, 96)``: :func:`archlab.spec.parse_size`,
    raising :class:`ConfigError`."""
    try:
        return _parse_size(value, what)
    except SpecError as e:
        raise ConfigError(str(e)) from None


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; ``out`` is the run directory.

    ``milestones`` default to the paper's schedule (x0.1 at epochs 170 and 200 of 210) scaled to
    ``epochs``. ``max_steps_per_epoch`` / ``limit_train`` / ``limit_val`` shorten runs.
    ``checkpoint_every`` writes ``last.pt`` every that many optimiser steps as well as after
    every epoch (0: epoch ends only). ``deterministic`` turns on
    ``torch.use_deterministic_algorithms`` (augmentation and shuffling are always seeded).
    ``stop_epoch`` ends this invocation after that many epochs (chunked runs: the learning-rate
    schedule still follows ``epochs``; continue with ``resume=True``). ``batch`` is per process.
    ``train_split`` / ``val_split`` name the dataset's splits to train on and to validate (and
    pick ``best.pt``) on, among the dataset's registered splits (e.g. the search protocol's ``fit`` /
    ``search_val``).
    ``skip_bad_images`` drops unreadable images and broken annotations instead of stopping (the
    run reports which). ``threads`` sets torch's intra-op threads for the call (None: the process's
    setting); the count a run trained with is recorded in every metrics row and checkpoint, since
    two thread counts give different float sums, so different weights from the same seed.
    ``stop_epoch`` and ``resume`` describe one invocation, not the run:
    :meth:`run_record` (what a run folder's ``config.yaml`` holds) leaves them out.
    """

    model: str = "litehrnet_18_coco"
    data: str = DEFAULT_DATASET
    data_root: str | None = None
    input_size: tuple = (256, 192)
    epochs: int = 210
    batch: int = 32
    lr: float = 1e-3
    milestones: tuple | None = None
    gamma: float = 0.1
    weight_decay: float = 0.0
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False
    deterministic: bool = True
    max_steps_per_epoch: int | None = None
    val_every: int = 1
    flip_test: bool = False
    out: str = "runs/train"
    limit_train: int | None = None
    limit_val: int | None = None
    resume: bool = False
    checkpoint_every: int = 100
    sigma: float = 2.0
    progress: bool = True
    stop_epoch: int | None = None
    train_split: str = "train"
    val_split: str = "val"
    skip_bad_images: bool = False
    threads: int | None = None

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        if not isinstance(self.model, (str, Path)) or not str(self.model):
            raise ConfigError(f"model: expected a zoo name or a spec YAML path, got {self.model!r}")
        set_("model", str(self.model))
        if self.data_root is not None:
            set_("data_root", str(self.data_root))
        set_("input_size", parse_size(self.input_size))
        h, w = self.input_size
        if h % 4 or w % 4:
            raise ConfigError(f"input_size: {h}x{w} must be multiples of 4 (heatmaps are 1/4 size)")
        for name in ("epochs", "batch", "val_every"):
            self._int(name, minimum=1)
        for name in ("workers", "seed", "checkpoint_every"):
            self._int(name, minimum=0)
        for name in ("max_steps_per_epoch", "limit_train", "limit_val", "stop_epoch", "threads"):
            if getattr(self, name) is not None:
                self._int(name, minimum=1)
        for name in ("lr", "gamma", "sigma"):
            self._float(name, positive=True)
        self._float("weight_decay", positive=False)
        self._check_data()
        if self.device not in DEVICES:
            raise ConfigError(f"device: expected one of {', '.join(DEVICES)}, got {self.device!r}")
        for name in ("amp", "channels_last", "deterministic", "flip_test", "resume", "progress",
                     "skip_bad_images"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected true/false, got {getattr(self, name)!r}")
        if not isinstance(self.out, (str, Path)) or not str(self.out):
            raise ConfigError(f"out: expected a directory path, got {self.out!r}")
        set_("out", str(self.out))
        if self.milestones is not None:
            ms = self.milestones
            if isinstance(ms, (int, str)) or not isinstance(ms, (list, tuple)):
                raise ConfigError(f"milestones: expected a list of epochs, got {ms!r}")
            for m in ms:
                if isinstance(m, bool) or not isinstance(m, int) or m < 1:
                    raise ConfigError(f"milestones: expected positive integer epochs, got {list(ms)!r}")
            if list(ms) != sorted(ms):
                raise ConfigError(f"milestones: must be increasing, got {list(ms)!r}")
            set_("milestones", tuple(ms))

    def _check_data(self):
        """``data`` is a registered dataset (:mod:`archlab.data.registry`) and both splits are its."""
        if self.data not in DATASETS:
            raise ConfigError(f"data: {DATASETS.unknown(self.data)}")
        for name in ("train_split", "val_split"):
            split = getattr(self, name)
            if not isinstance(split, str) or not split:
                raise ConfigError(f"{name}: expected a split name such as 'train' or 'search_val', got {split!r}")
            try:
                DATASETS[self.data].check_split(split)
            except ValueError as e:
                raise ConfigError(f"{name}: {e}") from None

    def _int(self, name: str, minimum: int):
        v = getattr(self, name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{name}: expected an integer, got {type(v).__name__} {v!r}")
        if v < minimum:
            raise ConfigError(f"{name}: must be >= {minimum}, got {v}")

    def _float(self, name: str, positive: bool):
        v = getattr(self, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {type(v).__name__} {v!r}")
        if (v <= 0 if positive else v < 0) or v != v:
            raise ConfigError(f"{name}: must be {'> 0' if positive else '>= 0'}, got {v}")
        object.__setattr__(self, name, float(v))

    # ------------------------------------------------------------------------------------------
    def resolved_milestones(self) -> tuple:
        """``milestones``, or the paper's 170/200 of 210 scaled to ``epochs``."""
        if self.milestones is not None:
            return self.milestones
        return (round(self.epochs * 170 / 210), round(self.epochs * 200 / 210))

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def run_record(self) -> "TrainConfig":
        """The run without this invocation's ``stop_epoch`` / ``resume``: what ``config.yaml`` holds,
        so ``archlab train RUN/config.yaml --resume`` continues to ``epochs``.

        >>> TrainConfig(epochs=4, stop_epoch=1, resume=True).run_record().stop_epoch is None
        True
        """
        return self.replace(stop_epoch=None, resume=False)

    def to_dict(self) -> dict:
        d = {}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"a training config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_yaml_text(cls, text: str) -> "TrainConfig":
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"malformed YAML training config: {e}") from e
        return cls.from_dict(d or {})

    @classmethod
    def load(cls, path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config not found: {path}")
        try:
            return cls.from_yaml_text(path.read_text())
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from e

