"""Deterministic, resumable, distributed-aware sampling.

* :class:`SeededSamples` -- wraps a dataset so that the augmentation of sample ``index`` in
  ``epoch`` draws from a generator seeded by ``(seed, epoch, index)``: the same crop whatever the
  number of DataLoader workers, the process, or whether the run was resumed.
* :class:`ResumableBatchSampler` -- the per-epoch shuffle is ``randperm`` seeded by
  ``(seed, epoch)``, sharded across ranks like ``torch.utils.data.DistributedSampler``
  (``set_epoch`` included) and able to start mid-epoch (``start_batch``) after a resume.

>>> s = ResumableBatchSampler(10, batch_size=4, shuffle=True, seed=0)
>>> s.set_epoch(3); full = list(s)
>>> s.set_epoch(3, start_batch=1); list(s) == full[1:]
True
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch

__all__ = ["sample_seed", "SeededSamples", "ResumableBatchSampler", "IndexSubset"]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed from ``(seed, epoch, index)`` (numpy ``SeedSequence`` mixing)."""
    a, b = np.random.SeedSequence([int(seed), int(epoch) + 1, int(index)]).generate_state(2, np.uint32)
    return (int(a) << 31) ^ int(b)


class IndexSubset(torch.utils.data.Dataset):
    """The first ``limit`` samples of ``dataset`` (or all); keeps ``.info`` and friends reachable."""

    def __init__(self, dataset, limit: int | None = None):
        self.dataset = dataset
        self.n = len(dataset) if limit is None else min(int(limit), len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range for {self.n} samples")
        return self.dataset[i]

    def __getattr__(self, name):
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


class SeededSamples(torch.utils.data.Dataset):
    """Items are ``(epoch, index)`` pairs (or plain indices, epoch 0): the wrapped dataset's
    random augmentation runs under torch / numpy / python generators seeded by
    :func:`sample_seed`; the caller's generator states are restored afterwards."""

    def __init__(self, dataset, seed: int = 0):
        self.dataset = dataset
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item):
        epoch, index = item if isinstance(item, tuple) else (0, item)
        s = sample_seed(self.seed, epoch, index)
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(s)
                np.random.seed(s % 2 ** 32)
                random.seed(s)
                return self.dataset[index]
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


class ResumableBatchSampler(torch.utils.data.Sampler):
    """Batches of ``(epoch, index)`` (``with_epoch=True``) or plain indices.

    Like ``DistributedSampler``: the epoch's order (shuffled with a generator seeded by
    ``seed + epoch``, or sequential) is padded by wrapping around to a multiple of
    ``num_replicas`` and rank ``r`` takes every ``num_replicas``-th index from ``r``. Then it is
    cut into batches (``drop_last`` drops a short final batch), capped at ``max_batches``, and the
    first ``start_batch`` batches are skipped (mid-epoch resume).
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = True, seed: int = 0, rank: int = 0,
                 num_replicas: int = 1, drop_last: bool = True, max_batches: int | None = None,
                 with_epoch: bool = True):
        if n <= 0:
            raise ValueError("ResumableBatchSampler: the dataset is empty")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} replicas")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.num_replicas = rank, num_replicas
        self.drop_last, self.max_batches, self.with_epoch = drop_last, max_batches, with_epoch
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    @property
    def per_replica(self) -> int:
        return math.ceil(self.n / self.num_replicas)

    def batches_per_epoch(self) -> int:
        m = self.per_replica
        nb = m // self.batch_size if self.drop_last else math.ceil(m / self.batch_size)
        if nb == 0:
            nb = 1          # fewer samples than a batch: one short batch rather than none
        return nb if self.max_batches is None else min(nb, self.max_batches)

    def _order(self) -> list:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        total = self.per_replica * self.num_replicas
        order = (order * math.ceil(total / self.n))[:total]
        return order[self.rank::self.num_replicas]

    def __iter__(self):
        order = self._order()
        for b in range(self.start_batch, self.batches_per_epoch()):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield [(self.epoch, i) for i in idx] if self.with_epoch else idx

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch() - self.start_batch)
