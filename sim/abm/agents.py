"""Delegates: Mesa agents that are views onto one member slot of the model's arrays."""

from __future__ import annotations

import mesa
import numpy as np

from sim.core.state import rank_of


class Delegate(mesa.Agent):
    """A member slot of a side's delegation. Its attributes read the model's state arrays,
    so the rules (which act on arrays) and the agent view never disagree."""

    def __init__(self, model: mesa.Model, slot: int):
        super().__init__(model)
        self.slot = slot

    def _get(self, name: str) -> float:
        return float(getattr(self.model.state, name)[0, self.slot])

    @property
    def side(self) -> str:
        return self.model.layout.side_names[self.model.layout.side_of[self.slot]]

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
