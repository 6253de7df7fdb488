"""What text and values may be stored: no control characters, nothing MongoDB cannot hold."""

import re
from typing import Any

from domain.errors import CommonError, Problem

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INVALID_CHARACTERS = CommonError.INVALID_CHARACTERS
INVALID_VALUE = CommonError.INVALID_VALUE

# C0 controls, DEL and lone surrogates (which cannot be encoded for the database at all).
_SINGLE_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# Multiline text (template bodies, descriptions) keeps tab, line feed and carriage return.
_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def text_problem(value: str, field: str | None, multiline: bool = False) -> Problem | None:
    pattern = _MULTILINE if multiline else _SINGLE_LINE
    found = pattern.search(value)
    if found is None:
        return None
    return Problem(
        INVALID_CHARACTERS,
        f"contains the control character U+{ord(found.group()):04X}, which is not allowed",
        field,
    )


def single_line(value: str) -> str:
    """The text with every control character and lone surrogate replaced by U+FFFD, for text
    that is kept whatever it holds (device logs)."""
    return _SINGLE_LINE.sub("\ufffd", value)


def value_problems(value: Any, field: str | None) -> list[Problem]:
    """Problems in a JSON value (walked with a stack): keys are single-line text, strings may
    span lines, integers fit in 64 bits."""
    problems: list[Problem] = []
    stack: list[tuple[str | None, Any]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if (problem := text_problem(item, path, multiline=True)) is not None:
                problems.append(problem)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                problems.append(Problem(INVALID_VALUE, "integers must fit in 64 bits", path))
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = _join(path, str(key))
                if (problem := text_problem(str(key), child_path)) is not None:
                    problems.append(problem)
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((_join(path, str(index)), child) for index, child in enumerate(item))
    return problems


def document_key_problems(value: Any, field: str | None) -> list[Problem]:
    """Keys MongoDB gives a meaning to (a leading `$`, a `.` for a path) or that are empty, at
    every level of a stored sub-document."""
    problems: list[Problem] = []
    stack: list[tuple[str | None, Any]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = _join(path, str(key)) if key else path
                if not isinstance(key, str) or not key or key.startswith("$") or "." in key:
                    problems.append(
                        Problem(
                            INVALID_VALUE,
                            "keys must be non-empty and cannot start with $ or contain a dot",
                            child_path,
                        )
                    )
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((_join(path, str(index)), child) for index, child in enumerate(item))
    return problems


def _join(path: str | None, part: str) -> str:
    return f"{path}.{part}" if path else part
