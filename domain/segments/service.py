"""Segments: static member lists and dynamic filters evaluated by the database; membership.

A dynamic segment's filter is a small JSON language, checked when saved and compiled to a
MongoDB query when evaluated (relative times need "now"):

    node      := {"all": [node, ...]} | {"any": [node, ...]} | condition
    condition := {"field": FIELD, "op": OP, "value": VALUE}

FIELDS maps each field to its kind and OPS_BY_KIND lists the operators each kind allows.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from bson import ObjectId
from pydantic import Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.bulk import count_matching, insert_new
from domain.campaigns import Campaign, CampaignStatus
from domain.common import as_utc, object_id, utc_now
from domain.customers import Customer
from domain.errors import DomainError, NotFound, Problem
from domain.experiments import Experiment
from domain.pagination import Page, paginate
from domain.rfm import GROUPS

MAX_STATIC_MEMBERS = 1_000_000
MAX_IDS_PER_CALL = 10_000
MAX_NAME = 200
MAX_CONDITIONS = 100
MAX_DEPTH = 6
MAX_IN_VALUES = 1_000
MAX_TEXT_VALUE = 500
MAX_DAYS = 36_500
MAX_SAMPLE = 100
# Unknown ids listed one by one in the error, at most; a last problem counts the rest.
MAX_LISTED_UNKNOWN = 100
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class SegmentKind(StrEnum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


class FieldKind(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    BOOL = "BOOL"
    TAGS = "TAGS"
    GROUP = "GROUP"
    ATTRIBUTE = "ATTRIBUTE"


FIELDS: dict[str, FieldKind] = {
    "name": FieldKind.TEXT,
    "email": FieldKind.TEXT,
    "phone": FieldKind.TEXT,
    "source_id": FieldKind.TEXT,
    "tags": FieldKind.TAGS,
    "consents.email": FieldKind.BOOL,
    "consents.sms": FieldKind.BOOL,
    "created_at": FieldKind.DATE,
    "metrics.orders_count": FieldKind.NUMBER,
    "metrics.total_spent": FieldKind.NUMBER,
    "metrics.first_order_at": FieldKind.DATE,
    "metrics.last_order_at": FieldKind.DATE,
    "rfm.recency": FieldKind.NUMBER,
    "rfm.frequency": FieldKind.NUMBER,
    "rfm.monetary": FieldKind.NUMBER,
    "rfm.group": FieldKind.GROUP,
    "rfm.computed_at": FieldKind.DATE,
}
COMPARISONS = ("gt", "gte", "lt", "lte")
RELATIVE = ("older_than_days", "within_days")
OPS_BY_KIND: dict[FieldKind, tuple[str, ...]] = {
    FieldKind.TEXT: ("eq", "ne", "in", "exists"),
    FieldKind.NUMBER: ("eq", "ne", "in", *COMPARISONS),
    FieldKind.DATE: (*COMPARISONS, *RELATIVE, "exists"),
    FieldKind.BOOL: ("eq", "ne"),
    FieldKind.TAGS: ("contains", "ne", "in"),
    FieldKind.GROUP: ("eq", "ne", "in"),
    FieldKind.ATTRIBUTE: ("eq", "ne", "in", *COMPARISONS, "exists", "contains"),
}
# Every date compares above this one: "is a date" without $type "date", which the embedded
# server never matches.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


class Segment(Document):
    project_id: str
    name: str
    kind: SegmentKind
    # The dynamic segment's filter as checked and normalized; {} for a static segment.
    filter: dict[str, Any] = Field(default_factory=dict)
    # Static segments: kept by $inc of what was really inserted or deleted.
    members_count: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "segments"
        indexes = [
            IndexModel([("project_id", 1), ("name", 1)], unique=True, name="project_name_unique"),
            IndexModel([("project_id", 1), ("created_at", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class SegmentMember(Document):
    project_id: str
    segment_id: str
    customer_id: str
    added_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "segment_members"
        indexes = [
            IndexModel(
                [("project_id", 1), ("segment_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_segment_customer_unique",
            ),
            # Erasure's lookup. (Walks use the unique index, in customer id order: the embedded
            # server cannot build an index that holds _id.)
            IndexModel([("project_id", 1), ("customer_id", 1)]),
        ]


# The filter language: checking


def _problem(path: str, message: str) -> Problem:
    return Problem("INVALID_FILTER", message, path)


def _field_kind(field: Any) -> FieldKind | None:
    if not isinstance(field, str):
        return None
    if field in FIELDS:
        return FIELDS[field]
    parts = field.split(".")
    if (
        parts[0] == "attributes"
        and 2 <= len(parts) <= 4
        and all(ATTRIBUTE_KEY.match(part) for part in parts[1:])
    ):
        return FieldKind.ATTRIBUTE
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _check_scalar(kind: FieldKind, field: str, op: str, value: Any) -> tuple[Any, str | None]:
    """The value to store for one operand, or why it does not fit the field."""
    if kind == FieldKind.TEXT:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT_VALUE:
            return None, f"{field} takes a string of 1 to {MAX_TEXT_VALUE} characters"
        # Emails are stored normalized to lower case.
        return (value.strip().lower() if field == "email" else value), None
    if kind == FieldKind.NUMBER:
        return (value, None) if _is_number(value) else (None, f"{field} takes a number")
    if kind == FieldKind.BOOL:
        return (value, None) if isinstance(value, bool) else (None, f"{field} takes true or false")
    if kind == FieldKind.TAGS:
        if not isinstance(value, str) or not value.strip():
            return None, "tags takes a non-empty string"
        return value.strip().lower(), None
    if kind == FieldKind.GROUP:
        if value not in GROUPS:
            return None, f"rfm.group is one of {', '.join(GROUPS)}"
        return value, None
    if kind == FieldKind.DATE:
        moment = _parse_date(value)
        if moment is None:
            return None, f"{field} takes an ISO 8601 date-time, such as 2025-01-31T00:00:00Z"
        return moment.isoformat(), None
    # Attributes: any JSON scalar but null (which the embedded database cannot match).
    if op in COMPARISONS and not (_is_number(value) or isinstance(value, str)):
        return None, f"{op} on {field} takes a number or a string"
    if not _is_scalar(value) or (isinstance(value, str) and len(value) > MAX_TEXT_VALUE):
        return None, f"{field} takes a string, a number or a boolean"
    return value, None


def _check_value(kind: FieldKind, field: str, op: str, value: Any) -> tuple[Any, str | None]:
    if op == "exists":
        return (value, None) if isinstance(value, bool) else (None, "exists takes true or false")
    if op in RELATIVE:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DAYS:
            return value, None
        return None, f"{op} takes a whole number of days from 0 to {MAX_DAYS}"
    if op == "in":
        if not isinstance(value, list) or not 0 < len(value) <= MAX_IN_VALUES:
            return None, f"in takes a list of 1 to {MAX_IN_VALUES} values"
        checked = []
        for item in value:
            stored, error = _check_scalar(kind, field, op, item)
            if error:
                return None, error
            checked.append(stored)
        return checked, None
    return _check_scalar(kind, field, op, value)


def _check_node(
    node: Any, path: str, depth: int, problems: list[Problem], counted: list[int]
) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        problems.append(_problem(path, f"filters nest at most {MAX_DEPTH} levels"))
        return {}
    if not isinstance(node, dict):
        problems.append(_problem(path, "a filter node is an object"))
        return {}
    groups = [key for key in ("all", "any") if key in node]
    if groups:
        if len(node) != 1:
            problems.append(_problem(path, "a group node has exactly one key, all or any"))
            return {}
        key = groups[0]
        children = node[key]
        if not isinstance(children, list) or not children:
            problems.append(_problem(f"{path}.{key}", f"{key} takes a non-empty list of nodes"))
            return {}
        return {
            key: [
                _check_node(child, f"{path}.{key}.{i}", depth + 1, problems, counted)
                for i, child in enumerate(children)
            ]
        }
    counted[0] += 1
    if counted[0] == MAX_CONDITIONS + 1:
        problems.append(_problem(path, f"a filter has at most {MAX_CONDITIONS} conditions"))
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        problems.append(_problem(path, f"unknown keys: {', '.join(sorted(map(str, unknown)))}"))
        return {}
    field, op = node.get("field"), node.get("op")
    kind = _field_kind(field)
    if kind is None:
        problems.append(
            _problem(
                f"{path}.field",
                f"unknown field {field!r}: use one of {', '.join(FIELDS)} or attributes.<key>",
            )
        )
        return {}
    assert isinstance(field, str)
    if op not in OPS_BY_KIND[kind]:
        problems.append(
            _problem(f"{path}.op", f"{field} allows the ops {', '.join(OPS_BY_KIND[kind])}")
        )
        return {}
    if "value" not in node:
        problems.append(_problem(f"{path}.value", f"{op} needs a value"))
        return {}
    value, error = _check_value(kind, field, op, node["value"])
    if error:
        problems.append(_problem(f"{path}.value", error))
        return {}
    return {"field": field, "op": op, "value": value}


def check_filter(raw: Any) -> dict[str, Any]:
    """The filter normalized for storage; a DomainError with every problem and its path."""
    problems: list[Problem] = []
    checked = _check_node(raw, "filter", 1, problems, [0])
    if problems:
        raise DomainError.of(problems)
    return checked


# The filter language: compiling


def _compile_condition(node: dict[str, Any], now: datetime) -> dict[str, Any]:
    field, op, value = node["field"], node["op"], node["value"]
    kind = _field_kind(field)
    assert kind is not None
    if kind == FieldKind.DATE and op in COMPARISONS:
        value = _parse_date(value)
    if op == "eq":
        return {field: value}
    if op == "ne":
        # On tags, "does not have the tag": $nin reads the same on every server.
        return {field: {"$nin": [value]}} if kind == FieldKind.TAGS else {field: {"$ne": value}}
    if op == "in":
        return {field: {"$in": value}}
    if op in COMPARISONS:
        return {field: {f"${op}": value}}
    if op == "older_than_days":
        return {field: {"$lt": now - timedelta(days=value)}}
    if op == "within_days":
        return {field: {"$gte": now - timedelta(days=value)}}
    if op == "contains":
        if kind == FieldKind.TAGS:
            return {field: value}
        return {field: {"$elemMatch": {"$eq": value}}}
    # exists: text and date fields hold null when unset, so "exists" means "holds a value".
    if kind == FieldKind.TEXT:
        present: dict[str, Any] = {field: {"$type": "string"}}
    elif kind == FieldKind.DATE:
        present = {field: {"$gte": EARLIEST}}
    else:
        return {field: {"$exists": value}}
    return present if value else {"$nor": [present]}


def _compile_node(node: dict[str, Any], now: datetime) -> dict[str, Any]:
    if "all" in node:
        return {"$and": [_compile_node(child, now) for child in node["all"]]}
    if "any" in node:
        return {"$or": [_compile_node(child, now) for child in node["any"]]}
    return _compile_condition(node, now)


def compile_filter(project_id: str, filter: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The MongoDB query matching the filter's customers in the project, erased ones never."""
    # The condition always sits inside $and: the embedded server evaluates $and with MongoDB's
    # semantics, while some bare top-level forms (array equality, dates) it matches wrongly.
    return {"project_id": project_id, "erased": False, "$and": [_compile_node(filter, now)]}


