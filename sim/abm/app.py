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
shown = solara.reactive(0)  # the round the views show (set each round: what the prompt and the event form read)
resets = solara.reactive(0)  # bumped by Cancel: the controls are made afresh, with the values in use
busy = solara.reactive("")  # what a long replay is doing; the controls wait until it is done
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


#: A replay (compare mode, B's value, an event) of more member-pair-rounds than this runs in a
#: thread, with its progress in the notice: about a second on a shared 2-core machine.
QUIET_REPLAY = 2_000_000


class Busy(Exception):
    """Something was asked while a long replay is under way."""


def not_busy() -> None:
    if busy.value:
        raise Busy(f"wait: {busy.value}")


@solara.lab.task(prefer_threaded=True)
def _replaying(what: str, work: Callable[[], str]) -> None:
    """Run ``work`` (a replay) in a thread, its progress in :data:`busy`; then say what it did."""
    s = the_session()
    last = [0.0]

    def progress(run: str, at: int, end: int) -> None:
        if time.perf_counter() - last[0] > 0.25:  # a few updates a second
            last[0] = time.perf_counter()
            busy.value = f"{what}: run {run} at round {at} of {end} …"

    s.progress = progress
    try:
        notice.value = work()
    except Stopped:
        return
    except InputError as e:
        notice.value = f"refused: {e}"
    except Exception as e:  # the page must never show a traceback
        notice.value = f"refused ({what}): {type(e).__name__}: {e}"
    finally:
        s.progress = None
        busy.value = ""
    bump(True)


def replay(what: str, runs: int | None, work: Callable[[], str]) -> None:
    """Run ``work`` (which replays ``runs`` runs to the current round and returns a notice): at
    once if it is quick, else in a thread with its progress shown (:func:`_replaying`)."""
    s = the_session()
    if s.replay_cost(runs) <= QUIET_REPLAY:
        notice.value = work()
        bump(True)
        return
    playing.value = False
    busy.value = f"{what} …"
    _replaying(what, work)


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
        except Busy as e:
            notice.value = str(e)
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
        not_busy()
        v = parse_value(name, text)
        if s.round == 0:
            s.set_start(name, side, v)
    except (InputError, Busy) as e:
        return e.allowed if isinstance(e, InputError) else str(e)
    if s.round == 0:
        notice.value = f"{name}{'' if side is None else ' (' + side + ')'} = {fmt(v)} from the start{kept(s)}"
        bump(True)
    else:
        playing.value = False  # the prompt names the round the change would apply from: it must not move on
        pending.value = ("param", name, side, v)
    return None


def kept(s: Session) -> str:
    """What a restart says about the mid-run changes it keeps (applied again at their rounds)."""
    if not s.changes:
        return ""
    rounds = ", ".join(str(r) for r in sorted({c.round for c in s.changes}))
    return f"; the {len(s.changes)} mid-run change(s) apply again at round(s) {rounds}"


def request_restart(kind: str, value: Any) -> None:
    s = the_session()
    not_busy()
    if s.round == 0:
        do_restart_with(kind, value)
    else:
        playing.value = False
        pending.value = (kind, None, None, value)


def do_restart_with(kind: str, value: Any) -> None:
    s = the_session()
    playing.value = False
    if kind == "seed":
        s.set_seed(value)
        notice.value = f"seed {value}: restarted at round 0{kept(s)}"
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
        notice.value = f"applied from round {c.round}: {c.describe()} (logged then, marked on the curves)"
    else:
        playing.value = False
        s.set_start(name, side, v)
        notice.value = f"restarted at round 0 with {name} = {fmt(v)}{kept(s)}"
    pending.value = None
    bump(True)


# ---------------------------------------------------------------- components


