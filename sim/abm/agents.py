"""Seats: Mesa agents that are views onto one member slot of the model's arrays.

A seat is a place in a side's delegation, not a person: when a delegate leaves (turnover, a
recall, a turnover shock) a newcomer takes the same seat, so one Mesa ``AgentID`` is held by
successive people. We keep seats as the agents because the rules act on fixed-size arrays
(one slot per seat) and a seat's history is what the data collector records; the person in
the seat is identified by :attr:`Seat.person`, which changes whenever someone new sits down.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.core.state import rank_of


class Seat(mesa.Agent):
    """One seat of a side's delegation. Its attributes read the model's state arrays, so the
    rules (which act on arrays) and the agent view never disagree."""

    def __init__(self, model: mesa.Model, slot: int):
        super().__init__(model)
        self.slot = slot

    def _get(self, name: str) -> float:
        return float(getattr(self.model.state, name)[0, self.slot])

    @property
    def side(self) -> str:
        return self.model.layout.side_names[self.model.layout.side_of[self.slot]]

    @property
    def person(self) -> int:
        """The person now in the seat: unique within the run (the first occupants are 0 … N−1;
        each newcomer gets a new number)."""
        return int(self.model.state.arrivals[0, self.slot]) * self.model.layout.N + self.slot

    @property
    def private(self) -> float:
        return self._get("private")

    @property
    def expressed(self) -> float:
        return self._get("expressed")

    @property
    def openness(self) -> float:
        return self._get("openness")

    @property
    def tenure(self) -> float:
        return self._get("tenure")

    @property
    def active(self) -> bool:
        return bool(self.model.state.active[0, self.slot])

    @property
    def rank(self) -> float:
        return float(rank_of(self.model.state, self.model.layout)[0, self.slot])

    @property
    def reporting(self) -> float:
        return float(self.model.params.reporting[0, self.model.layout.side_of[self.slot]])

    @property
    def familiarity(self) -> float:
        """Mean familiarity with active members of other sides."""
        st, lay = self.model.state, self.model.layout
        others = lay.cross[self.slot] & st.active[0]
        return float(np.mean(st.familiarity[0, self.slot, others])) if others.any() else 0.0
