"""Creating, reading, changing and deleting segments."""

from typing import Any

from pymongo.errors import DuplicateKeyError

from domain.campaigns import Campaign, CampaignStatus
from domain.common import object_id, utc_now
from domain.errors import CommonError, DomainError, NotFound
from domain.experiments import Experiment
from domain.pagination import Page, paginate
from domain.segments.errors import SegmentError
from domain.segments.filters import check_filter
from domain.segments.models import Segment, SegmentKind, SegmentMember

MAX_NAME = 200


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not 0 < len(cleaned) <= MAX_NAME:
        raise DomainError(CommonError.INVALID, f"name must be 1 to {MAX_NAME} characters", "name")
    return cleaned


def _checked_filter(kind: SegmentKind, filter: Any) -> dict[str, Any]:
    if kind == SegmentKind.STATIC:
        if filter:
            raise DomainError(
                SegmentError.FILTER_ON_STATIC,
                "a static segment has members, not a filter",
                "filter",
            )
        return {}
    if filter is None:
        raise DomainError(SegmentError.INVALID_FILTER, "a dynamic segment needs a filter", "filter")
    return check_filter(filter)


# Positional too while domain.automation, which calls it that way, is being rewritten.
async def get_segment(project_id: str, segment_id: str, field: str = "id") -> Segment:
    segment = await Segment.find_one(
        {"_id": object_id(segment_id, "segment", field), "project_id": project_id}
    )
    if segment is None:
        raise NotFound("segment", field)
    return segment


async def list_segments(*, project_id: str, first: int, after: str | None) -> Page[Segment]:
    return await paginate(Segment, {"project_id": project_id}, first, after)


async def create_segment(
    *, project_id: str, name: str, kind: SegmentKind, filter: Any = None
) -> Segment:
    segment = Segment(
        project_id=project_id,
        name=_clean_name(name),
        kind=kind,
        filter=_checked_filter(kind, filter),
    )
    try:
        await segment.insert()
    except DuplicateKeyError:
        raise DomainError(
            SegmentError.DUPLICATE_NAME, "a segment with this name already exists", "name"
        ) from None
    return segment


async def update_segment(
    *, project_id: str, segment_id: str, name: str | None = None, filter: Any = None
) -> Segment:
    """Renames the segment and/or replaces a dynamic segment's filter; the kind stays."""
    segment = await get_segment(project_id=project_id, segment_id=segment_id)
    values: dict[str, Any] = {"updated_at": utc_now()}
    if name is not None:
        values["name"] = _clean_name(name)
    if filter is not None:
        values["filter"] = _checked_filter(segment.kind, filter)
    try:
        await Segment.get_pymongo_collection().update_one(
            {"_id": segment.id, "project_id": project_id}, {"$set": values}
        )
    except DuplicateKeyError:
        raise DomainError(
            SegmentError.DUPLICATE_NAME, "a segment with this name already exists", "name"
        ) from None
    return await get_segment(project_id=project_id, segment_id=segment_id)


async def delete_segment(*, project_id: str, segment_id: str) -> Segment:
    """Deletes the segment and its members; refused while a campaign that has not ended
    targets it, by its own rules or an experiment variant's (whose codes keep them), since
    that campaign would then match nobody."""
    segment = await get_segment(project_id=project_id, segment_id=segment_id)
    live = {"$in": [CampaignStatus.ACTIVE.value, CampaignStatus.PAUSED.value]}
    users = await Campaign.find(
        {"project_id": project_id, "rules.segment_ids": segment.key, "status": live}
    ).to_list(20)
    # Read and checked here: the embedded server does not follow a path through an array of
    # sub-documents ("variants.rules.segment_ids"), and a project has few experiments.
    campaign_ids = sorted(
        {
            experiment.campaign_id
            async for experiment in Experiment.find({"project_id": project_id})
            if any(v.rules and segment.key in v.rules.segment_ids for v in experiment.variants)
        }
    )
    if campaign_ids:
        users += await Campaign.find(
            {
                "project_id": project_id,
                "_id": {"$in": [object_id(i, "campaign") for i in campaign_ids]},
                "status": live,
            }
        ).to_list(20)
    if users:
        names = ", ".join(sorted({campaign.name for campaign in users}))
        raise DomainError(
            SegmentError.SEGMENT_IN_USE,
            f"campaigns target this segment: {names}; end them first",
            "id",
        )
    await Segment.get_pymongo_collection().delete_one({"_id": segment.id, "project_id": project_id})
    await SegmentMember.get_pymongo_collection().delete_many(
        {"project_id": project_id, "segment_id": segment.key}
    )
    return segment
