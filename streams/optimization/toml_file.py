"""Reading a TOML settings file into a pydantic model, with errors that name the file, the field and the problem.

The contact policy (policy.py) and the segment definitions (segment_definitions.py)
are both such files; each says how its own validation errors read (``problem``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_model(text: str, origin: str, model: type[M], error: type[Exception], what: str,
                problem: Callable[[dict], str]) -> M:
    """``model`` from TOML ``text``; ``error("<what> <origin>: ...")`` listing every problem otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {origin}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(problem(e) for e in exc.errors())
        raise error(f"{what} {origin}: {problems}") from None


def read_text(path: Path, error: type[Exception], what: str, missing_hint: str) -> str:
    """The file's text; ``error`` saying what to do when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file ({missing_hint})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path}: cannot read it: {exc}") from None
