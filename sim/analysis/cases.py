"""Case studies: checks of the model against the documented cases, each able to fail.

Three kinds of check, labelled in every result:

- **validation** — a documented fact is compared with a counterfactual in which it is absent,
  under conditions where it can matter, and the check fails if the fact makes no difference
  (Canada–China: Burton's facts against his recommendations, with both leaderships serious);
  or an observation kept out of the calibration must fall inside the model's predictive
  interval (Iran–US: the agreement timings in calendar time);
- **calibration pattern** — a pattern the calibration is fitted to (reproducing it is not
  validation, only a posterior predictive check);
- **consistency** — a pattern that follows from a rule by construction (stated as such).

Each validation check has a mutation (``mutate=``): the key fact or mechanism removed, under
which the check must fail (``tests/test_cases.py``). Nothing here tunes the model to pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from sim.batch.ensemble import EnsembleResult, simulate
from sim.scenarios import EventKind, Scenario, load_scenario, resolve

Draws = Sequence[Mapping[str, float]]
Check = Callable[[int, int, Draws, str | None], tuple[bool, str]]

# ---------------------------------------------------------------- the documented facts

#: Both leaderships serious about change from 1997 (a lean regime whose target motivation is
#: above the threshold): the counterfactual conditions under which Burton's facts can matter.
SERIOUS = {"motivation_lean": 0.9}

#: Burton's recommendations (002, "Findings" and "Chinese perspectives"), each as parameters
#: of canada-china-hrd. Shorthand: the assessment has no list of recommendations; the first two
#: are remedies it records from the Chinese participants, the last two answer shortcomings it
#: lists ("constantly changing" foreign partners, Canadian materials "not translated").
#: MFA as coordinator only: it stops gatekeeping and stops dominating the
#: time with scripts (script pressure at the track-1.5 preset, 0.5); follow-up technical
#: assistance between meetings; continuity of Canadian participants (turnover, briefing and
#: de-briefing at the Chinese side's level); Canadian materials translated into Chinese.
BURTON_REFORMS: dict[str, dict[str, float]] = {
    "mfa-coordinator": {"China.gatekeeping": 0.0, "China.script_pressure": 0.5},
    "follow-up": {"follow_up": 0.5},
    "continuity": {"Canada.turnover": 0.1, "Canada.handover": 0.5, "Canada.institutional_memory": 0.5},
    "translation": {"China.translation_loss": 0.0},
}

#: Burton's facts replaced by neutral values (the parameter defaults, track-1.5 scripts, no
#: gatekeeping or translation loss, stable Canadian participants): the mutation of the
#: Canada–China check. The 2001 gap and the downgrade are removed with :func:`_without_events`.
FACTS_REMOVED: dict[str, float] = {
    "Canada.turnover": 0.1,
    "Canada.handover": 0.3,
    "Canada.institutional_memory": 0.2,
    "China.script_pressure": 0.5,
    "China.gatekeeping": 0.0,
    "China.translation_loss": 0.0,
}

#: The Iran–US timeline (source 000 for the pattern; the dates are public record). The shift is
#: the June 2013 presidential election in Iran, in Obama's second term (from 20 Jan 2013); the
#: two agreement dates are the hold-out observations, kept out of the calibration.
IRAN_SHIFT = ("June 2013 election", date(2013, 6, 14))
IRAN_OBSERVED = {"interim deal (24 Nov 2013)": date(2013, 11, 24), "comprehensive agreement (14 Jul 2015)": date(2015, 7, 14)}


def decimal_year(d: date) -> float:
    """A date as a decimal year: 2013-11-24 → 2013.896."""
    start = date(d.year, 1, 1)
    return d.year + (d - start).days / (date(d.year + 1, 1, 1) - start).days


@dataclass(frozen=True)
class Calendar:
    """The model's calendar time for a scenario: round r covers [t₀ + (r − 1)Δt, t₀ + rΔt) with
    t₀ the scenario's ``start_year`` and Δt = 1 / ``meetings_per_year`` (docs/ODD.md §2)."""

    start_year: float
    meetings_per_year: float

    def year_of(self, rnd: float) -> float:
        """The calendar start of round ``rnd`` (decimal year)."""
        return self.start_year + (rnd - 1) / self.meetings_per_year

    def round_of(self, when: float | date) -> int:
        """The round holding a date (or decimal year)."""
        y = decimal_year(when) if isinstance(when, date) else when
        return int(np.floor((y - self.start_year) * self.meetings_per_year + 1e-9)) + 1


