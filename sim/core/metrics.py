"""Outcome measures computed from the state, one value per run (shape (B,)).

The per-run model's ``DataCollector`` and the ensemble both read these.
"""

from __future__ import annotations

from collections.abc import Callable

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


METRICS: dict[str, Callable[[State, Layout], np.ndarray]] = {
    "agreement": lambda s, _: s.agreed.astype(float),
    "progress": lambda s, _: s.progress,
    "trust": trust,
    "position_gap": position_gap,
    "expressed_gap": expressed_gap,
    "ideas_generated": lambda s, _: s.ideas_generated,
    "ideas_reported": lambda s, _: s.ideas_reported,
    "cost": lambda s, _: s.cost,
    "cost_round": lambda s, _: s.cost_round,
    "channel_open": lambda s, _: s.open.astype(float),
    "meeting": lambda s, _: s.meeting.astype(float),
    "motivation": motivation,
    "delegation_level": delegation_level,
    "cynicism": lambda s, lay: s.cynicism[:, ~lay.host].mean(axis=1),
    "delegates": lambda s, _: s.active.sum(axis=1).astype(float),
}
