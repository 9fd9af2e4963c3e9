"""Sweeps: run an experiment chunk by chunk on an executor, writing Parquet as it goes.

Layout of a results folder::

    manifest.json              the experiment spec, versions, seeds rule, timing
    runs/part-000000.parquet   one row per run: ids, seed, parameters, outcomes, status, error
    timeseries/part-000000.parquet   run_id, round, the kept metrics

A chunk is complete when its ``runs`` part exists; parts are written to a temporary name and
renamed, so an interrupted sweep (Ctrl-C, ``kill -9``, a crashed worker) resumes with
``--resume`` without losing or duplicating a run. Results do not depend on the executor:
chunks are fixed by the experiment, and each chunk is one batch of the ensemble.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.batch.ensemble import OUTCOMES, simulate
from sim.batch.experiment import Experiment, chunks
from sim.scenarios import InputError

# ---------------------------------------------------------------- one chunk


def run_chunk(exp: Experiment, run_ids: Sequence[int]) -> tuple[pa.Table, pa.Table]:
    """Simulate the runs of one chunk as a batch; return (runs table, time-series table).

    If the batch raises, each run is retried alone and a run that still raises is recorded
    with status ``error`` and its message, so the others complete."""
    run_ids = list(run_ids)
    idx = [exp.run_index(r) for r in run_ids]
    cache: dict[tuple[int, int, int], Any] = {}
    setups = []
    for s, p, a, _ in idx:
        if (s, p, a) not in cache:
            cache[(s, p, a)] = exp.setup(s, p, a)
        setups.append(cache[(s, p, a)])
    seeds = [exp.seed_of(p, r) for _, p, _, r in idx]
    outcomes: dict[str, list] = {k: [] for k in OUTCOMES}
    parts: list[dict[str, np.ndarray]] = []
    try:
        _collect(exp, run_ids, _simulate(exp, setups, seeds), outcomes, parts)
        errors: list[str | None] = [None] * len(run_ids)
    except Exception:
        outcomes, parts, errors = {k: [] for k in OUTCOMES}, [], []
        for rid, st, sd in zip(run_ids, setups, seeds, strict=True):
            try:
                _collect(exp, [rid], _simulate(exp, [st], [sd]), outcomes, parts)
                errors.append(None)
            except Exception as e:  # noqa: BLE001 - recorded, the sweep goes on
                for k in OUTCOMES:
                    outcomes[k].append(None)
                errors.append(f"{type(e).__name__}: {e}")
    return _tables(exp, run_ids, idx, seeds, outcomes, parts, errors)


def _simulate(exp: Experiment, setups: list, seeds: list[int]) -> dict:
    return simulate(setups, seeds, metrics=exp.timeseries, every=exp.every)


def _collect(exp: Experiment, run_ids: list[int], res: dict, outcomes: dict[str, list], parts: list) -> None:
    for k in OUTCOMES:
        outcomes[k].extend(res["outcomes"][k].tolist())
    parts.append({"run_id": np.asarray(run_ids), "round": res["round"], **{m: res[m] for m in exp.timeseries}})


def _tables(
    exp: Experiment, run_ids: list[int], idx: list, seeds: list[int], outc: dict[str, list], ts_parts: list, errors: list
) -> tuple[pa.Table, pa.Table]:
    ok = [e is None for e in errors]
    cols: dict[str, pa.Array] = {
        "run_id": pa.array(run_ids, pa.int64()),
        "scenario": pa.array([exp.scenarios[s] for s, _, _, _ in idx], pa.string()),
        "arm": pa.array([exp.arms[a].name for _, _, a, _ in idx], pa.string()),
        "point": pa.array([p for _, p, _, _ in idx], pa.int32()),
        "replication": pa.array([r for _, _, _, r in idx], pa.int32()),
        "seed": pa.array(seeds, pa.int64()),
    }
    for j, name in enumerate(exp.design_names):
        cols[name] = pa.array([float(exp.points[p, j]) for _, p, _, _ in idx], pa.float64())
    cols["status"] = pa.array(["ok" if o else "error" for o in ok], pa.string())
    cols["error"] = pa.array(errors, pa.string())
    for k in OUTCOMES:
        vals = outc[k]
        if k == "agreement":
            cols[k] = pa.array([None if v is None else bool(v) for v in vals], pa.bool_())
        elif k == "agreement_round":
            cols[k] = pa.array([None if v is None or v < 0 else int(v) for v in vals], pa.int32())
        else:
            cols[k] = pa.array([None if v is None else float(v) for v in vals], pa.float64())
    runs = pa.table(cols)
    ts = _long_timeseries(exp, ts_parts)
    return runs, ts


def _long_timeseries(exp: Experiment, parts: list[dict[str, np.ndarray]]) -> pa.Table:
    schema = pa.schema([("run_id", pa.int64()), ("round", pa.int32())] + [(m, pa.float64()) for m in exp.timeseries])
    if not parts:
        return schema.empty_table()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in schema.names}
    for part in parts:
        B, R = len(part["run_id"]), len(part["round"])
        cols["run_id"].append(np.repeat(part["run_id"], R))
        cols["round"].append(np.tile(part["round"], B))
        for m in exp.timeseries:
            cols[m].append(np.asarray(part[m], dtype=float).reshape(-1))
    return pa.table({k: np.concatenate(v) for k, v in cols.items()}, schema=schema)


# ---------------------------------------------------------------- the store on disk


class ResultStore:
    """A results folder: manifest, runs parts and time-series parts, written atomically."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.runs_dir = self.out / "runs"
        self.ts_dir = self.out / "timeseries"
        self.manifest_path = self.out / "manifest.json"

    def open(self, exp: Experiment, resume: bool, plan: list[tuple[int, range]]) -> set[int]:
        """Create (or, with ``resume``, reopen) the folder; return the completed chunk ids.

        A resume must find the same experiment and the same chunk boundaries."""
        plan_hash = hashlib.sha256(json.dumps([[r.start, r.stop] for _, r in plan]).encode()).hexdigest()[:16]
        if self.out.exists() and any(self.out.iterdir()):
            if not resume:
                raise InputError("--out", "out", str(self.out), "exists; use --resume to continue it, or another --out")
            if not self.manifest_path.exists():
                raise InputError("--out", "out", str(self.out), "has no manifest.json: not a sweep results folder")
            old = json.loads(self.manifest_path.read_text())
            if old.get("fingerprint") != exp.fingerprint():
                raise InputError("--resume", "experiment", exp.name, f"differs from the one in {self.manifest_path}; use a new --out")
            if old.get("plan") != plan_hash:
                raise InputError(
                    "--resume", "out", str(self.out), "was chunked differently (another version of dialogue-sim); use a new --out"
                )
            for tmp in self.out.rglob("*.tmp"):
                tmp.unlink()
            return self.done()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.ts_dir.mkdir(parents=True, exist_ok=True)
        self._write_json(self.manifest_path, manifest(exp, len(plan)) | {"plan": plan_hash})
        return set()

    def done(self) -> set[int]:
        return {int(p.stem.split("-")[1]) for p in self.runs_dir.glob("part-*.parquet")}

    def write(self, cid: int, runs: pa.Table, ts: pa.Table) -> None:
        # the time series first: a chunk counts as done once its runs part exists
        self._write_parquet(self.ts_dir / f"part-{cid:06d}.parquet", ts)
        self._write_parquet(self.runs_dir / f"part-{cid:06d}.parquet", runs)

    def finish(self, **info: Any) -> None:
        m = json.loads(self.manifest_path.read_text())
        m.setdefault("sessions", []).append(info)
        self._write_json(self.manifest_path, m)

    @staticmethod
    def _write_parquet(path: Path, table: pa.Table) -> None:
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)  # atomic: a reader (or a resume) sees the whole part or none of it

    @staticmethod
    def _write_json(path: Path, obj: dict) -> None:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(obj, indent=2, default=str))
        os.replace(tmp, path)


