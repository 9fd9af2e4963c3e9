"""Agent-based simulation of diplomatic dialogue channels (Mesa).

>>> from sim import DialogueModel
>>> m = DialogueModel("lean-years", rng=1)
>>> m.run_for(5)
>>> m.round
5
"""

from .params import CHANNELS, PARAMS, Param
from .scenario import Event, EventKind, InputError, Scenario, load_scenario, resolve, scenario_names

__all__ = [
    "CHANNELS",
    "PARAMS",
    "DialogueModel",
    "Experiment",
    "Event",
    "EventKind",
    "InputError",
    "Param",
    "Scenario",
    "load_scenario",
    "resolve",
    "scenario_names",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the Mesa model lazily: sweep workers need only the arrays and rules."""
    if name == "DialogueModel":
        from .model import DialogueModel

        return DialogueModel
    if name == "Experiment":
        from .experiment import Experiment

        return Experiment
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
