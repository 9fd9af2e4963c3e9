"""sim.analysis.stats on synthetic data with known answers: interval coverage, paired differences,
replication adequacy, Kaplan–Meier by hand, Sobol indices of the Ishigami function and
Morris elementary effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sim.analysis import stats

# ---------------------------------------------------------------- confidence intervals

TRUE_MEAN = 3.0


def _coverage(interval, reps: int = 300, n: int = 40) -> float:
    """Share of ``reps`` normal samples (mean 3, sd 2, size n) whose 95% interval covers 3."""
    rng = np.random.default_rng(20240611)
    hits = 0
    for i in range(reps):
        e = interval(rng.normal(TRUE_MEAN, 2.0, n), i)
        assert e.low < e.value < e.high, "a non-degenerate sample must give an interval around its mean"
        hits += e.low <= TRUE_MEAN <= e.high
    return hits / reps


def test_bootstrap_ci_covers_the_true_mean_at_about_the_nominal_rate():
    cov = _coverage(lambda x, i: stats.bootstrap_ci(x, level=0.95, n_resamples=999, seed=i))
    assert 0.90 <= cov <= 0.99, f"bootstrap 95% CI covered the true mean in {cov:.1%} of 300 samples"


def test_t_interval_covers_the_true_mean_at_about_the_nominal_rate():
    cov = _coverage(lambda x, i: stats.t_interval(x, level=0.95))
    assert 0.90 <= cov <= 0.99, f"t 95% interval covered the true mean in {cov:.1%} of 300 samples"


def test_bootstrap_ci_narrows_with_the_level_and_differs_by_seed():
    x = np.random.default_rng(5).normal(0, 1, 60)
    e95 = stats.bootstrap_ci(x, level=0.95, n_resamples=999, seed=1)
    e80 = stats.bootstrap_ci(x, level=0.80, n_resamples=999, seed=1)
    assert e80.low > e95.low and e80.high < e95.high
    assert e95.value == pytest.approx(x.mean())
    assert e95.n == 60
    # the same seed reproduces the interval exactly
    again = stats.bootstrap_ci(x, level=0.95, n_resamples=999, seed=1)
    assert (again.low, again.high) == (e95.low, e95.high)


def test_t_interval_matches_the_textbook_formula():
    x = np.array([2.0, 4.0, 4.0, 5.0, 7.0, 9.0])
    e = stats.t_interval(x, level=0.9)
    lo, hi = sps.t.interval(0.9, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert e.value == pytest.approx(x.mean())
    assert (e.low, e.high) == pytest.approx((lo, hi))
    assert e.half_width == pytest.approx((hi - lo) / 2)
    assert e.n == 6


@pytest.mark.parametrize("value", [0.0, 1.0, -2.5, 7.25])
def test_constant_data_gives_a_zero_width_interval_at_the_value(value):
    x = np.full(25, value)
    for e in (stats.bootstrap_ci(x, n_resamples=999), stats.t_interval(x)):
        assert (e.value, e.low, e.high) == pytest.approx((value, value, value))
        assert e.half_width == 0
        assert e.n == 25


def test_nans_are_dropped():
    clean = np.array([1.0, 2.0, 4.0, 8.0, 3.0, 5.0, 2.5])
    dirty = np.insert(clean, [0, 3, 7], np.nan)
    for f in (lambda x: stats.bootstrap_ci(x, n_resamples=999, seed=3), stats.t_interval):
        a, b = f(clean), f(dirty)
        assert b.n == len(clean)
        assert np.isfinite([b.value, b.low, b.high]).all()
        assert (b.value, b.low, b.high) == pytest.approx((a.value, a.low, a.high))
    # NaNs among constant values: still a zero-width interval at the value
    e = stats.bootstrap_ci([np.nan, 2.0, 2.0, np.nan, 2.0])
    assert (e.value, e.low, e.high, e.n) == (2.0, 2.0, 2.0, 3)


def test_empty_or_all_nan_input_gives_nan_and_n_zero():
    for f in (stats.bootstrap_ci, stats.t_interval):
        e = f([np.nan, np.nan])
        assert e.n == 0 and np.isnan(e.value) and np.isnan(e.low) and np.isnan(e.high)


def test_estimate_excludes_zero():
    assert stats.Estimate(1.0, 0.2, 1.8, 10).excludes_zero()
    assert stats.Estimate(-1.0, -1.8, -0.2, 10).excludes_zero()
    assert not stats.Estimate(0.5, -0.1, 1.1, 10).excludes_zero()
    assert not stats.Estimate(0.0, 0.0, 0.0, 10).excludes_zero()


def test_mean_band_is_the_column_wise_t_interval():
    rng = np.random.default_rng(11)
    v = rng.normal(0, 1, (12, 5))
    v[3, 2] = np.nan  # a missing value in one column only
    m, lo, hi = stats.mean_band(v, level=0.95)
    for j in range(v.shape[1]):
        e = stats.t_interval(v[:, j], 0.95)
        assert (m[j], lo[j], hi[j]) == pytest.approx((e.value, e.low, e.high))


def test_column_moments_without_nan_are_the_nan_aware_ones_exactly():
    """The fast path (no NaN: plain mean and std) gives the same bits as nanmean and nanstd."""
    rng = np.random.default_rng(3)
    for shape in [(6144, 61), (7, 61), (2, 5)]:
        v = rng.random(shape) * rng.integers(1, 100)
        n, m, sd = stats.column_moments(v)
        assert (n == shape[0]).all()
        assert np.array_equal(m, np.nanmean(v, axis=0)) and np.array_equal(sd, np.nanstd(v, axis=0, ddof=1))


def _sample(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(3.0, 2.0, n)
    if kind == "exponential":
        return rng.exponential(1.5, n)
    if kind == "share":
        return (rng.random(n) < 0.3).astype(float)
    return rng.lognormal(0.0, 1.0, n)


# (sample, n, data seed, level, n_resamples, seed, low, high): bootstrap_ci before it passed
# `batch` to SciPy and computed the jackknife of large samples in closed form
PREVIOUS_INTERVALS = [
    ("normal", 3, 1, 0.95, 2000, 0, 3.67097222962104, 4.643236287002317),
    ("normal", 40, 2, 0.95, 999, 7, 2.4044590213702, 3.603198819146077),
    ("exponential", 250, 3, 0.9, 2000, 0, 1.5829023026392461, 1.9076116419339746),
    ("share", 1000, 4, 0.95, 2000, 0, 0.25, 0.306),
    ("normal", 2000, 5, 0.95, 499, 3, 2.951700237165296, 3.1346473281336253),
    ("lognormal", 5000, 6, 0.95, 2000, 0, 1.6274486367301175, 1.7497200164567848),
    ("exponential", 20000, 7, 0.95, 2000, 0, 1.4921225940064642, 1.5343829268692655),
    ("lognormal", 20001, 8, 0.95, 2000, 0, 1.6161157262791517, 1.6742120172093262),
]


@pytest.mark.parametrize(("kind", "n", "data_seed", "level", "n_resamples", "seed", "low", "high"), PREVIOUS_INTERVALS)
def test_bootstrap_ci_gives_the_previous_intervals(kind, n, data_seed, level, n_resamples, seed, low, high):
    """Up to 20,000 observations (every result in docs/) the very same bits as before; above
    that the closed-form jackknife agrees to rounding."""
    e = stats.bootstrap_ci(_sample(kind, n, data_seed), level=level, n_resamples=n_resamples, seed=seed)
    if n <= 20_000:
        assert (e.low, e.high) == (low, high)
    else:
        assert (e.low, e.high) == pytest.approx((low, high), rel=1e-12, abs=0)


def test_closed_form_jackknife_of_the_mean_gives_scipys_bca_interval(monkeypatch):
    """The O(n) acceleration (U_i = x_i − x̄) gives scipy.stats.bootstrap's BCa interval to rounding,
    on random samples of several shapes, sizes, levels and seeds."""
    calls = []
    closed_form = stats._bca_mean_interval
    monkeypatch.setattr(stats, "SCIPY_JACKKNIFE_MAX", 1)  # every sample takes the closed form
    monkeypatch.setattr(stats, "_bca_mean_interval", lambda *a: calls.append(1) or closed_form(*a))
    rng = np.random.default_rng(2024)
    for i in range(40):
        kind = ["normal", "exponential", "share", "lognormal"][i % 4]
        x = _sample(kind, int(rng.integers(3, 3000)), i) + [0.0, 0.0, 1e3, -50.0][i // 10]
        if np.all(x == x[0]):
            continue
        level, n_resamples = float(rng.choice([0.8, 0.9, 0.95, 0.99])), int(rng.choice([499, 999, 2000]))
        e = stats.bootstrap_ci(x, level=level, n_resamples=n_resamples, seed=i)
        ref = sps.bootstrap((x,), np.mean, confidence_level=level, n_resamples=n_resamples, method="BCa", rng=np.random.default_rng(i))
        assert (e.low, e.high) == pytest.approx(tuple(ref.confidence_interval), rel=1e-12, abs=1e-12), (kind, len(x), level)
    assert len(calls) >= 35


@pytest.mark.parametrize("n", [10_000, 200_000])
def test_bootstrap_ci_memory_stays_bounded(n):
    """SciPy's jackknife without `batch` held an n × (n − 1) array (1.8 GB at n = 10,000, 75 GiB at
    100,000); now both sizes stay within a few tens of MB (bound: 256 MiB)."""
    import tracemalloc

    x = np.random.default_rng(n).exponential(2.0, n)
    stats.bootstrap_ci(x[:50])  # SciPy imported outside the measurement
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        e = stats.bootstrap_ci(x)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert peak < 256 * 2**20, f"peak {peak / 2**20:.0f} MiB at n = {n}"
    t = stats.t_interval(x)
    assert e.n == n and e.low < e.value < e.high
    assert e.half_width == pytest.approx(t.half_width, rel=0.1)


# ---------------------------------------------------------------- paired effects


def _runs(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["scenario", "point", "replication", "arm", "status", "turnover", "y"])


def test_paired_matches_by_scenario_point_replication_and_subtracts_the_reference():
    runs = _runs(
        [
            # scenario, point, replication, arm, status, turnover, y
            ("s1", 0, 0, "ref", "ok", 0.1, 1.0),
            ("s1", 0, 1, "ref", "ok", 0.1, 2.0),
            ("s1", 1, 0, "ref", "ok", 0.5, 4.0),
            ("s2", 0, 0, "ref", "ok", 0.1, 10.0),
            ("s2", 0, 1, "ref", "ok", 0.1, 20.0),  # its partner failed: dropped
            ("s2", 1, 1, "ref", "ok", 0.5, 7.0),  # no partner at all: dropped
            # the treatment arm in another order than the reference
            ("s2", 0, 0, "arm", "ok", 0.1, 13.5),
            ("s1", 1, 0, "arm", "ok", 0.5, 3.0),
            ("s1", 0, 1, "arm", "ok", 0.1, 2.25),
            ("s1", 0, 0, "arm", "ok", 0.1, 6.0),
            ("s2", 0, 1, "arm", "error", 0.1, np.nan),
            # a third arm that must not be used
            ("s1", 0, 0, "other", "ok", 0.1, 100.0),
            ("s1", 0, 1, "other", "ok", 0.1, 100.0),
        ]
    )
    d = stats.paired(runs, "y", "arm", "ref")
    got = {(r.scenario, r.point, r.replication): r.diff for r in d.itertuples()}
    assert got == {("s1", 0, 0): 5.0, ("s1", 0, 1): 0.25, ("s1", 1, 0): -1.0, ("s2", 0, 0): 3.5}
    # grouping columns are carried along
    d2 = stats.paired(runs, "y", "arm", "ref", by=("scenario", "turnover"))
    got2 = {(r.scenario, r.point, r.replication): (r.turnover, r.diff) for r in d2.itertuples()}
    assert got2 == {("s1", 0, 0): (0.1, 5.0), ("s1", 0, 1): (0.1, 0.25), ("s1", 1, 0): (0.5, -1.0), ("s2", 0, 0): (0.1, 3.5)}
    # swapping arm and reference flips the sign
    back = stats.paired(runs, "y", "ref", "arm")
    assert {(r.scenario, r.point, r.replication): r.diff for r in back.itertuples()} == {k: -v for k, v in got.items()}


def test_paired_effect_per_group_mean_ci_and_d_z():
    rng = np.random.default_rng(3)
    rows = []
    for sc, shift in (("a", 0.5), ("b", -0.2)):
        base = rng.normal(0, 1, 30)
        for rep in range(30):
            rows.append((sc, 0, rep, "ref", "ok", 0.1, base[rep]))
            rows.append((sc, 0, rep, "arm", "ok", 0.1, base[rep] + shift + rng.normal(0, 0.3)))
    runs = _runs(rows)
    eff = stats.paired_effect(runs, "y", "arm", "ref", by=("scenario",), seed=1)
    assert list(eff["scenario"]) == ["a", "b"]
    d = stats.paired(runs, "y", "arm", "ref")
    for _, e in eff.iterrows():
        diffs = d[d["scenario"] == e["scenario"]]["diff"]
        assert e["mean_diff"] == pytest.approx(diffs.mean())
        assert e["ci_low"] <= e["mean_diff"] <= e["ci_high"]
        assert e["ci_low"] < e["ci_high"]
        assert e["n_pairs"] == 30
        assert e["d_z"] == pytest.approx(diffs.mean() / diffs.std(ddof=1))
        assert e["outcome"] == "y" and e["arm"] == "arm" and e["reference"] == "ref"
    a, b = eff.iloc[0], eff.iloc[1]
    assert a["excludes_zero"] and a["ci_low"] > 0  # +0.5 with noise 0.3, 30 pairs
    assert b["excludes_zero"] and b["ci_high"] < 0  # −0.2 with noise 0.3, 30 pairs


def test_replication_adequacy_flags_wide_intervals():
    rng = np.random.default_rng(8)
    rows = []
    # "few": 10 coin flips (share half-width ≈ 0.37 > 0.05); "many": 4000 runs that never agree
    for i in range(10):
        rows.append({"scenario": "few", "arm": "x", "status": "ok", "agreement": float(i % 2), "cost": 100 + rng.normal(0, 60)})
    for _ in range(4000):
        rows.append({"scenario": "many", "arm": "x", "status": "ok", "agreement": 0.0, "cost": 100 + rng.normal(0, 1)})
    rows.append({"scenario": "many", "arm": "x", "status": "error", "agreement": np.nan, "cost": np.nan})
    runs = pd.DataFrame(rows)
    ad = stats.replication_adequacy(runs, ["agreement", "cost"]).set_index(["scenario", "outcome"])
    few_a, few_c = ad.loc[("few", "agreement")], ad.loc[("few", "cost")]
    many_a, many_c = ad.loc[("many", "agreement")], ad.loc[("many", "cost")]
    assert not few_a["adequate"] and not few_c["adequate"]
    assert many_a["adequate"] and many_c["adequate"]
    assert few_a["tolerance"] == 0.05 and many_a["tolerance"] == 0.05  # shares
    assert many_c["tolerance"] == pytest.approx(0.05 * abs(many_c["mean"]))  # 5% of the mean otherwise
    assert few_a["half_width"] == pytest.approx(stats.t_interval(np.arange(10) % 2).half_width)
    assert many_a["n"] == 4000  # the failed run is left out
    # an explicit tolerance overrides the default
    loose = stats.replication_adequacy(runs, ["agreement"], tolerance={"agreement": 0.5}).set_index("scenario")
    assert loose.loc["few", "adequate"] and loose.loc["few", "tolerance"] == 0.5


@pytest.mark.parametrize(("n", "adequate"), [(32, False), (36, True), (100, True)])
def test_a_share_with_no_event_is_not_known_to_zero(n, adequate):
    """0 of n runs agree: the t interval has width 0, but the share is known only to the Wilson
    bound (3.84/(n + 3.84), half-width half that: 0.054 at 32 runs, 0.048 at 36). Kills: the
    Wilson half-width dropped (every n adequate)."""
    runs = pd.DataFrame({"scenario": "s", "arm": "x", "status": "ok", "agreement": np.zeros(n)})
    row = stats.replication_adequacy(runs, ["agreement"]).iloc[0]
    assert row["half_width"] == pytest.approx(1.96**2 / (n + 1.96**2) / 2, rel=1e-3)
    assert row["adequate"] == adequate


# ---------------------------------------------------------------- time to agreement


class TestTimeToAgreement:
    def test_censors_at_the_horizon_and_counts_from_the_shift_round(self):
        runs = pd.DataFrame({"agreement_round": [np.nan, 40.0, 47.0, 60.0, np.nan]})
        t, observed = stats.time_to_agreement(runs, shift=40, horizon=60)
        assert list(t) == [21, 1, 8, 21, 21]
        assert list(observed) == [False, True, True, True, False]

    def test_agreement_before_the_shift_is_never_time_zero(self):
        runs = pd.DataFrame({"agreement_round": [35.0, 12.0, 41.0, np.nan]})
        t, observed = stats.time_to_agreement(runs, shift=40, horizon=60)
        assert np.isnan(t[0]) and np.isnan(t[1]) and not observed[0] and not observed[1]
        assert list(t[2:]) == [2, 21]
        assert list(stats.before_shift(runs, 40)) == [True, True, False, False]
        # and the survival curve does not drop at 0 because of them
        times, surv = stats.kaplan_meier(t, observed)
        assert times[0] == 2 and surv[0] == pytest.approx(0.5)

    def test_restricted_mean_is_the_area_under_the_km_curve(self):
        # censoring only at tau: the RMST is the mean of min(T, tau)
        d = np.array([1, 3, 3, 7, 10, 10], float)
        o = np.array([1, 1, 1, 1, 0, 0], bool)
        assert stats.restricted_mean(d, o, 10) == pytest.approx(np.mean(np.minimum(d, 10)))
        assert stats.restricted_mean([4, 4], [False, False], 4) == pytest.approx(4)
        assert stats.restricted_mean([2, 2], [True, True], 6) == pytest.approx(2)


def _step(times: np.ndarray, surv: np.ndarray, t: float) -> float:
    """S(t) of the returned step function (1 before the first time)."""
    i = np.searchsorted(times, t, side="right") - 1
    return 1.0 if i < 0 else float(surv[i])


def _product_limit(d: np.ndarray, o: np.ndarray) -> dict[float, float]:
    """The Kaplan–Meier estimate written out: S(t) = Π over event times u ≤ t of (1 − d_u / n_u)."""
    s, out = 1.0, {}
    for u in np.unique(d[o]):
        at_risk = np.sum(d >= u)
        events = np.sum((d == u) & o)
        s *= 1 - events / at_risk
        out[float(u)] = s
    return out


def test_kaplan_meier_matches_the_hand_computed_example():
    d = [2, 3, 3, 5, 8, 10]
    o = [1, 1, 0, 1, 0, 1]
    # t=2: 6 at risk, 1 event -> 5/6
    # t=3: 5 at risk (the censored 3 is still at risk at 3), 1 event -> 5/6 * 4/5 = 2/3
    # t=5: 3 at risk, 1 event -> 2/3 * 2/3 = 4/9
    # t=8: censored, S stays 4/9
    # t=10: 1 at risk, 1 event -> 0
    expected = {0: 1.0, 1.9: 1.0, 2: 5 / 6, 2.5: 5 / 6, 3: 2 / 3, 4: 2 / 3, 5: 4 / 9, 8: 4 / 9, 9.9: 4 / 9, 10: 0.0, 12: 0.0}
    times, surv = stats.kaplan_meier(d, o)
    assert np.all(np.diff(times) > 0)
    assert {2.0, 3.0, 5.0, 10.0} <= set(times.tolist())
    for t, s in expected.items():
        assert _step(times, surv, t) == pytest.approx(s), f"S({t})"
    # the values the brief spells out: 5/6, 2/3, 4/9, 4/9, 0 at 2, 3, 5, 8, 10
    assert list(times) == [2, 3, 5, 8, 10]
    assert surv == pytest.approx([5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])


def test_kaplan_meier_matches_the_product_limit_on_random_censored_data():
    rng = np.random.default_rng(17)
    d = rng.integers(0, 15, 80).astype(float)  # many ties
    o = rng.random(80) < 0.6
    times, surv = stats.kaplan_meier(d, o)
    for u, s in _product_limit(d, o).items():
        assert _step(times, surv, u) == pytest.approx(s), f"S({u})"
        assert _step(times, surv, u - 0.5) >= s - 1e-12


def test_kaplan_meier_matches_scipy_ecdf_on_censored_data():
    """The numpy product limit gives scipy.stats.ecdf's times and survival (to rounding)."""
    from scipy.stats import CensoredData, ecdf

    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(1, 120))
        d = rng.integers(0, 25, n).astype(float)  # ties, and censorings at event times
        o = rng.random(n) < rng.random()
        if not o.any():
            continue
        times, surv = stats.kaplan_meier(d, o)
        ref = ecdf(CensoredData(uncensored=d[o], right=d[~o])).sf
        assert np.array_equal(times, ref.quantiles)
        np.testing.assert_allclose(surv, ref.probabilities, rtol=0, atol=1e-12)


