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
    field: str | None = strawberry.field(
        description="The input's path the problem is about, in the argument names clients send "
        "(such as `discount.percentOff` or `customerIds.3`); null when it is about no one field."
    )
    message: str = strawberry.field(
        description="An English sentence for people; may change, so never switch on it."
    )


def user_errors(error: DomainError) -> list[UserError]:
    return [UserError(code=p.code, field=p.field, message=p.message) for p in error.problems]


@strawberry.type(description="An amount in minor units (cents) and an ISO 4217 currency.")
class Money:
    amount: int = strawberry.field(
        description="The amount in the currency's minor units (cents for EUR: 1250 is 12.50)."
    )
    currency: str = strawberry.field(description="The ISO 4217 code, upper case, such as EUR.")

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
    amount: Long = strawberry.field(description="The sum in the currency's minor units.")
    currency: str = strawberry.field(description="The ISO 4217 code, upper case, such as EUR.")


@strawberry.input(description="An amount of money: minor units and an ISO 4217 currency.")
class MoneyInput:
    amount: int = strawberry.field(
        description="The amount in the currency's minor units (cents for EUR: 1250 is 12.50)."
    )
    currency: str = strawberry.field(
        description="The ISO 4217 code, such as EUR (case does not matter)."
    )

    def to_domain(self, field: str = "amount") -> DomainMoney:
        return money(self.amount, self.currency, field)


@strawberry.type(description="Where a page of a list ends, to ask for the next one.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item: pass it as `after` for the next page; "
        "null when the page is empty."
    )


@strawberry.type(description="One item of a page, with its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    cursor: str = strawberry.field(
        description="An opaque position: pass it as `after` to list the items after this one."
    )


@strawberry.type(
    description="One page of a list (a Relay connection): ask for `first` items `after` a cursor."
)
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items, in the list's order.")
    page_info: PageInfo = strawberry.field(description="Whether and where the list continues.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="How many items the whole list holds (all pages); counted only when asked for."
    )
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
