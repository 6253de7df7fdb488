"""The members of static segments: adding, removing, forgetting an erased customer."""

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from domain.bulk import count_matching, insert_new
from domain.common import utc_now
from domain.customers import Customer
from domain.errors import CommonError, DomainError, Problem
from domain.segments.errors import SegmentError
from domain.segments.models import Segment, SegmentKind, SegmentMember
from domain.segments.service import get_segment

MAX_STATIC_MEMBERS = 1_000_000
MAX_IDS_PER_CALL = 10_000


# Unknown ids listed one by one in the error, at most; a last problem counts the rest.
MAX_LISTED_UNKNOWN = 100


@dataclass
class MembersChange:
    segment: Segment
    # Inserted or deleted members; the rest of the given ids were members already (add) or
    # were not members (remove).
    changed: int
    unchanged: int


def _given_ids(customer_ids: list[str]) -> list[str]:
    if not 0 < len(customer_ids) <= MAX_IDS_PER_CALL:
        raise DomainError(
            CommonError.INVALID,
            f"give 1 to {MAX_IDS_PER_CALL:,} customer ids per call",
            "customerIds",
        )
    return list(dict.fromkeys(str(i).strip() for i in customer_ids))


async def _static_segment(project_id: str, segment_id: str) -> Segment:
    segment = await get_segment(project_id=project_id, segment_id=segment_id, field="segmentId")
    if segment.kind != SegmentKind.STATIC:
        raise DomainError(
            SegmentError.NOT_STATIC, "members are added to static segments only", "segmentId"
        )
    return segment


async def _unknown_ids(project_id: str, ids: list[str]) -> list[str]:
    """The ids that are not customers of the project, or are erased."""
    valid = [ObjectId(i) for i in ids if ObjectId.is_valid(i)]
    found: set[str] = set()
    rows = Customer.get_pymongo_collection().find(
        {"_id": {"$in": valid}, "project_id": project_id, "erased": False}, {"_id": 1}
    )
    async for row in rows:
        found.add(str(row["_id"]))
    return [i for i in ids if i not in found]


def _unknown_error(given: list[str], unknown: list[str]) -> DomainError:
    index = {customer_id: i for i, customer_id in reversed(list(enumerate(given)))}
    problems = [
        Problem(
            SegmentError.UNKNOWN_CUSTOMER,
            f"{customer_id} is not a customer of this project",
            f"customerIds.{index.get(customer_id, 0)}",
        )
        for customer_id in unknown[:MAX_LISTED_UNKNOWN]
    ]
    if len(unknown) > MAX_LISTED_UNKNOWN:
        problems.append(
            Problem(
                SegmentError.UNKNOWN_CUSTOMER,
                f"and {len(unknown) - MAX_LISTED_UNKNOWN:,} more ids are not customers",
                "customerIds",
            )
        )
    return DomainError.of(problems)


async def _move_count(segment: Segment, by: int) -> None:
    if by:
        await Segment.get_pymongo_collection().update_one(
            {"_id": segment.id, "project_id": segment.project_id}, {"$inc": {"members_count": by}}
        )


async def _count_members(segment: Segment) -> int:
    return await count_matching(
        SegmentMember.get_pymongo_collection(),
        {"project_id": segment.project_id, "segment_id": segment.key},
    )


async def _insert_members(documents: list[dict[str, Any]]) -> int:
    return await insert_new(SegmentMember.get_pymongo_collection(), documents)


