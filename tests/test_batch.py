"""mesa.batch_run over DialogueModel: scenarios, seeds and parameter sweeps."""

from __future__ import annotations

import mesa
import pandas as pd
import pytest

from sim import DialogueModel

from .conftest import REQUIRED_AGENT_REPORTERS, REQUIRED_REPORTERS


def _final(scenario: str, seed: int, steps: int = 20, **params) -> pd.Series:
    m = DialogueModel(scenario, rng=seed, **params)
    for _ in range(steps):
        m.step()
    return m.datacollector.get_model_vars_dataframe().iloc[-1]


def _runs(rows: list[dict], keys: list[str]) -> pd.DataFrame:
    """One row per run (batch_run gives one row per agent when there are agent reporters)."""
    df = pd.DataFrame(rows)
    return df.drop_duplicates(subset=["RunId"]).set_index(keys)


def test_batch_run_scenarios_and_seeds():
    rows = mesa.batch_run(
        DialogueModel,
        parameters={"scenario": ["lean-years", "leadership-change"]},
        rng=[1, 2],
        max_steps=20,
        number_processes=1,
        display_progress=False,
    )
    assert rows
    for row in rows:
        for col in REQUIRED_REPORTERS + REQUIRED_AGENT_REPORTERS:
            assert col in row, col
        assert row["Step"] == 20
    runs = _runs(rows, ["scenario", "rng"])
    assert len(runs) == 4
    assert set(runs.index) == {(s, r) for s in ("lean-years", "leadership-change") for r in (1, 2)}
    # 12 delegates per run
    assert len(rows) == 4 * 12
    for (scenario, seed), row in runs.iterrows():
        expected = _final(scenario, seed)
        for col in REQUIRED_REPORTERS:
            assert row[col] == pytest.approx(expected[col], rel=1e-12, abs=1e-12), (scenario, seed, col)


def test_batch_run_parameter_sweep():
    rows = mesa.batch_run(
        DialogueModel,
        parameters={"scenario": ["lean-years"], "turnover": [0.1, 0.5]},
        rng=[3],
        max_steps=20,
        number_processes=1,
        display_progress=False,
    )
    runs = _runs(rows, ["turnover"])
    assert sorted(runs.index) == [0.1, 0.5]
    for turnover, row in runs.iterrows():
        expected = _final("lean-years", 3, turnover=turnover)
        for col in REQUIRED_REPORTERS:
            assert row[col] == pytest.approx(expected[col], rel=1e-12, abs=1e-12), (turnover, col)
    # the swept parameter reaches the model: more turnover, different trajectory
    assert runs.loc[0.1, "trust"] != runs.loc[0.5, "trust"]


def test_batch_run_sweeps_channel_parameter():
    rows = mesa.batch_run(
        DialogueModel,
        parameters={"scenario": "canada-china-hrd", "familiarity_decay": [0.0, 0.9]},
        rng=[1],
        max_steps=9,
        number_processes=1,
        display_progress=False,
    )
    runs = _runs(rows, ["familiarity_decay"])
    assert len(runs) == 2
    for decay, row in runs.iterrows():
        assert row["trust"] == pytest.approx(_final("canada-china-hrd", 1, steps=9, familiarity_decay=decay)["trust"])
