"""One explorer session: the setting (scenario, seed, starting values, interventions), the
runs it drives (A, and B in compare mode) and every change a user makes, validated first.

No Solara here: the app calls these methods and shows their errors at the control that
caused them. The runs are always :class:`~sim.abm.model.DialogueModel` instances built from
the setting and replayed to the current round, so a run in the explorer is, by construction,
the run ``dialogue-sim run`` gives for the saved scenario and seed.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.abm.model import DialogueModel
from sim.core.params import PARAMS, Scope
from sim.core.state import Params
from sim.scenarios import Event, EventKind, InputError, Scenario, parse_event, parse_overrides, resolve, scenario_from_dict
from sim.scenarios.limits import check_cost, setup_cost
from sim.scenarios.loader import parse_toml

#: Largest seed accepted (numpy's SeedSequence takes any non-negative integer; this keeps it sane).
MAX_SEED = 2**63 - 1

#: Set once, when the explorer's server is stopping (see :class:`sim.abm.server.Stop`): from then
#: on no run advances (a round under way finishes; the next one raises :class:`Stopped`).
STOP = threading.Event()

#: Most members (all sides together) a run in the explorer may have. A round's pairwise rules
#: cost members² and the page redraws every round while a student waits: 600 members (15 sides
#: × 40) take about 0.2 s a round per run on a shared 2-core machine, 1,000 took 0.7 s (1.4 s
#: a round in compare mode, 40 s to replay B to round 60). The CLI's limits (memory, total work)
#: would let 1,000 through.
MAX_MEMBERS = 600

#: Parameters that shape the run's structure or its start: a change means a restart.
START_ONLY = {"members", "initial_familiarity"}

#: Parameters copied into the state at the start; a mid-run change also resets that state
#: variable (for the side, or the channel) from the next round on.
STATE_COPY = {"rank": "level", "gatekeeping": "gatekeeping", "follow_up": "follow_up", "position": "line"}


class Stopped(Exception):
    """A run was to advance while the explorer is stopping (:data:`STOP`)."""


def step_unless_stopping(m: DialogueModel) -> None:
    """One round of ``m``, unless the explorer is stopping."""
    if STOP.is_set():
        raise Stopped("the explorer is stopping")
    m.step()


def check_size(sc: Scenario, overrides: dict[str, float], what: str) -> None:
    """Refuse a setting with more than :data:`MAX_MEMBERS` members in all (one line)."""
    n = sum(resolve(sc, overrides).members)
    if n > MAX_MEMBERS:
        raise InputError(
            what,
            "members",
            f"{n} in all ({len(sc.sides)} sides)",
            f"at most {MAX_MEMBERS} members in all sides in the explorer (a round costs members²); use 'dialogue-sim run'",
        )


def parse_seed(text: Any) -> int:
    """A seed from user input: a whole number in [0, 2**63 − 1]."""
    raw = text
    if isinstance(text, str):
        text = text.strip()
        try:
            text = int(text)
        except ValueError:
            raise InputError("seed", "seed", raw, f"allowed: a whole number in [0, {MAX_SEED}]") from None
    if isinstance(text, bool) or not isinstance(text, int) or not 0 <= text <= MAX_SEED:
        raise InputError("seed", "seed", raw, f"allowed: a whole number in [0, {MAX_SEED}]")
    return text


def parse_value(name: str, text: Any) -> float:
    """A parameter value from user input (text or number), checked against the spec."""
    p = PARAMS[name]
    raw = text
    if isinstance(text, str):
        try:
            text = float(text.strip())
        except ValueError:
            raise InputError("parameter", name, raw, p.allowed()) from None
    try:
        return p.check(text)
    except ValueError as e:
        raise InputError("parameter", name, raw, str(e)) from None


def key_of(name: str, side: str | None) -> str:
    """The override key: ``name`` for all sides (or a channel parameter), ``SIDE.name`` for one side."""
    return name if side is None or PARAMS[name].scope is Scope.CHANNEL else f"{side}.{name}"


@dataclass(frozen=True)
class Change:
    """A parameter change applied to a running run from ``round`` on (a mid-run intervention)."""

    round: int
    key: str
    value: float
    run: str = "A"  # "A", "B" or "both"

    def describe(self) -> str:
        who = "" if self.run == "both" else f" (run {self.run})"
        return f"parameter {self.key} = {self.value:g} from round {self.round}{who}"


@dataclass
class Session:
    """The setting and the runs of one explorer tab."""

    scenario: Scenario
    seed: int = 1
    overrides: dict[str, float] = field(default_factory=dict)  # starting values (``--set`` keys)
    b_overrides: dict[str, float] | None = None  # compare mode: B's starting values on top of A's
    interventions: list[Event] = field(default_factory=list)  # events added from the explorer
    changes: list[Change] = field(default_factory=list)  # mid-run parameter changes
    models: dict[str, DialogueModel] = field(default_factory=dict)
    #: Told (run, round reached, round wanted) after each round of a replay: a long one shows it is working.
    progress: Callable[[str, int, int], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        parse_overrides(self.overrides, self.side_names)
        self.rebuild(0)

    # ------------------------------------------------------------ reading

    @property
    def side_names(self) -> list[str]:
        return [s.name for s in self.scenario.sides]

    @property
    def round(self) -> int:
        return self.models["A"].steps

    @property
    def rounds(self) -> int:
        return self.scenario.rounds

    @property
    def compare(self) -> bool:
        return self.b_overrides is not None

    def setting(self) -> Scenario:
        """The scenario with the explorer's interventions added to its events."""
        events = sorted([*self.scenario.events, *self.interventions], key=lambda e: e.round)
        return dataclasses.replace(self.scenario, events=events)

    def current(self, name: str, side: str | None = None, run: str = "A") -> float:
        """The value ``name`` has from the next round on in ``run`` (for ``side``, or the first
        player's if None): the latest mid-run change in effect by then, else the starting value."""
        key = key_of(name, side)
        for c in reversed(self.changes):
            if c.run in (run, "both") and c.key in (key, name) and c.round <= self.round + 1:
                return c.value
        st = resolve(self.setting(), self._overrides(run))
        if PARAMS[name].scope is Scope.CHANNEL:
            return st.channel[name]
        if side is None:
            side = next(n for n, h in zip(st.side_names, st.host, strict=True) if not h)
        return st.side[name][st.side_names.index(side)]

    def varies(self, name: str, run: str = "A") -> bool:
        """True if a side parameter starts with different values on different sides."""
        st = resolve(self.setting(), self._overrides(run))
        return PARAMS[name].scope is Scope.SIDE and len(set(st.side[name])) > 1

    def marks(self) -> list[tuple[int, str]]:
        """Rounds to mark on the curves: the scenario's events, interventions, parameter changes."""
        out = [(e.round, e.kind.value) for e in self.setting().events]
        out += [(c.round, f"{c.key}={c.value:g}") for c in self.changes]
        return sorted(out)

    # ------------------------------------------------------------ running

    def _overrides(self, run: str) -> dict[str, float]:
        if run == "B":
            return {**self.overrides, **(self.b_overrides or {})}
        return dict(self.overrides)

    def _build(self, run: str) -> DialogueModel:
        return DialogueModel(self.setting(), overrides=self._overrides(run), rng=self.seed)

    def rebuild(self, to_round: int) -> None:
        """Build the runs afresh from the setting and replay them to ``to_round``."""
        runs = ["A", "B"] if self.compare else ["A"]
        self.models = {r: self._build(r) for r in runs}
        for r, m in self.models.items():
            self._replay(r, m, to_round)

    def _replay(self, run: str, m: DialogueModel, to_round: int) -> None:
        changes = [c for c in self.changes if c.run in (run, "both")]
        end = min(to_round, self.rounds)
        while m.steps < end:
            for c in changes:
                if c.round == m.steps + 1:
                    apply_logged(m, c)
            step_unless_stopping(m)
            if self.progress is not None:
                self.progress(run, m.steps, end)

    def replay_cost(self, runs: int | None = None) -> int:
        """Member-pair-rounds a replay of ``runs`` runs (default: all) to the current round takes."""
        n = sum(resolve(self.setting(), self._overrides("A")).members)
        return (len(self.models) if runs is None else runs) * self.round * n * n

    def step(self) -> bool:
        """Advance every run one round; False at the horizon."""
        if self.round >= self.rounds:
            return False
        t = self.round + 1
        for r, m in self.models.items():
            for c in self.changes:
                if c.round == t and c.run in (r, "both"):
                    apply_logged(m, c)
            step_unless_stopping(m)
        return True

    def restart(self) -> None:
        """Back to round 0 with the same setting: the scenario's events, the interventions and
        the mid-run changes, each applied again at its round (and logged when it is)."""
        self.rebuild(0)

    # ------------------------------------------------------------ changing the setting

    def set_seed(self, text: Any) -> None:
        self.seed = parse_seed(text)
        self.rebuild(0)

    def set_start(self, name: str, side: str | None, text: Any, run: str = "A") -> float:
        """Change a starting value (restarts at round 0). ``side=None``: all sides."""
        v = parse_value(name, text)
        target = self.overrides if run == "A" else self.b_overrides
        if target is None:
            raise InputError("compare", "B", name, "compare mode is off")
        key = key_of(name, side)
        new = dict(target)
        if key == name:  # all sides: drop the per-side values of this parameter
            new = {k: x for k, x in new.items() if k.rpartition(".")[2] != name}
        new[key] = v
        parse_overrides(new, self.side_names)
        check_size(self.scenario, new if run == "A" else {**self.overrides, **new}, name)
        target.clear()
        target.update(new)
        self.rebuild(0)  # the mid-run changes are kept, as by restart()
        return v

    def change_now(self, name: str, side: str | None, text: Any, run: str = "both") -> Change:
        """Apply a value from the next round on, keeping the run so far (a logged intervention)."""
        v = parse_value(name, text)
        if name in START_ONLY:
            raise InputError("parameter", name, text, "shapes the delegations at the start; allowed: restart with it")
        if self.round >= self.rounds:
            raise InputError("parameter", name, text, f"the run is at its horizon (round {self.rounds}); allowed: restart")
        if run == "B" and not self.compare:
            raise InputError("parameter", name, text, "compare mode is off; allowed: a change to run A")
        c = Change(self.round + 1, key_of(name, side), v, run)
        self.changes.append(c)  # logged when it is applied (the next round)
        return c

    def set_compare(self, on: bool, name: str | None = None, side: str | None = None, text: Any = None) -> None:
        """Switch compare mode; B replays to the current round (A is kept as it is)."""
        if not on:
            self.b_overrides = None
            self.models = {"A": self.models["A"]}
            return
        b: dict[str, float] = {}
        if name is not None:
            b[key_of(name, side)] = parse_value(name, text)
            parse_overrides(b, self.side_names)
            check_size(self.scenario, {**self.overrides, **b}, name)
        old = self.b_overrides
        self.b_overrides = b
        try:
            m = self._build("B")
            self._replay("B", m, self.round)
        except BaseException:
            self.b_overrides = old
            raise
        self.models["B"] = m

    def set_b(self, name: str, side: str | None, text: Any) -> float:
        """B's one changed value (compare mode); B replays to the current round."""
        v = parse_value(name, text)
        self.set_compare(True, name, side, v)
        return v

    def intervene(self, kind: str, fields: dict[str, Any]) -> Event:
        """Add an event of ``kind`` at the next round (the current round's meeting is the next step)."""
        return self.schedule(self.event(kind, fields))

    def event(self, kind: str, fields: dict[str, Any]) -> Event:
        """An event of ``kind`` at the next round, checked (nothing changes)."""
        t = self.round + 1
        if t > self.rounds:
            raise InputError("intervention", "round", t, f"the run is at its horizon (round {self.rounds}); allowed: restart first")
        raw = {"round": t, "kind": kind, **{k: v for k, v in fields.items() if v is not None and v != ""}}
        return parse_event("intervention", kind, raw, self.side_names, self.rounds)

    def schedule(self, ev: Event) -> Event:
        """Add a checked event (:meth:`event`) at the next round; the runs replay to this round."""
        t = self.round + 1
        if ev.round != t:
            raise InputError("intervention", "round", ev.round, f"the next round ({t}) only")
        self.interventions.append(ev)
        for r in list(self.models):
            # the event lies in the future, so rebuilding and replaying gives the same history
            m = self._build(r)
            self._replay(r, m, t - 1)
            old = self.models[r]
            m.log[:] = old.log
            m.log.append(f"round {t}: explorer: {ev.kind.value} scheduled")
            self.models[r] = m
        return ev

    def load(self, text: str | bytes, filename: str = "scenario.toml") -> None:
        """Replace the setting with a scenario file's; nothing changes if it is bad."""
        data = parse_toml(filename, text.encode() if isinstance(text, str) else text)  # size, UTF-8, TOML, nesting
        sc = scenario_from_dict(data, filename, default_name=filename.removesuffix(".toml"))
        # the explorer holds two runs (A and B) in memory and steps them while a page waits: the
        # CLI's limits, without its --allow-large (a 50-side file took 3.3 GB and 21 s a step)
        check_cost(setup_cost(resolve(sc), runs=2, batch=2), filename, instead="too large for the explorer; use 'dialogue-sim run'")
        check_size(sc, {}, filename)
        self.scenario, self.overrides, self.b_overrides = sc, {}, None
        self.interventions, self.changes = [], []
        self.rebuild(0)


def apply_logged(m: DialogueModel, c: Change) -> None:
    """:func:`apply_change`, and a line in the run's log (at the round it takes effect)."""
    apply_change(m, c)
    m.log.append(f"round {c.round}: explorer: {c.describe()}")


def apply_change(m: DialogueModel, c: Change) -> None:
    """Set a parameter in a running model from the next round on (the rules read ``m.params``)."""
    side, _, name = c.key.rpartition(".")
    st = m.setup
    idx = [st.side_names.index(side)] if side else list(range(len(st.side_names)))
    if PARAMS[name].scope is Scope.CHANNEL:
        st.channel[name] = c.value
    else:
        for s in idx:
            st.side[name][s] = c.value
    m.params = Params.from_setups([st])
    if name == "openness":  # the flow reads each occupant's (set on arrival): those in post take the new value now too
        members = [i for i, so in enumerate(m.layout.side_of) if so in idx]
        m.state.openness[0, members] = c.value
    if name in STATE_COPY:
        arr = getattr(m.state, STATE_COPY[name])
        if arr.ndim == 1:
            arr[0] = c.value
        else:
            arr[0, idx] = c.value


def kinds() -> list[str]:
    return [k.value for k in EventKind]
