"""The interactive explorer (Solara, the stack under Mesa's SolaraViz).

Start it with ``dialogue-sim app``. Pick a scenario and a seed, then Step or Play (at a chosen
speed). Every parameter of the spec is in the panel, grouped, with its meaning and units on
hover; side parameters can be set for all sides or one. Every input is checked against the spec
first: a bad value gets a message at its control and the run stays as it was. A change made
mid-run asks whether to apply it from the next round (logged and marked on the curves) or to
restart with it. Events (a downgrade, a leadership change, ...) can be added at the next round.
The setting saves as a scenario file that ``dialogue-sim run`` reproduces; the time series
downloads as CSV and the figures as PNG. Compare mode runs B (one parameter changed) on the same
seed beside A.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import solara
import solara.lab

from sim.abm.export import figures_png, scenario_toml, timeseries_csv
from sim.abm.session import START_ONLY, STOP, Session, Stopped, parse_seed, parse_value
from sim.abm.views import curves_option, network_option, positions_option, readout
from sim.abm.widgets import Chart, DownloadButton, FileInput
from sim.core.params import PARAMS, Param, Scope
from sim.core.setup import BOOL, EVENT_FIELDS, INT, REGIME, SIDED, EventKind
from sim.scenarios import InputError, load_scenario, scenario_names

DEFAULT_SCENARIO = "leadership-change"
ALL = "all sides"

session: solara.Reactive[Session | None] = solara.reactive(None)
rev = solara.reactive(0)  # bumped when the runs advance (views re-render)
srev = solara.reactive(0)  # bumped when the setting changes (the panel re-renders)
notice = solara.reactive("")  # one line: what just happened, or what was refused
widgets: solara.Reactive[dict] = solara.reactive({})  # the views' widgets, updated in place each round
pending: solara.Reactive[tuple | None] = solara.reactive(None)  # a change waiting for "apply now / restart"
playing = solara.reactive(False)
speed = solara.reactive(10.0)  # rounds per second while playing
threshold = solara.reactive(0.1)  # familiarity above which the network shows an edge
side_sel = solara.reactive(ALL)
group_sel = solara.reactive("")  # the parameter group shown (the first if empty)  # which side the panel sets
b_param = solara.reactive("turnover")
b_side = solara.reactive(ALL)


def the_session() -> Session:
    s = session.value
    if s is None:
        s = Session(load_scenario(DEFAULT_SCENARIO), seed=1)
        session.set(s)
    return s


def bump(setting: bool = False) -> None:
    rev.value += 1
    if setting:
        srev.value += 1


def guard(fn: Callable[..., Any], where: str = "") -> Callable[..., Any]:
    """Run a handler; bad input or any failure becomes one line in the notice, never a traceback."""

    def run(*args: Any) -> Any:
        try:
            return fn(*args)
        except Stopped:  # the server is stopping: the page is going away, nothing to say
            pass
        except InputError as e:
            notice.value = f"refused: {e}"
        except Exception as e:  # the page must never show a traceback
            notice.value = f"refused{' (' + where + ')' if where else ''}: {type(e).__name__}: {e}"
        return None

    return run


def side_arg(value: str) -> str | None:
    return None if value == ALL else value


def groups() -> dict[str, list[Param]]:
    """Parameters by group (the spec's ``group`` if it has one, else by scope)."""
    out: dict[str, list[Param]] = {}
    for p in PARAMS.values():
        g = getattr(p, "group", None) or ("per side" if p.scope is Scope.SIDE else "channel (one value per run)")
        out.setdefault(str(g), []).append(p)
    return out


def fmt(v: float) -> str:
    return f"{v:g}"


def step_of(p: Param) -> float:
    return 1 if p.integer else round((p.high - p.low) / 100, 6)


# ---------------------------------------------------------------- changes


def request_change(name: str, side: str | None, text: Any) -> str | None:
    """Validate a parameter change; at round 0 apply it, later ask (apply now or restart). Returns an error or None."""
    s = the_session()
    try:
        v = parse_value(name, text)
    except InputError as e:
        return e.allowed
    if s.round == 0:
        s.set_start(name, side, v)
        notice.value = f"{name}{'' if side is None else ' (' + side + ')'} = {fmt(v)} from the start"
        bump(True)
    else:
        pending.value = ("param", name, side, v)
    return None


def request_restart(kind: str, value: Any) -> None:
    s = the_session()
    if s.round == 0:
        do_restart_with(kind, value)
    else:
        pending.value = (kind, None, None, value)


def do_restart_with(kind: str, value: Any) -> None:
    s = the_session()
    playing.value = False
    if kind == "seed":
        s.set_seed(value)
        notice.value = f"seed {value}: restarted at round 0"
    elif kind == "scenario":
        session.set(Session(load_scenario(value), seed=s.seed))
        notice.value = f"scenario {value}: started at round 0"
    pending.value = None
    bump(True)


def apply_pending(now: bool) -> None:
    if pending.value is None:
        return
    kind, name, side, v = pending.value
    s = the_session()
    if kind != "param":
        do_restart_with(kind, v)
        return
    if now:
        c = s.change_now(name, side, v)
        notice.value = f"applied from round {c.round}: {c.describe()} (logged, marked on the curves)"
    else:
        playing.value = False
        s.set_start(name, side, v)
        notice.value = f"restarted at round 0 with {name} = {fmt(v)}"
    pending.value = None
    bump(True)


# ---------------------------------------------------------------- components


@solara.component
def ParamRow(p: Param, side: str | None, version: int):
    """One parameter: its name (meaning and units on hover), a slider and a text field with the value."""
    s = the_session()
    error, set_error = solara.use_state("")
    v = s.current(p.name, side)
    varies = side is None and s.varies(p.name)
    tip = f"{p.meaning} — units: {p.units}; range [{fmt(p.low)}, {fmt(p.high)}]{', whole numbers' if p.integer else ''}"
    if p.name in START_ONLY:
        tip += "; applies at the start (a change restarts)"

    def on_value(x: Any) -> None:
        err = request_change(p.name, side, x)
        set_error(err or "")

    label = f"{p.name.replace('_', ' ')} ({p.units})"
    with solara.Column(gap="0px", classes=[f"param-{p.name}"], style={"margin-bottom": "2px"}):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f'<span title="{html.escape(tip)}" style="cursor: help">{html.escape(label)}</span>',
            classes=["param-label"],
            style="font-size: 13px",
        )
        with solara.Row(style={"align-items": "center"}, gap="4px"):
            with solara.Column(style={"flex": "1 1 auto", "min-width": "120px"}):
                if p.integer:
                    solara.SliderInt("", value=int(v), min=int(p.low), max=int(p.high), step=1, on_value=on_value, thumb_label=False)
                else:
                    solara.SliderFloat("", value=float(v), min=p.low, max=p.high, step=step_of(p), on_value=on_value, thumb_label=False)
            with solara.Column(style={"width": "110px", "flex": "0 0 110px"}):
                solara.InputText(
                    "value" + (" (varies)" if varies else ""),
                    value=fmt(v),
                    on_value=on_value,
                    continuous_update=False,
                    error=bool(error),
                    classes=["param-value"],
                )
        if error:
            solara.HTML(
                tag="div",
                unsafe_innerHTML=html.escape(f"{fmt(v)} kept; {error}"),
                classes=["param-error"],
                style="color: #b00020; font-size: 12px",
            )
        if s.compare:
            b = s.current(p.name, side, "B")
            if b != v:
                solara.HTML(tag="div", unsafe_innerHTML=f"B: {fmt(b)}", classes=["param-b"], style="color: #6a1b9a; font-size: 12px")


