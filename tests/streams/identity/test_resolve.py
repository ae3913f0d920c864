"""The stitching rules, on small hand-made cases (reference.stitch = resolve over the events' links)."""

from __future__ import annotations

from streams.identity.identifiers import profile_id_for
from streams.identity.policy import IdentityPolicy
from streams.identity.reference import stitch


def groups(resolution) -> set[frozenset[str]]:
    by_profile: dict[str, set[str]] = {}
    for identifier, profile in resolution.profiles.items():
        by_profile.setdefault(profile, set()).add(identifier)
    return {frozenset(members) for members in by_profile.values()}


def test_links_join_across_devices_and_the_user_id_is_canonical(policy, event):
    result = stitch([
        event(0, anonymous_id="phone-cookie"),
        event(5, anonymous_id="phone-cookie", email_sha256="e1"),
        event(60, anonymous_id="laptop-cookie", user_id="u1"),
        event(90, user_id="u1", email_sha256="e1"),
    ], policy)
    assert groups(result) == {frozenset({
        "anonymous_id:phone-cookie", "email_sha256:e1", "anonymous_id:laptop-cookie", "user_id:u1",
    })}
    assert set(result.profiles.values()) == {profile_id_for("user_id:u1")}
    assert result.conflicts == []


def test_family_laptop_links_neither_person_and_records_the_conflict(policy, event):
    result = stitch([
        event(0, user_id="mum", email_sha256="mum-mail"),
        event(1, user_id="son", email_sha256="son-mail"),
        event(10, anonymous_id="family-laptop", user_id="mum", event_id="mum-login"),
        event(20, anonymous_id="family-laptop", email_sha256="son-mail", event_id="son-click"),
    ], policy)
    assert groups(result) == {
        frozenset({"user_id:mum", "email_sha256:mum-mail"}),
        frozenset({"user_id:son", "email_sha256:son-mail"}),
        frozenset({"anonymous_id:family-laptop"}),
    }
    [conflict] = result.conflicts
    assert (conflict.identifier, conflict.other, conflict.event_id, conflict.reason) == (
        "anonymous_id:family-laptop", "email_sha256:son-mail", "son-click", "limit:user_id")
    assert conflict.profile == profile_id_for("user_id:mum")
    assert conflict.other_profile == profile_id_for("user_id:son")


def test_second_login_id_on_one_event_is_refused_by_the_limit(policy, event):
    result = stitch([
        event(0, user_id="a", email_sha256="shared-inbox", event_id="first"),
        event(5, user_id="b", email_sha256="shared-inbox", event_id="second"),
    ], policy)
    # The earlier link wins (event time, not arrival order); the later one is the conflict.
    assert groups(result) == {frozenset({"user_id:a", "email_sha256:shared-inbox"}), frozenset({"user_id:b"})}
    assert [(c.identifier, c.other, c.event_id) for c in result.conflicts] == [
        ("email_sha256:shared-inbox", "user_id:b", "second")]


def test_kiosk_seen_with_many_people_is_shared_and_links_nobody(event):
    policy = IdentityPolicy(shared_after=3)
    events = [event(i, device_id="kiosk-1", loyalty_id=f"card-{i}") for i in range(4)]
    result = stitch(events, policy)
    assert groups(result) == {frozenset({f"loyalty_id:card-{i}"}) for i in range(4)} | {
        frozenset({"device_id:kiosk-1"})}
    assert result.profiles["device_id:kiosk-1"] == profile_id_for("device_id:kiosk-1")


def test_three_people_on_a_kiosk_still_stay_apart_below_the_shared_threshold(policy, event):
    result = stitch([event(i, device_id="kiosk-1", loyalty_id=f"card-{i}") for i in range(3)], policy)
    assert {frozenset({f"loyalty_id:card-{i}"}) for i in range(3)} <= groups(result)
    assert {c.reason for c in result.conflicts} == {"limit:loyalty_id"}


def test_junk_values_never_link(policy, event):
    result = stitch([
        event(0, user_id="null", anonymous_id="c1"),
        event(1, user_id="null", anonymous_id="c2"),
        event(2, user_id="0000000", anonymous_id="c3"),
        event(3, anonymous_id="undefined", email_sha256=None),
    ], policy)
    assert groups(result) == {frozenset({"anonymous_id:c1"}), frozenset({"anonymous_id:c2"}),
                              frozenset({"anonymous_id:c3"})}


def test_identifier_cap_bounds_a_profile(event):
    policy = IdentityPolicy(max_identifiers_per_profile=3)
    result = stitch([event(i, user_id="u", anonymous_id=f"c{i}") for i in range(5)], policy)
    sizes = sorted(len(g) for g in groups(result))
    assert sizes == [1, 1, 1, 3]  # u + c0 + c1 (the earliest links), then c2, c3, c4 alone
    assert {c.reason for c in result.conflicts} == {"identifier_cap"}


def test_an_earlier_event_changes_the_canonical_identifier(policy, event):
    later = [event(10, email_sha256="b", phone_sha256="p"), event(20, email_sha256="a", phone_sha256="p")]
    assert set(stitch(later, policy).profiles.values()) == {profile_id_for("email_sha256:b")}
    earlier = [*later, event(0, email_sha256="a")]
    assert set(stitch(earlier, policy).profiles.values()) == {profile_id_for("email_sha256:a")}
