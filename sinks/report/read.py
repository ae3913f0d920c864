"""Reading a written report back: its tables as exact values (for the truth checks and scripts).

The page is well-formed XML (``html.render``), so the standard library reads it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse(page: str) -> ET.Element:
    """The page's root element (the DOCTYPE line dropped)."""
    return ET.fromstring(page.removeprefix("<!DOCTYPE html>").lstrip())


def read_tables(page: str) -> dict[str, list[dict[str, str | None]]]:
    """Table name (``data-table``: funnel, top_paths, attribution, experiment:<id>, ...) -> rows.

    A row maps each column header to the cell's exact value as the query returned it (``data-value``:
    rates as fractions, full float precision, dates ISO) or, for text cells, the text; None for n/a.
    """
    out: dict[str, list[dict[str, str | None]]] = {}
    for table in parse(page).iter("table"):
        head = [th.text or "" for th in table.find("thead").iter("th")]
        out[table.get("data-table")] = [
            {name: _value(td) for name, td in zip(head, tr.iter("td"), strict=True)}
            for tr in table.find("tbody").iter("tr")]
    return out


def _value(td: ET.Element) -> str | None:
    if td.get("class") == "na":
        return None
    return td.get("data-value", td.text or "")
