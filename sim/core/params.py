"""The one parameter spec: name, default, bounds, units and meaning of every parameter.

The same table drives scenario validation, ``--set`` on the command line, sweeps,
sliders and the parameter table in ``docs/ODD.md`` (``python -m sim params --markdown``).

A parameter is either *side*-scoped (each side may have its own value; a value
given without a side applies to all sides) or *channel*-scoped (one value per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Scope(Enum):
    """Whether a parameter takes one value per side or one per run."""

    SIDE = "side"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Param:
    """One model parameter."""

    name: str
    default: float
    low: float
    high: float
    units: str
    meaning: str
    scope: Scope = Scope.SIDE
    integer: bool = False
    rate: bool = False  # a per-year rate: 1 − (1 − p)^Δt per round of Δt years, or its log in an exact flow (ODD §2)
    #: "keep-open" where review found the default unsourced and favouring a channel kept open over
    #: one closed and reopened, by a measured amount (ODD §1, "Defaults that lean toward
    #: keep-open"); reports name such parameters when an experiment holds them at that default
    leans: str = ""

    def check(self, value: object) -> float:
        """Return ``value`` as a number, or raise ``ValueError`` saying what is allowed."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(self.allowed())
        if not (self.low <= value <= self.high):  # also rejects nan; inf is out of bounds
            raise ValueError(self.allowed())
        if self.integer and float(value) != int(value):
            raise ValueError(self.allowed())
        return int(value) if self.integer else float(value)

    def allowed(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        return f"allowed: {kind} in [{_fmt(self.low)}, {_fmt(self.high)}] ({self.units})"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


S, C = Scope.SIDE, Scope.CHANNEL

_SPEC = [
    # --- delegation (side-scoped) ---
    Param("members", 6, 1, 40, "people", "delegates a side sends at full strength", S, True),
    Param("position", 0.5, 0, 1, "issue scale", "the leadership's position (party line) on the issue", S),
    Param("position_spread", 0.2, 0, 1, "issue scale", "half-width of delegates' private positions around the line", S),
    Param("openness", 0.3, 0, 1, "share", "Friedkin-Johnsen susceptibility: weight on others vs. own anchor", S),
    Param("script_pressure", 0.5, 0, 1, "share", "pull of expressed positions toward the party line", S),
    Param("reporting", 0.5, 0, 1, "probability", "chance a senior delegate carries an idea to the leadership", S),
    Param("rank", 0.7, 0.05, 1, "level", "seniority of the delegation (1 = ministerial); scales reporting and cost", S),
    Param("turnover", 0.1, 0, 1, "per year", "chance each delegate is replaced within a year", S, rate=True),
    Param("handover", 0.3, 0, 1, "share", "share of a leaver's familiarity passed to the successor", S),
    Param("institutional_memory", 0.2, 0, 1, "share", "share of the alumni's familiarity the side briefs newcomers with", S),
    Param("gatekeeping", 0, 0, 1, "share", "share of upward reports a gatekeeping ministry blocks", S),
    Param("translation_loss", 0, 0, 1, "share", "share of reports lost in translation on the way up", S),
    Param("tenure_ramp", 2, 1, 20, "years", "years a newcomer needs to report at full weight", S),
    # --- leadership (side-scoped) ---
    Param("motivation_lean", 0.1, 0, 1, "share", "leadership's target motivation to settle in a lean regime", S),
    Param("motivation_ripe", 0.9, 0, 1, "share", "leadership's target motivation to settle in a ripe regime", S),
    Param("winset", 0.12, 0, 1, "issue scale", "half-width of the leadership's acceptable set at zero motivation", S),
    Param("winset_gain", 0.25, 0, 1, "issue scale", "widening of the acceptable set at full motivation", S),
    Param("participation_shift", 0.8, 0, 1, "share", "strength of the upgrade when motivation crosses the threshold", S),
    Param("script_relief", 0.5, 0, 1, "share", "how far a motivated leadership lifts script pressure", S),
    Param("cynicism_rate", 0.1, 0, 5, "per hollow year", "cynicism per year of exposure to hollow meetings: C = 1 − exp(−κ E)", S),
    Param(
        "entrenchment",
        0.1,
        0,
        1,
        "per year",
        "drift of a delegate's private view toward the line it restates (public commitment)",
        S,
        rate=True,
    ),
    Param("substitution", 0.1, 0, 1, "share", "cut in a leadership's target motivation when a hollow channel stands in for pressure", S),
    Param("lean_filing", 0.5, 0, 1, "share", "share of reported ideas a leadership that is not serious files away for later", S),
    # --- channel (one value per run) ---
    Param("familiarity_gain", 0.3, 0, 1, "per year", "growth of familiarity from a year of fully candid exchange", C, rate=True),
    Param("familiarity_fatigue", 0.05, 0, 1, "per year", "loss of familiarity from a year of fully scripted exchange", C, rate=True),
    Param("hollow_distrust", 0.03, 0, 1, "per year", "pull of a year of fully scripted exchange toward distrust (F = −1)", C, rate=True),
    Param(
        "familiarity_decay",
        0.1,
        0,
        1,
        "per year",
        "loss of familiarity per year without contact; alumni contacts fade at this rate met or not (hollow exposure: see below)",
        C,
        rate=True,
    ),
    Param("meeting_decay", 0, 0, 1, "share", "share of that loss that also applies in rounds with a meeting", C, leans="keep-open"),
    Param(
        "exposure_meeting_decay",
        1,
        0,
        1,
        "share",
        "share of that loss hollow exposure suffers in rounds with a meeting (1: met or not; meeting_decay's value: familiarity's rule)",
        C,
        leans="keep-open",
    ),
    Param(
        "candor_wear",
        0.5,
        0,
        1,
        "share",
        "how far a year of fully candid meetings wears hollow exposure down: factor 1 − w c̄",
        C,
        leans="keep-open",
    ),
    Param(
        "distrust_handover",
        0,
        0,
        1,
        "share",
        "weight of handed-over distrust (negative familiarity) against the alumni briefing (0: turnover erases distrust)",
        C,
        leans="keep-open",
    ),
    Param("initial_familiarity", 0, 0, 1, "share", "familiarity between counterparts at the start", C),
    Param("follow_up", 0, 0, 1, "share", "contact between meetings, as a share of a meeting's candid exchange", C),
    Param("confidence_bound", 0.15, 0, 1, "issue scale", "bound of confidence between strangers", C),
    Param("confidence_gain", 0.5, 0, 1, "issue scale", "widening of the bound at full familiarity", C),
    Param("self_weight", 1, 0, 10, "weight", "weight a delegate gives its own private view in the update", C),
    Param(
        "reassessment",
        1,
        0.1,
        12,
        "per year",
        "times a year delegates re-assess whose statements lie within their bound of confidence (a calendar clock, not the meetings)",
        C,
    ),
    Param(
        "influence_rate",
        1,
        0,
        20,
        "per year",
        "speed of the Friedkin-Johnsen flow toward its fixed point (1: the old once-a-year step, to first order; 0: fixed positions)",
        C,
    ),
    Param(
        "idea_rate",
        0.3,
        0,
        1,
        "per pair-year",
        "chance a fully candid, fully familiar pair produces an idea in a year of meetings",
        C,
        rate=True,
    ),
    Param("idea_lifetime", 10, 0.1, 1000, "years", "years a stored idea stays usable in institutional memory", C),
    Param("motivation_speed", 0.5, 0, 1, "per year", "speed at which motivation approaches the regime's target", C, rate=True),
    Param("motivation_threshold", 0.6, 0, 1, "share", "motivation at which a leadership is serious about settling", C),
    Param("setup_rounds", 2, 0, 50, "rounds", "rounds a reopened channel needs before it meets", C, True),
    Param("downgrade_factor", 0.5, 0.05, 1, "ratio", "multiplier on rank at a downgrade (its inverse at an upgrade)", C),
    Param("host_facilitation", 0.3, 0, 1, "share", "cut in script pressure while a neutral host takes part", C),
    # --- calendar and structure (one value per run) ---
    Param("meetings_per_year", 1, 0.1, 12, "per year", "rounds (meeting opportunities) per calendar year; per-year rates are converted", C),
    Param(
        "opinion_update",
        0,
        0,
        1,
        "choice",
        "0: synchronous bounded-confidence Friedkin-Johnsen; 1: asynchronous pairwise Deffuant-Weisbuch",
        C,
        True,
    ),
    Param("pairwise_weight", 0.5, 0, 0.5, "share", "Deffuant-Weisbuch convergence parameter μ (opinion_update = 1)", C),
    Param(
        "contact", 0, 0, 1, "choice", "0: everyone present hears everyone; 1: cross-side contact through heads of delegation only", C, True
    ),
    Param(
        "ratification_softness",
        0,
        0,
        1,
        "share",
        "0: a leadership signs only inside its win-set; > 0: chance exp(−(d − w)/(s w)) beyond it",
        C,
    ),
]

PARAMS: dict[str, Param] = {p.name: p for p in _SPEC}
SIDE_PARAMS = [p.name for p in _SPEC if p.scope is Scope.SIDE]
CHANNEL_PARAMS = [p.name for p in _SPEC if p.scope is Scope.CHANNEL]

#: Channel types: presets for the side parameters that differ by track.
#: Track One is official and scripted; Track Two unofficial, candid and weakly linked to
#: power (000: "influential but relatively free-thinking individuals"); a back-channel
#: is officials "at the behest of their countries", candid and well connected.
CHANNELS: dict[str, dict[str, float]] = {
    "track1": {"openness": 0.15, "script_pressure": 0.8, "reporting": 0.8, "rank": 1.0},
    "track1.5": {"openness": 0.3, "script_pressure": 0.5, "reporting": 0.6, "rank": 0.7},
    "track2": {"openness": 0.5, "script_pressure": 0.3, "reporting": 0.3, "rank": 0.4},
    "back-channel": {"openness": 0.4, "script_pressure": 0.2, "reporting": 0.9, "rank": 0.8},
}


def check_param(name: str, value: object) -> float:
    """Validate one value; ``KeyError``/``ValueError`` carry what is allowed."""
    if name not in PARAMS:
        raise KeyError(f"unknown parameter; allowed: {', '.join(PARAMS)}")
    return PARAMS[name].check(value)


def markdown_table() -> str:
    """The parameter table as Markdown (used in docs/ODD.md)."""
    rows = ["| name | scope | default | bounds | units | meaning |", "|---|---|---|---|---|---|"]
    for p in _SPEC:
        rows.append(f"| `{p.name}` | {p.scope.value} | {_fmt(p.default)} | [{_fmt(p.low)}, {_fmt(p.high)}] | {p.units} | {p.meaning} |")
    return "\n".join(rows)
