"""The estimands of a lean-years experiment, computed pair by pair (same seed in both arms).

For a comparison ``arm − reference`` in one scenario, over the pairs in which neither run had
agreed before the shift (those are counted apart, never as time 0):

- the effect curve Δ(k) = P_arm(agreement in rounds shift … shift + k − 1) − P_ref(same), for
  k = 1 … horizon − shift + 1, with pointwise percentile bands and a simultaneous band from the
  bootstrap distribution of max_k |Δ*(k) − Δ(k)| / se(k) (Montiel Olea & Plagborg-Møller 2019);
  the bootstrap resamples pairs (multinomial weights, :func:`resample_weights`), so both arms
  move together, and every estimand is read from the same resamples; both bands are at least
  est ± z·se with an adjusted Wald se (:func:`sim.analysis.stats.adjusted_se`), since where few pairs differ the
  bootstrap understates the spread; Δ soon after the shift and by the horizon are the curve's
  values there, with its pointwise band;
- the difference in restricted mean time to agreement up to the horizon (area under the
  Kaplan–Meier curve, :func:`sim.analysis.stats.restricted_mean`), CI by the paired bootstrap;
- earlier vs more: the paired difference in rounds to agreement among pairs where both agree,
  and the difference in the share that ever agree (Δ at the horizon).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.batch.experiment import ESTIMANDS

__all__ = ["ESTIMANDS", "compute", "find", "pair_estimands", "effect_curve", "comparisons", "paired_rounds"]


def _est(e: stats.Estimate) -> dict[str, float | None]:
    return {"value": _f(e.value), "low": _f(e.low), "high": _f(e.high), "n": int(e.n)}


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def comparisons(arms: Sequence[str], treatment: str, reference: str) -> list[tuple[str, str]]:
    """Every pair of arms, oriented treatment first and reference last (others in file order)."""
    order = [treatment] + [a for a in arms if a not in (treatment, reference)] + [reference]
    order = [a for a in dict.fromkeys(order) if a in arms]
    return [(order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))]


def paired_rounds(runs: pd.DataFrame, arm: str, reference: str, scenario: str, where: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per pair: ``a`` and ``r``, the agreement rounds (NaN: none) of the two runs, and
    the design columns. ``where`` keeps pairs whose parameter equals a value or is in a list."""
    ok = runs[(runs["status"] == "ok") & (runs["scenario"] == scenario)]
    for k, v in (where or {}).items():
        ok = ok[ok[k].isin(v if isinstance(v, list) else [v])]
    a = ok[ok["arm"] == arm].set_index(stats.KEYS)
    b = ok[ok["arm"] == reference].set_index(stats.KEYS)
    common = a.index.intersection(b.index)
    out = a.loc[common].drop(columns=["agreement_round"], errors="ignore").copy()
    out["a"] = a.loc[common, "agreement_round"].astype(float)
    out["r"] = b.loc[common, "agreement_round"].astype(float)
    return out.reset_index()


def agreed_by(rounds: np.ndarray, shift: int, horizon: int) -> np.ndarray:
    """(K, n) float: 1 where agreement came in rounds shift … shift + k − 1, k = 1 … K."""
    K = horizon - shift + 1
    last = shift + np.arange(K)[:, None]
    r = np.asarray(rounds, dtype=float)[None, :]
    return ((r >= shift) & (r <= last)).astype(float)


def resample_weights(n: int, n_resamples: int = 999, seed: int = 0) -> np.ndarray:
    """(n_resamples, n) multinomial counts: how often each pair is drawn in each resample.

    The paired bootstrap over pairs, written as weights so that every estimand (each round of
    the curve, the restricted means, the conditional timing) is read from the same resamples by a
    matrix product: ``scipy.stats.bootstrap`` takes seconds per curve at thousands of pairs."""
    if n == 0:
        return np.zeros((n_resamples, 0))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    idx += np.arange(n_resamples)[:, None] * n
    return np.bincount(idx.ravel(), minlength=n_resamples * n).reshape(n_resamples, n).astype(float)


