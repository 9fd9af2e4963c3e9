"""What carries the payoff: the kept-open − restarted difference split over carry-over components
by counterfactual state transplant (:mod:`sim.batch.transplant`).

Per pair, Y(S) is the outcome of the restarted run that received the kept-open run's value of
the components in S at the reopen round. The total is Y(all) − Y(none); each component's
Shapley value (sampled permutations, Castro et al. 2009) adds up with the others to the total
exactly, pair by pair; the single-transplant effects Y({c}) − Y(none) do not, and the total minus
their sum is reported as the interaction. CIs: bootstrap over pairs.

An experiment may declare several recipients (:func:`run_declared`): against a restart with the
restart rules (wind-down: set-up delay, fresh personnel) the total includes what they impose by
construction; against a restart without them (paused) it is net of them, and the components they
set are left out (:func:`sim.batch.transplant.components_for`), checked equal in every pair.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import answer, stats
from sim.batch.executors import Executor, make_executor
from sim.batch.experiment import Experiment
from sim.batch.transplant import (
    BY_CONSTRUCTION,
    COMPONENTS,
    COSTS,
    DESCRIPTIONS,
    RESTART_RULES,
    TransplantRuns,
    components_for,
    run_transplants,
    shapley_plan,
)
from sim.core.outputs import read_manifest

#: Largest per-pair additivity error and mean transplant gap still called exact. Outcomes are 0/1, so a
#: pair's Shapley values telescope to its total up to the rounding of about a dozen sums of numbers of
#: size ≤ 1 (~1e-15), and a real failure is of the order of one outcome over the permutations or pairs
#: (≥ 1e-3 at any size we run): 1e-9 sits far from both. The one definition (the answer's sentences
#: read it here).
EXACT_TOLERANCE = 1e-9


def not_exact(dec: dict[str, Any], window: str) -> str:
    """'' where the decomposition of ``window`` ('soon' / 'by_horizon') is exact (its additivity
    error and transplant gap both within :data:`EXACT_TOLERANCE`); else a clause saying it does NOT
    account for the effect, with the numbers, the effect as run, and what the decomposition cannot
    attribute (``unattributed``: state that differs between the arms but no component transplants,
    with its pair counts)."""
    part = dec[window]
    gap, err = float(part.get("transplant_gap", 0.0)), float(part.get("additivity_error", 0.0))
    if gap <= EXACT_TOLERANCE and err <= EXACT_TOLERANCE:
        return ""
    why = []
    if gap > EXACT_TOLERANCE:
        why.append(f"a full transplant does not reproduce the {dec['donor']} run: mean gap {gap:.2f}")
    if err > EXACT_TOLERANCE:
        why.append(f"the shares do not add up to the total: largest per-pair error {err:.2f}")
    observed = f"; the effect as run is {answer._ci(part['observed'])}" if part.get("observed") else ""
    unattributed = dec.get("unattributed") or {}
    if unattributed:
        cause = (
            "the arms also differ in " + ", ".join(f"{f} ({n} pairs)" for f, n in unattributed.items()) + ", which no component transplants"
        )
    else:
        cause = "no state outside the components is recorded as differing between the arms, so what it misses is not named"
    return (
        f"the decomposition does NOT account for this effect ({'; '.join(why)}{observed}): {cause}; "
        "its shares below explain only the transplanted state"
    )


def _e(x: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Mean and 95% CI of per-pair shares of a difference of 0/1 outcomes: at least what the
    counts allow (a share that is 0 in every sampled pair is not known to be 0: :func:`stats.counts_floor`)."""
    e = stats.bootstrap_ci(x, seed=seed, n_resamples=999, discrete="paired")
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
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Transplant the donor arm's carry-overs into the recipient arm at ``at_round`` for every design
    point × the first ``replications`` replications (at most ``max_pairs``, evenly spread over the
    design); attribute the soon and by-horizon effects. ``names``: the components to transplant
    (default: :func:`sim.batch.transplant.components_for` the recipient's events: every component,
    less the by-construction ones its reopen does not set); should a component left out differ
    between the arms in some pair, every component is transplanted instead and ``left_out`` says
    why (a transplant without it would not reproduce the donor run). ``executor`` runs the
    transplant tasks (default serial; the results are the same whatever it is); ``progress``
    shows a bar with an ETA."""
    s = exp.scenarios.index(scenario)
    arms = [a.name for a in exp.arms]
    pairs = [(p, r) for p in range(len(exp.points)) for r in range(min(replications, exp.replications))]
    if max_pairs and len(pairs) > max_pairs:  # evenly spread over the design
        pairs = [pairs[i] for i in np.unique(np.linspace(0, len(pairs) - 1, max_pairs).round().astype(int))]
    chosen = list(components_for(exp.arms[arms.index(recipient)].events) if names is None else names)

    def run(names: list[str]) -> tuple[TransplantRuns, np.ndarray]:
        masks, _ = shapley_plan(len(pairs), len(names), permutations, seed)
        bar = None
        if progress:
            from sim.batch.sweep import Progress

            bar = Progress(len(pairs) * (masks.shape[1] + 1), 0, label=f"decomposition ({recipient})")
        try:
            tr = run_transplants(
                exp, s, pairs, arms.index(donor), arms.index(recipient), at_round, masks, names, executor, bar.update if bar else None
            )
        finally:
            if bar:
                bar.close()
        return tr, masks

    tr, masks = run(chosen)
    left_out = [n for n in COMPONENTS if n not in chosen]
    runs = len(pairs) * (masks.shape[1] + 1)
    if differ := {n: tr.differing[n] for n in left_out if tr.differing[n]}:  # the rule's premise fails: transplant all
        left_out_note = ", ".join(f"{n} in {k} pairs" for n, k in differ.items())
        chosen, left_out = list(COMPONENTS), []
        tr, masks = run(chosen)
        runs += len(pairs) * (masks.shape[1] + 1)
    else:
        left_out_note = ""
    horizon = exp.rounds or exp.setup(s, 0, 0).rounds
    out: dict[str, Any] = {
        "scenario": scenario,
        "donor": donor,
        "recipient": recipient,
        "at_round": at_round,
        "pairs": len(pairs),
        "replications": min(replications, exp.replications),
        "permutations": permutations,
        "components": {n: list(COMPONENTS[n]) for n in chosen},
        "descriptions": {n: DESCRIPTIONS[n] for n in chosen},
        "by_construction": sorted(BY_CONSTRUCTION & set(chosen)),
        "left_out": left_out,
        "costs": sorted(COSTS),
        "differing": dict(tr.differing),
        "unattributed": dict(tr.unattributed),
        "runs": runs,
        "method": "counterfactual state transplant at the end of the reopen round; Shapley values by sampled permutations "
        f"({permutations} per pair), single transplants and their interaction; 95% bootstrap CIs over pairs",
        "soon": attribute(tr, shift, shift + soon - 1, permutations, seed),
        "by_horizon": attribute(tr, shift, horizon, permutations, seed),
    }
    out["measures"] = measures(out)
    out["components_note"] = components_note(out, left_out_note)
    design = pd.DataFrame(exp.points[[p for p, _ in pairs]], columns=exp.design_names)
    out["_design"] = design
    return out


def _rules(names: Sequence[str]) -> str:
    return " and ".join(RESTART_RULES[n] for n in sorted(names))


def measures(dec: dict[str, Any]) -> str:
    """One sentence on what the decomposition measures: whether its recipient's restart carries the
    restart rules (its by-construction components transplanted) or not (left out)."""
    d, r, inc = dec["donor"], dec["recipient"], dec["by_construction"]
    absent = sorted(BY_CONSTRUCTION - set(inc))
    if inc and not absent:
        return (
            f"{d} − {r} includes the restart rules: {r}'s reopen brings {_rules(inc)}, so the total counts what they impose "
            "by construction beside what the lean years carried, and the share set by the reopen event is only a lower bound on it "
            "(the restart's resets of familiarity, positions and drift count in those components)."
        )
    if not inc:
        return (
            f"{d} − {r} is net of the restart rules: {r}'s reopen brings neither {_rules(absent).replace(' and ', ' nor ')}, so "
            f"the total is what the lean years' carry-overs and costs of staying open are worth against a gap in contact alone."
        )
    return (
        f"{d} − {r} includes part of the restart rules: {r}'s reopen brings {_rules(inc)} but not {_rules(absent)}, so the "
        "total counts what the former imposes by construction beside what the lean years carried."
    )


def components_note(dec: dict[str, Any], fallback: str = "") -> str:
    """Which components were transplanted and why the others were left out."""
    n = len(dec["components"])
    if dec["left_out"]:
        left = ", ".join(dec["left_out"])
        return (
            f"{n} components transplanted; {left} left out: {dec['recipient']}'s reopen does not set them, and they hold the same "
            f"value in {dec['donor']} and {dec['recipient']} at the transplant round in every pair (checked)"
        )
    if fallback:
        return (
            f"all {n} components transplanted: {dec['recipient']}'s reopen does not set every by-construction one, yet they "
            f"differ between the arms at the transplant round ({fallback}), so none could be left out"
        )
    return f"all {n} components transplanted, {', '.join(dec['by_construction']) or 'none'} set by {dec['recipient']}'s reopen event"


def _share(what: str, e: dict[str, Any]) -> str:
    word = {"positive": "above zero", "negative": "below zero", "null": "not told from zero"}.get(answer.sign(e), "no CI")
    return f"{what} {answer._ci(e)}, {word}"


def sentences(dec: dict[str, Any]) -> list[str]:
    """What the decomposition finds, soon after the shift and by the horizon, from its numbers only:
    the total, the share set by the reopen event (where it transplants any), the carry-overs and
    the costs, each with its CI and whether that CI excludes zero, and the components whose CI
    does, largest first; first of all, where the decomposition is not exact, that it does not
    account for the effect (:func:`not_exact`)."""
    out = []
    label = "Net of the restart rules" if not dec["by_construction"] else "Including the restart rules"
    for key, when in (("soon", "soon after the shift"), ("by_horizon", "by the horizon")):
        part = dec[key]
        parts = [_share("total", part["total"])]
        if dec["by_construction"]:
            parts.append(_share(f"set by the reopen event ({', '.join(dec['by_construction'])}; a lower bound)", part["construction"]))
        parts += [_share("carry-overs", part["carry_overs"]), _share("costs of staying open", part["costs"])]
        comps = sorted(part["components"], key=lambda c: -abs(c["shapley"]["value"] or 0))
        sig = [c for c in comps if answer.sign(c["shapley"]) in ("positive", "negative")]
        named = "; ".join(f"{c['name']} {answer._ci(c['shapley'])}" for c in sig[:4]) or "none can be told from zero"
        warning = not_exact(dec, key)
        out.append(
            f"{label} ({dec['donor']} − {dec['recipient']}, {when}, {dec['pairs']} pairs): "
            + (f"{warning} — " if warning else "")
            + "; ".join(parts)
            + f". Components whose share is told from zero: {named}."
        )
    return out


def experiment_of(manifest: dict[str, Any]) -> tuple[Experiment | None, str]:
    """The experiment rebuilt from a results folder's manifest
    (:func:`sim.batch.experiment.experiment_from_manifest`) and "", or None and why it cannot be
    (a scenario path that moved, another model code: the fingerprint differs)."""
    from sim.batch.experiment import experiment_from_manifest
    from sim.scenarios import InputError

    try:
        return experiment_from_manifest(manifest), ""
    except InputError as e:
        return None, str(e)


def run_declared(
    results: str | Path, workers: int | None = 1, scheduler: str | None = None, progress: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """The decompositions a results folder's experiment declares in ``[analysis.decomposition]``,
    one per recipient in the order listed, with a note saying what was done or why nothing was;
    their runs go through the executor for ``workers`` / ``scheduler``
    (:func:`sim.batch.executors.make_executor`).

    Returns the first recipient's decomposition (the one the verdict and the phase cells'
    mechanisms use) and its note; the others ride along in it, each with its own ``note``
    (:func:`all_of` lists them all in order)."""
    manifest = read_manifest(Path(results) / "manifest.json")
    a = manifest["experiment"].get("analysis", {})
    cfg = a.get("decomposition")
    arms = [x["name"] for x in manifest["experiment"]["arms"]]
    if not cfg or not cfg.get("recipients") or len(arms) < 2:
        return None, "No decomposition is declared in the experiment's [analysis.decomposition]."
    exp, why = experiment_of(manifest)
    if exp is None:
        return None, (
            "The decomposition needs the experiment as it was run, and it could not be rebuilt from the manifest "
            f"({why}); re-run the sweep with this dialogue-sim to decompose it."
        )
    shift = int(a.get("shift_round", 0))
    n = workers or os.cpu_count() or 1
    executor = make_executor(n, scheduler, n_chunks=max(2, n))
    decs = []
    for recipient in cfg["recipients"]:
        dec = decompose(
            exp,
            a.get("main", exp.scenarios[0]),
            a.get("treatment", arms[0]),
            recipient,
            int(cfg.get("at_round", shift)),
            shift,
            int(a.get("soon", a.get("window", 10))),
            replications=int(cfg.get("replications", 1)),
            permutations=int(cfg.get("permutations", 1)),
            max_pairs=cfg.get("max_pairs"),
            executor=executor,
            progress=progress,
        )
        note = f"{dec['method']}; {dec['components_note']}"
        if dec["unattributed"]:
            note += "; state set by events differs between the arms at the transplant round and is not attributed: " + ", ".join(
                f"{f} in {n} pairs" for f, n in dec["unattributed"].items()
            )
        dec["note"] = note
        decs.append(dec)
    decs[0]["_more"] = decs[1:]
    return decs[0], decs[0]["note"]


def all_of(dec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every decomposition :func:`run_declared` made, in the order of the declared recipients."""
    return [] if dec is None else [dec, *dec.get("_more", [])]