def calendar_of(sc: Scenario, overrides: Mapping[str, float] | None = None) -> Calendar:
    """The calendar of ``sc`` under ``overrides`` (its ``start_year`` and resolved ``meetings_per_year``)."""
    if sc.start_year is None:
        raise ValueError(f"{sc.path}: start_year: missing; a case in calendar time needs the scenario's start_year")
    return Calendar(sc.start_year, float(resolve(sc, overrides or {}).channel["meetings_per_year"]))


# ---------------------------------------------------------------- running arms with common seeds


def _without_events(sc: Scenario, kinds: Sequence[EventKind]) -> Scenario:
    return dataclasses.replace(sc, events=[e for e in sc.events if e.kind not in kinds])


def _seeds(runs: int, seed: int) -> list[int]:
    return np.random.SeedSequence(seed).generate_state(runs, np.uint32).astype(int).tolist()


def run_arm(sc: Scenario, overrides: Mapping[str, float], runs: int, seed: int, draws: Draws = ()) -> EnsembleResult:
    """``runs`` seeded runs of ``sc``; run ``i`` uses posterior draw ``i mod len(draws)`` (if any)
    under ``overrides``. Arms run with the same ``seed`` share seeds and draws (paired)."""
    draws = list(draws) or [{}]
    setups = [resolve(sc, {**draws[i % len(draws)], **overrides}) for i in range(len(draws))]
    return simulate([setups[i % len(setups)] for i in range(runs)], _seeds(runs, seed))


def _paired_ci(d: np.ndarray, seed: int = 0, binary: bool = False) -> tuple[float, float, float]:
    """Mean paired difference and its 95% bootstrap CI; ``binary`` (differences of 0/1 outcomes):
    at least what the counts of discordant pairs allow (:func:`sim.analysis.stats.counts_floor`)."""
    from sim.analysis.stats import bootstrap_ci

    e = bootstrap_ci(d, seed=seed, discrete="paired" if binary else None)
    return e.value, e.low, e.high


# ---------------------------------------------------------------- Canada–China (validation)


def burton_arms(mutate: str | None = None) -> tuple[Scenario, dict[str, dict[str, float]]]:
    """canada-china-hrd with both leaderships serious: the dialogue as documented and with all of
    Burton's recommendations. ``mutate="facts"`` removes Burton's facts from both."""
    sc = load_scenario("canada-china-hrd")
    base = dict(SERIOUS)
    if mutate == "facts":
        sc = _without_events(sc, [EventKind.CHANNEL_CLOSE, EventKind.CHANNEL_REOPEN, EventKind.DELEGATION_DOWNGRADE])
        base |= FACTS_REMOVED
    reformed = dict(base)
    for r in BURTON_REFORMS.values():
        reformed |= r if mutate != "facts" else {k: v for k, v in r.items() if k not in FACTS_REMOVED}
    return sc, {"as documented": base, "recommendations applied": reformed}


def check_burton(runs: int, seed: int, draws: Draws = (), mutate: str | None = None) -> tuple[bool, str]:
    """Burton's facts block, with serious leaderships, what his recommendations make possible:
    agreement in at most 5% of runs as documented, and a paired gain in agreement whose 95% CI
    excludes zero once the recommendations are applied."""
    sc, arms = burton_arms(mutate)
    out = {k: run_arm(sc, v, runs, seed, draws).outcomes for k, v in arms.items()}
    a0, a1 = out["as documented"]["agreement"].astype(float), out["recommendations applied"]["agreement"].astype(float)
    m, lo, hi = _paired_ci(a1 - a0, binary=True)
    pg, plo, phi = _paired_ci(out["recommendations applied"]["peak_progress"] - out["as documented"]["peak_progress"])
    ok = a0.mean() <= 0.05 and lo > 0
    return bool(ok), (
        f"with both leaderships serious, agreement in {a0.mean():.0%} of runs as documented and {a1.mean():.0%} with "
        f"Burton's recommendations applied (paired gain {m:+.2f}, 95% CI [{lo:+.2f}, {hi:+.2f}]; peak progress "
        f"{out['as documented']['peak_progress'].mean():.2f} → {out['recommendations applied']['peak_progress'].mean():.2f}, "
        f"paired gain {pg:+.2f} [{plo:+.2f}, {phi:+.2f}]); ideas reported to the leadership per run "
        f"{out['as documented']['ideas_reported'].mean():.2f} → {out['recommendations applied']['ideas_reported'].mean():.2f}"
    )


