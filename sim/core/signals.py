"""Ctrl-C (SIGINT) and SIGTERM held off while a short step that must not be cut half-way runs:
the renames that put an output in place (:mod:`sim.core.staging`), and numba compiling or
loading the model's machine code (:func:`sim.core.rules._lazy`), whose callbacks from C swallow
a KeyboardInterrupt half-way and leave the compiler in a broken state; and starting the figure
processes (:func:`sigint_blocked`: SIGINT blocked, so that a process started then inherits it
blocked, :func:`sim.analysis.figure_set.drawing_pool`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def signals_held(held: list[int]) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM are noted in ``held`` instead of acted on while the block runs
    (a few renames); the caller acts on them after. Only the main thread can do this: elsewhere
    the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None]
    old = {s: signal.getsignal(s) for s in sigs}
    for s in sigs:
        signal.signal(s, lambda n, _f: held.append(n))
    try:
        yield
    finally:
        for s, h in old.items():
            if h is not None:
                signal.signal(s, h)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM that arrive during the block take effect as it ends (raised again, once
    each, to the handlers in place before it), never inside it."""
    held: list[int] = []
    try:
        with signals_held(held):
            yield
    finally:
        for s in dict.fromkeys(held):
            signal.raise_signal(s)


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Ctrl-C held back in this block (in the main thread) and raised as it ends, never lost.
    SIGINT is blocked meanwhile, so that a process started here begins with it blocked (the fork
    server: its imports cannot be interrupted; it then ignores SIGINT, as do the processes it
    forks); and a process the pool starts in :meth:`~ProcessPoolExecutor.submit` is never left
    running unknown to the pool (forked, but its start interrupted before the pool recorded it)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    got: list[int] = []
    old = signal.signal(signal.SIGINT, lambda sig, frame: got.append(sig))  # in whichever thread the kernel picks
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one pending is delivered (to the handler above) now
        signal.signal(signal.SIGINT, old)
        if got and callable(old):
            old(signal.SIGINT, None)  # Python's default handler: KeyboardInterrupt
