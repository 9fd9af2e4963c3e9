"""The effect curve's bands against planted truth: coverage of the simultaneous and pointwise
95% bands when agreements are rare and the pairs share their seeds (few discordant pairs, where
the bootstrap alone understates the spread), and when they are independent and numerous (where
a pointwise critical value would not cover the whole curve)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis import estimands

SHIFT, HORIZON = 10, 40
K = HORIZON - SHIFT + 1


def truth(pa: float, pr: float) -> np.ndarray:
    """Δ(k) for geometric agreement times from the shift with per-round hazards pa and pr."""
    k = np.arange(1, K + 1)
    return (1 - (1 - pa) ** k) - (1 - (1 - pr) ** k)


def coverage(n: int, coupled: bool, pa: float = 0.06, pr: float = 0.03, reps: int = 200) -> tuple[float, float, float]:
    """(simultaneous coverage, mean pointwise coverage, share of bands of width 0 somewhere) over
    ``reps`` planted experiments of ``n`` pairs; ``coupled``: one uniform draws both arms' times
    (common seeds: the arm that agrees later never agrees alone)."""
    rng = np.random.default_rng(1)
    tr = truth(pa, pr)
    sim = point = flat = 0.0
    for i in range(reps):
        u = rng.random(n)
        v = u if coupled else rng.random(n)
        a = SHIFT + np.floor(np.log(u) / np.log(1 - pa))
        r = SHIFT + np.floor(np.log(v) / np.log(1 - pr))
        c = estimands.effect_curve(a, r, SHIFT, HORIZON, seed=i)
        lo, hi = np.array(c["simultaneous_low"]), np.array(c["simultaneous_high"])
        sim += np.all((lo <= tr + 1e-12) & (tr <= hi + 1e-12))
        plo, phi = np.array(c["pointwise_low"]), np.array(c["pointwise_high"])
        point += np.mean((plo <= tr + 1e-12) & (tr <= phi + 1e-12))
        flat += np.any(phi - plo <= 0) or np.any(hi - lo <= 0)
    return sim / reps, point / reps, flat / reps


class TestBandCoverage:
    """200 planted experiments each: the Monte-Carlo error of a coverage of 0.95 is ±0.03 (95%),
    so the bound 0.90 fails only for a band that misses. Measured at 300 experiments: 0.94–0.97
    simultaneous and 0.95–0.96 pointwise from 30 to 1,000 pairs; with the bootstrap alone 0.37 at
    30 coupled pairs, 0.64 at 60 and 0.89 at 200."""

    @pytest.mark.parametrize("n", [30, 60])
    def test_few_discordant_pairs(self, n):
        """Kills: the floor (:func:`sim.analysis.stats.adjusted_se`) dropped from either band (0.64 at 60 pairs)."""
        sim, point, flat = coverage(n, coupled=True)
        assert sim >= 0.90 and point >= 0.92 and flat == 0, (sim, point, flat)

    def test_many_independent_pairs_need_the_sup_t_critical_value(self):
        """Kills: the simultaneous band built with the pointwise z instead of the sup-t critical value."""
        sim, point, _ = coverage(1000, coupled=False, reps=150)
        assert sim >= 0.90 and point >= 0.92, (sim, point)

    def test_no_band_of_width_zero_where_no_pair_differs(self):
        """Identical arms: every paired difference is 0, the bootstrap's spread too; the bands still
        have width (the floor), shrinking as pairs are added."""
        t = SHIFT + np.arange(200.0) % 30
        widths = []
        for n in (50, 200):
            c = estimands.effect_curve(t[:n], t[:n], SHIFT, HORIZON)
            assert all(x == 0 for x in c["estimate"])
            w = np.array(c["simultaneous_high"]) - np.array(c["simultaneous_low"])
            assert (w > 0).all() and (np.array(c["pointwise_high"]) > 0).all()
            widths.append(w.max())
        assert widths[1] < widths[0]


class TestPointEstimandsReadTheCurve:
    def test_soon_and_by_horizon_are_the_curve_at_their_rounds(self):
        """One interval per Δ(k), written once: 'soon' and 'by the horizon' are the curve's pointwise
        band at k, floor included (identical arms: width > 0, not [0, 0]). Kills: a separate
        percentile interval for them (the floor lost there)."""
        import pandas as pd

        t = SHIFT + np.arange(80.0) % 30
        rng = np.random.default_rng(3)
        a = np.where(rng.random(80) < 0.5, t, np.nan)
        for r in (a, np.where(rng.random(80) < 0.5, t, np.nan)):
            out = estimands.pair_estimands(pd.DataFrame({"a": a, "r": r}), SHIFT, HORIZON, soon=10)
            c = out["curve"]
            for key in ("soon", "by_horizon"):
                k = out[key]["k"]
                assert (out[key]["value"], out[key]["low"], out[key]["high"]) == (
                    c["estimate"][k - 1],
                    c["pointwise_low"][k - 1],
                    c["pointwise_high"][k - 1],
                )
                assert out[key]["high"] > out[key]["low"]


class TestEarlierAndRestrictedMean:
    """Review of 2026-12-01: a resample that drew no pair in which both arms agree counted as 0,
    pulling the 'earlier' interval to 0 ([−7, 0.0] for 3 pairs each 5–7 rounds earlier); with few
    such pairs the percentile interval undercovered (0.79–0.89), so below MIN_TIMED_PAIRS it has
    none. RMST and before-shift differences of identical arms had width 0."""

    @staticmethod
    def estimands(a: np.ndarray, r: np.ndarray) -> dict:
        import pandas as pd

        return estimands.pair_estimands(pd.DataFrame({"a": a, "r": r}), SHIFT, HORIZON, soon=10)

    def test_too_few_pairs_both_agree_get_no_interval(self):
        """Kills: the minimum dropped (an interval from 3 pairs)."""
        a, r = np.full(200, np.nan), np.full(200, np.nan)
        a[:3], r[:3] = SHIFT + 1, SHIFT + 7
        e = self.estimands(a, r)["earlier"]
        assert e["pairs_both_agree"] == 3 and e["value"] == -6 and e["low"] is None and e["high"] is None

    def test_resamples_without_such_a_pair_are_not_zeros(self):
        """A resample that draws none of the subset has no mean (NaN), and the interval is read from
        the others. Kills: counting it as 0."""
        W = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]])
        x = np.array([-6.0, -6.0, 0.0, 0.0])
        got = estimands.boot_means(W, x, np.array([True, True, False, False]))
        assert got[0] == -6 and np.isnan(got[1])
        e = estimands.percentile(-6.0, got, 2)
        assert e["low"] == e["high"] == -6

    def test_identical_arms_have_intervals_of_some_width(self):
        """Kills: the floor dropped from RMST or from the before-shift difference."""
        t = SHIFT - 5 + np.arange(100.0) % 30  # some agree before the shift, the rest after
        e = self.estimands(t, t)
        assert e["rmst"]["value"] == 0 and e["rmst"]["high"] > 0 > e["rmst"]["low"]
        d = e["before_shift"]["difference"]
        assert d["value"] == 0 and d["high"] > 0 > d["low"]
