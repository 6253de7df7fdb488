"""DomainError: a problem the caller can fix, mapped to GraphQL's UserError in one place."""

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Base of every feature's error codes: a DomainError takes a member, never a plain string."""


class CommonError(ErrorCode):
    """Codes that many features return for the same kind of problem."""

    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    ERASED = "ERASED"
    BUSY = "BUSY"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_CHARACTERS = "INVALID_CHARACTERS"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    TOO_LARGE = "TOO_LARGE"
    INVALID_TIMEZONE = "INVALID_TIMEZONE"
    INVALID_TIME = "INVALID_TIME"
    INVALID_CHANNEL = "INVALID_CHANNEL"
    INVALID_POINTS = "INVALID_POINTS"
    INVALID_DAYS = "INVALID_DAYS"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    CAMPAIGN_ENDED = "CAMPAIGN_ENDED"
    CAMPAIGN_NOT_DISCOUNT = "CAMPAIGN_NOT_DISCOUNT"
    NOT_LOYALTY = "NOT_LOYALTY"
    CODE_SPACE_EXHAUSTED = "CODE_SPACE_EXHAUSTED"


@dataclass(frozen=True)
class Problem:
    code: ErrorCode
    message: str
    field: str | None = None


class DomainError(Exception):
    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.problems = [Problem(code, message, field)]

    @classmethod
    def of(cls, problems: list[Problem]) -> "DomainError":
        error = cls(problems[0].code, problems[0].message, problems[0].field)
        error.problems = list(problems)
        return error

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = "id") -> None:
        super().__init__(CommonError.NOT_FOUND, f"{what} not found", field)