def boot_means(W: np.ndarray, x: np.ndarray, subset: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap means (n_resamples, …) of the rows of ``x`` (n, …) under weights ``W``;
    with ``subset`` (n,) bool, the mean over the drawn pairs in the subset, NaN for a resample
    that drew none of them (it has no mean: counting it as 0 pulled the interval to 0)."""
    if subset is not None:
        W, x = W[:, subset], x[subset]
    drawn = W.sum(axis=1)
    tot = np.where(drawn > 0, drawn, np.nan) if subset is not None else np.maximum(drawn, 1)
    return (W @ x) / (tot[:, None] if x.ndim > 1 else tot)


#: Fewest pairs in which both arms agree for the "earlier" estimand to get an interval: below it
#: the percentile interval covered the truth in 79–89% of planted samples (review, 2026-12-01).
MIN_TIMED_PAIRS = 10


def percentile(value: float, boot: np.ndarray, n: int, level: float = 0.95, floor: float = 0.0) -> dict:
    """A point estimate with its percentile bootstrap interval over the resamples that have one
    (NaN: none), widened to at least value ± z·``floor`` (a standard error the counts allow)."""
    boot = boot[np.isfinite(boot)]
    if n < 2 or boot.size == 0:
        return {"value": _f(value), "low": None, "high": None, "n": int(n)}
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    if floor > 0:
        lo, hi = stats.widen(lo, hi, value, stats.z_of(level) * floor)
    return {"value": _f(value), "low": _f(lo), "high": _f(hi), "n": int(n)}


def effect_curve(
    a: np.ndarray, r: np.ndarray, shift: int, horizon: int, level: float = 0.95, W: np.ndarray | None = None, seed: int = 0
) -> dict:
    """Δ(k) with pointwise percentile bands and a simultaneous (sup-t) band from one paired
    bootstrap (see the module doc); ``W`` are the resample weights (:func:`resample_weights`).

    Where discordant pairs are few the bootstrap understates the spread (with none in a round,
    its bands there have width 0), so both bands are at least est ± z·se with se the larger of
    the bootstrap's and :func:`sim.analysis.stats.adjusted_se` (z the pointwise normal quantile, or the sup-t
    critical value, itself at least the pointwise one)."""
    D = (agreed_by(a, shift, horizon) - agreed_by(r, shift, horizon)).T  # (n, K)
    n, K = D.shape
    est = D.mean(axis=0) if n else np.full(K, np.nan)
    out = {"k": list(range(1, K + 1)), "round": list(range(shift, horizon + 1)), "estimate": [_f(x) for x in est], "n_pairs": int(n)}
    if n < 2:
        nan = [None] * K
        return out | {"pointwise_low": nan, "pointwise_high": nan, "simultaneous_low": nan, "simultaneous_high": nan, "critical": None}
    W = resample_weights(n, seed=seed) if W is None else W
    boot = boot_means(W, D)  # (n_resamples, K): the same resampled pairs for every k
    sd = boot.std(axis=0, ddof=1)
    live = sd > 1e-12
    z = stats.z_of(level)
    crit = float(np.quantile((np.abs(boot[:, live] - est[live]) / sd[live]).max(axis=1), level)) if live.any() else z
    crit = max(crit, z)
    floor = stats.adjusted_se(D)
    se = np.maximum(sd, floor)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    lo, hi = stats.widen(lo, hi, est, z * floor)
    return out | {
        "pointwise_low": [_f(x) for x in lo],
        "pointwise_high": [_f(x) for x in hi],
        "simultaneous_low": [_f(x) for x in est - crit * se],
        "simultaneous_high": [_f(x) for x in est + crit * se],
        "critical": _f(crit),
    }


def restricted_times(rounds: np.ndarray, shift: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Rounds from the shift to agreement (the shift round is the first) and whether observed;
    censored at τ = horizon − shift + 1 (the only censoring time, so min(T, τ) is exact)."""
    df = pd.DataFrame({"agreement_round": rounds})
    return stats.time_to_agreement(df, shift, horizon)


