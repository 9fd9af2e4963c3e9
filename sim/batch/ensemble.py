"""Many runs advanced together through the same rules (:func:`sim.core.step.step`).

Run ``b`` draws its random numbers from ``numpy.random.default_rng(seeds[b])`` in the same
order as :class:`sim.DialogueModel` with ``rng=seeds[b]``, so the two follow the same
trajectory. Runs in one batch must share a layout (sides and member counts); their
parameters and event timelines may differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
from threadpoolctl import threadpool_limits

from sim.core.metrics import METRICS, OUTCOMES, run_outcomes
from sim.core.state import Layout, Params, State, initial_state, layout_of
from sim.core.step import step
from sim.scenarios import Setup

__all__ = ["BATCH", "OUTCOMES", "EnsembleResult", "check_layout", "shared_rounds", "simulate"]

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


def shared_rounds(setups: Sequence[Setup], seeds: Sequence[int], P: Params) -> tuple[np.ndarray, np.ndarray]:
    """Which runs need not be simulated from the start: (source, until), each (B,). Run b is run
    ``source[b]`` for its first ``until[b]`` rounds (0: simulated from the start, source[b] = b).

    Two runs are the same run until their timelines part when they have the same seed (hence the
    same random numbers), the same parameters, regimes and channel state, and the same events in
    every round before the first in which their events differ: the paired arms of an experiment
    (keep-open and wind-down) up to the round the channel is closed. The step is a function of the
    state, the parameters, the round's events and its random numbers alone, so copying the
    source's state at that round gives the trajectory the run would have had (checked against the
    per-run model in tests/test_ensemble.py)."""
    B = len(setups)
    source, until = np.arange(B), np.zeros(B, dtype=int)
    values = np.concatenate([getattr(P, f.name).reshape(B, -1) for f in fields(P) if f.init], axis=1)
    first: dict[tuple, int] = {}
    for b, s in enumerate(setups):
        key = (int(seeds[b]), values[b].tobytes(), tuple(s.regime), s.scenario.channel_open)
        a = first.setdefault(key, b)
        if a == b:
            continue
        mine, theirs = _by_round(s.events), _by_round(setups[a].events)
        parted = [t for t in sorted(set(mine) | set(theirs)) if mine.get(t) != theirs.get(t)]
        shared = min(parted[0] - 1 if parted else s.rounds, s.rounds)
        if shared > 0:
            source[b], until[b] = a, shared
    return source, until


def _by_round(events: Sequence) -> dict[int, list]:
    out: dict[int, list] = {}
    for ev in events:
        out.setdefault(ev.round, []).append(ev)
    return out


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
    P_all = Params.from_setups(setups)
    # runs with the same seed draw the same numbers: one generator per distinct seed (common seeds)
    distinct, which = np.unique(np.array([int(s) for s in seeds], dtype=np.uint64), return_inverse=True)
    gens = [np.random.default_rng(int(s)) for s in distinct]
    K = layout.draws_per_round()
    B = len(setups)
    u0 = np.stack([g.random(layout.N) for g in gens])[which]
    # a run that is another until their events part is copied from it then (a hook may change
    # either run, so with one every run is simulated)
    source, until = shared_rounds(setups, seeds, P_all) if on_round is None else (np.arange(B), np.zeros(B, dtype=int))
    until = np.minimum(until, T)  # a horizon shorter than the runs' own: copied at its end
    live = np.flatnonzero(until == 0)  # the runs in the state, in order
    P = P_all if len(live) == B else Params.from_setups([setups[int(b)] for b in live])
    state = initial_state([setups[int(b)] for b in live], layout, P, u0[live])
    event_rounds = sorted({ev.round for s in setups for ev in s.events})

    def schedule_of(runs: np.ndarray) -> dict[int, list[list]]:
        return {t: [[ev for ev in setups[b].events if ev.round == t] for b in runs] for t in event_rounds}

    schedule = schedule_of(live)
    out: dict[str, np.ndarray] = {n: np.empty((B, len(kept))) for n in names}
    meetings = np.zeros(B)
    peak = np.zeros(B)
    col = 0
    if kept[0] == 0:
        for n in names:
            out[n][live, 0] = METRICS[n](state, layout)
        col = 1
    block = np.empty((len(gens), 0, K))  # each distinct seed's draws for the next rounds
    for t in range(1, T + 2):
        join = np.flatnonzero(until == t - 1) if t > 1 else live[:0]
        if len(join):  # runs that part from their source now take a copy of its state
            src = source[join]
            for n in names:
                out[n][join, :col] = out[n][src, :col]
            meetings[join], peak[join] = meetings[src], peak[src]
            merged = np.union1d(live, join)
            state = state.take(np.searchsorted(live, np.where(until[merged] == t - 1, source[merged], merged)))
            live = merged
            P = P_all if len(live) == B else Params.from_setups([setups[int(b)] for b in live])
            schedule = schedule_of(live)
        if t > T:
            break
        i = (t - 1) % DRAW_BLOCK
        if i == 0:
            n_block = min(DRAW_BLOCK, T - t + 1)
            block = np.stack([g.random((n_block, K)) for g in gens])
        step(state, layout, P, block[which[live], i], schedule.get(t, ()))
        if on_round is not None:
            on_round(t, state, rows)
        meetings[live] += state.meeting
        peak[live] = np.maximum(peak[live], state.progress)
        if col < len(kept) and kept[col] == t:
            for n in names:
                out[n][live, col] = METRICS[n](state, layout)
            col += 1
    outcomes = run_outcomes(state, layout, meetings, peak)
    return EnsembleResult(rounds=np.array(kept), series=out, outcomes=outcomes)
