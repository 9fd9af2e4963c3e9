"""Serving the explorer: Solara's Starlette app under uvicorn, in this process (no child to
outlive it), with no outbound connection and only loopback ``Host`` headers by default.

- No version check: that is part of the ``solara run`` command, which is not used.
- No telemetry: Solara's Mixpanel reporting is switched off before Solara is imported.
- No CDN: the front-end files come from the installed ``solara-assets``; a missing file is
  never fetched from the internet (the CDN address points at an unroutable local port).
- No badge: Solara's "This website runs on Solara" banner is switched off (it covered a plot).
- ``Host`` headers: loopback names (and the ``--host`` given) only, against DNS rebinding.
- Stopping: see :func:`serve`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from sim.abm.session import STOP

LOOPBACK = ["127.0.0.1", "localhost", "::1", "[::1]"]

#: Environment that keeps Solara from calling home; applied before Solara is imported.
PRIVATE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",  # discard port: a cache miss fails locally
    "SOLARA_APP": "sim.abm.app",
    "SOLARA_MODE": "production",
    "SOLARA_THEME_SHOW_BANNER": "false",  # the "This website runs on Solara" badge covers the plots
}


def private_settings() -> None:
    """Switch off Solara's outbound calls (environment and, if already imported, its settings)."""
    os.environ.update(PRIVATE_ENV)
    import solara.server.settings as server_settings
    import solara.settings as settings

    server_settings.telemetry.mixpanel_enable = False
    server_settings.theme.show_banner = False
    settings.assets.cdn = PRIVATE_ENV["SOLARA_ASSETS_CDN"]


def allowed_hosts(host: str) -> list[str]:
    return LOOPBACK + ([host] if host not in LOOPBACK and host not in ("0.0.0.0", "::") else [])


#: What a stop says on stderr: one line, however it ends.
STOPPED = "dialogue-sim app: stopped\n"
#: Exit status after a stop: Ctrl-C's conventional 128 + SIGINT; SIGTERM is an ordinary stop.
EXIT_STATUS: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 0}
#: Seconds from the first signal to the end of the process, whatever is still running then.
STOP_DEADLINE = 2

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class CloseNeedsSession:
    """Answer 400 to Solara's page-close beacon when it has no ``session_id`` (Solara's own route
    reads it unchecked and fails with a 500 and a traceback; its page always sends one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/_solara/api/close/"):
            from starlette.datastructures import QueryParams
            from starlette.responses import PlainTextResponse

            if "session_id" not in QueryParams(scope.get("query_string", b"")):
                await PlainTextResponse("session_id missing", status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Stop:
    """Ctrl-C (SIGINT) or SIGTERM: the explorer stops within :data:`STOP_DEADLINE` seconds and
    says :data:`STOPPED`, nothing else; a second signal ends it at once.

    The first signal asks uvicorn to shut down and sets :data:`~sim.abm.session.STOP`, which
    makes every run refuse to advance further. A round already under way cannot be interrupted
    (the model's loops do not look at signals): its page's kernel thread holds Solara's kernel
    lock, which Solara's shutdown waits for, and the process would wait for the thread at exit.
    So a watchdog ends the process at the deadline; nothing is lost that the process would have
    kept (the explorer's runs live in memory only and are rebuilt from their setting).
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.said = threading.Lock()
        self.server: Any = None  # the uvicorn.Server, once there is one

    @property
    def status(self) -> int:
        return EXIT_STATUS[signal.SIGINT if self.signal is None else self.signal]

    def install(self) -> None:
        for sig in EXIT_STATUS:
            signal.signal(sig, self.handle)
        threading.Thread(target=self.watchdog, name="explorer-stop-deadline", daemon=True).start()

    def handle(self, sig: int, frame: Any) -> None:
        if self.signal is not None:  # a second Ctrl-C: no more waiting
            self.exit_now()
        self.signal = sig
        if self.server is not None:
            self.server.should_exit = True
        STOP.set()

    def say(self) -> None:
        """Print :data:`STOPPED` once (os.write: safe in a signal handler and beside other threads)."""
        if self.said.acquire(blocking=False):
            with contextlib.suppress(OSError, ValueError):  # no stderr left: nothing to say it on
                os.write(sys.stderr.fileno(), STOPPED.encode())

    def watchdog(self) -> None:
        STOP.wait()
        time.sleep(STOP_DEADLINE)
        self.exit_now()

    def exit_now(self) -> None:
        self.say()
        os._exit(self.status)


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the explorer until SIGINT or SIGTERM (see :class:`Stop`); after SIGINT, raise
    KeyboardInterrupt (``dialogue-sim app`` exits with status 130; after SIGTERM, 0)."""
    private_settings()
    import uvicorn
    from solara.server.starlette import app
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    # Solara warns, on a page load from any host but ``localhost`` over http, that its session
    # cookie falls back to SameSite=Lax; that is right for a page opened directly (it matters
    # only to an iframe embedding the explorer, which it is not made for)
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", module=r"solara\.server\.starlette")

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # Stop has them (uvicorn would raise them again after its shutdown)
            yield

    stop = Stop()
    config = uvicorn.Config(
        CloseNeedsSession(TrustedHostMiddleware(app, allowed_hosts=allowed_hosts(host))),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=STOP_DEADLINE + 1,  # the deadline comes first: no cancelled task's traceback
    )
    stop.server = Server(config)
    stop.install()
    stop.server.run()
    if stop.signal is None:  # uvicorn stopped by itself (it has said why)
        return
    stop.say()
    if stop.signal == signal.SIGINT:
        raise KeyboardInterrupt