async def add_members(
    *, project_id: str, segment_id: str, customer_ids: list[str]
) -> MembersChange:
    """Adds customers to a static segment. Ids that are not the project's (erased or unknown)
    refuse the whole call, listed in the error, and nothing is written; members already in
    are counted as unchanged."""
    given = list(customer_ids)
    ids = _given_ids(given)
    segment = await _static_segment(project_id, segment_id)
    unknown = await _unknown_ids(project_id, ids)
    if unknown:
        raise _unknown_error(given, unknown)
    # The room is reserved first, so concurrent calls never take the segment past its limit.
    reserved = await Segment.get_pymongo_collection().update_one(
        {
            "_id": segment.id,
            "project_id": project_id,
            "members_count": {"$lte": MAX_STATIC_MEMBERS - len(ids)},
        },
        {"$inc": {"members_count": len(ids)}},
    )
    if reserved.matched_count == 0:
        raise DomainError(
            SegmentError.SEGMENT_FULL,
            f"a static segment holds at most {MAX_STATIC_MEMBERS:,} members",
            "customerIds",
        )
    now = utc_now()
    documents = [
        {"project_id": project_id, "segment_id": segment.key, "customer_id": i, "added_at": now}
        for i in ids
    ]
    try:
        inserted = await _insert_members(documents)
    except Exception:
        # How many landed is unknown: count them once instead of trusting the reservation.
        await Segment.get_pymongo_collection().update_one(
            {"_id": segment.id, "project_id": project_id},
            {"$set": {"members_count": await _count_members(segment)}},
        )
        raise
    await _move_count(segment, inserted - len(ids))
    return MembersChange(
        segment=await get_segment(project_id=project_id, segment_id=segment.key),
        changed=inserted,
        unchanged=len(given) - inserted,
    )


async def remove_members(
    *, project_id: str, segment_id: str, customer_ids: list[str]
) -> MembersChange:
    """Removes customers from a static segment; ids that are not members are counted as
    unchanged."""
    given = list(customer_ids)
    ids = _given_ids(given)
    segment = await _static_segment(project_id, segment_id)
    result = await SegmentMember.get_pymongo_collection().delete_many(
        {"project_id": project_id, "segment_id": segment.key, "customer_id": {"$in": ids}}
    )
    removed = int(result.deleted_count)
    await _move_count(segment, -removed)
    return MembersChange(
        segment=await get_segment(project_id=project_id, segment_id=segment.key),
        changed=removed,
        unchanged=len(given) - removed,
    )


async def forget_customer(*, project_id: str, customer_id: str) -> None:
    """Takes an erased customer out of every static segment, each count moved once."""
    members = SegmentMember.get_pymongo_collection()
    async for row in members.find({"project_id": project_id, "customer_id": customer_id}):
        deleted = await members.delete_one({"_id": row["_id"]})
        if deleted.deleted_count and ObjectId.is_valid(row["segment_id"]):
            await Segment.get_pymongo_collection().update_one(
                {"_id": ObjectId(row["segment_id"]), "project_id": project_id},
                {"$inc": {"members_count": -1}},
            )


@dataclass
class MemberLines:
    """Pasted or uploaded lines read as customers: their ids in order, and the lines that
    named no live customer of the project."""

    customer_ids: list[str]
    unmatched: list[str]


async def resolve_member_lines(*, project_id: str, lines: list[str]) -> MemberLines:
    """Each non-empty line is a customer id or an email address (matched as stored, lower
    case); ids and emails are looked up in one read each."""
    wanted = [line.strip() for line in lines if line.strip()]
    if len(wanted) > MAX_IDS_PER_CALL:
        raise DomainError(
            CommonError.INVALID,
            f"give 1 to {MAX_IDS_PER_CALL:,} customer ids or emails at a time",
            "customerIds",
        )
    ids = [line for line in wanted if ObjectId.is_valid(line)]
    emails = sorted({line.lower() for line in wanted if "@" in line})
    known_ids = set(ids) - set(await _unknown_ids(project_id, ids)) if ids else set()
    by_email: dict[str, str] = {}
    if emails:
        rows = Customer.get_pymongo_collection().find(
            {"project_id": project_id, "erased": False, "email": {"$in": emails}},
            {"_id": 1, "email": 1},
        )
        async for row in rows:
            by_email.setdefault(row["email"], str(row["_id"]))
    found: list[str] = []
    unmatched: list[str] = []
    for line in wanted:
        customer_id = line if line in known_ids else by_email.get(line.lower())
        if customer_id is None:
            unmatched.append(line)
        else:
            found.append(customer_id)
    return MemberLines(customer_ids=found, unmatched=unmatched)