@solara.component
def ParamPanel():
    """The parameters of one group at a time (fewer widgets: a lighter page)."""
    version = srev.value
    s = the_session()
    side = side_arg(side_sel.value)
    if side is not None and side not in s.side_names:
        side = None
    gs = groups()
    group = group_sel.value if group_sel.value in gs else next(iter(gs))
    with solara.Row():
        solara.Select("parameter group", value=group, values=list(gs), on_value=group_sel.set)
        solara.Select("set side parameters for", value=side_sel, values=[ALL, *s.side_names])
    with solara.Column(gap="0px"):
        for p in gs[group]:
            ParamRow(p, None if p.scope is Scope.CHANNEL else side, version)


@solara.component
def Pending():
    p = pending.value
    if p is None:
        return
    s = the_session()
    kind, name, side, v = p

    def cancel() -> None:
        pending.set(None)
        bump(True)

    with solara.Column(classes=["pending"], style={"background": "#fff8e1", "padding": "6px"}):
        if kind == "param":
            who = "all sides" if side is None or PARAMS[name].scope is Scope.CHANNEL else side
            solara.Text(f"Change {name} ({who}) to {fmt(v)} at round {s.round}:")
            with solara.Row():
                if name not in START_ONLY:
                    solara.Button(f"Apply from round {s.round + 1}", on_click=guard(lambda: apply_pending(True)), color="primary")
                solara.Button("Restart with it", on_click=guard(lambda: apply_pending(False)))
                solara.Button("Cancel", on_click=lambda: pending.set(None))
        else:
            solara.Text(f"A new {kind} ({v}) means a new run: restart at round 0?")
            with solara.Row():
                solara.Button("Restart", on_click=guard(lambda: apply_pending(False)), color="primary")
                solara.Button("Cancel", on_click=cancel)


