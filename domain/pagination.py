"""Cursor pagination over documents ordered by _id, for Relay connections."""

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from beanie import Document
from bson import ObjectId
from bson.errors import InvalidId

from domain.errors import DomainError

D = TypeVar("D", bound=Document)
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
        raise DomainError("INVALID_CURSOR", "the cursor is not valid", "after") from None


async def paginate(model: type[D], query: dict[str, Any], first: int, after: str | None) -> Page[D]:
    if first < 0 or first > MAX_PAGE:
        raise DomainError("INVALID", f"first must be between 0 and {MAX_PAGE}", "first")
    page_query = dict(query)
    if after:
        page_query["_id"] = {"$gt": decode_cursor(after)}
    rows = await model.find(page_query).sort("_id").limit(first + 1).to_list()

    async def total() -> int:
        return await model.get_pymongo_collection().count_documents(query)

    return Page(items=rows[:first], has_next=len(rows) > first, total=total)
