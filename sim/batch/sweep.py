"""Sweeps: plan an experiment into chunks, skip those already done (``--resume``), run the
rest on an executor (:mod:`sim.batch.executors`) into a result store
(:mod:`sim.batch.store`), and show progress with an ETA.

An interrupted sweep (Ctrl-C, ``kill -9``, a crashed worker) resumes with ``--resume``
without losing or duplicating a run: chunks are fixed by the experiment and a chunk counts
as done once its runs part is on disk.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sim.batch.executors import DaskExecutor, LocalProcessExecutor, SerialExecutor, make_executor
from sim.batch.experiment import Experiment, chunks, experiment_from_manifest
from sim.batch.store import ResultStore, count_ok, read_parts, read_runs, read_timeseries, status

__all__ = ["Progress", "read_runs", "read_timeseries", "repair", "run_sweep"]  # the readers live in sim.batch.store


class Progress:
    """A progress bar on a terminal (tqdm); plain lines every few seconds elsewhere."""

    def __init__(
        self, total: int, done: int, stream: IO[str] | None = None, interval: float = 5.0, label: str = "sweep", unit: str = "run"
    ):
        self.total, self.done, self.start_done = total, done, done
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self.last = 0.0
        self.interval = interval
        self.bar: Any = None
        if self.stream.isatty():
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread, so local workers can fork
            self.bar = tqdm(total=total, initial=done, unit=unit, file=self.stream, smoothing=0.1, desc=label)

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
        u = self.unit
        return f"{self.label}: {self.done}/{self.total} {u}s ({100 * self.done / max(self.total, 1):.0f}%), {r:.0f} {u}s/s, ETA {eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweep(
    exp: Experiment,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    only: set[int] | None = None,
) -> dict[str, Any]:
    """Run (or resume) ``exp`` into ``out``; return a summary dict. ``only``: run just these
    chunks (if not done), as :func:`repair` does."""
    workers = workers or os.cpu_count() or 1
    plan = list(chunks(exp))
    executor = make_executor(workers, scheduler, len(plan))
    if isinstance(executor, DaskExecutor):
        executor.client = executor.connect()  # before anything is written: a bad address leaves nothing
    store = ResultStore(out)
    try:
        return _run(exp, store, executor, plan, resume, progress, on_chunk, only)
    finally:
        store.close()


def _run(
    exp: Experiment, store: ResultStore, executor: Any, plan: list, resume: bool, progress: bool, on_chunk: Any, only: set[int] | None
) -> dict[str, Any]:
    done = store.open(exp, resume, plan)
    if store.repaired and only is None:
        print(
            f"resume: {len(store.repaired)} chunk(s) had damaged or missing parts and are recomputed "
            f"(chunks {', '.join(map(str, store.repaired[:10]))}{', …' if len(store.repaired) > 10 else ''})",
            file=sys.stderr,
            flush=True,
        )
    todo = [(cid, ids) for cid, ids in plan if cid not in done and (only is None or cid in only)]
    already = sum(len(ids) for cid, ids in plan if cid in done)
    if isinstance(executor, LocalProcessExecutor) and len(todo) < 2:
        executor = SerialExecutor()
    bar = Progress(exp.n_runs, already) if progress else None
    t0 = time.monotonic()
    n_new = failed = 0
    running = executor.run(exp, store, todo)
    try:
        for chunk in running:
            failed += chunk.failed
            n_new += chunk.runs
            if bar:
                bar.update(chunk.runs)
            if on_chunk:
                on_chunk(chunk.chunk)
    finally:
        close = getattr(running, "close", None)
        if close:  # now, not when the traceback lets go of it: the executor stops its workers
            close()
        if bar:
            bar.close()
    elapsed = time.monotonic() - t0
    statuses = read_parts(store.runs_dir, ["status"])
    total_failed = statuses.num_rows - count_ok(statuses)
    info = {
        "executor": executor.name,
        "runs_this_session": n_new,
        "resumed_from": already,
        "elapsed_s": round(elapsed, 3),
        "runs_per_s": round(n_new / elapsed, 1) if elapsed > 0 else None,
        "failed_this_session": failed,
        **({"repaired": sorted(only)} if only is not None else {}),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store.finish(**info)
    return {"out": str(store.out), "n_runs": exp.n_runs, "completed": already + n_new, "failed": total_failed, **info}


def repair(out: str | Path, workers: int | None = None) -> list[int]:
    """Recompute the chunks of a results folder whose parts are damaged or lost (a part missing,
    truncated or not matching its checksum; every missing chunk once a sweep had finished), as
    ``--resume`` would, and no others; return their ids. Chunks never run by an interrupted
    sweep are left to ``--resume``. :class:`InputError` if the experiment cannot be rebuilt from
    the manifest or another sweep is writing the folder."""
    store = ResultStore(out)
    manifest = store.read_manifest()
    st = status(out)
    finished = any(not s.get("repaired") for s in manifest.get("sessions", []))
    lost = sorted(set(st["damaged"]) | (set(st["missing"]) if finished else set()))
    if lost:
        exp = experiment_from_manifest(manifest, str(store.manifest_path))
        run_sweep(exp, out, workers=workers, resume=True, progress=False, only=set(lost))
    return lost
