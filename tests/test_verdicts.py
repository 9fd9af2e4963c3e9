"""Planted-truth tests of the verdict sentences: one class per verdict function, one test (or one
pair of tests) per branch. Every input is built by hand in the shape the function reads, with a
known truth planted; each test fails when its branch is replaced by a constant or removed (the
mutation named in its docstring was applied to the sim file and the test seen to fail)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.analysis.cases as cases
from sim.analysis import answer
from sim.analysis.calibration import answer_split, summary_lines
from sim.analysis.report import summary
from sim.analysis.results import Results
from sim.batch.ensemble import EnsembleResult
from sim.scenarios import EventKind

KEEP, WIND, FAIR, MAIN = "keep-open", "wind-down", "paused", "main"
SHIFT, WINDOW, HORIZON = 40, 10, 60


# ---------------------------------------------------------------- answer.py: hand-built answer dicts


def est(value: float | None, low: float | None, high: float | None, **extra) -> dict:
    return {"value": value, "low": low, "high": high, "n": 100} | extra


def curve(estimate: list[float], half: float = 0.1) -> dict:
    """An effect curve from round SHIFT on whose simultaneous band is estimate ± half."""
    return {
        "round": list(range(SHIFT, SHIFT + len(estimate))),
        "estimate": estimate,
        "simultaneous_low": [e - half for e in estimate],
        "simultaneous_high": [e + half for e in estimate],
        "n_pairs": 100,
    }


def estimand_row(arm: str = KEEP, ref: str = WIND, soon=None, hz=None, estimate=None) -> dict:
    """An estimands row in the shape of :func:`sim.analysis.estimands.compute` (with its shape)."""
    c = curve(estimate or [0.0] * 5)
    return {
        "scenario": MAIN,
        "arm": arm,
        "reference": ref,
        "condition": None,
        "n_pairs": 100,
        "soon": {"k": 10, "round": 49, "arm": 0.5, "reference": 0.4} | (soon or est(0.1, -0.05, 0.25)),
        "by_horizon": {"k": 21, "round": 60, "arm": 0.7, "reference": 0.6} | (hz or est(0.1, -0.05, 0.25)),
        "curve": c,
        "shape": answer.curve_shape(c),
        "rmst": est(-0.5, -1.5, 0.5, tau=21),
        "earlier": est(-0.2, -1.0, 0.6, pairs_both_agree=50),
        "more": est(0.1, -0.05, 0.25),
        "before_shift": {"arm": 0, "reference": 0, "pairs_left_out": 0},
    }


def answer_dict(rows=None, **extra) -> dict:
    return {
        "primary": {"arm": KEEP, "reference": WIND, "scenario": MAIN},
        "estimands": rows or [estimand_row()],
        "fair_restart": None,
        "decomposition": None,
        "discovery": None,
        "phase": [],
        "checks": {},
    } | extra


def one(lines: list[str], start: str) -> str:
    found = [s for s in lines if s.startswith(start)]
    assert len(found) == 1, lines
    return found[0]


class TestRestrictedMeanTime:
    @pytest.mark.parametrize(
        ("rm", "says"),
        [
            (est(0.11, 0.02, 0.20), "differs by +0.11 (95% CI [+0.02, +0.20]) rounds, so keep-open takes longer on this measure."),
            (est(-0.11, -0.20, -0.02), "differs by -0.11 (95% CI [-0.20, -0.02]) rounds, so keep-open is quicker on this measure."),
            (est(0.05, -0.05, 0.15), "differs by +0.05 (95% CI [-0.05, +0.15]) rounds, which cannot be told from zero."),
        ],
    )
    def test_two_decimals_and_the_direction(self, rm, says):
        """An interval [+0.02, +0.20] printed as [+0.0, +0.2] read as including zero, and the sentence
        did not say which arm is slower. Kills: one decimal, or the direction clause dropped or swapped."""
        row = estimand_row() | {"rmst": rm | {"tau": 21}}
        s = one(answer.verdict(answer_dict([row])), "Earlier vs more")
        assert s.endswith(says), s


class TestPlaceboCaveat:
    def test_no_agreements_in_the_placebo_pass(self):
        """Branch: agreements == 0 → 'does not manufacture'. Kills: the test replaced by False."""
        ans = answer_dict(checks={"placebo": {"scenario": "flat", "runs": 12, "agreements": 0}})
        s = one(answer.verdict(ans), "Caveat — placebo")
        assert s == (
            "Caveat — placebo (flat, no shift): 0 of 12 kept-open runs reached agreement (it does not manufacture agreements; "
            "where the leaderships never become serious the agreement rule guarantees this: a consistency check, not evidence)."
        )

    def test_agreements_in_the_placebo_fail_the_check(self):
        """Branch: agreements > 0 → 'the placebo check fails'. Kills: the test replaced by True."""
        ans = answer_dict(checks={"placebo": {"scenario": "flat", "runs": 12, "agreements": 3}})
        s = one(answer.verdict(ans), "Caveat — placebo")
        assert s == "Caveat — placebo (flat, no shift): 3 of 12 kept-open runs reached agreement; the placebo check fails."

    def test_the_check_counts_ok_treatment_runs_of_the_placebo_scenario(self):
        """_checks: only ok kept-open runs of the placebo scenario count. Kills: the count replaced by 0,
        or the arm/status filter dropped."""
        rows = []
        for scenario, arm, status, agreed in (
            [("flat", KEEP, "ok", i < 3) for i in range(10)]
            + [("flat", KEEP, "error", True)] * 2
            + [("flat", WIND, "ok", True)] * 10
            + [(MAIN, KEEP, "ok", True)] * 10
        ):
            rows.append({"scenario": scenario, "arm": arm, "status": status, "agreement": agreed})
        checks = answer._checks(pd.DataFrame(rows), {"placebo": "flat"}, KEEP, SHIFT)
        assert checks["placebo"] == {"scenario": "flat", "runs": 10, "agreements": 3}
        assert checks["failed_runs"] == 2
        s = one(answer.verdict(answer_dict(checks=checks)), "Caveat — placebo")
        assert "3 of 10 kept-open runs reached agreement; the placebo check fails." in s


class TestCrossingOrder:
    """The effect curve's simultaneous band above zero in rounds 41–42 and below in 47–48 (or the mirror)."""

    ESTIMATE = [0.05, 0.2, 0.2, 0.1, 0.02, -0.02, -0.1, -0.2, -0.2, -0.05]

    def test_payoff_first_then_reversal(self):
        """Branch: min(above) < min(below) → 'payoff comes first'. Kills: the comparison replaced by False."""
        v = answer.verdict(answer_dict([estimand_row(estimate=self.ESTIMATE)]))
        s = one(v, "The effect curve crosses zero")
        assert "above zero in rounds 41–42 and below zero in rounds 47–48" in s
        assert s.endswith("so the payoff comes first and reverses later.")

    def test_negative_first_then_positive(self):
        """Branch: min(above) > min(below) → 'negative first'. Kills: the comparison replaced by True."""
        v = answer.verdict(answer_dict([estimand_row(estimate=[-e for e in self.ESTIMATE])]))
        s = one(v, "The effect curve crosses zero")
        assert "above zero in rounds 47–48 and below zero in rounds 41–42" in s
        assert s.endswith("so the effect is negative first and turns positive later.")


def discovery_part(positive: list, negative: list) -> dict:
    return {
        "margin": 0.05,
        "points": 40,
        "counts": {"positive": 12, "negative": 7, "null": 21},
        "boxes": {"positive": positive, "negative": negative},
    }


def held(value: float, low: float, high: float, confirmed: bool, pairs: int = 400) -> dict:
    return {"value": value, "low": low, "high": high, "pairs": pairs, "confirmed": confirmed}


