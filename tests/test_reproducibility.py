"""Same seeds, same numbers: the runs and time-series tables of a small shipped-like sweep are
pinned by their SHA-256 digests.

The digests were recorded on the model before the package was restructured (commit 07434ab)
and are unchanged by it. They change whenever the model's rules or defaults change: when you
change them on purpose, run this test, check that the change is the one you meant (a default
or a rule you touched), and update ``RUNS_DIGEST`` / ``TIMESERIES_DIGEST`` in the same commit,
saying why in its message. A digest that changes without such a change is a regression.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from sim.batch.experiment import load_experiment
from sim.batch.store import read_runs, read_timeseries
from sim.batch.sweep import run_sweep

# a reduced lean-years.toml: every arm and scenario, three swept mechanisms, 192 runs
EXPERIMENT = """
name = "digest"
seed = 1997
replications = 2
scenarios = ["leadership-change", "one-sided-shift", "lean-years"]
chunk_size = 50

[[arms]]
name = "keep-open"

[[arms]]
name = "wind-down"
events = [{ round = 10, kind = "channel_close" }, { round = 40, kind = "channel_reopen" }]

[[arms]]
name = "paused"
events = [
  { round = 10, kind = "channel_close" },
  { round = 40, kind = "channel_reopen", setup_rounds = 0, fresh_personnel = false },
]

[[arms]]
name = "never-opened"
channel_open = false
events = [{ round = 40, kind = "channel_reopen" }]

[design]
kind = "grid"
[design.params]
turnover = [0.05, 0.3]
cynicism_rate = [0.0, 0.1]
meeting_decay = [0.0, 1.0]
"""

RUNS_DIGEST = "c53b18a21f8664e496a523a0a9af51c3eaf6d0b08ddba217a5b87bf31d818130"
TIMESERIES_DIGEST = "06f592d2cbd3c216320081614d8355040fae31f856eefaf5f8bffd763de38459"


def digest(df: pd.DataFrame) -> str:
    """SHA-256 of the table as CSV with every float at full precision (17 significant digits)."""
    return hashlib.sha256(df.to_csv(index=False, float_format="%.17g").encode()).hexdigest()


class TestSameSeedsSameNumbers:
    def test_sweep_tables_match_the_recorded_digests(self, tmp_path):
        path = tmp_path / "digest.toml"
        path.write_text(EXPERIMENT)
        out = tmp_path / "out"
        run_sweep(load_experiment(path), out, workers=1, progress=False)
        runs, ts = read_runs(out), read_timeseries(out)
        assert runs.shape == (192, 20) and ts.shape == (192 * 61, 7)
        assert digest(runs) == RUNS_DIGEST, "the runs table changed: see this module's docstring"
        assert digest(ts) == TIMESERIES_DIGEST, "the time series changed: see this module's docstring"

    def test_digest_sees_one_ulp(self):
        df = pd.DataFrame({"x": [0.1, 0.2]})
        nudged = df.assign(x=[0.1, float.__add__(0.2, 2**-55)])
        assert nudged.x[1] != df.x[1] and digest(nudged) != digest(df)