@solara.component
def ParamRow(p: Param, side: str | None, version: int):
    """One parameter: its name (meaning and units on hover), a slider and a text field with the value."""
    s = the_session()
    error, set_error = solara.use_state("")
    quiet = solara.use_ref(False)
    v = s.current(p.name, side)
    varies = side is None and s.varies(p.name)
    tip = f"{p.meaning} — units: {p.units}; range [{fmt(p.low)}, {fmt(p.high)}]{', whole numbers' if p.integer else ''}"
    if p.name in START_ONLY:
        tip += "; applies at the start (a change restarts)"

    def on_value(x: Any) -> None:
        if quiet.current:  # the control shown the value in use again (in_use), not a student's input
            return
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
                    solara.SliderInt(
                        "", value=in_use(int(v), quiet), min=int(p.low), max=int(p.high), step=1, on_value=on_value, thumb_label=False
                    )
                else:
                    solara.SliderFloat(
                        "", value=in_use(float(v), quiet), min=p.low, max=p.high, step=step_of(p), on_value=on_value, thumb_label=False
                    )
            with solara.Column(style={"width": "110px", "flex": "0 0 110px"}):
                solara.InputText(
                    "value" + (" (varies)" if varies else ""),
                    value=in_use(fmt(v), quiet),
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


def cancel() -> None:
    """Drop the pending change; the controls show the values in use again."""
    pending.set(None)
    resets.value += 1
    notice.value = "cancelled: the run and its setting are as they were"
    bump(True)


@solara.component
def Pending():
    p = pending.value
    _ = shown.value, rev.value  # the round named is the round now (Step may move on while it asks)
    if p is None:
        return
    s = the_session()
    kind, name, side, v = p

    with solara.Column(classes=["pending"], style={"background": "#fff8e1", "padding": "6px"}):
        if kind == "param":
            who = "all sides" if side is None or PARAMS[name].scope is Scope.CHANNEL else side
            at = f"at round {s.round}" + (" (the horizon)" if s.round >= s.rounds else "")
            solara.Text(f"Change {name} ({who}) to {fmt(v)} {at}:")
            with solara.Row():
                if name not in START_ONLY and s.round < s.rounds:
                    solara.Button(f"Apply from round {s.round + 1}", on_click=guard(lambda: apply_pending(True)), color="primary")
                solara.Button("Restart with it", on_click=guard(lambda: apply_pending(False)))
                solara.Button("Cancel", on_click=cancel)
        else:
            solara.Text(f"A new {kind} ({v}) means a new run: restart at round 0?")
            with solara.Row():
                solara.Button("Restart", on_click=guard(lambda: apply_pending(False)), color="primary")
                solara.Button("Cancel", on_click=cancel)


def in_use(value: Any, quiet: Any) -> solara.Reactive:
    """A control's value: ``value``, the value in use, again whenever it changes and each time
    Cancel is clicked (a control keeps what was typed or picked into it; after Cancel that is no
    longer what the run uses). The control is told of these updates too: its handler ignores them
    while ``quiet.current`` (a ``use_ref``) is set."""
    first = solara.use_ref(value)
    r = solara.use_reactive(first.current)  # follows nothing by itself: updated below, quietly

    def sync() -> None:
        quiet.current = True
        try:
            r.value = value
        finally:
            quiet.current = False

    solara.use_memo(sync, [value, resets.value])
    return r


@solara.component
def ScenarioSelect():
    s = the_session()
    _ = srev.value
    quiet = solara.use_ref(False)

    def pick(name: str | None) -> None:
        if not quiet.current and name is not None and name != s.scenario.name:
            request_restart("scenario", name)

    solara.Select(
        "scenario",
        value=in_use(s.scenario.name if s.scenario.name in scenario_names() else None, quiet),
        values=scenario_names(),
        on_value=guard(pick),
    )


@solara.component
def SeedInput():
    s = the_session()
    _ = srev.value
    error, set_error = solara.use_state("")
    quiet = solara.use_ref(False)

    def on_value(text: str) -> None:
        if quiet.current:
            return
        try:
            v = parse_seed(text)
        except InputError as e:
            set_error(f"{s.seed} kept; {e.allowed}")
            return
        set_error("")
        if v != s.seed:
            request_restart("seed", v)

    solara.InputText(
        "seed", value=in_use(str(s.seed), quiet), on_value=on_value, continuous_update=False, error=bool(error), classes=["seed-input"]
    )
    if error:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(error), classes=["seed-error"], style="color: #b00020; font-size: 12px")


