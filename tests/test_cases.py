"""Case checks that can fail: each validation check passes on the documented facts and fails when
the key fact or mechanism is removed (mutation tests)."""

from __future__ import annotations

import tomllib
from datetime import date

import numpy as np
import pytest

from sim.analysis.cases import (
    BURTON_REFORMS,
    IRAN_OBSERVED,
    IRAN_SHIFT,
    Calendar,
    calendar_interval,
    calendar_of,
    check_burton,
    check_iran_timeline,
    check_no_transfer,
    decimal_year,
    predictive_interval,
    run_cases,
)
from sim.scenarios import EXPERIMENT_DIR, EventKind, load_scenario

RUNS = 150
#: Parameters under which the Iran-US timeline is reproduced (found by hand; the calibrated
#: posterior is what the report uses): the mutations must break it.
FAST = {"motivation_speed": 1.0, "winset_gain": 1.0, "idea_rate": 1.0, "familiarity_gain": 0.8}


class TestBurtonCheck:
    def test_facts_block_what_the_recommendations_make_possible(self):
        ok, evidence = check_burton(RUNS, 0)
        assert ok, evidence

    def test_fails_when_burtons_facts_are_removed(self):
        ok, evidence = check_burton(RUNS, 0, mutate="facts")
        assert not ok, evidence

    def test_experiment_uses_the_same_recommendations(self):
        d = tomllib.loads((EXPERIMENT_DIR / "burton-reforms.toml").read_text())
        arms = {a["name"]: a.get("params", {}) for a in d["arms"]}
        for name, params in BURTON_REFORMS.items():
            assert arms[name] == params
            rest = {k: v for n, p in BURTON_REFORMS.items() if n != name for k, v in p.items()}
            assert arms[f"all-but-{name}"] == rest
        assert arms["all-four"] == {k: v for p in BURTON_REFORMS.values() for k, v in p.items()}


class TestIranTimeline:
    def test_reproduced_under_parameters_that_allow_it(self):
        ok, evidence = check_iran_timeline(RUNS, 0, [FAST])
        assert ok, evidence

    @pytest.mark.parametrize("mutation", ["no-shift", "no-reporting"])
    def test_fails_when_the_shift_or_the_upward_link_is_removed(self, mutation):
        ok, evidence = check_iran_timeline(RUNS, 0, [FAST], mutate=mutation)
        assert not ok, evidence
        assert "OUTSIDE" in evidence

    @pytest.mark.parametrize("moved", [(date(2008, 6, 1), date(2009, 1, 1)), (date(2030, 1, 1), date(2031, 1, 1))])
    def test_fails_when_the_dates_move_out_of_the_interval(self, moved, monkeypatch):
        """Mutation of the facts: the deals dated before the shift (no run agrees that early) or
        after the horizon (about which the runs say nothing, though the interval's upper end is
        +inf when fewer than 90% of runs agree by it) are OUTSIDE."""
        import sim.analysis.cases as cases

        monkeypatch.setattr(cases, "IRAN_OBSERVED", dict(zip(IRAN_OBSERVED, moved, strict=True)))
        ok, evidence = check_iran_timeline(RUNS, 0, [FAST])
        assert not ok and evidence.count("OUTSIDE") == 2, evidence

    def test_calendar_is_the_scenarios(self):
        """The dates map to rounds through the scenario's own calendar (start_year, meetings_per_year)."""
        sc = load_scenario("iran-us-track-two")
        cal = calendar_of(sc)
        assert cal == Calendar(2003.0, 2.0)
        shift = min(e.round for e in sc.events if e.kind is EventKind.LEADERSHIP_CHANGE)
        assert shift == cal.round_of(IRAN_SHIFT[1]) == 21
        interim, final = IRAN_OBSERVED.values()
        assert cal.round_of(interim) == 22 and cal.round_of(final) == 26 == sc.rounds
        assert calendar_of(sc, {"meetings_per_year": 4}).round_of(interim) == 44
        assert abs(decimal_year(date(2013, 11, 24)) - 2013.896) < 1e-3

    def test_interval_in_calendar_time(self):
        cal = Calendar(2003.0, 2.0)
        assert calendar_interval(24, np.inf, cal) == (2014.5, np.inf)
        assert calendar_interval(21, 22, cal) == (2013.0, 2014.0)

    def test_predictive_interval_counts_no_agreement_as_later(self):
        r = np.array([-1] * 50 + list(range(20, 70)))
        lo, hi = predictive_interval(r)
        assert lo == 29 and np.isinf(hi)


class TestNoTransfer:
    """The one-sided shift's consistency check: no agreement where the same runs with both
    leaderships serious do agree."""

    def test_passes_under_the_agreement_rule(self):
        ok, evidence = check_no_transfer(200, 0)
        assert ok, evidence

    def test_fails_when_one_leaderships_consent_suffices(self, monkeypatch):
        """Mutation of the rule: agreement needs the consent (serious, the idea remembered and
        inside the win-set) of one leadership, not of every one. The one-sided runs then agree,
        and the check fails."""
        import sim.core.rules as rules

        real = rules.agreement_support

        def any_side(known, inside, motivated, player):
            ok = real(known, inside, motivated, player) & player[None, :, None]
            return np.broadcast_to(ok.any(axis=1, keepdims=True), ok.shape)

        monkeypatch.setattr(rules, "agreement_support", any_side)
        ok, evidence = check_no_transfer(200, 0)
        assert not ok, evidence


class TestCaseList:
    def test_every_case_labelled_and_run(self):
        res = run_cases(40)
        assert {r.case.kind for r in res} == {"validation", "calibration pattern", "consistency"}
        assert all(r.evidence.startswith(f"[{r.case.kind}]") for r in res)