BOX_A = {"rule": "turnover < 0.3", "coverage": 0.8, "density": 0.9, "mass": 0.3, "held_out": held(0.12, 0.05, 0.19, True)} | {
    "stability": 0.85
}
BOX_B = {"rule": "gap ≥ 4", "coverage": 0.55, "density": 0.65, "mass": 0.2, "held_out": held(-0.2, -0.3, -0.1, True), "stability": None}
BOX_NOISE = {"rule": "gap ≤ 2", "coverage": 0.3, "density": 0.6, "mass": 0.1, "held_out": held(0.02, -0.06, 0.1, False), "stability": 0.1}


def signed(kind: str, **extra) -> dict:
    """An estimate whose 95% CI lies above 0 ("positive"), below 0 ("negative") or spans it ("null")."""
    return {"positive": est(0.2, 0.1, 0.3, **extra), "negative": est(-0.2, -0.3, -0.1, **extra), "null": est(0.0, -0.1, 0.1, **extra)}[kind]


class TestEarlierVsMore:
    """Every (earlier, more) sign pair gets its own label; "earlier" is the change in time to
    agreement, so a negative one means sooner. Kills: any label moved to another pair, the
    default used for all."""

    LABELS = {
        ("negative", "positive"): "earlier and more",
        ("negative", "null"): "earlier, not more",
        ("negative", "negative"): "earlier but fewer",
        ("null", "positive"): "more, not earlier",
        ("null", "negative"): "fewer agreements",
        ("null", "null"): "neither earlier nor more",
        ("positive", "negative"): "later and fewer",
        ("positive", "positive"): "more but later",
        ("positive", "null"): "later, not more",
        ("unknown", "positive"): "more (timing unknown)",
        ("unknown", "negative"): "fewer agreements (timing unknown)",
        ("unknown", "null"): "neither more nor fewer (timing unknown)",
    }

    @pytest.mark.parametrize(("timing", "share"), list(LABELS))
    def test_label_follows_the_two_signs(self, timing, share):
        """ "unknown": no pair in which both arms agree, so no interval for the timing (audit: a
        share 0.43 lower was labelled "neither earlier nor more")."""
        earlier = est(None, None, None, pairs_both_agree=0) if timing == "unknown" else signed(timing, pairs_both_agree=50)
        row = estimand_row() | {"earlier": earlier, "more": signed(share)}
        row["shape"] = answer.curve_shape(row["curve"])
        s = one(answer.verdict(answer_dict([row])), "Earlier vs more")
        n = 0 if timing == "unknown" else 50
        assert s.startswith(f"Earlier vs more — {self.LABELS[(timing, share)]}: among the {n} pairs")
        phrase = {
            "negative": "agreement comes earlier by",
            "positive": "agreement comes later by",
            "null": "the timing does not differ",
            "unknown": "the timing cannot be compared",
        }
        assert phrase[timing] in s


class TestTooFewPairsToTime:
    @pytest.mark.parametrize(("k", "clause"), [(0, False), (3, True)])
    def test_the_reason_is_said_only_when_some_pairs_both_agree(self, k, clause):
        """Below MIN_TIMED_PAIRS the estimate has no interval; with some such pairs the sentence says
        how many an interval needs, with none it does not. Kills: the clause dropped or always given."""
        row = estimand_row() | {"earlier": est(-6.0 if k else None, None, None, pairs_both_agree=k)}
        s = one(answer.verdict(answer_dict([row])), "Earlier vs more")
        assert "the timing cannot be compared" in s
        assert ("(an interval needs 10 such pairs)" in s) == clause, s


class TestSignChange:
    """``last_sign_change_round`` in answer.json. Kills: the condition removed, rounds at 0 not passed over."""

    @pytest.mark.parametrize(
        ("estimate", "expected"),
        [
            ([0.1, 0.2, -0.1, -0.2, 0.1], SHIFT + 4),
            ([0.1, 0.0, -0.1, -0.1, -0.1], SHIFT + 2),  # through an exact 0
            ([0.0, 0.1, 0.0, 0.2, 0.0], None),
            ([-0.1, -0.2, -0.3, -0.1, -0.2], None),
        ],
    )
    def test_last_change_of_sign(self, estimate, expected):
        assert answer.curve_shape(curve(estimate))["last_sign_change_round"] == expected


class TestWhereItHolds:
    def test_positive_box_holds_and_no_reversal(self):
        """Branch: a confirmed positive box → 'holds', empty negative class → 'no region where it
        reverses'. Kills: the verb pairs swapped, or the verb made a constant."""
        ans = answer_dict(discovery={"soon": discovery_part([BOX_A], [])})
        s = one(answer.verdict(ans), "Where (soon after the shift")
        assert s == (
            "Where (soon after the shift; per-point effects beyond ±0.05 on half the pairs, PRIM, each region tested on the "
            "other half): it holds where turnover < 0.3 (coverage 80%, density 90%; held-out effect +0.12 [+0.05, +0.19], "
            "found again in 85% of resamples); no region where it reverses (of 7 negative points)."
        )

    def test_negative_box_reverses_and_no_holding(self):
        """Branch: a confirmed negative box → 'reverses', empty positive class → 'no region where
        it holds'. Kills: the verb pairs swapped, or the verb made a constant."""
        ans = answer_dict(discovery={"by_horizon": discovery_part([], [BOX_B, BOX_A])})
        s = one(answer.verdict(ans), "Where (by the horizon")
        assert s == (
            "Where (by the horizon; per-point effects beyond ±0.05 on half the pairs, PRIM, each region tested on the "
            "other half): no region where it holds (of 12 positive points); it reverses where gap ≥ 4 (coverage 55%, "
            "density 65%; held-out effect -0.20 [-0.30, -0.10])."
        )

    def test_unconfirmed_box_is_not_named_as_a_region(self):
        """Branch: PRIM's first box is not confirmed on the held-out half → the next confirmed one
        is named; with none confirmed, the sentence says so and shows the held-out effect. Kills:
        the first box named regardless of its confirmation."""
        ans = answer_dict(discovery={"soon": discovery_part([BOX_NOISE, BOX_A], [BOX_NOISE])})
        s = one(answer.verdict(ans), "Where (soon after the shift")
        assert "it holds where turnover < 0.3 (coverage 80%" in s
        assert s.endswith(
            "no region where it reverses that the held-out half confirms (PRIM's box gap ≤ 2: held-out effect +0.02 [-0.06, +0.10])."
        )


def phase(adequate: list[bool], needed: int | None = 40) -> dict:
    cells = [
        {"significant": sig, "mean_diff": d, "adequate": ad}
        for (sig, d), ad in zip(
            [(True, 0.2), (True, 0.1), (True, -0.1), (False, 0.3), (False, -0.2), (False, 0.0), (False, 0.01)], adequate, strict=True
        )
    ]
    return {
        "x": "turnover",
        "y": "gap",
        "outcome": "P(agreement within 10 rounds of the shift), keep-open − wind-down",
        "correction": "Holm (FWER 5%)",
        "tolerance": 0.05,
        "replications": 20,
        "replications_needed": needed,
        "cells": cells,
    }


class TestPhaseCellsNeedingReplications:
    def test_inadequate_cells_are_counted(self):
        """Branch: inad > 0 → 'N cells need more replications', N the planted count. Kills: inad
        replaced by any constant ≠ 4 (0 included) or the count's condition negated."""
        ans = answer_dict(phase=[phase([True, False, True, False, False, True, False])])
        s = one(answer.verdict(ans), "Over turnover × gap")
        assert s == (
            "Over turnover × gap (P(agreement within 10 rounds of the shift), keep-open − wind-down), after Holm (FWER 5%): "
            "positive in 2 of 7 cells, negative in 1; 4 cells need more replications (a cell is decided when significant, "
            "precise when its CI half-width is at most ±0.05; the most demanding cell needs 40 replications per point to be "
            "decided or precise, the experiment has 20)."
        )

    def test_one_inadequate_cell_is_singular(self):
        """Audit: "1 cells need more replications"."""
        ans = answer_dict(phase=[phase([True, True, True, False, True, True, True])])
        assert "; 1 cell needs more replications (" in one(answer.verdict(ans), "Over turnover × gap")

    def test_a_small_bound_below_zero_never_prints_as_zero(self):
        """Audit: a CI bound of −0.004 printed "[−0.00, …]" (read: not below zero). Kills: _ci
        without fmt_signed."""
        assert answer._ci(est(0.12, -0.004, 0.3)) == "+0.12 (95% CI [-0.004, +0.30])"
        assert answer._ci(est(0.0, -0.2, 0.2)) == "+0.00 (95% CI [-0.20, +0.20])"
        assert answer.fmt_signed(float("nan")) == "—" and answer.fmt_signed(-0.00004) == "-0.00004"

    def test_every_cell_decided_or_precise(self):
        """Branch: inad == 0 → 'every cell is decided or precise'. Kills: inad replaced by a nonzero constant."""
        ans = answer_dict(phase=[phase([True] * 7, needed=None)])
        s = one(answer.verdict(ans), "Over turnover × gap")
        assert s.endswith("positive in 2 of 7 cells, negative in 1; every cell is decided or precise.")


