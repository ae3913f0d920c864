"""Who reaches a worker's HTTP endpoints, and at which address: the advertised URL and the bearer token.

Faust routes a lookup for a key to the worker owning its partition by the URL
each worker announced when it joined the group (its ``canonical_url``), so
every worker must announce an address the others can reach
(TOUCHLINE_WORKER_WEB_ADVERTISED_HOST / _PORT), distinct from the address it
listens on (TOUCHLINE_WORKER_WEB_BIND): behind a container's published port
the two differ.

With TOUCHLINE_WORKER_WEB_TOKEN set, every endpoint but the probes (``/health``,
``/ready``) and, unless TOUCHLINE_WORKER_WEB_METRICS_NEED_TOKEN, ``/metrics``
answers 401 without ``Authorization: Bearer <token>``; a worker forwarding a
lookup to the owner sends it too. The comparison takes constant time, and the
token is a secret setting, masked in every log record (infra/redact.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import faust
from aiohttp import web

from infra.settings import Settings

PROBES = ("/health", "/ready")
METRICS = "/metrics"


def advertised_url(settings: Settings) -> str:
    """The URL other workers reach this one at (what it announces to the group)."""
    host = settings.worker_web_advertised_host
    port = settings.worker_web_advertised_port or settings.worker_web_port or 6066
    return f"http://{host}:{port}"


def open_paths(settings: Settings) -> tuple[str, ...]:
    return PROBES if settings.worker_web_metrics_need_token else (*PROBES, METRICS)


def forward_headers(settings: Settings) -> dict[str, str]:
    """Headers a worker sends with a lookup it forwards to the key's owner."""
    token = settings.worker_web_token
    return {"Authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}


def unauthorized(reason: str) -> web.Response:
    return web.json_response(
        {"error": f"{reason}: send the header 'Authorization: Bearer <token>' with the token the workers are "
                  "configured with (TOUCHLINE_WORKER_WEB_TOKEN; docs/security.md)"},
        status=401, headers={"WWW-Authenticate": 'Bearer realm="touchline"'})


def bearer_check(token: str, open_to_all: tuple[str, ...]) -> Callable:
    """An aiohttp middleware: requests to anything but ``open_to_all`` need ``Authorization: Bearer <token>``."""
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path.rstrip("/") in open_to_all:
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is None:
            return unauthorized("this endpoint needs a bearer token")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return unauthorized("the bearer token is wrong")
        return await handler(request)

    return check


def protect(app: faust.App, settings: Settings) -> None:
    """Require the bearer token on the worker's endpoints, if one is configured (before the server starts)."""
    if settings.worker_web_token is None:
        return
    app.web.web_app.middlewares.append(bearer_check(settings.worker_web_token.get_secret_value(),
                                                    open_paths(settings)))
