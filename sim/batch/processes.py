"""The fork server of Python's multiprocessing outlives the pools that used it: it exits only when
it sees the pipe of the process that started it close, a moment after that process has exited.
:func:`stop_fork_server` stops it now, so that it does not outlive the command.

The resource tracker (which the fork server's pools start) is left to exit with this process: it
holds the names of the semaphores still alive here, and stopping it would unlink them under their
owners (whose finalizers then fail at exit)."""

from __future__ import annotations

import multiprocessing.forkserver as _fs


def stop_fork_server() -> None:
    """Stop the fork server if it runs (after the pools that used it have been shut down; a later
    pool starts a new one). ``_stop`` is CPython's own, used by its tests; where it is missing the
    server ends as before."""
    stop = getattr(getattr(_fs, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()