def pair_estimands(pairs: pd.DataFrame, shift: int, horizon: int, soon: int, level: float = 0.95, seed: int = 0) -> dict:
    """Every estimand of one comparison from its pairs (columns ``a``, ``r``: agreement rounds)."""
    a_all, r_all = pairs["a"].to_numpy(float), pairs["r"].to_numpy(float)
    pre_a, pre_r = a_all < shift, r_all < shift
    keep = ~(pre_a | pre_r)
    W_all = resample_weights(len(pairs), seed=seed)
    pre = pre_a.astype(float) - pre_r.astype(float)
    W = W_all[:, keep]  # the pairs left out are dropped from each resample
    out: dict[str, Any] = {
        "n_pairs": int(len(pairs)),
        "before_shift": {
            "arm": int(pre_a.sum()),
            "reference": int(pre_r.sum()),
            "difference": percentile(
                pre.mean() if len(pre) else np.nan,
                boot_means(W_all, pre),
                len(pre),
                level,
                float(stats.adjusted_se(pre)) if len(pre) else 0.0,  # a difference of 0/1 outcomes
            ),
            "pairs_left_out": int((~keep).sum()),
        },
    }
    a, r = a_all[keep], r_all[keep]
    n = len(a)
    tau = horizon - shift + 1
    out["curve"] = effect_curve(a, r, shift, horizon, level, W)
    k_soon = min(max(1, soon), tau)
    ya, yr = agreed_by(a, shift, horizon), agreed_by(r, shift, horizon)
    curve = out["curve"]
    for key, k in (("soon", k_soon), ("by_horizon", tau)):
        # Δ(k) and its interval are the curve's at k: the same resamples, and the same floor where
        # discordant pairs are few (effect_curve)
        est = {"value": curve["estimate"][k - 1], "low": curve["pointwise_low"][k - 1], "high": curve["pointwise_high"][k - 1], "n": n}
        out[key] = {
            "k": k,
            "round": shift + k - 1,
            "arm": _f(ya[k - 1].mean()) if n else None,
            "reference": _f(yr[k - 1].mean()) if n else None,
        } | est
    ta, oa = restricted_times(a, shift, horizon)
    tr, orr = restricted_times(r, shift, horizon)
    rm_a, rm_r = stats.restricted_mean(ta, oa, tau), stats.restricted_mean(tr, orr, tau)
    # censoring only at τ: the KM area equals the mean of min(T, τ), so its paired bootstrap is exact
    dt = np.minimum(ta, tau) - np.minimum(tr, tau)
    floor = float(stats.adjusted_se(dt, bound=tau)) if n else 0.0  # dt lies in [−τ, τ]: the counts floor, scaled
    out["rmst"] = {"tau": tau, "arm": _f(rm_a), "reference": _f(rm_r)} | percentile(rm_a - rm_r, boot_means(W, dt), n, level, floor)
    both = oa & orr
    dtime = np.where(both, ta - tr, 0.0)
    k = int(both.sum())
    timed = percentile(dtime[both].mean() if both.any() else np.nan, boot_means(W, dtime, both), k, level)
    if k < MIN_TIMED_PAIRS:  # too few to time: the estimate, without an interval
        timed = timed | {"low": None, "high": None}
    out["earlier"] = timed | {
        "mean_rounds_arm": _f(ta[oa].mean()) if oa.any() else None,
        "mean_rounds_reference": _f(tr[orr].mean()) if orr.any() else None,
        "pairs_both_agree": int(both.sum()),
    }
    out["more"] = dict(out["by_horizon"])
    return out


def compute(
    runs: pd.DataFrame,
    arms: Sequence[str],
    scenarios: Sequence[str],
    shift: int,
    horizons: Mapping[str, int],
    treatment: str,
    reference: str,
    soon: int,
    conditions: Sequence[Mapping[str, Any]] = (),
    main: str | None = None,
    level: float = 0.95,
    seed: int = 0,
) -> list[dict]:
    """The estimands of every comparison in every scenario, then of the primary comparison
    (treatment − reference) in the main scenario under each declared condition."""
    rows = []
    for sc in scenarios:
        for arm, ref in comparisons(arms, treatment, reference):
            p = paired_rounds(runs, arm, ref, sc)
            rows.append(
                {"scenario": sc, "arm": arm, "reference": ref, "condition": None}
                | pair_estimands(p, shift, horizons[sc], soon, level, seed)
            )
    for c in conditions:
        sc = main or scenarios[0]
        p = paired_rounds(runs, treatment, reference, sc, c.get("where"))
        rows.append(
            {"scenario": sc, "arm": treatment, "reference": reference, "condition": c["name"]}
            | pair_estimands(p, shift, horizons[sc], soon, level, seed)
        )
    return rows


def find(rows: Sequence[dict], scenario: str, arm: str, reference: str, condition: str | None = None) -> dict | None:
    """The estimands row of a comparison, or None."""
    for r in rows:
        if r["scenario"] == scenario and r["condition"] == condition and (r["arm"], r["reference"]) == (arm, reference):
            return r
    return None
