"""What carries the payoff: the kept-open − restarted difference split over carry-over components
by counterfactual state transplant (:mod:`sim.batch.transplant`).

Per pair, Y(S) is the outcome of the restarted run that received the kept-open run's value of
the components in S at the reopen round. The total is Y(all) − Y(none); each component's
Shapley value (sampled permutations, Castro et al. 2009) adds up with the others to the total
exactly, pair by pair; the single-transplant effects Y({c}) − Y(none) do not, and the total minus
their sum is reported as the interaction. CIs: bootstrap over pairs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.batch.executors import Executor, make_executor
from sim.batch.experiment import Experiment
from sim.batch.transplant import BY_CONSTRUCTION, COSTS, DESCRIPTIONS, TransplantRuns, components, run_transplants, shapley_plan
from sim.core.outputs import read_manifest


def _e(x: np.ndarray, seed: int = 0) -> dict[str, Any]:
    e = stats.bootstrap_ci(x, seed=seed, n_resamples=999)
    f = lambda v: None if not np.isfinite(v) else round(float(v), 6)  # noqa: E731
    return {"value": f(e.value), "low": f(e.low), "high": f(e.high), "n": int(e.n)}


def outcome(rounds: np.ndarray, shift: int, last: int) -> np.ndarray:
    """1.0 where agreement came in rounds shift … last (−1 or NaN: none)."""
    r = np.asarray(rounds, dtype=float)
    return ((r >= shift) & (r <= last)).astype(float)


def shapley_values(y: np.ndarray, masks: np.ndarray, n_components: int, permutations: int) -> np.ndarray:
    """Per-pair Shapley estimates (P, C) from outcomes ``y`` (P, V) laid out by :func:`shapley_plan`."""
    P, C = y.shape[0], n_components
    phi = np.zeros((P, C))
    base = C + 2
    none, full = y[:, 0], y[:, C + 1]
    for k in range(permutations):
        prev = none
        prev_mask = np.zeros((P, C), bool)
        for j in range(1, C + 1):
            cur = full if j == C else y[:, base + k * (C - 1) + j - 1]
            cur_mask = np.ones((P, C), bool) if j == C else masks[:, base + k * (C - 1) + j - 1]
            added = cur_mask & ~prev_mask  # exactly one component per pair
            phi += added * (cur - prev)[:, None]
            prev, prev_mask = cur, cur_mask
    return phi / permutations


def attribute(tr: TransplantRuns, shift: int, last: int, permutations: int, seed: int = 0) -> dict[str, Any]:
    """Total, Shapley contributions, single effects and interaction for one outcome window."""
    C = len(tr.names)
    y = outcome(tr.recipient, shift, last)
    donor = outcome(tr.donor, shift, last)
    total = y[:, C + 1] - y[:, 0]
    phi = shapley_values(y, tr.masks, C, permutations)
    singles = y[:, 1 : C + 1] - y[:, [0]]
    return {
        "last_round": last,
        "total": _e(total, seed),
        "observed": _e(donor - y[:, 0], seed),  # kept-open − restarted, as run
        "transplant_gap": float(np.abs(donor - y[:, C + 1]).mean()),  # full transplant vs donor (0 = exact)
        "additivity_error": float(np.abs(phi.sum(axis=1) - total).max()) if len(total) else 0.0,
        "components": [
            {
                "name": n,
                "kind": "cost" if n in COSTS else "carry-over",
                "by_construction": n in BY_CONSTRUCTION,
                "differs_in_pairs": int(tr.differing.get(n, 0)),
                "shapley": _e(phi[:, c], seed),
                "single": _e(singles[:, c], seed),
            }
            for c, n in enumerate(tr.names)
        ],
        "interaction": _e(total - singles.sum(axis=1), seed),
        "construction": _e(phi[:, [c for c, n in enumerate(tr.names) if n in BY_CONSTRUCTION]].sum(axis=1), seed),
        "carried": _e(phi[:, [c for c, n in enumerate(tr.names) if n not in BY_CONSTRUCTION]].sum(axis=1), seed),
        "carry_overs": _e(phi[:, [c for c, n in enumerate(tr.names) if n not in BY_CONSTRUCTION | COSTS]].sum(axis=1), seed),
        "costs": _e(phi[:, [c for c, n in enumerate(tr.names) if n in COSTS]].sum(axis=1), seed),
        "_phi": phi,
    }


def decompose(
    exp: Experiment,
    scenario: str,
    donor: str,
    recipient: str,
    at_round: int,
    shift: int,
    soon: int,
    replications: int = 1,
    permutations: int = 1,
    max_pairs: int | None = None,
    seed: int = 0,
    executor: Executor | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Transplant the donor arm's carry-overs into the recipient arm at ``at_round`` for every design
    point × the first ``replications`` replications (at most ``max_pairs``, evenly spread over the
    design); attribute the soon and by-horizon effects. ``executor`` runs the transplant tasks
    (default serial; the results are the same whatever it is); ``progress`` shows a bar with an ETA."""
    s = exp.scenarios.index(scenario)
    arms = [a.name for a in exp.arms]
    pairs = [(p, r) for p in range(len(exp.points)) for r in range(min(replications, exp.replications))]
    if max_pairs and len(pairs) > max_pairs:  # evenly spread over the design
        pairs = [pairs[i] for i in np.unique(np.linspace(0, len(pairs) - 1, max_pairs).round().astype(int))]
    names = list(components())
    masks, _ = shapley_plan(len(pairs), len(names), permutations, seed)
    bar = None
    if progress:
        from sim.batch.sweep import Progress

        bar = Progress(len(pairs) * (masks.shape[1] + 1), 0, label="decomposition")
    try:
        tr = run_transplants(
            exp, s, pairs, arms.index(donor), arms.index(recipient), at_round, masks, names, executor, bar.update if bar else None
        )
    finally:
        if bar:
            bar.close()
    horizon = exp.rounds or exp.setup(s, 0, 0).rounds
    out: dict[str, Any] = {
        "scenario": scenario,
        "donor": donor,
        "recipient": recipient,
        "at_round": at_round,
        "pairs": len(pairs),
        "replications": min(replications, exp.replications),
        "permutations": permutations,
        "components": {n: list(f) for n, f in components().items()},
        "descriptions": dict(DESCRIPTIONS),
        "by_construction": sorted(BY_CONSTRUCTION),
        "costs": sorted(COSTS),
        "differing": dict(tr.differing),
        "unattributed": dict(tr.unattributed),
        "runs": len(pairs) * (masks.shape[1] + 1),
        "method": "counterfactual state transplant at the end of the reopen round; Shapley values by sampled permutations "
        f"({permutations} per pair), single transplants and their interaction; 95% bootstrap CIs over pairs",
        "soon": attribute(tr, shift, shift + soon - 1, permutations, seed),
        "by_horizon": attribute(tr, shift, horizon, permutations, seed),
    }
    design = pd.DataFrame(exp.points[[p for p, _ in pairs]], columns=exp.design_names)
    out["_design"] = design
    return out


