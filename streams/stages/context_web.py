"""Live profile context and the contact check over HTTP, served by every worker (Faust web views).

    GET /profiles/<profile id>/context/
    GET /identifiers/<kind:value>/context/    e.g. loyalty_id:L-1, user_id:u-7, email:ann@example.com
    GET /profiles/<profile id>/can_contact/<channel>/
    GET /identifiers/<kind:value>/can_contact/<channel>/    channel: email, sms, push, retargeting, call_center
    GET /profiles/<profile id>/next_best_channel/
    GET /identifiers/<kind:value>/next_best_channel/

A call-center agent or a store clerk gets, in one JSON document, the
profile's last touches, its open session, open cart, last offer shown,
the journey under way and its real-time segments (streams/journeys/context.py).
A channel backend asks whether one more contact is within the contact policy
now, under the caps of the segments the profile is in now (streams/optimization,
docs/optimization.md): ``{"allowed", "reason", "counts", "next_allowed_at", ...}``;
a profile or identifier with no touches on record may be contacted
(``no_contacts_on_record``). ``next_best_channel`` ranks the contact channels
by the profile's recent engagement, leaving out those it may not be
contacted on now (streams/optimization/next_channel.py). A raw email or phone
is hashed here exactly as ingest hashes it; it is neither logged nor stored.

Any worker answers: the request goes to the worker that owns the key's
partition (the identity table's for an identifier, then the journey table's
for the profile) and its answer is returned as is. Faust's own table_route
partitions by the JSON-encoded key, not by the raw key our topics use, so the
owner is found here from the table's assignment (``Router.table_metadata``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import aiohttp
import faust
from faust.web import Request, Response, View

from infra import metrics
from streams.identity.identifiers import KINDS
from streams.identity.protocol import profile_of
from streams.journeys.context import _iso as iso, profile_context
from streams.optimization.decisions import http_answer, profile_decisions
from streams.optimization.next_channel import outlook_answer, profile_outlook
from streams.optimization.policy import CHANNELS
from streams.optimization.segments import profile_segments
from streams.partitioning import partition_of
from streams.pii import normalize_email, normalize_phone, sha256_hex
from streams.sessions.policy import session_policy_from_settings
from streams.stages.web_access import forward_headers

PROXY_TIMEOUT_S = 2.0
Answer = Callable[[View, "str | None", "dict | None"], Response]  # (view, profile id, its journey state)


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

    headers = forward_headers(settings)  # the bearer token, if the workers need one

    def owner(table: faust.Table, key: str) -> str | None:
        """URL of the worker owning ``key`` in ``table``; None if it is this one."""
        partition = partition_of(key.encode(), partitions)
        changelog = table.changelog_topic.get_topic_name()
        for host, topics in app.router.table_metadata(table.name).items():
            if partition in topics.get(changelog, ()):
                return None if host.rstrip("/") == str(app.conf.canonical_url).rstrip("/") else host
        raise NotReady(f"no worker owns partition {partition} of {changelog} yet")

    async def forward(view: View, host: str, path: str) -> Response:
        timeout = aiohttp.ClientTimeout(total=PROXY_TIMEOUT_S)
        async with app.http_client.get(host.rstrip("/") + path, timeout=timeout, headers=headers) as response:
            return view.text(await response.text(), content_type=response.content_type, status=response.status)

    def unavailable(view: View, exc: Exception) -> Response:
        return view.json({"error": f"{exc}; retry in a few seconds"}, status=503)

    async def on_profile(view: View, profile_id: str, suffix: str, answer: Answer) -> Response:
        """``answer(view, profile id, journey state or None)`` on the worker owning the profile."""
        host = owner(journeys, profile_id)
        if host is None:
            return answer(view, profile_id, journeys.get(profile_id))
        return await forward(view, host, f"/profiles/{profile_id}/{suffix}")

    async def on_identifier(view: View, identifier: str, suffix: str, answer: Answer,
                            unknown: Callable[[View, str], Response]) -> Response:
        """The identifier's profile, found on the identity table's owner, then answered by the profile's owner."""
        try:
            key = identifier_key(identifier, settings.phone_default_country_code)
        except ValueError as exc:
            return view.json({"error": str(exc)}, status=400)
        host = owner(identity, key)
        if host is not None:
            return await forward(view, host, f"/identifiers/{key}/{suffix}")
        state = identity.get(key)
        if state is None:
            return unknown(view, key)
        return await on_profile(view, profile_of(key, state), suffix, answer)

    async def guarded(view: View, answering: Awaitable[Response]) -> Response:
        try:
            return await answering
        except (NotReady, aiohttp.ClientError, TimeoutError) as exc:
            return unavailable(view, exc)

    # -- the profile context -------------------------------------------------------------------
    def context(view: View, profile_id: str, state: dict | None) -> Response:
        if state is None:
            return view.json({"error": f"profile {profile_id} has no touches on record"}, status=404)
        contact_policy, now_ms = pipeline.contact_policy.current(), int(time.time() * 1000)
        segments = profile_segments(state, now_ms, pipeline.segment_definitions.current(), contact_policy)
        return view.json(profile_context(state, now_ms, policy, segments, contact_policy))

    def unknown_identifier(view: View, key: str) -> Response:
        return view.json({"error": f"identifier {key.split(':', 1)[0]} not known"}, status=404)

    @app.page("/profiles/{profile_id}/context/")
    class ProfileContext(View):
        async def get(self, request: Request, profile_id: str) -> Response:  # noqa: ARG002
            return await guarded(self, on_profile(self, profile_id, "context/", context))

    @app.page("/identifiers/{identifier}/context/")
    class IdentifierContext(View):
        async def get(self, request: Request, identifier: str) -> Response:  # noqa: ARG002
            return await guarded(self, on_identifier(self, identifier, "context/", context, unknown_identifier))

    # -- can_contact (docs/optimization.md) ----------------------------------------------------------
    def can_contact(channel: str) -> Answer:
        def answer(view: View, profile_id: str | None, state: dict | None) -> Response:
            contact_policy, now_ms = pipeline.contact_policy.current(), int(time.time() * 1000)
            # The caps of the profile's segments now (evaluated only when the policy overrides any).
            segments = profile_segments(state, now_ms, pipeline.segment_definitions.current(),
                                        contact_policy) if contact_policy.segments else frozenset()
            decision = profile_decisions(state, now_ms, contact_policy, segments=segments)[channel]
            metrics.SUPPRESSION_DECISIONS.labels(channel=channel, decision=decision.kind).inc()
            return view.json(http_answer(profile_id, channel, decision, contact_policy.version, iso))
        return answer

    def bad_channel(view: View, channel: str) -> Response:
        return view.json({"error": f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}"}, status=400)

    @app.page("/profiles/{profile_id}/can_contact/{channel}/")
    class ProfileCanContact(View):
        async def get(self, request: Request, profile_id: str, channel: str) -> Response:  # noqa: ARG002
            if channel not in CHANNELS:
                return bad_channel(self, channel)
            return await guarded(self, on_profile(self, profile_id, f"can_contact/{channel}/", can_contact(channel)))

    @app.page("/identifiers/{identifier}/can_contact/{channel}/")
    class IdentifierCanContact(View):
        async def get(self, request: Request, identifier: str, channel: str) -> Response:  # noqa: ARG002
            if channel not in CHANNELS:
                return bad_channel(self, channel)
            answer = can_contact(channel)
            # An identifier never seen is a person with no contact on record: they may be contacted.
            return await guarded(self, on_identifier(self, identifier, f"can_contact/{channel}/", answer,
                                                     lambda view, _key: answer(view, None, None)))

    # -- next best channel (docs/optimization.md) -------------------------------------------------------------
    def next_best(view: View, profile_id: str | None, state: dict | None) -> Response:
        contact_policy, now_ms = pipeline.contact_policy.current(), int(time.time() * 1000)
        segments = profile_segments(state, now_ms, pipeline.segment_definitions.current(),
                                    contact_policy) if contact_policy.segments else frozenset()
        outlook = profile_outlook(state, now_ms, contact_policy, segments)
        return view.json({"profile_id": profile_id, "as_of": iso(now_ms), **outlook_answer(outlook, contact_policy)})

    @app.page("/profiles/{profile_id}/next_best_channel/")
    class ProfileNextBestChannel(View):
        async def get(self, request: Request, profile_id: str) -> Response:  # noqa: ARG002
            return await guarded(self, on_profile(self, profile_id, "next_best_channel/", next_best))

    @app.page("/identifiers/{identifier}/next_best_channel/")
    class IdentifierNextBestChannel(View):
        async def get(self, request: Request, identifier: str) -> Response:  # noqa: ARG002
            # An identifier never seen is a person with nothing on record: every channel at the prior.
            return await guarded(self, on_identifier(self, identifier, "next_best_channel/", next_best,
                                                     lambda view, _key: next_best(view, None, None)))
