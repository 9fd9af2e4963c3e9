"""Statistics on sweep results: confidence intervals, paired effects under common random
numbers, replication adequacy, Kaplan–Meier time to agreement, Sobol and Morris indices.

Everything here takes plain arrays or the runs table (pandas) of :func:`sim.batch.sweep.read_runs`;
pandas itself is imported where a table is built, so that ``plot`` can run without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import pandas as pd

KEYS = ["scenario", "point", "replication"]  # runs paired across arms share these (and the seed)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval."""

    value: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


# SciPy's ``batch``: at most this many resampled values (resamples × sample size) at a time
_BATCH_VALUES = 1 << 21
# sample sizes up to this get SciPy's own BCa jackknife; the mean above it the closed form
SCIPY_JACKKNIFE_MAX = 20_000


#: Pseudo-pairs added to each cell of a paired 2 × 2 table (arm agreed or not × reference agreed
#: or not) for the floor on the standard error of a paired difference of proportions (:func:`adjusted_se`).
PSEUDO_PAIRS = 2.0


def adjusted_se(D: ArrayLike, pseudo: float = PSEUDO_PAIRS, bound: float = 1.0) -> np.ndarray:
    """The adjusted Wald standard error of the mean of paired differences in [−bound, bound]
    (``D`` (n,) or (n, K)), per column: the sample with ``pseudo`` pseudo-pairs added at each of
    +bound and −bound and 2·pseudo at 0 (m = n + 4·pseudo), se = bound·sqrt(var/m), var the
    augmented sample's variance. For 0/1 outcomes (``D`` in {−1, 0, 1}, bound 1), with b and c
    the pairs where only the arm or only the reference agreed, p_b = (b + pseudo)/m and
    p_c = (c + pseudo)/m, it is

        se = sqrt((p_b + p_c − (p_b − p_c)²) / m)

    (Agresti & Min 2005, "Simple improved confidence intervals for comparing matched
    proportions", Stat. Med. 24: 729–740, add 0.5 per cell for one interval; a band over every
    round needs more: 2 was the smallest of 0.5, 1 and 2 that kept the effect curve's
    simultaneous band at its level when discordant pairs are few, tests/test_estimands.py).
    Never 0, unlike the bootstrap's spread, which is 0 where no pair differs."""
    z = np.asarray(D, dtype=float) / bound
    n = z.shape[0]
    m = n + 4 * pseudo
    mean = z.sum(axis=0) / m
    second = ((z * z).sum(axis=0) + 2 * pseudo) / m
    return bound * np.sqrt(np.maximum(second - mean * mean, 0.0) / m)


def z_of(level: float) -> float:
    """The two-sided standard-normal quantile of ``level`` (1.96 at 0.95)."""
    from scipy.special import ndtri

    return float(ndtri((1 + level) / 2))


