"""Cursor pagination over documents ordered by _id, for Relay connections."""

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from beanie import Document
from bson import ObjectId
from bson.errors import InvalidId

from domain.errors import CommonError, DomainError

D = TypeVar("D", bound=Document)
T = TypeVar("T")
MAX_PAGE = 500


@dataclass
class Page(Generic[D]):
    items: list[D]
    has_next: bool
    total: Callable[[], Awaitable[int]]

    def cursor(self, item: D) -> str:
        return encode_cursor(item.id)


def encode_cursor(oid: Any) -> str:
    return base64.urlsafe_b64encode(f"id:{oid}".encode()).decode()


def decode_cursor(cursor: str) -> ObjectId:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not raw.startswith("id:"):
            raise ValueError(raw)
        return ObjectId(raw[3:])
    except (ValueError, InvalidId, UnicodeDecodeError):
        raise DomainError(CommonError.INVALID_CURSOR, "the cursor is not valid", "after") from None


async def paginate(model: type[D], query: dict[str, Any], first: int, after: str | None) -> Page[D]:
    _checked_first(first)
    page_query = dict(query)
    if after:
        page_query["_id"] = {"$gt": decode_cursor(after)}
    rows = await model.find(page_query).sort("_id").limit(first + 1).to_list()

    async def total() -> int:
        return await model.get_pymongo_collection().count_documents(query)

    return Page(items=rows[:first], has_next=len(rows) > first, total=total)


def _checked_first(first: int) -> None:
    if first < 0 or first > MAX_PAGE:
        raise DomainError(CommonError.INVALID, f"first must be between 0 and {MAX_PAGE}", "first")


async def _no_documents() -> int:
    return 0


def empty_page() -> Page[Any]:
    return Page(items=[], has_next=False, total=_no_documents)


def _once(compute: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """The first call computes; later and concurrent calls share its answer."""
    started: asyncio.Future[T] | None = None

    async def run() -> T:
        nonlocal started
        if started is None:
            started = asyncio.ensure_future(compute())
        return await started

    return run


async def paginate_each(
    model: type[D],
    query: dict[str, Any],
    parent_field: str,
    parents: list[str],
    first: int,
    after: str | None,
) -> dict[str, Page[D]]:
    """paginate for each parent (the query with `parent_field` equal to it): first pages in one
    aggregation, and the totals, when one is asked for, for every parent in one more."""
    _checked_first(first)
    wanted = list(dict.fromkeys(parents))
    if not wanted:
        return {}
    if after:
        # A cursor continues one parent's list. Page by page: the embedded server's aggregation
        # $match never matches a range on _id (find does).
        return {
            parent: await paginate(model, {**query, parent_field: parent}, first, after)
            for parent in wanted
        }
    scope = {**query, parent_field: {"$in": wanted}}
    collection = model.get_pymongo_collection()
    cursor = await collection.aggregate(
        [
            {"$match": scope},
            {"$sort": {"_id": 1}},
            # $firstN keeps the sorted order: each parent's first page and one more to tell
            # whether a next page exists.
            {
                "$group": {
                    "_id": f"${parent_field}",
                    "rows": {"$firstN": {"input": "$$ROOT", "n": first + 1}},
                }
            },
        ]
    )
    rows_of = {row["_id"]: row["rows"] async for row in cursor}

    async def count_all() -> dict[str, int]:
        counted = await collection.aggregate(
            [{"$match": scope}, {"$group": {"_id": f"${parent_field}", "n": {"$sum": 1}}}]
        )
        return {row["_id"]: int(row["n"]) async for row in counted}

    totals = _once(count_all)

    def total_of(parent: str) -> Callable[[], Awaitable[int]]:
        async def total() -> int:
            return (await totals()).get(parent, 0)

        return total

    pages = {}
    for parent in wanted:
        rows = rows_of.get(parent, [])
        pages[parent] = Page(
            items=[model.model_validate(row) for row in rows[:first]],
            has_next=len(rows) > first,
            total=total_of(parent),
        )
    return pages
