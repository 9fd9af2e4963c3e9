"""Ranking arms (policies) by their paired effects, with bootstrap CIs.

Used by the report for experiments with three or more arms, e.g. ``experiments/burton-reforms.toml``:
every arm against the reference (which recommendation helps most alone), and the treatment
against every other arm (what the full package loses without each part), pair by pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from sim.analysis import stats


def rank_arms(
    runs: pd.DataFrame,
    reference: str,
    treatment: str | None = None,
    outcomes: Sequence[str] = ("in_window", "peak_progress"),
    seed: int = 0,
    fmt: Callable[[float], str] = lambda v: f"{v:+.3f}",
) -> pd.DataFrame:
    """One row per arm other than ``reference``: the paired effect ``arm − reference`` on each
    outcome (mean, 95% bootstrap CI) and, if ``treatment`` is an arm, ``treatment − arm``; sorted
    by the effect on the first outcome, then the second, with a rank (1 = largest effect). ``fmt``
    formats the differences written as text (the CIs and ``treatment − arm``)."""
    arms = [a for a in runs["arm"].unique() if a != reference]
    rows = []
    for arm in arms:
        row: dict = {"arm": arm}
        for o in outcomes:
            e = stats.paired_effect(runs, o, arm, reference, by=("scenario",), seed=seed)
            if e.empty:
                continue
            e = e.iloc[0]
            row[f"{o}: arm − {reference}"] = e["mean_diff"]
            row[f"{o} CI"] = f"[{fmt(e['ci_low'])}, {fmt(e['ci_high'])}]"
            row[f"_{o}"] = e["mean_diff"]
            if treatment and treatment in set(runs["arm"]) and arm != treatment:
                t = stats.paired_effect(runs, o, treatment, arm, by=("scenario",), seed=seed).iloc[0]
                row[f"{o}: {treatment} − arm"] = f"{fmt(t['mean_diff'])} [{fmt(t['ci_low'])}, {fmt(t['ci_high'])}]"
        row["pairs"] = int(e["n_pairs"])
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    keys = [f"_{o}" for o in outcomes if f"_{o}" in df]
    df = df.sort_values(keys, ascending=False).reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.drop(columns=keys)


def ranking_sentence(ranking: pd.DataFrame, runs: pd.DataFrame, reference: str, outcome: str = "in_window", seed: int = 0) -> str:
    """Which arm ranks first, and whether its lead over the second is told apart from zero."""
    if len(ranking) < 2:
        return ""
    first, second = ranking["arm"].iloc[0], ranking["arm"].iloc[1]
    d = stats.paired_effect(runs, outcome, first, second, by=("scenario",), seed=seed).iloc[0]
    told = "distinguishable from zero" if d["excludes_zero"] else "not distinguishable from zero"
    col = f"{outcome}: arm − {reference}"
    return (
        f"Ranking of the arms against {reference}: {first} first ({ranking[col].iloc[0]:+.3f}), {second} second "
        f"({ranking[col].iloc[1]:+.3f}); the paired difference {first} − {second} is {d['mean_diff']:+.3f} "
        f"(95% CI [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]), {told}."
    )
