"""``render(ReportData) -> str``: the report as one self-contained HTML page.

Inline CSS, inline SVG figures, no script, no external resource: the file
opens offline. Every text from the data (channel names, paths, variants,
experiment ids come from events) goes through ``html.escape``. The page is
also well-formed XML, so a test (or a script) can read it with any XML
parser.

Under each figure a table holds its numbers. A cell shows the value for
people (rates in percent, money with 2 decimals) and keeps the exact value
the query returned in ``data-value`` (rates as fractions), for scripts and
the truth test.
"""

from __future__ import annotations

import html
import math
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sinks.report import figures
from sinks.report.data import (
    NO_ATTRIBUTION, NO_EXPERIMENTS, NO_ROWS, Experiment, ReportData, Section,
)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | int | pct | num | date
    get: Callable[[object], object]


def _cell(value: object, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td class="na">n/a</td>'
    if kind == "text":
        return f"<td>{esc(value)}</td>"
    if kind == "date":
        shown = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
        return f'<td data-value="{esc(shown)}">{esc(shown)}</td>'
    if kind == "int":
        return f'<td class="n" data-value="{int(value)}">{int(value):,}</td>'
    number = float(value)
    shown = f"{100 * number:.2f}%" if kind == "pct" else f"{number:,.2f}"
    return f'<td class="n" data-value="{esc(repr(number))}">{esc(shown)}</td>'


def table(name: str, caption: str, columns: Sequence[Column], rows: Sequence[object]) -> str:
    head = "".join(f'<th scope="col">{esc(c.name)}</th>' for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(c.get(r), c.kind) for c in columns) + "</tr>" for r in rows)
    return (f'<table data-table="{esc(name)}">\n<caption>{esc(caption)}</caption>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>")


def _columns(*spec: tuple[str, str]) -> list[Column]:
    """Columns read from the row attribute of the same name."""
    return [Column(name, kind, lambda r, n=name: getattr(r, n)) for name, kind in spec]


# ------------------------------------------------------------------------------------------- sections


def _kpi_query(names: str, data: ReportData, by: str | None = None) -> str:
    flags = f" --from {_iso(data.start)} --to {_iso(data.end)}" + (f" --by {by}" if by else "")
    return "; ".join(f"touchline kpi {n}{flags} (sinks/kpi/{n}.sql)" for n in names.split())


def _figure(svg: str, what: str, query: str) -> str:
    return (f"<figure>\n{svg}<figcaption>{esc(what)}<br/>Query: <code>{esc(query)}</code></figcaption>\n"
            "</figure>")


def _note(section: Section, default: str = NO_ROWS) -> str:
    return f'<p class="note">{esc(section.note or default)}</p>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{esc(title)}</h2>\n{body}\n</section>'


def _attribution(data: ReportData) -> str:
    section = data.attribution
    if section.empty:
        return _note(section, NO_ATTRIBUTION)
    window = data.attribution_window
    ran = (f"latest attribution run ({_iso(window.computed_at)}): conversions that ended in "
           f"[{_iso(window.window_start)}, {_iso(window.window_end)})" if window else "latest attribution run")
    models, channels, values = figures.pivot_credits(section.rows)
    what = (f"Conversions credited to each channel by each attribution model, side by side; {ran}. "
            "Models differ in which touches of a path earn the credit (docs/attribution.md).")
    columns = [Column("channel", "text", lambda c: c)] + [
        Column(m, "num", lambda c, m=m: values.get((m, c), 0.0)) for m in models]
    return (_figure(figures.attribution(section.rows), what,
                    "touchline attribution run; SELECT model, key, conversions FROM attribution_latest "
                    "WHERE credited_by = 'channel' (sinks/attribution_store.py)")
            + "\n" + table("attribution", "Credited conversions by channel (rows) and model (columns)",
                           columns, channels))


def _funnel(data: ReportData) -> str:
    section = data.funnel
    if section.empty:
        return _note(section)
    what = "Profiles that reached each step of the funnel, and their share of the first step."
    return (_figure(figures.funnel(section.rows), what, _kpi_query("funnel", data)) + "\n"
            + table("funnel", "Funnel steps", _columns(("step", "int"), ("name", "text"), ("profiles", "int"),
                                                       ("share_of_first", "pct")), section.rows))


def _touches(data: ReportData) -> str:
    section = data.touches_to_convert
    if section.empty:
        return _note(section)
    rows = sorted(section.rows, key=lambda r: figures.bucket_order(r.touches))
    what = ("Buyers by how many touchpoints they had before purchasing (bars), with each bucket's share of "
            "buyers; the note gives the share with 2 or more touches.")
    return (_figure(figures.touches_to_convert(rows), what, _kpi_query("touches_to_convert", data)) + "\n"
            + table("touches_to_convert", "Buyers per touches-to-convert bucket",
                    _columns(("touches", "text"), ("buyers", "int"), ("share", "pct"), ("share_2_or_more", "pct")),
                    rows))


def _paths(data: ReportData) -> str:
    section = data.top_paths
    if section.empty:
        return _note(section)
    shown = min(len(section.rows), figures.TOP_PATHS_SHOWN)
    what = (f"Conversions of the {shown} top journey paths (channels in order), in the query's order; the "
            "label gives conversions of journeys and the conversion rate. The table lists every path returned.")
    return (_figure(figures.top_paths(section.rows), what, _kpi_query("top_paths", data)) + "\n"
            + table("top_paths", "Top journey paths",
                    _columns(("path", "text"), ("journeys", "int"), ("conversions", "int"),
                             ("conversion_rate", "pct"), ("revenue", "num")), section.rows))


def _cross_device(data: ReportData) -> str:
    section = data.cross_device
    if section.empty:
        return _note(section)
    rows = sorted(section.rows, key=lambda r: r.day)
    what = "Per day, the share of conversions whose journey used more than one device."
    return (_figure(figures.cross_device_share(rows), what, _kpi_query("cross_device_share", data)) + "\n"
            + table("cross_device_share", "Conversions and cross-device conversions per day",
                    _columns(("day", "date"), ("conversions", "int"), ("cross_device_conversions", "int"),
                             ("share", "pct")), rows))


def _frequency(data: ReportData) -> str:
    section = data.contact_frequency
    if section.empty:
        return _note(section)
    what = ("Unsubscribe rate per band of contacts (sends) a profile received in a week; pw = profile-weeks "
            "in the band. Too many contacts drive unsubscribes.")
    return (_figure(figures.contact_frequency(section.rows), what, _kpi_query("contact_frequency", data)) + "\n"
            + table("contact_frequency", "Unsubscribes per contact frequency band",
                    _columns(("frequency_band", "text"), ("profile_weeks", "int"), ("unsubscribes", "int"),
                             ("unsubscribe_rate", "pct")), section.rows))


def _channels(data: ReportData) -> str:
    section = data.channels
    if section.empty:
        return _note(section)
    what = "Conversion rate (converting profiles / profiles who touched the channel) and revenue, per channel."
    return (_figure(figures.channels(section.rows), what, _kpi_query("conversion_rate revenue", data, "channel"))
            + "\n" + table("channels", "Conversion rate and revenue by channel",
                           _columns(("channel", "text"), ("profiles", "int"), ("converters", "int"),
                                    ("conversion_rate", "pct"), ("orders", "int"), ("revenue", "num"),
                                    ("avg_order_value", "num")), section.rows))


def _experiment(exp: Experiment, index: int, data: ReportData) -> str:
    title = f"<h3>Experiment {esc(exp.experiment_id)}</h3>"
    if not exp.variants:
        return f'{title}\n<p class="note">{esc(exp.note or NO_ROWS)}</p>'
    what = ("Left: each variant's conversion rate with its confidence interval (error bars). Right: the "
            "probability that the variant is best, by conversion rate and by revenue per profile.")
    query = (f"touchline kpi experiment --id {shlex.quote(exp.experiment_id)} --from {_iso(data.start)} --to {_iso(data.end)} "
             "(sinks/kpi/experiments.py)")
    return (f"{title}\n" + _figure(figures.experiment(exp, index), what, query) + "\n"
            + table(f"experiment:{exp.experiment_id}", f"Variants of experiment {exp.experiment_id}",
                    _columns(("variant", "text"), ("profiles", "int"), ("converters", "int"),
                             ("conversion_rate", "pct"), ("cr_low", "pct"), ("cr_high", "pct"),
                             ("revenue_per_profile", "num"), ("rpp_low", "num"), ("rpp_high", "num"),
                             ("p_best_conversion", "pct"), ("p_best_revenue", "pct")), exp.variants))


def _experiments(data: ReportData) -> str:
    section = data.experiments
    if section.empty:
        return _note(section, NO_EXPERIMENTS)
    return "\n".join(_experiment(e, i, data) for i, e in enumerate(section.rows))


SECTIONS: tuple[tuple[str, str, Callable[[ReportData], str]], ...] = (
    ("attribution", "Attribution credit by channel", _attribution),
    ("funnel", "Conversion funnel", _funnel),
    ("touches", "Touches to convert", _touches),
    ("paths", "Top journey paths", _paths),
    ("cross-device", "Cross-device conversion share", _cross_device),
    ("frequency", "Contact frequency and unsubscribes", _frequency),
    ("channels", "Channels: conversion rate and revenue", _channels),
    ("experiments", "Experiments", _experiments),
)

CSS = """
body { font-family: 'DejaVu Sans', 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; margin: 0 auto;
       max-width: 1100px; padding: 1em 1.5em 3em; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
header dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; margin: 0.5em 0 1em; }
header dt { font-weight: bold; }
header dd { margin: 0; }
nav ul { padding-left: 1.2em; columns: 2; }
section { border-top: 1px solid #ccc; margin-top: 2em; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #444; margin-top: 0.4em; }
code { font-size: 0.9em; background: #f4f4f4; padding: 0 0.2em; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.na { color: #888; }
tbody tr:nth-child(even) { background: #fafafa; }
p.note { background: #fff8e1; border-left: 4px solid #e69f00; padding: 0.5em 0.8em; }
""".strip()


def render(data: ReportData) -> str:
    """The whole page; equal data gives equal text."""
    nav = "\n".join(f'<li><a href="#{anchor}">{esc(title)}</a></li>' for anchor, title, _ in SECTIONS)
    body = "\n".join(_section(anchor, title, build(data)) for anchor, title, build in SECTIONS)
    title = f"Touchline report: {data.database}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{esc(title)}</title>
<style>
{CSS}
</style>
</head>
<body>
<header>
<h1>Touchline report</h1>
<dl>
<dt>Database</dt><dd data-field="database">{esc(data.database)}</dd>
<dt>Time range (UTC)</dt><dd data-field="range">from <time>{esc(_iso(data.start))}</time> to \
<time>{esc(_iso(data.end))}</time> (end excluded)</dd>
<dt>Generated</dt><dd data-field="generated"><time>{esc(_iso(data.generated_at))}</time></dd>
</dl>
<nav aria-label="Sections"><ul>
{nav}
</ul></nav>
</header>
<main>
{body}
</main>
</body>
</html>
"""