# ---------------------------------------------------------------- Iran–US timeline (validation, hold-out)


def _shift_round(sc: Scenario) -> int:
    return min(e.round for e in sc.events if e.kind is EventKind.LEADERSHIP_CHANGE)


#: The wind-down counterfactual: the channel closed at the end of 2007, in the middle of the lean
#: years, and reopened at the shift (with set-up rounds and fresh personnel).
WIND_DOWN = date(2007, 12, 31)


def iran_arms(mutate: str | None = None) -> tuple[Scenario, dict[str, float], dict[str, Scenario]]:
    """iran-us-track-two kept open, and wound down in the lean years (closed in the round holding
    :data:`WIND_DOWN`, reopened at the shift with set-up rounds and fresh personnel).
    ``mutate="no-shift"`` removes the 2013 shift; ``mutate="no-reporting"`` cuts the link from the
    channel to the leaderships."""
    from sim.scenarios import parse_event

    sc = load_scenario("iran-us-track-two")
    shift = _shift_round(sc)
    over: dict[str, float] = {}
    if mutate == "no-shift":
        sc = _without_events(sc, [EventKind.LEADERSHIP_CHANGE])
    elif mutate == "no-reporting":
        over = {"reporting": 0.0}
    names = [s.name for s in sc.sides]
    close = calendar_of(sc).round_of(WIND_DOWN)
    extra = [
        parse_event(sc.path, "wind-down", {"round": close, "kind": "channel_close"}, names, sc.rounds),
        parse_event(sc.path, "wind-down", {"round": shift, "kind": "channel_reopen"}, names, sc.rounds),
    ]
    wind = dataclasses.replace(sc, events=sorted(sc.events + extra, key=lambda e: e.round))
    return sc, over, {"keep-open": sc, "wind-down": wind}


def predictive_interval(agreement_round: np.ndarray, level: float = 0.8) -> tuple[float, float]:
    """Central ``level`` interval of the round of agreement; runs without agreement by the horizon
    count as later than any round (+inf), so an upper end of +inf means 'not by the horizon'."""
    r = np.where(agreement_round < 0, np.inf, agreement_round.astype(float))
    q = (1 - level) / 2
    return float(np.quantile(r, q, method="inverted_cdf")), float(np.quantile(r, 1 - q, method="inverted_cdf"))


def calendar_interval(lo: float, hi: float, cal: Calendar) -> tuple[float, float]:
    """A predictive interval of rounds [lo, hi] in calendar time: from the start of round ``lo`` to
    the end of round ``hi`` (decimal years; +inf stays +inf: not by the horizon)."""
    return cal.year_of(lo), (cal.year_of(hi + 1) if np.isfinite(hi) else np.inf)


