"""The per-run Mesa model of a dialogue channel."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

import mesa
import numpy as np

from sim.abm.agents import Seat
from sim.core.metrics import METRICS, run_outcomes
from sim.core.state import Params, initial_state, layout_of
from sim.core.step import step as advance
from sim.scenarios import Scenario, load_scenario, resolve

AGENT_REPORTERS = ["side", "person", "active", "private", "expressed", "openness", "rank", "tenure", "familiarity"]


def report_metric(name: str, model: DialogueModel) -> float:
    """Model reporter: one outcome of :data:`sim.core.metrics.METRICS` for this run."""
    return float(METRICS[name](model.state, model.layout)[0])


def agreement_round(model: DialogueModel) -> int | None:
    """Model reporter: the round agreement was reached, or None."""
    r = int(model.state.agreement_round[0])
    return r if r >= 0 else None


class DialogueModel(mesa.Model):
    """Delegations of two or more sides meeting in rounds through one channel.

    Args:
        scenario: a shipped scenario's name, a path to a TOML file, or a :class:`Scenario`.
        rounds: the horizon (defaults to the scenario's); ``running`` turns False there.
        overrides: parameter values, ``{"turnover": 0.5, "Canada.turnover": 0.6}``.
        rng: seed or generator (Mesa's ``rng``); the same integer seed gives the same run.
        **params: any parameter of :data:`sim.core.params.PARAMS`, applied to all sides
            (so that ``mesa.batch_run`` can sweep them).

    Mesa's own attributes keep their meaning: ``steps`` counts the rounds played, ``time`` and
    ``scenario`` are Mesa's (its ``Scenario`` is not ours). The project's scenario, with its
    events, is ``model.setup.scenario``; the resolved parameters are ``model.setup`` (per side
    and channel) and ``model.params`` (arrays). The agents are :class:`~sim.abm.agents.Seat`
    views onto the state arrays, in ``model.seats`` (an ``AgentSet``).
    """

    def __init__(
        self,
        scenario: str | os.PathLike | Scenario = "lean-years",
        rounds: int | None = None,
        overrides: dict[str, Any] | None = None,
        rng: Any = None,
        **params: Any,
    ):
        super().__init__(rng=rng)
        self.seed = rng if isinstance(rng, int) else None
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.setup = resolve(sc, {**(overrides or {}), **params}, rounds)
        self.layout = layout_of(self.setup)
        self.params = Params.from_setups([self.setup])
        self.state = initial_state([self.setup], self.layout, self.params, self.rng.random((1, self.layout.N)))
        self._events: dict[int, list] = {}
        for ev in self.setup.events:
            self._events.setdefault(ev.round, []).append(ev)
        self.log: list[str] = []
        self.seats = Seat.create_agents(self, self.layout.N, slot=list(range(self.layout.N)))
        self.datacollector = mesa.DataCollector(
            model_reporters={name: partial(report_metric, name) for name in METRICS} | {"agreement_round": agreement_round},
            agent_reporters={k: k for k in AGENT_REPORTERS},
        )
        self.datacollector.collect(self)

    def step(self) -> None:
        """One round: events, motivation, turnover, the meeting, ideas, agreement, cost."""
        t = self.state.round + 1
        before = float(self.state.ideas_reported[0])
        events = self._events.get(t, [])
        advance(self.state, self.layout, self.params, self.rng.random((1, self.layout.draws_per_round())), [events])
        for ev in events:
            self.log.append(f"round {t}: {ev.describe(self.layout.side_names)}")
        new = float(self.state.ideas_reported[0]) - before
        if new:
            self.log.append(f"round {t}: {int(new)} idea(s) reported to a leadership")
        if self.state.agreement_round[0] == t:
            self.log.append(f"round {t}: agreement reached")
        self.running = t < self.setup.rounds
        self.datacollector.collect(self)

    def outcomes(self) -> dict[str, float]:
        """This run's :data:`sim.core.metrics.OUTCOMES` so far (as the ensemble computes them)."""
        df = self.datacollector.get_model_vars_dataframe()
        played = df.iloc[1:]
        meetings = np.array([played["meeting"].sum()])
        peak = np.array([max(0.0, float(played["progress"].max())) if len(played) else 0.0])
        return {k: v[0].item() for k, v in run_outcomes(self.state, self.layout, meetings, peak).items()}
