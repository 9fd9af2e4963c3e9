"""What the explorer saves: the setting as a scenario TOML, the time series as CSV, the figures as PNG."""

from __future__ import annotations

import io
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.abm.model import DialogueModel  # noqa: E402
from sim.abm.plots import mark  # noqa: E402
from sim.abm.session import Session  # noqa: E402
from sim.abm.views import CURVES, label_of, network_layout  # noqa: E402
from sim.core.params import CHANNEL_PARAMS, SIDE_PARAMS  # noqa: E402


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def scenario_toml(s: Session) -> str:
    """The current setting as a scenario file: every parameter resolved (starting values), the
    scenario's events and the explorer's interventions. ``dialogue-sim run FILE --seed N`` gives
    the explorer's run A (mid-run parameter changes cannot be written as events: they are listed
    as comments)."""
    sc = s.setting()
    st = DialogueModel(sc, overrides=s.overrides, rng=s.seed).setup
    lines = [
        "# Saved from the dialogue-sim explorer (run A).",
        f"# Reproduce: dialogue-sim run THIS_FILE --seed {s.seed}",
    ]
    for c in s.changes:
        lines.append(f"# not in this file (mid-run change): {c.describe()}")
    lines += [
        f"name = {_toml_value(sc.name)}",
        f"description = {_toml_value(sc.description)}",
        f"source = {_toml_value(sc.source)}",
        f"rounds = {sc.rounds}",
        f"channel = {_toml_value(sc.channel)}",
        f"channel_open = {_toml_value(sc.channel_open)}",
        "",
        "[params]",
    ]
    lines += [f"{p} = {_toml_value(st.channel[p])}" for p in CHANNEL_PARAMS]
    for i, side in enumerate(sc.sides):
        lines += [
            "",
            "[[sides]]",
            f"name = {_toml_value(side.name)}",
            f"host = {_toml_value(side.host)}",
            f"regime = {_toml_value(side.regime.value)}",
        ]
        lines.append("[sides.params]")
        lines += [f"{p} = {_toml_value(st.side[p][i])}" for p in SIDE_PARAMS]
    for ev in sc.events:
        lines += ["", "[[events]]", f"round = {ev.round}", f"kind = {_toml_value(ev.kind.value)}"]
        if ev.sides:
            who = "all" if len(ev.sides) == len(sc.sides) else sc.sides[ev.sides[0]].name
            lines.append(f"side = {_toml_value(who)}")
        lines += [f"{k} = {_toml_value(v)}" for k, v in ev.values if v is not None]
    return "\n".join(lines) + "\n"


def timeseries_csv(s: Session) -> str:
    """Every run's model reporters, one row per round (a ``run`` column in compare mode)."""
    frames = []
    for label, m in s.models.items():
        df = m.datacollector.get_model_vars_dataframe()
        df.index.name = "round"
        df = df.reset_index()
        df.insert(0, "run", label)
        frames.append(df)
    return pd.concat(frames).to_csv(index=False)


def figures_png(s: Session, threshold: float = 0.1) -> bytes:
    """The curves, the network(s) and the positions of the current runs as one PNG."""
    runs = list(s.models.items())
    fig = plt.figure(figsize=(12, 8.5))
    grid = fig.add_gridspec(2, 2 + len(runs) - 1)
    ax = fig.add_subplot(grid[0, :])
    for k, (label, m) in enumerate(runs):
        df = m.datacollector.get_model_vars_dataframe()
        for i, col in enumerate(CURVES):
            ax.plot(df.index, df[col], color=f"C{i}", ls="-" if k == 0 else "--", label=f"{label_of(col)} ({label})")
    for r, text in s.marks():
        mark(ax, r, text)
    ax.set_xlim(0, s.rounds)
    ax.set_xlabel("round")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"{s.scenario.name}, seed {s.seed}, round {s.round}", fontsize=10)
    for k, (label, m) in enumerate(runs):
        _network(fig.add_subplot(grid[1, k]), m, threshold, f"network ({label})")
    _positions(fig.add_subplot(grid[1, len(runs)]), runs[0][1])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _network(ax: plt.Axes, m: DialogueModel, threshold: float, title: str) -> None:
    pos, edges, total = network_layout(m, threshold)
    for a, b, f in edges:
        ax.plot(*pos[[a, b]].T, color="0.3", lw=0.3 + 3 * f, alpha=0.2 + 0.7 * f, zorder=1)
    for d in m.agents:
        ax.scatter(
            pos[d.slot, 0],
            pos[d.slot, 1],
            s=60 + 240 * d.rank,
            color=f"C{m.layout.side_of[d.slot]}" if d.active else "none",
            edgecolor="k" if d.active else f"C{m.layout.side_of[d.slot]}",
            linewidth=0.5 + 3 * d.openness,
            zorder=2,
        )
    for s, name in enumerate(m.layout.side_names):
        ax.scatter([], [], color=f"C{s}", label=name)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    shown = f"the strongest {len(edges):,} of {total:,} edges" if total > len(edges) else "edges"
    ax.set_title(f"{title}: {shown} familiarity > {threshold:g}", fontsize=9)
    ax.set_aspect("equal")
    ax.axis("off")


def _positions(ax: plt.Axes, m: DialogueModel) -> None:
    lay = m.layout
    for s, name in enumerate(lay.side_names):
        ds = [d for d in m.agents if d.active and lay.side_of[d.slot] == s]
        x = np.array([d.slot for d in ds])
        ax.scatter(x, [d.private for d in ds], color=f"C{s}", s=25, label=f"{name} private")
        ax.scatter(x, [d.expressed for d in ds], facecolor="none", edgecolor=f"C{s}", s=25)
        ax.axhline(m.state.line[0, s], color=f"C{s}", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("delegate (slot)")
    ax.set_ylabel("position (issue scale)")
    ax.set_title("private (filled), expressed (hollow); dashed: lines (A)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
