"""Case studies: run documented scenarios and check the patterns the sources describe.

Each case states a pattern, its source, a check computed from many seeded runs and whether the
model reproduces it. Nothing here tunes the model to pass; a pattern that the runs do not show
is reported as not reproduced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.batch.ensemble import EnsembleResult, simulate
from sim.scenarios import EventKind, Scenario, load_scenario, resolve

Check = Callable[[EnsembleResult], tuple[bool, str]]


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str
    pattern: str
    source: str
    check: Check
    variant: Callable[[Scenario], Scenario] | None = None


@dataclass(frozen=True)
class CaseResult:
    case: Case
    reproduced: bool
    evidence: str
    runs: int


def _shift_round(sc: Scenario) -> int:
    return min(e.round for e in sc.events if e.kind is EventKind.LEADERSHIP_CHANGE)


def _check_hrd(out: EnsembleResult) -> tuple[bool, str]:
    agree = out.outcomes["agreement"].mean()
    prog = out.series["progress"][:, -1].mean()
    t0, t1 = out.series["trust"][:, 0], out.series["trust"][:, -1]
    falling = np.mean(t1 < t0)
    ideas = out.outcomes["ideas_reported"].mean()
    ok = agree <= 0.05 and prog <= 0.05 and falling >= 0.8
    return bool(ok), (
        f"agreement in {agree:.0%} of runs; final progress {prog:.2f}; trust fell from "
        f"{t0.mean():.2f} to {t1.mean():.2f} (lower at the end in {falling:.0%} of runs); "
        f"{ideas:.2f} ideas reported per run"
    )


def _window(out: EnsembleResult, shift: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    r = out.rounds
    before = (r >= shift - k) & (r < shift)
    after = (r >= shift) & (r < shift + k)
    return before, after


def _check_blossom(shift: int) -> Check:
    def check(out: EnsembleResult) -> tuple[bool, str]:
        before, after = _window(out, shift, 4)
        trust_b, trust_a = out.series["trust"][:, before].mean(), out.series["trust"][:, after].mean()
        ideas = out.series["ideas_reported"]
        rate_b = np.diff(ideas[:, before], axis=1).mean() if before.sum() > 1 else 0.0
        rate_a = np.diff(ideas[:, after], axis=1).mean() if after.sum() > 1 else 0.0
        agree = out.outcomes["agreement"].mean()
        ok = trust_a > trust_b + 0.05 and rate_a > 2 * rate_b and rate_a > 0
        return bool(ok), (
            f"mean trust {trust_b:.2f} in the 4 rounds before the shift, {trust_a:.2f} in the 4 after; "
            f"ideas reported per round {rate_b:.2f} before, {rate_a:.2f} after; agreement by the "
            f"horizon in {agree:.0%} of runs"
        )

    return check


def _one_sided(sc: Scenario) -> Scenario:
    """Only the second side (the US in iran-us-track-two) becomes serious."""
    evs = [dataclasses.replace(e, sides=(1,)) if e.kind is EventKind.LEADERSHIP_CHANGE else e for e in sc.events]
    return dataclasses.replace(sc, name=sc.name + " (one-sided)", events=evs)


def _check_no_transfer(out: EnsembleResult) -> tuple[bool, str]:
    agree = out.outcomes["agreement"].mean()
    ideas = out.outcomes["ideas_reported"].mean()
    return bool(agree <= 0.05), (
        f"agreement in {agree:.0%} of runs, although {ideas:.1f} ideas were reported per run "
        "(this follows from the agreement rule, which needs every leadership serious: a "
        "consistency check, not an emergent finding)"
    )


def cases() -> list[Case]:
    iran = load_scenario("iran-us-track-two")
    return [
        Case(
            "Scripted, downgraded, high-turnover dialogue",
            "canada-china-hrd",
            "A scripted dialogue with a downgraded delegation, constantly changing Canadian participants and "
            "nothing reported beyond one ministry division yields no progress, and trust wears down "
            '("dialogue fatigue").',
            "001 (Globe and Mail on the Burton report); 002 (Burton, Assessment of the Canada-China Bilateral Human Rights Dialogue)",
            _check_hrd,
        ),
        Case(
            "Blossoming after a two-sided shift",
            "iran-us-track-two",
            "Long-standing Track Twos that were forums for statements blossom within months once both leaderships "
            "become serious: trust and ideas carried upward rise right after the shift.",
            "000 (CIPS blog): the Iran-US dialogues in Obama's second term",
            _check_blossom(_shift_round(iran)),
        ),
        Case(
            "No transfer after a one-sided shift",
            "iran-us-track-two",
            "If only one leadership becomes serious, ideas do not turn into an agreement.",
            "000 (CIPS blog): the years before 'the leadership of both countries finally became serious'",
            _check_no_transfer,
            _one_sided,
        ),
    ]


def run_cases(runs: int = 200, seed: int = 0) -> list[CaseResult]:
    """Run every case over ``runs`` seeds and check its pattern."""
    out = []
    seeds = np.random.SeedSequence(seed).generate_state(runs, np.uint32).astype(int).tolist()
    for case in cases():
        sc = load_scenario(case.scenario)
        if case.variant:
            sc = case.variant(sc)
        res = simulate([resolve(sc)] * runs, seeds)
        ok, evidence = case.check(res)
        out.append(CaseResult(case, ok, evidence, runs))
    return out


__all__ = ["Case", "CaseResult", "cases", "run_cases"]
