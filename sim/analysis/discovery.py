"""Where the payoff holds: scenario discovery on the per-point paired effects of a sweep.

Each design point's effect is the mean over its replications of the paired difference
(treatment − reference) in post-shift agreement by a given round. Points are classed positive
(effect > margin), negative (< −margin) or null, and PRIM (Friedman & Fisher 1999; the ``prim``
package, as in the EMA Workbench) finds boxes of the swept parameters where each class is dense.
Each box is reported as a readable rule with its coverage (share of the class inside the box),
density (share of the box in the class) and mass (share of all points inside).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import estimands

CLASSES = ("positive", "negative", "null")


def point_effects(runs: pd.DataFrame, arm: str, reference: str, scenario: str, names: Sequence[str], shift: int, last: int) -> pd.DataFrame:
    """One row per design point: its parameters, the mean paired effect on agreement in rounds
    shift … last, and the number of pairs. Pairs with an agreement before the shift are left out."""
    p = estimands.paired_rounds(runs, arm, reference, scenario)
    p = p[~((p["a"] < shift) | (p["r"] < shift))]
    ya = ((p["a"] >= shift) & (p["a"] <= last)).astype(float)
    yr = ((p["r"] >= shift) & (p["r"] <= last)).astype(float)
    p = p.assign(diff=ya - yr)
    g = p.groupby("point")
    out = g[list(names)].first()
    out["effect"] = g["diff"].mean()
    out["pairs"] = g["diff"].size()
    return out.reset_index()


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


def boxes(X: pd.DataFrame, y: np.ndarray, max_boxes: int = 2, min_density: float = 0.5) -> list[dict[str, Any]]:
    """PRIM boxes where ``y`` (bool) is dense, as rules with coverage, density and mass."""
    import prim

    out: list[dict[str, Any]] = []
    if y.sum() == 0 or len(y) < 4:
        return out
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
            if float(box.density) < min_density:
                break
            limits = box.limits[["min", "max"]]
            out.append(
                {
                    "rule": _rule(limits, X),
                    "coverage": round(float(box.coverage), 4),
                    "density": round(float(box.density), 4),
                    "mass": round(float(box.mass), 4),
                }
            )
    return out


def discover(effects: pd.DataFrame, names: Sequence[str], margin: float = 0.05) -> dict[str, Any]:
    """Class every point by its effect and find PRIM boxes for each class."""
    X = effects[list(names)].astype(float)
    X = X.loc[:, X.nunique() > 1]
    e = effects["effect"].to_numpy()
    cls = np.where(e > margin, "positive", np.where(e < -margin, "negative", "null"))
    out: dict[str, Any] = {"margin": margin, "points": int(len(e)), "counts": {c: int((cls == c).sum()) for c in CLASSES}, "boxes": {}}
    for c in CLASSES:
        out["boxes"][c] = boxes(X, cls == c) if X.shape[1] else []
    return out


def run(
    runs: pd.DataFrame, arm: str, reference: str, scenario: str, names: Sequence[str], shift: int, lasts: dict[str, int], margin: float
) -> dict:
    """Discovery for each outcome window in ``lasts`` (name → last round counted)."""
    res: dict[str, Any] = {
        "method": "PRIM (prim package) on per-point mean paired effects; classes: effect > margin (positive), "
        "< −margin (negative), otherwise null",
        "scenario": scenario,
        "arm": arm,
        "reference": reference,
    }
    for key, last in lasts.items():
        eff = point_effects(runs, arm, reference, scenario, names, shift, last)
        res[key] = discover(eff, names, margin) | {"last_round": last}
    return res
