"""The page on hand-built data: every section, escaped data, no external resource, tables with exact numbers."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

from sinks.report.data import NO_ATTRIBUTION, NO_EXPERIMENTS, ReportData, Section
from sinks.report.html import render
from tests.sinks.report.samples import CHANNELS, END, GENERATED, HOSTILE, MODELS, START, sample
from tests.sinks.report.svgparse import SVG, column, parse_page, tables

DATA = sample()
PAGE = render(DATA)
ROOT = parse_page(PAGE)


def _sections() -> dict[str, object]:
    return {s.get("id"): s for s in ROOT.iter("section")}


def test_every_section_has_a_titled_figure_with_a_caption_and_a_table() -> None:
    sections = _sections()
    assert list(sections) == ["attribution", "funnel", "touches", "paths", "cross-device", "frequency",
                              "channels", "experiments"]
    for anchor, section in sections.items():
        assert section.find("h2").text, anchor
        figures = list(section.iter("figure"))
        expected = 2 if anchor == "experiments" else 1  # two experiments with variants, one without
        assert len(figures) == expected, anchor
        for figure in figures:
            svg = figure.find(f"{SVG}svg")
            assert svg is not None and len(list(svg.iter(f"{SVG}path"))) > 5, anchor
            caption = "".join(figure.find("figcaption").itertext())
            assert "Query:" in caption, anchor
        assert len(list(section.iter("table"))) == expected, anchor


def test_header_names_database_range_and_generation_time() -> None:
    fields = {dd.get("data-field"): "".join(dd.itertext()) for dd in ROOT.iter("dd")}
    assert fields["database"] == "touchline"
    assert "2026-01-01T00:00:00Z" in fields["range"] and "2026-01-15T00:00:00Z" in fields["range"]
    assert fields["generated"] == "2026-01-15T12:30:00Z"
    assert ROOT.find("head/title").text == "Touchline report: touchline"


def test_tables_carry_the_exact_numbers() -> None:
    assert column(PAGE, "funnel", "profiles") == ["1000", "600", "250", "90"]
    assert column(PAGE, "funnel", "share_of_first") == ["1.0", "0.6", "0.25", "0.09"]
    assert column(PAGE, "touches_to_convert", "touches")[-1] == "10+"
    assert column(PAGE, "top_paths", "revenue") == ["4500.5", "2999.99", None]  # n/a shown for NULL
    assert column(PAGE, "cross_device_share", "day")[0] == "2026-01-01"
    assert column(PAGE, "contact_frequency", "unsubscribe_rate") == ["0.004", "0.01", "0.04", "0.15"]
    assert column(PAGE, "channels", "conversion_rate") == ["0.1", "0.1", None]
    head, rows = tables(ROOT)["attribution"]
    assert head == ["channel", *MODELS]
    by_channel = {row[0].text: [float(td.get("data-value")) for td in row[1:]] for row in rows}
    for m, model in enumerate(MODELS):
        for c, channel in enumerate(CHANNELS):
            assert by_channel[channel][m] == 1 + m + 2 * c
    assert column(PAGE, "experiment:checkout_button", "p_best_conversion") == ["0.2", "0.8"]


def test_cells_show_rates_in_percent_and_money_with_two_decimals() -> None:
    _, rows = tables(ROOT)["top_paths"]
    assert [td.text for td in rows[0]] == ["display > web", "300", "45", "15.00%", "4,500.50"]
    assert rows[2][4].text == "n/a"


def test_hostile_values_are_escaped_everywhere() -> None:
    assert "<script" not in PAGE
    assert PAGE.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    # They are still shown whole, as text.
    assert HOSTILE in [td.text for td in ROOT.iter("td")]
    assert HOSTILE in [h3.text.removeprefix("Experiment ") for h3 in ROOT.iter("h3")]

    class Tags(HTMLParser):
        seen: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.seen.add(tag)

    parser = Tags()
    parser.feed(PAGE)
    assert "script" not in parser.seen


def test_quotes_in_data_cannot_break_out_of_attributes() -> None:
    page = render(sample(hostile='"><img src=x onerror=alert(1)>'))
    parse_page(page)
    assert "<img" not in page and "onerror=alert(1)>" not in page.replace("&gt;", "")


def test_no_external_resource_and_no_script() -> None:
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', PAGE, re.I)
    assert not re.search(r"<(?:script|link|iframe|img|object|embed)\b", PAGE, re.I)
    assert "@import" not in PAGE and "url(http" not in PAGE
    internal = re.findall(r'href="([^"]*)"', PAGE)
    assert internal and all(h.startswith("#") for h in internal)


def test_equal_data_renders_equal_pages() -> None:
    assert render(sample()) == PAGE


def test_missing_sections_show_a_note_instead_of_failing() -> None:
    empty = ReportData(database="touchline", start=START, end=END, generated_at=GENERATED)
    root = parse_page(render(empty))
    notes = {s.get("id"): "".join(s.find("p").itertext()) for s in root.iter("section")}
    assert notes["attribution"] == NO_ATTRIBUTION
    assert notes["experiments"] == NO_EXPERIMENTS
    assert notes["funnel"] == "no data in this time range"
    assert not list(root.iter("figure")) and not list(root.iter("table"))


def test_a_failed_section_says_why_and_the_others_still_render() -> None:
    data = replace(DATA, funnel=Section((), "could not compute: no KPI named 'funnel' in sinks/kpi/"))
    root = parse_page(render(data))
    section = _sections_of(root)["funnel"]
    assert "".join(section.find("p").itertext()).startswith("could not compute: no KPI named")
    assert len(list(root.iter("figure"))) == len(list(ROOT.iter("figure"))) - 1
    assert data.problems() == ["funnel: could not compute: no KPI named 'funnel' in sinks/kpi/"]


def _sections_of(root) -> dict:  # noqa: ANN001
    return {s.get("id"): s for s in root.iter("section")}


def test_read_tables_gives_every_table_with_exact_values() -> None:
    from sinks.report.read import read_tables

    read = read_tables(PAGE)
    assert set(read) == {"attribution", "funnel", "touches_to_convert", "top_paths", "cross_device_share",
                         "contact_frequency", "channels", "experiment:checkout_button", f"experiment:{HOSTILE}"}
    assert read["top_paths"][1] == {"path": f"email > {HOSTILE}", "journeys": "120", "conversions": "30",
                                    "conversion_rate": "0.25", "revenue": "2999.99"}
    assert read["channels"][2]["conversion_rate"] is None