def test_kaplan_meier_without_events_stays_at_one():
    times, surv = stats.kaplan_meier([20, 20, 20], [False, False, False])
    assert np.all(surv == 1.0)
    assert _step(times, surv, 1000) == 1.0


def test_kaplan_meier_without_censoring_is_one_minus_the_ecdf():
    d = np.array([1, 2, 2, 4, 7, 7, 7, 9])
    times, surv = stats.kaplan_meier(d, np.ones(len(d), bool))
    assert list(times) == [1, 2, 4, 7, 9]
    assert surv == pytest.approx([1 - np.mean(d <= t) for t in times])


# ---------------------------------------------------------------- sensitivity

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
# Analytic indices for a = 7, b = 0.1.
S1_TRUE = [0.3139, 0.4424, 0.0]
ST_TRUE = [0.5576, 0.4424, 0.2437]


def test_sobol_indices_of_the_ishigami_function():
    from SALib.sample import sobol as sobol_sample
    from SALib.test_functions import Ishigami

    X = sobol_sample.sample(ISHIGAMI, 2048, calc_second_order=False, seed=1)
    idx = stats.sobol_indices(ISHIGAMI, Ishigami.evaluate(X), seed=1)
    assert list(idx["parameter"]) == ["x1", "x2", "x3"]
    assert idx["S1"].to_numpy() == pytest.approx(S1_TRUE, abs=0.05)
    assert idx["ST"].to_numpy() == pytest.approx(ST_TRUE, abs=0.05)
    assert np.all(idx["S1_conf"] > 0) and np.all(idx["ST_conf"] > 0)
    assert np.all(idx["S1_conf"] < 0.1) and np.all(idx["ST_conf"] < 0.1)


