"""The junk rule says why: each way a value is ignored has its reason, and real ids have none."""

from __future__ import annotations

import pytest

from streams.identity.identifiers import qualify
from streams.identity.policy import IdentityPolicy, blocklist_entries
from streams.pii import normalize_email, sha256_hex


@pytest.mark.parametrize(("identifier", "words"), [
    ("anonymous_id:undefined", "'undefined' is what producers send"),
    ("user_id: NULL ", "'null' is what producers send"),
    ("device_id:0000000", "one character repeated"),
    (qualify("email_sha256", sha256_hex(normalize_email("test@example.com"))), "well-known test address"),
    ("user_id:u-kiosk", "TOUCHLINE_IDENTITY_BLOCKLIST"),
])
def test_every_junk_value_has_its_reason(identifier: str, words: str) -> None:
    policy = IdentityPolicy(extra_blocklist=blocklist_entries(["user_id:u-kiosk"]))
    assert policy.is_junk(identifier)
    assert words in policy.junk_reason(identifier)


@pytest.mark.parametrize("identifier", ["anonymous_id:anon-1f3a", "device_id:000", "user_id:null-island"])
def test_real_ids_have_no_reason(identifier: str) -> None:
    # "000" is too short to be a placeholder run (5+), "null-island" is not the value "null"
    assert not IdentityPolicy().is_junk(identifier) and IdentityPolicy().junk_reason(identifier) is None
