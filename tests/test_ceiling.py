"""The noise ceiling of rank fidelity (archlab.search.ceiling): closed forms, and simulated models
whose true values and seed noise are known."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from archlab.search.ceiling import noise_free_tau, reliability, seeds_for_tau, tau_ceiling


def test_reliability_closed_forms():
    # means 0, 2, 4, 6 (var 20/3); noise std 2 over 2 seeds -> noise var of a mean 2
    assert reliability([0, 2, 4, 6], noise=2.0, seeds=2) == pytest.approx(1 - 2 / (20 / 3))
    # per-model seed counts: mean(1/k) = (1 + 1/2 + 1/3 + 1/6) / 4 = 0.5
    assert reliability([0, 2, 4, 6], noise=2.0, seeds=[1, 2, 3, 6]) == pytest.approx(1 - 4 * 0.5 / (20 / 3))
    assert reliability([0, 2, 4, 6], noise=0.0) == 1.0
    assert reliability([0, 1, 2], noise=10.0) == 0.0                    # noise explains all of it
    assert math.isnan(reliability([0, 1], noise=1.0))                   # too few models
    assert math.isnan(reliability([0, 1, 2], noise=math.nan))           # noise unknown
    assert math.isnan(reliability([3, 3, 3], noise=1.0))                # no spread
    assert reliability([0, 2, math.nan, 4, 6], noise=0.0) == 1.0        # missing models left out


def test_ceiling_and_correction_invert_each_other():
    for r_s, r_f in [(0.3, 0.9), (0.5, 0.5), (0.8, 0.95)]:
        ceiling = tau_ceiling(r_s, r_f)
        assert 0 < ceiling < 1
        assert noise_free_tau(ceiling, r_s, r_f) == pytest.approx(1.0)
        assert noise_free_tau(ceiling / 2, r_s, r_f) < 1.0
        assert noise_free_tau(-ceiling, r_s, r_f) == pytest.approx(-1.0)
    assert tau_ceiling(1.0, 1.0) == pytest.approx(1.0) and tau_ceiling(0.0, 0.9) == 0.0
    assert math.isnan(tau_ceiling(math.nan, 0.9)) and math.isnan(noise_free_tau(0.4, 0.0, 0.9))


def test_the_ceiling_matches_simulated_models():
    # true values N(0, 1); the score adds seed noise of std 1 (R = 0.5), the final score std 0.5
    # (R = 0.8): Kendall tau of the two noisy scores averages (2 / pi) asin(sqrt(0.4)) = 0.436
    rng = np.random.default_rng(0)
    taus, rel = [], []
    for _ in range(40):
        true = rng.normal(size=300)
        score, final = true + rng.normal(0, 1.0, 300), true + rng.normal(0, 0.5, 300)
        taus.append(stats.kendalltau(score, final).statistic)
        rel.append(reliability(score, noise=1.0))
    assert np.mean(taus) == pytest.approx(tau_ceiling(0.5, 0.8), abs=0.015)
    assert np.mean(rel) == pytest.approx(0.5, abs=0.03)
    # a score that measures something else ranks below its ceiling and its correction says so
    other = rng.normal(size=300)
    t = stats.kendalltau(other + rng.normal(0, 1.0, 300), true + rng.normal(0, 0.5, 300)).statistic
    assert abs(noise_free_tau(t, 0.5, 0.8)) < 0.15


def test_seeds_for_tau():
    values = [-1.0, 0.0, 1.0, 2.0, 3.0]            # var 2.5; noise 1.5**0.5 per seed -> true var 1
    noise = 1.5 ** 0.5
    r_now = reliability(values, noise)
    assert r_now == pytest.approx(1 / 2.5)
    tau = tau_ceiling(r_now, 0.8)                   # as observed by a score that is noise-free perfect
    # n seeds: R_n = 1 / (1 + 1.5 / n); tau 0.6 needs R_n * 0.8 >= sin(0.3 pi)^2 = 0.6545 -> n = 7
    assert seeds_for_tau(0.6, tau, values, noise, 0.8) == 7
    assert (1 / (1 + 1.5 / 6)) * 0.8 < math.sin(0.3 * math.pi) ** 2 <= (1 / (1 + 1.5 / 7)) * 0.8
    assert seeds_for_tau(0.6, tau, values, noise, 0.8, max_seeds=6) is None
    assert seeds_for_tau(0.6, 0.1, values, noise, 0.8) is None     # noise-free tau falls short
    assert seeds_for_tau(0.95, tau, values, noise, 0.8) is None    # the final score's own noise caps it
    assert seeds_for_tau(0.6, tau, [0.0, 0.1, 0.2], 5.0, 0.8) is None   # all noise, no signal


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="seeds per model"):
        reliability([1, 2, 3], noise=1.0, seeds=0)
    with pytest.raises(ValueError, match="share of variance"):
        tau_ceiling(1.2, 0.5)