@solara.component
def Compare():
    s = the_session()
    _ = srev.value
    error, set_error = solara.use_state("")

    def toggle(on: bool) -> None:
        not_busy()
        if on:
            name = b_param.value
            side = side_arg(b_side.value)
            v = s.current(name, side)

            def work() -> str:
                s.set_compare(True, name, side, v)
                return f"compare mode: B replayed to round {s.round} (A kept)"

            replay("compare mode: replaying B", 1, work)
        else:
            s.set_compare(False)
            notice.value = "compare mode off (A kept)"
            bump(True)

    def set_b(name: str, side: str | None, v: Any, said: str) -> None:
        def work() -> str:
            s.set_b(name, side, v)
            return said

        replay("replaying B", 1, work)

    solara.Switch(label="compare mode: B on the same seed", value=s.compare, on_value=guard(toggle))
    if not s.compare:
        return
    name = b_param.value
    side = side_arg(b_side.value) if PARAMS[name].scope is Scope.SIDE else None

    def pick(n: str) -> None:
        # B's value starts at A's for the new parameter (never a value carried over from another one)
        not_busy()
        b_param.value = n
        sd = side_arg(b_side.value) if PARAMS[n].scope is Scope.SIDE else None
        set_error("")
        set_b(n, sd, s.current(n, sd), f"B changes {n}; B replayed to round {s.round}")

    def pick_side(v: str) -> None:
        not_busy()
        b_side.value = v
        sd = side_arg(v) if PARAMS[name].scope is Scope.SIDE else None
        set_b(name, sd, s.current(name, sd), f"B changes {name} for {v}; B replayed to round {s.round}")

    def set_value(text: Any) -> None:
        not_busy()
        try:
            v = parse_value(name, text)
        except InputError as e:
            set_error(f"{fmt(s.current(name, side, 'B'))} kept; {e.allowed}")
            return
        set_error("")
        set_b(name, side, v, f"B: {name} = {fmt(v)}; B replayed to round {s.round}")

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
    _ = shown.value, rev.value  # re-rendered at the horizon (Play and Step update the views in place)
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
        not_busy()
        try:
            ev = s.event(kind, vals)
        except InputError as e:
            set_error(f"{e.field}: {e.value!r}: {e.allowed}")
            return
        set_error("")

        def work() -> str:
            s.schedule(ev)
            return f"scheduled at round {ev.round}: {ev.describe(s.side_names)}"

        replay("adding the event: replaying the run(s) to this round", None, work)

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
        not_busy()
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


#: Play waits at most this long (seconds) for the browser to draw a round before the next one.
DRAW_WAIT = 2.0


def after_step(s: Session) -> None:
    """Show the round reached: the views in place; a re-render where a control depends on it
    (a mid-run change taking effect changes the panel; at the horizon, the event form)."""
    if s.round >= s.rounds or any(c.round == s.round for c in s.changes):
        bump(True)
    else:
        refresh()
    shown.value = s.round


async def play() -> None:
    """Play: a round, then wait until the browser has drawn it (the curves chart counts what it
    draws) and until the speed allows the next. The browser's pace, not the server's: rounds the
    browser cannot draw in time would queue up, and Pause would wait for them. Not in a hidden
    tab, which draws only when shown again (each option replaces the last: nothing queues).

    At module level and holding no session (it takes the page's each round): Solara keeps the
    first function a page gives ``use_task`` for as long as the server runs, and a closure kept
    its page's whole session after the page had closed."""
    while playing.value and not STOP.is_set():
        s = the_session()
        t0 = time.perf_counter()
        try:
            not_busy()
            stepped = s.step()
        except (Stopped, Busy):  # the server is stopping; a replay is under way (it paused Play)
            return
        if not stepped:
            playing.value = False
            notice.value = f"the run reached its horizon (round {s.rounds})"
            bump(True)
            break
        ws = widgets.value
        chart = ws["curves"][1] if "curves" in ws else None
        before = chart.drawn if chart is not None else 0
        after_step(s)
        deadline = time.perf_counter() + DRAW_WAIT
        while chart is not None and chart.drawn == before and not chart.hidden and playing.value and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(max(0.0, 1.0 / speed.value - (time.perf_counter() - t0)))


@solara.component
def Player():
    s = the_session()
    solara.lab.use_task(play, dependencies=[playing.value, id(s)], prefer_threaded=False)

    def step() -> None:
        not_busy()
        if not s.step():
            notice.value = f"the run is at its horizon (round {s.rounds}); restart to run it again"
        after_step(s)

    def toggle_play() -> None:
        if not playing.value:
            not_busy()
        playing.set(not playing.value)

    def restart() -> None:
        not_busy()
        playing.value = False
        s.restart()
        notice.value = f"restarted at round 0 (same setting{kept(s)})"
        bump(True)

    with solara.Row():
        solara.Button("Step", on_click=guard(step), color="primary")
        solara.Button("Pause" if playing.value else "Play", on_click=guard(toggle_play))
        solara.Button("Restart", on_click=guard(restart))
    with solara.Column(style={"margin-top": "26px"}):  # room for the value bubble above the thumb (it covered Restart)
        solara.SliderFloat("speed (rounds per second)", value=speed, min=1, max=30, step=1, thumb_label="always")


@solara.component
def Notice():
    if busy.value:  # a long replay: what it is doing and how far it is
        with solara.Row(classes=["busy"], style={"align-items": "center", "padding": "4px", "background": "#fff3e0"}):
            solara.ProgressLinear(True)
            solara.HTML(tag="div", unsafe_innerHTML=html.escape(busy.value), classes=["busy-text"])
    elif notice.value:
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
            ScenarioSelect()
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
