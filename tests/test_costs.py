"""Costs of staying open (issue #9): each alone can make keeping a channel open worse than
winding it down, and each switched off leaves the model exactly as without it.

Arms are paired (the same seeds, common random numbers): *keep-open* meets every round of
``leadership-change``; *wind-down* is closed at round 10 and reopened at the shift (round 40) with
fresh personnel. The settings are documented in docs/ODD.md §1: a hollow lean period (script
pressure 0.75 on both sides) that a motivated leadership largely lifts (script relief 0.9), stable
delegations (turnover 0.05 per year) and a restart without set-up delay, so that the carry-overs
and the restart cost are small next to the cost under test.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim import Event, EventKind, load_scenario, resolve
from sim.batch.ensemble import simulate
from sim.core import rules

SHIFT, WINDOW, RUNS = 40, 10, 600
#: every cost of staying open, and the lean idea memory, switched off
COSTS_OFF = {"hollow_distrust": 0.0, "cynicism_rate": 0.0, "substitution": 0.0, "entrenchment": 0.0, "lean_filing": 0.0}
HOLLOW_LEAN_YEARS = {"script_pressure": 0.75, "script_relief": 0.9, "turnover": 0.05, "setup_rounds": 0}
#: entrenchment bites where only the moderates can find ideas: lines far apart, delegates spread widely
FAR_LINES = HOLLOW_LEAN_YEARS | {"A.position": 0.2, "B.position": 0.8, "position_spread": 0.35}

SETTINGS = {
    "hollow_distrust": (HOLLOW_LEAN_YEARS, 0.3),
    "cynicism_rate": (HOLLOW_LEAN_YEARS, 1.0),
    "substitution": (HOLLOW_LEAN_YEARS, 0.4),
    "entrenchment": (FAR_LINES, 0.5),
}


def arms():
    keep = load_scenario("leadership-change")
    reopen = Event(SHIFT, EventKind.CHANNEL_REOPEN, (), (("setup_rounds", None), ("fresh_personnel", True)))
    wind = dataclasses.replace(keep, events=sorted([*keep.events, Event(10, EventKind.CHANNEL_CLOSE), reopen], key=lambda e: e.round))
    return keep, wind


def paired_payoff(overrides: dict, runs: int = RUNS) -> tuple[float, float]:
    """Mean of keep-open − wind-down in P(agreement within WINDOW rounds of the shift), and its SE."""
    seeds = list(range(runs))
    hit = []
    for sc in arms():
        r = simulate([resolve(sc, overrides)] * runs, seeds, metrics=["agreement"]).agreement_round
        hit.append(((r >= SHIFT) & (r < SHIFT + WINDOW)).astype(float))
    d = hit[0] - hit[1]
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(runs))


class TestEachCostAloneCanReverseThePayoff:
    @pytest.mark.parametrize("cost", sorted(SETTINGS))
    def test_keep_open_worse_than_wind_down(self, cost):
        base, value = SETTINGS[cost]
        m, se = paired_payoff(COSTS_OFF | base | {cost: value})
        assert m + 1.96 * se < 0, f"{cost}={value}: {m:+.3f} ± {1.96 * se:.3f}"

    def test_the_settings_pay_without_the_costs(self):
        """The same settings with every cost off: keeping the channel open does not lose (so the
        reversals above are the costs' doing)."""
        for base in (HOLLOW_LEAN_YEARS, FAR_LINES):
            m, se = paired_payoff(COSTS_OFF | base, runs=300)
            assert m + 1.96 * se > 0, f"{base}: {m:+.3f}"


class TestExposureLeaksWhileOpen:
    """The shipped exposure rule lets a meeting side forget its hollow exposure at the full rate d
    and wears it down by candor (``exposure_meeting_decay`` = 1, ``candor_wear`` = 0.5), where
    familiarity is not forgotten between meetings (``meeting_decay`` = 0): both favour keep-open
    (docs/ODD.md §1). At lean years that pay with the defaults, giving exposure familiarity's rule
    and no wear reverses the payoff. Kills: either parameter ignored by the rule, or a default
    that no longer reproduces the shipped rule."""

    SETTING = {"script_pressure": 0.45, "script_relief": 0.9}

    def test_the_defaults_are_the_shipped_rule(self):
        from sim.core.params import PARAMS

        assert PARAMS["exposure_meeting_decay"].default == 1 and PARAMS["candor_wear"].default == 0.5

    def test_exposure_that_does_not_leak_reverses_the_payoff(self):
        leaky, se1 = paired_payoff(self.SETTING, runs=300)
        kept, se2 = paired_payoff(self.SETTING | {"exposure_meeting_decay": 0.0, "candor_wear": 0.0}, runs=300)
        assert leaky - 1.96 * se1 > 0 > kept + 1.96 * se2, (leaky, kept)


#: the model without each cost: the rule replaced by the identity
WITHOUT = {
    "hollow_distrust": (
        "familiarity_exchange",
        lambda f: lambda c, a, b, phi, h=None, forget=None: f(c, a, b, phi, None, forget),
    ),
    "cynicism_rate": ("cynicism_of", lambda f: lambda E, rate: np.zeros_like(E)),
    "substitution": ("substituted_target", lambda f: lambda target, share, E: target),
    "entrenchment": ("entrench", lambda f: lambda v, line, sigma, rate, present, dt=1.0: v),
}


class TestEachCostOffIsTheModelWithoutIt:
    @pytest.mark.parametrize("cost", sorted(WITHOUT))
    def test_identical_runs(self, cost, monkeypatch):
        setups = [resolve(sc, {cost: 0.0, "turnover": 0.2}) for sc in arms()]
        seeds = [11, 12]
        off = simulate(setups, seeds)
        on = simulate([resolve(sc, {cost: SETTINGS[cost][1], "turnover": 0.2}) for sc in arms()], seeds)
        name, make = WITHOUT[cost]
        monkeypatch.setattr(rules, name, make(getattr(rules, name)))
        without = simulate(setups, seeds)
        for k in ("trust", "position_gap", "ideas_reported", "cynicism", "motivation", "agreement"):
            np.testing.assert_array_equal(off.series[k], without.series[k], err_msg=f"{cost}: {k}")
        # and the cost switched on does change the runs
        assert not all(np.array_equal(on.series[k], off.series[k]) for k in ("trust", "position_gap", "cynicism", "motivation"))


class TestCarryOversNeutralised:
    def test_keep_open_minus_paused_is_zero(self):
        """Familiarity frozen and equal, no turnover, fixed positions, idea memory off, no costs:
        nothing carries over the lean years, and keep-open − paused is 0 within Monte Carlo error."""
        neutral = COSTS_OFF | {
            "initial_familiarity": 0.5,
            "familiarity_gain": 0.0,
            "familiarity_fatigue": 0.0,
            "familiarity_decay": 0.0,
            "turnover": 0.0,
            "openness": 0.0,
        }
        keep = load_scenario("leadership-change")
        resume = Event(SHIFT, EventKind.CHANNEL_REOPEN, (), (("setup_rounds", 0), ("fresh_personnel", False)))
        paused = dataclasses.replace(keep, events=sorted([*keep.events, Event(10, EventKind.CHANNEL_CLOSE), resume], key=lambda e: e.round))
        runs = 400
        seeds = list(range(runs))
        hit = []
        for sc in (keep, paused):
            r = simulate([resolve(sc, neutral)] * runs, seeds, metrics=["agreement"]).agreement_round
            hit.append(((r >= SHIFT) & (r < SHIFT + WINDOW)).astype(float))
        assert hit[0].mean() > 0.1  # agreements do happen
        d = hit[0] - hit[1]
        assert abs(d.mean()) <= 2.6 * d.std(ddof=1) / np.sqrt(runs) + 1e-12
        # mutation: with the lean idea memory on, the neutralised comparison is no longer 0
        with_memory = []
        for sc in (keep, paused):
            r = simulate([resolve(sc, neutral | {"lean_filing": 1.0})] * runs, seeds, metrics=["agreement"]).agreement_round
            with_memory.append(((r >= SHIFT) & (r < SHIFT + WINDOW)).astype(float))
        assert (with_memory[0] - with_memory[1]).mean() > 0


class TestDistrustHandover:
    """``distrust_handover`` reaches the model: with hollow lean years that breed distrust and
    heavy turnover with full hand-over, a kept-open channel's trust at the shift is lower when
    successors inherit the distrust (q = 1) than when turnover erases it (q = 0, the default).
    Kills: the step passing zeros (or nothing) for q on any of its turnover paths."""

    def test_inherited_distrust_lowers_trust_at_the_shift(self):
        keep, _ = arms()
        base = COSTS_OFF | HOLLOW_LEAN_YEARS | {"hollow_distrust": 0.3, "turnover": 0.5, "handover": 1.0}
        trust = {}
        for q in (0.0, 1.0):
            r = simulate([resolve(keep, base | {"distrust_handover": q})] * 200, list(range(200)), rounds=SHIFT, metrics=["trust"])
            trust[q] = float(np.asarray(r.series["trust"])[:, -1].mean())
        assert trust[0.0] < 0 and trust[1.0] < trust[0.0] - 0.02, trust

    def test_a_turnover_shock_hands_it_over_too(self):
        """The same through a turnover shock (every delegate replaced at round 30), whose
        successors are set by the event, not by the yearly turnover."""
        keep, _ = arms()
        shock = Event(30, EventKind.TURNOVER_SHOCK, (0, 1), (("fraction", 1.0),))
        sc = dataclasses.replace(keep, events=sorted([*keep.events, shock], key=lambda e: e.round))
        base = COSTS_OFF | HOLLOW_LEAN_YEARS | {"hollow_distrust": 0.3, "turnover": 0.0, "handover": 1.0}
        trust = {}
        for q in (0.0, 1.0):
            r = simulate([resolve(sc, base | {"distrust_handover": q})] * 50, list(range(50)), rounds=31, metrics=["trust"])
            trust[q] = float(np.asarray(r.series["trust"])[:, -1].mean())
        assert trust[1.0] < trust[0.0] - 0.05, trust
