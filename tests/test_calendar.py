"""Calendar time (issue #9): rates are per year and converted to the round's length, so the same
scenario at one and at two meetings a year follows the same expected path in calendar time.

The comparison: ``lean-years`` (script pressure 0.3, turnover 0.1 per year) for YEARS years at one and
at two meetings a year, RUNS runs each with the same seeds (paired: the initial positions are the same
draws; everything after is drawn differently), metrics read at every whole year. Every test at Monte
Carlo error is a two-sided z test on the paired mean difference, Bonferroni-corrected over whole years
× the two random metrics (trust, position gap) so that the family's false-alarm rate is α = 0.01
(z ≈ 3.42); cynicism is deterministic here and tested to rounding.

Measured at 1,500 paired runs: max |one − two| / SE = 1.3 (trust) and 1.7 (position gap).
Power: the standard error of the mean difference is 0.23–0.5% of the mean in trust and 0.18–0.62%
in the position gap (year 1 to year 8), so a 2% bias in any year 1–4 of either is detected with
probability ≥ 95% ((3.42 + 1.64) × SE ≤ 2%), and a persistent 2% bias with probability > 99%. The
mutations below (per-year rates not converted to the round's length, a whole year of influence per
meeting, whom one heeds re-assessed at every meeting, newcomers present from the round's start) are
each detected.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from sim import load_scenario, resolve
from sim.batch.ensemble import simulate
from sim.core import rules, step
from sim.core.params import PARAMS
from sim.core.state import Params

YEARS, RUNS = 8, 1500
SMOOTH = ("trust", "position_gap", "cynicism")
#: two metrics are tested at Monte Carlo error (cynicism is deterministic here: tested to 1e-9)
Z = float(norm.isf(0.01 / 2 / (YEARS * 2)))
#: substitution off: its target moves with exposure within a round, the one O(Δt) term left in
#: familiarity and cynicism (tested on its own below)
BASE = {"script_pressure": 0.3, "substitution": 0.0}


def yearly(meetings_per_year: int, seeds: list[int], years: int = YEARS, **params) -> dict[str, np.ndarray]:
    """The smooth metrics at whole years 1…years, (runs, years)."""
    sc = load_scenario("lean-years")
    setup = resolve(sc, params | {"meetings_per_year": meetings_per_year}, rounds=years * meetings_per_year)
    out = simulate([setup] * len(seeds), seeds, metrics=list(SMOOTH))
    return {k: out.series[k][:, meetings_per_year::meetings_per_year] for k in SMOOTH}


def z_scores(one: dict[str, np.ndarray], two: dict[str, np.ndarray], k: str) -> tuple[np.ndarray, np.ndarray]:
    """Paired mean difference one − two per year and its standard error."""
    d = one[k] - two[k]
    return d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(len(d))


@pytest.fixture(scope="module")
def paired() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    seeds = list(range(RUNS))
    return yearly(1, seeds, **BASE), yearly(2, seeds, **BASE)


class TestRatesArePerYear:
    def test_rates_are_per_year(self):
        for name in ("turnover", "familiarity_decay", "familiarity_gain", "motivation_speed", "idea_rate", "entrenchment"):
            assert PARAMS[name].units.startswith("per ") and "year" in PARAMS[name].units, name
            assert PARAMS[name].rate

    def test_newcomers_arrive_at_the_last_replacement(self):
        """The remaining time τ = Δt − arrival of a replaced seat has density ∝ λ e^{−λτ} on [0, Δt]:
        its mean is 1/λ − Δt e^{−λΔt}/(1 − e^{−λΔt})."""
        p, dt = 0.4, 0.5
        u = np.random.default_rng(0).random((1, 200_000))
        q = rules.per_round(np.array([p]), np.array([dt]))
        leave = rules.leaves(u, q[:, None], np.ones_like(u, bool))
        tau = (dt - rules.arrival_time(u, np.full((1, 1), p), leave, np.array([dt])))[leave]
        lam = -np.log(1 - p)
        mean = 1 / lam - dt * np.exp(-lam * dt) / (1 - np.exp(-lam * dt))
        assert tau.min() >= 0 and tau.max() <= dt
        assert abs(tau.mean() - mean) < 4 * tau.std() / np.sqrt(len(tau))


class TestCalendarTime:
    def test_familiarity_agrees_within_monte_carlo_error(self, paired):
        one, two = paired
        diff, se = z_scores(one, two, "trust")
        assert np.all(np.abs(diff) <= Z * se), f"trust: one − two = {diff} (allowed ±{Z * se})"

    def test_cynicism_agrees_exactly(self, paired):
        """Cynicism does not depend on who holds a seat, so here it is deterministic: exact solutions
        over each round (exposure, rules.exposure_step) give the same path to rounding."""
        one, two = paired
        np.testing.assert_allclose(one["cynicism"].mean(axis=0), two["cynicism"].mean(axis=0), rtol=1e-9)

    def test_positions_agree_within_monte_carlo_error(self, paired):
        """Positions follow the Friedkin–Johnsen flow (rules.fj_flow), solved exactly over each piece
        of a round, and whom one heeds is re-assessed on the calendar clock, not at meetings."""
        one, two = paired
        diff, se = z_scores(one, two, "position_gap")
        assert np.all(np.abs(diff) <= Z * se), f"position gap: one − two = {diff} (allowed ±{Z * se})"

    def test_substitution_is_first_order_and_small(self):
        """With substitution on (the default), a leadership's target moves with exposure, which a round
        holds fixed: cynicism at one and two meetings a year differs, by less than 0.1% (measured 0.02%)."""
        one, two = yearly(1, [1]), yearly(2, [1])
        np.testing.assert_allclose(one["cynicism"], two["cynicism"], rtol=1e-3)


class TestTheChecksCanFail:
    def test_mutation_per_round_rates_not_converted_fails(self, monkeypatch):
        """Per-year rates used unconverted in every round (Params.per_round returning the per-year
        rate, not 1 − (1 − p)^Δt): at two meetings a year turnover strikes and exposure is forgotten
        about twice as fast a year, and the calendar checks above, run on the mutated model, fail —
        familiarity (trust), cynicism and positions alike."""
        monkeypatch.setattr(
            Params, "per_round", lambda self, name, times=None: getattr(self, name) * (getattr(self, times) if times else 1)
        )
        seeds = list(range(400))
        mutated = yearly(1, seeds, **BASE), yearly(2, seeds, **BASE)
        checks = TestCalendarTime()
        for check in (
            checks.test_familiarity_agrees_within_monte_carlo_error,
            checks.test_cynicism_agrees_exactly,
            checks.test_positions_agree_within_monte_carlo_error,
        ):
            with pytest.raises(AssertionError):
                check(mutated)

    def test_mutation_start_of_round_turnover_fails(self, monkeypatch):
        """Newcomers who arrive at the start of the round (the old rule) get a whole round of
        contact: at one meeting a year a whole year, at two half a year — a bias of about 3% in mean
        familiarity that the familiarity test detects."""
        monkeypatch.setattr(rules, "arrival_time", lambda u, rate, leave, dt: np.zeros_like(u))
        seeds = list(range(600))
        one, two = yearly(1, seeds, years=4, **BASE), yearly(2, seeds, years=4, **BASE)
        diff, se = z_scores(one, two, "trust")
        assert np.any(np.abs(diff) > Z * se), f"trust: one − two = {diff}, SE {se}"

    @staticmethod
    def positions_fail(one: dict[str, np.ndarray], two: dict[str, np.ndarray]) -> bool:
        diff, se = z_scores(one, two, "position_gap")
        return bool(np.any(np.abs(diff) > Z * se))

    def test_mutation_a_year_of_influence_per_meeting_fails(self, paired):
        """The influence rate not converted (a whole year's flow at every meeting, as the old
        once-a-round Friedkin–Johnsen step did): positions move about twice as fast at two meetings
        a year and the position test fails."""
        n = 400
        one = {k: v[:n] for k, v in paired[0].items()}
        assert self.positions_fail(one, yearly(2, list(range(n)), **BASE, influence_rate=2.0))

    def test_mutation_reassessing_at_every_meeting_fails(self, monkeypatch, paired):
        """Whom one heeds re-assessed at every meeting (the old rule) rather than on the calendar
        clock: familiarity and views are fresher at two meetings a year, the bound of confidence
        admits more, and the gap closes faster (by about 2.5%): the position test fails."""
        at_every_round = step.reassessment_cuts
        monkeypatch.setattr(step, "reassessment_cuts", lambda state, P: (np.ones(state.B, bool), at_every_round(state, P)[1]))
        n = 1000
        one = {k: v[:n] for k, v in paired[0].items()}
        assert self.positions_fail(one, yearly(2, list(range(n)), **BASE))


class TestPiecesInOneBatch:
    """step.positions_through_round takes the exponentials of every piece of a round (between
    newcomers' arrivals) in one batch; it must give what the flow (rules.fj_flow) chained piece by
    piece gives, run by run, with each newcomer taking his seat at his arrival."""

    @staticmethod
    def chained(state, layout, P, W, sigma, present, x, anchor, leave, arrival, span):
        so = layout.side_of
        line, lam = state.line[:, so], state.openness
        e_side = P.entrenchment * sigma[:, layout.starts]
        x, anchor = x.copy(), anchor.copy()
        for b in range(state.B):
            r = slice(b, b + 1)
            args = (W[r], line[r], sigma[r], lam[r], present[r], P.influence_rate[r], e_side[r], so)
            clock = 0.0
            for i in sorted(np.nonzero(leave[b])[0], key=lambda i: arrival[b, i]):
                x[r], anchor[r] = rules.fj_flow(x[r], anchor[r], *args, np.array([arrival[b, i] - clock]))
                x[b, i], anchor[b, i] = state.private[b, i], state.anchor[b, i]
                clock = arrival[b, i]
            x[r], anchor[r] = rules.fj_flow(x[r], anchor[r], *args, np.array([span[b] - clock]))
        return x, anchor

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_equals_the_flow_chained_piece_by_piece(self, seed):
        from sim.core.state import Params, initial_state, layout_of

        rng = np.random.default_rng(seed)
        B = 12
        setups = [resolve(load_scenario("leadership-change"), {"entrenchment": 0.3})] * B
        layout, P = layout_of(setups[0]), Params.from_setups(setups)
        state = initial_state(setups, layout, P, rng.random((B, layout.N)))
        n = layout.N
        state.private, state.anchor = rng.random((B, n)), rng.random((B, n))  # the newcomers'
        x, anchor = rng.random((B, n)), rng.random((B, n))
        present = rng.random((B, n)) < 0.9
        present[:2] = False  # nobody meets: views stay, newcomers bring their own
        W = rules.influence_weights(x, x, np.full((B, n, n), 0.3), present, P.self_weight)
        sigma = rng.random((B, layout.S))[:, layout.side_of]
        span = rng.uniform(0.2, 2.0, B)
        leave = rng.random((B, n)) < 0.4
        arrival = rng.random((B, n)) * span[:, None]
        arrival[3, :3] = arrival[3, 0]  # tied arrivals
        want = self.chained(state, layout, P, W, sigma, present, x, anchor, leave, arrival, span)
        got = step.positions_through_round(state, layout, P, W, sigma, present, x, anchor, leave, arrival, span)
        np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-12)

    def test_mutation_newcomers_from_the_start_of_the_round_fails(self, monkeypatch):
        """The check can fail: with every newcomer in his seat from the round's start (no cut at
        arrivals), the batched pieces no longer equal the chained flow."""
        real = step.positions_through_round

        def no_cuts(state, layout, P, W, sigma, present, x, anchor, leave, arrival, span):
            return real(state, layout, P, W, sigma, present, x, anchor, leave, np.zeros_like(arrival), span)

        monkeypatch.setattr(step, "positions_through_round", no_cuts)
        with pytest.raises(AssertionError):
            self.test_equals_the_flow_chained_piece_by_piece(0)


class TestFamiliarityPiecesCompose:
    """step.familiarity_through_round cuts a span at each newcomer's arrival (rules.familiarity_arrivals):
    a pair flows from its last reset, the alumni fade between arrivals. Being exact, it must give for
    a span what it gives for the span cut in two at any time τ, the second part starting from the
    first's result with the arrivals after τ alone (to rounding)."""

    @staticmethod
    def case(seed: int):
        from sim.core.state import Params, initial_state, layout_of

        rng = np.random.default_rng(seed)
        B = 16
        setups = [resolve(load_scenario("leadership-change"), {"institutional_memory": 0.8, "handover": 0.3, "follow_up": 0.2})] * B
        layout, P = layout_of(setups[0]), Params.from_setups(setups)
        state = initial_state(setups, layout, P, rng.random((B, layout.N)))
        n, cross = layout.N, layout.cross[None]
        F = np.triu(rng.uniform(-0.3, 0.9, (B, n, n)), 1)
        F = (F + np.swapaxes(F, 1, 2)) * cross
        A = rng.uniform(0, 0.9, (B, layout.S, layout.S))
        sigma = rng.random((B, layout.S))[:, layout.side_of]
        present = rng.random((B, n)) < 0.9
        meeting = rng.random(B) < 0.8
        meet_pairs = cross & (present & meeting[:, None])[:, :, None] & (present & meeting[:, None])[:, None, :]
        span = rng.uniform(0.2, 2.0, B)
        leave = rng.random((B, n)) < 0.5
        arrival = np.where(leave, rng.random((B, n)) * span[:, None], 0.0)
        return state, layout, P, F, A, leave, arrival, rules.candor(sigma), meet_pairs, meeting, span, rng

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_a_span_equals_its_two_parts(self, seed):
        state, layout, P, F, A, leave, arrival, c, meet_pairs, meeting, span, rng = self.case(seed)
        args = (c, meet_pairs, meeting)
        whole = step.familiarity_through_round(state, layout, P, F, A, leave, arrival, *args, span)
        tau = span * rng.uniform(0.2, 0.8, len(span))
        early = leave & (arrival < tau[:, None])
        F1, A1 = step.familiarity_through_round(state, layout, P, F, A, early, np.where(early, arrival, 0.0), *args, tau)
        late = leave & ~early
        F2, A2 = step.familiarity_through_round(
            state, layout, P, F1, A1, late, np.where(late, arrival - tau[:, None], 0.0), *args, span - tau
        )
        assert late.any() and early.any() and (leave.sum(axis=1) > 2).any()
        np.testing.assert_allclose(F2, whole[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(A2, whole[1], rtol=0, atol=1e-12)

    @pytest.mark.parametrize("seed", [0, 1])
    def test_equals_the_rules_chained_arrival_by_arrival(self, seed):
        """Run by run, arrival by arrival, with the batch rules: the leaver's pairs flow from their
        last reset (rules.relax), the alumni fade (rules.alumni_decay) and take in the leaver's
        contacts (rules.alumni_update), the newcomer's row is reset (rules.newcomer_familiarity);
        then every pair flows for the rest of the span."""
        state, layout, P, F, A, leave, arrival, c, meet_pairs, meeting, span, _ = self.case(seed)
        got = step.familiarity_through_round(state, layout, P, F, A, leave, arrival, c, meet_pairs, meeting, span)
        pi, pj = layout.pairs
        level, rate = step._familiarity_rates(P, state, c[:, pi, pj], meet_pairs[:, pi, pj], meeting)
        h, mem, d, so = P.member("handover", layout), P.member("institutional_memory", layout), P.familiarity_decay, layout.side_of
        F, A = F.copy(), A.copy()
        for b in range(len(F)):
            r, reset, clock = slice(b, b + 1), np.zeros(layout.N), 0.0
            for i in sorted(np.nonzero(leave[b])[0], key=lambda i: arrival[b, i]):
                t, p = arrival[b, i], layout.pair_index[i]
                F[b, i] = F[b, :, i] = rules.relax(F[b, i], level[b, p], rate[b, p], t - reset)
                A[r] = rules.alumni_decay(A[r], d[b], t - clock)
                one = np.zeros((1, layout.N), dtype=bool)
                one[0, i] = True
                A[r] = rules.alumni_update(A[r], F[r], one, state.active[r], so, layout.starts)
                F[r] = rules.newcomer_familiarity(F[r], one, h[r], mem[r], A[r], so, state.active[r], layout.cross, P.distrust_handover[r])
                reset[i] = clock = t
            rest = span[b] - np.maximum(reset[pi], reset[pj])
            F[b, pi, pj] = F[b, pj, pi] = rules.relax(F[b, pi, pj], level[b, :-1], rate[b, :-1], rest)
            A[r] = rules.alumni_decay(A[r], d[b], span[b] - clock)
        np.testing.assert_allclose(got[0], F, rtol=0, atol=1e-14)
        np.testing.assert_allclose(got[1], A, rtol=0, atol=1e-14)

    def test_mutation_pairs_flowing_from_the_round_start_fails(self, monkeypatch):
        """The check can fail: if each arrival were handled as the span's first (its pairs flowing
        from the span's start though a partner's newcomer arrived earlier, the alumni fading from it
        too), a span and its parts would disagree."""
        real = rules.familiarity_arrivals

        def from_start(F, A, level, rate, pair_index, arrival, leave, *rest):
            clock = np.zeros(len(leave))
            for i in np.argsort(np.where(leave, arrival, np.inf), axis=1, kind="stable").T:
                one = np.zeros_like(leave)
                one[np.arange(len(leave)), i] = leave[np.arange(len(leave)), i]
                clock = np.maximum(clock, real(F, A, level, rate, pair_index, np.where(one, arrival, 0.0), one, *rest))
            return clock

        monkeypatch.setattr(rules, "familiarity_arrivals", from_start)
        with pytest.raises(AssertionError):
            self.test_a_span_equals_its_two_parts(0)
