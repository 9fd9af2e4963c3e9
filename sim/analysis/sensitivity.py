"""Sobol sensitivity of a sweep, with convergence, bootstrap CIs and an adequacy verdict.

For a Sobol experiment (Saltelli sampling, :mod:`SALib`), each design point has R replications
(for the paired payoff, the per-pair differences ``treatment − reference``, same seeds in both
arms). Three ways to handle the replication noise (for stochastic simulators, whose indices of
interest are those of the mean function; Marrel et al. 2012):

* **Seeds per base sample** (``[design] common_seeds = "base"``, the shipped experiment, R ≥ 2):
  the d + 2 points of a base sample run replication r with the same seed, fresh seeds for every
  base sample. Every product of two outputs in the estimators is taken across different
  replications r ≠ s (:func:`_cross`), whose expectation is the product of the mean function's
  values: the indices are those of the expected outcome, without noise bias at any R ≥ 2
  (explorations × repetitions, Mazo 2021). The pick-freeze differences ``f(A) − f(A_B^i)`` are
  taken under common random numbers (small where a parameter does little; exactly 0 where it
  does nothing), and since every base sample brings its own seeds, the bootstrap over base
  samples covers the seed term: two seeds of the experiment estimate the same indices.

* **Common seeds** (``[design] common_seeds = true``): replication r
  of every design point uses the same random numbers, so the R-replication mean is a
  deterministic function ``g_S(x)`` of the parameters for the seed set ``S``. The indices are
  Sobol indices of ``g_S``: the sensitivity of the R-seed average, estimated at the rate of a
  deterministic model (a parameter that does nothing gives exactly 0). No noise is subtracted.
  What depends on the seed set (how far ``g_S`` is from the expectation) is a separate term,
  reported by repeating the analysis with a second seed set (:func:`adequacy` with ``other``).
  This works because the engine draws a fixed number of uniforms per run and round whatever
  the parameters, so the same seed gives nearby trajectories at nearby parameters.
* **Independent seeds** (the default): the noise of a point's mean is estimated from its
  replications and is independent between points; :func:`sobol` subtracts it from the Jansen
  total and the variance. Unbiased, but the estimator's variance keeps the noise, so the CIs
  shrink slowly (measured: ±0.3 on the payoff at N = 512).

Estimators (Saltelli et al. 2010, table 2): first order ``mean(f(B)(f(A_B^i) − f(A)))/V`` (centred,
``f(B) − μ``, with seeds per base sample), total ``mean((f(A) − f(A_B^i))²)/(2V)`` (Jansen 1999)
adjusted by a control variate of mean 0, the relative difference between the variance of the
pairs (A, A_B^i) and that of every point (:func:`_total_control`: narrower CIs for a large total);
95% CIs by bootstrap over base samples (one resample of rows for all indices, applied as weights to
per-row terms; the draws are kept, so the difference of two totals has a paired CI:
:meth:`SobolResult.gaps`). SALib's indices of
the plain per-point means are shown beside them.

Convergence: SALib lays the sample out as blocks of ``d + 2`` rows per base sample, so the first
``n (d + 2)`` rows are the Saltelli design of base ``n``; the indices are recomputed for
``n = 16, 32, …, N`` (:func:`convergence`).

Adequacy (:func:`adequacy`), from the numbers only: at least :data:`MIN_BASE` base samples (with
fewer, the bootstrap CIs over base samples are not estimates of the error; with one, they have
width 0); every parameter that matters (total index
above ``matter``) has a total-index CI half-width of at most ``max_half_width``, and no
first-order index lies significantly below 0: below minus its CI half-width widened for the d
indices tested together (Bonferroni, :func:`below_zero`; with per-index 95% CIs about 2.5% of
the indices whose true value is 0 fall below by chance, about one in two runs of 19
parameters); with a second run (another seed set), the
same top-5 ranking by total index (in order; neighbours tied within the paired CI of their
difference are named, never counted as the same ranking).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import stats

#: Fewer base samples than this and the bootstrap CIs over base samples mean little (one base
#: sample gives CIs of width 0): :func:`adequacy` never calls such a design adequate, and the
#: convergence figure (:func:`convergence`) starts here.
MIN_BASE = 16

OUTPUTS = {
    "payoff": "paired payoff: P(agreement within the window), treatment − reference",
    "p_agree": "P(agreement by the horizon), treatment",
}


def layout(d: int, second_order: bool = False) -> tuple[int, np.ndarray]:
    """(rows per base sample, the rows A, A_B^1 … A_B^d, B within it): SALib's Saltelli design
    lays out A, A_B^1 … A_B^d, (B_A^1 … B_A^d with second order,) B."""
    block = 2 * d + 2 if second_order else d + 2
    return block, np.r_[0 : d + 1, block - 1]


@dataclass
class SobolResult:
    output: str
    indices: pd.DataFrame  # parameter, S1, S1_conf, ST, ST_conf (conf: 95% bootstrap half-width)
    n_base: int
    noise_share: float  # replication noise / variance of the per-point means
    variance: float
    common_seeds: bool | str = False  # True: indices of the R-seed average for a fixed seed set; "base": of the expected outcome
    replications: int = 0  # R, when known
    boot_total: np.ndarray | None = field(default=None, repr=False)  # bootstrap draws of ST (draws × parameters)

    @property
    def sum_total(self) -> float:
        return float(self.indices["ST"].sum())

    def top(self, k: int = 5) -> list[str]:
        return self.indices.sort_values("ST", ascending=False)["parameter"].head(k).tolist()

    def gaps(self, k: int = 5) -> pd.DataFrame:
        """Neighbours in the ranking by total index down to place ``k + 1``: the difference of their
        totals with its 95% bootstrap interval (:meth:`pair_interval`), and whether the interval
        excludes 0 (``resolved``; else the two are tied within their CIs)."""
        names = self.indices.sort_values("ST", ascending=False).head(k + 1)["parameter"].tolist()
        rows = []
        for i in range(len(names) - 1):
            diff, lo, hi = self.pair_interval(names[i], names[i + 1])
            rows.append({"place": i + 1, "pair": f"{names[i]}/{names[i + 1]}", "diff": diff, "low": lo, "high": hi})
        g = pd.DataFrame(rows, columns=["place", "pair", "diff", "low", "high"])
        g["resolved"] = g["low"] > 0
        return g

    def pair_interval(self, a: str, b: str) -> tuple[float, float, float]:
        """ST_a − ST_b with its 95% bootstrap interval, paired (both totals from the same resamples
        of base samples); without kept draws, the larger of the two half-widths around the difference."""
        ix = self.indices.set_index("parameter")
        diff = float(ix.at[a, "ST"] - ix.at[b, "ST"])
        if self.boot_total is None:
            h = float(max(ix.at[a, "ST_conf"], ix.at[b, "ST_conf"]))
            return diff, diff - h, diff + h
        names = self.indices["parameter"].tolist()
        with warnings.catch_warnings():  # a pair whose draws are all NaN (no variance left): NaN, said by the verdict
            warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
            lo, hi = np.nanpercentile(self.boot_total[:, names.index(a)] - self.boot_total[:, names.index(b)], [2.5, 97.5])
        return diff, float(lo), float(hi)


def point_outputs(
    runs: pd.DataFrame, shift: int, window: int, treatment: str, reference: str | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per design point (sorted): (mean over replications, replication noise variance of that mean)."""
    return {k: mean_and_noise(v) for k, v in replicates(runs, shift, window, treatment, reference).items()}


