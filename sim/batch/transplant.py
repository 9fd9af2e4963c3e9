"""Counterfactual state transplant: what carries a kept-open channel's payoff.

Paired runs share a seed. The donor arm (e.g. keep-open) and copies of the recipient arm (e.g.
wind-down) are stepped in one batch by :func:`sim.batch.ensemble.simulate`; at the end of the
transplant round (the reopen round) each recipient copy receives the donor's value of a chosen
subset of the components of :data:`COMPONENTS` (one per carry-over and per cost of staying open
of the ODD's §1 table), then runs on with its own random stream. No rule is re-implemented here:
the runs go through :func:`sim.core.step.step`.

Every State field is classified once (:func:`classification`): read by a component, set only by
scheduled events (:data:`EVENT_SET`, checked equal in donor and recipient at the transplant round
and reported where not), or outcome bookkeeping. Transplanting every component makes the copy's
state equal to the donor's, so from then on it follows the donor's trajectory exactly (every run
draws the same random numbers per round whatever happens); transplanting none leaves the
recipient run as it was.

The work is cut into tasks of :data:`TASK_PAIRS` pairs, fixed by the pairs alone, and run by an
executor of :mod:`sim.batch.executors` (serial, local processes or Dask), so the results do not
depend on the number of workers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from sim.batch.ensemble import BATCH, simulate
from sim.batch.executors import Executor, SerialExecutor, warm_up
from sim.batch.experiment import Experiment
from sim.core.state import State

# Coordinates that split one State field between two components (each pair adds up to the field).
TRUST, DISTRUST = "familiarity>0", "familiarity<0"  # F = max(F, 0) + min(F, 0)
DRIFT = "anchor-anchor_drawn"  # x(0) = drawn x(0) + entrenchment's drift since the person arrived

#: Components, one per carry-over and per cost of staying open with state (docs/ODD.md §1), and the
#: State fields (or split coordinates) that hold it at the transplant round.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "familiarity": (TRUST,),
    "alumni memory": ("alumni",),
    "positions": ("private", "expressed", "heed"),
    "leadership idea memory": ("memory_age",),
    "set-up delay": ("setup_left",),
    "personnel (who sits)": ("active", "tenure", "openness", "arrivals", "anchor_drawn"),
    "hollow distrust": (DISTRUST,),
    "entrenchment": (DRIFT,),
    "cynicism": ("exposure", "cynicism"),
    "substitution": ("leader_exposure", "motivation", "level"),
}
#: What each component is, in the words of the report.
DESCRIPTIONS: dict[str, str] = {
    "familiarity": "cross-side trust: the positive part of familiarity F",
    "alumni memory": "former delegates' contacts, A",
    "positions": "private and expressed positions x, y and whom each heeds as last re-assessed (influence, entrenchment of views)",
    "leadership idea memory": "ideas filed by the leaderships, memory_age",
    "set-up delay": "rounds before a reopened channel meets, k",
    "personnel (who sits)": "who holds each seat: filled, tenure, openness, person, x(0) as drawn on arrival",
    "hollow distrust": "distrust bred by hollow exchanges: the negative part of F",
    "entrenchment": "the anchors' drift toward the line since each person arrived, x(0) − drawn x(0)",
    "cynicism": "the delegates' exposure to hollow meetings E and their cynicism C",
    "substitution": "the leadership's exposure E_L, its motivation m and the level its participation shift set",
}
#: Carry-overs whose restart value is set by the reopen event's parameters (set-up rounds, fresh
#: personnel) rather than carried by what happened in the lean years.
BY_CONSTRUCTION = frozenset({"set-up delay", "personnel (who sits)"})
#: The restart rule of a ``channel_reopen`` event that sets each :data:`BY_CONSTRUCTION` component.
RESTART_RULES: dict[str, str] = {"set-up delay": "a set-up delay", "personnel (who sits)": "fresh personnel"}
#: Costs of staying open (the rest are carry-overs).
COSTS = frozenset({"hollow distrust", "entrenchment", "cynicism", "substitution"})
#: State set only by scheduled events (channel status, regime and line, gatekeeping, follow-up):
#: arms that differ only in channel events hold the same values at (or after) the reopen round.
#: Never transplanted; where it differs in a pair, :attr:`TransplantRuns.unattributed` says so.
EVENT_SET = ("open", "ripe", "line", "gatekeeping", "follow_up")
#: Outcome bookkeeping: read by no rule, never transplanted.
BOOKKEEPING = frozenset(
    {"agreed", "agreement_round", "progress", "ideas_generated", "ideas_reported", "cost", "cost_round", "meeting", "round"}
)
#: Runs per task: a task holds whole pairs (donor and all its recipient copies).
TASK_RUNS = 512


def components() -> dict[str, tuple[str, ...]]:
    """The components and their coordinates (:data:`COMPONENTS`)."""
    return dict(COMPONENTS)


def set_by_reopen(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The :data:`BY_CONSTRUCTION` components an arm's ``channel_reopen`` events set: the set-up
    delay unless every reopen sets ``setup_rounds = 0``, the personnel unless every reopen sets
    ``fresh_personnel = false`` (both are on by default); none for an arm that never reopens."""
    reopen = [e for e in events if e.get("kind") == "channel_reopen"]
    out = []
    if any(e.get("setup_rounds") != 0 for e in reopen):
        out.append("set-up delay")
    if any(e.get("fresh_personnel", True) is not False for e in reopen):
        out.append("personnel (who sits)")
    return out


