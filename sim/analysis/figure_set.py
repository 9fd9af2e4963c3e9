"""The standard figures of a results folder (outcome and paired-difference curves per metric,
Kaplan–Meier time to agreement). Their summaries (:mod:`sim.analysis.curves`) are computed in
this process; the figures are drawn here, or by a pool of drawing processes
(:func:`drawing_pool`) that is sent the summaries. Used by ``dialogue-sim plot`` and by the report.

Light to import (no matplotlib): with a pool, the process that reads the data never imports it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.core.signals import sigint_blocked

if TYPE_CHECKING:
    from sim.analysis import curves
    from sim.analysis.results import ResultColumns, Results

DEFAULT_METRICS = ("agreement", "trust", "progress", "ideas_reported", "cost")

#: A figure to make: ("survival", ""), ("diff", metric) or ("curves", metric).
Job = tuple[str, str]


def figure_jobs(metrics: Sequence[str], by: str = "arm", n_arms: int = 2) -> list[Job]:
    """The figures of ``metrics`` in the order they are made: the survival curves, then per
    metric the paired difference (only by arm, with several arms) and the outcome curves."""
    jobs: list[Job] = [("survival", "")]
    for m in metrics:
        if n_arms > 1 and by == "arm":
            jobs.append(("diff", m))
        jobs.append(("curves", m))
    return jobs


def drawing_pool(workers: int) -> DrawingPool:
    """``workers`` drawing processes, started now (from a thread) so that they import matplotlib
    while this process reads the data. They are forked from multiprocessing's fork server, a
    fresh process that has imported the figure modules, never from this one (which runs
    pyarrow's threads). The caller shuts the pool down with :func:`close_pool`.

    Ctrl-C is this process's to handle: the fork server is started with SIGINT blocked (then it
    ignores it, and so do the drawing processes), so that neither its import of the figure
    modules (a traceback) nor a drawing process (left holding the pool's queue lock, which hung
    the exit) is interrupted; on an error or Ctrl-C the pool is ended by :func:`abort_pool`."""
    import multiprocessing as mp
    from multiprocessing import forkserver, resource_tracker

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["sim.analysis.figure_set", "sim.analysis.figures", "scipy.special"])  # scipy: the CI bands
    pool = None
    try:
        resource_tracker.ensure_running()  # first: starting it unblocks SIGINT (its own start blocks it)
        with sigint_blocked():  # the fork server starts with SIGINT blocked, and so do the processes it forks
            forkserver.ensure_running()
            pool = DrawingPool(workers, ctx)
    except BaseException:  # Ctrl-C meanwhile: nothing started is left running
        if pool is not None:
            abort_pool(pool)
        else:
            from sim.batch.executors import _sigint_ignored
            from sim.batch.processes import stop_fork_server

            with _sigint_ignored():
                stop_fork_server()
        raise
    return pool


class DrawingPool(ProcessPoolExecutor):
    """The pool of :func:`drawing_pool`: its processes ignore SIGINT, and a thread starts them."""

    def __init__(self, workers: int, ctx: Any):
        import signal

        # SIG_IGN again in each process, whatever the fork server it came from was started with
        super().__init__(workers, mp_context=ctx, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
        self.stopping = threading.Event()
        self.starter = threading.Thread(target=self._start, args=(workers,), name="start-drawing-pool", daemon=True)
        self.starter.start()

    def _start(self, workers: int) -> None:
        """Start the pool's processes (one per call while none is idle); each waits for the fork
        server to have imported the figure modules, hence the thread. Never raises: the pool is
        shut down meanwhile (an error or Ctrl-C in the main thread, and the fork server stopped
        then), and any real failure shows in the main thread's own calls."""
        try:
            for _ in range(workers):
                if self.stopping.is_set():
                    return
                self.submit(int)
        except BaseException:  # noqa: BLE001 - RuntimeError (shut down), EOFError (fork server gone), ...
            pass

    def started(self) -> None:
        """Wait (interruptibly) for the starting thread to be done, so that this thread's own
        calls do not wait for the fork server inside :meth:`submit`, where Ctrl-C is held back."""
        self.starter.join()


def close_pool(pool: ProcessPoolExecutor) -> None:
    """Shut a :func:`drawing_pool` down, then stop the fork server its processes came from
    (:func:`sim.batch.processes.stop_fork_server`), so that it does not outlive the command.
    Called while an exception (Ctrl-C too) is raised, as from a ``finally`` block, it ends the
    pool with :func:`abort_pool` instead of waiting for its work."""
    import sys

    from sim.batch.executors import _sigint_ignored
    from sim.batch.processes import stop_fork_server

    if sys.exc_info()[1] is not None:
        abort_pool(pool)
        return
    with _sigint_ignored():  # every figure is written: a Ctrl-C now must not leave the pool behind
        if isinstance(pool, DrawingPool):
            pool.stopping.set()
            pool.starter.join()
        pool.shutdown(cancel_futures=True)
        stop_fork_server()