# Segments


@dataclass
class MembersChange:
    segment: Segment
    # Inserted or deleted members; the rest of the given ids were members already (add) or
    # were not members (remove).
    changed: int
    unchanged: int


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not 0 < len(cleaned) <= MAX_NAME:
        raise DomainError("INVALID", f"name must be 1 to {MAX_NAME} characters", "name")
    return cleaned


def _checked_filter(kind: SegmentKind, filter: Any) -> dict[str, Any]:
    if kind == SegmentKind.STATIC:
        if filter:
            raise DomainError(
                "FILTER_ON_STATIC", "a static segment has members, not a filter", "filter"
            )
        return {}
    if filter is None:
        raise DomainError("INVALID_FILTER", "a dynamic segment needs a filter", "filter")
    return check_filter(filter)


async def get_segment(project_id: str, segment_id: str, field: str = "id") -> Segment:
    segment = await Segment.find_one(
        {"_id": object_id(segment_id, "segment", field), "project_id": project_id}
    )
    if segment is None:
        raise NotFound("segment", field)
    return segment


async def list_segments(project_id: str, first: int, after: str | None) -> Page[Segment]:
    return await paginate(Segment, {"project_id": project_id}, first, after)


async def create_segment(
    project_id: str, name: str, kind: SegmentKind, filter: Any = None
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
            "DUPLICATE_NAME", "a segment with this name already exists", "name"
        ) from None
    return segment


