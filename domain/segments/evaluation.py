"""Who is in a segment: sizes, samples, every customer id, one customer's membership."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import ExecutionTimeout

from domain.common import utc_now
from domain.customers import Customer
from domain.errors import CommonError, DomainError
from domain.segments.matching import compile_filter, matches
from domain.segments.models import Segment, SegmentKind, SegmentMember

MAX_SAMPLE = 100


def match_query(*, segment: Segment, now: datetime | None = None) -> dict[str, Any]:
    """A dynamic segment's customers as a MongoDB query."""
    if segment.kind != SegmentKind.DYNAMIC:
        raise ValueError("only dynamic segments have a customer query")
    return compile_filter(
        project_id=segment.project_id, filter=segment.filter, now=now or utc_now()
    )


async def segment_size(*, segment: Segment, now: datetime | None = None) -> int:
    """Counted by the database: the kept count for a static segment; for a dynamic one
    count_documents, an aggregation ($match then a $sum) that returns only the number."""
    if segment.kind == SegmentKind.STATIC:
        return segment.members_count
    return int(
        await Customer.get_pymongo_collection().count_documents(
            match_query(segment=segment, now=now)
        )
    )


async def segment_sizes(
    *, project_id: str, segments: list[Segment], now: datetime | None = None
) -> dict[str, int]:
    """segment_size of several segments of the project, by id: the kept counts of static ones;
    dynamic ones together in one read of the project's customers, each matched as
    customer_in_segments does (the embedded server's $facet matches some filters wrongly)."""
    moment = now or utc_now()
    mine = {s.key: s for s in segments if s.project_id == project_id}
    sizes = {key: s.members_count for key, s in mine.items() if s.kind == SegmentKind.STATIC}
    dynamic = {
        key: match_query(segment=s, now=moment)
        for key, s in mine.items()
        if s.kind == SegmentKind.DYNAMIC
    }
    if len(dynamic) == 1:
        [key] = dynamic
        sizes[key] = await segment_size(segment=mine[key], now=moment)
        return sizes
    if not dynamic:
        return sizes
    counts = dict.fromkeys(dynamic, 0)
    fields = set().union(*(_fields_of(query) for query in dynamic.values()))
    cursor = Customer.get_pymongo_collection().find(
        {"project_id": project_id, "erased": False}, dict.fromkeys(sorted(fields), 1)
    )
    async for doc in cursor:
        for key, query in dynamic.items():
            counts[key] += matches(query=query, doc=doc)
    return sizes | counts


def _fields_of(query: dict[str, Any]) -> set[str]:
    """The top-level document fields a compiled query reads."""
    fields: set[str] = set()
    for key, condition in query.items():
        if key in ("$and", "$or", "$nor"):
            for part in condition:
                fields |= _fields_of(part)
        else:
            fields.add(key.split(".")[0])
    return fields


async def segment_sample(
    *, segment: Segment, first: int, now: datetime | None = None
) -> list[Customer]:
    """The first `first` members in customer id order."""
    if not 0 <= first <= MAX_SAMPLE:
        raise DomainError(CommonError.INVALID, f"first must be between 0 and {MAX_SAMPLE}", "first")
    if first == 0:
        return []
    if segment.kind == SegmentKind.DYNAMIC:
        return (
            await Customer.find(match_query(segment=segment, now=now))
            .sort("_id")
            .limit(first)
            .to_list()
        )
    rows = (
        await SegmentMember.get_pymongo_collection()
        .find({"project_id": segment.project_id, "segment_id": segment.key}, {"customer_id": 1})
        .sort("customer_id", 1)
        .limit(first)
        .to_list()
    )
    return (
        await Customer.find(
            {
                "_id": {"$in": [ObjectId(row["customer_id"]) for row in rows]},
                "project_id": segment.project_id,
                "erased": False,
            }
        )
        .sort("_id")
        .to_list()
    )


async def segment_samples(
    *, project_id: str, segments: list[Segment], first: int, now: datetime | None = None
) -> dict[str, list[Customer]]:
    """segment_sample of several segments of the project, by id, in at most three reads: the
    static ones' first members together, then those customers; dynamic ones in one walk of the
    project's customers in id order, each matched as customer_in_segments does."""
    if not 0 <= first <= MAX_SAMPLE:
        raise DomainError(CommonError.INVALID, f"first must be between 0 and {MAX_SAMPLE}", "first")
    moment = now or utc_now()
    mine = {s.key: s for s in segments if s.project_id == project_id}
    # Another project's segment samples nobody.
    samples: dict[str, list[Customer]] = {s.key: [] for s in segments}
    if first == 0:
        return samples
    static = [key for key, s in mine.items() if s.kind == SegmentKind.STATIC]
    dynamic = {key: s for key, s in mine.items() if s.kind == SegmentKind.DYNAMIC}
    if static:
        samples |= await _static_samples(project_id, static, first)
    if len(dynamic) == 1:
        [(key, segment)] = dynamic.items()
        samples[key] = await segment_sample(segment=segment, first=first, now=moment)
    elif dynamic:
        samples |= await _dynamic_samples(project_id, dynamic, first, moment)
    return samples