def mean_and_noise(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``v`` (points × replications, NaN for failed runs): the mean and the variance of the mean."""
    count = np.isfinite(v).sum(axis=1)
    dev = np.where(np.isfinite(v), v - np.nanmean(v, axis=1, keepdims=True), 0.0)
    var = (dev**2).sum(axis=1) / np.maximum(count - 1, 1) / np.maximum(count, 1)
    return np.nanmean(v, axis=1), np.where(count > 1, var, 0.0)


def replicates(runs: pd.DataFrame, shift: int, window: int, treatment: str, reference: str | None) -> dict[str, np.ndarray]:
    """Per design point (rows, sorted) and replication (columns): each run's outcome — whether
    the treatment reached agreement by the horizon (``p_agree``), and the paired difference of
    agreement within the window, treatment − reference (``payoff``). Failed runs are NaN."""
    ok = runs[runs["status"] == "ok"].copy()
    ar = ok["agreement_round"].astype(float)
    ok["in_window"] = ((ar >= shift) & (ar < shift + window)).astype(float)
    ok["agreement"] = ok["agreement"].astype(float)
    t = ok[ok["arm"] == treatment]
    out = {"p_agree": t.pivot(index="point", columns="replication", values="agreement").sort_index().to_numpy(float)}
    if reference:
        d = stats.paired(ok, "in_window", treatment, reference, by=["point"])
        out["payoff"] = d.pivot(index="point", columns="replication", values="diff").sort_index().to_numpy(float)
    return out


def _plain_terms(
    yA: np.ndarray, yAB: np.ndarray, yB: np.ndarray, nA: np.ndarray, nAB: np.ndarray, nB: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per base sample (axis 0), the terms of the estimators of the point means (:func:`_plain_estimates`):
    first-order and total numerators (N, d), the first and second moments of A and B (N,), and the
    second moment and mean of each pair (A, A_B^i) (N, d).
    The replication noise of a point mean (its variance ``n``) is independent between points
    (different seeds), so it drops out of the first-order numerator and is subtracted from the
    total-index numerator and the second moments."""
    noise_pair = (nA[:, None] + nAB) / 2
    return (
        yB[:, None] * (yAB - yA[:, None]),
        ((yA[:, None] - yAB) ** 2) / 2 - noise_pair,
        (yA + yB) / 2,
        (yA**2 + yB**2) / 2 - (nA + nB) / 2,
        (yA[:, None] ** 2 + yAB**2) / 2 - noise_pair,
        (yA[:, None] + yAB) / 2,
    )


def _plain_estimates(
    first: np.ndarray, total: np.ndarray, mean: np.ndarray, square: np.ndarray, pair_square: np.ndarray, pair_mean: np.ndarray
):
    """Noise-corrected first-order (Saltelli 2010) and total (Jansen 1999) indices, and the total's
    control variate (:func:`_total_control`), from the terms of :func:`_plain_terms` averaged over
    base samples (leading axes: bootstrap draws)."""
    V = _positive(square - mean**2)[..., None]
    return first / V, total / V, _total_control(pair_square - pair_mean**2, V)


def _cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean over pairs of different replications r ≠ s of x_r y_s (last axis: replications)."""
    R = x.shape[-1]
    return (x.sum(axis=-1) * y.sum(axis=-1) - (x * y).sum(axis=-1)) / (R * (R - 1))


def _row_terms(Y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per base sample, the terms of the cross-replication estimators (Y: base samples × (d + 2) × R):
    first-order and total numerators (N, d), the mean pick-freeze difference (N, d), the mean square
    (N,), the replication means (N, R), and the second moment (N, d) and replication means (N, d, R)
    of each pair (A, A_B^i)."""
    d = Y.shape[1] - 2
    A, AB, B = Y[:, :1], Y[:, 1 : d + 1], Y[:, d + 1 : d + 2]
    diff = A - AB  # under common seeds within the base sample
    first = _cross(B, -diff)  # E[m(B) (m(A_B^i) − m(A))]
    total = _cross(diff, diff) / 2  # E[(m(A) − m(A_B^i))²] / 2
    square = _cross(Y, Y).mean(axis=1)  # every point of the Saltelli design is a draw from the inputs' distribution
    pair_square = (_cross(A, A) + _cross(AB, AB)) / 2
    return first, total, -diff.mean(axis=-1), square, Y.mean(axis=1), pair_square, (A + AB) / 2


def _cross_estimates(
    first: np.ndarray,
    total: np.ndarray,
    step: np.ndarray,
    square: np.ndarray,
    means: np.ndarray,
    pair_square: np.ndarray,
    pair_mean: np.ndarray,
):
    """Indices of the mean function, and the total's control variate (:func:`_total_control`), from
    the row terms of :func:`_row_terms` averaged over base samples (leading axes: bootstrap draws).
    The first-order numerator is centred, E[(m(B) − μ)(m(A_B^i) − m(A))] (the same expectation,
    as E[m(A_B^i) − m(A)] = 0, with less variance)."""
    mu2 = _cross(means, means)
    V = _positive(square - mu2)[..., None]
    centred = first - means.mean(axis=-1)[..., None] * step
    return centred / V, total / V, _total_control(pair_square - _cross(pair_mean, pair_mean), V)


def _total_control(pair_variance: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Q_i = (V_i − V) / V, V_i the variance of the pairs (A, A_B^i) alone (E[(m(A)² + m(A_B^i)²)/2]
    − μ_i², μ_i the pairs' own mean) and V that of every point: 0 in expectation, and correlated
    with the total index's estimate, whose numerator comes from the same pairs. :func:`sobol`
    reports S_T,i − β_i Q_i with β_i = Cov(S_T,i, Q_i) / Var(Q_i) over the bootstrap draws: a
    control variate (Owen 2013, *Monte Carlo theory, methods and examples*, ch. 8), whose estimate
    varies, asymptotically, no more than the plain ratio's (β = 0) nor than Janon et al.'s (2014)
    ratio over V_i (about β = S_T,i). β is estimated by the jackknife (deterministic: the point
    estimate does not depend on the bootstrap's draws, which give the CI). Measured on the shipped
    run (N = 8,192, seeds 7 and 8): the CI of the largest total (script_pressure's 0.6) 11–17%
    narrower for the payoff and 6% for P(agreement), no other more than 2% wider; no total moved by
    more than 0.012."""
    return (pair_variance - V) / V


def _positive(v: np.ndarray) -> np.ndarray:
    """``v`` where positive, NaN where the output leaves no variance to apportion."""
    return np.where(v > 0, v, np.nan)


def _averaged(parts: tuple[np.ndarray, ...], weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Each row-term array averaged over its base samples (axis 0), or with ``weights`` (draws × N,
    rows summing to 1: a bootstrap resample's counts / N) one average per draw."""
    if weights is None:
        return tuple(p.mean(axis=0) for p in parts)
    return tuple(np.tensordot(weights, p, axes=(1, 0)) for p in parts)


def _resamples(rng: np.random.Generator, n: int, draws: int, chunk: int = 50):
    """Bootstrap resamples of ``n`` base samples as weights (chunk × n), ``draws`` in all."""
    for _ in range(0, draws, chunk):
        idx = rng.integers(0, n, size=(chunk, n))
        w = np.zeros((chunk, n))
        np.add.at(w, (np.arange(chunk)[:, None], idx), 1.0 / n)
        yield w


def sobol(
    problem: dict,
    y: np.ndarray,
    noise: np.ndarray,
    output: str,
    seed: int = 0,
    n_base: int | None = None,
    n_boot: int = 1000,
    common_seeds: bool | str = False,
    reps: np.ndarray | None = None,
    salib: bool = True,
    second_order: bool = False,
) -> SobolResult:
    """Sobol indices of the per-point means ``y`` (Saltelli layout), with 95% bootstrap CIs over
    base samples (half-widths, as SALib reports them). With independent seeds the replication
    noise ``noise`` (variance of each mean) is subtracted; with ``common_seeds`` true it is not (the
    means are a deterministic function of the parameters) and is only reported. With
    ``common_seeds = "base"`` and the per-replication outcomes ``reps`` (points × R, R ≥ 2), the
    indices are those of the expected outcome, every product of two outputs taken across different
    replications (unbiased; :func:`_row_terms`). SALib's indices of the plain means are kept
    beside them (``*_salib``; NaN with ``salib`` false). With ``second_order`` the design's
    B_A^i rows are skipped here (:func:`second_order_indices` reads them)."""
    d = problem["num_vars"]
    block, keep = layout(d, second_order)
    n = n_base or len(y) // block
    Y = np.asarray(y[: n * block], dtype=float).reshape(n, block)[:, keep]
    Nz = np.asarray(noise[: n * block], dtype=float).reshape(n, block)[:, keep]
    rng = np.random.default_rng(seed)
    rep = _base_reps(reps, common_seeds)
    estimator, parts = _first_terms(y, noise, rep, d, n, common_seeds, second_order)
    means = _averaged(parts)
    s1, st, q = estimator(*means)
    boot = [estimator(*_averaged(parts, w)) for w in _resamples(rng, n, n_boot)]  # one resample of base rows for all parts
    b1, bt, bq = (np.concatenate([b[k] for b in boot]) for k in range(3))
    beta = _control_coefficient(*_leave_one_out(estimator, parts, means)[1:])
    st, bt = st - beta * q, bt - beta * bq

    def half(b: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():  # all-NaN columns when the noise leaves no variance: NaN, said by the verdict
            warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
            lo, hi = np.nanpercentile(b, [2.5, 97.5], axis=0)
        return (hi - lo) / 2

    raw = (
        stats.sobol_indices(problem, Y.reshape(-1), seed=seed)
        if salib
        else pd.DataFrame({"S1": np.full(d, np.nan), "ST": np.full(d, np.nan)})
    )
    idx = pd.DataFrame(
        {
            "parameter": problem["names"],
            "S1": s1,
            "S1_conf": half(b1),
            "ST": st,
            "ST_conf": half(bt),
            "S1_salib": raw["S1"].to_numpy(),
            "ST_salib": raw["ST"].to_numpy(),
        }
    )
    var = float(np.var(Y))
    share = float(Nz.mean() / var) if var > 0 else np.nan
    return SobolResult(output, idx, n, share, var, common_seeds, rep.shape[1] if rep is not None else 0, bt)


def _leave_one_out(
    estimator: Callable[..., tuple[np.ndarray, ...]], parts: tuple[np.ndarray, ...], means: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """The estimator with each base sample left out in turn (the jackknife; each output N × …), from
    the row terms' averages ``means`` (:func:`_averaged`) without that row: deterministic, where a
    bootstrap would make the estimates depend on its random draws. Fewer than 3 base samples: NaN."""
    n = len(parts[0])
    if n < 3:
        return tuple(np.full((n, *np.shape(e)), np.nan) for e in estimator(*means))
    return estimator(*((n * m - p) / (n - 1) for p, m in zip(parts, means, strict=True)))


def _control_coefficient(bt: np.ndarray, bq: np.ndarray) -> np.ndarray:
    """β_i = Cov(S_T,i, Q_i) / Var(Q_i) over replicates of the estimates (rows × d: the jackknife's,
    :func:`_leave_one_out`; :func:`_total_control`), 0 where Q_i does not vary or a value is NaN."""
    ok = np.isfinite(bt).all(axis=0) & np.isfinite(bq).all(axis=0)
    dt, dq = bt - bt.mean(axis=0), bq - bq.mean(axis=0)
    var = (dq**2).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = (dt * dq).mean(axis=0) / var
    return np.where(ok & (var > 0), beta, 0.0)


def _base_reps(reps: np.ndarray | None, common_seeds: bool | str) -> np.ndarray | None:
    """The per-replication outcomes when the cross-replication estimators apply (seeds per base
    sample and R ≥ 2), else None."""
    return None if reps is None or common_seeds != "base" or reps.shape[1] < 2 else np.asarray(reps, dtype=float)


def _first_terms(
    y: np.ndarray, noise: np.ndarray, rep: np.ndarray | None, d: int, n: int, common_seeds: bool | str, second_order: bool
) -> tuple[Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]], tuple[np.ndarray, ...]]:
    """(estimator, row arrays) of the first-order and total indices over the first ``n`` base
    samples: :func:`_cross_estimates` of :func:`_row_terms` with seeds per base sample, else
    :func:`_plain_estimates` of :func:`_plain_terms` of the point means (noise subtracted unless
    common seeds). The estimator takes the arrays averaged over their first axis (base samples),
    :func:`_averaged`: reweight the rows to bootstrap."""
    block, keep = layout(d, second_order)
    if rep is not None:
        return _cross_estimates, _row_terms(rep[: n * block].reshape(n, block, -1)[:, keep])
    Y = np.asarray(y[: n * block], dtype=float).reshape(n, block)[:, keep]
    Nc = np.zeros_like(Y) if common_seeds else np.asarray(noise[: n * block], dtype=float).reshape(n, block)[:, keep]
    return _plain_estimates, _plain_terms(Y[:, 0], Y[:, 1 : d + 1], Y[:, d + 1], Nc[:, 0], Nc[:, 1 : d + 1], Nc[:, d + 1])


def _pair_terms(
    y: np.ndarray, noise: np.ndarray, rep: np.ndarray | None, d: int, n: int, common_seeds: bool | str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per base sample of the second-order layout, the terms of the second-order numerator and of
    the variance: P (n, d·d), f(B_A^j) f(A_B^k) − f(A) f(B); the outputs' means (n, R) or the
    A and B values (n, 2); and the second moment (n,). With seeds per base sample (``rep``:
    points × R), every product is taken across different replications (:func:`_cross`);
    otherwise of the point means, whose noise, independent between points, drops out of the
    products and is subtracted from the second moment (not with ``common_seeds``: true makes the
    means a deterministic function; "base" with one replication leaves the noise shared within a
    base sample, which nothing here can separate)."""
    block = 2 * d + 2
    if rep is not None:
        Z = rep[: n * block].reshape(n, block, -1)
        A, AB, BA, B = Z[:, 0], Z[:, 1 : d + 1], Z[:, d + 1 : 2 * d + 1], Z[:, -1]
        R = Z.shape[-1]
        same = np.einsum("njr,nkr->njk", BA, AB)
        P = (BA.sum(-1)[:, :, None] * AB.sum(-1)[:, None, :] - same) / (R * (R - 1)) - _cross(A, B)[:, None, None]
        return P.reshape(n, d * d), Z.mean(axis=1), _cross(Z, Z).mean(axis=1)
    Y = np.asarray(y[: n * block], dtype=float).reshape(n, block)
    Nz = np.zeros_like(Y) if common_seeds else np.asarray(noise[: n * block], dtype=float).reshape(n, block)
    A, AB, BA, B = Y[:, 0], Y[:, 1 : d + 1], Y[:, d + 1 : 2 * d + 1], Y[:, -1]
    P = np.einsum("nj,nk->njk", BA, AB) - (A * B)[:, None, None]
    ends = np.stack([A, B], axis=1)
    return P.reshape(n, d * d), ends, ((ends**2).sum(axis=1) - Nz[:, [0, -1]].sum(axis=1)) / 2


def _pair_indices(P: np.ndarray, means: np.ndarray, square: np.ndarray, s1: np.ndarray, across: bool) -> np.ndarray:
    """S_jk (d, d) from the terms of :func:`_pair_terms` and the first-order indices ``s1``:
    V_jk / V − S_j − S_k (Saltelli 2002, as SALib's), V the variance (μ² across replications
    when ``across``)."""
    d = len(s1)
    mu = means.mean(axis=0)
    V = float(square.mean() - (_cross(mu, mu) if across else mu.mean() ** 2))
    if not V > 0:
        return np.full((d, d), np.nan)
    return P.mean(axis=0).reshape(d, d) / V - s1[:, None] - s1[None, :]


def second_order_indices(
    problem: dict,
    y: np.ndarray,
    noise: np.ndarray,
    first: SobolResult,
    seed: int = 0,
    n_boot: int = 200,
    common_seeds: bool | str = False,
    reps: np.ndarray | None = None,
) -> pd.DataFrame:
    """Second-order Sobol indices S_jk of every pair j < k (Saltelli 2002; the design needs
    ``second_order = true``) of the same function as ``first`` (:func:`sobol` with the same
    arguments and ``second_order``): noise-corrected, or across replications with seeds per base
    sample, with 95% bootstrap half-widths over base samples (the first-order indices recomputed
    in each resample). SALib's estimator on the plain point means is biased by the replication
    noise in its variance; this one is not (tests/test_sensitivity.py)."""
    d, n = problem["num_vars"], first.n_base
    if d < 2:  # no pairs
        return pd.DataFrame({"pair": pd.Series(dtype=str), "S2": pd.Series(dtype=float), "S2_conf": pd.Series(dtype=float)})
    rep = _base_reps(reps, common_seeds)
    terms = _pair_terms(y, noise, rep, d, n, common_seeds)
    estimator, parts = _first_terms(y, noise, rep, d, n, common_seeds, True)
    est = _pair_indices(*terms, first.indices["S1"].to_numpy(float), rep is not None)
    rng = np.random.default_rng(seed + 1)
    boot = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        s1 = np.asarray(estimator(*_averaged(tuple(p[idx] for p in parts)))[0], dtype=float).reshape(d)
        P, means, square = (t[idx] for t in terms)
        boot.append(_pair_indices(P, means, square, s1, rep is not None))
    j, k = np.triu_indices(d, 1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        lo, hi = np.nanpercentile(np.stack(boot)[:, j, k], [2.5, 97.5], axis=0)
    names = problem["names"]
    return pd.DataFrame(
        {"pair": [f"{names[a]} × {names[b]}" for a, b in zip(j, k, strict=True)], "S2": est[j, k], "S2_conf": (hi - lo) / 2}
    )


def convergence(
    problem: dict,
    y: np.ndarray,
    noise: np.ndarray,
    output: str,
    seed: int = 0,
    common_seeds: bool | str = False,
    reps: np.ndarray | None = None,
    final: SobolResult | None = None,
    second_order: bool = False,
) -> pd.DataFrame:
    """Indices for base samples n = 16, 32, …, N (long table: n, parameter, S1, S1_conf, ST, ST_conf;
    SALib's plain indices only at N). ``final``, if given, is :func:`sobol`'s result at N with the
    same arguments, and is used as it is rather than computed again."""
    N = len(y) // layout(problem["num_vars"], second_order)[0]
    ns = sorted({n for n in (2**k for k in range(MIN_BASE.bit_length() - 1, 20)) if n <= N} | {N})
    rows = []
    for n in ns:
        if final is not None and n == N and final.n_base == N:
            r = final
        else:
            r = sobol(problem, y, noise, output, seed, n, common_seeds=common_seeds, reps=reps, salib=n == N, second_order=second_order)
        rows.append(r.indices.assign(n=n, sum_total=r.sum_total))
    return pd.concat(rows, ignore_index=True)


def adequacy(r: SobolResult, other: SobolResult | None = None, matter: float = 0.05, max_half_width: float = 0.05) -> tuple[bool, str]:
    """The verdict and the sentence stating it, from the numbers."""
    ix = r.indices
    if ix["ST"].isna().all():
        why = (
            f"the replication noise ({r.noise_share:.0%} of the variance between points) leaves no variance to apportion; "
            "run more replications"
            if np.isfinite(r.noise_share)
            else "the output does not vary between the design's points, so there is no variance to apportion"
        )
        return False, f"Sobol indices of the {OUTPUTS.get(r.output, r.output)}: NOT adequate: {why}."
    if r.n_base < MIN_BASE:
        return False, (
            f"Sobol indices of the {OUTPUTS.get(r.output, r.output)}: NOT adequate: N = {r.n_base} base sample(s), fewer "
            f"than the {MIN_BASE} the bootstrap CIs over base samples need to mean anything (their half-widths, largest "
            f"{ix['ST_conf'].max():.3g}, are not estimates of the error); read the indices as a placeholder."
        )
    big = ix[ix["ST"] > matter]
    wide = big[big["ST_conf"] > max_half_width]
    neg, near, widen = below_zero(ix)
    ok = wide.empty and not neg
    if r.common_seeds == "base":
        meaning = (
            f"indices of the expected outcome (the mean over seeds), every product of two outputs taken across different "
            f"replications of the {r.replications or 'R'} per point (unbiased for any R ≥ 2); seeds shared within each base "
            f"sample and fresh between them, so the CIs include the seed term; the replication spread of a point's mean is "
            f"{r.noise_share:.0%} of the variance between point means"
        )
    elif r.common_seeds:
        meaning = (
            f"indices of the mean over {r.replications or 'R'} common seeds (a deterministic function of the parameters "
            f"for the seed set; no noise subtracted); the replication spread is {r.noise_share:.0%} of the variance between points"
        )
        if other is None:
            meaning += "; how much the indices move with the seed set is not in these CIs (rerun with another seed to measure it)"
    else:
        meaning = f"replication noise, subtracted, is {r.noise_share:.0%} of the variance between points"
    parts = [
        f"N = {r.n_base}: {len(big)} parameter(s) with total index > {matter}; their largest total-index CI half-width is "
        f"{big['ST_conf'].max() if len(big) else 0:.3f} (limit {max_half_width})",
        f"{len(neg)} first-order index(es) below minus their CI widened for the {len(ix)} indices tested together "
        f"(Bonferroni, ×{widen:.2f})"
        + (f" ({', '.join(neg)})" if neg else "")
        + (
            f"; {len(near)} below minus their per-index 95% CI only ({', '.join(near)}; of {len(ix)} indices whose true value "
            f"is 0 about {0.025 * len(ix):.1f} fall there by chance)"
            if near
            else ""
        ),
        f"sum of total indices {r.sum_total:.2f}; {meaning}",
    ]
    if r.boot_total is not None:
        g = r.gaps()
        tied = g[~g["resolved"]]
        parts.append(
            "every neighbour in the top 6 by total index is separated (paired bootstrap CI of the difference excludes 0)"
            if tied.empty
            else "neighbours tied within the paired CI of their difference: "
            + ", ".join(
                f"{t.pair} (places {t.place}/{t.place + 1}, {t.diff:+.3f} [{t.low:+.3f}, {t.high:+.3f}])" for t in tied.itertuples()
            )
        )
    if other is not None:
        oix = other.indices
        o_big = oix[oix["ST"] > matter]
        o_neg = below_zero(oix)[0]
        o_wide = float(o_big["ST_conf"].max()) if len(o_big) else 0.0
        ok = ok and o_wide <= max_half_width and not o_neg
        parts.append(
            f"the second seed set: {len(o_big)} parameter(s) with total index > {matter}, their largest total-index CI "
            f"half-width {o_wide:.3f}"
            + (" (OVER the limit)" if o_wide > max_half_width else "")
            + f", {len(o_neg)} first-order index(es) below minus their family-wise CI"
            + (f" ({', '.join(o_neg)})" if o_neg else "")
        )
        c = compare_seeds(r, other)
        ok = ok and c.ok
        parts.append(c.sentence)
    verdict = "adequate" if ok else "NOT adequate: read the indices as rough"
    return ok, f"Sobol indices of the {OUTPUTS.get(r.output, r.output)}: {verdict}. " + "; ".join(parts) + "."


@dataclass(frozen=True)
class SeedComparison:
    """Two seed sets' Sobol results of one output compared (:func:`compare_seeds`)."""

    top: tuple[list[str], list[str]]
    shifted: list[str]  # indices that differ by more than the family-wise CI of their difference
    swapped: list[str]  # pairs in the top k ordered oppositely, with their paired intervals
    contradicted: list[str]  # swapped pairs whose differences disagree beyond the family-wise CI of their difference
    largest_shift: float  # the largest change of a total index between the seed sets
    compared: int  # indices compared (S1 and S_T of each parameter)
    spread: CISpread | None = None  # the differences in units of their standard errors (:class:`CISpread`)
    near: list[str] = field(default_factory=list)  # swapped pairs beyond their per-pair 95% CI only
    pairs: int = 0  # pairs of the top k (of either seed set) compared
    widen: float = 1.0  # the Bonferroni factor over those pairs

    @property
    def same(self) -> bool:
        """The strict criterion: the same top k in the same order."""
        return self.top[0] == self.top[1]

    @property
    def ok(self) -> bool:
        """The same top k, no index that differs between the seed sets beyond chance, and CIs that
        are not too narrow for the differences between the seed sets."""
        return self.same and not self.shifted and not self.contradicted and not (self.spread is not None and self.spread.narrow)

    @property
    def sentence(self) -> str:
        a, b = self.top
        how = f"top-{len(a)} by total index " + ("the same" if self.same else "DIFFERENT")
        if not self.same and set(a) == set(b):
            how += f" in order, the same {len(a)} parameters,"
        how += f" for the second seed set ({', '.join(a)} vs {', '.join(b)})"
        family = f"widened for the {self.pairs} pairs of the top {len(a)} compared (Bonferroni, ×{self.widen:.2f})"
        if self.contradicted:
            how += (
                f"; pairs the seed sets order oppositely by more than the CI of the difference of their differences, {family}: "
                + "; ".join(self.contradicted)
            )
        elif self.swapped:
            how += (
                f"; the pairs ordered differently agree between the seed sets within the 95% CI of the difference, {family} (the "
                f"difference of their totals, paired 95% CI, first and second seed set: {'; '.join(self.swapped)})"
            )
        if self.near:
            how += (
                f"; beyond the per-pair 95% CI only (of {self.pairs} pairs about {0.05 * self.pairs:.1f} cross it by chance): "
                + "; ".join(self.near)
            )
        agree = (
            f"every index agrees between the seed sets within the family-wise 95% CI of its difference ({self.compared} indices)"
            if not self.shifted
            else f"indices that DIFFER between the seed sets beyond the family-wise 95% CI of their difference: {', '.join(self.shifted)}"
        )
        spread = f"; {self.spread.sentence}" if self.spread is not None and self.spread.m else ""
        return f"{how}; {agree}; the largest change of a total index between the seed sets is {self.largest_shift:.3f}{spread}"


@dataclass(frozen=True)
class CISpread:
    """How far two seed sets' indices differ in units of the standard errors their CIs claim: each
    z = (a − b) / se, se = ((h_a / z₀.₉₇₅)² + (h_b / z₀.₉₇₅)²)^½ from the 95% half-widths. If the
    CIs are right the z are about standard normal, so their root mean square is about 1 and about
    5% lie beyond ±1.96; m·RMS² above the χ²_m quantile (the z taken as independent) says the CIs
    are too narrow for how the indices move between seed sets, below its lower quantile that they
    are wider than they need be (conservative). An external check of the bootstrap CIs: the seed
    sets share no runs."""

    rms: float
    m: int  # indices with a CI in both seed sets (an index that is exactly 0 in both has none)
    beyond: int  # |z| > z₀.₉₇₅
    bound: tuple[float, float]  # the RMS that chance allows, lower and upper (χ²_m quantiles)

    @property
    def narrow(self) -> bool:
        return self.m > 0 and self.rms > self.bound[1]

    @property
    def sentence(self) -> str:
        lo, hi = self.bound
        if self.narrow:
            head = (
                "the CIs are TOO NARROW for how the indices move between the seed sets: their differences are "
                f"RMS {self.rms:.2f} standard errors"
            )
        else:
            head = f"the differences between the seed sets are RMS {self.rms:.2f} standard errors of the CIs"
            if self.rms < lo:
                head += " (the CIs are conservative)"
        return (
            f"{head} over {self.m} indices (about 1 if the CIs are right; chance allows {lo:.2f}–{hi:.2f}, χ² 95% taking the "
            f"indices as independent), {self.beyond} beyond ±1.96 (about {0.05 * self.m:.1f} expected)"
        )


def ci_spread(zs: list[float], level: float = 0.95) -> CISpread:
    """:class:`CISpread` of the standardised differences ``zs``."""
    from statistics import NormalDist

    from scipy.stats import chi2

    z = np.asarray(zs, dtype=float)
    m = len(z)
    if not m:
        return CISpread(np.nan, 0, 0, (np.nan, np.nan))
    alpha = 1 - level
    bound = (float(np.sqrt(chi2.ppf(alpha / 2, m) / m)), float(np.sqrt(chi2.ppf(1 - alpha / 2, m) / m)))
    beyond = int(np.sum(np.abs(z) > NormalDist().inv_cdf(1 - alpha / 2)))
    return CISpread(float(np.sqrt(np.mean(z**2))), m, beyond, bound)


def compare_seeds(r: SobolResult, other: SobolResult, k: int = 5, level: float = 0.95) -> SeedComparison:
    """Whether two seed sets give the same indices and ranking, as far as their CIs can tell.

    Both estimate the same indices of the mean function (seeds drawn afresh), so (1) each S1 and
    S_T should agree between them within the CI of the difference, ((h_a / z)² + (h_b / z)²)^½
    × z', from the 95% half-widths h and widened by Bonferroni over the 2d indices (z' = z_{1 −
    α/(4d)}; independent seed sets and design samples); and (2) for two parameters of the top
    ``k`` (of either) that the two order oppositely, the difference of their totals (paired
    bootstrap interval, :meth:`SobolResult.pair_interval`) should agree between the seed sets in
    the same way, widened by Bonferroni over the pairs of the top-``k`` union (those beyond their
    per-pair 95% CI only are named, not failed, as :func:`below_zero` does); and (3) over all indices
    together, the differences in units of their standard errors should be about standard normal
    (:class:`CISpread`). A shifted index or a contradicted pair means the indices depend on the
    seed set; a spread beyond chance, that the CIs are too narrow for how they do. The verdict
    (:attr:`SeedComparison.ok`) also keeps the strict criterion, the same top ``k`` in the same
    order, which two totals closer than their CIs fail by chance at any N: the sentence says when
    that is all that differs."""
    from statistics import NormalDist

    ia, ib = r.indices.set_index("parameter"), other.indices.set_index("parameter")
    names = [n for n in ia.index if n in ib.index]
    alpha = 1 - level
    z = NormalDist().inv_cdf(1 - alpha / 2)
    wide = NormalDist().inv_cdf(1 - alpha / (2 * 2 * len(names))) if names else z
    shifted, zs = [], []
    for n in names:
        for key in ("S1", "ST"):
            d = float(ia.at[n, key] - ib.at[n, key])
            se = float(np.hypot(ia.at[n, f"{key}_conf"], ib.at[n, f"{key}_conf"])) / z
            if np.isfinite(d) and abs(d) > wide * se:
                shifted.append(f"{key} of {n} {ia.at[n, key]:.3f} vs {ib.at[n, key]:.3f}")
            if np.isfinite(d) and se > 0:
                zs.append(d / se)
    top_a, top_b = r.top(k), other.top(k)
    union = [n for n in dict.fromkeys(top_a + top_b) if n in names]
    pairs = len(union) * (len(union) - 1) // 2
    widen_pair = NormalDist().inv_cdf(1 - alpha / (2 * pairs)) / z if pairs else 1.0
    swapped, contradicted, near = [], [], []
    for i, x in enumerate(union):
        for y in union[i + 1 :]:
            da, lo_a, hi_a = r.pair_interval(x, y)
            db, lo_b, hi_b = other.pair_interval(x, y)
            if not np.isfinite(da * db) or da * db >= 0:
                continue
            text = f"{x}/{y} {da:+.3f} [{lo_a:+.3f}, {hi_a:+.3f}] and {db:+.3f} [{lo_b:+.3f}, {hi_b:+.3f}]"
            swapped.append(text)
            half = float(np.hypot(hi_a - lo_a, hi_b - lo_b)) / 2  # half-widths combined: the 95% CI of da − db
            if abs(da - db) > widen_pair * half:
                contradicted.append(text)
            elif abs(da - db) > half:
                near.append(text)
    shift = float((ia["ST"] - ib["ST"]).abs().max())
    return SeedComparison(
        (top_a, top_b), shifted, swapped, contradicted, shift, 2 * len(names), ci_spread(zs, level), near, pairs, widen_pair
    )


def below_zero(ix: pd.DataFrame | list[dict], level: float = 0.95) -> tuple[list[str], list[str], float]:
    """First-order indices below 0 by more than chance: (those below minus their CI half-width
    widened for the d indices tested together, those below minus their per-index half-width only,
    the widening factor). The half-widths are 95% bootstrap percentiles; widened by
    z_{1 − α/(2d)} / z_{1 − α/2} (Bonferroni over the d indices, α = 1 − ``level``, under the
    bootstrap distribution's normal approximation), the chance that any index whose true value
    is 0 is flagged is at most α, where per index it is about 1 − (1 − α/2)^d (38% for d = 19)."""
    from statistics import NormalDist

    rows = ix.to_dict("records") if isinstance(ix, pd.DataFrame) else ix
    alpha = 1 - level
    widen = NormalDist().inv_cdf(1 - alpha / (2 * len(rows))) / NormalDist().inv_cdf(1 - alpha / 2) if rows else 1.0
    neg = [str(x["parameter"]) for x in rows if x["S1"] < -widen * x["S1_conf"]]
    near = [str(x["parameter"]) for x in rows if x["S1"] < -x["S1_conf"] and str(x["parameter"]) not in neg]
    return neg, near, widen


def convergence_figure(conv: pd.DataFrame, out: Path, title: str, name: str = "sobol-convergence") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    final = conv[conv["n"] == conv["n"].max()].sort_values("ST", ascending=False)
    for i, p in enumerate(final["parameter"]):
        g = conv[conv["parameter"] == p].sort_values("n")
        c = f"C{i % 10}"
        ls = "-" if i < 10 else "--"
        for ax, k in zip(axes, ("ST", "S1"), strict=True):
            ax.plot(g["n"], g[k], ls, color=c, label=p if k == "ST" else None, marker="o", ms=3)
            ax.fill_between(g["n"], g[k] - g[f"{k}_conf"], g[k] + g[f"{k}_conf"], color=c, alpha=0.08)
    for ax, k in zip(axes, ("total index S_T", "first-order index S_1"), strict=True):
        if conv["n"].nunique() > 1 and np.isfinite(conv[["ST", "S1"]].to_numpy()).any():
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # 16, 32, …: plain text, no mathtext
        ax.set_xlabel("base sample N")
        ax.set_ylabel(k)
        ax.axhline(0, color="k", lw=0.5)
    axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=100)
    fig.savefig(out / f"{name}.svg")
    plt.close(fig)
    return png


def problem_of(spec: dict, names: list[str]) -> dict:
    return {"num_vars": len(names), "names": names, "bounds": [spec["design_params"][n] for n in names]}


def analyse(res, out: Path, seed: int = 0) -> tuple[pd.DataFrame, list[Path], str]:
    """The report's Sensitivity section for a Sobol sweep (``res``: :class:`sim.analysis.report.Results`):
    the indices of both outputs, their convergence figure, and the adequacy sentence."""
    names = res.manifest.get("design_names", [])
    problem = problem_of(res.spec, names)
    main = res.analysis.get("main", res.scenarios[0])
    runs = res.runs[res.runs["scenario"] == main]
    ref = res.reference if len(res.arms) > 1 and res.reference != res.treatment else None
    outs = replicates(runs, res.shift, res.window, res.treatment, ref)
    common = res.spec.get("common_seeds", False)
    second = bool(res.spec.get("second_order", False))
    tables, pairs, paths, notes = [], [], [], []
    for key in ("payoff", "p_agree"):
        if key not in outs:
            continue
        y, noise = mean_and_noise(outs[key])
        r = sobol(problem, y, noise, key, seed, common_seeds=common, reps=outs[key], second_order=second)
        r.replications = int(res.spec.get("replications", 0))
        if second:
            pairs.append(second_order_indices(problem, y, noise, r, seed, common_seeds=common, reps=outs[key]).assign(output=key))
        conv = convergence(problem, y, noise, key, seed, common_seeds=common, reps=outs[key], final=r, second_order=second)
        paths.append(
            convergence_figure(conv, out, f"Convergence of the Sobol indices: {OUTPUTS[key]} ({main})", f"sobol-convergence-{key}")
        )
        notes.append(adequacy(r)[1])
        tables.append(r.indices.assign(output=key).sort_values("ST", ascending=False))
    idx = pd.concat(tables, ignore_index=True)
    if pairs:  # second-order indices, shown under the first-order and total table
        idx.attrs["second_order"] = pd.concat(pairs, ignore_index=True)
    return idx, paths, " ".join(notes)
