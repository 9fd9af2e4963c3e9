"""The interactive explorer (Solara, the stack under Mesa's SolaraViz).

Start it with ``dialogue-sim app`` or ``solara run sim/abm/app.py``. Pick a scenario, move the
sliders (generated from the parameter spec), set a seed, then step, play or reset. Compare
mode runs a second setting on the same seed beside the first and plots the difference.

Sliders start at the scenario's own values; only the sliders you move override it (for all
sides, as ``--set`` does), so a scenario with different values per side keeps them until then.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import solara  # noqa: E402
import solara.lab  # noqa: E402

from sim.abm.model import DialogueModel  # noqa: E402
from sim.abm.plots import mark  # noqa: E402
from sim.core.params import PARAMS, Param, Scope  # noqa: E402
from sim.core.state import rank_of  # noqa: E402
from sim.scenarios import load_scenario, resolve, scenario_names  # noqa: E402

#: Parameters offered as sliders, in this order (each slider's label, bounds, step, units and
#: default come from the spec in sim.core.params).
EXPLORER_PARAMS = [
    "turnover",
    "handover",
    "institutional_memory",
    "familiarity_gain",
    "familiarity_fatigue",
    "familiarity_decay",
    "follow_up",
    "openness",
    "script_pressure",
    "reporting",
    "gatekeeping",
    "translation_loss",
    "cynicism_rate",
    "idea_rate",
    "confidence_bound",
    "setup_rounds",
]
CURVES = [
    ("agreement", "agreement reached"),
    ("progress", "progress"),
    ("trust", "trust (familiarity)"),
    ("position_gap", "private position gap"),
]
PLAY_INTERVAL = 0.4  # seconds between rounds while playing

scenario = solara.reactive("leadership-change")
seed = solara.reactive(1)
overrides: solara.Reactive[dict[str, float]] = solara.reactive({})  # only the sliders the user moved
compare = solara.reactive(False)
compare_param = solara.reactive("turnover")
compare_value = solara.reactive(0.5)
playing = solara.reactive(False)
tick = solara.reactive(0)


def slider_step(p: Param) -> float:
    return 1 if p.integer else round((p.high - p.low) / 100, 6)


def scenario_value(name: str, param: str) -> float:
    """The value the scenario gives ``param`` (the first non-host side's, for side parameters)."""
    setup = resolve(load_scenario(name))
    p = PARAMS[param]
    if p.scope is Scope.CHANNEL:
        return setup.channel[param]
    return setup.side[param][[i for i, h in enumerate(setup.host) if not h][0]]


def make_model(name: str, seed_value: int, params: dict) -> DialogueModel:
    return DialogueModel(name, overrides=dict(params), rng=int(seed_value))


# ---------------------------------------------------------------- figures


def _events(model: DialogueModel) -> list[tuple[int, str]]:
    return [(e.round, e.kind.value) for e in model.setup.events]


def curves_figure(models: Sequence[tuple[str, DialogueModel]]) -> plt.Figure:
    """Main outcome curves; with two models, a third panel shows B − A."""
    n = 3 if len(models) == 2 else 2
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.3))
    for k, (label, m) in enumerate(models):
        df = m.datacollector.get_model_vars_dataframe()
        ls = "-" if k == 0 else "--"
        for i, (col, name) in enumerate(CURVES[:2]):
            axes[0].plot(df.index, df[col], ls=ls, color=f"C{i}", label=f"{name} ({label})")
        for i, (col, name) in enumerate(CURVES[2:]):
            axes[1].plot(df.index, df[col], ls=ls, color=f"C{i + 2}", label=f"{name} ({label})")
    if len(models) == 2:
        a = models[0][1].datacollector.get_model_vars_dataframe()
        b = models[1][1].datacollector.get_model_vars_dataframe()
        k = min(len(a), len(b))
        for i, (col, name) in enumerate(CURVES):
            axes[2].plot(a.index[:k], b[col].to_numpy()[:k] - a[col].to_numpy()[:k], color=f"C{i}", label=name)
        axes[2].axhline(0, color="k", lw=0.8)
        axes[2].set_title("difference B − A", fontsize=10)
        axes[2].set_ylabel("B − A")
    axes[0].set_title("agreement and progress", fontsize=10)
    axes[0].set_ylabel("share (0–1)")
    axes[0].set_ylim(-0.05, 1.05)
    axes[1].set_title("trust and position gap", fontsize=10)
    axes[1].set_ylabel("familiarity (0–1) / gap (issue scale)")
    horizon = models[0][1].setup.rounds
    for ax in axes:
        ax.set_xlim(0, horizon)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        for r, kind in _events(models[0][1]):
            mark(ax, r, kind)
    fig.tight_layout()
    return fig