def experiment_of(manifest: dict[str, Any]) -> Experiment | None:
    """The experiment rebuilt from a results folder's manifest
    (:func:`sim.batch.experiment.experiment_from_manifest`), or None where it cannot be (a
    scenario path that moved, another package version: the fingerprint differs)."""
    from sim.batch.experiment import experiment_from_manifest
    from sim.scenarios import InputError

    try:
        return experiment_from_manifest(manifest)
    except InputError:
        return None


def run_declared(
    results: str | Path, workers: int | None = 1, scheduler: str | None = None, progress: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """The decomposition a results folder's experiment declares in ``[analysis.decomposition]``
    (its first recipient), with a note saying what was done or why nothing was; its runs go
    through the executor for ``workers`` / ``scheduler`` (:func:`sim.batch.executors.make_executor`)."""
    manifest = read_manifest(Path(results) / "manifest.json")
    a = manifest["experiment"].get("analysis", {})
    cfg = a.get("decomposition")
    arms = [x["name"] for x in manifest["experiment"]["arms"]]
    if not cfg or not cfg.get("recipients") or len(arms) < 2:
        return None, "No decomposition is declared in the experiment's [analysis.decomposition]."
    exp = experiment_of(manifest)
    if exp is None:
        return None, "The decomposition needs the experiment as it was run; it could not be rebuilt from the manifest."
    shift = int(a.get("shift_round", 0))
    dec = decompose(
        exp,
        a.get("main", exp.scenarios[0]),
        a.get("treatment", arms[0]),
        cfg["recipients"][0],
        int(cfg.get("at_round", shift)),
        shift,
        int(a.get("soon", a.get("window", 10))),
        replications=int(cfg.get("replications", 1)),
        permutations=int(cfg.get("permutations", 1)),
        max_pairs=cfg.get("max_pairs"),
        executor=make_executor(workers or os.cpu_count() or 1, scheduler, n_chunks=max(2, workers or os.cpu_count() or 1)),
        progress=progress,
    )
    note = dec["method"]
    if dec["unattributed"]:
        note += "; state set by events differs between the arms at the transplant round and is not attributed: " + ", ".join(
            f"{f} in {n} pairs" for f, n in dec["unattributed"].items()
        )
    return dec, note


def cell_mechanisms(dec: dict[str, Any], x: str, y: str, window: str = "soon") -> pd.DataFrame:
    """Per cell of ``x`` × ``y``: each component's mean Shapley contribution with a CI, and the
    mechanism: the component with the largest contribution whose CI excludes zero."""
    design: pd.DataFrame = dec["_design"]
    part = dec[window]
    phi = part["_phi"]
    names = [c["name"] for c in part["components"]]
    rows = []
    if x not in design or y not in design:
        return pd.DataFrame()
    for (xv, yv), g in design.groupby([x, y], sort=True):
        idx = g.index.to_numpy()
        ests = [stats.bootstrap_ci(phi[idx, c], n_resamples=499) for c in range(len(names))]
        total = phi[idx].sum(axis=1).mean()
        sig = [(abs(e.value), n, e) for n, e in zip(names, ests, strict=True) if e.excludes_zero()]
        if sig:
            _, n, e = max(sig, key=lambda t: t[0])
            label = f"{n} ({e.value:+.2f} of {total:+.2f})"
        else:
            label = "no single carry-over stands out (every CI includes zero)"
        rows.append({x: xv, y: yv, "pairs": len(idx), "transplant_total": total, "mechanism": label})
    return pd.DataFrame(rows)


def public(dec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON-able part (without per-pair arrays)."""
    if dec is None:
        return None
    strip = lambda d: {k: v for k, v in d.items() if not k.startswith("_")}  # noqa: E731
    return strip(dec) | {w: strip(dec[w]) for w in ("soon", "by_horizon")}


__all__: Sequence[str] = ("decompose", "attribute", "cell_mechanisms", "shapley_values", "public")