def cell_mechanisms(dec: dict[str, Any], x: str, y: str, window: str = "soon") -> pd.DataFrame:
    """Per cell of ``x`` × ``y``: each component's mean Shapley contribution with a CI, and the
    mechanism: the component with the largest contribution whose CI excludes zero. The CIs are
    Bonferroni-corrected over the components (level 1 − 0.05/C, family-wise 95%): with ten
    components and none at work, uncorrected 95% CIs named one in about half of the cells
    (review, 2026-12-01)."""
    design: pd.DataFrame = dec["_design"]
    part = dec[window]
    phi = part["_phi"]
    names = [c["name"] for c in part["components"]]
    rows = []
    if x not in design or y not in design:
        return pd.DataFrame()
    for (xv, yv), g in design.groupby([x, y], sort=True):
        idx = g.index.to_numpy()
        level = 1 - 0.05 / max(1, len(names))
        ests = [stats.bootstrap_ci(phi[idx, c], level, n_resamples=499, discrete="paired") for c in range(len(names))]
        total = phi[idx].sum(axis=1).mean()
        sig = [(abs(e.value), n, e) for n, e in zip(names, ests, strict=True) if e.excludes_zero()]
        if sig:
            _, n, e = max(sig, key=lambda t: t[0])
            label = f"{n} ({e.value:+.2f} of {total:+.2f})"
        else:
            label = "no single carry-over stands out (every family-wise CI includes zero)"
        rows.append({x: xv, y: yv, "pairs": len(idx), "transplant_total": total, "mechanism": label})
    return pd.DataFrame(rows)


def public(dec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON-able part (without per-pair arrays)."""
    if dec is None:
        return None
    strip = lambda d: {k: v for k, v in d.items() if not k.startswith("_")}  # noqa: E731
    return strip(dec) | {w: strip(dec[w]) for w in ("soon", "by_horizon")}


__all__: Sequence[str] = (
    "EXACT_TOLERANCE",
    "not_exact",
    "decompose",
    "attribute",
    "all_of",
    "cell_mechanisms",
    "measures",
    "sentences",
    "shapley_values",
    "public",
)
