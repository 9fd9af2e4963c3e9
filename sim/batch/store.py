"""The result store: a sweep's results folder on disk, written atomically, and its readers.

Layout of a results folder::

    manifest.json                    the experiment spec, versions, seeds rule, chunk plan, sessions
    runs/part-000000.parquet         one row per run: ids, seed, parameters, outcomes, status, error
    timeseries/part-000000.parquet   run_id, round, the kept metrics

A chunk is complete when its ``runs`` part exists. Every file is written to a temporary name
and renamed (:meth:`ResultStore.write_atomic`), so a reader or a resumed sweep sees a whole
part or none of it. Integrity checks (checksums, fsync, locks) belong in this class: every
write goes through :meth:`ResultStore.write_atomic` and every read through :func:`read_parts`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.batch.experiment import Experiment
from sim.scenarios import InputError

if TYPE_CHECKING:
    import pandas as pd

#: A chunk plan: (chunk id, run ids), as made by :func:`sim.batch.experiment.chunks`.
Plan = Sequence[tuple[int, range]]


class ResultStore:
    """A results folder: manifest, runs parts and time-series parts, written atomically.

    Picklable (it holds only paths), so local worker processes write their own parts."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.runs_dir = self.out / "runs"
        self.ts_dir = self.out / "timeseries"
        self.manifest_path = self.out / "manifest.json"

    # ------------------------------------------------------------ opening
    def open(self, exp: Experiment, resume: bool, plan: Plan) -> set[int]:
        """Create (or, with ``resume``, reopen) the folder; return the completed chunk ids.

        A resume must find the same experiment and the same chunk boundaries."""
        digest = plan_hash(plan)
        if self.out.exists() and any(self.out.iterdir()):
            if not resume:
                raise InputError("--out", "out", str(self.out), "exists; use --resume to continue it, or another --out")
            if not self.manifest_path.exists():
                raise InputError("--out", "out", str(self.out), "has no manifest.json: not a sweep results folder")
            old = self.read_manifest()
            if old.get("fingerprint") != exp.fingerprint():
                raise InputError("--resume", "experiment", exp.name, f"differs from the one in {self.manifest_path}; use a new --out")
            if old.get("plan") != digest:
                raise InputError(
                    "--resume", "out", str(self.out), "was chunked differently (another version of dialogue-sim); use a new --out"
                )
            for tmp in self.out.rglob("*.tmp"):
                tmp.unlink()
            return self.done()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.ts_dir.mkdir(parents=True, exist_ok=True)
        self.write_json(self.manifest_path, manifest(exp, len(plan)) | {"plan": digest})
        return set()

    # ------------------------------------------------------------ chunks
    def part(self, folder: Path, cid: int) -> Path:
        return folder / f"part-{cid:06d}.parquet"

    def done(self) -> set[int]:
        """The ids of the completed chunks (those whose runs part exists)."""
        return {int(p.stem.split("-")[1]) for p in self.runs_dir.glob("part-*.parquet")}

    def write(self, cid: int, runs: pa.Table, ts: pa.Table) -> None:
        """Write one chunk; the time series first, since a chunk counts as done once its runs part exists."""
        self.write_atomic(self.part(self.ts_dir, cid), lambda tmp: pq.write_table(ts, tmp))
        self.write_atomic(self.part(self.runs_dir, cid), lambda tmp: pq.write_table(runs, tmp))

    # ------------------------------------------------------------ manifest
    def read_manifest(self) -> dict[str, Any]:
        return dict(json.loads(self.manifest_path.read_text()))

    def finish(self, **info: Any) -> None:
        """Append one session's summary (executor, timing, failures) to the manifest."""
        m = self.read_manifest()
        m.setdefault("sessions", []).append(info)
        self.write_json(self.manifest_path, m)

    # ------------------------------------------------------------ atomic writes
    def write_json(self, path: Path, obj: dict[str, Any]) -> None:
        self.write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, default=str)))

    def write_atomic(self, path: Path, write: Callable[[Path], object]) -> None:
        """``write`` into ``path`` + ``.tmp``, then rename: a reader sees the whole file or none of it."""
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        os.replace(tmp, path)


def plan_hash(plan: Plan) -> str:
    """A short hash of the chunk boundaries (a resume must find the same ones)."""
    return hashlib.sha256(json.dumps([[r.start, r.stop] for _, r in plan]).encode()).hexdigest()[:16]


def manifest(exp: Experiment, n_chunks: int) -> dict[str, Any]:
    """What a results folder records about how it was made."""
    import mesa
    import scipy

    from sim.version import __version__

    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    loaded = list(zip(exp.scenarios, exp.loaded_scenarios, strict=True))
    return {
        "experiment": exp.spec(),
        "fingerprint": exp.fingerprint(),
        "seeds": "numpy.random.SeedSequence(experiment.seed, spawn_key=(point, replication)), "
        "first 64-bit word >> 1; arms and scenarios share seeds",
        "n_runs": exp.n_runs,
        "n_chunks": n_chunks,
        "horizons": {name: (exp.rounds or sc.rounds) for name, sc in loaded},
        "design_names": exp.design_names,
        "events": {name: [[e.round, e.kind.value] for e in sc.events] for name, sc in loaded},
        "versions": {
            "dialogue-sim": __version__,
            "git_commit": commit,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "mesa": mesa.__version__,
            "pyarrow": pa.__version__,
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# ---------------------------------------------------------------- readers


def read_parts(folder: str | Path, columns: list[str] | None = None) -> pa.Table:
    """The completed parts of ``folder`` as one table (a ``.tmp`` left by an interrupted write is ignored)."""
    parts = sorted(Path(folder).glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no result parts in {folder}")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def read_runs(out: str | Path) -> pd.DataFrame:
    """The runs table of a results folder as a pandas DataFrame sorted by run_id."""
    t = read_parts(ResultStore(out).runs_dir)
    return t.to_pandas().sort_values("run_id").reset_index(drop=True)


def read_timeseries(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The long time-series table (run_id, round, metrics) sorted by run and round."""
    t = read_parts(ResultStore(out).ts_dir, columns)
    return t.to_pandas().sort_values(["run_id", "round"]).reset_index(drop=True)


def count_ok(runs: pa.Table) -> int:
    """How many rows of a runs table have status ``ok``."""
    return int(runs.column("status").to_pylist().count("ok"))
