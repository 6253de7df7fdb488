"""Field checks shared by campaign validation: each collects its problems instead of raising."""

from enum import StrEnum
from typing import TypeVar

from domain.campaigns.errors import CampaignError
from domain.campaigns.inputs import MoneyLike
from domain.common import Money, money
from domain.errors import DomainError, ErrorCode, Problem

E = TypeVar("E", bound=StrEnum)


class ProblemList:
    """The problems found so far; raised together once every field is checked."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: ErrorCode, message: str, field: str) -> None:
        self.items.append(Problem(code, message, field))

    def raise_any(self) -> None:
        if self.items:
            raise DomainError.of(self.items)


def enum_value(
    *, kind: type[E], value: E | str, code: ErrorCode, field: str, problems: ProblemList
) -> E | None:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems.add(code, f"must be one of {allowed}", field)
        return None


def money_value(*, value: MoneyLike | None, field: str, problems: ProblemList) -> Money | None:
    if value is None:
        return None
    try:
        return money(value.amount, value.currency, f"{field}.currency")
    except DomainError as error:
        problems.items.extend(error.problems)
        return None


def limit_value(*, value: int | None, field: str, problems: ProblemList) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        problems.add(
            CampaignError.INVALID_LIMIT, "a limit must be a positive whole number or null", field
        )
        return None
    return value
