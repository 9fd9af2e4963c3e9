"""Model state and parameters as numpy arrays with a leading run axis.

``Layout`` is the structure shared by every run in a batch (sides, member slots);
``Params`` holds the resolved parameters, one row per run; ``State`` the variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np

from sim.core.params import CHANNEL_PARAMS, SIDE_PARAMS
from sim.core.setup import Regime, Setup

#: Idea bins on the issue scale [0, 1]: an idea is remembered by the bin it falls in.
IDEA_BINS = 41
BIN_CENTERS = np.linspace(0.0, 1.0, IDEA_BINS)


@dataclass(frozen=True)
class Layout:
    """Structure common to all runs of a batch: sides and member slots."""

    side_names: tuple[str, ...]
    members: tuple[int, ...]
    host: np.ndarray  # (S,) bool

    @property
    def S(self) -> int:
        return len(self.members)

    @property
    def N(self) -> int:
        return sum(self.members)

    @cached_property
    def side_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.S), self.members)

    @cached_property
    def base_rank(self) -> np.ndarray:
        """Head of delegation 1, the most junior 0.4: b_k = 1 − 0.6 k/(M − 1)."""
        return np.concatenate([1 - 0.6 * np.arange(m) / max(m - 1, 1) for m in self.members])

    @cached_property
    def cross(self) -> np.ndarray:
        """(N, N) True for members of different sides."""
        s = self.side_of
        return s[:, None] != s[None, :]

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Cross-side pairs i < j."""
        i, j = np.nonzero(np.triu(self.cross, 1))
        return i, j

    @cached_property
    def pair_index(self) -> np.ndarray:
        """(N, N): the index in :attr:`pairs` of the pair (i, j) or (j, i); len(pairs) for pairs within a side."""
        i, j = self.pairs
        out = np.full((self.N, self.N), len(i))
        out[i, j] = out[j, i] = np.arange(len(i))
        return out

    @cached_property
    def all_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every slot pair i < j, colleagues included (the encounters of pairwise updating)."""
        i, j = np.triu_indices(self.N, 1)
        return i, j

    @cached_property
    def starts(self) -> np.ndarray:
        """Index of each side's first slot (sides are contiguous runs of slots)."""
        return np.concatenate([[0], np.cumsum(self.members)[:-1]]).astype(int)

    @cached_property
    def reporter(self) -> np.ndarray:
        """(P, S) index into [members, heads]: who tells side s of pair p's idea — its own
        member of the pair if it has one, else its head of delegation (index N + s)."""
        i, j = self.pairs
        so, S, N = self.side_of, self.S, self.N
        idx = np.tile(N + np.arange(S), (len(i), 1))
        idx[np.arange(len(i)), so[i]] = i
        idx[np.arange(len(j)), so[j]] = j
        return idx

    @cached_property
    def pair_sides(self) -> np.ndarray:
        """(P, S) 1.0 where side s has a member in cross-side pair p (each pair: one of each of two sides)."""
        i, j = self.pairs
        out = np.zeros((len(i), self.S))
        out[np.arange(len(i)), self.side_of[i]] = 1.0
        out[np.arange(len(j)), self.side_of[j]] = 1.0
        return out

    def draw_sizes(self) -> dict[str, int]:
        """Uniform draws used per run per round, in order (a fixed count whatever happens)."""
        n, p = self.N, len(self.pairs[0])
        return {
            "turnover": n,
            "newcomer": n,
            "shock": n,
            "idea": p,
            "location": p,
            "report": p * self.S,
            "ratify": self.S,
            "encounter": n,
        }

    def draws_per_round(self) -> int:
        return sum(self.draw_sizes().values())

    def split_draws(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Split a (B, K) block of uniforms into named arrays."""
        out, k = {}, 0
        for name, size in self.draw_sizes().items():
            out[name] = u[:, k : k + size]
            k += size
        out["report"] = out["report"].reshape(u.shape[0], -1, self.S)
        return out


def layout_of(setup: Setup) -> Layout:
    return Layout(tuple(setup.side_names), tuple(setup.members), np.array(setup.host, dtype=bool))


@dataclass(frozen=True)
class Params:
    """Resolved parameters of a batch of B runs: one field per parameter of the spec
    (:data:`sim.core.params.PARAMS`), side parameters (B, S), channel parameters (B,).

    Adding a parameter to the spec means adding its field here; the module refuses to import while the two differ (:func:`check_fields`)."""

    # side parameters, (B, S)
    members: np.ndarray
    position: np.ndarray
    position_spread: np.ndarray
    openness: np.ndarray
    script_pressure: np.ndarray
    reporting: np.ndarray
    rank: np.ndarray
    turnover: np.ndarray
    handover: np.ndarray
    institutional_memory: np.ndarray
    gatekeeping: np.ndarray
    translation_loss: np.ndarray
    tenure_ramp: np.ndarray
    motivation_lean: np.ndarray
    motivation_ripe: np.ndarray
    winset: np.ndarray
    winset_gain: np.ndarray
    participation_shift: np.ndarray
    script_relief: np.ndarray
    cynicism_rate: np.ndarray
    entrenchment: np.ndarray
    substitution: np.ndarray
    lean_filing: np.ndarray
    # channel parameters, (B,)
    familiarity_gain: np.ndarray
    familiarity_fatigue: np.ndarray
    hollow_distrust: np.ndarray
    familiarity_decay: np.ndarray
    meeting_decay: np.ndarray
    exposure_meeting_decay: np.ndarray
    candor_wear: np.ndarray
    distrust_handover: np.ndarray
    initial_familiarity: np.ndarray
    follow_up: np.ndarray
    confidence_bound: np.ndarray
    confidence_gain: np.ndarray
    self_weight: np.ndarray
    reassessment: np.ndarray
    influence_rate: np.ndarray
    idea_rate: np.ndarray
    idea_lifetime: np.ndarray
    motivation_speed: np.ndarray
    motivation_threshold: np.ndarray
    setup_rounds: np.ndarray
    downgrade_factor: np.ndarray
    host_facilitation: np.ndarray
    meetings_per_year: np.ndarray
    opinion_update: np.ndarray
    pairwise_weight: np.ndarray
    contact: np.ndarray
    ratification_softness: np.ndarray
    _member: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_setups(cls, setups: Sequence[Setup]) -> Params:
        """The parameters of ``setups`` (one run each), resolved per side and per channel."""
        side = {p: np.array([s.side[p] for s in setups], dtype=float) for p in SIDE_PARAMS}
        channel = {p: np.array([s.channel[p] for s in setups], dtype=float) for p in CHANNEL_PARAMS}
        return cls(**side, **channel)

    @cached_property
    def dt(self) -> np.ndarray:
        """Δt, the length of a round in years, (B,)."""
        return 1.0 / self.meetings_per_year

    def per_round(self, name: str, times: str | None = None) -> np.ndarray:
        """A per-year rate as a per-round chance, 1 − (1 − p)^Δt ((B,) or (B, S)); with ``times``,
        the rate scaled by that share first (p = ``name`` × ``times``)."""
        cache = self.__dict__.setdefault("_per_round", {})
        key = (name, times)
        if key not in cache:
            v = getattr(self, name) * (getattr(self, times) if times else 1.0)
            dt = self.dt if v.ndim == 1 else self.dt[:, None]
            cache[key] = 1 - (1 - v) ** dt
        return cache[key]

    def member(self, name: str, layout: Layout) -> np.ndarray:
        """A side parameter expanded to members, (B, N); computed once per batch (read-only)."""
        if name not in self._member:
            m = getattr(self, name)[:, layout.side_of]
            m.flags.writeable = False
            self._member[name] = m
        return self._member[name]


def check_fields(spec: Sequence[str] = (*SIDE_PARAMS, *CHANNEL_PARAMS)) -> None:
    """Raise ``TypeError`` unless :class:`Params` has exactly one field per parameter of ``spec``."""
    have = {f.name for f in fields(Params) if f.init}
    if have != set(spec):
        missing, extra = sorted(set(spec) - have), sorted(have - set(spec))
        raise TypeError(
            f"sim.core.state.Params differs from the parameter spec: missing fields {missing}, fields not in the spec {extra}; "
            "add each spec parameter as a field of Params (side parameters in the first group, channel parameters in the second)"
        )


check_fields()


@dataclass
class State:
    """All model variables; shapes are given with B runs, N members, S sides, G idea bins."""

    private: np.ndarray  # (B, N) private position x
    anchor: np.ndarray  # (B, N) initial position x(0) (Friedkin–Johnsen prejudice), moved only by entrenchment
    anchor_drawn: np.ndarray  # (B, N) x(0) as drawn on arrival (read by no rule; anchor − anchor_drawn: entrenchment's drift)
    expressed: np.ndarray  # (B, N) expressed position y
    openness: np.ndarray  # (B, N) susceptibility λ
    tenure: np.ndarray  # (B, N) rounds in the delegation
    active: np.ndarray  # (B, N) bool: slot filled
    familiarity: np.ndarray  # (B, N, N) F, symmetric, zero within a side
    alumni: np.ndarray  # (B, S, S) A: familiarity of side s's former delegates with side t
    level: np.ndarray  # (B, S) delegation level, multiplies members' base rank
    gatekeeping: np.ndarray  # (B, S) share of reports blocked
    exposure: np.ndarray  # (B, S) a side's delegates' exposure to hollow meetings E, in hollow years (read by cynicism)
    # (B, S) the leadership's exposure E_L (read by substitution): the same rule and meetings as E, so equal
    # to it unless a counterfactual transplant (sim.batch.transplant) sets them apart
    leader_exposure: np.ndarray
    cynicism: np.ndarray  # (B, S) a side's disillusion with the channel, C = 1 − exp(−κ E)
    line: np.ndarray  # (B, S) leadership's position L
    ripe: np.ndarray  # (B, S) bool: regime
    motivation: np.ndarray  # (B, S) m
    follow_up: np.ndarray  # (B,) contact between meetings φ
    open: np.ndarray  # (B,) bool: channel open
    setup_left: np.ndarray  # (B,) rounds of set-up before a reopened channel meets
    meeting: np.ndarray  # (B,) bool: a meeting took place this round
    memory_age: np.ndarray  # (B, S, G) years since each idea bin was last reported (inf: never)
    agreed: np.ndarray  # (B,) bool, absorbing
    agreement_round: np.ndarray  # (B,) int, -1 if none
    progress: np.ndarray  # (B,) this round: the largest share of leaderships ready to sign one idea
    ideas_generated: np.ndarray  # (B,) cumulative
    ideas_reported: np.ndarray  # (B,) cumulative: ideas that reached at least one leadership
    cost: np.ndarray  # (B,) cumulative cost
    cost_round: np.ndarray  # (B,) cost this round
    arrivals: np.ndarray  # (B, N) int: people who took the slot after its first occupant (a person id)
    # (B, N, N) bool: whose statements each delegate heeds (bounded confidence), as last re-assessed on the
    # calendar clock (every 1/reassessment years; sim.core.step)
    heed: np.ndarray
    round: int = 0

    @property
    def B(self) -> int:
        return self.private.shape[0]

    def copy(self) -> State:
        return State(
            **{
                f.name: (getattr(self, f.name).copy() if isinstance(getattr(self, f.name), np.ndarray) else getattr(self, f.name))
                for f in fields(self)
            }
        )

    def take(self, rows: np.ndarray) -> State:
        """The state of runs ``rows`` (indices; a run may appear more than once), a copy."""
        return State(
            **{
                f.name: (getattr(self, f.name)[rows] if isinstance(getattr(self, f.name), np.ndarray) else getattr(self, f.name))
                for f in fields(self)
            }
        )


def rank_of(state: State, layout: Layout) -> np.ndarray:
    """r_i = level_{s(i)} × b_i, (B, N)."""
    return state.level[:, layout.side_of] * layout.base_rank[None, :]


def newcomer_positions(line_m: np.ndarray, spread_m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """x(0) = clip(L + w (2u − 1), 0, 1): a newcomer starts near its side's line."""
    return np.minimum(np.maximum(line_m + spread_m * (2 * u - 1), 0.0), 1.0)


def initial_state(setups: list[Setup], layout: Layout, P: Params, u0: np.ndarray) -> State:
    """The state at round 0; ``u0`` is (B, N) uniforms for the initial positions."""
    B, N, S = len(setups), layout.N, layout.S
    line = P.position.copy()
    x0 = newcomer_positions(line[:, layout.side_of], P.member("position_spread", layout), u0)
    ripe = np.array([[r is Regime.RIPE for r in s.regime] for s in setups], dtype=bool)
    m = np.where(ripe, P.motivation_ripe, P.motivation_lean)
    F = np.where(layout.cross[None], P.initial_familiarity[:, None, None], 0.0)
    return State(
        private=x0.copy(),
        anchor=x0,
        anchor_drawn=x0.copy(),
        expressed=x0.copy(),
        openness=P.member("openness", layout).copy(),
        tenure=np.zeros((B, N)),
        active=np.ones((B, N), dtype=bool),
        familiarity=F,
        alumni=np.zeros((B, S, S)),
        level=P.rank.copy(),
        gatekeeping=P.gatekeeping.copy(),
        exposure=np.zeros((B, S)),
        leader_exposure=np.zeros((B, S)),
        cynicism=np.zeros((B, S)),
        line=line,
        ripe=ripe,
        motivation=m,
        follow_up=P.follow_up.copy(),
        open=np.array([s.scenario.channel_open for s in setups], dtype=bool),
        setup_left=np.zeros(B, dtype=int),
        meeting=np.zeros(B, dtype=bool),
        memory_age=np.full((B, S, IDEA_BINS), np.inf),
        agreed=np.zeros(B, dtype=bool),
        agreement_round=np.full(B, -1),
        progress=np.zeros(B),
        ideas_generated=np.zeros(B),
        ideas_reported=np.zeros(B),
        cost=np.zeros(B),
        cost_round=np.zeros(B),
        arrivals=np.zeros((B, N), dtype=int),
        heed=np.zeros((B, N, N), dtype=bool),
    )