def decomposition(components: list[tuple[str, dict]], costs: bool = True) -> dict:
    def part(scale: float) -> dict:
        p = {
            "total": est(-0.3 * scale, -0.4 * scale, -0.2 * scale),
            "construction": est(-0.45 * scale, -0.5 * scale, -0.4 * scale),
            "carried": est(0.15 * scale, 0.1 * scale, 0.2 * scale),
            "components": [{"name": n, "shapley": e} for n, e in components],
        }
        if costs:
            p |= {"carry_overs": est(0.25 * scale, 0.2 * scale, 0.3 * scale), "costs": est(-0.1 * scale, -0.15 * scale, -0.05 * scale)}
        return p

    return {
        "donor": KEEP,
        "recipient": WIND,
        "at_round": 41,
        "pairs": 64,
        "by_construction": ["fresh personnel", "set-up delay"],
        "soon": part(1.0),
        "by_horizon": part(0.5),
    }


class TestConstruction:
    def test_split_at_the_fair_restart_prints_the_planted_numbers(self):
        """Branch: fair_restart with both rows → the split sentence: the penalty from (fair − reference),
        the loss of contact from (arm − fair), each soon then by the horizon. Kills: the two rows
        swapped, soon/by_horizon swapped, the branch removed."""
        rows = [
            estimand_row(soon=est(-0.3, -0.4, -0.2), hz=est(-0.1, -0.2, 0.0)),
            estimand_row(FAIR, WIND, soon=est(-0.12, -0.2, -0.04), hz=est(-0.05, -0.09, -0.01)),
            estimand_row(KEEP, FAIR, soon=est(-0.18, -0.27, -0.09), hz=est(-0.04, -0.11, 0.03)),
        ]
        s = one(answer.verdict(answer_dict(rows, fair_restart=FAIR)), "Split at the fair restart")
        assert s == (
            "Split at the fair restart: the restart penalty imposed by construction (paused − wind-down: the same gap with "
            "no set-up delay and no fresh personnel) is -0.12 (95% CI [-0.20, -0.04]) soon and -0.05 (95% CI [-0.09, -0.01]) "
            "by the horizon; the loss of contact itself (keep-open − paused) is -0.18 (95% CI [-0.27, -0.09]) soon and "
            "-0.04 (95% CI [-0.11, +0.03]) by the horizon."
        )

    @pytest.mark.parametrize("fair", [None, "absent-arm"])
    def test_no_split_without_a_fair_restart_or_its_rows(self, fair):
        """Branch: no fair_restart, or no rows for it → no split sentence. Kills: the guards removed."""
        v = answer.verdict(answer_dict(fair_restart=fair))
        assert not any(s.startswith("Split at the fair restart") for s in v)

    def test_decomposition_sentence_prints_the_planted_parts(self):
        """Branch: decomposition → 'set by the reopen event' with the construction share, the carried
        state and its two parts, the significant components largest first. Kills: construction
        printed from another part, the sort or the sign filter dropped, the costs clause removed."""
        comps = [
            ("trust", est(0.01, -0.02, 0.04)),
            ("familiarity", est(0.2, 0.1, 0.3)),
            ("positions", est(-0.35, -0.45, -0.25)),
        ]
        v = answer.verdict(answer_dict(decomposition=decomposition(comps)))
        s = one(v, "What carries it soon after the shift")
        assert s == (
            "What carries it soon after the shift (keep-open − wind-down, state transplant at round 41, 64 pairs): total "
            "-0.30 (95% CI [-0.40, -0.20]), set by the reopen event (fresh personnel, set-up delay; a lower bound on what "
            "the restart imposes, whose resets of familiarity and positions count in their own components) -0.45 (95% CI "
            "[-0.50, -0.40]), carried state +0.15 (95% CI [+0.10, +0.20]) (carry-overs +0.25 (95% CI [+0.20, +0.30]), "
            "costs of staying open -0.10 (95% CI [-0.15, -0.05])); largest shares: positions -0.35 (95% CI [-0.45, -0.25]); "
            "familiarity +0.20 (95% CI [+0.10, +0.30])."
        )
        h = one(v, "What carries it by the horizon")
        assert "set by the reopen event" in h and ") -0.23 (95% CI [-0.25, -0.20]), carried state +0.07" in h

    def test_decomposition_with_no_significant_share_and_no_cost_split(self):
        """Branch: no component's CI excludes zero → 'no component's share can be told from zero';
        no carry_overs/costs → no parenthesis. Kills: the fallback or the costs guard removed."""
        v = answer.verdict(answer_dict(decomposition=decomposition([("trust", est(0.01, -0.02, 0.04))], costs=False)))
        s = one(v, "What carries it soon after the shift")
        assert s.endswith("carried state +0.15 (95% CI [+0.10, +0.20]); largest shares: no component's share can be told from zero.")

    def test_every_decomposition_gets_its_sentences_in_order(self):
        """Branch: two decompositions (wind-down, then paused, whose reopen sets no component) → one
        pair of sentences each, in the declared order; the second says it is net of the restart
        rules instead of naming an empty set. Kills: the loop cut to the first decomposition, the
        empty-set branch removed."""
        comps = [("familiarity", est(0.2, 0.1, 0.3))]
        paused = decomposition(comps) | {"recipient": "paused", "by_construction": []}
        v = answer.verdict(answer_dict(decompositions=[decomposition(comps), paused]))
        soon = [s for s in v if s.startswith("What carries it soon after the shift")]
        assert len(soon) == 2 and "(keep-open − wind-down," in soon[0] and "(keep-open − paused," in soon[1]
        assert "set by the reopen event (fresh personnel, set-up delay;" in soon[0]
        assert ("total -0.30 (95% CI [-0.40, -0.20]), net of the restart rules (paused's reopen sets no component), carried state") in soon[
            1
        ] and "set by the reopen event" not in soon[1]
        assert len([s for s in v if s.startswith("What carries it by the horizon")]) == 2

    def test_a_share_without_a_ci_is_not_named_as_told_from_zero(self):
        """A one-pair decomposition: every share has a value and no CI (low = high = None), so none can
        be told from zero, yet each is listed under 'largest shares'."""
        comps = [("familiarity", est(0.3, None, None)), ("positions", est(-0.2, None, None))]
        v = answer.verdict(answer_dict(decomposition=decomposition(comps)))
        s = one(v, "What carries it soon after the shift")
        assert s.endswith("largest shares: no component's share can be told from zero.")


# ---------------------------------------------------------------- report.py summary: hand-built Results


LABEL = f"P(agreement within {WINDOW} rounds)"


