"""Live profile context over HTTP, served by every worker (Faust web views).

    GET /profiles/<profile id>/context/
    GET /identifiers/<kind:value>/context/    e.g. loyalty_id:L-1, user_id:u-7, email:ann@example.com

A call-center agent or a store clerk gets, in one JSON document, the
profile's last touches, its open session, open cart, last offer shown and
the journey under way (streams/journeys/context.py). A raw email or phone is
hashed here exactly as ingest hashes it; it is neither logged nor stored.

Any worker answers: the request goes to the worker that owns the key's
partition (the identity table's for an identifier, then the journey table's
for the profile) and its answer is returned as is. Faust's own table_route
partitions by the JSON-encoded key, not by the raw key our topics use, so the
owner is found here from the table's assignment (``Router.table_metadata``).
"""

from __future__ import annotations

import time

import aiohttp
import faust
from aiokafka.partitioner import murmur2
from faust.web import Request, Response, View

from streams.identity.identifiers import KINDS
from streams.identity.protocol import profile_of
from streams.journeys.context import profile_context
from streams.pii import normalize_email, normalize_phone, sha256_hex
from streams.sessions.policy import session_policy_from_settings

PROXY_TIMEOUT_S = 2.0


class NotReady(Exception):
    """No worker owns the partition right now (a rebalance is under way)."""


def identifier_key(raw: str, default_country_code: str) -> str:
    """``kind:value`` as the identity table keys it; raw emails and phones are normalized and hashed."""
    kind, sep, value = raw.partition(":")
    if not sep or not value:
        raise ValueError(f"identifier {raw!r} must be kind:value, kind one of {[*KINDS, 'email', 'phone']}")
    if kind == "email":
        return f"email_sha256:{sha256_hex(normalize_email(value))}"
    if kind == "phone":
        phone = normalize_phone(value, default_country_code)
        if phone is None:
            raise ValueError("phone number not recognised: send it with its country code, e.g. +33612345678")
        return f"phone_sha256:{sha256_hex(phone)}"
    if kind not in KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}: use one of {[*KINDS, 'email', 'phone']}")
    return f"{kind}:{value}"


def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app, settings = pipeline.app, pipeline.settings
    policy = session_policy_from_settings(settings)
    partitions = settings.input_partitions
    journeys, identity = pipeline.tables["journeys"], pipeline.tables["identity"]

    def owner(table: faust.Table, key: str) -> str | None:
        """URL of the worker owning ``key`` in ``table``; None if it is this one."""
        partition = (murmur2(key.encode()) & 0x7FFFFFFF) % partitions  # what our producers' partitioner does
        changelog = table.changelog_topic.get_topic_name()
        for host, topics in app.router.table_metadata(table.name).items():
            if partition in topics.get(changelog, ()):
                return None if host.rstrip("/") == str(app.conf.canonical_url).rstrip("/") else host
        raise NotReady(f"no worker owns partition {partition} of {changelog} yet")

    async def forward(view: View, host: str, path: str) -> Response:
        timeout = aiohttp.ClientTimeout(total=PROXY_TIMEOUT_S)
        async with app.http_client.get(host.rstrip("/") + path, timeout=timeout) as response:
            return view.text(await response.text(), content_type=response.content_type, status=response.status)

    def local_context(view: View, profile_id: str) -> Response:
        state = journeys.get(profile_id)
        if state is None:
            return view.json({"error": f"profile {profile_id} has no touches on record"}, status=404)
        return view.json(profile_context(state, int(time.time() * 1000), policy))

    async def context_of(view: View, profile_id: str) -> Response:
        host = owner(journeys, profile_id)
        if host is None:
            return local_context(view, profile_id)
        return await forward(view, host, f"/profiles/{profile_id}/context/")

    def unavailable(view: View, exc: Exception) -> Response:
        return view.json({"error": f"{exc}; retry in a few seconds"}, status=503)

    @app.page("/profiles/{profile_id}/context/")
    class ProfileContext(View):
        async def get(self, request: Request, profile_id: str) -> Response:  # noqa: ARG002
            try:
                return await context_of(self, profile_id)
            except (NotReady, aiohttp.ClientError, TimeoutError) as exc:
                return unavailable(self, exc)

    @app.page("/identifiers/{identifier}/context/")
    class IdentifierContext(View):
        async def get(self, request: Request, identifier: str) -> Response:  # noqa: ARG002
            try:
                key = identifier_key(identifier, settings.phone_default_country_code)
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            try:
                host = owner(identity, key)
                if host is not None:
                    return await forward(self, host, f"/identifiers/{key}/context/")
                state = identity.get(key)
                if state is None:
                    return self.json({"error": f"identifier {key.split(':', 1)[0]} not known"}, status=404)
                return await context_of(self, profile_of(key, state))
            except (NotReady, aiohttp.ClientError, TimeoutError) as exc:
                return unavailable(self, exc)
