"""`touchline identity show|forget|score`: look up, erase and grade stitched profiles."""

from __future__ import annotations

import json
import uuid

import click

from infra.cli.context import pass_settings
from infra.cli.traffic import render


def _parse(settings, text: str) -> str:  # noqa: ANN001
    from streams.identity.identifiers import parse_identifier

    try:
        return parse_identifier(text, settings.phone_default_country_code)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="IDENTIFIER") from None


@click.group()
def identity() -> None:
    """Stitched profiles: show one, erase one (GDPR), score them against simulator truth."""


@identity.command()
@click.argument("identifier")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_settings
def show(lazy, identifier: str, fmt: str) -> None:  # noqa: ANN001
    """Print IDENTIFIER's profile: its identifiers (first/last seen), conflicts and merge history.

    IDENTIFIER is kind:value, e.g. user_id:u-123, anonymous_id:abc, email:ann@example.com
    (raw email/phone are normalized and hashed here, as at ingest). Exits 1 for an identifier
    never seen, and for a junk value (e.g. anonymous_id:undefined), saying why it is ignored.
    """
    from sinks.clickhouse import connect
    from sinks.identity_store import show as show_profile
    from streams.identity.policy import policy_from_settings

    settings = lazy.get()
    parsed = _parse(settings, identifier)
    junk = policy_from_settings(settings).junk_reason(parsed)
    if junk is not None:  # identity never stitches it: its touchpoints stay on the event's other identifiers
        raise click.ClickException(f"{parsed} is ignored as junk: {junk}. It links nothing and has no profile; "
                                   "look the person up by another identifier")
    view = show_profile(connect(settings), settings.clickhouse_database, parsed)
    seen = sum(row[3] for row in view.identifiers)
    if view.profile_id is None and not seen and not view.history:
        raise click.ClickException(f"{view.identifier}: never seen (no touchpoint carries it, or it was erased): "
                                   "check the kind and the value (kind:value, e.g. user_id:u-123)")
    if fmt == "json":
        click.echo(json.dumps({
            "identifier": view.identifier, "profile_id": view.profile_id, "shared": view.shared,
            "identifiers": [dict(zip(("identifier", "first_seen", "last_seen", "touchpoints"), r))
                            for r in view.identifiers],
            "conflicts": [dict(zip(("identifier", "other_identifier", "reason", "event_id", "event_time",
                                    "profile_id", "other_profile_id"), r)) for r in view.conflicts],
            "history": [dict(zip(("changed_at", "kind", "identifier", "profile_id", "previous_profile_id",
                                  "reason"), r)) for r in view.history],
        }, default=str, indent=2))
        return
    if view.profile_id is None:
        click.echo(f"{view.identifier}: no profile yet: on {seen} touchpoint(s), still being stitched")
    else:
        shared = " (shared: links nothing)" if view.shared else ""
        click.echo(f"{view.identifier}{shared}\nprofile {view.profile_id}: {len(view.identifiers)} identifiers\n")
    click.echo(render(["identifier", "first_seen", "last_seen", "touchpoints"], view.identifiers))
    click.echo(f"\nconflicts ({len(view.conflicts)})")
    if view.conflicts:
        click.echo(render(["identifier", "other_identifier", "reason", "event_id", "event_time", "profile",
                           "other_profile"], view.conflicts))
    click.echo(f"\nhistory ({len(view.history)})")
    if view.history:
        click.echo(render(["changed_at", "kind", "identifier", "profile", "previous", "reason"], view.history))


@identity.command()
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_settings
def forget(lazy, target: str, yes: bool) -> None:  # noqa: ANN001
    """Erase a person (GDPR): TARGET is an identifier (kind:value) or a profile id (p-...).

    Every identifier of the profile is removed from the workers' state (tombstones
    on the changelog), its touchpoints and identity rows are deleted from
    ClickHouse, and the erasure is recorded in identity_erasures (no identifier).
    """
    from confluent_kafka import Producer

    from sinks.clickhouse import connect
    from sinks.identity_store import current_profile, erase, profile_identifiers
    from streams.identity.identifiers import profile_id_for
    from streams.identity.protocol import forget_message
    from streams.kafka_config import KEYED_PARTITIONER, producer_config
    from streams.stages.identity import encode_command
    from streams.topics import TopicNames

    settings = lazy.get()
    db = settings.clickhouse_database
    client = connect(settings)
    if target.startswith("p-"):
        profile, identifiers = target, profile_identifiers(client, db, target)
    else:
        identifier = _parse(settings, target)
        profile = current_profile(client, db, identifier) or profile_id_for(identifier)
        identifiers = profile_identifiers(client, db, profile) or [identifier]
    if not identifiers:
        raise click.ClickException(f"profile {profile} has no identifiers in ClickHouse: nothing to erase")
    if not yes:
        click.confirm(f"erase profile {profile} and its {len(identifiers)} identifiers?", abort=True)
    request_id = str(uuid.uuid4())
    producer = Producer(producer_config(settings, **KEYED_PARTITIONER))
    topic = TopicNames.from_settings(settings).identity_commands
    for identifier in identifiers:
        msg = forget_message(identifier, request_id)
        producer.produce(topic, key=identifier.encode(), value=encode_command(msg))
    if producer.flush(settings.kafka_timeout_s * 3):
        raise click.ClickException(f"could not deliver the erase commands to {topic}: nothing was deleted; retry")
    deleted = erase(client, db, identifiers, profile, request_id, settings.clickhouse_cluster)
    click.echo(f"erased profile {profile}: {len(identifiers)} identifiers, {deleted} touchpoints "
               f"(request {request_id})")


@identity.command()
@click.option("--truth", type=click.Path(exists=True, dir_okay=False), required=True,
              help="Ground truth JSONL written by `touchline simulate --truth`.")
@pass_settings
def score(lazy, truth: str) -> None:  # noqa: ANN001
    """Pairwise precision and recall of the stitched profiles against simulator truth."""
    from sinks.clickhouse import connect
    from sinks.identity_store import all_assignments
    from streams.identity.scoring import read_truth_people, score_profiles

    settings = lazy.get()
    result = score_profiles(read_truth_people(truth), all_assignments(connect(settings), settings.clickhouse_database))
    click.echo(result.summary())


COMMANDS = [identity]