def widen(lo: ArrayLike, hi: ArrayLike, value: ArrayLike, half: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``[lo, hi]`` widened, elementwise, to at least ``value ± half`` (the counts floor)."""
    return np.minimum(lo, np.subtract(value, half)), np.maximum(hi, np.add(value, half))


def wilson_interval(k: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion k/n (Wilson 1927, JASA 22: 209–212; recommended
    for small n and proportions near 0 or 1 by Brown, Cai & DasGupta 2001, Stat. Sci. 16: 101–133)."""
    z = z_of(level)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def counts_floor(e: Estimate, x: np.ndarray, level: float, discrete: str) -> Estimate:
    """``e`` widened to at least the interval counts allow, where the bootstrap understates the
    spread of few events (with none, it has none): for a ``"proportion"`` (x in {0, 1}) the Wilson
    interval (:func:`wilson_interval`); for a ``"paired"`` difference of proportions (x in
    {−1, 0, 1}, or in [−1, 1]: shares of such differences) the mean ± z·:func:`adjusted_se`,
    within [−1, 1]."""
    if e.n < 2 or not np.isfinite(e.value):
        return e
    if discrete == "proportion":
        lo, hi = wilson_interval(float(np.sum(x)), len(x), level)
    elif discrete == "paired":
        bound = max(1.0, float(np.max(np.abs(x))))  # differences of 0/1 outcomes, or shares of them
        half = z_of(level) * float(adjusted_se(x, bound=bound))
        lo, hi = max(-bound, e.value - half), min(bound, e.value + half)
    else:
        raise ValueError(f"discrete = {discrete!r}; allowed: 'proportion', 'paired'")
    low = lo if not np.isfinite(e.low) else min(e.low, lo)
    high = hi if not np.isfinite(e.high) else max(e.high, hi)
    return Estimate(e.value, low, high, e.n)


def bootstrap_ci(
    x: ArrayLike,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    statistic: Callable = np.mean,
    discrete: str | None = None,
) -> Estimate:
    """Bootstrap (BCa, falling back to percentile) CI of ``statistic`` via ``scipy.stats.bootstrap``;
    with ``discrete`` (``"proportion"`` or ``"paired"``: the mean of 0/1 outcomes or of their paired
    differences) at least the interval their counts allow (:func:`counts_floor`).

    A constant sample has a zero-width interval at its value (unless ``discrete``).

    Memory and time for large samples: SciPy's BCa by default holds all ``n_resamples × n``
    resampled values and all ``n`` jackknife (leave-one-out) samples, an ``n × (n − 1)`` array, at
    once (6.8 GB at n = 20,000; a MemoryError at n = 50,000). SciPy's ``batch`` argument, passed
    here, takes both in chunks of at most ``_BATCH_VALUES`` (2²¹) values: memory O(n), tens of MB.
    That changes no bit: the bootstrap indices are one ``Generator`` stream however it is chunked,
    and each resample's or jackknife sample's statistic is computed on its own row.

    SciPy's jackknife still evaluates n statistics of n − 1 values, time O(n²) (~1.5 s at
    n = 20,000, minutes at 200,000). So above ``SCIPY_JACKKNIFE_MAX`` = 20,000 observations the
    BCa acceleration of ``np.mean`` (the statistic of every caller) is computed in O(n) instead
    (:func:`_bca_mean_interval`), the same interval as SciPy's up to rounding (tests/test_stats.py
    checks it to 1e-12 relative). The threshold keeps every sample size in use so far, and so
    every number in docs/, on SciPy's own code path, bit for bit as before. Other
    statistics keep SciPy's jackknife at every size (bounded memory, O(n²) time)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    e = _bootstrap_ci(x, level, n_resamples, seed, statistic)
    return e if discrete is None else counts_floor(e, x, level, discrete)


def _bootstrap_ci(x: np.ndarray, level: float, n_resamples: int, seed: int, statistic: Callable) -> Estimate:
    from scipy import stats  # imported on first use: `plot` starts faster without it

    n = len(x)
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0)
    v = float(statistic(x))
    if n == 1:  # one observation says nothing about spread
        return Estimate(v, np.nan, np.nan, 1)
    if np.all(x == x[0]):
        return Estimate(v, v, v, n)
    exact_jackknife = statistic is np.mean and n > SCIPY_JACKKNIFE_MAX
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():  # a BCa interval SciPy cannot compute is NaN: the percentile one is taken
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            warnings.filterwarnings("ignore", "(invalid value|divide by zero) encountered", RuntimeWarning)
            r = stats.bootstrap(
                (x,),
                statistic,
                confidence_level=level,
                n_resamples=n_resamples,
                batch=max(1, _BATCH_VALUES // n),
                method="percentile" if exact_jackknife else method,
                rng=np.random.default_rng(seed),
                vectorized=True,
            )
        if exact_jackknife and method == "BCa":
            lo, hi = _bca_mean_interval(x, r.bootstrap_distribution, level)
        else:
            lo, hi = r.confidence_interval
        if np.isfinite(lo) and np.isfinite(hi):
            return Estimate(v, float(lo), float(hi), n)
    return Estimate(v, np.nan, np.nan, n)


def _bca_mean_interval(x: np.ndarray, theta_b: np.ndarray, level: float) -> tuple[float, float]:
    """SciPy's BCa interval of the mean (``scipy.stats._resampling._bca_interval``; Efron &
    Tibshirani 1993, 14.3) from the bootstrap means ``theta_b``, with the jackknife in O(n).

    SciPy's acceleration is â = Σ U_i³ / (6 (Σ U_i²)^{3/2}) with U_i = (n − 1)(θ̄ − θ_(i)), θ_(i)
    the mean without x_i and θ̄ their mean. For the mean θ_(i) = (Σx − x_i)/(n − 1), so θ̄ = x̄
    and U_i = x_i − x̄ exactly: no leave-one-out samples needed. NaN where BCa is undefined."""
    from scipy import stats
    from scipy.special import ndtr, ndtri

    theta_hat = np.mean(x)
    z0 = ndtri((np.count_nonzero(theta_b < theta_hat) + np.count_nonzero(theta_b <= theta_hat)) / (2 * len(theta_b)))
    u = x - theta_hat
    a = np.sum(u**3) / (6 * np.sum(u**2) ** 1.5)
    z = ndtri((1 - level) / 2)
    alpha = np.array([ndtr(z0 + (z0 + q) / (1 - a * (z0 + q))) for q in (z, -z)])
    if not np.isfinite(alpha).all():
        return np.nan, np.nan
    lo, hi = stats.quantile(theta_b, alpha)
    return float(lo), float(hi)


def t_interval(x: ArrayLike, level: float = 0.95) -> Estimate:
    """Mean with Student-t interval."""
    from scipy import stats  # imported on first use: `plot` starts faster without it

    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0)
    m = float(x.mean())
    if n == 1:
        return Estimate(m, np.nan, np.nan, 1)
    h = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Estimate(m, m - h, m + h, n)


def mean_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mean and t interval of a (runs, rounds) array."""
    n, m, sd = column_moments(values)
    lo, hi = t_band(n, m, sd, level)
    return m, lo, hi


