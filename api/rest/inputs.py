"""Checks on what a REST request carries, before any handler runs: the same rules as GraphQL's
arguments (no control characters, integers in 64 bits), and pydantic's refusals as typed
problems naming the camelCase field."""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from domain.errors import CommonError, Problem
from domain.storable import INT64_MAX, INT64_MIN, text_problem, value_problems

# Fields whose text may span lines (a rollback's reason).
MULTILINE_FIELDS = frozenset({"reason"})
# Free-form values, checked as stored JSON (keys single-line, values may span lines).
JSON_FIELDS = frozenset({"attributes"})


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def body_problems(body: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    stack: list[tuple[str, str, Any]] = [(_join("", str(k)), str(k), v) for k, v in body.items()]
    while stack:
        path, name, value = stack.pop()
        if name in JSON_FIELDS:
            problems.extend(value_problems(value, path))
        elif isinstance(value, str):
            if (problem := text_problem(value, path, name in MULTILINE_FIELDS)) is not None:
                problems.append(problem)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                problems.append(
                    Problem(CommonError.INVALID_VALUE, "integers must fit in 64 bits", path)
                )
        elif isinstance(value, dict):
            for key, child in value.items():
                child_path = _join(path, str(key))
                if (problem := text_problem(str(key), child_path)) is not None:
                    problems.append(problem)
                stack.append((child_path, str(key), child))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", name, item) for index, item in enumerate(value))
    return sorted(problems, key=lambda p: p.field or "")


def text_problems(values: Mapping[str, str | None]) -> list[Problem]:
    """Path parameters and headers: single-line text."""
    return [
        problem
        for name, value in values.items()
        if value is not None and (problem := text_problem(value, name)) is not None
    ]


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def validation_problems(error: ValidationError) -> list[Problem]:
    """pydantic's errors by field: REQUIRED for a missing one, INVALID for the rest."""
    problems = []
    for item in error.errors(include_url=False):
        field = _field_path(tuple(item["loc"])) or None
        if item["type"] == "missing":
            problems.append(Problem(CommonError.REQUIRED, "this field is required", field))
        elif item["type"] == "extra_forbidden":
            problems.append(Problem(CommonError.INVALID, "this field is not known here", field))
        else:
            problems.append(Problem(CommonError.INVALID, item["msg"], field))
    return problems
