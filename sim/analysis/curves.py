"""What the sweep figures draw, computed from the runs table and the long time series: per-round
means with their CI bands and quantile fans, paired differences, and the times to agreement of
the Kaplan–Meier curves. Small picklable summaries, numpy only: ``dialogue-sim plot`` computes
them in its own process and hands them to the processes that draw (:mod:`sim.analysis.figures`).

The tables are pandas DataFrames or :class:`sim.analysis.results.Table` (numpy columns): only
``table[column]`` and ``column in table`` are used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.analysis import stats
from sim.core.metrics import binary_metrics

#: A results table: a pandas DataFrame or a :class:`sim.analysis.results.Table`.
Frame = Any

#: Metrics whose per-run value is 0 or 1: their curves are a share of runs, drawn with the share's
#: CI band only (a 10–90% quantile fan of a 0/1 variable is a meaningless 0–1 block).
BINARY = binary_metrics()


def is_binary(metric: str, values: np.ndarray | None = None) -> bool:
    """True for a 0/1 metric (by name, or because every value is 0 or 1)."""
    if metric in BINARY:
        return True
    if values is None:
        return False
    head = values[:4096]  # most metrics show a value other than 0 or 1 early: no pass over all
    head = head[np.isfinite(head)]
    if not np.all((head == 0) | (head == 1)):
        return False
    v = values[np.isfinite(values)]
    return v.size > 0 and bool(np.all((v == 0) | (v == 1)))


@dataclass(frozen=True)
class Curve:
    """One curve of a panel over ``size`` runs (or pairs): per round, the number with a value,
    their mean and standard deviation (the CI band is drawn from them: :meth:`band`) and, for a
    continuous metric, the 10–90% quantile fan of the runs. ``share``: a 0/1 metric, whose band
    is clipped to 0–1."""

    label: str
    size: int
    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    q10: np.ndarray | None = None
    q90: np.ndarray | None = None
    share: bool = False

    def band(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """The ``level`` t interval of the mean per round (SciPy is imported here, where it is drawn)."""
        lo, hi = stats.t_band(self.n, self.mean, self.sd, level)
        return (np.clip(lo, 0, 1), np.clip(hi, 0, 1)) if self.share else (lo, hi)


@dataclass(frozen=True)
class OutcomeCurves:
    """A metric per round, one panel per scenario, one curve per value of ``by``; ``low``/``high``
    is the range of the runs' values over all panels (for the axis of a constant metric)."""

    metric: str
    by: str
    binary: bool
    level: float
    rounds: np.ndarray
    panels: dict[str, list[Curve | None]]  # None: a value of ``by`` without runs (keeps the colours)
    low: float
    high: float


@dataclass(frozen=True)
class DifferenceCurves:
    """The paired difference ``arm − reference`` of a metric per round, one panel per scenario
    (None where no pair is complete)."""

    metric: str
    arm: str
    reference: str
    level: float
    rounds: np.ndarray
    panels: dict[str, Curve | None]


@dataclass(frozen=True)
class Durations:
    """Rounds from the shift to agreement and whether it was observed
    (:func:`sim.analysis.stats.time_to_agreement`), one panel per scenario, one group per value of ``by``."""

    by: str
    panels: dict[str, list[tuple[str, np.ndarray, np.ndarray]]]


# ---------------------------------------------------------------- the dense view of a long table

_DENSE: dict = {}


