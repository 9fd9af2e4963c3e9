"""Scenarios: TOML files of sides, parameters and a timeline of events, validated on load.

Every problem is reported as one :class:`InputError` line naming the file, the field,
the bad value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from sim.core.names import check_name, is_safe_name, safe_filename
from sim.core.params import CHANNEL_PARAMS, CHANNELS, PARAMS, SIDE_PARAMS
from sim.core.setup import BOOL, EVENT_FIELDS, INT, REGIME, SIDED, Event, EventKind, InputError, Regime, Scenario, Setup, SideSpec

#: The shipped scenarios and experiments: package data (``sim/data``), so an installed wheel has them.
SCENARIO_DIR = Path(str(files("sim").joinpath("data", "scenarios")))
EXPERIMENT_DIR = Path(str(files("sim").joinpath("data", "experiments")))


# ---------------------------------------------------------------- loading

_TOP = {"name", "description", "source", "rounds", "channel", "channel_open", "start_year", "params", "sides", "events"}
_SIDE = {"name", "host", "regime", "params"}


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def find_scenario(name_or_path: str | os.PathLike) -> Path:
    """A shipped scenario's name, or a path to a TOML file. A bare shipped name (no ``.toml``, no
    folder) is the shipped scenario even where the working folder holds something of that name —
    a results folder ``lean-years`` made the report's decomposition silently fail to rebuild its
    experiment; write ``./NAME`` for a file of your own named like a shipped scenario."""
    p = Path(name_or_path)
    text = str(name_or_path)
    shipped = SCENARIO_DIR / f"{text}.toml"
    if p.suffix != ".toml" and os.sep not in text and is_safe_name(text) and shipped.is_file():
        return shipped
    if p.suffix == ".toml" or p.exists() or os.sep in str(name_or_path):
        if p.is_dir():
            raise InputError(str(p), "file", str(p), "is a folder; allowed: a scenario .toml file")
        if not p.is_file():
            raise InputError(
                str(p), "file", str(p), "is not a regular file; allowed: a scenario .toml file" if p.exists() else "no such file"
            )
        return p
    cand = SCENARIO_DIR / f"{name_or_path}.toml"
    if is_safe_name(str(name_or_path)) and cand.is_file():
        return cand
    raise InputError("scenario", "name", str(name_or_path), f"allowed: {', '.join(scenario_names())} or a .toml path")


#: Limits on an input file: its size, how deeply its arrays and tables nest, and list lengths.
MAX_FILE_BYTES = 2_000_000
MAX_DEPTH = 8
MAX_EVENTS = 10_000
MAX_SIDES = 100
MAX_TEXT = 10_000
MAX_ROUNDS = 100_000


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file (UTF-8, a byte-order mark allowed) into a dict, or raise one
    :class:`InputError`: not a regular file, too large, not text, not TOML, nested too deeply."""
    path = Path(path)
    src = str(path)
    if path.is_dir():
        raise InputError(src, "file", src, "is a folder; allowed: a TOML file")
    if path.exists() and not path.is_file():  # a device (/dev/zero) or a FIFO: endless or blocking reads
        raise InputError(src, "file", src, "is not a regular file; allowed: a TOML file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # never more, whatever the file says its size is
    except FileNotFoundError:
        raise InputError(src, "file", src, "no such file") from None
    except OSError as e:
        raise InputError(src, "file", src, f"cannot be read ({e.strerror})") from None
    return parse_toml(src, raw)


def parse_toml(src: str, raw: bytes) -> dict[str, Any]:
    """The TOML in ``raw`` (a file's bytes, named ``src`` in errors), with :func:`read_toml`'s
    checks of size, encoding, syntax and nesting (also for a file uploaded to the explorer)."""
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(src, "file", f"more than {MAX_FILE_BYTES} bytes", f"allowed: a TOML file of at most {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(src, "file", "binary", "allowed: a UTF-8 TOML text file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(src, "toml", str(e).split("\n")[0], "the file must be valid TOML") from None
    except RecursionError:
        raise InputError(src, "toml", "nested arrays or tables", f"allowed: at most {MAX_DEPTH} levels of nesting") from None
    check_depth(src, data)
    return data


def check_depth(src: str, data: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse arrays and tables nested more than ``limit`` levels (checked without recursion)."""
    stack = [(data, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > limit:
                raise InputError(src, "toml", "nested arrays or tables", f"allowed: at most {limit} levels of nesting")
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))


def load_scenario(name_or_path: str | os.PathLike) -> Scenario:
    path = find_scenario(name_or_path)
    return scenario_from_dict(read_toml(path), str(path), default_name=_stem_name(path))


def _stem_name(path: Path) -> str:
    """The default name of a file's scenario or experiment: its stem, made safe."""
    return safe_filename(path.stem)[:64] if not is_safe_name(path.stem) else path.stem


def text_field(src: str, fld: str, v: Any, default: str = "") -> str:
    """A free-text field (description, source): a string of at most MAX_TEXT characters."""
    v = default if v is None else v
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise InputError(src, fld, v, f"allowed: a text of at most {MAX_TEXT} characters")
    return v


def scenario_from_dict(data: Mapping[str, Any], src: str = "<python>", default_name: str = "custom") -> Scenario:
    """Validate a scenario given as a dict (as parsed from TOML)."""
    if not isinstance(data, Mapping):
        raise InputError(src, "scenario", data, "allowed: a table of scenario fields")
    if not data:  # an empty file, or only comments: almost surely not the file meant, so not run as all defaults
        raise InputError(
            src,
            "scenario",
            "(empty, or only comments)",
            f'the file defines nothing; required: at least one field, e.g. name = "my-scenario" (the others then take '
            f"their defaults; fields: {', '.join(sorted(_TOP))})",
        )
    check_depth(src, data)
    for k in data:
        if k not in _TOP:
            raise InputError(src, k, data[k], f"unknown field; allowed: {', '.join(sorted(_TOP))}")
    rounds = _int(src, "rounds", data.get("rounds", 60), 1, MAX_ROUNDS)
    sc_name = check_name(src, "name", data.get("name", default_name))
    description = text_field(src, "description", data.get("description"))
    source = text_field(src, "source", data.get("source"))
    channel = data.get("channel", "track2")
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise InputError(src, "channel", channel, f"allowed: {', '.join(CHANNELS)}")
    channel_open = data.get("channel_open", True)
    if not isinstance(channel_open, bool):
        raise InputError(src, "channel_open", channel_open, "allowed: true or false")
    params = _params(src, "params", data.get("params", {}), allow_side=True)
    start_year = data.get("start_year")
    if start_year is not None and (
        isinstance(start_year, bool) or not isinstance(start_year, (int, float)) or not 1000 <= start_year <= 3000
    ):
        raise InputError(src, "start_year", start_year, "allowed: a calendar year in [1000, 3000]")

    raw_sides = data.get("sides", [{"name": "A"}, {"name": "B"}])
    if not isinstance(raw_sides, list) or not 2 <= len(raw_sides) <= MAX_SIDES:
        raise InputError(src, "sides", raw_sides, f"allowed: a list of 2 to {MAX_SIDES} [[sides]] tables")
    sides: list[SideSpec] = []
    for i, s in enumerate(raw_sides):
        where = f"sides[{i}]"
        if not isinstance(s, dict):
            raise InputError(src, where, s, "allowed: a table with name, host, regime, params")
        for k in s:
            if k not in _SIDE:
                raise InputError(src, f"{where}.{k}", s[k], f"unknown field; allowed: {', '.join(sorted(_SIDE))}")
        name = s.get("name", f"side{i}")
        ok = isinstance(name, str) and 0 < len(name) <= 64 and name.isprintable() and not {".", "="} & set(name)
        if not ok or name.strip() != name or name == "all" or name in [x.name for x in sides]:
            raise InputError(
                src, f"{where}.name", name, "allowed: a unique name of 1-64 printable characters without '.' or '=', not 'all'"
            )
        host = s.get("host", False)
        if not isinstance(host, bool):
            raise InputError(src, f"{where}.host", host, "allowed: true or false")
        regime = _regime(src, f"{where}.regime", s.get("regime", "lean"))
        sp = _params(src, f"{where}.params", s.get("params", {}), allow_side=False)
        sides.append(SideSpec(name, host, regime, sp))
    if sum(not s.host for s in sides) < 2:
        raise InputError(src, "sides", [s.name for s in sides], "allowed: at least two sides that are not hosts")

    names = [s.name for s in sides]
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list) or len(raw_events) > MAX_EVENTS:
        raise InputError(src, "events", raw_events, f"allowed: a list of at most {MAX_EVENTS} [[events]] tables")
    events = [parse_event(src, f"events[{i}]", e, names, rounds) for i, e in enumerate(raw_events)]
    events.sort(key=lambda e: e.round)
    return Scenario(
        name=sc_name,
        description=description,
        source=source,
        rounds=rounds,
        channel=channel,
        channel_open=channel_open,
        sides=sides,
        params=params,
        events=events,
        path=src,
        start_year=None if start_year is None else float(start_year),
    )


def _int(src: str, fld: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InputError(src, fld, v, f"allowed: a whole number in [{lo}, {hi}]")
    return v


def _regime(src: str, fld: str, v: Any) -> Regime:
    try:
        return Regime(v)
    except ValueError:
        raise InputError(src, fld, v, "allowed: lean, ripe") from None


def _params(src: str, where: str, raw: Any, allow_side: bool) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise InputError(src, where, raw, "allowed: a table of name = value")
    out: dict[str, float] = {}
    for k, v in raw.items():
        if k not in PARAMS:
            raise InputError(src, f"{where}.{k}", v, f"unknown parameter; allowed: {', '.join(PARAMS)}")
        if not allow_side and k in CHANNEL_PARAMS:
            raise InputError(src, f"{where}.{k}", v, "a channel parameter; set it in the top-level [params]")
        try:
            out[k] = PARAMS[k].check(v)
        except ValueError as e:
            raise InputError(src, f"{where}.{k}", v, str(e)) from None
    return out


def parse_event(src: str, where: str, e: Any, names: list[str], rounds: int) -> Event:
    if not isinstance(e, dict):
        raise InputError(src, where, e, "allowed: a table with round, kind and the kind's fields")
    kinds = ", ".join(k.value for k in EventKind)
    try:
        if not isinstance(e.get("kind"), str):
            raise ValueError
        kind = EventKind(e.get("kind"))
    except ValueError:
        raise InputError(src, f"{where}.kind", e.get("kind"), f"unknown event kind; allowed: {kinds}") from None
    if "round" not in e:
        raise InputError(src, f"{where}.round", None, f"required: a whole number in [1, {rounds}]")
    rnd = _int(src, f"{where}.round", e["round"], 1, rounds)
    fields = EVENT_FIELDS[kind]
    allowed_keys = {"round", "kind", *fields} | ({"side"} if kind in SIDED else set())
    for k in e:
        if k not in allowed_keys:
            raise InputError(src, f"{where}.{k}", e[k], f"not a field of {kind.value}; allowed: {', '.join(sorted(allowed_keys))}")
    sides: tuple[int, ...] = ()
    if kind in SIDED:
        who = e.get("side", "all")
        if who == "all":
            sides = tuple(range(len(names)))
        elif who in names:
            sides = (names.index(who),)
        else:
            raise InputError(src, f"{where}.side", who, f"allowed: all, {', '.join(names)}")
    values = []
    for k, (typ, lo, hi, default) in fields.items():
        v = e.get(k, default)
        if v is not None and k in e:
            if typ == REGIME:
                v = _regime(src, f"{where}.{k}", v).value
            elif typ == BOOL:
                if not isinstance(v, bool):
                    raise InputError(src, f"{where}.{k}", v, "allowed: true or false")
            elif typ == INT:
                v = _int(src, f"{where}.{k}", v, int(lo), int(hi))
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise InputError(src, f"{where}.{k}", v, f"allowed: a number in [{lo}, {hi}]")
        values.append((k, v))
    return Event(rnd, kind, sides, tuple(values))


# ---------------------------------------------------------------- resolving


def split_key(src: str, key: Any, v: Any, where: str | None = None) -> tuple[str, str]:
    """``"turnover"`` → ``("", "turnover")``; ``"Canada.turnover"`` → ``("Canada", "turnover")``.
    Refuses unknown parameters, an empty side (``".turnover"``) and a side on a channel parameter."""
    where = key if where is None else where
    side, dot, name = str(key).rpartition(".")
    if name not in PARAMS:
        raise InputError(src, where, v, f"unknown parameter; allowed: {', '.join(PARAMS)}")
    if dot and not side:
        raise InputError(src, where, v, "an empty side name before '.'; allowed: NAME or SIDE.NAME")
    if side and name in CHANNEL_PARAMS:
        raise InputError(src, where, v, "a channel parameter takes one value for all sides")
    return side, name


def parse_overrides(pairs: Mapping[str, Any], side_names: list[str], src: str = "--set") -> dict[str, float]:
    """Validate overrides ``{"turnover": 0.5, "Canada.turnover": 0.6}``."""
    out: dict[str, float] = {}
    for key, v in pairs.items():
        side, name = split_key(src, key, v)
        if side and side not in side_names:
            raise InputError(src, key, v, f"unknown side; allowed: {', '.join(side_names)}")
        raw = v
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise InputError(src, key, raw, PARAMS[name].allowed()) from None
        try:
            out[key] = PARAMS[name].check(v)
        except ValueError as e:
            raise InputError(src, key, raw, str(e)) from None
    return out


def resolve(
    sc: Scenario,
    overrides: Mapping[str, Any] | None = None,
    rounds: int | None = None,
    rounds_source: str = "--rounds",
    overrides_source: str = "--set",
) -> Setup:
    """Resolve every parameter: override for the side > override for all >
    the side's params > the scenario's params > the channel preset > the default."""
    names = [s.name for s in sc.sides]
    ov = parse_overrides(overrides or {}, names, overrides_source)
    if rounds is not None:
        rounds = _int(rounds_source, "rounds", rounds, 1, MAX_ROUNDS)
        late = [e for e in sc.events if e.round > rounds]
        if late:
            raise InputError(sc.path, "events.round", late[0].round, f"past the horizon of {rounds} rounds; allowed: [1, {rounds}]")
    preset = CHANNELS[sc.channel]
    side_vals: dict[str, list[float]] = {}
    n_players = sum(not s.host for s in sc.sides)
    k = 0
    for p in SIDE_PARAMS:
        vals = []
        for s in sc.sides:
            v = ov.get(f"{s.name}.{p}", ov.get(p, s.params.get(p, sc.params.get(p, preset.get(p)))))
            if v is None and p == "position":  # spread the sides' lines evenly over [0.3, 0.7]
                v = 0.5 if s.host else 0.3 + 0.4 * (k / max(n_players - 1, 1))
            vals.append(PARAMS[p].default if v is None else v)
            if p == "position" and not s.host:
                k += 1
        side_vals[p] = vals
    chan = {p: ov.get(p, sc.params.get(p, PARAMS[p].default)) for p in CHANNEL_PARAMS}
    return Setup(
        scenario=sc,
        side_names=names,
        host=[s.host for s in sc.sides],
        regime=[s.regime for s in sc.sides],
        side=side_vals,
        channel=chan,
        events=list(sc.events),
        rounds=rounds or sc.rounds,
    )
