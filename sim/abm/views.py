"""The explorer's charts as ECharts options (plain dicts drawn in the browser by the ECharts
that ships with Solara): cheap to rebuild every round, nothing rendered on the server.

Delegates are read through the Mesa model's agents (:class:`~sim.abm.agents.Seat`).
"""

from __future__ import annotations

import numpy as np

from sim.abm.model import DialogueModel
from sim.core import metrics

#: Curves shown: (metric, panel); panel 0 is shares in [0, 1], panel 1 the rest.
CURVES = ["agreement", "progress", "trust", "position_gap"]
PANEL = {"agreement": 0, "progress": 0, "trust": 1, "position_gap": 1}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def label_of(name: str) -> str:
    """A metric's label with units, from the metric spec."""
    m = metrics.METRIC_SPEC[name]
    return f"{m.label} ({m.units})"


#: The curves draw at most this many points a line: a long run (a scenario may have 100,000
#: rounds) is shown every k-th round, its last round always, so that a round's redraw stays small.
MAX_POINTS = 2000


def _shown(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """The rounds 0..n−1 a curve shows: all of them, or ``limit`` evenly spaced ones (first and last included)."""
    return np.arange(n) if n <= limit else np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _series(m: DialogueModel, col: str) -> list[tuple[int, float]]:
    """(round, value) of a metric's curve, thinned to :data:`MAX_POINTS` (:func:`_shown`)."""
    ys = m.datacollector.model_vars[col]
    return [(int(t), round(float(ys[t]), 4)) for t in _shown(len(ys))]


def curves_option(models: dict[str, DialogueModel], marks: list[tuple[int, str]], rounds: int) -> dict:
    """Outcome curves of each run (A solid, B dashed); with two runs a third panel shows B − A."""
    two = len(models) == 2
    n = 3 if two else 2
    width = 100 / n
    grids = [{"left": f"{k * width + 5}%", "width": f"{width - 8}%", "top": 70, "bottom": 40} for k in range(n)]
    titles = ["agreement and progress", "trust and position gap"] + (["difference B − A"] if two else [])
    x_axes = [
        {"type": "value", "min": 0, "max": rounds, "gridIndex": k, "name": "round", "nameLocation": "middle", "nameGap": 24}
        for k in range(n)
    ]
    y_axes = [
        {"type": "value", "gridIndex": 0, "min": 0, "max": 1},
        {"type": "value", "gridIndex": 1, "min": 0},
    ] + ([{"type": "value", "gridIndex": 2}] if two else [])
    mark_line = {
        "silent": True,
        "symbol": "none",
        "lineStyle": {"color": "#888", "type": "dotted"},
        "label": {"formatter": "{b}", "fontSize": 9, "position": "insideEndTop"},
        "data": [{"xAxis": r, "name": text} for r, text in marks],
    }
    series = []
    for k, (label, m) in enumerate(models.items()):
        for i, col in enumerate(CURVES):
            series.append(
                {
                    "name": f"{label_of(col)} {label}",
                    "type": "line",
                    "xAxisIndex": PANEL[col],
                    "yAxisIndex": PANEL[col],
                    "data": [[t, y] for t, y in _series(m, col)],
                    "showSymbol": False,
                    "lineStyle": {"type": "solid" if k == 0 else "dashed", "color": COLORS[i]},
                    "itemStyle": {"color": COLORS[i]},
                    **({"markLine": mark_line} if k == 0 and i in (0, 2) else {}),
                }
            )
    if two:
        a, b = models["A"], models["B"]
        for i, col in enumerate(CURVES):
            ya, yb = a.datacollector.model_vars[col], b.datacollector.model_vars[col]
            both = min(len(ya), len(yb))
            series.append(
                {
                    "name": f"{label_of(col)} B − A",
                    "type": "line",
                    "xAxisIndex": 2,
                    "yAxisIndex": 2,
                    "data": [[int(t), round(float(yb[t]) - float(ya[t]), 4)] for t in _shown(both)],
                    "showSymbol": False,
                    "lineStyle": {"color": COLORS[i]},
                    "itemStyle": {"color": COLORS[i]},
                }
            )
    return {
        "animation": False,
        "title": [{"text": t, "left": g["left"], "top": 46, "textStyle": {"fontSize": 12}} for t, g in zip(titles, grids, strict=True)],
        "legend": {"top": 0, "type": "scroll", "textStyle": {"fontSize": 10}},
        "tooltip": {"trigger": "axis"},
        "grid": grids,
        "xAxis": x_axes,
        "yAxis": y_axes,
        "series": series,
    }


#: The network view draws at most this many edges (the strongest): a large scenario has over a
#: hundred thousand pairs above the threshold (15 sides × 40 members: 136,000 edges, 12 MB a round,
#: 10 s of the browser's time a round); measured in Debian's chromium, 600 delegates and
#: 2,000 edges draw in well under a tenth of a second a round.
MAX_EDGES = 2000


def network_edges(m: DialogueModel, threshold: float, limit: int | None = None) -> tuple[list[tuple[int, int, float]], int]:
    """The cross-side edges between active delegates with familiarity > threshold, in (i, j)
    order: the strongest ``limit`` of them if there are more (all if None), and how many there are."""
    F = m.state.familiarity[0]
    act = np.asarray(m.state.active[0], dtype=bool)
    i, j = np.nonzero((np.triu(F, 1) > threshold) & act[:, None] & act[None, :])
    f = F[i, j]
    total = len(f)
    if limit is not None and total > limit:
        keep = np.sort(np.argpartition(-f, limit - 1)[:limit]) if limit > 0 else np.zeros(0, dtype=int)
        i, j, f = i[keep], j[keep], f[keep]
    return [(int(a), int(b), float(x)) for a, b, x in zip(i.tolist(), j.tolist(), f.tolist(), strict=True)], total


def network_layout(
    m: DialogueModel, threshold: float, limit: int | None = MAX_EDGES
) -> tuple[np.ndarray, list[tuple[int, int, float]], int]:
    """Node positions (sides apart: side centres on a circle, a side's delegates in a column
    across the radius, most senior first), the cross-side edges with familiarity > threshold (the
    strongest ``limit``) and how many there are."""
    return _positions(m), *network_edges(m, threshold, limit)


def _positions(m: DialogueModel) -> np.ndarray:
    lay = m.layout
    S, pos = lay.S, np.zeros((lay.N, 2))
    for s in range(S):
        idx = np.flatnonzero(lay.side_of == s)
        a = np.pi + 2 * np.pi * s / S  # two sides: left and right
        centre = 1.6 * np.array([np.cos(a), np.sin(a)]) * (1 if S <= 2 else 1.8)
        tangent = np.array([-np.sin(a), np.cos(a)])
        offs = np.linspace(-0.5, 0.5, len(idx)) * min(2.0, 0.35 * len(idx)) if len(idx) > 1 else np.zeros(1)
        pos[idx] = centre + offs[:, None] * tangent
    return pos


def network_option(m: DialogueModel, threshold: float, title: str, limit: int = MAX_EDGES) -> dict:
    """Delegates (size = rank, border = openness, hollow = empty slot) and familiarity edges (the
    strongest ``limit`` of them; the subtext says so when there are more)."""
    pos = _positions(m)
    edges, total = network_edges(m, threshold, limit)
    names = list(m.layout.side_names)
    nodes = []
    for d in m.agents:
        s = int(m.layout.side_of[d.slot])
        nodes.append(
            {
                "name": f"{d.side} #{d.slot}",
                "x": round(float(pos[d.slot, 0]), 3),
                "y": round(float(-pos[d.slot, 1]), 3),
                "category": s,
                "symbolSize": round(8 + 22 * d.rank, 1) if d.active else 8,
                "itemStyle": {
                    "color": COLORS[s % 10] if d.active else "#fff",
                    "borderColor": "#000" if d.active else COLORS[s % 10],
                    "borderWidth": round(0.5 + 3 * d.openness, 2) if d.active else 1,
                },
                "value": round(d.familiarity, 3),
            }
        )
    links = [
        {"source": a, "target": b, "lineStyle": {"width": round(0.3 + 3 * f, 2), "opacity": round(0.2 + 0.7 * f, 2)}, "value": round(f, 3)}
        for a, b, f in edges
    ]
    return {
        "animation": False,
        "title": {
            "text": title,
            "subtext": "size = rank, border = openness, "
            + (
                f"edges: the strongest {len(edges):,} of {total:,} with familiarity > {threshold:g}"
                if total > len(edges)
                else f"edges = familiarity > {threshold:g}"
            ),
            "left": "center",
            "textStyle": {"fontSize": 12},
        },
        "legend": {"bottom": 0, "data": names},
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "top": 60,
                "bottom": 40,
                "left": 30,
                "right": 30,
                "categories": [{"name": n, "itemStyle": {"color": COLORS[k % 10]}} for k, n in enumerate(names)],
                "data": nodes,
                "links": links,
                "lineStyle": {"color": "#555"},
                "emphasis": {"focus": "adjacency"},
            }
        ],
    }


