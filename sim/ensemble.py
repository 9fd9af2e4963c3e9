"""Many runs advanced together through the same rules (:func:`sim.dynamics.step`).

Run ``b`` draws its random numbers from ``numpy.random.default_rng(seeds[b])`` in the same
order as :class:`sim.DialogueModel` with ``rng=seeds[b]``, so the two follow the same
trajectory. Runs in one batch must share a layout (sides and member counts); their
parameters and event timelines may differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dynamics import step
from .metrics import METRICS
from .scenario import Setup
from .state import Params, initial_state, layout_of


def simulate(setups: Sequence[Setup], seeds: Sequence[int], rounds: int | None = None,
             metrics: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Run every setup with its seed; return each metric as an array (B, rounds + 1),
    with round 0 first, plus ``agreement_round`` (B,) (−1 where none)."""
    if len(setups) != len(seeds):
        raise ValueError("one seed per setup")
    layout = layout_of(setups[0])
    for s in setups[1:]:
        if layout_of(s).members != layout.members or list(layout_of(s).host) != list(layout.host):
            raise ValueError("all runs of a batch must share sides and member counts")
    T = rounds if rounds is not None else max(s.rounds for s in setups)
    names = list(metrics or METRICS)
    P = Params(list(setups))
    gens = [np.random.default_rng(int(s)) for s in seeds]
    K = layout.draws_per_round()
    state = initial_state(list(setups), layout, P, np.stack([g.random(layout.N) for g in gens]))
    schedules = []
    for s in setups:
        by_round: dict[int, list] = {}
        for ev in s.events:
            by_round.setdefault(ev.round, []).append(ev)
        schedules.append(by_round)
    out = {n: np.empty((len(setups), T + 1)) for n in names}
    for n in names:
        out[n][:, 0] = METRICS[n](state, layout)
    for t in range(1, T + 1):
        u = np.stack([g.random(K) for g in gens])
        step(state, layout, P, u, [sch.get(t, []) for sch in schedules])
        for n in names:
            out[n][:, t] = METRICS[n](state, layout)
    out["agreement_round"] = state.agreement_round.copy()
    return out