def fake_results(analysis: dict | None = None, flat: int = 0, one_sided: int = 0, design: str | None = None) -> Results:
    """A results folder in memory: 10 pairs in MAIN (kept-open agree in the window in 6, the
    reference in 2); 20 kept-open runs each in 'flat' (agreements in the first ``flat`` of them) and
    'one-sided' (the first ``one_sided``), whose reference runs all agree."""
    rows = []

    def add(scenario: str, arm: str, i: int, agreed: bool) -> None:
        rows.append(
            {
                "run_id": len(rows),
                "scenario": scenario,
                "arm": arm,
                "point": i,
                "replication": 0,
                "status": "ok",
                "agreement": agreed,
                "agreement_round": SHIFT + 2 if agreed else np.nan,
                "cost": 1.0,
                "ideas_reported": 3.0,
                "peak_progress": 0.25,
            }
        )

    for i in range(10):
        add(MAIN, KEEP, i, i < 6)
        add(MAIN, WIND, i, i < 2)
    for sc, k in (("flat", flat), ("one-sided", one_sided)):
        for i in range(20):
            add(sc, KEEP, i, i < k)
            add(sc, WIND, i, True)
    manifest = {
        "experiment": {
            "name": "planted",
            "scenarios": [MAIN, "flat", "one-sided"],
            "arms": [{"name": KEEP}, {"name": WIND}],
            "analysis": {"shift_round": SHIFT, "window": WINDOW, "main": MAIN, "treatment": KEEP, "reference": WIND} | (analysis or {}),
        }
        | ({"design": design} if design else {}),
        "design_names": [],
        "horizons": {MAIN: HORIZON, "flat": HORIZON, "one-sided": HORIZON},
    }
    return Results(Path("in-memory"), manifest, pd.DataFrame(rows), pd.DataFrame())


def effects(low: float, high: float) -> pd.DataFrame:
    return pd.DataFrame(
        [{"scenario": MAIN, "arm": KEEP, "outcome": LABEL, "mean_diff": (low + high) / 2, "ci_low": low, "ci_high": high, "n_pairs": 10}]
    )


NO_ADEQUACY = pd.DataFrame(columns=["scenario", "arm", "outcome", "half_width", "adequate"])


def run_summary(res: Results, eff: pd.DataFrame | None = None, phases=()) -> list[str]:
    return summary(res, effects(0.1, 0.7) if eff is None else eff, list(phases), NO_ADEQUACY, [])


class TestReportSummary:
    @pytest.mark.parametrize(
        ("low", "high", "verdict"),
        [
            (
                0.1,
                0.7,
                "positive on this grid average (an average over the experiment's design grid with every level weighted "
                "equally, not the answer: see the answer box)",
            ),
            (-0.7, -0.1, "negative on this grid average: the kept-open channel did worse"),
            (-0.1, 0.3, "not distinguishable from zero on this grid average"),
            (0.0, 0.3, "not distinguishable from zero on this grid average"),
            (-0.3, 0.0, "not distinguishable from zero on this grid average"),
        ],
    )
    def test_grid_average_verdict_follows_the_ci(self, low, high, verdict):
        """Branches: CI above zero → positive; below → negative; touching or straddling zero → null.
        Kills: either comparison replaced by a constant or made non-strict."""
        s = one(run_summary(fake_results(), effects(low, high)), f"In {MAIN}, keeping the channel open")
        assert f"changed the probability of agreement within {WINDOW} rounds of the shift from 20% to 60%" in s
        assert s.endswith(f"10 pairs), {verdict}.")

    @pytest.mark.parametrize(
        ("design", "says"),
        [
            ("grid", "on this grid average (an average over the experiment's design grid"),
            ("lhs", "on this sampled-design average (an average over the experiment's Latin-hypercube sample, i.e. a uniform"),
            ("sobol", "on this sampled-design average (an average over the experiment's Sobol' sample, i.e. a uniform"),
            ("morris", "on this Morris-design average (an average over the points of the Morris trajectories, which are not"),
            ("none", "on this single-point average (an average over the experiment's one parameter set"),
        ],
    )
    def test_the_pooled_verdict_names_what_the_design_averages_over(self, design, says):
        """A sample has no grid levels: the summary says what the pooled estimate averages over for
        each design kind, and so does the answer's caveat. Kills: a fixed "grid" wording."""
        s = one(run_summary(fake_results(design=design), effects(0.1, 0.7)), f"In {MAIN}, keeping the channel open")
        assert says in s, s
        ans = {"design": {"kind": design, "averaged_over": answer.design_average(design)[1]}}
        row = {"before_shift": {"arm": 0, "reference": 0}, "arm": KEEP, "reference": WIND}
        caveat = answer._caveats(ans | {"checks": {}}, row)[-1]
        assert caveat.startswith(f"Caveat — the estimates average over {answer.design_average(design)[1]};"), caveat

    @pytest.mark.parametrize(("k", "fails"), [(0, True), (1, False), (5, False)])
    def test_one_sided_transfer_fails_only_below_five_percent(self, k, fails):
        """Branch: kept-open agreement after a one-sided shift < 5% → 'transfer fails' (the reference
        arm, which always agrees there, must not count). Kills: the test made a constant, '<' made
        '<=', the arm filter dropped."""
        s = one(run_summary(fake_results({"one_sided": "one-sided"}, one_sided=k)), "After a one-sided shift")
        assert f"reached agreement in {k / 20:.0%} of runs while carrying 3.0 ideas upward per run" in s
        assert ("transfer fails without a serious counterpart" in s) == fails
        assert ("some transfer happens" in s) == (not fails)

    @pytest.mark.parametrize("k", [0, 2])
    def test_placebo_follows_the_count(self, k):
        """Branch: no placebo agreement → 'does not manufacture', else 'the placebo check fails'.
        Kills: the test made a constant."""
        s = one(run_summary(fake_results({"placebo": "flat"}, flat=k)), "Placebo (flat, no shift)")
        assert f"reached agreement in {k} of 20 runs" in s
        assert ("so it does not manufacture agreements" in s) == (k == 0)
        assert ("the placebo check fails" in s) == (k > 0)

    def test_placebo_counts_only_runs_that_ran(self):
        """20 ok placebo runs, none agreeing, and 2 that failed (no outcome): the summary and the answer
        box must give the same count, 0 of 20."""
        res = fake_results({"placebo": "flat"})
        failed = res.runs[(res.runs["scenario"] == "flat") & (res.runs["arm"] == KEEP)].head(2).copy()
        failed["run_id"] += 1000
        failed["status"], failed["agreement"], failed["agreement_round"] = "error", None, np.nan
        res = Results(res.path, res.manifest, pd.concat([res.runs, failed], ignore_index=True), res.ts)
        caveat = answer._checks(res.runs, res.analysis, KEEP, SHIFT)["placebo"]
        assert (caveat["runs"], caveat["agreements"]) == (20, 0)
        s = one(run_summary(res), "Placebo (flat, no shift)")
        assert "reached agreement in 0 of 20 runs" in s

    @pytest.mark.parametrize("inadequate", [0, 3])
    def test_cells_neither_decided_nor_precise(self, inadequate):
        """Branch: inadequate phase cells → '— N of the M cells … are neither decided nor precise' with
        the experiment's tolerance; none → no such sentence. Kills: the count or its guard made a constant."""
        cells = pd.DataFrame(
            {
                "turnover": [0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3],
                "gap": [1, 2, 3, 4, 1, 2, 3, 4],
                "mean_diff": [0.2] * 8,
                "ci_low": [0.1] * 8,
                "ci_high": [0.3] * 8,
                "significant": [True] * 8,
                "adequate": [i >= inadequate for i in range(8)],
            }
        )
        lines = run_summary(fake_results({"cell_tolerance": 0.08}), phases=[("turnover", "gap", cells)])
        found = [s for s in lines if "neither decided nor precise" in s]
        if inadequate:
            assert found == ["— 3 of the 8 cells of turnover × gap are neither decided nor precise (CI half-width above 0.08)."]
        else:
            assert found == []


# ---------------------------------------------------------------- calibration.py summary_lines