def network_figure(model: DialogueModel) -> plt.Figure:
    """Delegates as a network: one cluster per side (colour), size by rank, a ring by openness,
    edges by familiarity; empty slots hollow."""
    st, lay = model.state, model.layout
    fig, ax = plt.subplots(figsize=(4.4, 4.0))
    S = lay.S
    pos = np.zeros((lay.N, 2))
    for s in range(S):
        idx = np.flatnonzero(lay.side_of == s)
        centre = np.array([np.cos(2 * np.pi * s / S), np.sin(2 * np.pi * s / S)])
        ang = np.linspace(0, 2 * np.pi, len(idx), endpoint=False) + s
        pos[idx] = centre + 0.35 * np.c_[np.cos(ang), np.sin(ang)] * (len(idx) > 1)
    F = st.familiarity[0]
    i, j = np.nonzero(np.triu(F, 1) > 0.02)
    for a, b in zip(i, j, strict=True):
        ax.plot(*pos[[a, b]].T, color="0.3", lw=0.3 + 3 * F[a, b], alpha=0.2 + 0.7 * F[a, b], zorder=1)
    rank = rank_of(st, lay)[0]
    for s in range(S):
        idx = np.flatnonzero(lay.side_of == s)
        act = st.active[0, idx]
        ax.scatter(
            pos[idx[act], 0],
            pos[idx[act], 1],
            s=80 + 320 * rank[idx[act]],
            color=f"C{s}",
            edgecolor="k",
            linewidth=0.5 + 3 * st.openness[0, idx[act]],
            zorder=2,
            label=lay.side_names[s],
        )
        ax.scatter(pos[idx[~act], 0], pos[idx[~act], 1], s=80, facecolor="none", edgecolor=f"C{s}", zorder=2)
    ax.set_title("delegates: size = rank, ring = openness, edges = familiarity", fontsize=9)
    ax.legend(fontsize=7, loc="lower left", markerscale=0.5)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def positions_figure(model: DialogueModel) -> plt.Figure:
    """Each delegate's private (filled) and expressed (hollow) position; dashed: the lines."""
    st, lay = model.state, model.layout
    fig, ax = plt.subplots(figsize=(4.4, 4.0))
    k = np.arange(lay.N)
    act = st.active[0]
    for s in range(lay.S):
        idx = np.flatnonzero((lay.side_of == s) & act)
        ax.vlines(idx, st.private[0, idx], st.expressed[0, idx], color=f"C{s}", lw=1)
        ax.scatter(idx, st.private[0, idx], color=f"C{s}", s=30, label=f"{lay.side_names[s]} private")
        ax.scatter(idx, st.expressed[0, idx], facecolor="none", edgecolor=f"C{s}", s=30)
        ax.axhline(st.line[0, s], color=f"C{s}", ls="--", lw=0.8)
    ax.set_xticks(k)
    ax.set_xlabel("delegate (slot)")
    ax.set_ylabel("position on the issue (0–1)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("private (filled) vs expressed (hollow); dashed: party lines", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def readout(label: str, model: DialogueModel) -> str:
    """One line of current values (also what the browser tests read)."""
    df = model.datacollector.get_model_vars_dataframe().iloc[-1]
    return (
        f"{label}: round {model.steps} · agreement {int(df['agreement'])} · progress {df['progress']:.3f} · "
        f"trust {df['trust']:.3f} · position gap {df['position_gap']:.3f} · "
        f"ideas reported {int(df['ideas_reported'])} · cost {df['cost']:.1f}"
    )


# ---------------------------------------------------------------- components


@solara.component
def ParamSlider(name: str, current: float):
    p = PARAMS[name]

    def set_value(v):
        overrides.value = {**overrides.value, name: v}

    label = f"{name.replace('_', ' ')} ({p.units})"
    if p.integer:
        solara.SliderInt(label, value=int(current), min=int(p.low), max=int(min(p.high, 20)), step=1, on_value=set_value)
    else:
        solara.SliderFloat(label, value=float(current), min=p.low, max=p.high, step=slider_step(p), on_value=set_value)


@solara.component
def Page():
    name = scenario.value
    defaults = solara.use_memo(lambda: {p: scenario_value(name, p) for p in EXPLORER_PARAMS}, [name])
    params = dict(overrides.value)
    compare_params = {**params, compare_param.value: compare_value.value}
    models = solara.use_memo(
        lambda: (
            [("A", make_model(name, seed.value, params))] + ([("B", make_model(name, seed.value, compare_params))] if compare.value else [])
        ),
        [name, seed.value, tuple(sorted(params.items())), compare.value, compare_param.value, compare_value.value, tick.value],
    )
    _, set_render = solara.use_state(0)

    def on_scenario(_: str) -> None:
        overrides.value = {}
        playing.value = False

    def do_step():
        for _, m in models:
            if m.steps < m.setup.rounds:
                m.step()
        set_render(lambda x: x + 1)

    def do_reset():
        playing.value = False
        tick.value = tick.value - 1  # a new negative value rebuilds the models

    async def play_loop():
        while playing.value and models[0][1].steps < models[0][1].setup.rounds:
            await asyncio.sleep(PLAY_INTERVAL)
            do_step()
        playing.value = False

    solara.lab.use_task(play_loop, dependencies=[playing.value], prefer_threaded=False)

    sc = models[0][1].setup.scenario
    with solara.Columns([1, 3]):
        with solara.Column():
            solara.HTML(tag="h3", unsafe_innerHTML="Dialogue channels")
            solara.Select("scenario", value=scenario, values=scenario_names(), on_value=on_scenario)
            solara.InputInt("seed", value=seed)
            with solara.Row():
                solara.Button("Step", on_click=do_step, color="primary")
                solara.Button("Pause" if playing.value else "Play", on_click=lambda: setattr(playing, "value", not playing.value))
                solara.Button("Reset", on_click=do_reset)
            solara.Switch(label="compare mode: B on the same seed", value=compare)
            if compare.value:
                solara.Select("B changes", value=compare_param, values=EXPLORER_PARAMS)
                p = PARAMS[compare_param.value]
                solara.SliderFloat(
                    f"B's {compare_param.value} ({p.units})", value=compare_value, min=p.low, max=p.high, step=slider_step(p)
                )
            solara.HTML(tag="h4", unsafe_innerHTML="Parameters (scenario values until moved)")
            for pname in EXPLORER_PARAMS:
                ParamSlider(pname, params.get(pname, defaults[pname]))
        with solara.Column():
            solara.HTML(tag="h2", unsafe_innerHTML=html.escape(sc.name))
            solara.HTML(tag="p", unsafe_innerHTML=f"{html.escape(sc.description)}<br><i>Source:</i> {html.escape(sc.source)}")
            for label, m in models:
                solara.HTML(tag="div", unsafe_innerHTML=html.escape(readout(label, m)), classes=[f"readout-{label}"])
            solara.FigureMatplotlib(curves_figure(models), format="png")
            with solara.Columns([1, 1]):
                solara.FigureMatplotlib(network_figure(models[0][1]), format="png")
                solara.FigureMatplotlib(positions_figure(models[0][1]), format="png")
            plt.close("all")
            log = models[0][1].log[-14:]
            items = "".join(f"<li>{html.escape(line)}</li>" for line in log) or "<li>nothing yet</li>"
            solara.HTML(tag="div", unsafe_innerHTML=f"<h4>Log (A)</h4><ul>{items}</ul>")
