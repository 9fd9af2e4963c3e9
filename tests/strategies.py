"""Hypothesis strategies for the test suite: scenario and experiment documents (as dicts and as
TOML text), mostly plausible, with any field liable to hold a value of the wrong type."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

from sim.core.params import CHANNELS, PARAMS
from sim.core.setup import EventKind

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


param_values = st.dictionaries(st.sampled_from([*PARAMS, "A.turnover", ".turnover", "Z.handover"]), either(st.floats(0, 1)), max_size=3)

events = st.fixed_dictionaries(
    {"round": either(st.integers(0, 8)), "kind": either(st.sampled_from([k.value for k in EventKind]))},
    optional={
        "side": either(st.sampled_from(["A", "B", "all", "Z"])),
        "severity": either(st.floats(0, 1)),
        "fraction": either(st.floats(0, 1)),
        "factor": either(st.floats(0, 1)),
        "regime": either(st.sampled_from(["lean", "ripe"])),
        "fresh_personnel": either(st.booleans()),
        "setup_rounds": either(st.integers(0, 5)),
    },
)

sides = st.fixed_dictionaries(
    {"name": either(st.sampled_from(["A", "B", "C", "all", "A.B"]))},
    optional={"host": either(st.booleans()), "regime": either(st.sampled_from(["lean", "ripe"])), "params": either(param_values)},
)

scenario_docs = st.fixed_dictionaries(
    {},
    optional={
        "name": either(st.sampled_from(["fuzz", "fuzz-2", "../x", "/abs/x"])),
        "description": either(st.text(max_size=20)),
        "rounds": either(st.integers(1, 6)),
        "channel": either(st.sampled_from(list(CHANNELS))),
        "channel_open": either(st.booleans()),
        "params": either(param_values),
        "sides": either(st.lists(sides, min_size=2, max_size=3)),
        "events": either(st.lists(events, max_size=3)),
        "bogus": values,
    },
)

arms = st.fixed_dictionaries(
    {"name": either(st.sampled_from(["a", "b", "keep-open", "../x"]))},
    optional={"events": either(st.lists(events, max_size=2)), "channel_open": either(st.booleans()), "params": either(param_values)},
)

bounds = st.lists(st.floats(0, 1), min_size=2, max_size=2).map(sorted)
designs = st.fixed_dictionaries(
    {},
    optional={
        "kind": either(st.sampled_from(["none", "grid", "lhs", "sobol", "morris", "table"])),
        "params": either(st.dictionaries(st.sampled_from(["turnover", "handover", "A.openness", ".turnover"]), either(bounds), max_size=2)),
        "rows": either(st.lists(param_values, max_size=3)),
        "samples": either(st.integers(1, 4)),
        "levels": either(st.integers(2, 4)),
        "second_order": either(st.booleans()),
        "common_seeds": either(st.booleans()),
    },
)

outputs = st.fixed_dictionaries({}, optional={"timeseries": either(st.just(["trust"])), "every": either(st.integers(1, 3))})

experiment_docs = st.fixed_dictionaries(
    {"scenarios": either(st.lists(st.sampled_from(["lean-years", "never-opened", "nope"]), min_size=1, max_size=2))},
    optional={
        "name": either(st.sampled_from(["fuzz", "../x"])),
        "seed": either(st.integers(0, 5)),
        "replications": either(st.integers(1, 2)),
        "rounds": either(st.integers(1, 6)),
        "arms": either(st.lists(arms, min_size=1, max_size=2)),
        "params": either(param_values),
        "design": either(designs),
        "output": either(outputs),
        "chunk_size": either(st.integers(1, 4)),
        "analysis": either(st.fixed_dictionaries({}, optional={"shift_round": values, "window": values, "phase": values})),
        "full": values,
    },
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