@solara.component
def SeedInput():
    s = the_session()
    _ = srev.value
    error, set_error = solara.use_state("")

    def on_value(text: str) -> None:
        try:
            v = parse_seed(text)
        except InputError as e:
            set_error(f"{s.seed} kept; {e.allowed}")
            return
        set_error("")
        if v != s.seed:
            request_restart("seed", v)

    solara.InputText("seed", value=str(s.seed), on_value=on_value, continuous_update=False, error=bool(error), classes=["seed-input"])
    if error:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(error), classes=["seed-error"], style="color: #b00020; font-size: 12px")


@solara.component
def Compare():
    s = the_session()
    _ = srev.value
    error, set_error = solara.use_state("")

    def toggle(on: bool) -> None:
        if on:
            name = b_param.value
            side = side_arg(b_side.value)
            s.set_compare(True, name, side, s.current(name, side))
            notice.value = f"compare mode: B replayed to round {s.round} (A kept)"
        else:
            s.set_compare(False)
            notice.value = "compare mode off (A kept)"
        bump(True)

    solara.Switch(label="compare mode: B on the same seed", value=s.compare, on_value=guard(toggle))
    if not s.compare:
        return
    name = b_param.value
    side = side_arg(b_side.value) if PARAMS[name].scope is Scope.SIDE else None

    def pick(n: str) -> None:
        # B's value starts at A's for the new parameter (never a value carried over from another one)
        b_param.value = n
        sd = side_arg(b_side.value) if PARAMS[n].scope is Scope.SIDE else None
        s.set_b(n, sd, s.current(n, sd))
        set_error("")
        bump(True)

    def pick_side(v: str) -> None:
        b_side.value = v
        sd = side_arg(v) if PARAMS[name].scope is Scope.SIDE else None
        s.set_b(name, sd, s.current(name, sd))
        bump(True)

    def set_value(text: Any) -> None:
        try:
            v = parse_value(name, text)
        except InputError as e:
            set_error(f"{fmt(s.current(name, side, 'B'))} kept; {e.allowed}")
            return
        set_error("")
        s.set_b(name, side, v)
        notice.value = f"B: {name} = {fmt(v)}; B replayed to round {s.round}"
        bump(True)

    p = PARAMS[name]
    bv = s.current(name, side, "B")
    solara.Select("B changes", value=name, values=list(PARAMS), on_value=guard(pick))
    if p.scope is Scope.SIDE:
        solara.Select(
            "for",
            value=b_side.value if b_side.value in [ALL, *s.side_names] else ALL,
            values=[ALL, *s.side_names],
            on_value=guard(pick_side),
        )
    b_text = f"B's {name}: {fmt(bv)} (A: {fmt(s.current(name, side))})"
    solara.HTML(
        tag="div",
        unsafe_innerHTML=f'<span title="{html.escape(p.meaning + " (" + p.units + ")")}">{html.escape(b_text)}</span>',
        classes=["b-label"],
    )
    with solara.Row(style={"align-items": "center"}):
        with solara.Column(style={"flex": "1 1 auto"}):
            if p.integer:
                solara.SliderInt("", value=int(bv), min=int(p.low), max=int(p.high), on_value=guard(set_value), thumb_label=False)
            else:
                solara.SliderFloat(
                    "", value=float(bv), min=p.low, max=p.high, step=step_of(p), on_value=guard(set_value), thumb_label=False
                )
        with solara.Column(style={"width": "110px", "flex": "0 0 110px"}):
            solara.InputText(
                "B value", value=fmt(bv), on_value=guard(set_value), continuous_update=False, error=bool(error), classes=["b-value"]
            )
    if error:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(error), classes=["b-error"], style="color: #b00020; font-size: 12px")


def _convert(typ: str, text: str) -> Any:
    text = text.strip()
    if typ == INT:
        return int(text) if text.lstrip("-").isdigit() else text
    if typ in (BOOL, REGIME):
        return {"true": True, "false": False}.get(text, text) if typ == BOOL else text
    try:
        return float(text)
    except ValueError:
        return text


