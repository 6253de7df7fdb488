"""GraphQL types every feature shares: UserError, Money, JSON and Relay connections."""

from collections.abc import Awaitable, Callable
from typing import Generic, NewType, TypeVar

import strawberry
from strawberry.scalars import JSON

from domain.common import Money as DomainMoney
from domain.common import money
from domain.errors import DomainError
from domain.pagination import Page
from schema.error_codes import USER_ERROR_CODE_DESCRIPTION

__all__ = [
    "JSON",
    "LONG_SCALAR",
    "Connection",
    "Edge",
    "Long",
    "Money",
    "MoneyInput",
    "MoneyTotal",
    "PageInfo",
    "UserError",
]

T = TypeVar("T")


@strawberry.type(description="A problem with the request that the caller can fix.")
class UserError:
    code: str = strawberry.field(description=USER_ERROR_CODE_DESCRIPTION)
    field: str | None
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    return [UserError(code=p.code, field=p.field, message=p.message) for p in error.problems]


@strawberry.type(description="An amount in minor units (cents) and an ISO 4217 currency.")
class Money:
    amount: int
    currency: str

    @classmethod
    def from_domain(cls, value: DomainMoney | None) -> "Money | None":
        return None if value is None else cls(amount=value.amount, currency=value.currency)


# GraphQL's Int is 32 bits: €21,474,836.47 in cents. Totals can outgrow that.
Long = NewType("Long", int)
LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="A whole number up to 2^53 - 1 (exact in JSON and JavaScript), sent as a number.",
    serialize=int,
    parse_value=int,
)


@strawberry.type(
    description="A sum in minor units and an ISO 4217 currency; like Money, but its amount may "
    "outgrow 32 bits (revenue, discount cost)."
)
class MoneyTotal:
    amount: Long
    currency: str


@strawberry.input
class MoneyInput:
    amount: int
    currency: str

    def to_domain(self, field: str = "amount") -> DomainMoney:
        return money(self.amount, self.currency, field)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Counted only when asked for.")
    async def total_count(self) -> int:
        return await self.count_total()


def connection(page: Page, to_node: Callable[..., T]) -> Connection[T]:
    edges = [Edge(node=to_node(item), cursor=page.cursor(item)) for item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
        ),
        count_total=page.total,
    )
