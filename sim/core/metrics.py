"""The one metric spec: every outcome measure with its label, units and kind, and the function
computing it from the state, one value per run (shape (B,)).

The per-run model's ``DataCollector``, the ensemble, sweep validation, the figures, the
explorer and the report all read :data:`METRIC_SPEC` / :data:`METRICS`; the time series a sweep
keeps by default are :data:`DEFAULT_TIMESERIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from sim.core.state import Layout, State


def trust(state: State, layout: Layout) -> np.ndarray:
    """Mean familiarity over pairs of active members of different sides."""
    pair = layout.cross[None] & state.active[:, :, None] & state.active[:, None, :]
    n = pair.sum(axis=(1, 2))
    return np.where(n > 0, (state.familiarity * pair).sum(axis=(1, 2)) / np.maximum(n, 1), 0.0)


def _side_means(v: np.ndarray, state: State, layout: Layout) -> np.ndarray:
    cnt = np.add.reduceat(state.active, layout.starts, axis=1)
    tot = np.add.reduceat(np.where(state.active, v, 0.0), layout.starts, axis=1)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _gap(v: np.ndarray, state: State, layout: Layout) -> np.ndarray:
    """Mean absolute difference between the side means of the players (hosts excluded)."""
    m = _side_means(v, state, layout)[:, ~layout.host]
    k = m.shape[1]
    d = np.abs(m[:, :, None] - m[:, None, :])[:, *np.triu_indices(k, 1)]
    # pairs with an empty side are left out; with no pair left the gap is 0
    n = np.sum(~np.isnan(d), axis=1)
    return np.where(n > 0, np.nansum(d, axis=1) / np.maximum(n, 1), 0.0)


def position_gap(state: State, layout: Layout) -> np.ndarray:
    """Mean gap between sides' mean private positions."""
    return _gap(state.private, state, layout)


def expressed_gap(state: State, layout: Layout) -> np.ndarray:
    """Mean gap between sides' mean expressed positions."""
    return _gap(state.expressed, state, layout)


def motivation(state: State, layout: Layout) -> np.ndarray:
    """The least motivated leadership among the players (the binding one)."""
    return state.motivation[:, ~layout.host].min(axis=1)


def delegation_level(state: State, layout: Layout) -> np.ndarray:
    """Mean delegation level of the players."""
    return state.level[:, ~layout.host].mean(axis=1)


class Kind(Enum):
    """How a metric's values read: a 0/1 flag (averaged over runs, a share of runs), a count,
    a share of something (0–1) or a level on some scale."""

    BINARY = "binary"
    COUNT = "count"
    SHARE = "share"
    LEVEL = "level"


@dataclass(frozen=True)
class Metric:
    """One measure: its name (a column of every time series), a short label (legends, the
    explorer), its units, its kind, a longer description (axis labels of sweep figures, the
    docs) and the function computing it from the state, one value per run."""

    name: str
    label: str
    units: str
    kind: Kind
    description: str
    compute: Callable[[State, Layout], np.ndarray]