def components_for(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The components to transplant into a recipient arm with these events: every carry-over and
    cost, and of the :data:`BY_CONSTRUCTION` ones only those its reopen sets (:func:`set_by_reopen`).
    The others hold the same value in a channel kept open and in this restart (checked in every
    pair: :attr:`TransplantRuns.differing` counts every component, transplanted or not)."""
    keep = set(set_by_reopen(events))
    return [n for n in COMPONENTS if n not in BY_CONSTRUCTION or n in keep]


def classification() -> dict[str, str]:
    """Every State field → the component that holds it, ``event-set`` or ``bookkeeping``
    (``unclassified`` for a field added to the model and not yet placed here)."""
    where = {"familiarity": "familiarity + hollow distrust", "anchor": "personnel (who sits) + entrenchment"}
    for name, coords in COMPONENTS.items():
        for c in coords:
            if c not in (TRUST, DISTRUST, DRIFT):
                where[c] = name
    where |= {f: "event-set" for f in EVENT_SET} | {f: "bookkeeping" for f in BOOKKEEPING}
    return {f.name: where.get(f.name, "unclassified") for f in fields(State)}


def transplant(state: State, dst: int, src: int, coords: set[str]) -> None:
    """Give row ``dst`` of ``state`` row ``src``'s value of the coordinates ``coords``.

    Split fields are rebuilt from their parts (F = trust + distrust; x(0) = drawn + drift); where
    the parts all come from one row the field is that row's, bit for bit, so an empty transplant
    changes nothing and a full one copies exactly."""
    F = state.familiarity
    pos = np.maximum(F[src if TRUST in coords else dst], 0.0)
    neg = np.minimum(F[src if DISTRUST in coords else dst], 0.0)
    F[dst] = pos + neg  # one of the two is 0 where the parts come from one row: exact
    a, d = state.anchor, state.anchor_drawn
    drift_src, drift_dst = a[src] - d[src], a[dst] - d[dst]
    if "anchor_drawn" in coords and DRIFT in coords:
        a[dst] = a[src]
    elif "anchor_drawn" in coords:  # the donor's people, each with the recipient's drift
        a[dst] = np.where(d[src] == d[dst], a[dst], d[src] + drift_dst)
    elif DRIFT in coords:  # the recipient's people, drifted as the donor's were
        a[dst] = np.where(drift_src == drift_dst, a[dst], d[dst] + drift_src)
    for f in coords:
        if f not in (TRUST, DISTRUST, DRIFT):
            getattr(state, f)[dst] = getattr(state, f)[src]


def differs(state: State, dst: int, src: int, coords: Sequence[str]) -> bool:
    """Whether rows ``dst`` and ``src`` differ in any of ``coords``."""
    out = False
    for c in coords:
        if c == TRUST:
            out |= not np.array_equal(np.maximum(state.familiarity[dst], 0), np.maximum(state.familiarity[src], 0))
        elif c == DISTRUST:
            out |= not np.array_equal(np.minimum(state.familiarity[dst], 0), np.minimum(state.familiarity[src], 0))
        elif c == DRIFT:
            out |= not np.array_equal(state.anchor[dst] - state.anchor_drawn[dst], state.anchor[src] - state.anchor_drawn[src])
        else:
            out |= not np.array_equal(getattr(state, c)[dst], getattr(state, c)[src])
    return out


@dataclass
class TransplantRuns:
    """Agreement rounds (−1: none) of the donor runs (P,) and of each recipient copy (P, V),
    copy v of pair p having received the components ``masks[p, v]`` (V × C booleans).
    ``differing[name]``: pairs in which donor and recipient differ in that component at the
    transplant round (every component of :data:`COMPONENTS`, transplanted or not);
    ``unattributed[field]``: pairs in which an event-set field differs."""

    names: list[str]
    masks: np.ndarray
    donor: np.ndarray
    recipient: np.ndarray
    differing: dict[str, int]
    unattributed: dict[str, int]


def _task(
    exp: Experiment,
    scenario: int,
    pairs: Sequence[tuple[int, int]],
    donor: int,
    recipient: int,
    at_round: int,
    masks: np.ndarray,
    names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[str, int]]:
    """One task: the donor runs and recipient copies of ``pairs`` (module-level, for the executors)."""
    P, V, _ = masks.shape
    d_setups = {p: exp.setup(scenario, p, donor) for p in {p for p, _ in pairs}}
    r_setups = {p: exp.setup(scenario, p, recipient) for p in {p for p, _ in pairs}}
    setups, seeds = [], []
    for p, r in pairs:
        setups += [d_setups[p]] + [r_setups[p]] * V
        seeds += [exp.seed_of(p, r)] * (V + 1)
    G = V + 1
    coords = [set(COMPONENTS[n]) for n in names]
    differing = dict.fromkeys(COMPONENTS, 0)  # every component, so one left out is checked too
    unattributed = dict.fromkeys(EVENT_SET, 0)

    def hook(t: int, state: State, rows: range) -> None:
        if t != at_round:
            return
        for local, row in enumerate(rows):
            g, v = divmod(row, G)
            if v == 0:
                continue
            src = local - v
            if v == 1:  # the first copy is still the recipient run as it was: compare
                for n, c in COMPONENTS.items():
                    differing[n] += differs(state, local, src, sorted(c))
                for f in EVENT_SET:
                    unattributed[f] += not np.array_equal(getattr(state, f)[local], getattr(state, f)[src])
            take = set().union(*(coords[c] for c in np.flatnonzero(masks[g, v - 1])))
            if take:
                transplant(state, local, src, take)

    horizon = exp.rounds or setups[0].rounds
    out = simulate(setups, seeds, metrics=[], every=horizon, batch=max(1, BATCH // G) * G, on_round=hook)
    ar = out.agreement_round.reshape(P, G)
    return ar[:, 0].copy(), ar[:, 1:].copy(), differing, unattributed


def run_transplants(
    exp: Experiment,
    scenario: int,
    pairs: Sequence[tuple[int, int]],
    donor: int,
    recipient: int,
    at_round: int,
    masks: np.ndarray,
    names: Sequence[str] | None = None,
    executor: Executor | None = None,
    on_task: Callable[[int], None] | None = None,
) -> TransplantRuns:
    """Step, for every (point, replication) in ``pairs``, the donor arm's run and V copies of the
    recipient arm's run (same seed); at the end of round ``at_round`` copy v of pair p receives
    the donor's value of the components ``masks[p, v]``. ``masks`` is (P, V, C) or (V, C).
    ``executor`` (default serial) runs the tasks; ``on_task(runs)`` is called as each finishes."""
    names = list(COMPONENTS if names is None else names)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 2:
        masks = np.broadcast_to(masks, (len(pairs), *masks.shape))
    P, V, C = masks.shape
    if len(names) != C or len(pairs) != P:
        raise ValueError("masks must be (pairs, copies, components)")
    if unknown := [n for n in names if n not in COMPONENTS]:
        raise ValueError(f"unknown components {unknown}; allowed: {list(COMPONENTS)}")
    per = max(1, TASK_RUNS // (V + 1))
    bounds = [(i, min(i + per, P)) for i in range(0, P, per)]
    tasks = [(exp, scenario, list(pairs[i:j]), donor, recipient, at_round, np.ascontiguousarray(masks[i:j]), names) for i, j in bounds]
    donor_ar, recipient_ar = np.empty(P, int), np.empty((P, V), int)
    differing, unattributed = dict.fromkeys(COMPONENTS, 0), dict.fromkeys(EVENT_SET, 0)
    for k, (d, r, dif, una) in (executor or SerialExecutor()).map(_task, tasks, warm=functools.partial(warm_up, exp)):
        i, j = bounds[k]
        donor_ar[i:j], recipient_ar[i:j] = d, r
        for n in COMPONENTS:
            differing[n] += dif[n]
        for f in EVENT_SET:
            unattributed[f] += una[f]
        if on_task:
            on_task((j - i) * (V + 1))
    return TransplantRuns(names, masks, donor_ar, recipient_ar, differing, {f: n for f, n in unattributed.items() if n})


def shapley_plan(n_pairs: int, n_components: int, permutations: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Masks for a sampled-permutation Shapley estimate (Castro et al. 2009) plus single transplants.

    Copy layout per pair: [none, each single component, all, then for each of ``permutations``
    random orders the C − 1 intermediate subsets of that order]. Returns (masks (P, V, C), orders
    (P, permutations, C))."""
    rng = np.random.default_rng(seed)
    C = n_components
    base = [np.zeros(C, bool)] + [np.eye(C, dtype=bool)[c] for c in range(C)] + [np.ones(C, bool)]
    masks = np.zeros((n_pairs, len(base) + permutations * (C - 1), C), bool)
    orders = np.zeros((n_pairs, permutations, C), int)
    masks[:, : len(base)] = np.array(base)
    for p in range(n_pairs):
        for k in range(permutations):
            order = rng.permutation(C)
            orders[p, k] = order
            for j in range(1, C):
                masks[p, len(base) + k * (C - 1) + j - 1, order[:j]] = True
    return masks, orders
