"""A sweep's results folder loaded for analysis: the manifest, the runs table and the long
time series (pandas), with the experiment's analysis settings as properties. Light to import
(no SciPy), so that ``dialogue-sim plot`` starts quickly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.batch.store import read_parts, read_runs, read_timeseries


@dataclass
class Results:
    """A results folder loaded for analysis."""

    path: Path
    manifest: dict
    runs: pd.DataFrame
    ts: pd.DataFrame
    spec: dict = field(init=False)
    _windowed: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.spec = self.manifest["experiment"]

    @classmethod
    def load(cls, path: str | Path, metrics: list[str] | None = None, by: str | None = None) -> Results:
        """Load a results folder; with ``metrics`` only the columns a figure needs are read."""
        path = Path(path)
        manifest = json.loads((path / "manifest.json").read_text())
        if metrics is None:
            return cls(path, manifest, read_runs(path), read_timeseries(path))
        cols = [*stats.KEYS, "run_id", "arm", "status", "agreement_round", *([by] if by and by not in stats.KEYS else [])]
        runs = read_parts(path / "runs", list(dict.fromkeys(cols)))
        runs = runs.to_pandas().sort_values("run_id").reset_index(drop=True)
        ts = read_parts(path / "timeseries", ["run_id", "round", *metrics]).to_pandas()  # figures need no sort
        return cls(path, manifest, runs, ts)

    @property
    def analysis(self) -> dict:
        return self.spec.get("analysis", {})

    @property
    def arms(self) -> list[str]:
        return [a["name"] for a in self.spec["arms"]]

    @property
    def scenarios(self) -> list[str]:
        return list(self.spec["scenarios"])

    @property
    def shift(self) -> int:
        return int(self.analysis.get("shift_round", 0))

    @property
    def window(self) -> int:
        return int(self.analysis.get("window", 10))

    @property
    def reference(self) -> str:
        return self.analysis.get("reference", self.arms[-1])

    @property
    def treatment(self) -> str:
        return self.analysis.get("treatment", self.arms[0])

    def horizon(self, scenario: str) -> int:
        return int(self.manifest["horizons"][scenario])

    def with_window(self, w: int | None = None) -> pd.DataFrame:
        """The runs table with ``in_window``: agreement within ``w`` rounds from the shift (rounds
        shift … shift + w − 1), and ``before_shift``. Computed once per window; do not modify it."""
        w = self.window if w is None else w
        if w in self._windowed:
            return self._windowed[w]
        r = self.runs.copy()
        ar = r["agreement_round"].astype(float)
        r["in_window"] = ((ar >= self.shift) & (ar < self.shift + w)).astype(float)
        r["before_shift"] = (ar < self.shift).astype(float)
        r.loc[r["status"] != "ok", ["in_window", "before_shift"]] = np.nan
        self._windowed[w] = r
        return r