async def update_segment(
    project_id: str, segment_id: str, name: str | None = None, filter: Any = None
) -> Segment:
    """Renames the segment and/or replaces a dynamic segment's filter; the kind stays."""
    segment = await get_segment(project_id, segment_id)
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
            "DUPLICATE_NAME", "a segment with this name already exists", "name"
        ) from None
    return await get_segment(project_id, segment_id)


async def delete_segment(project_id: str, segment_id: str) -> Segment:
    """Deletes the segment and its members; refused while a campaign that has not ended
    targets it, by its own rules or an experiment variant's (whose codes keep them), since
    that campaign would then match nobody."""
    segment = await get_segment(project_id, segment_id)
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
            "SEGMENT_IN_USE", f"campaigns target this segment: {names}; end them first", "id"
        )
    await Segment.get_pymongo_collection().delete_one({"_id": segment.id, "project_id": project_id})
    await SegmentMember.get_pymongo_collection().delete_many(
        {"project_id": project_id, "segment_id": segment.key}
    )
    return segment


def _given_ids(customer_ids: list[str]) -> list[str]:
    if not 0 < len(customer_ids) <= MAX_IDS_PER_CALL:
        raise DomainError(
            "INVALID", f"give 1 to {MAX_IDS_PER_CALL:,} customer ids per call", "customerIds"
        )
    return list(dict.fromkeys(str(i).strip() for i in customer_ids))


