"""What the sweep's worker processes need of the operating system.

The fork server of Python's multiprocessing outlives the pools that used it: it exits only when
it sees the pipe of the process that started it close, a moment after that process has exited.
:func:`stop_fork_server` stops it now, so that it does not outlive the command. :func:`keep_heap`
keeps the model's arrays on the C heap in a worker whatever its environment says.

The resource tracker (which the fork server's pools start) is left to exit with this process: it
holds the names of the semaphores still alive here, and stopping it would unlink them under their
owners (whose finalizers then fail at exit)."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing.forkserver as _fs
import os
import signal
from pathlib import Path

#: glibc's malloc parameters (malloc.h) and the values :func:`keep_heap` gives them: the largest
#: mmap threshold glibc allows on 64-bit systems, to which its own dynamic threshold grows, and
#: twice that for trimming, as glibc keeps them
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20


@functools.cache
def keep_heap() -> bool:
    """Keep the model's arrays on the C heap in this process (glibc; once, cached): an mmap threshold
    of 32 MiB and a trim threshold of 64 MiB (``mallopt``). A round of a 1,024-run batch allocates
    and frees many arrays of about 1 MiB; glibc serves them from its heap once its dynamic
    thresholds have grown past them, but any fixed threshold turns the growth off, and Dask's nanny
    starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's
    ``nanny.pre-spawn-environ``): each array was then mapped and unmapped afresh, and the model ran
    at less than half speed (``benchmarks/bench_dask.py``; the same with that variable set in any
    process). Only the speed changes, never a result. False where the C library has no
    ``mallopt`` (not glibc) or refuses."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def stop_fork_server(stragglers: bool = False) -> None:
    """Stop the fork server if it runs (after the pools that used it have been shut down; a later
    pool starts a new one). ``_stop`` is CPython's own, used by its tests; where it is missing the
    server ends as before.

    The server waits for every process it forked (they hold its "alive" pipe). With
    ``stragglers`` (a command interrupted while its pool was starting a process), any of them
    still running is killed first (Linux): one that its pool never registered would otherwise
    keep the server, and this call, waiting for ever."""
    server = getattr(_fs, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if stop is None:
        return
    pid = getattr(server, "_forkserver_pid", None)
    if stragglers and pid is not None:
        for child in _children(pid):
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
    stop()


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc; none where there is no /proc)."""
    kids: list[int] = []
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            kids += [int(k) for k in f.read_text().split()]
    return kids
