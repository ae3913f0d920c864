"""The docs do not call built things unbuilt: no "not built yet" and the like in README.md or docs/.

A plan belongs in an issue; a doc that says a shipped feature does not exist
sends the reader away from it (issue 20: docs/design/sessions.md said
journeys and the profile endpoint were "not built yet" long after both landed).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STALE = re.compile(r"not (?:yet )?built(?: yet)?|designed here and not|not yet in `docs/benchmarks\.md`",
                   re.IGNORECASE)


def test_no_doc_calls_a_feature_unbuilt() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    assert len(pages) > 10
    found = [f"{page.relative_to(ROOT)}:{n}: {line.strip()}" for page in pages
             for n, line in enumerate(page.read_text().splitlines(), start=1) if STALE.search(line)]
    assert not found, "stale statements:\n" + "\n".join(found)