def cal_answer(fair: str | None = FAIR) -> dict:
    def row(window: int, scale: float, split: bool) -> dict:
        r = {
            "window": window,
            "p_treatment": 0.5,
            "p_reference": 0.4,
            "effect": 0.1 * scale,
            "ci_low": 0.05 * scale,
            "ci_high": 0.15 * scale,
            "pairs": 100,
        }
        if split:
            r |= {
                "p_fair": 0.45,
                "construction": -0.2 * scale,
                "construction_ci_low": -0.3 * scale,
                "construction_ci_high": -0.1 * scale,
                "net": 0.3 * scale,
                "net_ci_low": 0.2 * scale,
                "net_ci_high": 0.4 * scale,
            }
        return r

    split = fair is not None
    return {
        "experiment": "lean-years",
        "scenario": "leadership-change",
        "treatment": KEEP,
        "reference": WIND,
        "fair_restart": fair,
        "shift_round": SHIFT,
        "window": 10,
        "calibrated": [row(5, 9.0, split), row(10, 1.0, split)],
        "grid": [row(5, 7.0, split), row(10, 0.5, split)],
    }


def cal_summary(**extra) -> dict:
    return {
        "experiment": "cal",
        "prior_points": 40,
        "accepted": 6,
        "acceptance_rate": 0.15,
        "replications": 4,
        "priors": {"turnover": {"distribution": "uniform", "low": 0.0, "high": 0.4}},
        "posterior": {"turnover": {"mean": 0.1, "sd": 0.02, "q05": 0.07, "q95": 0.13}},
        "pattern_met_in_prior": {"fatigue": 0.5},
        "posterior_predictive": {"fatigue": {"met_share": 0.9}},
    } | extra


class TestCalibrationSummary:
    def test_poorly_reproduced_lists_patterns_met_by_fewer_than_half(self):
        """Branch: met_share < 0.5 → 'Poorly reproduced: …' naming exactly those (0.5 is not poor).
        Kills: the list guard made a constant, the threshold made '<='."""
        pp = {"fatigue": {"met_share": 1.0}, "blossom": {"met_share": 0.3}, "rise": {"met_share": 0.5}, "calm": {"met_share": 0.1}}
        s = one(summary_lines(cal_summary(posterior_predictive=pp)), "Posterior predictive checks")
        assert s.endswith("calm met by 10% of accepted sets. Poorly reproduced: blossom, calm.")

    def test_nothing_poorly_reproduced(self):
        """Branch: every met_share ≥ 0.5 → no 'Poorly reproduced'. Kills: the guard made 'bad' always shown."""
        pp = {"fatigue": {"met_share": 1.0}, "rise": {"met_share": 0.5}}
        s = one(summary_lines(cal_summary(posterior_predictive=pp)), "Posterior predictive checks")
        assert s.endswith("fatigue met by 100% of accepted sets; rise met by 50% of accepted sets.")

    def test_validation_cases_passed_or_failed(self):
        """Branch: validation case reproduced → 'passed', not → 'FAILED'; other kinds not listed.
        Kills: the word made a constant, the kind filter dropped."""
        cs = [
            {"case": "Burton", "kind": "validation", "reproduced": True, "evidence": "[validation] gain +0.30"},
            {"case": "Iran", "kind": "validation", "reproduced": False, "evidence": "[validation] OUTSIDE"},
            {"case": "Blossom", "kind": "calibration pattern", "reproduced": False, "evidence": "[calibration pattern] flat"},
        ]
        lines = [s for s in summary_lines(cal_summary(cases_calibrated=cs)) if s.startswith("Validation under the posterior")]
        assert lines == [
            "Validation under the posterior — Burton: passed. [validation] gain +0.30.",
            "Validation under the posterior — Iran: FAILED. [validation] OUTSIDE.",
        ]

    def test_met_by_every_prior_point(self):
        """Branch: patterns met in ≥ 99.9% of the prior → listed as carrying no information.
        Kills: the list guard made a constant, the threshold moved."""
        met = {"fatigue": 1.0, "blossom": 0.4, "no-transfer": 0.9995, "rise": 0.998}
        s = one(summary_lines(cal_summary(pattern_met_in_prior=met)), "Met by every prior point")
        assert s.startswith("Met by every prior point, so carrying no information about the parameters: fatigue, no-transfer (")

    def test_no_pattern_met_by_every_prior_point(self):
        """Branch: no idle pattern → no sentence. Kills: the guard made True."""
        lines = summary_lines(cal_summary(pattern_met_in_prior={"fatigue": 0.998, "blossom": 0.0}))
        assert not any(s.startswith("Met by every prior point") for s in lines)

    def test_calibrated_answer_with_its_split(self):
        """The calibrated answer at the experiment's window, with answer_split appended. Kills: the
        split dropped from the sentence."""
        s = one(summary_lines(cal_summary(answer=cal_answer())), "The calibrated answer")
        assert s == (
            "The calibrated answer (leadership-change, keep-open − wind-down, P(agreement within 10 rounds of the shift)): "
            "+0.100 [+0.050, +0.150] over the posterior, against +0.050 [+0.025, +0.075] over the uncalibrated grid of "
            "lean-years. Of it, paused − wind-down (the restart penalty imposed by construction) is -0.200 [-0.300, -0.100] "
            "over the posterior and -0.100 [-0.150, -0.050] over the grid; keep-open − paused (the effect without it) is "
            "+0.300 [+0.200, +0.400] and +0.150 [+0.100, +0.200]."
        )


class TestAnswerSplit:
    def test_split_prints_the_planted_parts(self):
        """Branch: a fair_restart and split rows → construction and net, posterior then grid.
        Kills: the split replaced by '', calibrated/grid or construction/net swapped."""
        a = cal_answer()
        assert answer_split(a, a["calibrated"][1], a["grid"][1]) == (
            " Of it, paused − wind-down (the restart penalty imposed by construction) is -0.200 [-0.300, -0.100] over the "
            "posterior and -0.100 [-0.150, -0.050] over the grid; keep-open − paused (the effect without it) is "
            "+0.300 [+0.200, +0.400] and +0.150 [+0.100, +0.200]."
        )

    def test_no_split_without_a_fair_restart(self):
        """Branch: no fair_restart (or rows without the split) → ''. Kills: the guard removed (KeyError)."""
        a = cal_answer(None)
        assert answer_split(a, a["calibrated"][1], a["grid"][1]) == ""
        assert answer_split(a | {"fair_restart": FAIR}, a["calibrated"][1], a["grid"][1]) == ""
        s = one(summary_lines(cal_summary(answer=a)), "The calibrated answer")
        assert s.endswith("over the uncalibrated grid of lean-years.")


# ---------------------------------------------------------------- cases.py: checks fed planted ensembles


class FakeRuns:
    """Stands in for :func:`sim.analysis.cases.run_arm`: returns a planted ensemble (``pick(sc)``
    chooses it from the scenario it is asked to run), records every call."""

    def __init__(self, pick):
        self.pick, self.calls = pick, []

    def __call__(self, sc, overrides, runs, seed, draws=()):
        self.calls.append((sc, dict(overrides)))
        return self.pick(sc)


def ensemble(rounds, series, outcomes) -> EnsembleResult:
    return EnsembleResult(np.asarray(rounds), series, {k: np.asarray(v) for k, v in outcomes.items()})


def plant(monkeypatch, rounds, series, outcomes) -> FakeRuns:
    result = ensemble(rounds, series, outcomes)
    fake = FakeRuns(lambda sc: result)
    monkeypatch.setattr(cases, "run_arm", fake)
    return fake


def first(n: int, of: int = 20) -> np.ndarray:
    return np.arange(of) < n


class TestHrdPattern:
    def hrd(self, monkeypatch, agree=1, progress=0.02, falling=16):
        trust = np.column_stack([np.full(20, 0.5), np.full(20, 0.45), np.where(first(falling), 0.3, 0.6)])
        fake = plant(
            monkeypatch,
            [0, 1, 2],
            {"trust": trust},
            {"agreement": first(agree), "peak_progress": np.full(20, progress), "ideas_reported": np.full(20, 0.25)},
        )
        ok, evidence = cases.check_hrd_pattern(20, 0)
        assert fake.calls[0][0].name == "canada-china-hrd" and fake.calls[0][1] == {}
        return ok, evidence

    def test_planted_pattern_passes_at_its_limits(self, monkeypatch):
        """Branch: agreement ≤ 5%, progress ≤ 0.05, trust lower at the end in ≥ 80% → reproduced.
        Kills: ok made False, a limit made strict."""
        ok, evidence = self.hrd(monkeypatch)
        assert ok, evidence
        assert evidence == (
            "agreement in 5% of runs; peak progress 0.02; trust from 0.50 to 0.36 (lower at the end in 80% of runs); "
            "0.25 ideas reported per run"
        )

    @pytest.mark.parametrize("broken", [{"agree": 2}, {"progress": 0.1}, {"falling": 15}])
    def test_fails_when_one_part_of_the_pattern_is_missing(self, monkeypatch, broken):
        """Branch: each conjunct false alone → not reproduced. Kills: ok made True, any conjunct dropped."""
        ok, evidence = self.hrd(monkeypatch, **broken)
        assert not ok, evidence


