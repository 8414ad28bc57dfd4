"""Rank fidelity statistics and the tie rule (archlab.search.rank) on closed-form cases."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from archlab.search.rank import fidelity_table, pooled_std, rank_agreement, verdict


def test_tau_and_rho_of_one_swapped_pair():
    # 4 models, one adjacent pair swapped: 5 concordant, 1 discordant pair -> tau = 4/6;
    # rank differences (0, 1, 1, 0) -> rho = 1 - 6 * 2 / (4 * 15) = 0.8
    r = rank_agreement([1, 2, 3, 4], [10, 30, 20, 40], n_boot=200)
    assert r["n"] == 4
    assert r["tau"] == pytest.approx(4 / 6) and r["rho"] == pytest.approx(0.8)
    assert -1 <= r["tau_lo"] <= r["tau"] <= r["tau_hi"] <= 1


@pytest.mark.parametrize("sign", [1, -1])
def test_bootstrap_interval_of_a_perfect_order_is_a_point(sign):
    x = np.arange(8.0)
    r = rank_agreement(x, sign * x ** 3, n_boot=300)
    assert r["tau"] == pytest.approx(sign) and r["rho"] == pytest.approx(sign)
    assert r["tau_lo"] == pytest.approx(sign) and r["tau_hi"] == pytest.approx(sign)
    assert r["rho_lo"] == pytest.approx(sign) and r["rho_hi"] == pytest.approx(sign)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(3)
    final = rng.normal(size=12)
    score = final + rng.normal(scale=0.7, size=12)
    a = rank_agreement(score, final, n_boot=400, seed=1)
    b = rank_agreement(score, final, n_boot=400, seed=1)
    c = rank_agreement(score, final, n_boot=400, seed=2)
    assert a == b and (a["tau_lo"], a["tau_hi"]) != (c["tau_lo"], c["tau_hi"])
    assert a["tau_lo"] < a["tau"] < a["tau_hi"] and a["rho_lo"] < a["rho"] < a["rho_hi"]


def test_missing_scores_are_dropped_and_too_few_is_an_error():
    r = rank_agreement([1, 2, math.nan, 4, 5], [1, 2, 3, 5, 4], n_boot=100)
    assert r["n"] == 4 and r["tau"] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="at least 2 models"):
        rank_agreement([1, math.nan], [1, 2])
    with pytest.raises(ValueError, match="pair up: 3 vs 2"):
        rank_agreement([1, 2, 3], [1, 2])


def test_fidelity_table_orders_by_tau_and_prices_it():
    df = pd.DataFrame({"final": [1, 2, 3, 4, 5], "good": [1, 2, 3, 5, 4], "bad": [5, 4, 3, 2, 1]})
    t = fidelity_table(df, "final", {"bad": 0.5, "good": 2.0}, n_boot=100)
    assert list(t["score"]) == ["good", "bad"]
    assert t.loc[0, "tau"] == pytest.approx(0.8) and t.loc[0, "tau_per_cpu_hour"] == pytest.approx(0.4)
    assert t.loc[1, "tau"] == pytest.approx(-1.0)
    with pytest.raises(KeyError, match="'nope'"):
        fidelity_table(df, "final", {"nope": 1.0})


def test_pooled_std_closed_form():
    # (1-2)^2 + (3-2)^2 = 2 and (2-4)^2 + 0 + (6-4)^2 = 8 over 1 + 2 degrees of freedom
    assert pooled_std([[1, 3], [2, 4, 6], [7]]) == pytest.approx(math.sqrt(10 / 3))
    assert math.isnan(pooled_std([[1], [2]]))


def test_verdict_needs_more_than_twice_the_pooled_std():
    assert verdict(44.0, 42.0, pooled=1.0) == "tie"          # exactly 2 std: not above
    assert verdict(44.01, 42.0, pooled=1.0) == "A beats B"
    assert verdict(40.0, 42.5, pooled=1.0) == "B beats A"
    assert verdict(50.0, 40.0, pooled=math.nan) == "tie"     # unknown noise: no claim


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_vectorised_statistics_equal_scipy_per_resample_with_ties():
    """The bootstrap's vectorised tau-b / rho equal scipy's kendalltau / spearmanr row by row,
    ties and constant rows (NaN) included."""
    from scipy import stats

    from archlab.search.rank import _rho, _tau
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, size=(200, 7)).astype(float)      # many ties
    y = rng.integers(0, 5, size=(200, 7)).astype(float)
    x[0] = 2.0                                               # a constant row
    tau, rho = _tau(x, y), _rho(x, y)
    for i in range(len(x)):
        ref_t, ref_r = stats.kendalltau(x[i], y[i]).statistic, stats.spearmanr(x[i], y[i]).statistic
        assert (math.isnan(tau[i]) and math.isnan(ref_t)) or tau[i] == pytest.approx(ref_t)
        assert (math.isnan(rho[i]) and math.isnan(ref_r)) or rho[i] == pytest.approx(ref_r)