@pytest.mark.parametrize("seed", [None, 0, 5], ids=["default-seed", "seed-0", "seed-5"])
def test_sobol_indices_are_reproducible_for_a_given_seed(seed):
    """The confidence intervals are bootstrap draws: the same seed (including the default) must
    give the same table every time."""
    from SALib.sample import sobol as sobol_sample
    from SALib.test_functions import Ishigami

    X = sobol_sample.sample(ISHIGAMI, 128, calc_second_order=False, seed=1)
    y = Ishigami.evaluate(X)
    kw = {} if seed is None else {"seed": seed}
    saved = np.random.get_state()
    try:
        first = stats.sobol_indices(ISHIGAMI, y, **kw)
        np.random.seed(12345)  # the global generator in another state (as after any other code)
        second = stats.sobol_indices(ISHIGAMI, y, **kw)
    finally:
        np.random.set_state(saved)
    pd.testing.assert_frame_equal(first, second)


def test_morris_indices_are_reproducible_for_a_given_seed():
    from SALib.sample import morris as morris_sample
    from SALib.test_functions import Ishigami

    X = morris_sample.sample(ISHIGAMI, 30, num_levels=4, seed=1)
    y = Ishigami.evaluate(X)
    pd.testing.assert_frame_equal(stats.morris_indices(ISHIGAMI, X, y), stats.morris_indices(ISHIGAMI, X, y))


