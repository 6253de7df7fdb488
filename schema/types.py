"""GraphQL types every feature shares: UserError, Money, JSON and Relay connections."""

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from domain.common import Money as DomainMoney
from domain.common import money
from domain.errors import DomainError
from domain.pagination import Page

__all__ = ["JSON", "Connection", "Edge", "Money", "MoneyInput", "PageInfo", "UserError"]

T = TypeVar("T")


@strawberry.type(description="A problem with the request that the caller can fix.")
class UserError:
    code: str
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
