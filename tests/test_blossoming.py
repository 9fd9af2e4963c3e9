"""Blossoming from mechanisms (issue #9): the Iran–US Track Two's rise after the 2013 shift is
carried by several mechanisms together — the script a serious leadership lifts (candor), the
participation shift (more senior delegates who report more and recall old contacts) and the
widening win-set — and by the familiarity carried through the lean years. Removing any one
weakens the rise; none of them alone produces it."""

from __future__ import annotations

import dataclasses

import pytest

from sim import Event, EventKind, load_scenario, resolve
from sim.batch.ensemble import simulate

SHIFT, RUNS = 21, 200
MECHANISMS = {"script_relief": 0.0, "participation_shift": 0.0, "winset_gain": 0.0}


#: a crisis of severity 1 in the round of the shift, before anyone meets: the familiarity the lean
#: years built is wiped, and the serious leaderships' delegates start from strangers
WIPE_AT_SHIFT = Event(SHIFT, EventKind.CRISIS, (), (("severity", 1.0),))


def rise(*events: Event, **overrides) -> float:
    """Mean progress in the six rounds from the shift minus the six rounds before it (``events``
    added to the scenario's)."""
    sc = load_scenario("iran-us-track-two")
    if events:
        sc = dataclasses.replace(sc, events=sorted([*sc.events, *events], key=lambda e: e.round))
    out = simulate([resolve(sc, overrides)] * RUNS, list(range(RUNS)), metrics=["progress"])
    p = out.series["progress"].mean(axis=0)
    return float(p[SHIFT : SHIFT + 6].mean() - p[SHIFT - 6 : SHIFT].mean())


@pytest.fixture(scope="module")
def full() -> float:
    return rise()


class TestBlossoming:
    def test_the_channel_blossoms_after_the_shift(self, full):
        assert full > 0.05

    @pytest.mark.parametrize("removed", sorted(MECHANISMS))
    def test_removing_one_mechanism_weakens_it(self, full, removed):
        assert rise(**{removed: MECHANISMS[removed]}) < 0.8 * full

    @pytest.mark.parametrize("kept", sorted(MECHANISMS))
    def test_no_mechanism_alone_creates_it(self, full, kept):
        only = {k: v for k, v in MECHANISMS.items() if k != kept}
        assert rise(**only) < 0.8 * full

    def test_lean_years_familiarity_carries_part_of_it(self, full):
        """The same runs with the familiarity carried through the lean years wiped at the shift (all
        else equal: the same seeds, script, participation shift and win-sets) rise less (measured
        0.037 against 0.064)."""
        wiped = rise(WIPE_AT_SHIFT)
        assert wiped < 0.8 * full
        assert wiped > 0  # the other mechanisms still lift it: the carry-over is a part, not the whole