class TestBlossom:
    SHIFT = 21  # iran-us-track-two: both leaderships become serious in round 21

    def blossom(self, monkeypatch, trust_after=0.5, rate_before=0.1, rate_after=1.0):
        rounds = np.arange(27)
        trust = np.tile(np.where(rounds < self.SHIFT, 0.3, trust_after), (20, 1))
        ideas = np.where(rounds < self.SHIFT, rate_before * rounds, rate_before * self.SHIFT + rate_after * (rounds - self.SHIFT))
        fake = plant(monkeypatch, rounds, {"trust": trust, "ideas_reported": np.tile(ideas, (20, 1))}, {"agreement": first(0)})
        ok, evidence = cases.check_blossom(20, 0)
        assert fake.calls[0][0].name == "iran-us-track-two"
        return ok, evidence

    def test_planted_rise_passes(self, monkeypatch):
        """Branch: trust up by more than 0.05, idea rate more than doubled and positive → reproduced.
        Kills: ok made False, the before/after windows swapped."""
        ok, evidence = self.blossom(monkeypatch)
        assert ok, evidence
        assert (
            evidence
            == "mean trust 0.30 in the 4 rounds before the shift, 0.50 in the 4 after; ideas reported per round 0.10 before, 1.00 after"
        )

    @pytest.mark.parametrize(
        "broken",
        [{"trust_after": 0.34}, {"rate_after": 0.15}, {"rate_before": -0.5, "rate_after": 0.0}],
        ids=["trust-flat", "rate-not-doubled", "rate-not-positive"],
    )
    def test_fails_when_one_part_of_the_rise_is_missing(self, monkeypatch, broken):
        """Branch: each conjunct false alone → not reproduced. Kills: ok made True, any conjunct dropped."""
        ok, evidence = self.blossom(monkeypatch, **broken)
        assert not ok, evidence


def one_sided(sc) -> bool:
    """Whether every leadership change of ``sc`` reaches side 1 (the US) alone."""
    changes = [e for e in sc.events if e.kind is EventKind.LEADERSHIP_CHANGE]
    return bool(changes) and all(tuple(e.sides) == (1,) for e in changes)


class TestNoTransfer:
    """iran-us-track-two with only the US leadership shifting, against the same runs with both
    shifting (100 runs each; agreement in the first ``one``, resp. ``both``, of them)."""

    def no_transfer(self, monkeypatch, one: int, both: int):
        def arm(k: int) -> EnsembleResult:
            return ensemble([0, 26], {}, {"agreement": first(k, 100), "ideas_reported": np.full(100, 4.0)})

        fake = FakeRuns(lambda sc: arm(one) if one_sided(sc) else arm(both))
        monkeypatch.setattr(cases, "run_arm", fake)
        ok, evidence = cases.check_no_transfer(100, 0)
        return ok, evidence, fake.calls

    def test_only_the_us_leadership_shifts_beside_the_shipped_scenario(self, monkeypatch):
        """The mechanism: one arm's leadership change reaches side 1 (the US) only, at the shipped
        rounds; the other arm is the scenario as shipped. Kills: the events left as shipped."""
        _, _, calls = self.no_transfer(monkeypatch, 0, 40)
        shipped = cases.load_scenario("iran-us-track-two")
        assert [one_sided(sc) for sc, _ in calls] == [True, False]
        assert calls[0][0].sides[1].name == "US" and calls[1][0].events == shipped.events
        rounds = [e.round for e in shipped.events if e.kind is EventKind.LEADERSHIP_CHANGE]
        assert [e.round for e in calls[0][0].events if e.kind is EventKind.LEADERSHIP_CHANGE] == rounds

    def test_planted_no_transfer_passes_at_the_limit(self, monkeypatch):
        """Branch: one-sided agreement ≤ 1% and the two-sided runs agree more (paired CI above 0) →
        reproduced. Kills: the verdict made False, the limit made strict."""
        ok, evidence, _ = self.no_transfer(monkeypatch, 1, 40)
        assert ok, evidence
        assert evidence.startswith("agreement in 1% of runs, although 4.0 ideas were reported per run, against 40% of the same runs")
        assert "(paired difference +0.39, 95% CI [+" in evidence

    def test_planted_transfer_fails(self, monkeypatch):
        """Branch: one-sided agreement > 1% → not reproduced. Kills: the verdict made True, the limit dropped."""
        ok, evidence, _ = self.no_transfer(monkeypatch, 2, 40)
        assert not ok, evidence
        assert evidence.startswith("agreement in 2% of runs")

    def test_fails_where_nothing_agrees_even_with_both_shifting(self, monkeypatch):
        """Branch: no paired gain from the two-sided shift (a scenario where nothing agrees) → not
        reproduced. Kills: the paired-CI conjunct dropped."""
        ok, evidence, _ = self.no_transfer(monkeypatch, 0, 0)
        assert not ok, evidence
        assert "against 0% of the same runs" in evidence


class TestAnswerFigure:
    def test_the_answer_box_plots_the_primary_comparison(self):
        """With a third arm whose row comes first (keep-open − paused before keep-open − wind-down),
        the answer box's Δ(t) is still the primary comparison, and the other figure has the rest.
        (Audit: it plotted keep-open − paused under a caption naming keep-open − wind-down.)"""
        from sim.analysis.report import primary_and_others

        paused, wind = estimand_row(KEEP, FAIR), estimand_row(KEEP, WIND)
        ans = answer_dict([paused, wind]) | {"primary": {"arm": KEEP, "reference": WIND, "scenario": MAIN}}
        shown, others = primary_and_others(ans)
        assert shown == [wind] and others == [paused]


# ---------------------------------------------------------------- report.py: the audit's wording fixes (planted numbers)


def cost_effects(low: float, high: float) -> pd.DataFrame:
    """The in-window effect with the planted CI, and a cost row (the cost sentence needs one)."""
    cost = {"scenario": MAIN, "arm": KEEP, "outcome": "cost", "mean_diff": 2.0, "ci_low": 1.9, "ci_high": 2.1, "n_pairs": 10}
    return pd.concat([effects(low, high), pd.DataFrame([cost])], ignore_index=True)


def with_runs(res: Results, **changes) -> Results:
    """``res`` with the kept-open runs' columns changed (``cost=3.0``) or a function of the runs."""
    runs = res.runs.copy()
    for col, v in changes.items():
        runs[col] = v(runs) if callable(v) else np.where(runs["arm"] == KEEP, v, runs[col])
    return Results(res.path, res.manifest, runs, res.ts)


def planted_cells(mean: list[float], significant: list[bool], adequate: list[bool] | None = None, **extra) -> pd.DataFrame:
    """Cells of a × b (a = 0.1, 0.2, …; b = 1) with the planted means (CI ± 0.05) and verdicts."""
    n = len(mean)
    return pd.DataFrame(
        {
            "a": [0.1 * (i + 1) for i in range(n)],
            "b": [1.0] * n,
            "mean_diff": mean,
            "ci_low": [m - 0.05 for m in mean],
            "ci_high": [m + 0.05 for m in mean],
            "significant": significant,
            "adequate": adequate if adequate is not None else [True] * n,
        }
        | extra
    )


def adequacy_rows(ok: bool) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": MAIN, "arm": KEEP, "outcome": "in_window", "half_width": 0.01 if ok else 0.09, "adequate": ok}])


