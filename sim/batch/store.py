"""The result store: a sweep's results folder on disk, written atomically, and its readers.

Layout of a results folder::

    manifest.json                    the experiment spec, versions, seeds rule, chunk plan, sessions
    runs/part-000000.parquet         one row per run: ids, seed, parameters, outcomes, status, error
    timeseries/part-000000.parquet   run_id, round, the kept metrics

    */.part-000000.parquet.check     the part's row count, size and SHA-256 (a hidden sidecar,
                                     so Parquet readers of the folder skip it)
    .lock                            held (flock) by the one sweep writing into the folder
    .dialogue-sim                    marks the folder as a sweep's (see sim.core.outputs)

Every file is written to a temporary name beside it, fsynced and renamed
(:meth:`ResultStore.write_atomic`), so a reader sees a whole file or none of it. A chunk is
complete when both its parts match their sidecars (:meth:`ResultStore.verified`); ``--resume``
recomputes the chunks that do not, and the readers read only complete chunks.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.batch.experiment import Experiment, identity_differences
from sim.core.outputs import MARKER, fsync, marked_files, read_manifest
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
        self._lock_fd: int | None = None
        self.repaired: list[int] = []
        self.runs_dir = self.out / "runs"
        self.ts_dir = self.out / "timeseries"
        self.manifest_path = self.out / "manifest.json"

    # ------------------------------------------------------------ opening
    def open(self, exp: Experiment, resume: bool, plan: Plan) -> set[int]:
        """Create (or, with ``resume``, reopen) the folder, lock it for this sweep, and return
        the ids of the complete chunks; :attr:`repaired` lists the chunks found damaged
        (a part missing, truncated or not matching its checksum), whose files are removed.

        A resume must find the same experiment and the same chunk boundaries."""
        digest = plan_hash(plan)
        self.repaired = []
        if self.out.exists() and any(self.out.iterdir()):
            if not resume:
                raise InputError("--out", "out", str(self.out), "exists; use --resume to continue it, or another --out")
            if not self.manifest_path.exists() or marked_files(self.out, "sweep") is None:
                raise InputError(
                    "--out", "out", str(self.out), "is not a sweep results folder (no manifest.json or no .dialogue-sim marker)"
                )
            self.lock()
            old = self.read_manifest()
            if old.get("fingerprint") != exp.fingerprint():
                raise InputError(
                    "--resume",
                    "experiment",
                    exp.name,
                    f"differs from the one that made {self.manifest_path} ({identity_differences(old, exp)}); use a new --out",
                )
            if old.get("plan") != digest:
                raise InputError(
                    "--resume", "out", str(self.out), "was chunked differently (another version of dialogue-sim); use a new --out"
                )
            for tmp in self.own_temporaries():
                tmp.unlink(missing_ok=True)
            good = self.verified(strict=True)
            present = self.present()
            self.repaired = sorted(present - good)
            for cid in self.repaired:
                for d in (self.runs_dir, self.ts_dir):
                    for p in (self.part(d, cid), self.sidecar(self.part(d, cid))):
                        p.unlink(missing_ok=True)
            return good
        self._create(exp, plan, digest)
        self.lock()
        return set()

    def _create(self, exp: Experiment, plan: Plan, digest: str) -> None:
        """Make the folder beside its place and rename it in, so a failure (a full disk) leaves nothing."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent))
        try:
            mask = os.umask(0o022)
            os.umask(mask)
            tmp.chmod(0o777 & ~mask)
            staged = ResultStore(tmp)
            staged.runs_dir.mkdir()
            staged.ts_dir.mkdir()
            staged.write_json(staged.manifest_path, manifest(exp, len(plan)) | {"plan": digest})
            staged.write_json(tmp / MARKER, {"kind": "sweep", "files": ["manifest.json", "runs", "timeseries", ".lock"]})
            try:
                os.replace(tmp, self.out)  # over an empty folder, or none
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise InputError(
                        "--out", "out", str(self.out), "was just created by another sweep; use --resume or another --out"
                    ) from None
                raise
            fsync(self.out.parent)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------ the lock
    def lock(self) -> None:
        """Hold the folder's lock (flock on ``.lock``) until :meth:`close`: one sweep per folder."""
        path = self.out / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(
                "--out", "out", str(self.out), "is being written by another sweep right now; wait for it to finish or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def close(self) -> None:
        fd = self.__dict__.get("_lock_fd")
        if fd is not None:
            self._lock_fd = None
            os.close(fd)  # releases the flock

    def __getstate__(self) -> dict[str, Any]:  # workers get the paths, never the lock
        return {k: (None if k == "_lock_fd" else v) for k, v in self.__dict__.items()}

    # ------------------------------------------------------------ chunks
    def own_temporaries(self) -> list[Path]:
        """The half-written files an interrupted sweep of this store can leave (:func:`temporary`
        names of a part, its sidecar or the manifest, and the visible ``NAME.tmp`` an older
        version used); nothing else, whatever its name."""
        patterns = (".part-*.parquet.tmp", ".part-*.parquet.check.tmp", "part-*.parquet.tmp")
        parts = [p for d in (self.runs_dir, self.ts_dir) for pat in patterns for p in d.glob(pat)]
        names = (temporary(self.manifest_path), self.manifest_path.with_name("manifest.json.tmp"))
        return parts + [p for p in names if p.exists()]

    def part(self, folder: Path, cid: int) -> Path:
        return folder / f"part-{cid:06d}.parquet"

    @staticmethod
    def sidecar(part: Path) -> Path:
        return part.with_name(f".{part.name}.check")

    @staticmethod
    def chunk_of(path: Path) -> int:
        return int(path.name.split(".")[0].split("-")[1])

    def present(self) -> set[int]:
        """The chunks with any trace on disk: a part or a sidecar (a sidecar left without its
        part means the part was lost)."""
        return {
            self.chunk_of(p.with_name(p.name.removeprefix(".")))
            for d in (self.runs_dir, self.ts_dir)
            for pat in ("part-*.parquet", ".part-*.parquet.check")
            for p in d.glob(pat)
        }

    def done(self) -> set[int]:
        """The ids of the complete chunks."""
        return self.verified()

    def verified(self, strict: bool = False) -> set[int]:
        """The chunks whose runs and time-series parts both match their sidecars (``strict``:
        a part without a sidecar counts as damaged; otherwise it only has to be readable)."""
        ok = set()
        for p in self.runs_dir.glob("part-*.parquet"):
            cid = self.chunk_of(p)
            if check_part(p, strict) is None and check_part(self.part(self.ts_dir, cid), strict) is None:
                ok.add(cid)
        return ok

    def write(self, cid: int, runs: pa.Table, ts: pa.Table) -> None:
        """Write one chunk: each part, then its sidecar (a chunk is complete once both check)."""
        for folder, table in ((self.ts_dir, ts), (self.runs_dir, runs)):
            path = self.part(folder, cid)
            self.sidecar(path).unlink(missing_ok=True)
            self.write_atomic(path, partial(_write_table, table))
            size, digest = file_digest(path)
            self.write_json(self.sidecar(path), {"rows": table.num_rows, "bytes": size, "sha256": digest})

    # ------------------------------------------------------------ manifest
    def read_manifest(self) -> dict[str, Any]:
        return read_manifest(self.manifest_path)

    def finish(self, **info: Any) -> None:
        """Append one session's summary (executor, timing, failures) to the manifest."""
        m = self.read_manifest()
        m.setdefault("sessions", []).append(info)
        self.write_json(self.manifest_path, m)

    # ------------------------------------------------------------ atomic writes
    def write_json(self, path: Path, obj: dict[str, Any]) -> None:
        self.write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, default=str)))

    def write_atomic(self, path: Path, write: Callable[[Path], object]) -> None:
        """``write`` into :func:`temporary` of ``path``, fsync, then rename: a reader sees the whole
        file or none of it."""
        tmp = temporary(path)
        try:
            write(tmp)
            fsync(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        fsync(path.parent)


def temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: ``.NAME.tmp`` beside it. Hidden,
    so a reader of the folder that skips hidden files (pyarrow's datasets, ``pd.read_parquet``)
    never sees the half-written file a SIGKILL can leave; ``--resume`` removes it."""
    return path.with_name(f".{path.name.removeprefix('.')}.tmp")


def _write_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return path.stat().st_size, h.hexdigest()


def check_part(path: Path, strict: bool = True) -> str | None:
    """None if the part matches its sidecar (rows, size, SHA-256); else what is wrong. Without
    ``strict`` a part with no sidecar (written by hand, or by an older version) only has to be
    readable. Within :func:`verify_once`, an unchanged part is checked once."""
    if _CHECKED is None:
        return _check_part(path, strict)
    key = (str(path), strict, _stamp(path), _stamp(ResultStore.sidecar(path)))
    if key not in _CHECKED:
        _CHECKED[key] = _check_part(path, strict)
    return _CHECKED[key]


_CHECKED: dict[tuple, str | None] | None = None  # the parts checked within verify_once()


@contextmanager
def verify_once() -> Iterator[None]:
    """Within the block a part whose file and sidecar are unchanged (the same inode, size and
    modification and change times) is checked (hashed) once: a command that goes over a folder
    several times (repair, status, the readers) reads each part's bytes once. A part replaced
    meanwhile (a repair writes new files) is checked again."""
    global _CHECKED
    outer = _CHECKED
    _CHECKED = {} if outer is None else outer
    try:
        yield
    finally:
        _CHECKED = outer


def _stamp(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _check_part(path: Path, strict: bool) -> str | None:
    side = ResultStore.sidecar(path)
    if not path.is_file():
        return "missing"
    try:
        want = json.loads(side.read_text())
    except (OSError, ValueError):
        if strict:
            return "no checksum"
        try:
            pq.ParquetFile(path).close()
        except (OSError, pa.ArrowException):
            return "unreadable"
        return None
    size, digest = file_digest(path)
    if size != want.get("bytes") or digest != want.get("sha256"):
        return "checksum differs"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException):
        return "unreadable"
    return None if rows == want.get("rows") else "row count differs"


def plan_hash(plan: Plan) -> str:
    """A short hash of the chunk boundaries (a resume must find the same ones)."""
    return hashlib.sha256(json.dumps([[r.start, r.stop] for _, r in plan]).encode()).hexdigest()[:16]


def manifest(exp: Experiment, n_chunks: int) -> dict[str, Any]:
    """What a results folder records about how it was made."""
    import mesa
    import scipy

    from sim.version import __version__, model_code

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
        "source": str(Path(exp.source).resolve()) if exp.source != "<python>" else None,
        "fingerprint": exp.fingerprint(),
        "identity": exp.identity(),
        "seeds": (
            "numpy.random.SeedSequence(experiment.seed, spawn_key=(0, replication)), first 64-bit word >> 1; "
            "design points, arms and scenarios share seeds (common_seeds)"
            if exp.common_seeds is True
            else "numpy.random.SeedSequence(experiment.seed, spawn_key=(first point of the base sample, replication)), "
            "first 64-bit word >> 1; the points of a base sample, arms and scenarios share seeds (common_seeds = base)"
            if exp.common_seeds == "base"
            else "numpy.random.SeedSequence(experiment.seed, spawn_key=(point, replication)), "
            "first 64-bit word >> 1; arms and scenarios share seeds"
        ),
        "n_runs": exp.n_runs,
        "n_chunks": n_chunks,
        "horizons": {name: (exp.rounds or sc.rounds) for name, sc in loaded},
        "design_names": exp.design_names,
        "events": {name: [[e.round, e.kind.value] for e in sc.events] for name, sc in loaded},
        "versions": {
            "dialogue-sim": __version__,
            "model_code": model_code(),
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
    """The complete chunks' parts of ``folder`` (``runs`` or ``timeseries``) as one table: parts
    that are damaged, or whose other part is, are left out (see :func:`status`)."""
    folder = Path(folder)
    store = ResultStore(folder.parent)
    good = store.verified()
    parts = [store.part(folder, cid) for cid in sorted(good)]
    if not parts:
        raise FileNotFoundError(f"no complete result parts in {folder}")
    return pa.concat_tables([_read(p, columns) for p in parts])


def _read(part: Path, columns: list[str] | None) -> pa.Table:
    """One part (through ``ParquetFile``: ``pq.read_table`` would load pyarrow's dataset layer,
    and with it pandas, for a single file)."""
    with pq.ParquetFile(part) as f:
        return f.read(columns=columns)


def read_runs(out: str | Path) -> pd.DataFrame:
    """The runs table of a results folder as a pandas DataFrame sorted by run_id."""
    t = read_parts(ResultStore(out).runs_dir)
    return t.to_pandas().sort_values("run_id").reset_index(drop=True)


def read_timeseries(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The long time-series table (run_id, round, metrics) sorted by run and round."""
    t = read_parts(ResultStore(out).ts_dir, columns)
    return t.to_pandas().sort_values(["run_id", "round"]).reset_index(drop=True)


def status(out: str | Path) -> dict[str, Any]:
    """How complete a results folder is: runs present of all, and the missing or damaged chunks."""
    store = ResultStore(out)
    m = store.read_manifest()
    n_chunks = int(m.get("n_chunks", 0))
    good = store.verified()
    present = store.present()
    n_runs = int(m.get("n_runs", 0))
    done_ids: set[int] = set()
    for cid in good:
        done_ids.update(_run_ids(store.part(store.runs_dir, cid)))
    spec = m.get("experiment", {})
    reps, arms = max(1, int(spec.get("replications", 1))), max(1, len(spec.get("arms", [])))
    n_points = max(1, n_runs // max(1, len(spec.get("scenarios", [])) * arms * reps))
    missing_points = sorted({(rid // reps // arms) % n_points for rid in set(range(n_runs)) - done_ids})
    return {
        "n_runs": n_runs,
        "runs": len(done_ids),
        "missing_points": missing_points,
        "n_chunks": n_chunks,
        "missing": sorted(set(range(n_chunks)) - present),
        "damaged": sorted(present - good),
    }


def _run_ids(part: Path) -> Iterable[int]:
    """The run ids of a complete runs part. A part that matches its sidecar was written by a
    sweep for one chunk of consecutive runs, each once: its ids are the range between the
    footer's minimum and maximum (when they span its row count). Any other part is read."""
    f = pq.ParquetFile(part)
    try:
        md = f.metadata
        col = md.schema.names.index("run_id") if "run_id" in md.schema.names else None
        stats = [md.row_group(g).column(col).statistics for g in range(md.num_row_groups)] if col is not None else []
        if ResultStore.sidecar(part).is_file() and stats and all(st is not None and st.has_min_max for st in stats):
            lo, hi = min(int(st.min) for st in stats), max(int(st.max) for st in stats)
            if hi - lo + 1 == md.num_rows:
                return range(lo, hi + 1)
        return f.read(columns=["run_id"]).column("run_id").to_pylist()
    finally:
        f.close()


def describe_status(st: dict[str, Any]) -> str | None:
    """One line saying what is incomplete (None when the sweep is complete)."""
    if st["runs"] >= st["n_runs"] and not st["damaged"]:
        return None
    pts = st["missing_points"]
    where = f" (design points {', '.join(map(str, pts[:8]))}{', …' if len(pts) > 8 else ''} lack runs)" if pts else ""
    parts = [f"incomplete: {st['runs']} of {st['n_runs']} runs{where}"]
    if st["missing"]:
        parts.append(f"{len(st['missing'])} of {st['n_chunks']} chunks not run ({_ids(st['missing'])})")
    if st["damaged"]:
        parts.append(f"{len(st['damaged'])} damaged part(s) left out ({_ids(st['damaged'])})")
    return "; ".join(parts) + "; complete it with 'dialogue-sim sweep EXPERIMENT --out FOLDER --resume'"


def _ids(ids: list[int], n: int = 5) -> str:
    s = ", ".join(f"chunk {i}" for i in ids[:n])
    return s + (f", … ({len(ids) - n} more)" if len(ids) > n else "")


def count_ok(runs: pa.Table) -> int:
    """How many rows of a runs table have status ``ok``."""
    return int(runs.column("status").to_pylist().count("ok"))
