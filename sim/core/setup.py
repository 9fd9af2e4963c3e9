"""The input types every layer shares: events, scenarios, resolved set-ups and input errors.

These are plain data; reading and validating TOML is :mod:`sim.scenarios`' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class InputError(ValueError):
    """Bad user input: one line naming source, field, value and what is allowed."""

    def __init__(self, source: str, field: str, value: object, allowed: str):
        self.source, self.field, self.value, self.allowed = source, field, value, allowed
        super().__init__(f"{source}: {field} = {_short(value)}: {allowed}")

    def __reduce__(self):  # picklable, so an error raised in a worker process reaches the driver whole
        return (type(self), (self.source, self.field, self.value, self.allowed))


def _short(value: object, limit: int = 200) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters (a huge value is never echoed whole)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply>"
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class EventKind(Enum):
    """Kinds of scheduled events."""

    LEADERSHIP_CHANGE = "leadership_change"
    DELEGATION_DOWNGRADE = "delegation_downgrade"
    DELEGATION_UPGRADE = "delegation_upgrade"
    CHANNEL_CLOSE = "channel_close"
    CHANNEL_REOPEN = "channel_reopen"
    TURNOVER_SHOCK = "turnover_shock"
    CRISIS = "crisis"
    GATEKEEPER_CHANGE = "gatekeeper_change"
    FOLLOW_UP = "follow_up"


class Regime(Enum):
    """A leadership's regime: its motivation to settle follows the regime's target."""

    LEAN = "lean"
    RIPE = "ripe"


# Fields each event kind takes: (kind of value, low, high, default). A default of None
# means "the parameter of the same role" (downgrade_factor, setup_rounds) or "unchanged".
NUM, INT, BOOL, REGIME = "number", "whole number", "true or false", "regime"
EVENT_FIELDS: dict[EventKind, dict[str, tuple[str, float, float, Any]]] = {
    EventKind.LEADERSHIP_CHANGE: {"regime": (REGIME, 0, 0, "ripe"), "position": (NUM, 0, 1, None)},
    EventKind.DELEGATION_DOWNGRADE: {"factor": (NUM, 0.05, 1, None), "drop": (NUM, 0, 1, 0.0)},
    EventKind.DELEGATION_UPGRADE: {"factor": (NUM, 0.05, 1, None), "recall": (NUM, 0, 1, 1.0)},
    EventKind.CHANNEL_CLOSE: {},
    EventKind.CHANNEL_REOPEN: {"setup_rounds": (INT, 0, 50, None), "fresh_personnel": (BOOL, 0, 0, True)},
    EventKind.TURNOVER_SHOCK: {"fraction": (NUM, 0, 1, 0.5)},
    EventKind.CRISIS: {"severity": (NUM, 0, 1, 0.5)},
    EventKind.GATEKEEPER_CHANGE: {"value": (NUM, 0, 1, 1.0)},
    EventKind.FOLLOW_UP: {"value": (NUM, 0, 1, 0.5)},
}
#: Kinds that act on sides (and so take ``side = "NAME"`` or ``"all"``).
SIDED = {
    EventKind.LEADERSHIP_CHANGE,
    EventKind.DELEGATION_DOWNGRADE,
    EventKind.DELEGATION_UPGRADE,
    EventKind.TURNOVER_SHOCK,
    EventKind.GATEKEEPER_CHANGE,
}


@dataclass(frozen=True)
class Event:
    """One scheduled event; ``sides`` are side indices, ``values`` its validated fields."""

    round: int
    kind: EventKind
    sides: tuple[int, ...] = ()
    values: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str) -> Any:
        return dict(self.values)[name]

    def describe(self, side_names: list[str]) -> str:
        who = "" if not self.sides else " " + ("all" if len(self.sides) == len(side_names) else ",".join(side_names[s] for s in self.sides))
        vals = " ".join(f"{k}={v}" for k, v in self.values if v is not None)
        return f"{self.kind.value}{who} {vals}".strip()


@dataclass(frozen=True)
class SideSpec:
    name: str
    host: bool = False
    regime: Regime = Regime.LEAN
    params: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Scenario:
    """A validated scenario file (or one built in Python)."""

    name: str
    description: str = ""
    source: str = ""
    rounds: int = 60
    channel: str = "track2"
    channel_open: bool = True
    sides: list[SideSpec] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    path: str = "<python>"
    start_year: float | None = None  # calendar year at the start of round 1 (rounds last 1/meetings_per_year years)


@dataclass
class Setup:
    """A scenario with every parameter resolved: what the state and rules are built from."""

    scenario: Scenario
    side_names: list[str]
    host: list[bool]
    regime: list[Regime]
    side: dict[str, list[float]]  # side parameter -> one value per side
    channel: dict[str, float]  # channel parameter -> value
    events: list[Event]
    rounds: int

    @property
    def members(self) -> list[int]:
        return [int(m) for m in self.side["members"]]
