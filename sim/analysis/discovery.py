"""Where the payoff holds: scenario discovery on the per-point paired effects of a sweep,
found on one half of the data and confirmed on the other.

Each pair's outcome is the paired difference (treatment − reference) in post-shift agreement by a
given round. The pairs are split in two: at each design point, alternate replications (or, with
one replication per point, a random half of the design points). On the *discovery* half, each point's mean
effect classes it positive (> margin), negative (< −margin) or null, and PRIM (Friedman & Fisher
1999, "Bump hunting in high-dimensional data", Stat. Comput. 9: 123–143; the ``prim`` package, as
in the EMA Workbench) finds boxes of the swept parameters where each class is dense. Each box is
reported as a readable rule with its coverage, density and mass, and is then tested on the
*held-out* half (honest inference: the data that chose the box do not test it, Athey & Imbens
2016, PNAS 113: 7353–7360): the mean paired effect of the held-out pairs inside the box with a
bootstrap CI at the family-wise level 1 − α/m over the m boxes of that window. A positive
(negative) box is *confirmed* when that CI lies above (below) 0; a null box when it lies within
±margin. Points classed on noise give boxes that the held-out half does not confirm: with no
effect anywhere, PRIM on point means reports boxes in most runs (tests/test_discovery.py).

Each box also carries its *stability* (Bryant & Lempert 2010, Technol. Forecast. Soc. Change 77:
34–49, resample PRIM to judge a box's reproducibility): the share of bootstrap resamples of the
discovery points in which PRIM finds a box of the same class covering mostly the same points
(Jaccard index ≥ 0.5).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import estimands, stats

CLASSES = ("positive", "negative", "null")
#: Bootstrap resamples of the discovery points for a box's stability.
RESAMPLES = 20
#: Jaccard index of two boxes' points above which a resampled box counts as the same box.
SAME_BOX = 0.5


def pair_effects(runs: pd.DataFrame, arm: str, reference: str, scenario: str, names: Sequence[str], shift: int, last: int) -> pd.DataFrame:
    """One row per pair: ``point``, ``replication``, the parameters ``names`` and ``diff``, the
    paired difference in agreement in rounds shift … last. Pairs with an agreement before the
    shift are left out."""
    p = estimands.paired_rounds(runs, arm, reference, scenario)
    p = p[~((p["a"] < shift) | (p["r"] < shift))]
    ya = ((p["a"] >= shift) & (p["a"] <= last)).astype(float)
    yr = ((p["r"] >= shift) & (p["r"] <= last)).astype(float)
    return p[["point", "replication", *names]].assign(diff=ya - yr).reset_index(drop=True)


def point_effects(pairs: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """One row per design point: its parameters, its mean paired effect and its number of pairs."""
    g = pairs.groupby("point")
    out = g[list(names)].first()
    out["effect"] = g["diff"].mean()
    out["pairs"] = g["diff"].size()
    return out.reset_index()


def split(pairs: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(discovery, held-out, how): alternate replications within each point when most points
    have at least two pairs (a point with one pair puts it in discovery); otherwise a random half
    of the design points (seeded) is held out."""
    rank = pairs.groupby("point")["replication"].rank(method="first").astype(int)
    if len(pairs) and pairs.groupby("point").size().median() >= 2:
        odd = (rank % 2 == 0).to_numpy()
        how = "alternate replications at each design point"
    else:  # a random half of the points: alternate points of a grid would split it by a parameter's levels
        points = np.sort(pairs["point"].unique())
        held = pd.Series(np.zeros(len(points), dtype=bool), index=points)
        held.iloc[np.random.default_rng(seed).permutation(len(points))[: len(points) // 2]] = True
        odd = held.loc[pairs["point"]].to_numpy()
        how = "a random half of the design points (one replication per point)"
    return pairs[~odd], pairs[odd], how


def _rule(limits: pd.DataFrame, X: pd.DataFrame) -> str:
    parts = []
    for name, row in limits.iterrows():
        lo, hi = float(row["min"]), float(row["max"])
        vals = np.sort(X[name].unique())
        inside = vals[(vals >= lo - 1e-12) & (vals <= hi + 1e-12)]
        if len(inside) == 0:
            continue
        lo, hi = float(inside.min()), float(inside.max())
        if len(inside) == 1:
            parts.append(f"{name} = {lo:g}")
        elif lo <= vals.min():
            parts.append(f"{name} ≤ {hi:g}")
        elif hi >= vals.max():
            parts.append(f"{name} ≥ {lo:g}")
        else:
            parts.append(f"{lo:g} ≤ {name} ≤ {hi:g}")
    return " and ".join(parts) if parts else "anywhere in the design"


def inside(limits: dict[str, tuple[float, float]], X: pd.DataFrame) -> np.ndarray:
    """Which rows of ``X`` lie in the box ``limits`` (name → (min, max))."""
    m = np.ones(len(X), dtype=bool)
    for name, (lo, hi) in limits.items():
        v = X[name].to_numpy(dtype=float)
        m &= (v >= lo - 1e-12) & (v <= hi + 1e-12)
    return m


def _prim(X: pd.DataFrame, y: np.ndarray, max_boxes: int, min_density: float) -> list[Any]:
    """The PRIM boxes (``prim`` objects) where ``y`` (bool) is dense, at most ``max_boxes``. Of
    each peeling trajectory, the box with density ≥ ``min_density`` that maximises the weighted
    relative accuracy mass·(density − base rate) ∝ coverage − mass (Lavrač, Kavšek, Flach &
    Todorovski 2004, "Subgroup discovery with CN2-SD", JMLR 5: 153–188): PRIM's last box peels
    on to density 1 on a few points, adding restrictions that noise alone supports. A box counts
    only if its density's Wilson 95% lower bound exceeds the class's share of the points (a lift
    that chance in so few points does not explain). The whole design scores 0: it is the box
    only where the class is dense everywhere and no narrower box has such a lift."""
    import prim

    found: list[Any] = []
    if y.sum() == 0 or len(y) < 4:
        return found
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        p = prim.Prim(X.reset_index(drop=True), y.astype(int), threshold=0.5, threshold_type=">")
        for _ in range(max_boxes):
            try:
                box = p.find_box()
            except Exception:  # noqa: BLE001 - PRIM found nothing further
                break
            if box is None:
                break
            pt = box.peeling_trajectory
            dens, mass = pt["density"].to_numpy(), pt["mass"].to_numpy()
            ok = dens >= min_density
            if not ok.any():
                break
            base = dens[0]  # the class's share of the points PRIM still had
            size = np.maximum(np.rint(mass * len(y)), 1)
            lift = np.array([stats.wilson_interval(d * k, int(k))[0] > base for d, k in zip(dens, size, strict=True)])
            score = np.where(ok & lift, pt["coverage"] - pt["mass"], -1.0)
            if score.max() <= 0:
                if not found and ok[0]:  # dense everywhere: no narrower region, the whole design
                    box.select(0)
                    found.append(box)
                break
            box.select(int(np.argmax(score)))
            found.append(box)
    return found


def _box_limits(box: Any) -> pd.DataFrame:
    """The box's limits table (the ``prim`` package warns on 0/0 in its quasi-p-values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return box.limits[["min", "max"]]


def _limits(box: Any) -> dict[str, tuple[float, float]]:
    return {str(k): (float(r["min"]), float(r["max"])) for k, r in _box_limits(box).iterrows()}


def boxes(X: pd.DataFrame, y: np.ndarray, max_boxes: int = 2, min_density: float = 0.5) -> list[dict[str, Any]]:
    """PRIM boxes where ``y`` (bool) is dense, as rules with coverage, density, mass and limits."""
    return [
        {
            "rule": _rule(_box_limits(box), X),
            "coverage": round(float(box.coverage), 4),
            "density": round(float(box.density), 4),
            "mass": round(float(box.mass), 4),
            "limits": _limits(box),
        }
        for box in _prim(X, y, max_boxes, min_density)
    ]


def stability(X: pd.DataFrame, y: np.ndarray, found: Sequence[dict[str, Any]], resamples: int = RESAMPLES, seed: int = 0) -> list[float]:
    """For each box in ``found``: the share of ``resamples`` bootstrap resamples of the rows of
    (X, y) in which PRIM finds a box whose points in ``X`` have a Jaccard index of at least
    :data:`SAME_BOX` with the box's (Bryant & Lempert 2010's resampling)."""
    if not found or resamples < 1:
        return [float("nan")] * len(found)
    members = [inside(b["limits"], X) for b in found]
    hits = np.zeros(len(found))
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        again = [inside(_limits(b), X) for b in _prim(X.iloc[i], y[i], max(2, len(found)), 0.5)]
        for k, m in enumerate(members):
            hits[k] += any((m & a).sum() >= SAME_BOX * max((m | a).sum(), 1) for a in again)
    return list(hits / resamples)


def confirm(
    held: pd.DataFrame,
    limits: dict[str, tuple[float, float]],
    cls: str,
    margin: float,
    level: float,
    earlier: Sequence[dict[str, tuple[float, float]]] = (),
) -> dict[str, Any]:
    """The held-out pairs' mean effect inside the box (outside the ``earlier`` boxes of its class,
    which PRIM removed before finding it), its bootstrap CI at ``level`` (floored by the counts,
    :func:`stats.counts_floor`), and whether it confirms the class: above 0 (positive), below 0
    (negative) or within ±margin (null)."""
    m = inside(limits, held)
    for box in earlier:
        m &= ~inside(box, held)
    d = held.loc[m, "diff"].to_numpy(dtype=float)
    if len(d) < 2:  # nothing to test on (None: answer.json is strict JSON, without NaN)
        return {"value": None, "low": None, "high": None, "pairs": len(d), "confirmed": False}
    e = stats.bootstrap_ci(d, level=level, discrete="paired")
    ok = {"positive": e.low > 0, "negative": e.high < 0, "null": e.low >= -margin and e.high <= margin}[cls]
    return {"value": e.value, "low": e.low, "high": e.high, "pairs": len(d), "confirmed": bool(ok)}


def discover(
    pairs: pd.DataFrame, names: Sequence[str], margin: float = 0.05, level: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """Split the pairs (:func:`split`), class the discovery half's points by their mean effect,
    find PRIM boxes for each class, and confirm each box on the held-out half at the family-wise
    level 1 − (1 − ``level``)/m over the m boxes."""
    found_on, held, how = split(pairs, seed)
    effects = point_effects(found_on, names)
    X = effects[list(names)].astype(float)
    X = X.loc[:, X.nunique() > 1]
    e = effects["effect"].to_numpy()
    cls = np.where(e > margin, "positive", np.where(e < -margin, "negative", "null"))
    found = {c: boxes(X, cls == c) if X.shape[1] else [] for c in CLASSES}
    m = sum(len(b) for b in found.values())
    fw = 1 - (1 - level) / max(m, 1)
    for c in CLASSES:
        for k, (b, s) in enumerate(zip(found[c], stability(X, cls == c, found[c], resamples, seed), strict=True)):
            b["held_out"] = confirm(held, b["limits"], c, margin, fw, [e["limits"] for e in found[c][:k]])
            b["stability"] = round(float(s), 4) if np.isfinite(s) else None
            if k:
                b["rule"] += " (outside the first box)" if k == 1 else " (outside the earlier boxes)"
    return {
        "margin": margin,
        "points": int(len(e)),
        "counts": {c: int((cls == c).sum()) for c in CLASSES},
        "split": how,
        "discovery_pairs": int(len(found_on)),
        "held_out_pairs": int(len(held)),
        "level": fw,
        "boxes": found,
    }


def run(
    runs: pd.DataFrame,
    arm: str,
    reference: str,
    scenario: str,
    names: Sequence[str],
    shift: int,
    lasts: dict[str, int],
    margin: float,
    resamples: int = RESAMPLES,
) -> dict:
    """Discovery for each outcome window in ``lasts`` (name → last round counted)."""
    res: dict[str, Any] = {
        "method": "PRIM (prim package) on the per-point mean paired effects of half the pairs; classes: effect > margin "
        "(positive), < −margin (negative), otherwise null; each box confirmed on the other half (positive: CI above 0, "
        "negative: below 0, null: within ±margin, family-wise over the boxes); stability: share of bootstrap resamples "
        "of the points that find the box again",
        "scenario": scenario,
        "arm": arm,
        "reference": reference,
    }
    for key, last in lasts.items():
        pairs = pair_effects(runs, arm, reference, scenario, names, shift, last)
        res[key] = discover(pairs, names, margin, resamples=resamples) | {"last_round": last}
    return res
