"""A sweep's results folder loaded for analysis: the manifest, the runs table and the long
time series (pandas; or, for figures, only the needed columns as numpy arrays), with the
experiment's analysis settings as properties. Light to import (no pandas, no SciPy), so that
``dialogue-sim plot`` starts quickly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis import stats
from sim.batch.store import read_parts, read_runs, read_timeseries
from sim.core.outputs import read_manifest

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


class Table:
    """Named columns of one length as numpy arrays: what the figures read from a results table
    (``t[name]``, ``name in t``, ``len(t)``, ``t.columns``), without pandas."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self._columns = columns

    @classmethod
    def from_arrow(cls, table: pa.Table, order: str | None = None) -> Table:
        """The columns of a pyarrow table (nullable integers become floats with NaN, as in
        pandas), rows sorted by ``order`` (stable) unless they already are."""
        cols = {name: _numpy(table.column(name)) for name in table.column_names}
        if order is not None and len(cols[order]) > 1 and not (np.diff(cols[order]) >= 0).all():
            idx = np.argsort(cols[order], kind="stable")
            cols = {k: v[idx] for k, v in cols.items()}
        return cls(cols)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)


def _numpy(col: pa.ChunkedArray) -> np.ndarray:
    """A column as numpy, without pandas (pyarrow's own ``to_numpy`` imports it): numbers from
    their buffers (integers with missing values become floats with NaN, as in pandas), strings
    as an object array built from their few distinct values (missing ones NaN, as in pandas);
    other types through pyarrow."""
    parts = [_numpy_chunk(a) for a in col.chunks]
    if not parts:
        return col.to_numpy()
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _numpy_chunk(a: pa.Array) -> np.ndarray:
    import pyarrow as pa

    t, n, off = a.type, len(a), a.offset
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if a.null_count:  # missing as NaN, as in pandas
            return np.array([np.nan if x is None else x for x in a.to_pylist()], dtype=object)
        enc = a.dictionary_encode()
        return np.array(enc.dictionary.to_pylist(), dtype=object)[_numpy_chunk(enc.indices)]
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        kind = "f" if pa.types.is_floating(t) else "i" if pa.types.is_signed_integer(t) else "u"
        v = np.frombuffer(a.buffers()[1], dtype=f"{kind}{t.bit_width // 8}", count=n + off)[off:]
        if a.null_count:
            valid = np.unpackbits(np.frombuffer(a.buffers()[0], np.uint8), bitorder="little")[off : off + n].astype(bool)
            v = v.astype(float)
            v[~valid] = np.nan
        return v
    if pa.types.is_boolean(t) and not a.null_count:
        return np.unpackbits(np.frombuffer(a.buffers()[1], np.uint8), bitorder="little")[off : off + n].astype(bool)
    return a.to_numpy(zero_copy_only=False)


class Settings:
    """The experiment's analysis settings of a loaded results folder, from its manifest."""

    manifest: dict
    spec: dict

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


@dataclass
class ResultColumns(Settings):
    """The columns of a results folder that the figures of some metrics need, as numpy arrays
    (:class:`Table`): what ``dialogue-sim plot`` reads, without pandas. The runs table is read
    at once; the long time series on first use of :attr:`ts` (the survival figure needs only
    the runs, so it is drawn while the time series are read)."""

    path: Path
    manifest: dict
    runs: Table
    metrics: list[str]
    spec: dict = field(init=False)
    _ts: Table | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.spec = self.manifest["experiment"]

    @classmethod
    def load(cls, path: str | Path, metrics: list[str], by: str = "arm") -> ResultColumns:
        """The runs' keys, arm, status, agreement round and ``by``; the time series' ``metrics``
        when first asked for."""
        path = Path(path)
        manifest = read_manifest(path / "manifest.json")
        cols = [*stats.KEYS, "run_id", "arm", "status", "agreement_round", *([by] if by not in stats.KEYS else [])]
        runs = Table.from_arrow(read_parts(path / "runs", list(dict.fromkeys(cols))), order="run_id")
        return cls(path, manifest, runs, list(metrics))

    @property
    def ts(self) -> Table:
        """The time series' run id, round and metrics (read once; figures need no sort)."""
        if self._ts is None:
            self._ts = Table.from_arrow(read_parts(self.path / "timeseries", ["run_id", "round", *self.metrics]))
        return self._ts


@dataclass
class Results(Settings):
    """A results folder loaded for analysis (pandas tables)."""

    path: Path
    manifest: dict
    runs: pd.DataFrame
    ts: pd.DataFrame
    spec: dict = field(init=False)
    _windowed: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.spec = self.manifest["experiment"]

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Load a results folder: the runs table sorted by run id, the long time series by run and round."""
        path = Path(path)
        manifest = read_manifest(path / "manifest.json")
        return cls(path, manifest, read_runs(path), read_timeseries(path))

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
