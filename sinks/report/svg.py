"""matplotlib figures as deterministic, self-contained SVG fragments to inline in one HTML page.

- Backend: ``FigureCanvasSVG`` on a bare ``Figure`` (no pyplot, no
  interactive backend, no global figure list).
- Text stays text (``svg.fonttype = 'none'``): the page is searchable and
  selectable, labels can be read back from the SVG (tests do), and no glyph
  outlines bloat it. The price: the viewer draws the text with its own
  DejaVu Sans, or its sans-serif fallback, whose widths differ slightly
  from the ones matplotlib laid out with; the layouts leave room for that.
- Deterministic: fixed ``svg.hashsalt`` (clip-path and marker ids), no date
  in the metadata, fixed font and style; equal data -> equal bytes.
- Inline-safe: the XML prolog, DOCTYPE and RDF metadata (which names
  http:// vocabularies) are dropped, and every id is prefixed with the
  figure's name, since all figures share the page's id namespace.
- Data text: matplotlib reads ``$...$`` as math; ``label()`` escapes
  dollars so a channel called ``$x$`` prints as such (and a stray ``$``
  cannot fail the parse). matplotlib XML-escapes the text it writes.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "touchline-report",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.0,
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "path.simplify": False,
}

# Okabe-Ito (colour-blind safe), darkest first; yellow last as it is faint on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#555555", "#F0E442")

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_HREF_REF = re.compile(r'href="#([^"]+)"')
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def label(value: object, width: int = 48) -> str:
    """Data text for a figure: printable, literal dollars, at most ``width`` characters (the tables keep it whole)."""
    text = "".join(c if unicodedata.category(c)[0] != "C" else "\ufffd" for c in str(value))
    if len(text) > width:
        text = text[: width - 1] + "\u2026"
    return text.replace("$", r"\$")


@contextmanager
def figure(width: float, height: float, **subplots: object) -> Iterator[tuple[Figure, object]]:
    """A Figure (inches) with the report's style and its axes (``subplots`` as for ``Figure.subplots``)."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        yield fig, fig.subplots(**subplots)


def to_svg(fig: Figure, name: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element: ids prefixed with ``name``, labelled ``title`` for screen readers."""
    if not _NAME.match(name):
        raise ValueError(f"figure name {name!r}: use lowercase letters, digits and dashes")
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1), count=1)
    svg = _ID.sub(lambda m: f'id="{name}-{m[1]}"', svg)
    svg = _URL_REF.sub(lambda m: f"url(#{name}-{m[1]})", svg)
    svg = _HREF_REF.sub(lambda m: f'href="#{name}-{m[1]}"', svg)
    attributes = f'<svg role="img" aria-label="{html.escape(title, quote=True)}" '
    return svg.replace("<svg ", attributes, 1).strip() + "\n"