class TestReportAuditFixes:
    @pytest.mark.parametrize("bad_cells", [0, 1, 2])
    def test_adequacy_counts_the_phase_cells(self, bad_cells):
        """Item 1. Branch: every arm's estimate adequate but phase cells not → a warning naming how many
        cells and where (with the replications the most demanding needs); none → 'Every reported estimate'.
        Kills: the phase-cell check removed (the old sentence whatever the cells)."""
        cells = planted_cells([0.0, 0.0, 0.0], [False] * 3, [i >= bad_cells for i in range(3)], replications_needed=[23.0, 12.0, 1.0])
        lines = summary(fake_results(), effects(0.1, 0.7), [("a", "b", cells)], adequacy_rows(True), [])
        rep = [s for s in lines if s.startswith(("Replication warning", "Every reported estimate"))]
        assert len(rep) == 1
        if not bad_cells:
            assert rep == ["Every reported estimate is within its replication tolerance."]
            return
        s = rep[0]
        assert "Every reported estimate" not in s and s.startswith("Replication warning: every arm's own estimate")
        assert f"{bad_cells} phase {'cell needs' if bad_cells == 1 else 'cells need'} more replications" in s
        assert f"{bad_cells} of the 3 cells of a × b (a = 0.1, b = 1" in s
        assert ("a = 0.2, b = 1" in s) == (bad_cells == 2)
        assert f"the most demanding needs {23 if bad_cells else 1} replications per point, the experiment has 1" in s

    def test_adequacy_warning_of_the_arms_also_names_the_phase_cells(self):
        """Item 1. Branch: an arm's estimate too wide and a phase cell too → both in the one warning."""
        cells = planted_cells([0.0], [False], [False])
        lines = summary(fake_results(), effects(0.1, 0.7), [("a", "b", cells)], adequacy_rows(False), [])
        s = one(lines, "Replication warning")
        assert s.startswith("Replication warning: 1 of 1 estimates") and "Besides, 1 phase cell needs more replications" in s

    @pytest.mark.parametrize(
        ("low", "high", "clause"),
        [
            (0.1, 0.7, "; about 5 cost units per additional agreement within 10 rounds of the shift, and by the horizon there "),
            (-0.1, 0.3, "cannot be told from zero, so the ratio is unbounded."),
            (-0.5, -0.1, "are fewer, not more."),
        ],
    )
    def test_cost_per_agreement_only_when_the_extra_agreements_are_positive(self, low, high, clause):
        """Item 2. Kept-open runs cost 3, the reference 1: 2 extra per run over an effect of (low+high)/2.
        Branches: CI above zero → the ratio; straddling zero → not given (unbounded); below → not given
        (fewer). Kills: the ratio given whatever the CI (the old 'extra > 0.005' test)."""
        res = with_runs(fake_results(), cost=3.0)
        s = one(summary(res, cost_effects(low, high), [], NO_ADEQUACY, []), "It cost 3.0× as much")
        assert clause in s and s.endswith("." if low <= 0 else "+0.40, 95% CI [+0.10, +0.70]).")
        assert ("cost units per additional agreement" in s) == (low > 0)

    @pytest.mark.parametrize(
        ("keep_agree", "ref_agree", "clause"),
        [
            (6, 2, "and by the horizon there are still more (+0.40"),
            (2, 2, "by the horizon the difference (+0.00, 95% CI [-0.22, +0.22]) cannot be told from zero: it may price"),
            (2, 10, "by the horizon, though, there are fewer (-0.80, 95% CI [-1.00, -0.40]): it prices agreements moved earlier"),
        ],
    )
    def test_cost_per_agreement_says_whether_they_are_still_extra_by_the_horizon(self, keep_agree, ref_agree, clause):
        """The ratio prices agreements within the window; by the horizon they may be no more, or fewer
        (moved earlier, not added). Planted: in MAIN kept-open agrees by the horizon in the first
        ``keep_agree`` of 10 pairs, the reference in the first ``ref_agree``. Kills: the by-horizon
        clause dropped, or its branches swapped."""

        def agreement(runs: pd.DataFrame) -> np.ndarray:
            main = runs["scenario"] == MAIN
            k = np.where(runs["arm"] == KEEP, keep_agree, ref_agree)
            return np.where(main, runs["point"] < k, runs["agreement"])

        res = with_runs(fake_results(), cost=3.0, agreement=agreement)
        s = one(summary(res, cost_effects(0.1, 0.7), [], NO_ADEQUACY, []), "It cost 3.0× as much")
        assert "about 5 cost units per additional agreement within 10 rounds of the shift" in s
        assert clause in s, s

    def test_mechanism_names_the_component_and_its_kind(self):
        """Items 3, 4. A planted decomposition over a × b whose substitution share is large and
        negative: the cell line says 'largest component: substitution (cost; …' (not 'carry-over');
        with the window as an axis it says the decomposition is not run per window; with no
        decomposition, that none was run. Kills: the kind dropped, the window branch removed."""
        from sim.analysis.report import add_mechanisms

        rng = np.random.default_rng(0)
        phi = np.column_stack([rng.normal(0.01, 0.01, 40), rng.normal(-0.3, 0.01, 40), rng.normal(0.0, 0.01, 40)])
        comps = [
            {"name": "familiarity", "kind": "carry-over", "by_construction": False},
            {"name": "substitution", "kind": "cost", "by_construction": False},
            {"name": "set-up delay", "kind": "carry-over", "by_construction": True},
        ]
        dec = {"_design": pd.DataFrame({"a": [0.1] * 40, "b": [1.0] * 40}), "soon": {"_phi": phi, "components": comps, "last_round": 49}}
        cells = planted_cells([-0.2], [True])
        window_cells = planted_cells([0.0], [False]).rename(columns={"a": "window"})
        phases = add_mechanisms([("a", "b", cells), ("window", "b", window_cells)], dec)
        lines = summary(fake_results(), effects(0.1, 0.7), phases, NO_ADEQUACY, [])
        s = one(lines, "— Where a = 0.1")
        assert "the transplant decomposition's largest component: substitution (cost; -0.30 of -0.29)." in s
        w = one(lines, "— Where window = 0.1")
        assert w.endswith(
            "the transplant decomposition is not run per window (this diagram's axis): it is computed once, for agreement up to round 49."
        )
        none = one(summary(fake_results(), effects(0.1, 0.7), [("a", "b", cells)], NO_ADEQUACY, []), "— Where a = 0.1")
        assert none.endswith("no decomposition was run for this experiment.")

    def test_decomposition_table_kinds_and_no_nan(self):
        """Items 3, 6. A by-construction component's kind is 'set by the reopen event' (decompose labels
        it 'carry-over'); the interaction and TOTAL rows show '—' where a column does not apply.
        Kills: the kind taken as decompose gives it; the '—' fill removed."""
        from sim.analysis.report import _one_decomposition_html

        e = {"value": 0.1, "low": 0.05, "high": 0.15, "n": 8}
        comps = [
            {"name": "set-up delay", "kind": "carry-over", "by_construction": True, "differs_in_pairs": 8, "shapley": e, "single": e},
            {"name": "substitution", "kind": "cost", "by_construction": False, "differs_in_pairs": 8, "shapley": e, "single": e},
        ]
        part = {"components": comps, "interaction": e, "total": e, "additivity_error": 0.0, "transplant_gap": 0.0}
        dec = {
            "method": "counterfactual state transplant",
            "pairs": 8,
            "donor": KEEP,
            "recipient": WIND,
            "scenario": MAIN,
            "components": {"set-up delay": ["delay"], "substitution": ["substitution"]},
            "soon": part,
        }
        page = _one_decomposition_html(dec, None)
        rows = [re.findall(r"<td>(.*?)</td>", r, flags=re.S) for r in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)]
        kinds = {html.unescape(r[1]): html.unescape(r[2]) for r in rows if r}  # window, component, kind, ...
        assert kinds["set-up delay"] == "set by the reopen event" and kinds["substitution"] == "cost"
        assert kinds["interaction (total − Σ alone)"] == "—" and kinds["TOTAL (all transplanted − none)"] == "—"
        assert "nan" not in page.lower()

    def test_window_axis_outcome_says_the_window_varies(self):
        """Item 5. With the window as an axis (3–20) the outcome label says the window varies along the
        axis; otherwise it names the fixed window. Kills: the window branch removed."""
        from sim.analysis.report import phase_outcome

        res = fake_results()
        cells = planted_cells([0.0, 0.0], [False, False]).assign(window=[3, 20])
        assert phase_outcome(res, "window", "b", cells) == (
            "P(agreement within the window of the shift; the window varies along the axis, 3–20 rounds)"
        )
        assert phase_outcome(res, "a", "b", cells) == f"P(agreement within {WINDOW} rounds of the shift)"

    def test_ranking_table_shows_dashes_and_signed_two_decimals(self):
        """Item 6. NaN (the treatment against itself) → '—'; differences signed with two decimals (more
        where a nonzero value would read ±0.00). Kills: the display left raw."""
        from sim.analysis.report import ranking_display

        ranking = pd.DataFrame(
            {
                "rank": [1, 2],
                "arm": [FAIR, KEEP],
                "in_window: arm − wind-down": [0.0143, -0.004],
                "in_window: keep-open − arm": ["-0.01 [-0.02, +0.01]", np.nan],
                "pairs": [10, 10],
            }
        )
        d = ranking_display(ranking)
        assert d["in_window: arm − wind-down"].tolist() == ["+0.01", "-0.004"]
        assert d["in_window: keep-open − arm"].tolist() == ["-0.01 [-0.02, +0.01]", "—"]

    def test_held_at_default_sentence_names_its_comparison(self):
        """Item 7. The sentence on one swept parameter held at its default names the comparison and
        outcome itself (it is shown away from the main effect) and goes with the phase diagrams.
        Kills: the old 'The same paired difference' opening."""
        from sim.analysis.report import sort_findings

        res = fake_results()
        runs = res.runs.assign(turnover=np.where(res.runs["point"] < 5, 0.1, 0.3))
        manifest = res.manifest | {"design_names": ["turnover"]}
        lines = summary(Results(res.path, manifest, runs, res.ts), effects(0.1, 0.7), [], NO_ADEQUACY, [])
        s = one(lines, "With one swept parameter held at its default")
        assert s.startswith(
            f"With one swept parameter held at its default, the paired difference ({KEEP} − {WIND} in P(agreement within "
            f"{WINDOW} rounds of the shift), {MAIN}, 95% CI): turnover = 0.1: +0.60"
        )
        assert s in sort_findings(lines)["conditions"]

    def test_one_inadequate_cell_is_singular(self):
        """Item 8. '1 of the 8 cells … is'. Kills: the verb fixed to 'are'."""
        cells = planted_cells([0.2] * 8, [True] * 8, [i > 0 for i in range(8)])
        lines = run_summary(fake_results(), phases=[("a", "b", cells)])
        assert "— 1 of the 8 cells of a × b is neither decided nor precise (CI half-width above 0.05)." in lines

    @pytest.mark.parametrize(("v", "shown"), [(-0.04, "-0.04"), (-0.004, "-0.004"), (0.0004, "+0.0004"), (0.0, "+0.00"), (np.nan, "—")])
    def test_a_nonzero_bound_never_prints_as_zero(self, v, shown):
        """Item 8. Kills: the extra decimals removed (−0.004 → '-0.00')."""
        from sim.analysis.report import _signed

        assert _signed(v) == shown

    def test_reversals_are_named_like_the_cells_where_it_holds(self):
        """Item 9. Significant negative cells are named as reversals, with their differences; none → no
        such clause. Kills: the reversal clause removed or made unconditional."""
        cells = planted_cells([0.2, -0.08, 0.0], [True, True, False])
        s = one(run_summary(fake_results(), phases=[("a", "b", cells)]), "Over a × b")
        assert "It is positive at b = 1 with a = 0.1." in s
        assert s.endswith("It reverses (significantly negative) at b = 1 with a = 0.2 (-0.08).")
        s2 = one(run_summary(fake_results(), phases=[("a", "b", planted_cells([0.2, 0.0], [True, False]))]), "Over a × b")
        assert "reverses" not in s2

    @pytest.mark.parametrize(
        ("keep_ideas", "ref_ideas", "reason"),
        [
            (3.0, 3.0, "transfer fails without a serious counterpart"),
            (0.0, 3.0, "no idea travels upward in the kept-open arm (while wind-down carries 3.0 per run)"),
            (0.0, 0.0, "no idea travels upward in either arm"),
        ],
    )
    def test_one_sided_reason_follows_the_ideas(self, keep_ideas, ref_ideas, reason):
        """Item 10. No agreement after a one-sided shift: put down to the counterpart only when ideas
        travelled; when none did (in the kept-open arm, or in either) say so. Kills: the fixed text."""
        res = with_runs(
            fake_results({"one_sided": "one-sided"}),
            ideas_reported=lambda r: np.where(r["arm"] == KEEP, keep_ideas, ref_ideas),
        )
        s = one(run_summary(res), "After a one-sided shift")
        assert reason in s
        assert ("counterpart" in s.split(":")[1] and "not the counterpart" not in s and "about transfer or" not in s) == (keep_ideas > 0)


