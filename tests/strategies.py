"""Hypothesis strategies for the test suite: scenario and experiment documents (as dicts and as
TOML text), mostly plausible, with any field liable to hold a value of the wrong type."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

from sim.core.params import CHANNELS, PARAMS
from sim.core.setup import BOOL, EVENT_FIELDS, INT, REGIME, SIDED, EventKind

WORDS = [
    "A",
    "B",
    "all",
    "lean",
    "ripe",
    "track1",
    "track2",
    "back-channel",
    "none",
    "grid",
    "lhs",
    "sobol",
    "morris",
    "table",
    "lean-years",
    "leadership-change",
    "turnover",
    "A.turnover",
    ".turnover",
    "window",
    "../../x",
    "/tmp/x",
    "",
    "\ufeff",
    "x" * 70,
]

scalars = st.one_of(
    st.integers(-3, 12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.booleans(),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
keys = st.one_of(st.sampled_from(WORDS + list(PARAMS)[:6]), st.text(min_size=1, max_size=6))
#: Any TOML value: scalars, arrays and tables, nested a few levels.
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3), max_leaves=8)


def either(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a plausible value, sometimes any value at all."""
    return st.one_of(good, good, good, values)


def _any_events(maybe: Any, pick: Any) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {"round": maybe(st.integers(0, 8)), "kind": pick([k.value for k in EventKind], [])},
        optional={
            "side": pick(["A", "B", "all"], ["Z"]),
            "severity": maybe(st.floats(0, 1)),
            "fraction": maybe(st.floats(0, 1)),
            "factor": maybe(st.floats(0, 1)),
            "regime": pick(["lean", "ripe"], []),
            "fresh_personnel": maybe(st.booleans()),
            "setup_rounds": maybe(st.integers(0, 5)),
        },
    )


def _plausible_events() -> st.SearchStrategy:
    """Well-formed events of the kinds that act on sides: round, kind, side and the kind's fields
    within their bounds (from the event spec, sim.core.setup.EVENT_FIELDS)."""

    def field(typ: str, lo: float, hi: float) -> st.SearchStrategy:
        if typ == REGIME:
            return st.sampled_from(["lean", "ripe"])
        if typ == BOOL:
            return st.booleans()
        if typ == INT:
            return st.integers(int(lo), min(int(hi), 5))
        return st.floats(lo, hi)

    def of_kind(kind: EventKind) -> st.SearchStrategy:
        fields = EVENT_FIELDS[kind]
        required = {k: field(t, lo, hi) for k, (t, lo, hi, default) in fields.items() if default is None}
        optional = {k: field(t, lo, hi) for k, (t, lo, hi, default) in fields.items() if default is not None}
        base = {"round": st.integers(1, 4), "kind": st.just(kind.value), "side": st.sampled_from(["A", "B", "all"])}
        return st.fixed_dictionaries(base | required, optional=optional)

    return st.sampled_from(sorted(SIDED, key=lambda k: k.value)).flatmap(of_kind)