def column_moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise count, mean and standard deviation (ddof 1; 0 for one row) of a (runs, rounds)
    array, ignoring NaN: what :func:`t_band` needs (SciPy-free, so summaries are cheap to make)."""
    if values.size and not np.isnan(values).any():  # the same values without the NaN-aware copies
        n = np.full(values.shape[1], values.shape[0])
        m = values.mean(axis=0)
        sd = values.std(axis=0, ddof=1) if values.shape[0] > 1 else np.zeros(values.shape[1])
    else:
        n = np.sum(~np.isnan(values), axis=0)
        m = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1) if values.shape[0] > 1 else np.zeros(values.shape[1])
    return n, m, sd


def t_band(n: np.ndarray, mean: np.ndarray, sd: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The Student-t interval ``mean ± t(n − 1) · sd / √n`` of each column (see :func:`column_moments`)."""
    from scipy.special import stdtrit  # = scipy.stats.t.ppf, lighter to import

    df, where = np.unique(np.maximum(n - 1, 1), return_inverse=True)  # one quantile per distinct count
    h = stdtrit(df, 0.5 + level / 2)[where] * sd / np.sqrt(np.maximum(n, 1))
    return mean - h, mean + h


# ---------------------------------------------------------------- paired effects


def paired(runs: pd.DataFrame, outcome: str, arm: str, reference: str, by: Sequence[str] = ("scenario",)) -> pd.DataFrame:
    """Per-pair differences ``outcome[arm] − outcome[reference]`` matched on scenario, point and
    replication (which share the seed), with the grouping columns ``by``."""
    ok = runs[runs["status"] == "ok"]
    cols = sorted(set(KEYS) | set(by))
    a = ok[ok["arm"] == arm].set_index(KEYS)
    b = ok[ok["arm"] == reference].set_index(KEYS)
    common = a.index.intersection(b.index)
    d = a.loc[common, [c for c in cols if c not in KEYS]].copy()
    d["diff"] = a.loc[common, outcome].astype(float) - b.loc[common, outcome].astype(float)
    return d.reset_index()