@solara.component
def Intervene():
    s = the_session()
    kind, set_kind = solara.use_state(EventKind.DELEGATION_DOWNGRADE.value)
    who, set_who = solara.use_state("all")
    texts, set_texts = solara.use_state(cast(dict[str, str], {}))
    error, set_error = solara.use_state("")
    k = EventKind(kind)
    fields = EVENT_FIELDS[k]

    def add() -> None:
        vals: dict[str, Any] = {}
        for f, (typ, _lo, _hi, _default) in fields.items():
            t = texts.get(f, "")
            if t != "":
                vals[f] = _convert(typ, t)
        if k in SIDED:
            vals["side"] = who
        try:
            ev = s.intervene(kind, vals)
        except InputError as e:
            set_error(f"{e.field}: {e.value!r}: {e.allowed}")
            return
        set_error("")
        notice.value = f"scheduled at round {ev.round}: {ev.describe(s.side_names)}"
        bump(True)

    def pick(v: str) -> None:
        set_kind(v)
        set_texts({})
        set_error("")

    def set_text(f: str, v: str) -> None:
        set_texts({**texts, f: v})

    solara.Select("event", value=kind, values=[e.value for e in EventKind], on_value=pick)
    if k in SIDED:
        solara.Select("side", value=who if who in ["all", *s.side_names] else "all", values=["all", *s.side_names], on_value=set_who)
    for f, (typ, lo, hi, default) in fields.items():
        hint = "lean or ripe" if typ == REGIME else "true or false" if typ == BOOL else f"{typ} in [{fmt(lo)}, {fmt(hi)}]"
        dflt = "the parameter's value" if default is None else str(default)
        solara.InputText(
            f"{f} ({hint}; default {dflt})",
            value=texts.get(f, ""),
            on_value=partial(set_text, f),
            classes=[f"event-{f}"],
        )
    disabled = s.round >= s.rounds
    solara.Button("Add at the next round", on_click=guard(add), disabled=disabled, classes=["add-event"])
    if error:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(error), classes=["event-error"], style="color: #b00020; font-size: 12px")


@solara.component
def SaveLoad():
    s = the_session()
    name = f"{s.scenario.name}-seed{s.seed}"
    with solara.Row(style={"flex-wrap": "wrap"}):
        for label, fn, ext, mime in (
            ("Save scenario (TOML)", lambda: scenario_toml(s), "toml", "application/toml"),
            ("Time series (CSV)", lambda: timeseries_csv(s), "csv", "text/csv"),
            ("Figures (PNG)", lambda: figures_png(s, threshold.value), "png", "image/png"),
        ):
            DownloadButton.element(
                label=label, css_class=f"download-{ext}", filename=f"{name}.{ext}", mime_type=mime, producer=fn, on_error=notice.set
            )

    def on_file(info: dict) -> None:
        s.load(info["data"], info["name"])
        playing.value = False
        notice.value = f"loaded {info['name']} (scenario {s.scenario.name}); at round 0"
        bump(True)

    FileInput.element(label="Load a scenario (.toml):", accept=".toml", css_class="load-toml", receiver=guard(on_file, "load"))
    solara.FileDrop(label="… or drop a .toml file here", on_file=guard(on_file, "load"), lazy=False)


def view_state(s: Session) -> dict[str, Any]:
    """What the views show now, keyed like the widgets that show it (the readouts last: they
    change after the charts in the same message batch)."""
    out: dict[str, Any] = {"curves": curves_option(s.models, s.marks(), s.rounds)}
    for label, m in s.models.items():
        out[f"network-{label}"] = network_option(m, threshold.value, f"delegates ({label})")
    out["positions"] = positions_option(s.models["A"], "positions (A)")
    log = s.models["A"].log[-16:]
    items = "".join(f"<li>{html.escape(line)}</li>" for line in log) or "<li>nothing yet</li>"
    out["log"] = f"<h4>Log (A)</h4><ul>{items}</ul>"
    for label, m in s.models.items():
        out[f"readout-{label}"] = html.escape(readout(label, m))
    return out


def refresh() -> None:
    """Push the current round to the views by setting their widgets' values (no re-render:
    this is what keeps Step and Play fast); re-render if the set of views changed. Each
    element's props are updated too, so a later render of any other component keeps them."""
    s = the_session()
    ws = widgets.value
    state = view_state(s)
    if set(state) != set(ws):
        rev.value += 1
        return
    for key, v in state.items():
        el, w = ws[key]
        prop = "option" if isinstance(w, Chart) else "unsafe_innerHTML"
        el.kwargs[prop] = v
        setattr(w, prop, v)