def test_morris_indices_of_a_linear_function_are_exact():
    from SALib.sample import morris as morris_sample

    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1], [0, 2], [0, 1]]}
    X = morris_sample.sample(problem, 20, num_levels=4, seed=1)
    idx = stats.morris_indices(problem, X, 3 * X[:, 0] + X[:, 1], seed=1)
    # SALib's elementary effects are per unit of the scaled input: coefficient × range
    assert idx["mu_star"].to_numpy() == pytest.approx([3.0, 2.0, 0.0], abs=1e-9)
    assert idx["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert list(idx.columns) == ["parameter", "mu_star", "mu_star_conf", "sigma"]


def test_morris_ranks_ishigami_x3_last_and_flags_its_interaction():
    from SALib.sample import morris as morris_sample
    from SALib.test_functions import Ishigami

    X = morris_sample.sample(ISHIGAMI, 400, num_levels=4, seed=2)
    idx = stats.morris_indices(ISHIGAMI, X, Ishigami.evaluate(X), seed=2).set_index("parameter")
    assert idx.loc["x3", "mu_star"] < idx.loc["x1", "mu_star"]
    assert idx.loc["x3", "mu_star"] < idx.loc["x2", "mu_star"]
    # x2 enters additively (7 sin² x2), so its |elementary effect| is the same everywhere on the grid
    assert idx.loc["x2", "mu_star_conf"] == pytest.approx(0.0, abs=1e-6)
    # x3 acts only through its interaction with x1: its effects change sign, σ > μ*
    assert idx.loc["x3", "sigma"] > idx.loc["x3", "mu_star"]


class TestCountsFloor:
    """Means of 0/1 outcomes and of their paired differences: the bootstrap alone covers the truth
    in 36% of 16-pair samples with 3% and 1% discordance (0.59 at 32 pairs), and gives [0, 0]
    where nothing happened; with the floor both are at the nominal rate. 300 samples each: the
    bound 0.90 is 3 Monte-Carlo standard errors below 0.95."""

    @staticmethod
    def coverage(n: int, pb: float, pc: float, discrete: str, reps: int = 300) -> tuple[float, float]:
        rng = np.random.default_rng(2)
        ok = flat = 0
        for i in range(reps):
            u = rng.random(n)
            x = np.where(u < pb, 1.0, np.where(u < pb + pc, -1.0, 0.0))
            e = stats.bootstrap_ci(x, n_resamples=499, seed=i, discrete=discrete)
            ok += e.low <= pb - pc <= e.high
            flat += e.low == e.high
        return ok / reps, flat / reps

    @pytest.mark.parametrize(("n", "pb", "pc"), [(16, 0.03, 0.01), (32, 0.03, 0.01), (32, 0.05, 0.0), (128, 0.03, 0.01)])
    def test_paired_differences_of_rare_events(self, n, pb, pc):
        """Kills: the floor dropped (bootstrap_ci ignoring ``discrete``)."""
        cov, flat = self.coverage(n, pb, pc, "paired")
        assert cov >= 0.90 and flat == 0, (cov, flat)

    @pytest.mark.parametrize(("n", "p"), [(16, 0.03), (40, 0.05), (200, 0.01)])
    def test_proportions_of_rare_events(self, n, p):
        """Kills: the Wilson floor dropped."""
        cov, flat = self.coverage(n, p, 0.0, "proportion")
        assert cov >= 0.90 and flat == 0, (cov, flat)

    def test_a_proportion_stays_within_0_and_1_and_nothing_happened_is_not_certain(self):
        e = stats.bootstrap_ci(np.zeros(50), discrete="proportion")
        assert e.low == 0 and 0.05 < e.high < 0.08  # Wilson: 3.84 / 53.84 = 0.071
        e = stats.bootstrap_ci(np.ones(50), discrete="proportion")
        assert e.high == 1 and 0.92 < e.low < 0.95

    def test_a_paired_difference_stays_within_minus_1_and_1(self):
        e = stats.bootstrap_ci(np.ones(5), discrete="paired")
        assert e.high == 1 and e.low < 1

    def test_adjusted_se_by_hand(self):
        """b = 3 pairs where only the arm agreed, c = 1 where only the reference did, n = 10."""
        D = np.array([1, 1, 1, -1, 0, 0, 0, 0, 0, 0], float)
        m = 10 + 4 * stats.PSEUDO_PAIRS
        pb, pc = (3 + stats.PSEUDO_PAIRS) / m, (1 + stats.PSEUDO_PAIRS) / m
        assert stats.adjusted_se(D) == pytest.approx(np.sqrt((pb + pc - (pb - pc) ** 2) / m))

    def test_wilson_by_hand(self):
        """Wilson (1927) for 2 of 20 at 95%, as tabulated by Brown, Cai & DasGupta (2001): [0.028, 0.301]."""
        lo, hi = stats.wilson_interval(2, 20)
        assert (round(lo, 3), round(hi, 3)) == (0.028, 0.301)

    def test_an_unknown_kind_is_refused(self):
        with pytest.raises(ValueError, match="allowed: 'proportion', 'paired'"):
            stats.bootstrap_ci(np.array([0.0, 1.0]), discrete="binary")
