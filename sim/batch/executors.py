"""Executors: where the chunks of a sweep run, behind one interface (as the EMA Workbench's evaluators).

Every executor takes the chunks still to do and yields one :class:`ChunkDone` per finished
chunk, after its parts are in the :class:`~sim.batch.store.ResultStore`. Results do not
depend on the executor: chunks are fixed by the experiment, and each chunk is one batch of
the ensemble (:func:`run_chunk`). :func:`make_executor` picks one from the command line's
``--workers`` / ``--scheduler``.

- :class:`SerialExecutor` — in this process;
- :class:`LocalProcessExecutor` — local worker processes, each writing its own parts;
- :class:`DaskExecutor` — a Dask distributed scheduler; workers (maybe on other machines)
  return the tables and this process writes them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pyarrow as pa

from sim.batch.ensemble import OUTCOMES, EnsembleResult, simulate
from sim.batch.experiment import Experiment
from sim.batch.processes import keep_heap, stop_fork_server
from sim.batch.store import ResultStore, count_ok
from sim.scenarios import Setup

# ---------------------------------------------------------------- one chunk


def run_chunk(exp: Experiment, run_ids: Sequence[int]) -> tuple[pa.Table, pa.Table]:
    """Simulate the runs of one chunk as a batch; return (runs table, time-series table).

    If the batch raises, each run is retried alone and a run that still raises is recorded
    with status ``error`` and its message, so the others complete."""
    run_ids = list(run_ids)
    idx = [exp.run_index(r) for r in run_ids]
    cache: dict[tuple[int, int, int], Setup] = {}
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


def _simulate(exp: Experiment, setups: list[Setup], seeds: list[int]) -> EnsembleResult:
    return simulate(setups, seeds, metrics=exp.timeseries, every=exp.every)


def _collect(exp: Experiment, run_ids: list[int], res: EnsembleResult, outcomes: dict[str, list], parts: list) -> None:
    for k in OUTCOMES:
        outcomes[k].extend(res.outcomes[k].tolist())
    parts.append({"run_id": np.asarray(run_ids), "round": res.rounds, **{m: res.series[m] for m in exp.timeseries}})


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


def chunk_to_store(exp: Experiment, store: ResultStore, cid: int, ids: Sequence[int]) -> ChunkDone:
    """Run one chunk and write its parts into ``store``."""
    runs, ts = run_chunk(exp, ids)
    store.write(cid, runs, ts)
    return ChunkDone(cid, runs.num_rows, runs.num_rows - count_ok(runs))


# ---------------------------------------------------------------- the interface

#: Chunks still to do: (chunk id, run ids).
Todo = Iterable[tuple[int, Sequence[int]]]
R = TypeVar("R")


class ChunkDone(NamedTuple):
    """One finished chunk, its parts already in the store."""

    chunk: int
    runs: int
    failed: int


class Executor(ABC):
    """Runs chunks of an experiment and stores their results."""

    @property
    @abstractmethod
    def name(self) -> str:
        """How the manifest and the summary name this executor (e.g. ``processes:4``)."""

    @abstractmethod
    def run(self, exp: Experiment, store: ResultStore, todo: Todo) -> Iterator[ChunkDone]:
        """Run every chunk of ``todo``, yielding each as it finishes (in any order).

        Closing the iterator early (Ctrl-C, an error) must stop all work it started."""

    @abstractmethod
    def map(
        self, fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]], warm: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, R]]:
        """Call ``fn(*task)`` for every task (``fn`` a module-level function, tasks picklable),
        yielding ``(index of the task, result)`` as each finishes (in any order); for work that
        is not a sweep's chunk, such as the transplant runs of :mod:`sim.batch.transplant`.
        ``warm``, if given, is called in this process before workers are forked from it (so they
        inherit what it compiled, as a sweep's do: :func:`warm_up`); executors that fork nothing
        ignore it. Closing the iterator early must stop all work it started."""


class SerialExecutor(Executor):
    """Every chunk in this process, in order."""

    name = "serial"

    def run(self, exp: Experiment, store: ResultStore, todo: Todo) -> Iterator[ChunkDone]:
        for cid, ids in todo:
            yield chunk_to_store(exp, store, cid, ids)

    def map(
        self, fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]], warm: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, R]]:
        for i, task in enumerate(tasks):
            yield i, fn(*task)


class SweepInterrupted(RuntimeError):
    """The sweep could not go on (a worker died, the scheduler went away); what is done is kept."""


# the experiment and the store of a local worker process, set once by its initializer
_WORKER: tuple[Experiment, ResultStore] | None = None


def _init_worker(exp: Experiment, store: ResultStore, driver: int) -> None:
    global _WORKER
    _WORKER = (exp, store)
    _init_task_worker(driver)


def _init_task_worker(driver: int) -> None:
    """A local worker process: the model's arrays kept on the heap (:func:`keep_heap`), and an end
    with the driver (:func:`exit_with_driver`)."""
    keep_heap()
    exit_with_driver(driver)


def _on_dask_worker[T](fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a Dask worker, whose nanny fixes glibc's malloc thresholds (:func:`keep_heap`)."""
    keep_heap()
    return fn(*args)


def exit_with_driver(driver: int, interval: float = 1.0) -> None:
    """Make this worker process end when the driver ``driver`` (a pid) does, however it ends
    (``kill -9`` too): a parent-death signal on Linux, and a watchdog thread everywhere."""
    import os
    import signal

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: killed when the parent goes
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            try:
                os.kill(driver, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            if os.getppid() == 1:  # re-parented to init: the driver (or the fork server) is gone
                os._exit(1)
            time.sleep(interval)

    threading.Thread(target=watch, name="driver-watchdog", daemon=True).start()


def _worker_chunk(cid: int, ids: Sequence[int]) -> ChunkDone:
    assert _WORKER is not None, "worker not initialised"
    return chunk_to_store(*_WORKER, cid, ids)


def warm_up(exp: Experiment) -> None:
    """Two short runs of the experiment's first setup in this process, so that numba's loops are
    compiled, or loaded from its cache, once before the workers are forked: they inherit the machine
    code instead of each loading (or, on a fresh install, compiling) its own. Measured on 10,000
    runs of the reference workload with 2 workers: peak PSS 527 MiB against 601-634 without."""
    try:
        setup = exp.setup(0, 0, 0)
        simulate([setup, setup], [0, 1], rounds=min(5, exp.rounds or setup.rounds), metrics=[])
    except Exception:  # noqa: BLE001 - only a head start: the workers meet (and record) any error themselves
        pass


class LocalProcessExecutor(Executor):
    """Local worker processes; each writes its chunks' parts itself, so the driver stays idle.

    At most two chunks per worker are queued at a time, so a million-run sweep holds little
    in memory."""

    def __init__(self, workers: int):
        self.workers = workers

    @property
    def name(self) -> str:
        return f"processes:{self.workers}"

    @staticmethod
    def context() -> Any:
        if sys.platform.startswith("linux") and threading.active_count() == 1:
            return get_context("fork")  # single-threaded driver: fork is safe and starts at once
        if sys.platform.startswith("linux"):
            ctx = get_context("forkserver")
            ctx.set_forkserver_preload(["sim.batch.executors"])  # workers fork with the package already imported
            return ctx
        return get_context("spawn")

    def run(self, exp: Experiment, store: ResultStore, todo: Todo) -> Iterator[ChunkDone]:
        init = (exp, store, os.getpid())
        ctx = self.context()
        if ctx.get_start_method() == "fork":
            warm_up(exp)
        try:
            with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
                for _, done in _in_flight(pool, _worker_chunk, todo, 2 * self.workers):
                    yield done
        finally:
            if ctx.get_start_method() == "forkserver":
                stop_fork_server()  # no process outlives the command

    def map(
        self, fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]], warm: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, R]]:
        ctx = self.context()
        if warm is not None and ctx.get_start_method() == "fork":
            warm()
        try:
            with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_task_worker, initargs=(os.getpid(),)) as pool:
                yield from _in_flight(pool, fn, tasks, 2 * self.workers)
        finally:
            if ctx.get_start_method() == "forkserver":
                stop_fork_server()