async def _static_samples(
    project_id: str, segment_ids: list[str], first: int
) -> dict[str, list[Customer]]:
    cursor = await SegmentMember.get_pymongo_collection().aggregate(
        [
            {"$match": {"project_id": project_id, "segment_id": {"$in": segment_ids}}},
            {"$sort": {"customer_id": 1}},
            {
                "$group": {
                    "_id": "$segment_id",
                    "ids": {"$firstN": {"input": "$customer_id", "n": first}},
                }
            },
        ]
    )
    members = {row["_id"]: row["ids"] async for row in cursor}
    wanted = [ObjectId(i) for ids in members.values() for i in ids if ObjectId.is_valid(i)]
    found = await Customer.find(
        {"_id": {"$in": wanted}, "project_id": project_id, "erased": False}
    ).to_list()
    by_id = {customer.key: customer for customer in found}
    return {
        key: sorted((by_id[i] for i in members.get(key, []) if i in by_id), key=lambda c: str(c.id))
        for key in segment_ids
    }


async def _dynamic_samples(
    project_id: str, segments: dict[str, Segment], first: int, now: datetime
) -> dict[str, list[Customer]]:
    queries = {key: match_query(segment=segment, now=now) for key, segment in segments.items()}
    samples: dict[str, list[Customer]] = {key: [] for key in segments}
    cursor = Customer.get_pymongo_collection().find(
        {"project_id": project_id, "erased": False}, sort=[("_id", 1)]
    )
    async for doc in cursor:
        unfilled = [key for key, found in samples.items() if len(found) < first]
        if not unfilled:
            break
        for key in unfilled:
            if matches(query=queries[key], doc=doc):
                samples[key].append(Customer.model_validate(doc))
    await cursor.close()
    return samples


async def segment_customer_ids(
    *,
    segment: Segment,
    after: str | None = None,
    batch_size: int = 1_000,
    now: datetime | None = None,
) -> AsyncIterator[list[str]]:
    """The segment's customer ids in batches, from one database cursor: static segments walk
    their member records, dynamic ones the matching customers, both in customer id order.
    Pass the last id handled as `after` to resume a walk."""
    if segment.kind == SegmentKind.STATIC:
        query: dict[str, Any] = {"project_id": segment.project_id, "segment_id": segment.key}
        if after:
            query["customer_id"] = {"$gt": after}
        cursor = (
            SegmentMember.get_pymongo_collection()
            .find(query, {"customer_id": 1})
            .sort("customer_id", 1)
            .batch_size(batch_size)
        )
        field = "customer_id"
    else:
        query = match_query(segment=segment, now=now)
        if after:
            query["_id"] = {"$gt": ObjectId(after)}
        cursor = (
            Customer.get_pymongo_collection()
            .find(query, {"_id": 1})
            .sort("_id", 1)
            .batch_size(batch_size)
        )
        field = "_id"
    batch: list[str] = []
    async for row in cursor:
        batch.append(str(row[field]))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


# Positional too while domain.automation, which calls it that way, is being rewritten.
async def customer_in_segments(
    project_id: str, customer: Customer, segment_ids: list[str], now: datetime | None = None
) -> bool:
    """Whether the customer belongs to at least one of the segments: a member lookup for the
    static ones; for dynamic ones the customer as stored, matched against each compiled query."""
    if customer.erased or customer.project_id != project_id:
        return False
    wanted = [ObjectId(i) for i in segment_ids if ObjectId.is_valid(i)]
    segments = await Segment.find({"_id": {"$in": wanted}, "project_id": project_id}).to_list()
    static = [segment.key for segment in segments if segment.kind == SegmentKind.STATIC]
    if static:
        member = await SegmentMember.get_pymongo_collection().find_one(
            {"project_id": project_id, "segment_id": {"$in": static}, "customer_id": customer.key},
            {"_id": 1},
        )
        if member is not None:
            return True
    dynamic = [segment for segment in segments if segment.kind == SegmentKind.DYNAMIC]
    if not dynamic:
        return False
    # As stored now, not as the caller's copy says.
    raw = await Customer.get_pymongo_collection().find_one(
        {"_id": customer.id, "project_id": project_id}
    )
    return raw is not None and any(
        matches(query=match_query(segment=segment, now=now), doc=raw) for segment in dynamic
    )


@dataclass(frozen=True)
class SizeEstimate:
    """A count made within a budget: `count` is exact when `complete`; otherwise it is a lower
    bound (the count stopped at its limit), or None when the database ran out of time."""

    count: int | None
    complete: bool


async def segment_size_within(
    *, segment: Segment, limit: int, max_time_ms: int, now: datetime | None = None
) -> SizeEstimate:
    """segment_size bounded for previews: a dynamic segment is counted up to `limit` matches
    and for at most `max_time_ms`, so a filter typed on a large project answers quickly."""
    if segment.kind == SegmentKind.STATIC:
        return SizeEstimate(count=segment.members_count, complete=True)
    try:
        counted = int(
            await Customer.get_pymongo_collection().count_documents(
                match_query(segment=segment, now=now), limit=limit + 1, maxTimeMS=max_time_ms
            )
        )
    except ExecutionTimeout:
        return SizeEstimate(count=None, complete=False)
    if counted > limit:
        return SizeEstimate(count=limit, complete=False)
    return SizeEstimate(count=counted, complete=True)
