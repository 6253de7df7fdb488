"""Walking a distribution's audience in id order, after the job's cursor."""

from typing import Any

from bson import ObjectId

from delivery.distribution.filters import DistributionFilter, all_of, audience_match, aware
from domain.customers import Customer
from domain.errors import NotFound
from domain.jobs import Job, JobFailed
from domain.messages import MessageChannel
from domain.segments import (
    Segment,
    SegmentKind,
    get_segment,
    match_query,
    segment_customer_ids,
)

# Customer ids read per query: the embedded server scans the collection for any range query,
# so the walk reads many ids at a time and fetches each batch's documents by id.
ID_CHUNK = 10_000


def _job_audience(job: Job) -> tuple[dict[str, Any], dict[str, Any] | None]:
    where = DistributionFilter.from_params(job.params["filter"])
    channels = [MessageChannel(value) for value in job.params["channels"]]
    return audience_match(project_id=job.project_id, where=where, channels=channels)


async def _job_segment(job: Job) -> Segment | None:
    segment_id = str(job.params.get("segment_id") or "")
    if not segment_id:
        return None
    try:
        return await get_segment(job.project_id, segment_id)
    except NotFound:
        raise JobFailed(
            f"stopped after {job.done:,} of {job.total:,} customers: the segment was deleted"
        ) from None


async def _next_members(
    job: Job, segment: Segment, query: dict[str, Any], consent: dict[str, Any] | None, limit: int
) -> list[Any]:
    """A static segment: its members after the cursor, in id order, that match the filter.
    Members the filter leaves out are walked past until some match or none are left."""
    after = str(job.params.get("after") or "") or None
    async for chunk in segment_customer_ids(segment=segment, after=after, batch_size=limit):
        ids = [ObjectId(customer_id) for customer_id in chunk]
        rows = (
            await Customer.get_pymongo_collection()
            .find(all_of({**query, "_id": {"$in": ids}}, consent), {"_id": 1})
            .sort("_id", 1)
            .to_list()
        )
        if rows:
            return [row["_id"] for row in rows]
    return []


async def next_customer_ids(*, job: Job, limit: int = ID_CHUNK) -> list[Any]:
    """The ids of the customers the job reaches next, after its cursor, in order."""
    query, consent = _job_audience(job)
    segment = await _job_segment(job)
    if segment is not None and segment.kind == SegmentKind.STATIC:
        return await _next_members(job, segment, query, consent, limit)
    after = str(job.params.get("after") or "")
    bounds: dict[str, Any] = {"$lt": job.id}
    if after:
        bounds["$gt"] = ObjectId(after)
    in_segment = None
    if segment is not None:
        in_segment = match_query(segment=segment, now=aware(moment=job.params.get("segment_now")))
    match = all_of({**query, "_id": bounds}, consent, in_segment)
    rows = (
        await Customer.get_pymongo_collection()
        .find(match, {"_id": 1})
        .sort("_id", 1)
        .limit(limit)
        .to_list()
    )
    return [row["_id"] for row in rows]
