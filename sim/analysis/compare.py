"""Two settings or scenarios on the same seeds: the runs of each, paired run by run (common
random numbers), as tables and a difference figure (``dialogue-sim compare``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.batch.ensemble import simulate
from sim.scenarios import Setup

#: Metrics drawn and tabulated by default.
METRICS = ("agreement", "trust", "progress", "cost")


@dataclass
class Comparison:
    """A (runs × rounds) array per metric for each side of the comparison, row b of ``a`` and of
    ``b`` sharing the seed ``seeds[b]``."""

    label_a: str
    label_b: str
    seeds: list[int]
    rounds: np.ndarray
    a: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    outcomes_a: dict[str, np.ndarray]
    outcomes_b: dict[str, np.ndarray]

    @property
    def metrics(self) -> list[str]:
        return list(self.a)

    def difference(self, metric: str) -> np.ndarray:
        """``b − a`` per pair and round."""
        return self.b[metric] - self.a[metric]

    def table(self) -> pd.DataFrame:
        """One row per outcome: each side's mean, the paired difference (B − A) and its 95%
        bootstrap CI (none with one pair). Probabilities as percentages, differences in
        probability as ±0.00, other quantities with two decimals."""
        n = len(self.seeds)
        rows = []
        oa, ob = self.outcomes_a, self.outcomes_b
        ra, rb = oa["agreement_round"].astype(float), ob["agreement_round"].astype(float)
        quantities = [
            ("P(agreement by the horizon)", oa["agreement"].astype(float), ob["agreement"].astype(float), True),
            ("agreement round (runs with agreement)", np.where(ra >= 0, ra, np.nan), np.where(rb >= 0, rb, np.nan), False),
            ("final familiarity across sides (−1 to 1)", oa["final_trust"], ob["final_trust"], False),
            ("ideas reported upward", oa["ideas_reported"].astype(float), ob["ideas_reported"].astype(float), False),
            ("meetings held", oa["meetings"].astype(float), ob["meetings"].astype(float), False),
            ("cost (rank-weighted delegate-meetings)", oa["cost"], ob["cost"], False),
        ]
        for name, x, y, prob in quantities:
            d = y - x
            ok = np.isfinite(d)
            e = stats.bootstrap_ci(d[ok], discrete="paired" if prob else None) if ok.sum() > 1 else None
            fa = (lambda v: f"{v:.0%}") if prob else (lambda v: f"{v:.2f}")
            fd = (lambda v: f"{v:+.2f}") if np.isfinite(d[ok]).any() else str
            mean_d = float(np.mean(d[ok])) if ok.any() else np.nan
            rows.append(
                {
                    "outcome": name,
                    "A": fa(np.nanmean(x)) if np.isfinite(x).any() else "–",
                    "B": fa(np.nanmean(y)) if np.isfinite(y).any() else "–",
                    "B − A (paired mean)": fd(mean_d) if ok.any() else "–",
                    "95% CI": f"[{e.low:+.2f}, {e.high:+.2f}]" if e is not None else "– (one pair)" if n == 1 else "–",
                    "pairs": int(ok.sum()),
                }
            )
        return pd.DataFrame(rows)


def compare(
    a: Setup,
    b: Setup,
    seeds: Sequence[int],
    label_a: str = "A",
    label_b: str = "B",
    metrics: Sequence[str] = METRICS,
    rounds: int | None = None,
    on_runs: Callable[[int], None] | None = None,
) -> Comparison:
    """Run ``a`` and ``b`` once per seed (the same seeds for both) and keep ``metrics``.

    ``on_runs(n)``, if given, is told as the runs advance that ``n`` more runs' worth of rounds
    are done (whole runs, out of ``2 · len(seeds)`` in all: A's, then B's), for a progress bar.
    It only counts: the runs and their results are the same with it and without it."""
    seeds = [int(s) for s in seeds]
    horizon = rounds if rounds is not None else min(a.rounds, b.rounds)
    hook = _run_counter(horizon, on_runs) if on_runs is not None else None
    ra = simulate([a] * len(seeds), seeds, rounds=horizon, metrics=list(metrics), on_round=hook)
    rb = simulate([b] * len(seeds), seeds, rounds=horizon, metrics=list(metrics), on_round=hook)
    return Comparison(
        label_a,
        label_b,
        seeds,
        np.asarray(ra.rounds),
        {m: np.asarray(ra.series[m], dtype=float) for m in metrics},
        {m: np.asarray(rb.series[m], dtype=float) for m in metrics},
        ra.outcomes,
        rb.outcomes,
    )


def _run_counter(horizon: int, on_runs: Callable[[int], None]) -> Callable[[object, object, range], None]:
    """A :func:`~sim.batch.ensemble.simulate` round hook that turns rounds done (a round of a
    sub-batch is a round of each of its runs) into whole runs done, and tells ``on_runs`` each
    increase. It neither reads nor changes the runs' state."""
    done_rounds = told = 0

    def hook(t: object, state: object, rows: range) -> None:
        nonlocal done_rounds, told
        done_rounds += len(rows)
        runs = done_rounds // horizon
        if runs > told:
            on_runs(runs - told)
            told = runs

    return hook