def positions_option(m: DialogueModel, title: str) -> dict:
    """Each delegate's private (filled) and expressed (hollow) position; dashed: the party lines."""
    lay = m.layout
    series = []
    for s, name in enumerate(lay.side_names):
        ds = [d for d in m.agents if d.active and lay.side_of[d.slot] == s]
        c = COLORS[s % 10]
        series.append(
            {"name": f"{name} private", "type": "scatter", "data": [[d.slot, round(d.private, 4)] for d in ds], "itemStyle": {"color": c}}
        )
        series.append(
            {
                "name": f"{name} expressed",
                "type": "scatter",
                "symbol": "emptyCircle",
                "data": [[d.slot, round(d.expressed, 4)] for d in ds],
                "itemStyle": {"color": c},
                "markLine": {
                    "silent": True,
                    "symbol": "none",
                    "label": {"show": False},
                    "lineStyle": {"color": c, "type": "dashed"},
                    "data": [{"yAxis": round(float(m.state.line[0, s]), 4)}],
                },
            }
        )
    return {
        "animation": False,
        "title": {
            "text": title,
            "subtext": "private (filled), expressed (hollow); dashed: party lines",
            "left": "center",
            "textStyle": {"fontSize": 12},
        },
        "legend": {"bottom": 0, "type": "scroll"},
        "tooltip": {},
        "grid": {"top": 60, "bottom": 60, "left": 50, "right": 20},
        "xAxis": {"type": "value", "name": "delegate (slot)", "nameLocation": "middle", "nameGap": 22, "min": -0.5, "max": lay.N - 0.5},
        "yAxis": {"type": "value", "name": "position (issue scale)", "min": 0, "max": 1},
        "series": series,
    }


def readout(label: str, m: DialogueModel) -> str:
    """One line of current values (also what the browser tests read)."""
    v = {k: m.datacollector.model_vars[k][-1] for k in ("agreement", "progress", "trust", "position_gap", "ideas_reported", "cost")}
    return (
        f"{label}: round {m.steps} · agreement {int(v['agreement'])} · progress {v['progress']:.3f} · "
        f"trust {v['trust']:.3f} · position gap {v['position_gap']:.3f} · "
        f"ideas reported {int(v['ideas_reported'])} · cost {v['cost']:.1f}"
    )