def paired_effect(
    runs: pd.DataFrame, outcome: str, arm: str, reference: str, by: Sequence[str] = ("scenario",), level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Mean paired difference per group with a bootstrap CI and Cohen's d_z; for a 0/1 outcome
    the CI is at least what the counts of discordant pairs allow (:func:`counts_floor`)."""
    import pandas as pd

    d = paired(runs, outcome, arm, reference, by)
    values = runs.loc[runs["arm"].isin([arm, reference]), outcome]
    binary = bool(values.dropna().isin([0, 1]).all())  # agreement and the like: their counts floor the CI
    rows = []
    for key, g in d.groupby(list(by), sort=True):
        e = bootstrap_ci(g["diff"].to_numpy(), level, seed=seed, discrete="paired" if binary else None)
        sd = g["diff"].std(ddof=1)
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "outcome": outcome,
                "arm": arm,
                "reference": reference,
                "mean_diff": e.value,
                "ci_low": e.low,
                "ci_high": e.high,
                "n_pairs": e.n,
                # undefined when every pair differs by the same amount (up to rounding)
                "d_z": e.value / sd if sd > 1e-9 * max(1.0, abs(e.value)) else np.nan,
                "excludes_zero": e.excludes_zero(),
            }
        )
    return pd.DataFrame(rows)


def paired_p_value(diff: Sequence[float]) -> float:
    """Two-sided p-value of a zero mean paired difference: for differences of 0/1 outcomes (every
    value −1, 0 or 1) the exact McNemar test, a binomial test of the b pairs where only the arm
    agreed among the b + c discordant ones (McNemar 1947; ``scipy.stats.binomtest``), which a
    t test overstates when discordant pairs are few (4 in one direction: t 0.045, exact 0.125);
    otherwise the one-sample t test, 0.0 where every difference is equal and non-zero; 1.0 where
    every difference is zero."""
    from scipy import stats  # imported on first use: `plot` starts faster without it

    x = np.asarray(diff, dtype=float)
    x = x[~np.isnan(x)]
    if np.isin(x, (-1.0, 0.0, 1.0)).all():
        b, c = int((x > 0).sum()), int((x < 0).sum())
        return float(stats.binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    if len(x) < 2:
        return 1.0
    if np.all(x == x[0]):
        return 1.0 if x[0] == 0 else 0.0
    return float(stats.ttest_1samp(x, 0.0).pvalue)


def adjust_p(p: Sequence[float], method: str = "bh") -> np.ndarray:
    """Multiplicity-adjusted p-values: Benjamini–Hochberg (``scipy.stats.false_discovery_control``)
    or Holm's step-down (Holm 1979: p_(i) (m − i + 1), made monotone, capped at 1)."""
    from scipy import stats  # imported on first use: `plot` starts faster without it

    pv = np.asarray(p, dtype=float)
    if len(pv) == 0:
        return pv
    if method == "bh":
        return stats.false_discovery_control(pv, method="bh")
    if method != "holm":
        raise ValueError(f"unknown correction {method!r}; allowed: bh, holm")
    order = np.argsort(pv)
    m = len(pv)
    adj = np.minimum(1.0, np.maximum.accumulate(pv[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def replication_adequacy(
    runs: pd.DataFrame,
    outcomes: Sequence[str],
    by: Sequence[str] = ("scenario", "arm"),
    tolerance: dict[str, float] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """CI half-width per group and outcome; ``adequate`` is False where it exceeds the tolerance
    (default: 0.05 for shares, 5% of the mean's magnitude otherwise). The half-width is the
    Student-t interval's, for a share at least the Wilson interval's (:func:`wilson_interval`):
    0 of 32 runs agreeing is a share known to about ±0.05, not to ±0."""
    import pandas as pd

    ok = runs[runs["status"] == "ok"]
    rows = []
    for key, g in ok.groupby(list(by), sort=True):
        for o in outcomes:
            x = g[o].astype(float).to_numpy()
            e = t_interval(x, level)
            share = set(np.unique(x[~np.isnan(x)])) <= {0.0, 1.0}
            half = e.half_width
            if share and np.isfinite(half):
                lo, hi = wilson_interval(float(np.nansum(x)), e.n, level)
                half = max(half, (hi - lo) / 2)
            tol = (tolerance or {}).get(o, 0.05 if share else 0.05 * max(abs(e.value), 1e-9))
            rows.append(
                {
                    **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                    "outcome": o,
                    "mean": e.value,
                    "half_width": half,
                    "n": e.n,
                    "tolerance": tol,
                    "adequate": bool(half <= tol) if np.isfinite(half) else False,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- time to agreement


def time_to_agreement(runs: pd.DataFrame, shift: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Rounds from the shift to agreement, counting the shift round as the first (agreement in
    round ``shift + k − 1`` takes ``k`` rounds, so "within w rounds" is ``t ≤ w``), and whether it
    was observed. Runs without agreement by the horizon are right-censored at ``horizon − shift + 1``.

    A run that agreed *before* the shift has no time from the shift: its time is NaN and it is
    left out of survival estimates (report those runs apart, see :func:`before_shift`); it is
    never counted as an agreement at time 0."""
    r = np.asarray(runs["agreement_round"], dtype=float)
    early = r < shift
    observed = ~np.isnan(r) & ~early
    t = np.where(observed, r - shift + 1, float(horizon - shift + 1))
    t[early] = np.nan
    return t, observed


def before_shift(runs: pd.DataFrame, shift: int) -> np.ndarray:
    """True for runs that reached agreement before the shift (reported apart from the effect)."""
    return np.asarray(runs["agreement_round"], dtype=float) < shift


def restricted_mean(durations: ArrayLike, observed: ArrayLike, tau: float) -> float:
    """Restricted mean time to agreement up to ``tau``: the area under the Kaplan–Meier curve,
    RMST = ∫₀^τ S(t) dt (Royston & Parmar 2013). NaN durations are left out."""
    times, surv = kaplan_meier(durations, observed)
    keep = times < tau
    edges = np.concatenate([[0.0], times[keep], [tau]])
    heights = np.concatenate([[1.0], surv[keep]])
    return float(np.sum(np.diff(edges) * heights))


def kaplan_meier(durations: ArrayLike, observed: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier survival S(t) = P(no agreement yet after t rounds): the product-limit
    estimate S(t) = Π over event times u ≤ t of (1 − d_u / n_u) (Kaplan & Meier 1958), with d_u
    events at u and n_u runs still at risk at u. The same values as ``scipy.stats.ecdf`` on
    censored data (tests/test_stats.py checks it), in a few numpy lines: the survival figure's
    process then never imports ``scipy.stats`` (most of that figure's time).

    Returns the distinct observed times (events and censorings) and S just after each; S(0⁻) = 1.
    NaN durations (no time from the shift) are left out."""
    d = np.asarray(durations, dtype=float)
    o = np.asarray(observed, dtype=bool)
    o, d = o[~np.isnan(d)], d[~np.isnan(d)]  # runs without a time from the shift (agreed before it)
    if not o.any():
        return np.array([0.0]), np.array([1.0])
    times, at = np.unique(d, return_inverse=True)
    events = np.bincount(at[o], minlength=len(times))
    at_risk = len(d) - np.concatenate([[0], np.cumsum(np.bincount(at, minlength=len(times)))[:-1]])
    return times, np.cumprod(1.0 - events / at_risk)


# ---------------------------------------------------------------- sensitivity


class AnalysisNote(UserWarning):
    """Something about an analysis's input the user should know, said in the project's terms (in
    place of a library's warning): ``dialogue-sim report`` prints each as one line on stderr."""


def sobol_indices(problem: dict, y: np.ndarray, second_order: bool = False, seed: int = 0) -> pd.DataFrame:
    """First-order and total Sobol indices with confidence intervals (SALib).

    An output that is the same at every base sample (the A and B points of the Saltelli design)
    has no variance to apportion: SALib then returns 0 with its "Constant values encountered"
    warning, or (the same at every point) divides by a standard deviation of 0 with NumPy's
    "invalid value encountered in divide". Exactly those two are silenced around the call, and
    one :class:`AnalysisNote` says what they mean instead."""
    import pandas as pd
    from SALib.analyze import sobol

    y = np.asarray(y, dtype=float)
    step = 2 * problem["num_vars"] + 2 if second_order else problem["num_vars"] + 2
    sd = float(np.std(y)) if y.size else np.nan
    base = np.r_[y[::step], y[step - 1 :: step]]  # A and B, as SALib's estimators take them
    if sd == 0 or (base.size and np.ptp(base) <= np.finfo(float).eps * sd):  # SALib's test, on its normalised output
        warnings.warn(
            f"a Sobol output is the same at every base sample of the design (N = {y.size // step}), so it has no "
            "variance to apportion: its indices are 0 or undefined and say nothing about the parameters; "
            "add base samples or widen the parameter ranges",
            AnalysisNote,
            stacklevel=2,
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Constant values encountered", UserWarning, r"SALib\.analyze\.sobol")
        warnings.filterwarnings("ignore", "invalid value encountered in divide", RuntimeWarning, r"SALib\.analyze\.sobol")
        # SALib treats seed 0 as "no seed"; a Generator makes every seed, 0 included, reproducible
        r = sobol.analyze(problem, y, calc_second_order=second_order, seed=np.random.default_rng(seed), print_to_console=False)
    return pd.DataFrame({"parameter": problem["names"], "S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]})


def morris_indices(problem: dict, X: np.ndarray, y: np.ndarray, seed: int = 0, levels: int = 4) -> pd.DataFrame:
    """Morris elementary effects μ*, its confidence interval and σ (SALib); ``levels`` must be the
    sampling's number of grid levels."""
    import pandas as pd
    from SALib.analyze import morris

    r = morris.analyze(
        problem, np.asarray(X, dtype=float), np.asarray(y, dtype=float), num_levels=levels, seed=seed, print_to_console=False
    )
    return pd.DataFrame({"parameter": problem["names"], "mu_star": r["mu_star"], "mu_star_conf": r["mu_star_conf"], "sigma": r["sigma"]})
