"""Calendar time (issue #9): rates are per year and converted to the round's length, so the same
scenario at one and at two meetings a year follows the same expected path in calendar time."""

from __future__ import annotations

import numpy as np

from sim import load_scenario, resolve
from sim.batch.ensemble import simulate
from sim.core.params import PARAMS

YEARS, RUNS = 20, 300


def yearly(meetings_per_year: int, seeds: list[int], **params) -> dict[str, np.ndarray]:
    sc = load_scenario("lean-years")
    setup = resolve(sc, params | {"meetings_per_year": meetings_per_year}, rounds=YEARS * meetings_per_year)
    out = simulate([setup] * len(seeds), seeds, metrics=["trust", "position_gap", "cynicism"])
    return {k: out.series[k][:, ::meetings_per_year] for k in ("trust", "position_gap", "cynicism")}  # whole years


class TestCalendarTime:
    def test_rates_are_per_year(self):
        for name in ("turnover", "familiarity_decay", "familiarity_gain", "motivation_speed", "idea_rate", "entrenchment"):
            assert PARAMS[name].units.startswith("per ") and "year" in PARAMS[name].units, name
            assert PARAMS[name].rate

    def test_one_and_two_meetings_a_year_agree_in_calendar_time(self):
        """Mean familiarity, position gap and cynicism at each whole year, independent seeds. Allowed:
        3 standard errors plus 5% — the O(Δt) error of state that a round holds fixed (turnover at the
        start of a round, motivation targets that move with exposure)."""
        one = yearly(1, list(range(RUNS)), script_pressure=0.3)
        two = yearly(2, list(range(RUNS, 2 * RUNS)), script_pressure=0.3)
        for k in one:
            a, b = one[k].mean(axis=0), two[k].mean(axis=0)
            se = np.sqrt(one[k].var(axis=0, ddof=1) / RUNS + two[k].var(axis=0, ddof=1) / RUNS)
            assert np.all(np.abs(a - b) <= 3 * se + 0.05 * np.abs(a) + 1e-9), f"{k}: {a} vs {b}"

    def test_mutation_per_round_rates_would_disagree(self):
        """The check can fail: the same per-round numbers (not converted) at two meetings a year
        build familiarity and cynicism about twice as fast."""
        one = yearly(1, list(range(100)))
        fast = yearly(2, list(range(100)), familiarity_gain=0.51, cynicism_rate=0.3)  # 1 − (1 − 0.3)² and 2 × 0.15
        assert fast["cynicism"].mean(axis=0)[5] > 1.2 * one["cynicism"].mean(axis=0)[5]
