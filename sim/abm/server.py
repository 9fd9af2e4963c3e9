"""Serving the explorer: Solara's Starlette app under uvicorn, in this process (no child to
outlive it), with no outbound connection and only loopback ``Host`` headers by default.

- No version check: that is part of the ``solara run`` command, which is not used.
- No telemetry: Solara's Mixpanel reporting is switched off before Solara is imported.
- No CDN: the front-end files come from the installed ``solara-assets``; a missing file is
  never fetched from the internet (the CDN address points at an unroutable local port).
- No badge: Solara's "This website runs on Solara" banner is switched off (it covered a plot).
- ``Host`` headers: loopback names (and the ``--host`` given) only, against DNS rebinding.
"""

from __future__ import annotations

import os

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


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the explorer until SIGINT or SIGTERM (uvicorn handles both and shuts down)."""
    private_settings()
    import uvicorn
    from solara.server.starlette import app
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    uvicorn.run(
        TrustedHostMiddleware(app, allowed_hosts=allowed_hosts(host)),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )
