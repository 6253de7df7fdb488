"""Bulk writes and counts on raw collections, in the forms the embedded server answers well."""

from typing import Any

from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


async def insert_new(collection: Any, documents: list[dict[str, Any]]) -> int:
    """Inserts the documents no unique index already holds; returns how many were inserted."""
    try:
        result = await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        details = error.details
        if any(e.get("code") != DUPLICATE_KEY for e in details.get("writeErrors", [])):
            raise
        return int(details.get("nInserted", 0))
    return len(result.inserted_ids)


async def count_matching(collection: Any, match: dict[str, Any]) -> int:
    """An aggregate $count over an equality match: the embedded server answers count_documents
    by scanning in Python."""
    rows = await (await collection.aggregate([{"$match": match}, {"$count": "n"}])).to_list()
    return int(rows[0]["n"]) if rows else 0
