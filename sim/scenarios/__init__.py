"""Scenarios: reading, validating and resolving TOML scenario files (the shipped ones are
package data under ``sim/data/scenarios``) into the :class:`~sim.core.setup.Setup` the model runs."""

from sim.core.setup import Event, EventKind, InputError, Regime, Scenario, Setup, SideSpec
from sim.scenarios.loader import (
    EXPERIMENT_DIR,
    SCENARIO_DIR,
    find_scenario,
    load_scenario,
    parse_event,
    parse_overrides,
    resolve,
    scenario_from_dict,
    scenario_names,
)

__all__ = [
    "EXPERIMENT_DIR",
    "SCENARIO_DIR",
    "Event",
    "EventKind",
    "InputError",
    "Regime",
    "Scenario",
    "Setup",
    "SideSpec",
    "find_scenario",
    "load_scenario",
    "parse_event",
    "parse_overrides",
    "resolve",
    "scenario_from_dict",
    "scenario_names",
]
