"""Counterfactual state transplant: what carries a kept-open channel's payoff.

Paired runs share a seed. The donor arm (e.g. keep-open) and copies of the recipient arm (e.g.
wind-down) are stepped in one batch by :func:`sim.batch.ensemble.simulate`; at the end of the
transplant round (the reopen round) each recipient copy receives the donor's value of a chosen
subset of the carry-over components listed in :data:`COMPONENTS`, then runs on with its own
random stream. No rule is re-implemented here: the runs go through :func:`sim.core.step.step`.

Transplanting every component makes the copy's state equal to the donor's, so from then on it
follows the donor's trajectory exactly (every run draws the same random numbers per round
whatever happens); transplanting none leaves the recipient run as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from sim.batch.ensemble import BATCH, simulate
from sim.batch.experiment import Experiment
from sim.core.state import State

#: Carry-over components (State fields) a kept-open channel may hold at the reopen round, and
#: whether a restart's value of it is set by construction (the reopen event's parameters:
#: set-up rounds, fresh personnel) rather than carried by what happened in the lean years.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "set-up delay": ("setup_left",),
    "personnel (who sits)": ("active", "tenure", "openness", "anchor"),
    "familiarity": ("familiarity",),
    "alumni memory": ("alumni",),
    "positions": ("private", "expressed"),
    "leadership idea memory": ("memory_age",),
    "cynicism": ("cynicism", "exposure"),
}
BY_CONSTRUCTION = frozenset({"set-up delay", "personnel (who sits)"})
#: Outcome bookkeeping: read by no rule, never transplanted.
BOOKKEEPING = frozenset(
    {"agreed", "agreement_round", "progress", "ideas_generated", "ideas_reported", "cost", "cost_round", "meeting", "round"}
)
OTHER = "other state"


def components() -> dict[str, tuple[str, ...]]:
    """:data:`COMPONENTS` plus ``other state``: every remaining State field read by the rules
    (new state added to the model lands here until it is named), so the components partition
    the dynamic state and a full transplant copies all of it."""
    named = {f for fs in COMPONENTS.values() for f in fs}
    rest = tuple(f.name for f in fields(State) if f.name not in named and f.name not in BOOKKEEPING)
    return {**COMPONENTS, OTHER: rest} if rest else dict(COMPONENTS)


@dataclass
class TransplantRuns:
    """Agreement rounds (−1: none) of the donor runs (P,) and of each recipient copy (P, V),
    copy v of pair p having received the components ``masks[p, v]`` (V × C booleans)."""

    names: list[str]
    masks: np.ndarray
    donor: np.ndarray
    recipient: np.ndarray


def run_transplants(
    exp: Experiment,
    scenario: int,
    pairs: Sequence[tuple[int, int]],
    donor: int,
    recipient: int,
    at_round: int,
    masks: np.ndarray,
    names: Sequence[str] | None = None,
) -> TransplantRuns:
    """Step, for every (point, replication) in ``pairs``, the donor arm's run and V copies of the
    recipient arm's run (same seed); at the end of round ``at_round`` copy v of pair p receives
    the donor's value of the components ``masks[p, v]``. ``masks`` is (P, V, C) or (V, C)."""
    comps = components()
    names = list(comps if names is None else names)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 2:
        masks = np.broadcast_to(masks, (len(pairs), *masks.shape))
    P, V, C = masks.shape
    if len(names) != C or len(pairs) != P:
        raise ValueError("masks must be (pairs, copies, components)")
    d_setups = {p: exp.setup(scenario, p, donor) for p in {p for p, _ in pairs}}
    r_setups = {p: exp.setup(scenario, p, recipient) for p in {p for p, _ in pairs}}
    setups, seeds = [], []
    for p, r in pairs:
        setups += [d_setups[p]] + [r_setups[p]] * V
        seeds += [exp.seed_of(p, r)] * (V + 1)
    G = V + 1
    fields_of = [comps[n] for n in names]

    def hook(t: int, state: State, rows: range) -> None:
        if t != at_round:
            return
        for local, row in enumerate(rows):
            g, v = divmod(row, G)
            if v == 0:
                continue
            src = local - v
            for c in np.flatnonzero(masks[g, v - 1]):
                for f in fields_of[c]:
                    getattr(state, f)[local] = getattr(state, f)[src]

    horizon = exp.rounds or setups[0].rounds
    out = simulate(setups, seeds, metrics=[], every=horizon, batch=max(1, BATCH // G) * G, on_round=hook)
    ar = out.agreement_round.reshape(P, G)
    return TransplantRuns(names, masks, ar[:, 0].copy(), ar[:, 1:].copy())


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
