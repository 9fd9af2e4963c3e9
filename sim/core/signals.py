"""Ctrl-C (SIGINT) and SIGTERM held off while a short step that must not be cut half-way runs:
the renames that put an output in place (:mod:`sim.core.staging`), and numba compiling or
loading the model's machine code (:func:`sim.core.rules._lazy`), whose callbacks from C swallow
a KeyboardInterrupt half-way and leave the compiler in a broken state.
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
