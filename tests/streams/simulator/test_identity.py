"""Identity hazards (family devices, kiosks, junk) and the identity truth, checked on the events themselves."""

from __future__ import annotations

from collections import defaultdict

from streams.identity.scoring import score_profiles
from streams.pii import normalize_email, normalize_phone, sha256_hex
from streams.simulator import SimulationConfig
from streams.simulator.junk import JUNK_EMAILS, JUNK_ID_FIELDS, JUNK_ID_VALUES
from streams.simulator.truth import IDENTIFIER_KINDS
from tests.streams.simulator.fixtures import END, RecordsRun, records_run


def identifiers_of(record: dict) -> list[str]:
    """Qualified identifiers as ingest leaves them: raw email/phone hashed unless the hash is already set."""
    out = [f"{kind}:{record[kind]}" for kind in IDENTIFIER_KINDS if record.get(kind)]
    if record.get("email") and not record.get("email_sha256"):
        out.append(f"email_sha256:{sha256_hex(normalize_email(record['email']))}")
    if record.get("phone") and not record.get("phone_sha256"):
        out.append(f"phone_sha256:{sha256_hex(normalize_phone(record['phone'], '1'))}")
    return out


def records_by_person(run: RecordsRun) -> dict[str, list[dict]]:
    owner = {e: pid for pid, journey in run.truth.journeys() for e in journey["event_ids"]}
    out: dict[str, list[dict]] = defaultdict(list)
    for record in run.records:
        out[owner[record["event_id"]]].append(record)
    return out


def components(events: list[list[str]]) -> list[list[str]]:
    """Connected components of identifiers joined by co-occurrence, by plain search (independent of linkage.py)."""
    neighbours: dict[str, set[str]] = defaultdict(set)
    for ids in events:
        for identifier in ids:
            neighbours[identifier].update(ids)
    seen: set[str] = set()
    groups = []
    for start in neighbours:
        if start in seen:
            continue
        group, todo = [], [start]
        seen.add(start)
        while todo:
            node = todo.pop()
            group.append(node)
            todo.extend(n for n in neighbours[node] if n not in seen)
            seen.update(neighbours[node])
        groups.append(sorted(group))
    return sorted(groups)


def test_family_devices_kiosks_and_junk_appear(identity_run: RecordsRun) -> None:
    truth, records = identity_run.truth, identity_run.records
    family = [s for s in truth.shared.values() if s["kind"] == "family"]
    kiosks = [s for s in truth.shared.values() if s["kind"] == "kiosk"]
    assert 10 <= len(family) <= 60 and all(len(s["people"]) == 2 for s in family)  # ~3% of 2,000, in pairs
    assert len(kiosks) == identity_run.config.kiosks == 5
    assert all(len(s["people"]) > 10 for s in kiosks), [len(s["people"]) for s in kiosks]
    kiosk_events = [r for r in records if r["event_type"] == "kiosk_lookup"]
    assert kiosk_events and all(r["device_type"] == "kiosk" and (r.get("loyalty_id") or r.get("email_sha256"))
                                for r in kiosk_events)
    junk_fields = defaultdict(int)
    for record in records:
        for name in JUNK_ID_FIELDS:
            if record.get(name) in JUNK_ID_VALUES:
                junk_fields[name] += 1
        if record.get("email") in JUNK_EMAILS:
            junk_fields["email"] += 1
    assert set(junk_fields) == {*JUNK_ID_FIELDS, "email"}
    assert 0.003 * len(records) < sum(junk_fields.values()) < 0.02 * len(records)  # junk_share 1%
    assert "" not in JUNK_ID_VALUES  # the schema rejects empty ids: they would never reach stitching


def test_each_person_is_themselves_on_the_shared_device(identity_run: RecordsRun) -> None:
    """Every event on a family cookie carries the user_id of the person whose event it is."""
    truth = identity_run.truth
    cookies = {s["identifier"].split(":", 1)[1] for s in truth.shared.values() if s["kind"] == "family"}
    on_shared = 0
    for person_id, records in records_by_person(identity_run).items():
        user = truth.persons[person_id]["identifiers"].get("user_id")
        for record in records:
            if record.get("anonymous_id") in cookies:
                on_shared += 1
                assert user and record.get("user_id") in user, (person_id, record["event_type"])
    assert on_shared > 100


