"""Random network specs drawn across the whole option space of the spec language.

Used to choose which kernels the latency table profiles (the kernels that real specs contain)
and by the predictor's benchmark and tests (specs the table never saw). Every block
(``basic``, ``bottleneck``, ``scr`` with its options, ``shuffle``, ``ccw``), both stems and
transition styles, both fuse forwards, SEM on or off, every head (``simple`` with a 1x1 or 3x3
kernel, ``iterative``, ``dasp`` with its rates and growth), widths, depths and input sizes.

>>> specs = random_specs(3, seed=1)
>>> len(specs), len({s.name for s in specs})
(3, 3)
"""
from __future__ import annotations

import random

from ...spec import HeadSpec, NetworkSpec, SpecError, StageSpec, StemSpec

__all__ = ["random_spec", "random_specs", "INPUT_SIZES"]

#: (height, width) input sizes drawn (multiples of 32, as four branches need)
INPUT_SIZES = ((128, 96), (160, 128), (192, 160), (256, 192), (224, 160), (256, 256), (96, 64))
_REWEIGHT = ("se", "eca", "none")


def _block_options(rng: random.Random, block: str) -> dict:
    if block == "scr":
        return {"kernel": rng.choice((3, 5)), "cheap_kernel": rng.choice((3, 5)), "ratio": rng.choice((0.5, 0.25)),
                "reweight": (rng.choice(_REWEIGHT), rng.choice(_REWEIGHT)), "reduction": rng.choice((4, 8))}
    if block == "ccw":
        return {"reduce_ratio": rng.choice((4, 8)), "spatial_ratio": rng.choice((2, 4))}
    return {}


def _head(rng: random.Random) -> HeadSpec:
    kind = rng.choice(("simple", "simple", "iterative", "dasp"))
    if kind == "simple":
        return HeadSpec(type="simple", options={"kernel": rng.choice((1, 3))})
    if kind == "dasp":
        return HeadSpec(type="dasp", options={"rates": rng.choice(((1, 6, 12, 18), (1, 3, 6, 9), (1, 2, 4))),
                                              "growth": rng.choice((8, 16)), "proj": rng.choice((16, 32)),
                                              "llf_proj": rng.choice((16, 32)), "fuse": rng.choice((16, 32))})
    return HeadSpec(type=kind)


def _stem(rng: random.Random, lite: bool) -> StemSpec:
    if lite:
        return StemSpec(type="lite", channels=32, num_blocks=0, out_channels=rng.choice((32, 48)),
                        expand_ratio=1.0)
    block = rng.choice(("bottleneck", "basic"))
    return StemSpec(channels=rng.choice((32, 64)), block=block, num_blocks=rng.randint(1, 4),
                    block_width=rng.choice((32, 64)))


def random_spec(rng: random.Random, name: str = "random") -> NetworkSpec:
    """One random spec (a :class:`SpecError` is possible for a bad combination: retry)."""
    lite = rng.random() < 0.4
    n_stages = rng.choice((2, 3, 3, 3))
    width = rng.randrange(16, 49, 4) if not lite else rng.randrange(20, 49, 4)
    blocks_pool = ("ccw", "shuffle", "scr", "basic") if lite else ("basic", "bottleneck", "scr", "scr", "ccw",
                                                                     "shuffle")
    stages = []
    for i in range(n_stages):
        n = i + 2
        block = rng.choice(blocks_pool)
        last = i == n_stages - 1
        stages.append(StageSpec(widths=tuple(width * 2 ** b for b in range(n)),
                                num_blocks=(rng.randint(1, 3 if block != "bottleneck" else 2),) * n,
                                num_modules=rng.randint(1, 3), block=block, block_options=_block_options(rng, block),
                                sem=(n - 1,) if last and rng.random() < 0.3 else (),
                                multiscale_output=not last or rng.random() < 0.2))
    size = rng.choice(INPUT_SIZES)
    transition = "lite" if (lite and rng.random() < 0.8) or (not lite and rng.random() < 0.2) else "hrnet"
    return NetworkSpec(name=name, num_joints=rng.choice((14, 17)), input_size=size, stem=_stem(rng, lite),
                       stages=tuple(stages), head=_head(rng), transition=transition,
                       fuse_forward="litehrnet" if lite and rng.random() < 0.7 else "hrnet")


def random_specs(n: int, seed: int = 0) -> list[NetworkSpec]:
    """``n`` valid random specs (invalid draws are redrawn), named ``random_<seed>_<i>``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"random_specs: n must be a non-negative integer, got {n!r}")
    from ..analytic import isolated_caches, network_ops
    rng = random.Random(seed)
    out = []
    with isolated_caches():     # validating a draw must not warm (or evict) the memos of later predictions
        while len(out) < n:
            try:
                spec = random_spec(rng, f"random_{seed}_{len(out)}")
                network_ops(spec)
            except (SpecError, ValueError):
                continue
            out.append(spec)
    return out
