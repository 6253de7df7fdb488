"""Starting a distribution: checks the request, counts its audience and queues its job."""

from collections.abc import Sequence
from typing import Any

from bson import ObjectId

from delivery.distribution.filters import (
    DistributionFilter,
    all_of,
    audience_match,
    checked_channels,
    checked_filter,
)
from delivery.distribution.progress import COUNTS, DISTRIBUTE_CAMPAIGN
from delivery.rendering import resolve_template
from domain.campaigns import get_campaign
from domain.codes import check_gives_codes
from domain.common import utc_now
from domain.customers import Customer
from domain.jobs import Job
from domain.messages import MessageChannel
from domain.segments import (
    SegmentKind,
    get_segment,
    match_query,
)

# Customers handled between two writes of the job's cursor: a crash redoes at most this many.
BATCH_SIZE = 200


async def _count(query: dict[str, Any], consent: dict[str, Any] | None) -> int:
    # An aggregate $count on the indexed part first: count_documents scans on the embedded server.
    stages: list[dict[str, Any]] = [{"$match": query}]
    if consent is not None:
        stages.append({"$match": consent})
    cursor = await Customer.get_pymongo_collection().aggregate([*stages, {"$count": "n"}])
    rows = await cursor.to_list()
    return int(rows[0]["n"]) if rows else 0


async def distribute_campaign(
    *,
    project_id: str,
    campaign_id: str,
    channels: Sequence[MessageChannel],
    where: DistributionFilter | None = None,
    template_ref: str | None = None,
    segment_id: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Job:
    """Checks the request (writing nothing when it is refused) and queues a job giving each
    matching customer (of the segment, when one is given) a code of the campaign and a
    message by each channel."""
    campaign = await get_campaign(project_id, campaign_id)
    segment = await get_segment(project_id, segment_id, "segmentId") if segment_id else None
    check_gives_codes(campaign)
    chosen = checked_channels(channels=channels)
    audience = checked_filter(where=where or DistributionFilter())
    template = (template_ref or "").strip() or None
    if template is not None:
        # A built-in exists for both channels; a stored template serves its own channel only.
        for channel in chosen:
            await resolve_template(project_id=project_id, template_ref=template, channel=channel)
    query, consent = audience_match(project_id=project_id, where=audience, channels=chosen)
    # Relative times in a dynamic segment's filter ("no order for 90 days") are read at the
    # request, so a resumed job reaches the same customers.
    segment_now = utc_now()
    if segment is None:
        total = await _count(query, consent)
    elif segment.kind == SegmentKind.STATIC:
        # An upper bound; the job ends with the number it really reached.
        total = segment.members_count
    else:
        total = await Customer.get_pymongo_collection().count_documents(
            all_of(query, consent, match_query(segment=segment, now=segment_now))
        )
    # Customers made after the count are left out: the job's id bounds the walk.
    job_id = ObjectId()
    job = Job(
        id=job_id,
        project_id=project_id,
        kind=DISTRIBUTE_CAMPAIGN,
        params={
            "campaign_id": campaign.key,
            "channels": [channel.value for channel in chosen],
            "template_ref": template or "",
            "filter": audience.to_params(),
            "segment_id": segment.key if segment else "",
            "segment_now": segment_now,
            # The last customer id of the last finished batch.
            "after": "",
            "batch_started_at": None,
            **dict.fromkeys(COUNTS, 0),
        },
        total=total,
        batch_size=max(1, batch_size),
    )
    await job.insert()
    return job