async def _static_segment(project_id: str, segment_id: str) -> Segment:
    segment = await get_segment(project_id, segment_id, "segmentId")
    if segment.kind != SegmentKind.STATIC:
        raise DomainError("NOT_STATIC", "members are added to static segments only", "segmentId")
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
            "UNKNOWN_CUSTOMER",
            f"{customer_id} is not a customer of this project",
            f"customerIds.{index.get(customer_id, 0)}",
        )
        for customer_id in unknown[:MAX_LISTED_UNKNOWN]
    ]
    if len(unknown) > MAX_LISTED_UNKNOWN:
        problems.append(
            Problem(
                "UNKNOWN_CUSTOMER",
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


async def add_members(project_id: str, segment_id: str, customer_ids: list[str]) -> MembersChange:
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
            "SEGMENT_FULL",
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
        segment=await get_segment(project_id, segment.key),
        changed=inserted,
        unchanged=len(given) - inserted,
    )


async def remove_members(
    project_id: str, segment_id: str, customer_ids: list[str]
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
        segment=await get_segment(project_id, segment.key),
        changed=removed,
        unchanged=len(given) - removed,
    )


async def forget_customer(project_id: str, customer_id: str) -> None:
    """Takes an erased customer out of every static segment, each count moved once."""
    members = SegmentMember.get_pymongo_collection()
    async for row in members.find({"project_id": project_id, "customer_id": customer_id}):
        deleted = await members.delete_one({"_id": row["_id"]})
        if deleted.deleted_count and ObjectId.is_valid(row["segment_id"]):
            await Segment.get_pymongo_collection().update_one(
                {"_id": ObjectId(row["segment_id"]), "project_id": project_id},
                {"$inc": {"members_count": -1}},
            )


# Evaluation


def match_query(segment: Segment, now: datetime | None = None) -> dict[str, Any]:
    """A dynamic segment's customers as a MongoDB query."""
    if segment.kind != SegmentKind.DYNAMIC:
        raise ValueError("only dynamic segments have a customer query")
    return compile_filter(segment.project_id, segment.filter, now or utc_now())


async def segment_size(segment: Segment, now: datetime | None = None) -> int:
    """Counted by the database: the kept count for a static segment; for a dynamic one
    count_documents, an aggregation ($match then a $sum) that returns only the number."""
    if segment.kind == SegmentKind.STATIC:
        return segment.members_count
    return int(await Customer.get_pymongo_collection().count_documents(match_query(segment, now)))


async def segment_sizes(
    project_id: str, segments: list[Segment], now: datetime | None = None
) -> dict[str, int]:
    """segment_size of several segments of the project, by id: the kept counts of static ones;
    dynamic ones together in one read of the project's customers, each matched as
    customer_in_segments does (the embedded server's $facet matches some filters wrongly)."""
    moment = now or utc_now()
    mine = {s.key: s for s in segments if s.project_id == project_id}
    sizes = {key: s.members_count for key, s in mine.items() if s.kind == SegmentKind.STATIC}
    dynamic = {
        key: match_query(s, moment) for key, s in mine.items() if s.kind == SegmentKind.DYNAMIC
    }
    if len(dynamic) == 1:
        [key] = dynamic
        sizes[key] = await segment_size(mine[key], moment)
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
            counts[key] += matches(query, doc)
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
    segment: Segment, first: int, now: datetime | None = None
) -> list[Customer]:
    """The first `first` members in customer id order."""
    if not 0 <= first <= MAX_SAMPLE:
        raise DomainError("INVALID", f"first must be between 0 and {MAX_SAMPLE}", "first")
    if first == 0:
        return []
    if segment.kind == SegmentKind.DYNAMIC:
        return await Customer.find(match_query(segment, now)).sort("_id").limit(first).to_list()
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
    project_id: str, segments: list[Segment], first: int, now: datetime | None = None
) -> dict[str, list[Customer]]:
    """segment_sample of several segments of the project, by id, in at most three reads: the
    static ones' first members together, then those customers; dynamic ones in one walk of the
    project's customers in id order, each matched as customer_in_segments does."""
    if not 0 <= first <= MAX_SAMPLE:
        raise DomainError("INVALID", f"first must be between 0 and {MAX_SAMPLE}", "first")
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
        samples[key] = await segment_sample(segment, first, moment)
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
    queries = {key: match_query(segment, now) for key, segment in segments.items()}
    samples: dict[str, list[Customer]] = {key: [] for key in segments}
    cursor = Customer.get_pymongo_collection().find(
        {"project_id": project_id, "erased": False}, sort=[("_id", 1)]
    )
    async for doc in cursor:
        unfilled = [key for key, found in samples.items() if len(found) < first]
        if not unfilled:
            break
        for key in unfilled:
            if matches(queries[key], doc):
                samples[key].append(Customer.model_validate(doc))
    await cursor.close()
    return samples


