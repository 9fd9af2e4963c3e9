"""Many runs advanced together through the same rules (:func:`sim.core.step.step`).

Run ``b`` draws its random numbers from ``numpy.random.default_rng(seeds[b])`` in the same
order as :class:`sim.DialogueModel` with ``rng=seeds[b]``, so the two follow the same
trajectory. Runs in one batch must share a layout (sides and member counts); their
parameters and event timelines may differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from sim.core.metrics import METRICS, OUTCOMES, run_outcomes
from sim.core.state import Layout, Params, State, initial_state, layout_of
from sim.core.step import step
from sim.scenarios import Setup

__all__ = ["BATCH", "OUTCOMES", "EnsembleResult", "check_layout", "simulate"]

#: Rounds of random numbers drawn per generator call (a block keeps memory small and calls few).
DRAW_BLOCK = 16
#: Runs advanced together: enough to spread numpy's per-call cost, few enough for the (B, N, N)
#: arrays to stay in cache (docs/performance.md).
BATCH = 1024


@dataclass(frozen=True)
class EnsembleResult:
    """What :func:`simulate` returns for B runs.

    ``rounds`` (R,) are the kept rounds (0, every, 2·every, …, and the last); ``series`` maps
    each requested metric to an array (B, R) over them; ``outcomes`` maps each name of
    :data:`OUTCOMES` to an array (B,) (``agreement_round`` is −1 where no agreement was reached).
    """

    rounds: np.ndarray
    series: dict[str, np.ndarray]
    outcomes: dict[str, np.ndarray]

    @property
    def n_runs(self) -> int:
        return len(self.outcomes["agreement"])

    @property
    def agreement_round(self) -> np.ndarray:
        """(B,) the round of agreement, −1 where none."""
        return self.outcomes["agreement_round"]

    @classmethod
    def concat(cls, parts: Sequence[EnsembleResult]) -> EnsembleResult:
        """Consecutive batches (same kept rounds and metrics) as one result."""
        return cls(
            rounds=parts[0].rounds,
            series={k: np.concatenate([p.series[k] for p in parts]) for k in parts[0].series},
            outcomes={k: np.concatenate([p.outcomes[k] for p in parts]) for k in OUTCOMES},
        )


def check_layout(setups: Sequence[Setup]) -> Layout:
    """The common layout of a batch, or ``ValueError``."""
    layout = layout_of(setups[0])
    for s in setups[1:]:
        other = layout_of(s)
        if other.members != layout.members or list(other.host) != list(layout.host):
            raise ValueError("all runs of a batch must share sides and member counts")
    return layout


def simulate(
    setups: Sequence[Setup],
    seeds: Sequence[int],
    rounds: int | None = None,
    metrics: Sequence[str] | None = None,
    every: int = 1,
    batch: int = BATCH,
    on_round: Callable[[int, State, range], None] | None = None,
) -> EnsembleResult:
    """Run every setup with its seed; keep ``metrics`` (default: all of
    :data:`sim.core.metrics.METRICS`) every ``every`` rounds and the scalar outcomes.

    ``on_round(t, state, rows)``, if given, is called after each round ``t`` with the state of
    the sub-batch holding runs ``rows`` (indices into ``setups``); it may change the state, as
    :mod:`sim.batch.transplant` does. It changes nothing else: runs keep their own random streams."""
    if len(setups) != len(seeds):
        raise ValueError("one seed per setup")
    layout = check_layout(setups)
    if rounds is None and len({s.rounds for s in setups}) > 1:
        raise ValueError("runs of a batch have different horizons; pass rounds= explicitly")
    T = rounds if rounds is not None else setups[0].rounds
    names = list(METRICS if metrics is None else metrics)
    # one BLAS thread: the arrays are small, and the sweep's processes are the parallelism (more
    # threads only compete for the same cores; and they never change a result)
    with threadpool_limits(limits=1, user_api="blas"):
        if len(setups) > batch:  # consecutive sub-batches, always cut the same way
            cuts = [range(i, min(i + batch, len(setups))) for i in range(0, len(setups), batch)]
            parts = [_batch(setups[c.start : c.stop], seeds[c.start : c.stop], layout, T, names, every, on_round, c) for c in cuts]
            return EnsembleResult.concat(parts)
        return _batch(setups, seeds, layout, T, names, every, on_round, range(len(setups)))


def _batch(
    setups: Sequence[Setup],
    seeds: Sequence[int],
    layout: Layout,
    T: int,
    names: list[str],
    every: int,
    on_round: Callable[[int, State, range], None] | None = None,
    rows: range = range(0),
) -> EnsembleResult:
    kept = sorted(set(range(0, T + 1, max(1, every))) | {T})
    P = Params.from_setups(setups)
    # runs with the same seed draw the same numbers: one generator per distinct seed (common seeds)
    distinct, which = np.unique(np.array([int(s) for s in seeds], dtype=np.uint64), return_inverse=True)
    gens = [np.random.default_rng(int(s)) for s in distinct]
    K = layout.draws_per_round()
    state = initial_state(list(setups), layout, P, np.stack([g.random(layout.N) for g in gens])[which])
    event_rounds = sorted({ev.round for s in setups for ev in s.events})
    schedule = {t: [[ev for ev in s.events if ev.round == t] for s in setups] for t in event_rounds}
    B = len(setups)
    out: dict[str, np.ndarray] = {n: np.empty((B, len(kept))) for n in names}
    meetings = np.zeros(B)
    peak = np.zeros(B)
    col = 0
    if kept[0] == 0:
        for n in names:
            out[n][:, 0] = METRICS[n](state, layout)
        col = 1
    block = np.empty((B, 0, K))
    for t in range(1, T + 1):
        i = (t - 1) % DRAW_BLOCK
        if i == 0:
            n_block = min(DRAW_BLOCK, T - t + 1)
            block = np.stack([g.random((n_block, K)) for g in gens])[which]
        step(state, layout, P, block[:, i], schedule.get(t, ()))
        if on_round is not None:
            on_round(t, state, rows)
        meetings += state.meeting
        peak = np.maximum(peak, state.progress)
        if col < len(kept) and kept[col] == t:
            for n in names:
                out[n][:, col] = METRICS[n](state, layout)
            col += 1
    outcomes = run_outcomes(state, layout, meetings, peak)
    return EnsembleResult(rounds=np.array(kept), series=out, outcomes=outcomes)