def manifest(exp: Experiment, n_chunks: int) -> dict[str, Any]:
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
    return {
        "experiment": exp.spec(),
        "fingerprint": exp.fingerprint(),
        "seeds": "numpy.random.SeedSequence(experiment.seed, spawn_key=(point, replication)), "
        "first 64-bit word >> 1; arms and scenarios share seeds",
        "n_runs": exp.n_runs,
        "n_chunks": n_chunks,
        "horizons": {name: (exp.rounds or sc.rounds) for name, sc in zip(exp.scenarios, exp._scenarios, strict=True)},
        "design_names": exp.design_names,
        "events": {name: [[e.round, e.kind.value] for e in sc.events] for name, sc in zip(exp.scenarios, exp._scenarios, strict=True)},
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


def _read_parts(folder: Path, columns: list[str] | None = None) -> pa.Table:
    """The completed parts only (a ``.tmp`` left by an interrupted write is ignored)."""
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no result parts in {folder}")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def read_runs(out: str | Path):
    """The runs table of a results folder as a pandas DataFrame sorted by run_id."""
    t = _read_parts(Path(out) / "runs")
    return t.to_pandas().sort_values("run_id").reset_index(drop=True)


def read_timeseries(out: str | Path, columns: list[str] | None = None):
    t = _read_parts(Path(out) / "timeseries", columns)
    return t.to_pandas().sort_values(["run_id", "round"]).reset_index(drop=True)


# ---------------------------------------------------------------- executors

_WORKER_EXP: Experiment | None = None


def _init_worker(exp: Experiment) -> None:
    global _WORKER_EXP
    _WORKER_EXP = exp


def _chunk_to_disk(exp: Experiment, out: Path, cid: int, ids: Sequence[int]) -> tuple[int, int]:
    """Run one chunk and write its parts (atomically); return (runs, failed runs)."""
    runs, ts = run_chunk(exp, ids)
    ResultStore(out).write(cid, runs, ts)
    return runs.num_rows, runs.num_rows - count_ok(runs)


def _worker_chunk(out: Path, cid: int, ids: Sequence[int]) -> tuple[int, int]:
    assert _WORKER_EXP is not None
    return _chunk_to_disk(_WORKER_EXP, out, cid, ids)


Result = tuple[int, int, int]  # chunk id, runs, failed runs


def _serial(exp: Experiment, out: Path, todo: Iterable[tuple[int, Sequence[int]]]) -> Iterator[Result]:
    for cid, ids in todo:
        yield cid, *_chunk_to_disk(exp, out, cid, ids)


def _processes(exp: Experiment, out: Path, todo: Iterable[tuple[int, Sequence[int]]], workers: int) -> Iterator[Result]:
    """Local worker processes; each writes its chunks' parts itself, so the driver stays idle."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        ctx = get_context("fork")  # single-threaded driver: fork is safe and starts at once
    elif sys.platform.startswith("linux"):
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["sim.batch.sweep"])  # workers fork with the package already imported
    else:
        ctx = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(exp,)) as pool:
        it = iter(todo)
        running: dict[Any, int] = {}
        try:
            for cid, ids in it:
                with warnings.catch_warnings():
                    # with fork, all workers start at the first submit, while the only other threads
                    # are numpy's BLAS pool, which is fork-safe (it registers at-fork handlers)
                    warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
                    running[pool.submit(_worker_chunk, out, cid, ids)] = cid
                if len(running) >= 2 * workers:
                    break
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    cid = running.pop(fut)
                    yield cid, *fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        running[pool.submit(_worker_chunk, out, *nxt)] = nxt[0]
        except BaseException:
            for fut in running:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _dask(exp: Experiment, out: Path, todo: Iterable[tuple[int, Sequence[int]]], address: str) -> Iterator[Result]:
    """Dask distributed: workers may be on other machines, so they return the tables and the
    driver writes them."""
    from distributed import Client, as_completed

    store = ResultStore(out)
    with Client(address, timeout="30s") as client:
        exp_f = client.scatter(exp, broadcast=True)
        n_workers = max(1, len(client.scheduler_info()["workers"]))
        it = iter(todo)
        meta: dict[str, int] = {}
        ac = as_completed()
        for cid, ids in it:
            f = client.submit(run_chunk, exp_f, ids, pure=False)
            meta[f.key] = cid
            ac.add(f)
            if len(meta) >= 2 * n_workers:
                break
        for f in ac:
            cid = meta.pop(f.key)
            runs, ts = f.result()
            store.write(cid, runs, ts)
            yield cid, runs.num_rows, runs.num_rows - count_ok(runs)
            nxt = next(it, None)
            if nxt is not None:
                g = client.submit(run_chunk, exp_f, nxt[1], pure=False)
                meta[g.key] = nxt[0]
                ac.add(g)


# ---------------------------------------------------------------- progress


class Progress:
    """A progress bar on a terminal (tqdm); plain lines every few seconds elsewhere."""

    def __init__(self, total: int, done: int, stream=None, interval: float = 5.0):
        self.total, self.done, self.start_done = total, done, done
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self.last = 0.0
        self.interval = interval
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread, so local workers can fork
            self.bar = tqdm(total=total, initial=done, unit="run", file=self.stream, smoothing=0.1)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            print(self.line(), file=self.stream, flush=True)

    def rate(self) -> float:
        return (self.done - self.start_done) / max(time.monotonic() - self.t0, 1e-9)

    def line(self) -> str:
        r = self.rate()
        left = self.total - self.done
        eta = f"{left / r:.0f}s" if r > 0 else "?"
        return f"sweep: {self.done}/{self.total} runs ({100 * self.done / max(self.total, 1):.0f}%), {r:.0f} runs/s, ETA {eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- the sweep


def run_sweep(
    exp: Experiment,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) ``exp`` into ``out``; return a summary dict."""
    workers = workers or os.cpu_count() or 1
    plan = list(chunks(exp))
    store = ResultStore(out)
    done = store.open(exp, resume, plan)
    todo = [(cid, ids) for cid, ids in plan if cid not in done]
    already = sum(len(ids) for cid, ids in plan if cid in done)
    bar = Progress(exp.n_runs, already) if progress else None
    t0 = time.monotonic()
    out = Path(out)
    if scheduler:
        results = _dask(exp, out, todo, scheduler)
        executor = f"dask:{scheduler}"
    elif workers > 1 and len(todo) > 1:
        results = _processes(exp, out, todo, workers)
        executor = f"processes:{workers}"
    else:
        results = _serial(exp, out, todo)
        executor = "serial"
    n_new = failed = 0
    try:
        for cid, n, n_failed in results:
            failed += n_failed
            n_new += n
            if bar:
                bar.update(n)
            if on_chunk:
                on_chunk(cid)
    finally:
        if bar:
            bar.close()
    elapsed = time.monotonic() - t0
    statuses = _read_parts(store.runs_dir, ["status"])
    total_failed = statuses.num_rows - count_ok(statuses)
    info = {
        "executor": executor,
        "runs_this_session": n_new,
        "resumed_from": already,
        "elapsed_s": round(elapsed, 3),
        "runs_per_s": round(n_new / elapsed, 1) if elapsed > 0 else None,
        "failed_this_session": failed,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store.finish(**info)
    return {"out": str(out), "n_runs": exp.n_runs, "completed": already + n_new, "failed": total_failed, **info}


def count_ok(runs: pa.Table) -> int:
    return runs.column("status").to_pylist().count("ok")