def _chart(option: dict, cls: str, style: str) -> Any:
    return Chart.element(option=option, attributes={"style": style, "class": cls})


def _html(text: str, cls: str) -> Any:
    return solara.widgets.HTML.element(tag="div", unsafe_innerHTML=text, attributes={"class": cls})


@solara.component
def Views():
    _ = rev.value
    s = the_session()
    _ = threshold.value
    state = view_state(s)
    renders = solara.use_ref(0)
    renders.current += 1
    n = renders.current  # fresh keys: each render mounts fresh widgets, so each element maps to its widget
    els: dict[str, Any] = {}
    for label in s.models:
        els[f"readout-{label}"] = _html(state[f"readout-{label}"], f"readout-{label}").key(f"readout-{label}-{n}")
    els["curves"] = _chart(state["curves"], "curves", "height: 330px; width: 100%").key(f"curves-{n}")
    with solara.Row(style={"flex-wrap": "wrap"}):
        for label in s.models:
            el = _chart(state[f"network-{label}"], f"network-{label}", "height: 380px; width: 380px")
            els[f"network-{label}"] = el.key(f"network-{label}-{n}")
        els["positions"] = _chart(state["positions"], "positions", "height: 380px; width: 420px").key(f"positions-{n}")
    els["log"] = _html(state["log"], "event-log").key(f"log-{n}")

    def register() -> None:
        try:
            widgets.set({k: (el, solara.get_widget(el)) for k, el in els.items()})
        except KeyError:  # not mounted (yet): refresh() re-renders instead of updating in place
            widgets.set({})

    solara.use_effect(register, [n])


@solara.component
def Player():
    s = the_session()

    async def loop() -> None:
        while playing.value and not STOP.is_set():
            t0 = time.perf_counter()
            try:
                stepped = s.step()
            except Stopped:  # the server is stopping
                return
            if not stepped:
                playing.value = False
                notice.value = f"the run reached its horizon (round {s.rounds})"
                break
            refresh()
            await asyncio.sleep(max(0.0, 1.0 / speed.value - (time.perf_counter() - t0)))

    solara.lab.use_task(loop, dependencies=[playing.value, id(s)], prefer_threaded=False)

    def step() -> None:
        if not s.step():
            notice.value = f"the run is at its horizon (round {s.rounds}); restart to run it again"
        refresh()

    def restart() -> None:
        playing.value = False
        s.restart()
        notice.value = "restarted at round 0 (same setting)"
        bump(True)

    with solara.Row():
        solara.Button("Step", on_click=guard(step), color="primary")
        solara.Button("Pause" if playing.value else "Play", on_click=lambda: playing.set(not playing.value))
        solara.Button("Restart", on_click=guard(restart))
    with solara.Column(style={"margin-top": "26px"}):  # room for the value bubble above the thumb (it covered Restart)
        solara.SliderFloat("speed (rounds per second)", value=speed, min=1, max=30, step=1, thumb_label="always")


@solara.component
def Notice():
    if notice.value:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(notice.value), classes=["notice"], style="padding: 4px; background: #eef")


@solara.component
def Page():
    s = the_session()
    _ = srev.value
    solara.Title("Dialogue channels")
    solara.Style(".v-slider {margin-top: 0} .param-label {margin-top: 4px}")
    with solara.Columns([1, 3]):
        with solara.Column():
            solara.HTML(tag="h3", unsafe_innerHTML="Dialogue channels")
            solara.Select(
                "scenario",
                value=s.scenario.name if s.scenario.name in scenario_names() else None,
                values=scenario_names(),
                on_value=guard(lambda v: request_restart("scenario", v)),
            )
            SeedInput()
            Player()
            Pending()
            solara.HTML(tag="h4", unsafe_innerHTML="Compare")
            with solara.Column():
                Compare()
            solara.HTML(tag="h4", unsafe_innerHTML="Add an event at the next round")
            with solara.Column():
                Intervene()
            solara.HTML(tag="h4", unsafe_innerHTML="Save, load, export")
            with solara.Column():
                SaveLoad()
            solara.SliderFloat("network: edges above familiarity", value=threshold, min=0, max=1, step=0.05, thumb_label="always")
            solara.HTML(tag="h4", unsafe_innerHTML="Parameters")
            ParamPanel()
        with solara.Column():
            solara.HTML(tag="h2", unsafe_innerHTML=html.escape(s.scenario.name))
            solara.HTML(
                tag="p", unsafe_innerHTML=f"{html.escape(s.scenario.description)}<br><i>Source:</i> {html.escape(s.scenario.source)}"
            )
            Notice()
            Views()