def test_email_meets_own_user_id_before_it_reaches_the_shared_cookie(identity_run: RecordsRun) -> None:
    truth = identity_run.truth
    family = {s["identifier"].split(":", 1)[1]: s["people"] for s in truth.shared.values() if s["kind"] == "family"}
    members = {person_id: cookie for cookie, people in family.items() for person_id in people}
    by_person = records_by_person(identity_run)
    emails_on_cookie = 0
    for person_id, cookie in members.items():
        person = truth.persons[person_id]
        (user,), (email,) = person["identifiers"]["user_id"], person["identifiers"]["email_sha256"]
        tied = [r["event_time"] for r in by_person[person_id]
                if r.get("user_id") == user and f"email_sha256:{email}" in identifiers_of(r)]
        on_cookie = [r["event_time"] for r in by_person[person_id]
                     if r.get("anonymous_id") == cookie and f"email_sha256:{email}" in identifiers_of(r)]
        assert tied, person_id
        if on_cookie:
            emails_on_cookie += 1
            assert min(tied) < min(on_cookie), person_id
    assert emails_on_cookie >= 5  # the property is exercised, not vacuous


def test_linkable_groups_are_the_components_of_each_persons_events(identity_run: RecordsRun) -> None:
    truth = identity_run.truth
    excluded = set(truth.shared) | set(truth.junk)
    for person_id, records in records_by_person(identity_run).items():
        person = truth.persons[person_id]
        events = [[i for i in identifiers_of(r) if i not in excluded] for r in records]
        assert person["linkable_groups"] == components([ids for ids in events if ids]), person_id
        grouped = [i for group in person["linkable_groups"] for i in group]
        listed = [f"{kind}:{value}" for kind, values in person["identifiers"].items() for value in values]
        assert sorted(grouped) == sorted(listed) and not excluded & set(grouped)
        used = {i for r in records for i in identifiers_of(r)}
        assert set(person["shared_identifiers"]) == used & set(truth.shared)
    assert sum(len(p["linkable_groups"]) > 1 for p in truth.persons.values()) > 100  # not all one group


def test_linking_on_every_identifier_merges_strangers(identity_run: RecordsRun) -> None:
    """A stitcher that trusts junk and shared identifiers glues thousands of people together; the truth's
    groups are a perfect answer."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for record in identity_run.records:
        ids = identifiers_of(record)
        for other in ids[1:]:
            parent[root(other)] = root(ids[0])
    people = list(identity_run.truth.persons.values())
    naive = score_profiles(people, {identifier: root(identifier) for identifier in parent})
    assert naive.precision < 0.05 and naive.recall == 1.0 and naive.false_merges
    perfect = {i: f"{p['person_id']}/{n}" for p in people for n, g in enumerate(p["linkable_groups"]) for i in g}
    assert (score_profiles(people, perfect).precision, score_profiles(people, perfect).recall) == (1.0, 1.0)


def test_shards_split_the_identity_truth_exactly() -> None:
    config = {"seed": 6, "people": 300, "family_share": 0.2, "malformed_share": 0, "end": END}
    whole = records_run(SimulationConfig(**config))
    parts = [records_run(SimulationConfig(**config, shard=i, shards=3)) for i in range(3)]
    assert sorted(r["event_id"] for p in parts for r in p.records) == sorted(r["event_id"] for r in whole.records)
    assert {pid: person for p in parts for pid, person in p.truth.persons.items()} == whole.truth.persons
    users: dict[str, set[str]] = defaultdict(set)
    for part in parts:
        for identifier, shared in part.truth.shared.items():
            users[identifier].update(shared["people"])
    assert users == {i: set(s["people"]) for i, s in whole.truth.shared.items()}
    assert set().union(*(p.truth.junk for p in parts)) == set(whole.truth.junk)
    # Pairs (2k, 2k+1) straddle shards: a household's two people come from two processes, same cookie.
    assert any(len(s["people"]) == 2 for s in whole.truth.shared.values() if s["kind"] == "family")


def test_hazards_can_be_turned_off() -> None:
    run = records_run(SimulationConfig(seed=2, people=300, family_share=0, kiosks=0, junk_share=0, end=END))
    assert run.truth.shared == {} and run.truth.junk == []
    assert not any(p["shared_identifiers"] for p in run.truth.persons.values())
    assert all(r["event_type"] not in ("identify", "kiosk_lookup") for r in run.records)