async def segment_customer_ids(
    segment: Segment, after: str | None = None, batch_size: int = 1_000, now: datetime | None = None
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
        query = match_query(segment, now)
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


# Matching one customer. The embedded server answers a find_one on _id plus a filter it
# evaluates in Python by scanning the whole collection (0.3 s per 10,000 customers), too slow
# for a check at the till: the customer is read by _id and the compiled query is applied to it
# here, with MongoDB's semantics for the operators compile_filter emits.


def _family(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _resolve(value: Any, parts: list[str]) -> list[Any]:
    """The values a dotted path reaches, arrays on the way traversed; [] when missing."""
    if not parts:
        return [value]
    if isinstance(value, dict):
        return _resolve(value[parts[0]], parts[1:]) if parts[0] in value else []
    if isinstance(value, list):
        return [found for item in value for found in _resolve(item, parts)]
    return []


def _candidates(values: list[Any]) -> list[Any]:
    """An array matches through its elements as well as whole."""
    return [c for v in values for c in ([*v, v] if isinstance(v, list) else [v])]


def _equal(a: Any, b: Any) -> bool:
    return _family(a) == _family(b) and a == b


_COMPARE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _operator(values: list[Any], op: str, wanted: Any) -> bool:
    candidates = _candidates(values)
    if op == "$eq":
        return any(_equal(c, wanted) for c in candidates)
    if op == "$ne":
        return not _operator(values, "$eq", wanted)
    if op == "$in":
        return any(_equal(c, w) for c in candidates for w in wanted)
    if op == "$nin":
        return not _operator(values, "$in", wanted)
    if op in _COMPARE:
        return any(
            c is not None and _family(c) == _family(wanted) and _COMPARE[op](c, wanted)
            for c in candidates
        )
    if op == "$exists":
        return bool(values) == wanted
    if op == "$type":
        return any(_family(c) == {"string": "str"}.get(wanted, wanted) for c in candidates)
    if op == "$elemMatch":
        return any(
            isinstance(v, list) and all(_operator(v, k, w) for k, w in wanted.items())
            for v in values
        )
    raise ValueError(f"no matcher for {op}")


def matches(query: dict[str, Any], doc: dict[str, Any]) -> bool:
    """Whether the document matches a query made by compile_filter."""
    for key, condition in query.items():
        if key == "$and":
            ok = all(matches(part, doc) for part in condition)
        elif key == "$or":
            ok = any(matches(part, doc) for part in condition)
        elif key == "$nor":
            ok = not any(matches(part, doc) for part in condition)
        else:
            values = _resolve(doc, key.split("."))
            if (
                isinstance(condition, dict)
                and condition
                and all(k.startswith("$") for k in condition)
            ):
                ok = all(_operator(values, op, wanted) for op, wanted in condition.items())
            else:
                ok = _operator(values, "$eq", condition)
        if not ok:
            return False
    return True


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
    return raw is not None and any(matches(match_query(segment, now), raw) for segment in dynamic)
