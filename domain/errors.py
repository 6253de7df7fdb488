"""DomainError: a problem the caller can fix, mapped to GraphQL's UserError in one place."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None


class DomainError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.problems = [Problem(code, message, field)]

    @classmethod
    def of(cls, problems: list[Problem]) -> "DomainError":
        error = cls(problems[0].code, problems[0].message, problems[0].field)
        error.problems = list(problems)
        return error

    @property
    def code(self) -> str:
        return self.problems[0].code


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = "id") -> None:
        super().__init__("NOT_FOUND", f"{what} not found", field)
