"""Reading the report's SVG and HTML back with xml.etree (the page is well-formed XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sinks.report.read import read_tables

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg", root.tag
    return root


def parse_page(page: str) -> ET.Element:
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))


def ids(root: ET.Element, prefix: str) -> list[str]:
    return [e.get("id") for e in root.iter() if e.get("id") is not None and e.get("id").startswith(prefix)]


def bars(root: ET.Element, figure: str, series: str = "") -> list[ET.Element]:
    """The bar groups ``<figure>-bar-<series>...``, each holding one path."""
    found = [e for e in root.iter(f"{SVG}g") if (e.get("id") or "").startswith(f"{figure}-bar-{series}")]
    assert all(e.find(f"{SVG}path") is not None for e in found)
    return found


def points(root: ET.Element, figure: str, series: str) -> int:
    """Markers drawn by the line or point series ``<figure>-series-<series>``."""
    group = next(e for e in root.iter(f"{SVG}g") if e.get("id") == f"{figure}-series-{series}")
    return len(list(group.iter(f"{SVG}use")))


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def tables(page: ET.Element) -> dict[str, tuple[list[str], list[list[ET.Element]]]]:
    """data-table name -> (header names, rows of <td> elements)."""
    out = {}
    for table in page.iter("table"):
        head = [th.text or "" for th in table.find("thead").iter("th")]
        rows = [list(tr.iter("td")) for tr in table.find("tbody").iter("tr")]
        out[table.get("data-table")] = (head, rows)
    return out


def column(page: str, table: str, name: str) -> list[str | None]:
    """One column of a table, exact values (``sinks.report.read.read_tables``)."""
    return [row[name] for row in read_tables(page)[table]]