def _in_flight[T](pool: ProcessPoolExecutor, fn: Callable[..., T], tasks: Iterable[tuple[Any, ...]], depth: int) -> Iterator[tuple[int, T]]:
    """(index, ``fn(*task)``) for each task as it finishes, at most ``depth`` queued at a time (so
    a million-run sweep holds little in memory). A dead worker ends it as
    :class:`SweepInterrupted`; any other failure cancels what is queued."""
    it = iter(enumerate(tasks))
    running: dict[Future[T], int] = {}

    def submit() -> None:
        nxt = next(it, None)
        if nxt is not None:
            with warnings.catch_warnings():
                # with fork, all workers start at the first submit, while the only other threads
                # are numpy's BLAS pool, which is fork-safe (it registers at-fork handlers)
                warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
                running[pool.submit(fn, *nxt[1])] = nxt[0]

    try:
        for _ in range(depth):
            submit()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = running.pop(fut)
                yield i, fut.result()
                submit()
    except BrokenProcessPool:  # from a result or from the next submit
        pool.shutdown(wait=False, cancel_futures=True)
        raise SweepInterrupted("a local worker process died (killed, or out of memory)") from None
    except BaseException:  # Ctrl-C too: the workers stop now, not after the chunks queued to them
        with _sigint_ignored():  # a second Ctrl-C must not break the clean-up (it hung, with a traceback)
            for fut in running:
                fut.cancel()
            stop_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)
        raise


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (SIGTERM). What they had finished is kept; a part
    they were writing is left as its temporary file (removed by ``--resume``) or without its
    checksum (recomputed by ``--resume``). A worker that got Ctrl-C itself would otherwise go on
    to the chunks already in its call queue (measured: 218 s after Ctrl-C with 100,000-run chunks)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(OSError, ValueError):
            proc.terminate()
    for proc in procs:  # gone before the caller goes on (they hold the results folder's lock)
        with contextlib.suppress(OSError, ValueError, AssertionError):
            proc.join(timeout=10)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this block (in the main thread; elsewhere it cannot be set or arrive)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class DaskExecutor(Executor):
    """A Dask distributed scheduler at ``address``: workers may be on other machines, so they
    return the tables and the driver writes them."""

    #: How long to wait for the scheduler (seconds), then for its first worker.
    connect_timeout = 10.0
    wait_for_workers = 30.0
    #: How often a waiting sweep checks that the cluster still has workers (seconds).
    poll = 2.0

    def __init__(self, address: str):
        self.address = address
        self.client: Any = None  # connected by connect() (run_sweep does it before writing anything)

    @property
    def name(self) -> str:
        return f"dask:{self.address}"

    def connect(self) -> Any:
        """A client of the scheduler with at least one worker, or :class:`SweepInterrupted`."""
        from distributed import Client

        try:
            client = Client(self.address, timeout=f"{self.connect_timeout}s")
        except Exception as e:  # noqa: BLE001 - any failure to connect is one line for the user
            raise SweepInterrupted(f"cannot reach the Dask scheduler at {self.address!r} ({_first_line(e)})") from None
        try:
            client.wait_for_workers(1, timeout=self.wait_for_workers)
        except Exception:  # noqa: BLE001
            client.close()
            raise SweepInterrupted(f"the Dask scheduler at {self.address!r} has no workers (waited {self.wait_for_workers:g} s)") from None
        return client

    def run(self, exp: Experiment, store: ResultStore, todo: Todo) -> Iterator[ChunkDone]:
        tasks = ((cid, (exp, list(ids))) for cid, ids in todo)
        for cid, (runs, ts) in self._flow(run_chunk, tasks, "chunk", bounded=True):
            store.write(cid, runs, ts)
            yield ChunkDone(cid, runs.num_rows, runs.num_rows - count_ok(runs))

    def map(
        self, fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]], warm: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, R]]:
        yield from self._flow(fn, enumerate(tasks), "task", bounded=False)

    def _flow(
        self, fn: Callable[..., Any], keyed: Iterable[tuple[int, tuple[Any, ...]]], what: str, bounded: bool
    ) -> Iterator[tuple[int, Any]]:
        """(key, ``fn(*args)``) for each (key, args) as it finishes; with ``bounded``, at most two
        tasks per worker are queued at a time. The arguments go with every task (nothing
        scattered, nothing kept on a worker), so a worker that the cluster restarts after a crash
        takes any task, and a task lost with its worker is simply run again."""
        from distributed import wait

        client = self.client or self.connect()
        try:
            it = iter(keyed)
            running: dict[Any, int] = {}

            def submit() -> None:
                nxt = next(it, None)
                if nxt is not None:
                    running[client.submit(_on_dask_worker, fn, *nxt[1], pure=False, retries=2)] = nxt[0]

            n_workers = max(1, len(client.scheduler_info()["workers"]))
            for _ in itertools.count() if not bounded else range(2 * n_workers):
                n = len(running)
                submit()
                if len(running) == n:
                    break
            idle = _Idle(self, client)
            while running:
                try:
                    finished = wait(list(running), timeout=self.poll, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    idle.check()
                    continue
                except Exception as e:  # noqa: BLE001 - e.g. the scheduler went: one line, resumable
                    raise self._interrupted(e, f"{what} {min(running.values())}") from None
                for f in finished:
                    key = running.pop(f)
                    yield key, self._result(f, f"{what} {key}", idle)
                    submit()
        finally:
            client.close()

    def _result(self, f: Any, what: str, idle: _Idle) -> Any:
        """A finished task's result; waits while the cluster recomputes a result lost with its worker."""
        while True:
            try:
                return f.result(timeout=self.poll)
            except TimeoutError:
                idle.check()
            except Exception as e:  # noqa: BLE001 - a task failed on every try, or the scheduler went: one line, resumable
                raise self._interrupted(e, what) from None

    def _interrupted(self, e: Exception, what: str) -> SweepInterrupted:
        if "scheduler-connection-lost" in str(e):
            return SweepInterrupted(f"lost the connection to the Dask scheduler at {self.address!r}")
        return SweepInterrupted(f"the Dask cluster failed {what} ({type(e).__name__}: {_first_line(e)})")


class _Idle:
    """Watches a waiting sweep's cluster: :class:`SweepInterrupted` once it has had no worker
    for :attr:`DaskExecutor.wait_for_workers` seconds, or its scheduler cannot be reached."""

    def __init__(self, ex: DaskExecutor, client: Any):
        self.ex, self.client = ex, client
        self.since: float | None = None

    def check(self) -> None:
        try:
            workers = self.client.nthreads()
        except Exception as e:  # noqa: BLE001
            raise SweepInterrupted(f"lost the Dask scheduler at {self.ex.address!r} ({_first_line(e)})") from None
        if workers:
            self.since = None
            return
        now = time.monotonic()
        if self.since is None:
            self.since = now
        if now - self.since >= self.ex.wait_for_workers:
            raise SweepInterrupted(f"the Dask cluster at {self.ex.address!r} has had no workers for {self.ex.wait_for_workers:g} s")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def make_executor(workers: int = 1, scheduler: str | None = None, n_chunks: int = 2) -> Executor:
    """The executor for ``--scheduler`` (Dask) or ``--workers``; serial for one worker or one chunk."""
    if scheduler:
        return DaskExecutor(scheduler)
    if workers > 1 and n_chunks > 1:
        return LocalProcessExecutor(min(workers, n_chunks))  # no idle processes: 300 for 4 chunks ran 5× slower than serial
    return SerialExecutor()