_SPEC = [
    Metric("agreement", "agreement reached", "0/1", Kind.BINARY, "share of runs with agreement", lambda s, _: s.agreed.astype(float)),
    Metric("progress", "progress", "share of leaderships", Kind.SHARE, "progress (share of leaderships ready)", lambda s, _: s.progress),
    Metric("trust", "trust (familiarity)", "−1 to 1", Kind.LEVEL, "mean familiarity across sides (−1 to 1; below 0: distrust)", trust),
    Metric(
        "position_gap",
        "private position gap",
        "issue scale",
        Kind.LEVEL,
        "gap between sides' private positions (issue scale)",
        position_gap,
    ),
    Metric(
        "expressed_gap",
        "expressed position gap",
        "issue scale",
        Kind.LEVEL,
        "gap between sides' expressed positions (issue scale)",
        expressed_gap,
    ),
    Metric(
        "ideas_generated",
        "ideas generated",
        "ideas (cumulative)",
        Kind.COUNT,
        "ideas generated (cumulative count)",
        lambda s, _: s.ideas_generated,
    ),
    Metric(
        "ideas_reported",
        "ideas reported",
        "ideas (cumulative)",
        Kind.COUNT,
        "ideas reported upward (cumulative count)",
        lambda s, _: s.ideas_reported,
    ),
    Metric(
        "cost",
        "cost",
        "rank-weighted delegate-meetings (cumulative)",
        Kind.LEVEL,
        "cumulative cost (rank-weighted delegate-meetings)",
        lambda s, _: s.cost,
    ),
    Metric("cost_round", "cost per round", "rank-weighted delegate-meetings", Kind.LEVEL, "cost per round", lambda s, _: s.cost_round),
    Metric(
        "channel_open",
        "channel open",
        "0/1",
        Kind.BINARY,
        "share of runs with the channel open",
        lambda s, _: s.open.astype(float),
    ),
    Metric("meeting", "meeting held", "0/1", Kind.BINARY, "share of runs meeting", lambda s, _: s.meeting.astype(float)),
    Metric("motivation", "motivation", "share", Kind.SHARE, "motivation of the least serious leadership", motivation),
    Metric("delegation_level", "delegation level", "0–1", Kind.LEVEL, "delegation level (0–1)", delegation_level),
    Metric(
        "cynicism",
        "cynicism",
        "share",
        Kind.SHARE,
        "cynicism about the channel (0–1)",
        lambda s, lay: s.cynicism[:, ~lay.host].mean(axis=1),
    ),
    Metric("delegates", "seats filled", "people", Kind.COUNT, "seats filled (count)", lambda s, _: s.active.sum(axis=1).astype(float)),
]

#: The one metric spec, by name (in the order of the DataCollector's columns).
METRIC_SPEC: dict[str, Metric] = {m.name: m for m in _SPEC}
#: name → function of (state, layout), one value per run: what the DataCollector and the ensemble call.
METRICS: dict[str, Callable[[State, Layout], np.ndarray]] = {m.name: m.compute for m in _SPEC}
#: The time series a sweep keeps unless its experiment's ``[output] timeseries`` says otherwise.
DEFAULT_TIMESERIES: tuple[str, ...] = ("agreement", "progress", "trust", "position_gap", "cost")


#: Per-run scalar outcomes (the runs table's outcome columns, a run's summary), in this order.
OUTCOMES: tuple[str, ...] = (
    "agreement",
    "agreement_round",
    "cost",
    "meetings",
    "ideas_generated",
    "ideas_reported",
    "final_trust",
    "final_position_gap",
    "peak_progress",
)


def run_outcomes(state: State, layout: Layout, meetings: np.ndarray, peak_progress: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`OUTCOMES` of each run at the end of its horizon, each (B,). ``meetings`` and
    ``peak_progress`` are accumulated over the rounds by the caller (they are not in the state);
    ``agreement_round`` is −1 where no agreement was reached."""
    return {
        "agreement": state.agreed.copy(),
        "agreement_round": state.agreement_round.copy(),
        "cost": state.cost.copy(),
        "meetings": np.asarray(meetings),
        "ideas_generated": state.ideas_generated.copy(),
        "ideas_reported": state.ideas_reported.copy(),
        "final_trust": trust(state, layout),
        "final_position_gap": position_gap(state, layout),
        "peak_progress": np.asarray(peak_progress),
    }


def binary_metrics() -> set[str]:
    """The names of the 0/1 metrics (their mean over runs is a share of runs)."""
    return {m.name for m in _SPEC if m.kind is Kind.BINARY}


def markdown_table() -> str:
    """The metric table as Markdown (for the docs)."""
    rows = ["| name | label | units | kind | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{m.name}` | {m.label} | {m.units} | {m.kind.value} | {m.description} |" for m in _SPEC]
    return "\n".join(rows)
