"""Agent-based simulation of diplomatic dialogue channels (Mesa).

The package follows the data flow; each subpackage imports only from those below it
(checked by ``tests/test_architecture.py``):

- :mod:`sim.core` — parameter spec, input types, state arrays, rules, one round, metrics (numpy; numba compiles its small loops);
- :mod:`sim.scenarios` — TOML scenarios: loading, validation, resolving parameters;
- :mod:`sim.abm` — the per-run Mesa model, its agents, one run's figures, the explorer;
- :mod:`sim.batch` — the ensemble, experiments, executors and the Parquet result store;
- :mod:`sim.analysis` — statistics, sweep figures, case studies and the report;
- :mod:`sim.cli` — the ``dialogue-sim`` command.

>>> from sim import DialogueModel
>>> m = DialogueModel("lean-years", rng=1)
>>> m.run_for(5)
>>> m.steps
5
"""

from typing import Any

from sim.core.params import CHANNELS, PARAMS, Param
from sim.scenarios import Event, EventKind, InputError, Scenario, load_scenario, resolve, scenario_names
from sim.version import __version__

__all__ = [
    "CHANNELS",
    "PARAMS",
    "DialogueModel",
    "Event",
    "EventKind",
    "Experiment",
    "InputError",
    "Param",
    "Scenario",
    "__version__",
    "load_experiment",
    "load_scenario",
    "resolve",
    "run_sweep",
    "scenario_names",
    "simulate",
]

_LAZY = {
    "DialogueModel": "sim.abm.model",
    "Experiment": "sim.batch.experiment",
    "load_experiment": "sim.batch.experiment",
    "run_sweep": "sim.batch.sweep",
    "simulate": "sim.batch.ensemble",
}


def __getattr__(name: str) -> Any:
    """Import Mesa and the batch machinery lazily: sweep workers need only the arrays and rules."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
