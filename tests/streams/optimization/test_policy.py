"""The contact policy file: defaults, what a file overrides, and errors that name the file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.optimization.exceptions import PolicyError
from streams.optimization.policy import CHANNELS, DEFAULT_POLICY, ContactPolicy, duration_ms, load_policy, parse_policy

EXAMPLE = Path(__file__).parents[3] / "infra" / "contact-policy.example.toml"


def test_defaults_are_the_issues_example() -> None:
    p = DEFAULT_POLICY
    assert [(c.window, c.max) for c in p.channel("email").caps] == [("7d", 5)]
    assert [(c.window, c.max) for c in p.channel("sms").caps] == [("7d", 2)]
    assert all(p.channel(name).caps == [] for name in ("push", "retargeting", "call_center"))
    assert p.overall.caps == [] and p.quiet_hours is None and p.segments == {}
    assert p.channel("retargeting").contact_events == []  # ad impressions count only if configured
    assert p.event_types == {"email_send", "sms_send", "push_send", "call", "unsubscribe", "consent_change",
                             "subscription"}
    assert p.channel_of("display") == "retargeting" and p.channel_of("web") is None
    assert parse_policy("").version == p.version == ContactPolicy().version


def test_a_file_overrides_only_what_it_names() -> None:
    p = parse_policy("""
[channels.sms]
caps = [{window = "24h", max = 1}, {window = "7d", max = 3}]

[channels.retargeting]
contact_events = ["ad_impression"]

[overall]
caps = [{window = "7d", max = 8}]

[quiet_hours]
start = 21
end = 8
timezone = "Europe/Paris"
channels = ["sms", "push"]

[segments.vip.channels]
email = [{window = "7d", max = 10}]
""")
    assert [(c.window, c.max) for c in p.channel("email").caps] == [("7d", 5)]  # kept
    assert p.channel("sms").contact_events[0].event_type == "sms_send"  # kept beside the new caps
    assert [(c.window, c.max) for c in p.channel("sms").caps] == [("24h", 1), ("7d", 3)]
    assert "ad_impression" in p.event_types
    assert [c.window for c in p.windows()] == ["24h", "7d"]
    assert p.quiet_hours.timezone == "Europe/Paris" and p.quiet_hours.channels == ["sms", "push"]
    assert p.segments["vip"].channels["email"][0].max == 10
    assert p.version != DEFAULT_POLICY.version


def test_the_shipped_example_is_valid() -> None:
    p = load_policy(EXAMPLE)
    assert p.quiet_hours is not None and p.segments  # it shows every section
    assert p.offers == DEFAULT_POLICY.offers and p.next_channel == DEFAULT_POLICY.next_channel  # the defaults


def test_an_empty_cap_list_removes_a_default_cap() -> None:
    assert parse_policy("[channels.email]\ncaps = []").channel("email").caps == []


@pytest.mark.parametrize("text, message", [
    ('[channels.email]\ncaps = [{window = "7x", max = 5}]',
     r"f\.toml: channels\.email\.caps\[0\]\.window: '7x' is not a duration: .* 24h or 7d"),
    ('[channels.email]\ncaps = [{window = "7d", max = -1}]',
     r"channels\.email\.caps\[0\]\.max: Input should be greater than or equal to 0"),
    ('[channels.email]\ncaps = [{window = "13w", max = 5}]', r"longer than 90 days"),
    ("[channels.fax]\ncaps = []", r"channels\.fax: not a channel: use one of email, sms, push, retargeting"),
    ("[channels.email]\ncap = []", r"channels\.email\.cap: not a setting of the contact policy"),
    ('[quiet_hours]\nstart = 21\nend = 8\ntimezone = "Mars/Olympus"', r"quiet_hours\.timezone: 'Mars/Olympus' is not "
                                                                     r"an IANA time zone"),
    ("[quiet_hours]\nstart = 7\nend = 7", r"quiet_hours: start and end are both 7"),
    ("[quiet_hours]\nstart = 24\nend = 7", r"quiet_hours\.start: Input should be less than or equal to 23"),
    ('[quiet_hours]\nstart = 1\nend = 7\nchannels = ["fax"]', r"quiet_hours\.channels\[0\]: 'fax' is not a channel"),
    ('[channels.push]\ntouch_channels = ["sms"]', r"channels: touchpoint channel 'sms' is in both sms\.touch_channels "
                                                  r"and push\.touch_channels"),
    ('[channels.push]\ntouch_channels = ["pager"]', r"channels\.push\.touch_channels: unknown touchpoint channel"),
    ('[channels.email]\ncontact_events = ["Email Send"]', r"contact_events\[0\]\.event_type: 'Email Send' is not an "
                                                          r"event type"),
    ('[suppression]\nunsubscribe_events = ["Opt Out"]', r"suppression\.unsubscribe_events: \['Opt Out'\]"),
    ('[segments."VIP Club"]', r"segments: segment names \['VIP Club'\]"),
    ("email = 5", r"email: not a setting"),
    ("[channels.email\ncaps = []", r"f\.toml: not valid TOML: .*line 1"),
])
def test_errors_name_the_file_the_field_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as caught:
        parse_policy(text, "f.toml")
    assert str(caught.value).startswith("contact policy f.toml: ")


def test_every_problem_is_in_one_message() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy('[channels.email]\ncaps = [{window = "7x", max = -1}]', "f.toml")
    assert str(caught.value).count(";") == 1 and "\n" not in str(caught.value)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"no-such\.toml: no such file \(set TOUCHLINE_CONTACT_POLICY_FILE"):
        load_policy(tmp_path / "no-such.toml")


def test_durations() -> None:
    assert duration_ms("30m") == 30 * 60_000 and duration_ms("24h") == duration_ms("1d") == 86_400_000
    assert duration_ms("2w") == duration_ms("14d")
    for bad in ("7", "0d", "7 d", "1y", "-1d", "d"):
        with pytest.raises(ValueError):
            duration_ms(bad)


def test_channels_are_the_five_of_the_issue() -> None:
    assert CHANNELS == ("email", "sms", "push", "retargeting", "call_center")