def check_iran_timeline(runs: int, seed: int, draws: Draws = (), mutate: str | None = None) -> tuple[bool, str]:
    """Out of sample, in the model's calendar time: the dates of the interim deal and of the
    comprehensive agreement lie in the central 80% predictive interval of the date of agreement
    of the kept-open channel (from the start of its 10% round to the end of its 90% round). The
    wind-down counterfactual is reported beside it."""
    sc, over, arms = iran_arms(mutate)
    cals = {calendar_of(sc, {**d, **over}) for d in (list(draws) or [{}])}
    if len(cals) != 1:
        raise ValueError("check_iran_timeline: the posterior draws give different calendars (meetings_per_year varies)")
    cal = cals.pop()
    shift = _shift_round(load_scenario("iran-us-track-two"))  # as documented (the no-shift mutation removes it)
    out = {k: run_arm(s, over, runs, seed, draws).outcomes for k, s in arms.items()}
    r_keep = out["keep-open"]["agreement_round"]
    lo, hi = predictive_interval(r_keep)
    y_lo, y_hi = calendar_interval(lo, hi, cal)
    obs = {k: decimal_year(d) for k, d in IRAN_OBSERVED.items()}
    end_year = cal.year_of(sc.rounds + 1)
    # a date past the horizon is never inside: the runs say nothing about it (hi is +inf when
    # fewer than 90% of runs agree by the horizon, which must not admit any later date)
    inside = {k: y_lo <= y < y_hi and y < end_year for k, y in obs.items()}

    def by(r: np.ndarray, t: int) -> np.ndarray:
        return ((r >= 0) & (r <= t)).astype(float)

    def when(y: float) -> str:
        return f"not by {end_year:.1f} (the horizon)" if not np.isfinite(y) else f"{y:.2f}"

    t_int, t_end = (cal.round_of(d) for d in IRAN_OBSERVED.values())
    wind = out["wind-down"]["agreement_round"]
    m, clo, chi = _paired_ci(by(r_keep, t_end) - by(wind, t_end), binary=True)
    ok = all(inside.values())
    return bool(ok), (
        f"calendar: {cal.meetings_per_year:g} rounds a year from {cal.start_year:g}, the shift in round {shift} "
        f"({cal.year_of(shift):.2f}; {IRAN_SHIFT[0]} {decimal_year(IRAN_SHIFT[1]):.2f}); central 80% predictive "
        f"interval of the date of agreement: {when(y_lo)} to {when(y_hi)}; observed "
        + "; ".join(f"{k} = {obs[k]:.2f} ({'inside' if inside[k] else 'OUTSIDE'})" for k in obs)
        + f"; P(agreement by the end of the round holding the interim deal, {cal.year_of(t_int + 1):.1f}) {by(r_keep, t_int).mean():.0%}, "
        f"by the end of the round holding the comprehensive agreement ({cal.year_of(t_end + 1):.1f}) {by(r_keep, t_end).mean():.0%}. "
        f"Wind-down counterfactual (closed {cal.year_of(calendar_of(sc).round_of(WIND_DOWN)):.1f}, reopened at the shift): "
        f"P(agreement by {cal.year_of(t_end + 1):.1f}) {by(wind, t_end).mean():.0%}; keep-open − wind-down {m:+.2f}, "
        f"95% CI [{clo:+.2f}, {chi:+.2f}]"
    )


# ---------------------------------------------------------------- calibration patterns and consistency


def check_hrd_pattern(runs: int, seed: int, draws: Draws = (), mutate: str | None = None) -> tuple[bool, str]:
    """canada-china-hrd as shipped (lean leaderships): no progress, falling trust, nothing reported."""
    res = run_arm(load_scenario("canada-china-hrd"), {}, runs, seed, draws)
    o = res.outcomes
    agree, prog = o["agreement"].mean(), o["peak_progress"].mean()
    t0, t1 = res.series["trust"][:, 0], res.series["trust"][:, -1]
    falling = np.mean(t1 < t0)
    ideas = o["ideas_reported"].mean()
    ok = agree <= 0.05 and prog <= 0.05 and falling >= 0.8
    return bool(ok), (
        f"agreement in {agree:.0%} of runs; peak progress {prog:.2f}; trust from {t0.mean():.2f} to {t1.mean():.2f} "
        f"(lower at the end in {falling:.0%} of runs); {ideas:.2f} ideas reported per run"
    )


