"""Shared fixtures and helpers for the dialogue-sim test suite."""

from __future__ import annotations

import copy
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from sim import DialogueModel
from sim.core.state import State
from sim.scenarios import Scenario, scenario_from_dict

# Hypothesis: modest example counts, no deadline (model runs vary in length), no example
# database written into the working tree, and derandomized so that every run of the suite
# tries the same examples (a failure is reproducible, never flaky).
settings.register_profile(
    "suite",
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("suite")

#: Model reporters every run must produce.
REQUIRED_REPORTERS = ["agreement", "trust", "position_gap", "ideas_generated", "ideas_reported", "cost", "channel_open"]
#: Agent reporters every run must produce.
REQUIRED_AGENT_REPORTERS = ["private", "expressed", "openness", "rank", "tenure"]

#: A quiet two-side channel: nothing random happens to the membership, nobody shifts.
QUIET = {
    "turnover": 0.0,
    "familiarity_gain": 0.0,
    "familiarity_fatigue": 0.0,
    "familiarity_decay": 0.0,
    "hollow_distrust": 0.0,
}


def build_scenario(
    *,
    rounds: int = 30,
    channel: str = "track2",
    params: dict[str, Any] | None = None,
    sides: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    channel_open: bool = True,
    name: str = "test",
) -> Scenario:
    """A validated Scenario built from a TOML-like dict (through scenario_from_dict)."""
    data: dict[str, Any] = {
        "name": name,
        "rounds": rounds,
        "channel": channel,
        "channel_open": channel_open,
        "params": dict(params or {}),
        "sides": copy.deepcopy(sides) if sides is not None else [{"name": "A"}, {"name": "B"}],
        "events": copy.deepcopy(events or []),
    }
    return scenario_from_dict(data)


@pytest.fixture
def make_scenario() -> Callable[..., Scenario]:
    """Factory: ``make_scenario(rounds=..., params=..., sides=..., events=...)``."""
    return build_scenario


def run_states(model: DialogueModel, n: int) -> list[State]:
    """Step ``model`` n times; return copies of the state at round 0 .. n."""
    states = [model.state.copy()]
    for _ in range(n):
        model.step()
        states.append(model.state.copy())
    return states


def side_slice(model_or_layout: Any, side: int) -> slice:
    """Member slots of side ``side``."""
    layout = getattr(model_or_layout, "layout", model_or_layout)
    starts = np.concatenate([[0], np.cumsum(layout.members)])
    return slice(int(starts[side]), int(starts[side + 1]))


DIALOGUE_SIM = Path(sys.executable).parent / "dialogue-sim"

# Both leaderships ripe from the start: most runs reach an agreement within 20 rounds.
RIPE_SCENARIO = """
name = "ripe"
rounds = 30
channel = "back-channel"
[[sides]]
name = "A"
regime = "ripe"
[[sides]]
name = "B"
regime = "ripe"
[[events]]
round = 5
kind = "crisis"
"""


# ---------------------------------------------------------------- a small real sweep (analysis tests)

SHIFT, WINDOW, HORIZON = 40, 10, 60
MAIN, PLACEBO = "leadership-change", "lean-years"
ANALYSIS = {
    "shift_round": SHIFT,
    "window": WINDOW,
    "windows": [5, 10],
    "reference": "wind-down",
    "treatment": "keep-open",
    "main": MAIN,
    "placebo": PLACEBO,
    "phase": [["turnover", "handover"], ["window", "turnover"]],
}


def wind_down_arm():
    from sim.batch.experiment import Arm

    return Arm("wind-down", events=[{"round": 10, "kind": "channel_close"}, {"round": 40, "kind": "channel_reopen"}])


def small_experiment(**kw):
    """Like experiments/lean-years.toml, small: 2 scenarios × 2×2 grid × 2 arms × 4 replications."""
    from sim.batch.experiment import Arm, Experiment

    base = dict(
        name="small-lean-years",
        description="A small version of experiments/lean-years.toml.",
        scenarios=[MAIN, PLACEBO],
        seed=1997,
        replications=4,
        rounds=HORIZON,
        arms=[Arm("keep-open"), wind_down_arm()],
        design="grid",
        design_params={"turnover": [0.05, 0.3], "handover": [0.0, 1.0]},
        timeseries=["agreement", "trust", "progress", "cost"],
        analysis=ANALYSIS,
    )
    return Experiment(**(base | kw))


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory) -> Path:
    """The small sweep's results folder, run once per test session."""
    from sim.batch.sweep import run_sweep

    out = tmp_path_factory.mktemp("small-sweep") / "results"
    s = run_sweep(small_experiment(), out, workers=1, progress=False)
    assert s["completed"] == 64 and s["failed"] == 0
    return out


#: Python source that sets ``kids`` to this process's children that are multiprocessing fork
#: servers (read from /proc; appended to a ``python -c`` script that has imported ``os``).
FORK_SERVER_CHILDREN = (
    "def parent(pid):\n"
    "    try:\n"
    "        return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
    "    except OSError:\n"
    "        return None\n"
    "kids = [p for p in os.listdir('/proc') if p.isdigit() and parent(p) == os.getpid()]\n"
    "kids = [p for p in kids if 'forkserver' in open(f'/proc/{p}/cmdline').read()]\n"
)


def interrupt_when(proc: subprocess.Popen, ready: Callable[[], object], timeout: float = 120) -> str:
    """Ctrl-C to ``proc`` at a chosen moment: wait for ``ready()`` to return, send SIGINT, and
    return the process's stderr; a process still running after that (or after a failure) is
    killed, so that no test leaves one behind."""
    try:
        ready()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return err
