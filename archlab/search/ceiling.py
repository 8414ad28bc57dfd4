"""How far seed noise caps rank fidelity: the tau a score can reach, and seeds that would lift it.

A cheap score and the final score are each a model's true value plus seed noise. Noise dilutes
their agreement whatever the score measures, so a low Kendall tau can mean "ranks the wrong
thing" or "ranks the right thing through too much noise"; the two call for different fixes
(another score, or averaging seeds). This module tells them apart, under the usual model of
classical test theory (true value + independent Gaussian seed noise) and Greiner's relation
``tau = (2 / pi) * asin(rho)`` between Kendall's tau and Pearson's rho of a bivariate normal:

* :func:`reliability` -- the share of a score's variance across models that is not seed noise,
  ``R = 1 - noise**2 * mean(1 / k) / var(values)`` for values that are means over ``k`` seeds;
* :func:`tau_ceiling` -- the tau a score would reach against the final score if their noise-free
  values ranked models identically: ``(2 / pi) * asin(sqrt(R_score * R_final))``;
* :func:`noise_free_tau` -- the observed tau corrected for attenuation (Spearman's correction
  applied to the rho that Greiner's relation gives), capped at 1;
* :func:`seeds_for_tau` -- how many seeds per model the score would need (its noise averaged)
  for its expected tau to reach a target, or None where no number of seeds can.

These are point estimates: at ten or so models their own uncertainty is large, so read them as
a guide to where the CPU should go, not as measurements.

>>> round(tau_ceiling(0.5, 1.0), 4)         # asin(sqrt(0.5)) = pi / 4
0.5
>>> round(noise_free_tau(0.5, 0.5, 1.0), 4)
1.0
>>> round(reliability([1.0, 3.0, 5.0], noise=math.sqrt(2), seeds=2), 4)   # var 4, noise var 2 / 2
0.75
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["reliability", "tau_ceiling", "noise_free_tau", "seeds_for_tau"]


def _clean(values, seeds) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=float).ravel()
    k = np.broadcast_to(np.asarray(seeds, dtype=float), v.shape)
    keep = np.isfinite(v) & np.isfinite(k)
    if np.any(k[keep] < 1):
        raise ValueError(f"seeds per model must be >= 1, got {sorted(set(k[keep].tolist()))}")
    return v[keep], k[keep]


def _check_r(*rs: float) -> float:
    for r in rs:
        if r == r and not 0.0 <= r <= 1.0:
            raise ValueError(f"a reliability is a share of variance in [0, 1], got {r}")
    return math.prod(rs)


def reliability(values, noise: float, seeds=1) -> float:
    """Share of the variance of ``values`` (one per model, each a mean over ``seeds`` runs: a
    number or one per model) that is not seed noise of std ``noise``; 0 where noise explains all
    of it, NaN with fewer than 3 models, an unknown noise or no variance."""
    v, k = _clean(values, seeds)
    if v.size < 3 or not (noise == noise) or noise < 0:
        return math.nan
    observed = float(v.var(ddof=1))
    if observed <= 0:
        return math.nan
    return max(0.0, 1.0 - noise ** 2 * float(np.mean(1.0 / k)) / observed)


def tau_ceiling(r_score: float, r_final: float) -> float:
    """The expected Kendall tau of two scores whose noise-free values agree perfectly, given their
    reliabilities (NaN if either is unknown)."""
    p = _check_r(r_score, r_final)
    return math.nan if p != p else 2.0 / math.pi * math.asin(math.sqrt(p))


def noise_free_tau(tau: float, r_score: float, r_final: float) -> float:
    """The observed ``tau`` corrected for both scores' seed noise (capped at +-1; NaN where a
    reliability is unknown or zero)."""
    p = _check_r(r_score, r_final)
    if p != p or p == 0 or tau != tau:
        return math.nan
    rho = math.sin(math.pi * tau / 2.0) / math.sqrt(p)
    return 2.0 / math.pi * math.asin(max(-1.0, min(1.0, rho)))


def seeds_for_tau(target: float, tau: float, values, noise: float, r_final: float, *, seeds=1,
                  max_seeds: int = 64) -> int | None:
    """Seeds per model the score needs for its expected tau against the final score to reach
    ``target``, given its observed ``tau`` over ``values`` (means over ``seeds`` runs) with seed
    std ``noise``: its noise-free agreement (:func:`noise_free_tau`) is kept and its noise is
    averaged over n seeds. None where even noise-free values fall short, or beyond ``max_seeds``."""
    v, k = _clean(values, seeds)
    r_now = reliability(v, noise, k)
    true_tau = noise_free_tau(tau, r_now, r_final)
    if true_tau != true_tau:
        return None
    true_var = r_now * float(v.var(ddof=1))     # the spread that is not seed noise
    if true_var <= 0:
        return None
    rho = math.sin(math.pi * true_tau / 2.0)
    for n in range(1, max_seeds + 1):
        r_n = true_var / (true_var + noise ** 2 / n)
        if 2.0 / math.pi * math.asin(rho * math.sqrt(r_n * r_final)) >= target:
            return n
    return None