class TestLeaningDefaults:
    """Parameters whose unsourced default favours a channel kept open (``Param.leans``) are named
    in a caveat when the experiment holds them at that default, and not when it sweeps or sets
    them."""

    def test_caveat_names_the_held_defaults(self):
        """Kills: the caveat dropped, or written whatever the experiment holds."""
        held = [{"name": "meeting_decay", "default": 0, "favours": KEEP}, {"name": "candor_wear", "default": 0.5, "favours": KEEP}]
        s = one(answer.verdict(answer_dict(leaning=held)), "Caveat — held at defaults")
        assert "reopened: meeting_decay = 0, candor_wear = 0.5; docs/ODD.md §1" in s
        assert not [x for x in answer.verdict(answer_dict(leaning=[])) if x.startswith("Caveat — held at defaults")]

    @staticmethod
    def results(design_names: list[str], scenario: str = "leadership-change", params: dict | None = None, arms: list | None = None):
        from types import SimpleNamespace

        spec = {"params": params or {}, "arms": arms or [{"name": KEEP, "params": {}}]}
        return SimpleNamespace(analysis={"main": scenario}, scenarios=[scenario], manifest={"design_names": design_names}, spec=spec)

    def test_swept_or_set_parameters_are_not_held(self):
        """Kills: the design, the experiment's params, an arm's params or the scenario's params
        ignored when deciding what is held."""
        from sim.analysis.report import leaning_defaults
        from sim.core.params import PARAMS

        leaning = {p.name for p in PARAMS.values() if p.leans}
        assert leaning == {"meeting_decay", "exposure_meeting_decay", "candor_wear", "distrust_handover"}
        names = lambda r: {x["name"] for x in leaning_defaults(r)}  # noqa: E731
        assert names(self.results([])) == leaning
        assert names(self.results(["candor_wear"])) == leaning - {"candor_wear"}
        assert names(self.results([], params={"meeting_decay": 1.0})) == leaning - {"meeting_decay"}
        assert names(self.results([], arms=[{"name": KEEP, "params": {"exposure_meeting_decay": 0.0}}])) == leaning - {
            "exposure_meeting_decay"
        }
        assert names(self.results([], scenario="iran-us-track-two")) == leaning

    def test_a_scenario_that_sets_one_holds_its_own_value(self, monkeypatch):
        """Kills: the main scenario's own parameters ignored."""
        from types import SimpleNamespace

        import sim.scenarios
        from sim.analysis.report import leaning_defaults

        monkeypatch.setattr(sim.scenarios, "load_scenario", lambda name: SimpleNamespace(params={"meeting_decay": 0.5}))
        assert {x["name"] for x in leaning_defaults(self.results([]))} == {"exposure_meeting_decay", "candor_wear", "distrust_handover"}
