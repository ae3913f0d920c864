"""What the report shows: ``ReportData``, and ``gather()`` that reads it from ClickHouse.

Every number comes from the KPI library (``sinks.kpi.run``: one documented
SQL file per KPI, columns read by name), the experiment report
(``sinks.kpi.experiments``) and the latest attribution run
(``sinks.attribution_store``); the report computes nothing of its own.

A section that cannot be filled (no attribution run yet, no experiment in
the range, a KPI this version lacks, a query that failed) keeps a ``note``
saying why; the page shows the note instead of the figure, and the other
sections still render.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Generic, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from infra.exceptions import TouchlineError
from sinks.kpi.experiments import VariantResult as Variant  # one experiment_report row, same fields

log = logging.getLogger(__name__)

Row = TypeVar("Row")

NO_ATTRIBUTION = "no data: run `touchline attribution run` first"
NO_EXPERIMENTS = "no data: no touchpoint in this range carries an experiment assignment"
NO_ROWS = "no data in this time range"


@dataclass(frozen=True)
class Section(Generic[Row]):
    """One figure's rows; ``note`` says why there are none (or what failed)."""

    rows: tuple[Row, ...] = ()
    note: str | None = None

    @property
    def empty(self) -> bool:
        return not self.rows


@dataclass(frozen=True)
class Credit:
    """Conversions credited to a channel by an attribution model (latest run)."""

    model: str
    channel: str
    conversions: float


@dataclass(frozen=True)
class AttributionWindow:
    """The latest attribution run: the conversions it credited ended in [window_start, window_end)."""

    window_start: datetime
    window_end: datetime
    computed_at: datetime


@dataclass(frozen=True)
class FunnelStep:
    step: int
    name: str
    profiles: int
    share_of_first: float | None


@dataclass(frozen=True)
class TouchBucket:
    touches: str  # '1' .. '9', '10+'
    buyers: int
    share: float | None
    share_2_or_more: float | None


@dataclass(frozen=True)
class PathRow:
    path: str
    journeys: int
    conversions: int
    conversion_rate: float | None
    revenue: float | None


@dataclass(frozen=True)
class DayShare:
    day: date
    conversions: int
    cross_device_conversions: int
    share: float | None


@dataclass(frozen=True)
class FrequencyBand:
    frequency_band: str
    profile_weeks: int
    unsubscribes: int
    unsubscribe_rate: float | None