def _window(out: EnsembleResult, shift: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    r = out.rounds
    return (r >= shift - k) & (r < shift), (r >= shift) & (r < shift + k)


def check_blossom(runs: int, seed: int, draws: Draws = (), mutate: str | None = None) -> tuple[bool, str]:
    """iran-us-track-two: trust and ideas carried upward rise right after the two-sided shift."""
    sc = load_scenario("iran-us-track-two")
    out = run_arm(sc, {}, runs, seed, draws)
    before, after = _window(out, _shift_round(sc), 4)
    trust_b, trust_a = out.series["trust"][:, before].mean(), out.series["trust"][:, after].mean()
    rate_b = np.diff(out.series["ideas_reported"][:, before], axis=1).mean()
    rate_a = np.diff(out.series["ideas_reported"][:, after], axis=1).mean()
    ok = trust_a > trust_b + 0.05 and rate_a > 2 * rate_b and rate_a > 0
    return bool(ok), (
        f"mean trust {trust_b:.2f} in the 4 rounds before the shift, {trust_a:.2f} in the 4 after; ideas reported "
        f"per round {rate_b:.2f} before, {rate_a:.2f} after"
    )


def check_no_transfer(runs: int, seed: int, draws: Draws = (), mutate: str | None = None) -> tuple[bool, str]:
    """Only the US leadership becomes serious: no agreement (the agreement rule needs both), where
    the same runs with both leaderships serious do agree: agreement ≤ 1% one-sided, and the paired
    two-sided − one-sided difference's 95% CI above 0 (without it, "no agreement" could be the
    floor of a scenario in which nothing agrees, and the check could not fail)."""
    sc = load_scenario("iran-us-track-two")
    evs = [dataclasses.replace(e, sides=(1,)) if e.kind is EventKind.LEADERSHIP_CHANGE else e for e in sc.events]
    o = run_arm(dataclasses.replace(sc, events=evs), {}, runs, seed, draws).outcomes
    both = run_arm(sc, {}, runs, seed, draws).outcomes["agreement"].astype(float)
    agree, ideas = o["agreement"].mean(), o["ideas_reported"].mean()
    m, lo, hi = _paired_ci(both - o["agreement"].astype(float), binary=True)
    return bool(agree <= 0.01 and lo > 0), (
        f"agreement in {agree:.0%} of runs, although {ideas:.1f} ideas were reported per run, against {both.mean():.0%} "
        f"of the same runs with both leaderships serious (paired difference {m:+.2f}, 95% CI [{lo:+.2f}, {hi:+.2f}]; this "
        "follows from the agreement rule, which needs every leadership's consent — serious, the idea remembered and inside "
        "its win-set: a consistency check, not an emergent finding)"
    )


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str
    pattern: str
    source: str
    check: Check
    kind: str = "validation"
    mutations: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseResult:
    case: Case
    reproduced: bool
    evidence: str
    runs: int


def cases() -> list[Case]:
    return [
        Case(
            "Burton's facts block what his recommendations make possible",
            "canada-china-hrd",
            "With both leaderships serious, the dialogue as Burton documents it (scripts, a gatekeeping MFA division, "
            "untranslated materials, changing Canadian participants, the downgrade, no follow-up) yields no agreement, "
            "while the same dialogue with his recommendations applied (MFA as coordinator only, follow-up programmes, "
            "continuity of participants, translation) reaches agreement in more runs (paired).",
            "002 (Burton, Assessment of the Canada-China Bilateral Human Rights Dialogue): findings and recommendations",
            check_burton,
            "validation",
            ("facts",),
        ),
        Case(
            "Iran-US agreement timings (hold-out)",
            "iran-us-track-two",
            "In the model's calendar time (the scenario's start_year and meetings_per_year), the interim deal "
            "(24 Nov 2013) and the comprehensive agreement (14 Jul 2015), after the June 2013 election, lie inside "
            "the central 80% predictive interval of the date of agreement. Not used in the calibration.",
            "000 (CIPS blog): the Iran-US Track Twos 'blossomed' in Obama's second term; dates are public record",
            check_iran_timeline,
            "validation",
            ("no-shift", "no-reporting"),
        ),
        Case(
            "Scripted, downgraded, high-turnover dialogue",
            "canada-china-hrd",
            "As documented, with lean leaderships: no progress, and trust wears down ('dialogue fatigue'). A "
            "calibration pattern: a posterior predictive check, not validation.",
            "001 (Globe and Mail on the Burton report); 002 (Burton)",
            check_hrd_pattern,
            "calibration pattern",
        ),
        Case(
            "Blossoming after a two-sided shift",
            "iran-us-track-two",
            "Trust and ideas carried upward rise right after both leaderships become serious. A calibration "
            "pattern: a posterior predictive check, not validation.",
            "000 (CIPS blog): the Iran-US dialogues in Obama's second term",
            check_blossom,
            "calibration pattern",
        ),
        Case(
            "No transfer after a one-sided shift",
            "iran-us-track-two",
            "If only one leadership becomes serious, ideas do not turn into an agreement (by the agreement rule).",
            "000 (CIPS blog): the years before 'the leadership of both countries finally became serious'",
            check_no_transfer,
            "consistency",
        ),
    ]


def run_cases(runs: int = 200, seed: int = 0, draws: Draws = (), mutate: Mapping[str, str] | None = None) -> list[CaseResult]:
    """Run every case over ``runs`` seeds (cycling through posterior ``draws`` if given) and check it;
    ``mutate`` maps a case name to one of its mutations."""
    out = []
    for case in cases():
        ok, evidence = case.check(runs, seed, draws, (mutate or {}).get(case.name))
        out.append(CaseResult(case, ok, f"[{case.kind}] {evidence}", runs))
    return out


__all__ = [
    "BURTON_REFORMS",
    "FACTS_REMOVED",
    "IRAN_OBSERVED",
    "SERIOUS",
    "Calendar",
    "Case",
    "CaseResult",
    "calendar_of",
    "cases",
    "predictive_interval",
    "run_cases",
]
