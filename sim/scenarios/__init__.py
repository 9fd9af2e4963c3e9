"""Scenarios: reading, validating and resolving TOML scenario files (the shipped ones are
package data under ``sim/data/scenarios``) into the :class:`~sim.core.setup.Setup` the model runs."""

from sim.core.setup import Event, EventKind, InputError, Regime, Scenario, Setup, SideSpec
from sim.scenarios.loader import (
    EXPERIMENT_DIR,
    MAX_ROUNDS,
    SCENARIO_DIR,
    check_depth,
    find_scenario,
    load_scenario,
    parse_event,
    parse_overrides,
    read_toml,
    resolve,
    scenario_from_dict,
    scenario_names,
    split_key,
    text_field,
)

__all__ = [
    "EXPERIMENT_DIR",
    "SCENARIO_DIR",
    "Event",
    "EventKind",
    "InputError",
    "MAX_ROUNDS",
    "Regime",
    "Scenario",
    "Setup",
    "SideSpec",
    "check_depth",
    "find_scenario",
    "load_scenario",
    "parse_event",
    "parse_overrides",
    "read_toml",
    "resolve",
    "scenario_from_dict",
    "scenario_names",
    "split_key",
    "text_field",
]