def abort_pool(pool: ProcessPoolExecutor) -> None:
    """End a pool now (an error, Ctrl-C): its processes are terminated and waited for, then the
    fork server is stopped, before the caller goes on (to remove the folder they write into).
    Ctrl-C is ignored meanwhile, so that a second one cannot break it; safe to call again.
    Uses the sweep's clean-up (:func:`sim.batch.executors.stop_workers`)."""
    from sim.batch.executors import _sigint_ignored, stop_workers
    from sim.batch.processes import stop_fork_server

    with _sigint_ignored():
        if isinstance(pool, DrawingPool):  # no process starts after this: all are in pool._processes
            pool.stopping.set()
            pool.starter.join(timeout=60)  # a process it is starting waits for the fork server's imports
        manager = getattr(pool, "_executor_manager_thread", None)  # shutdown() forgets it
        stop_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        if manager is not None:
            manager.join(timeout=10)  # it sees the processes gone and closes the queues: nothing left for exit to wait on
        stop_fork_server(stragglers=True)


def summary(res: Results | ResultColumns, job: Job, by: str = "arm") -> curves.OutcomeCurves | curves.DifferenceCurves | curves.Durations:
    """What ``job``'s figure draws, from the loaded results."""
    from sim.analysis import curves

    kind, m = job
    if kind == "survival":
        return curves.durations(res.runs, {s: res.shift for s in res.scenarios}, {s: res.horizon(s) for s in res.scenarios}, by)
    if kind == "diff":
        return curves.difference_curves(res.runs, res.ts, m, res.treatment, res.reference)
    return curves.outcome_curves(res.runs, res.ts, m, by)


def make_figures(
    res: Results | ResultColumns,
    out: Path,
    metrics: list[str] | None = None,
    by: str = "arm",
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    formats: tuple[str, ...] = ("png", "svg"),
    pool: ProcessPoolExecutor | None = None,
) -> dict[str, list[Path]]:
    """Every figure of the report, saved under ``out`` (PNG, and SVG unless ``formats`` says
    otherwise); ``progress`` is called with each figure's name as it is written. The figures are
    drawn by ``pool`` (see :func:`drawing_pool`) or, with ``workers`` > 1, by a pool of that many
    processes made here; else in this process. Each summary is sent as soon as it is computed."""
    metrics = metrics or [m for m in DEFAULT_METRICS if m in res.ts]
    jobs = figure_jobs(metrics, by, len(res.arms))
    marks = {"events": _events(res), "shift": res.shift}
    note = progress or (lambda name: None)
    paths: dict[Job, Path] = {}
    own = drawing_pool(min(workers, len(jobs))) if pool is None and workers > 1 and len(jobs) > 1 else None
    pool = pool or own
    try:
        if pool is None:
            for j in jobs:
                paths[j] = _draw(summary(res, j, by), Path(out), formats, marks if j[0] != "survival" else {})
                note(paths[j].stem)
        else:
            futures: dict[Future, Job] = {}
            for j in jobs:
                s = summary(res, j, by)
                if not futures and isinstance(pool, DrawingPool):
                    pool.started()
                with sigint_blocked():
                    futures[pool.submit(_draw, s, Path(out), formats, marks if j[0] != "survival" else {})] = j
                for f in [f for f in futures if f.done() and futures[f] not in paths]:  # progress while summaries are computed
                    paths[futures[f]] = f.result()
                    note(paths[futures[f]].stem)
            from concurrent.futures import as_completed

            for f in as_completed([f for f in futures if futures[f] not in paths]):
                paths[futures[f]] = f.result()
                note(paths[futures[f]].stem)
    except BaseException:
        if pool is not None:  # its processes write into ``out``: ended before the caller removes it
            abort_pool(pool)
        raise
    finally:
        if own is not None:
            close_pool(own)
    figs: dict[str, list[Path]] = {"curves": [], "survival": [paths[jobs[0]]], "phase": [], "sensitivity": []}
    figs["curves"] = [paths[j] for j in jobs[1:]]
    return figs


def _draw(summary: Any, out: Path, formats: tuple[str, ...], marks: dict[str, Any]) -> Path:
    """Draw one summary (in a drawing process, or in this one)."""
    from sim.analysis import figures

    with figures.formats(formats):
        return figures.draw(summary, out, **marks)


def _events(res: Results | ResultColumns) -> dict[str, list[tuple[int, str]]]:
    """Each scenario's event marks (round, label) as kept in the manifest."""
    events = {sc: [(int(e[0]), str(e[1])) for e in evs] for sc, evs in res.manifest.get("events", {}).items()}
    if not events and res.shift:  # results written before scenario events were kept in the manifest
        events = {sc: [(res.shift, "shift")] for sc in res.scenarios}
    return events