def dense(ts: Frame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``metric`` as a (runs × rounds) array with its sorted run ids and rounds, built once per
    table and metric (the long table of a large sweep has millions of rows; pivoting it per group
    is what made ``plot`` slow). The positions are computed once per table."""
    key = (id(ts), len(ts))
    if _DENSE.get("key") != key:
        _DENSE.clear()  # one table at a time
        rid = np.asarray(ts["run_id"])
        rnd = np.asarray(ts["round"])
        _DENSE.update(key=key, table=ts, **_layout(rid, rnd))  # the table held: its id is not reused
    if metric not in _DENSE:
        v = np.asarray(ts[metric], dtype=float)
        if "rows" not in _DENSE:  # the regular layout: a reshape, no copy
            _DENSE[metric] = v.reshape(len(_DENSE["ids"]), len(_DENSE["rounds"]))
        else:
            m = np.full((len(_DENSE["ids"]), len(_DENSE["rounds"])), np.nan)
            m[_DENSE["rows"], _DENSE["cols"]] = v
            _DENSE[metric] = m
    return _DENSE["ids"], _DENSE["rounds"], _DENSE[metric]


def _layout(rid: np.ndarray, rnd: np.ndarray) -> dict[str, np.ndarray]:
    """The sorted run ids and rounds of a long table, and where each row goes in the dense array;
    no positions when the table is already run-major with the same rounds in every run (as a
    sweep writes it): then the dense array is the column reshaped."""
    n = len(rid)
    k = int(np.searchsorted(rid, rid[0], side="right")) if n else 0  # rows of the first run
    if k and n % k == 0:
        r, ids = rnd[:k], rid[::k]
        regular = np.all(np.diff(r) > 0) and np.all(np.diff(ids) > 0)
        if regular and (rid.reshape(-1, k) == ids[:, None]).all() and (rnd.reshape(-1, k) == r).all():
            return {"ids": ids, "rounds": r}
    ids = np.unique(rid)
    rounds = np.unique(rnd)
    return {"ids": ids, "rounds": rounds, "rows": np.searchsorted(ids, rid), "cols": np.searchsorted(rounds, rnd)}


def wide(ts: Frame, metric: str, run_ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rounds and the (runs × rounds) values of ``metric`` for ``run_ids``, row for row (a run
    without kept rounds is a row of NaN, so that pairs stay aligned)."""
    ids, rounds, m = dense(ts, metric)
    want = np.asarray(run_ids, dtype=ids.dtype)
    if len(ids) == 0:
        return rounds, np.full((len(want), len(rounds)), np.nan)
    pos = np.minimum(np.searchsorted(ids, want), len(ids) - 1)
    out = m[pos]
    out[ids[pos] != want] = np.nan
    return rounds, out


def quantiles(v: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Column-wise quantiles ignoring NaN (``np.nanquantile`` goes column by column in Python;
    ``np.quantile`` gives the same values in one pass when there is no NaN)."""
    return np.nanquantile(v, q, axis=0) if np.isnan(v).any() else np.quantile(v, q, axis=0)


# ---------------------------------------------------------------- the summaries


_GROUPS: dict = {}


def _groups(runs: Frame, by: str) -> dict[str, list[tuple[Any, np.ndarray]]]:
    """The row positions of the runs with status ok per scenario (every scenario of the table,
    sorted) and value of ``by`` (sorted, missing values left out, as pandas' groupby does), the
    positions in the table's order. Computed once per table and ``by`` (every figure asks)."""
    key = (id(runs), len(runs), by)
    if _GROUPS.get("key") != key:
        _GROUPS.clear()  # one table at a time
        _GROUPS.update(key=key, table=runs, groups=_group(runs, by))  # the table held: its id is not reused
    return _GROUPS["groups"]


def _group(runs: Frame, by: str) -> dict[str, list[tuple[Any, np.ndarray]]]:
    sc_all = np.asarray(runs["scenario"])
    ok = np.flatnonzero(np.asarray(runs["status"]) == "ok")
    sc, val = sc_all[ok], np.asarray(runs[by])[ok]
    out: dict[str, list[tuple[Any, np.ndarray]]] = {}
    for s in sorted(set(sc_all.tolist())):
        pos = ok[sc == s]
        v = val[sc == s]
        keep = ~_missing(v)
        pos, v = pos[keep], v[keep]
        keys, inv = np.unique(v, return_inverse=True)
        order = np.argsort(inv, kind="stable")  # each group's rows together, in the table's order
        bounds = np.searchsorted(inv[order], np.arange(len(keys) + 1))
        out[s] = [(keys[i], pos[order[bounds[i] : bounds[i + 1]]]) for i in range(len(keys))]
    return out


def _missing(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "f":
        return np.isnan(v)
    if v.dtype.kind == "O":
        return np.array([x is None or x != x for x in v], dtype=bool)
    return np.zeros(len(v), dtype=bool)


def outcome_curves(runs: Frame, ts: Frame, metric: str, by: str = "arm", level: float = 0.95) -> OutcomeCurves:
    """Mean of ``metric`` over the runs per round with its t band, per scenario and value of
    ``by``; a 0/1 metric's band clipped to 0–1, a continuous metric's 10–90% quantile fan."""
    binary = is_binary(metric, np.asarray(ts[metric], dtype=float) if metric in ts else None)
    lo_all, hi_all = np.inf, -np.inf
    panels: dict[str, list[Curve | None]] = {}
    rounds = np.array([])
    rid = np.asarray(runs["run_id"])
    for sc, groups in _groups(runs, by).items():
        panels[sc] = []
        for val, pos in groups:
            rounds, v = wide(ts, metric, rid[pos])
            if np.isnan(v).any():
                v = v[~np.isnan(v).all(axis=1)]
            if v.size == 0:
                panels[sc].append(None)  # keeps the colour of the next value
                continue
            q10, q90 = (None, None) if binary else quantiles(v, [0.1, 0.9])
            name = f"{val:g}" if isinstance(val, float) else str(val)
            panels[sc].append(Curve(name, v.shape[0], *stats.column_moments(v), q10, q90, share=binary))  # a share's band stays within 0–1
            lo_all, hi_all = min(lo_all, np.nanmin(v)), max(hi_all, np.nanmax(v))
    return OutcomeCurves(metric, by, binary, level, rounds, panels, float(lo_all), float(hi_all))


_PAIRS: dict = {}


def pairs(runs: Frame, arm: str, reference: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per scenario, the run ids of ``arm`` and of ``reference`` in the pairs both ran with status
    ok, aligned (a pair shares scenario, point and replication, hence the seed), in ``arm``'s order.
    Computed once per table and arms (every metric's difference figure asks)."""
    key = (id(runs), len(runs), arm, reference)
    if _PAIRS.get("key") != key:
        _PAIRS.clear()  # one table at a time
        _PAIRS.update(key=key, table=runs, pairs=_pairs(runs, arm, reference))  # the table held: its id is not reused
    return _PAIRS["pairs"]


def _pairs(runs: Frame, arm: str, reference: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ok = np.asarray(runs["status"]) == "ok"
    sc, a_ = np.asarray(runs["scenario"])[ok], np.asarray(runs["arm"])[ok]
    rep = np.asarray(runs["replication"])[ok].astype(np.int64)
    key = np.asarray(runs["point"])[ok].astype(np.int64) * (int(rep.max()) + 1 if len(rep) else 1) + rep
    rid = np.asarray(runs["run_id"])[ok]
    out = {}
    for s in sorted(set(np.asarray(runs["scenario"]).tolist())):
        ia, ib = np.flatnonzero((sc == s) & (a_ == arm)), np.flatnonzero((sc == s) & (a_ == reference))
        order = np.argsort(key[ib], kind="stable")
        kb = key[ib][order]
        j = np.minimum(np.searchsorted(kb, key[ia]), max(len(kb) - 1, 0))
        both = (kb[j] == key[ia]) if len(kb) else np.zeros(len(ia), bool)
        out[s] = (rid[ia[both]], rid[ib[order[j[both]]]])
    return out


def difference_curves(runs: Frame, ts: Frame, metric: str, arm: str, reference: str, level: float = 0.95) -> DifferenceCurves:
    """Paired difference ``arm − reference`` per round (pairs share scenario, point and
    replication, hence the seed): the mean over pairs with its t band, per scenario."""
    panels: dict[str, Curve | None] = {}
    rounds = np.array([])
    for sc, (a, b) in pairs(runs, arm, reference).items():
        if len(a) == 0:
            panels[sc] = None
            continue
        rounds, wa = wide(ts, metric, a)  # rows aligned by pair
        _, wb = wide(ts, metric, b)
        panels[sc] = Curve("mean difference", len(a), *stats.column_moments(wa - wb))
    return DifferenceCurves(metric, arm, reference, level, rounds, panels)


def durations(runs: Frame, shift: dict[str, int], horizon: dict[str, int], by: str = "arm") -> Durations:
    """Each scenario's times from the shift to agreement, per value of ``by`` (see
    :func:`sim.analysis.stats.time_to_agreement`)."""
    ar = np.asarray(runs["agreement_round"], dtype=float)
    panels = {
        sc: [(str(val), *stats.time_to_agreement({"agreement_round": ar[pos]}, shift[sc], horizon[sc])) for val, pos in groups]
        for sc, groups in _groups(runs, by).items()
    }
    return Durations(by, panels)