def _documents(plausible: bool) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """(scenario documents, experiment documents). ``plausible``: every field well-formed, so most
    documents are valid and reach the run; otherwise any field may hold a wrong or unsafe value."""

    def maybe(good: st.SearchStrategy) -> st.SearchStrategy:
        return good if plausible else either(good)

    def pick(good: list, bad: list) -> st.SearchStrategy:
        return maybe(st.sampled_from(good if plausible else good + bad))

    param_values = st.dictionaries(
        st.sampled_from(["turnover", "handover", "A.openness"] if plausible else [*PARAMS, "A.turnover", ".turnover", "Z.handover"]),
        maybe(st.floats(0, 1)),
        max_size=3,
    )
    side_params = st.dictionaries(st.sampled_from(["turnover", "openness"]), maybe(st.floats(0, 1)), max_size=2)
    events = _plausible_events() if plausible else _any_events(maybe, pick)
    sides = st.fixed_dictionaries(
        {"name": pick(["A", "B"], ["C", "all", "A.B"])},
        optional={"regime": pick(["lean", "ripe"], []), "params": maybe(side_params)}
        | ({} if plausible else {"host": maybe(st.booleans())}),
    )
    two_sides = st.tuples(sides, sides).map(lambda ab: [{**ab[0], "name": "A"}, {**ab[1], "name": "B"}])
    scenario = st.fixed_dictionaries(
        {},
        optional={
            "name": pick(["fuzz", "fuzz-2"], ["../x", "/abs/x"]),
            "description": maybe(st.text(max_size=20)),
            "rounds": maybe(st.integers(4, 6) if plausible else st.integers(1, 6)),
            "channel": pick(list(CHANNELS), []),
            "channel_open": maybe(st.booleans()),
            "params": maybe(param_values),
            "sides": two_sides if plausible else maybe(st.lists(sides, min_size=2, max_size=3)),
            "events": maybe(st.lists(events, max_size=3)),
        }
        | ({} if plausible else {"bogus": values}),
    )
    arm_events = st.lists(events.map(lambda e: {**e, "side": "all"}) if plausible else events, max_size=2)
    arms = st.fixed_dictionaries(
        {"name": pick(["a", "b", "keep-open"], ["../x"])},
        optional={"events": maybe(arm_events), "channel_open": maybe(st.booleans()), "params": maybe(param_values)},
    )
    arm_lists = st.lists(arms, min_size=1, max_size=2, unique_by=(lambda a: a["name"]) if plausible else None)
    bounds = st.lists(st.floats(0, 1), min_size=2, max_size=2, unique=plausible).map(sorted)
    swept = ["turnover", "handover", "A.openness"]
    designs = st.fixed_dictionaries(
        {},
        optional={
            "kind": pick(["none", "grid", "lhs", "sobol", "morris"], ["table"]),
            "params": maybe(st.dictionaries(st.sampled_from(swept if plausible else [*swept, ".turnover"]), maybe(bounds), max_size=2)),
            "samples": maybe(st.integers(1, 4)),
            "levels": maybe(st.integers(2, 4)),
            "second_order": maybe(st.booleans()),
            "common_seeds": pick([True, False], ["base"]),
        }
        | ({} if plausible else {"rows": maybe(st.lists(param_values, max_size=3))}),
    )
    outputs = st.fixed_dictionaries({}, optional={"timeseries": maybe(st.just(["trust"])), "every": maybe(st.integers(1, 3))})
    names = ["lean-years", "leadership-change"]
    experiment = st.fixed_dictionaries(
        {"scenarios": maybe(st.lists(st.sampled_from(names if plausible else [*names, "nope"]), min_size=1, max_size=2, unique=plausible))},
        optional={
            "name": pick(["fuzz"], ["../x"]),
            "seed": maybe(st.integers(0, 5)),
            "replications": maybe(st.integers(1, 2)),
            "rounds": maybe(st.integers(20, 40) if plausible else st.integers(1, 6)),
            "arms": maybe(arm_lists),
            "params": maybe(param_values),
            "design": maybe(designs),
            "output": maybe(outputs),
            "chunk_size": maybe(st.integers(1, 4)),
        }
        | (
            {}
            if plausible
            else {
                "analysis": maybe(st.fixed_dictionaries({}, optional={"shift_round": values, "window": values, "phase": values})),
                "full": values,
            }
        ),
    )
    return scenario, experiment


def one_field_wrong(docs: st.SearchStrategy, fields: list[str]) -> st.SearchStrategy:
    """A document from ``docs`` with one top-level field set to any value at all: the rest stays
    well-formed, so the document reaches the check of that one field (and past it, if it is missing)."""
    return st.tuples(docs, st.sampled_from(fields), values).map(lambda t: {**t[0], t[1]: t[2]})


def one_param_wrong(docs: st.SearchStrategy) -> st.SearchStrategy:
    """A document from ``docs`` whose ``[params]`` table sets one parameter to any value at all."""
    return st.tuples(docs, st.sampled_from(list(PARAMS)), values).map(lambda t: {**t[0], "params": {t[1]: t[2]}})


_plausible, _any = _documents(True), _documents(False)
#: Scenario documents: well-formed (most valid, so the run is exercised), one field wrong, or any
#: field liable to hold a wrong, unsafe or unknown value.
scenario_docs = st.one_of(
    _plausible[0],
    one_field_wrong(_plausible[0], ["name", "rounds", "channel", "channel_open", "params", "sides", "events", "start_year"]),
    one_param_wrong(_plausible[0]),
    _any[0],
)
#: Experiment documents, mixed the same way.
experiment_docs = st.one_of(
    _plausible[1],
    one_field_wrong(
        _plausible[1],
        ["name", "scenarios", "seed", "replications", "rounds", "arms", "params", "design", "output", "chunk_size", "analysis"],
    ),
    one_param_wrong(_plausible[1]),
    _any[1],
)


# ---------------------------------------------------------------- TOML text


def toml_value(v: Any) -> str:
    """One value as TOML (tables inline)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


#: Raw file contents: TOML of a document, mangled, or arbitrary bytes.
def raw_files(docs: st.SearchStrategy) -> st.SearchStrategy:
    text = docs.map(to_toml)
    return st.one_of(
        text.map(str.encode),
        text.map(lambda t: b"\xef\xbb\xbf" + t.encode()),
        st.tuples(text, st.integers(0, 200)).map(lambda x: x[0][: x[1]].encode()),
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
    )