@dataclass(frozen=True)
class ChannelRow:
    """``conversion_rate`` and ``revenue`` KPIs by channel, joined on the channel."""

    channel: str
    profiles: int | None
    converters: int | None
    conversion_rate: float | None
    orders: int | None
    revenue: float | None
    avg_order_value: float | None


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    variants: tuple[Variant, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class ReportData:
    database: str
    start: datetime
    end: datetime
    generated_at: datetime
    attribution: Section[Credit] = field(default_factory=Section)
    attribution_window: AttributionWindow | None = None
    funnel: Section[FunnelStep] = field(default_factory=Section)
    touches_to_convert: Section[TouchBucket] = field(default_factory=Section)
    top_paths: Section[PathRow] = field(default_factory=Section)
    cross_device: Section[DayShare] = field(default_factory=Section)
    contact_frequency: Section[FrequencyBand] = field(default_factory=Section)
    channels: Section[ChannelRow] = field(default_factory=Section)
    experiments: Section[Experiment] = field(default_factory=Section)

    def problems(self) -> list[str]:
        """Sections that failed (not merely empty): '<section>: <why>'."""
        found = [f"{name}: {section.note}" for name, section in vars(self).items()
                 if isinstance(section, Section) and section.note and section.note.startswith(FAILED)]
        found += [f"experiment {e.experiment_id}: {e.note}" for e in self.experiments.rows
                  if e.note and e.note.startswith(FAILED)]
        return found


FAILED = "could not compute: "

# ---------------------------------------------------------------------------------------------- values


def _int(value: object) -> int:
    return 0 if value is None else int(value)


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(value)


def _float(value: object) -> float | None:
    """A number as float; None for NULL and NaN (0/0 in ClickHouse)."""
    if value is None:
        return None
    number = float(value) if isinstance(value, (int, float, Decimal)) else float(str(value))
    return None if math.isnan(number) else number


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):  # a path as an array of channels
        return " > ".join(_text(v) for v in value)
    return str(value)


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def records(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


# ---------------------------------------------------------------------------------------------- gather


def gather(client: Client, database: str, start: datetime, end: datetime,
           experiment_ids: Sequence[str] | None = None, generated_at: datetime | None = None) -> ReportData:
    """Every section of the report for [start, end); a section that fails keeps a note, the rest still fill."""
    from sinks import kpi

    def rows_of(name: str, **extra: object) -> list[dict[str, object]]:
        return records(*kpi.run(client, name, database, start=start, end=end, **extra))

    credits, window = _attribution(client, database)
    return ReportData(
        database=database, start=start, end=end, generated_at=generated_at or datetime.now(timezone.utc),
        attribution=credits, attribution_window=window,
        funnel=_section("funnel", lambda: [
            FunnelStep(_int(r["step"]), _text(r["name"]), _int(r["profiles"]), _float(r["share_of_first"]))
            for r in rows_of("funnel")], lambda r: r.profiles),
        touches_to_convert=_section("touches_to_convert", lambda: [
            TouchBucket(_text(r["touches"]), _int(r["buyers"]), _float(r["share"]), _float(r["share_2_or_more"]))
            for r in rows_of("touches_to_convert")], lambda r: r.buyers),
        top_paths=_section("top_paths", lambda: [
            PathRow(_text(r["path"]), _int(r["journeys"]), _int(r["conversions"]), _float(r["conversion_rate"]),
                    _float(r["revenue"]))
            for r in rows_of("top_paths")]),
        cross_device=_section("cross_device_share", lambda: [
            DayShare(_day(r["day"]), _int(r["conversions"]), _int(r["cross_device_conversions"]), _float(r["share"]))
            for r in rows_of("cross_device_share")]),
        contact_frequency=_section("contact_frequency", lambda: [
            FrequencyBand(_text(r["frequency_band"]), _int(r["profile_weeks"]), _int(r["unsubscribes"]),
                          _float(r["unsubscribe_rate"]))
            for r in rows_of("contact_frequency")], lambda r: r.profile_weeks),
        channels=_section("conversion_rate, revenue", lambda: _channels(
            rows_of("conversion_rate", by="channel"), rows_of("revenue", by="channel"))),
        experiments=_experiments(client, database, start, end, experiment_ids),
    )


def _section(what: str, read: Callable[[], list[Row]], counts: Callable[[Row], int] | None = None,
             empty_note: str = NO_ROWS) -> Section[Row]:
    """The rows ``read`` returns; none when ``counts`` is 0 on every row (a KPI listing all its buckets or
    steps, each at 0, for an empty range); a note instead when that or the query fails."""
    try:
        rows = read()
        if counts is not None and not any(counts(r) for r in rows):
            rows = []
    except FileNotFoundError as exc:
        return _failed(what, f"no KPI named {exc} in sinks/kpi/")
    except TouchlineError as exc:  # sinks.kpi's KpiError: an unknown KPI, a parameter it lacks
        return _failed(what, _first_line(exc))
    except KeyError as exc:
        return _failed(what, f"the query returned no column {exc}")
    except (ClickHouseError, ValueError, TypeError) as exc:
        return _failed(what, _first_line(exc))
    return Section(tuple(rows), None if rows else empty_note)


def _failed(what: str, why: str) -> Section:
    log.warning("report section %s: %s", what, why)
    return Section((), f"{FAILED}{why}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _channels(rates: list[dict[str, object]], revenue: list[dict[str, object]]) -> list[ChannelRow]:
    """Both by-channel KPIs joined on ``dim``, in the conversion-rate query's order, then revenue-only channels.

    The revenue KPI lists the channels with orders: a channel it lacks had 0 orders and 0 revenue."""
    by_dim = {_text(r["dim"]): r for r in revenue}
    order = [_text(r["dim"]) for r in rates]
    order += [d for d in by_dim if d not in set(order)]
    rate_by_dim = {_text(r["dim"]): r for r in rates}
    out = []
    for dim in order:
        rate, money = rate_by_dim.get(dim, {}), by_dim.get(dim, {"orders": 0, "revenue": 0})
        out.append(ChannelRow(dim, _int_or_none(rate.get("profiles")), _int_or_none(rate.get("converters")),
                              _float(rate.get("conversion_rate")), _int_or_none(money.get("orders")),
                              _float(money.get("revenue")), _float(money.get("avg_order_value"))))
    return out


def _attribution(client: Client, database: str) -> tuple[Section[Credit], AttributionWindow | None]:
    try:
        from sinks.attribution_store import latest_credits
    except ImportError:
        return Section((), NO_ATTRIBUTION), None
    try:
        credits = latest_credits(client, database, by="channel")
    except ClickHouseError as exc:
        if "UNKNOWN_TABLE" in str(exc) or "doesn't exist" in str(exc) or "does not exist" in str(exc):
            return Section((), NO_ATTRIBUTION), None  # a database not migrated for attribution yet
        return _failed("attribution", _first_line(exc)), None
    rows = tuple(Credit(model, channel, float(value))
                 for model, by_channel in credits.items() for channel, value in by_channel.items())
    return Section(rows, None if rows else NO_ATTRIBUTION), _attribution_window(client, database) if rows else None


def _attribution_window(client: Client, database: str) -> AttributionWindow | None:
    try:
        from sinks.attribution_store import latest_run
    except ImportError:
        return None
    try:
        run = latest_run(client, database)
    except ClickHouseError as exc:
        log.warning("report: latest attribution run: %s", _first_line(exc))
        return None
    if not run:
        return None
    return AttributionWindow(_utc(run["window_start"]), _utc(run["window_end"]), _utc(run["computed_at"]))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def experiment_ids_in(client: Client, database: str, start: datetime, end: datetime) -> list[str]:
    """Experiments assigned on touchpoints in [start, end), sorted."""
    result = client.query(
        f"SELECT DISTINCT arrayJoin(mapKeys(experiments)) AS experiment_id FROM {database}.touchpoints"
        " WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}"
        " ORDER BY experiment_id", parameters={"start": start, "end": end})
    return [str(r[0]) for r in result.result_rows]


def _experiments(client: Client, database: str, start: datetime, end: datetime,
                 experiment_ids: Sequence[str] | None) -> Section[Experiment]:
    from sinks.kpi.experiments import experiment_report
    if experiment_ids is None:
        try:
            experiment_ids = experiment_ids_in(client, database, start, end)
        except ClickHouseError as exc:
            return _failed("experiments", _first_line(exc))
    found = []
    for experiment_id in experiment_ids:
        section = _section(f"experiment {experiment_id}", lambda e=experiment_id: [
            Variant(*row) for row in experiment_report(client, database, e, start=start, end=end)[1]])
        found.append(Experiment(experiment_id, section.rows, section.note))
    return Section(tuple(found), None if found else NO_EXPERIMENTS)
