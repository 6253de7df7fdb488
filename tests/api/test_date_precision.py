"""Date comparisons keep milliseconds on every path: find, counts, updates and aggregation.

The embedded server compared dates to the whole second in filters (see api/nx_server.py); these
cases differ by milliseconds inside one second and hold on MongoDB too.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, ReturnDocument

from api.database import make_client

SECOND = datetime(2026, 3, 29, 12, 0, 51, tzinfo=UTC)


def at(milliseconds: int) -> datetime:
    return SECOND + timedelta(milliseconds=milliseconds)


# Three events inside one second, named by their milliseconds.
EVENTS = {"ms115": at(115), "ms600": at(600), "ms601": at(601)}
# (operator, bound, the events it matches)
CASES = [
    ("$lt", at(600), ["ms115"]),
    ("$lte", at(600), ["ms115", "ms600"]),
    ("$gt", at(600), ["ms601"]),
    ("$gte", at(600), ["ms600", "ms601"]),
    ("$eq", at(600), ["ms600"]),
    ("$lt", at(116), ["ms115"]),
    ("$gt", at(115), ["ms600", "ms601"]),
    ("$eq", at(0), []),
    ("$lt", at(0), []),
    ("$gte", at(0), ["ms115", "ms600", "ms601"]),
    ("$lte", at(999), ["ms115", "ms600", "ms601"]),
]
IDS = [f"{op}-{bound.microsecond // 1000}ms" for op, bound, _ in CASES]


@pytest.fixture
async def events(mongodb_uri: str) -> AsyncIterator[Any]:
    client = make_client(mongodb_uri)
    name = f"dates_{uuid.uuid4().hex[:8]}"
    collection = client[name]["events"]
    # An indexed equality beside the date, as every tenant query has.
    await collection.create_index([("project_id", ASCENDING), ("at", ASCENDING)])
    await collection.insert_many(
        [{"project_id": "p", "name": n, "at": moment} for n, moment in EVENTS.items()]
        + [{"project_id": "other", "name": "elsewhere", "at": at(600)}]
    )
    try:
        yield collection
    finally:
        await client.drop_database(name)
        await client.close()


def date_filter(operator: str, bound: datetime) -> dict[str, Any]:
    return {"project_id": "p", "at": {operator: bound}}


@pytest.mark.parametrize(("operator", "bound", "expected"), CASES, ids=IDS)
async def test_find_and_counts(
    operator: str, bound: datetime, expected: list[str], events: Any
) -> None:
    query = date_filter(operator, bound)
    found = await events.find(query).sort("at", ASCENDING).to_list()
    assert [row["name"] for row in found] == expected
    assert await events.count_documents(query) == len(expected)
    first = await events.find_one(query, sort=[("at", ASCENDING)])
    assert (first["name"] if first else None) == (expected[0] if expected else None)


@pytest.mark.parametrize(("operator", "bound", "expected"), CASES, ids=IDS)
async def test_aggregation_match(
    operator: str, bound: datetime, expected: list[str], events: Any
) -> None:
    query = date_filter(operator, bound)
    matched = await (await events.aggregate([{"$match": query}, {"$sort": {"at": 1}}])).to_list()
    assert [row["name"] for row in matched] == expected
    grouped = await (
        await events.aggregate([{"$match": query}, {"$group": {"_id": None, "n": {"$sum": 1}}}])
    ).to_list()
    assert [row["n"] for row in grouped] == ([len(expected)] if expected else [])


@pytest.mark.parametrize(("operator", "bound", "expected"), CASES, ids=IDS)
async def test_update_filters(
    operator: str, bound: datetime, expected: list[str], events: Any
) -> None:
    query = date_filter(operator, bound)
    claimed = await events.find_one_and_update(
        query,
        {"$set": {"claimed": True}},
        sort=[("at", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )
    assert (claimed["name"] if claimed else None) == (expected[0] if expected else None)
    single = await events.update_one(query, {"$set": {"touched": True}})
    assert single.matched_count == min(1, len(expected))
    many = await events.update_many(query, {"$set": {"marked": True}})
    assert many.matched_count == len(expected)
    marked = await events.find({"marked": True}).to_list()
    assert sorted(row["name"] for row in marked) == expected
    removed = await events.delete_many(query)
    assert removed.deleted_count == len(expected)
