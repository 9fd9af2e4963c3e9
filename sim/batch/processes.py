"""The fork server of Python's multiprocessing outlives the pools that used it: it exits only when
it sees the pipe of the process that started it close, a moment after that process has exited.
:func:`stop_fork_server` stops it now, so that it does not outlive the command.

The resource tracker (which the fork server's pools start) is left to exit with this process: it
holds the names of the semaphores still alive here, and stopping it would unlink them under their
owners (whose finalizers then fail at exit)."""

from __future__ import annotations

import contextlib
import multiprocessing.forkserver as _fs
import os
import signal
from pathlib import Path


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
