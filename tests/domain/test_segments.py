"""Segments: the filter language against a Python reference on 10,000 customers, static members
in bulk, erasure, tenancy, and membership as campaign rules see it."""

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from domain.campaigns import CampaignStatus, Rules
from domain.customer_lifecycle import erase_customer
from domain.customers import Customer
from domain.errors import DomainError
from domain.rfm import group_of
from domain.segments import (
    MAX_IDS_PER_CALL,
    Segment,
    SegmentKind,
    SegmentMember,
    add_members,
    check_filter,
    create_segment,
    customer_in_segments,
    delete_segment,
    get_segment,
    remove_members,
    segment_customer_ids,
    segment_sample,
    segment_samples,
    segment_size,
    segment_sizes,
    update_segment,
)
from tests.factories import Tenant, make_campaign, make_customer

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
MISSING = object()
TAGS = ["vip", "b2b", "newsletter", "wholesale"]
CITIES = ["Paris", "Lyon", "Nice", "Lille"]
INTERESTS = ["shoes", "hats", "bags", "socks"]


def at(days_ago: float) -> datetime:
    moment = NOW - timedelta(days=days_ago)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def generated_customer(rng: random.Random, project_id: str, i: int) -> dict[str, Any]:
    orders = rng.choice([0, 0, 1, 2, 3, 5, 8, 13])
    last = at(rng.uniform(0, 700)) if orders else None
    attributes: dict[str, Any] = {}
    if rng.random() < 0.8:
        attributes["city"] = rng.choice(CITIES)
    if rng.random() < 0.7:
        attributes["age"] = rng.randint(18, 80)
    if rng.random() < 0.6:
        attributes["score"] = round(rng.uniform(0, 10), 2)
    if rng.random() < 0.5:
        attributes["newsletter"] = rng.random() < 0.5
    if rng.random() < 0.5:
        attributes["interests"] = rng.sample(INTERESTS, rng.randint(0, 3))
    if rng.random() < 0.3:
        attributes["address"] = {"country": rng.choice(["FR", "BE", "CH"])}
    recency, frequency = (rng.randint(1, 5), rng.randint(1, 5)) if orders else (0, 0)
    return {
        "_id": ObjectId(),
        "project_id": project_id,
        "source_id": f"s-{i}",
        "email": f"c{i}@example.com" if rng.random() < 0.8 else None,
        "phone": None,
        "name": f"Customer {i}",
        "attributes": attributes,
        "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
        "consents": {"email": rng.random() < 0.5, "sms": rng.random() < 0.3},
        "consent_log": [],
        "metrics": {
            "orders_count": orders,
            "total_spent": orders * rng.randint(500, 20_000),
            "first_order_at": last - timedelta(days=orders * 10) if last else None,
            "last_order_at": last,
        },
        "metrics_version": 0,
        "metrics_effects": [],
        "rfm": {
            "recency": recency,
            "frequency": frequency,
            "monetary": rng.randint(1, 5) if orders else 0,
            "group": group_of(recency, frequency),
            "computed_at": NOW,
        },
        "created_at": at(rng.uniform(0, 900)),
        "updated_at": NOW,
        "erased": rng.random() < 0.03,
        "erased_at": None,
    }


# The reference: MongoDB's meaning of each op, written out in Python.


def lookup(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def same_type(a: Any, b: Any) -> bool:
    def family(v: Any) -> str:
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int | float):
            return "number"
        return type(v).__name__

    return family(a) == family(b)


def candidates(value: Any) -> list[Any]:
    """The values a condition is tried on: an array's elements (and the array itself)."""
    return [*value, value] if isinstance(value, list) else [value]


def equals(value: Any, wanted: Any) -> bool:
    return any(same_type(v, wanted) and v == wanted for v in candidates(value))


def compares(value: Any, op: str, wanted: Any) -> bool:
    test: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return any(
        v is not None and same_type(v, wanted) and test[op](v, wanted) for v in candidates(value)
    )


def reference(node: dict[str, Any], doc: dict[str, Any]) -> bool:
    if "all" in node:
        return all(reference(child, doc) for child in node["all"])
    if "any" in node:
        return any(reference(child, doc) for child in node["any"])
    field, op, wanted = node["field"], node["op"], node["value"]
    value = lookup(doc, field)
    if isinstance(wanted, str) and field.endswith("_at") and op in ("gt", "gte", "lt", "lte"):
        wanted = datetime.fromisoformat(wanted)
    if op == "eq":
        return equals(value, wanted)
    if op == "ne":
        return not equals(value, wanted)
    if op == "in":
        return any(equals(value, w) for w in wanted)
    if op in ("gt", "gte", "lt", "lte"):
        return compares(value, op, wanted)
    if op == "older_than_days":
        return isinstance(value, datetime) and value < NOW - timedelta(days=wanted)
    if op == "within_days":
        return isinstance(value, datetime) and value >= NOW - timedelta(days=wanted)
    if op == "contains":
        return isinstance(value, list) and wanted in value
    assert op == "exists"
    if field.startswith("attributes."):
        return (value is not MISSING) == wanted
    return isinstance(value, str | datetime) == wanted


# Together these use every op, each kind of field, and all/any nesting.
FILTERS: list[dict[str, Any]] = [
    {
        "all": [
            {"field": "metrics.total_spent", "op": "gte", "value": 20_000},
            {"field": "attributes.city", "op": "eq", "value": "Paris"},
            {"field": "tags", "op": "contains", "value": "VIP"},
        ]
    },
    {
        "any": [
            {"field": "rfm.group", "op": "in", "value": ["champions", "loyal"]},
            {
                "all": [
                    {"field": "metrics.last_order_at", "op": "older_than_days", "value": 365},
                    {"field": "rfm.monetary", "op": "gt", "value": 3},
                ]
            },
        ]
    },
    {
        "all": [
            {"field": "attributes.city", "op": "ne", "value": "Lyon"},
            {"field": "attributes.age", "op": "lt", "value": 30},
            {"field": "consents.email", "op": "eq", "value": True},
        ]
    },
    {
        "all": [
            {"field": "attributes.interests", "op": "contains", "value": "hats"},
            {"field": "tags", "op": "ne", "value": "b2b"},
            {"field": "attributes.score", "op": "lte", "value": 5.5},
        ]
    },
    {
        "any": [
            {"field": "attributes.newsletter", "op": "exists", "value": False},
            {"field": "email", "op": "exists", "value": False},
        ]
    },
    {
        "all": [
            {"field": "metrics.last_order_at", "op": "within_days", "value": 90},
            {"field": "metrics.orders_count", "op": "in", "value": [2, 3, 5]},
            {"field": "attributes.address.country", "op": "in", "value": ["FR", "BE"]},
        ]
    },
    {
        "all": [
            {"field": "created_at", "op": "gte", "value": "2024-06-30T12:00:00+00:00"},
            {"field": "rfm.recency", "op": "ne", "value": 3},
            {"field": "tags", "op": "in", "value": ["wholesale", "newsletter"]},
            {"field": "attributes.age", "op": "gte", "value": 60},
        ]
    },
    {
        "all": [
            {"field": "metrics.first_order_at", "op": "lt", "value": "2024-01-01T00:00:00Z"},
            {"field": "attributes.score", "op": "gt", "value": 8},
            {"field": "metrics.last_order_at", "op": "exists", "value": True},
            {"field": "attributes.age", "op": "exists", "value": True},
        ]
    },
]


async def test_dynamic_membership_equals_the_reference_on_10000_customers(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    rng = random.Random(7)
    docs = [generated_customer(rng, tenant.project_id, i) for i in range(10_000)]
    # Another project's customers would match too, if tenancy failed.
    strangers = [generated_customer(rng, other_tenant.project_id, i) for i in range(300)]
    collection = Customer.get_pymongo_collection()
    await collection.insert_many(docs + strangers)
    mine = [doc for doc in docs if not doc["erased"]]
    sizes: dict[str, int] = {}
    firsts: dict[str, list[str]] = {}
    segments: list[Segment] = []

    for i, raw in enumerate(FILTERS):
        segment = await create_segment(
            project_id=tenant.project_id, name=f"s{i}", kind=SegmentKind.DYNAMIC, filter=raw
        )
        expected = {str(doc["_id"]) for doc in mine if reference(segment.filter, doc)}
        assert 50 < len(expected) < len(mine) - 50, (i, len(expected))
        sizes[segment.key] = len(expected)
        segments.append(segment)

        assert await segment_size(segment=segment, now=NOW) == len(expected), i
        walked = [
            cid
            async for batch in segment_customer_ids(
                segment=segment, after=None, batch_size=2_000, now=NOW
            )
            for cid in batch
        ]
        assert walked == sorted(walked, key=ObjectId) and set(walked) == expected, i
        firsts[segment.key] = walked[:10]
        if i == 0:
            resumed = [
                cid
                async for batch in segment_customer_ids(
                    segment=segment, after=walked[9], batch_size=500, now=NOW
                )
                for cid in batch
            ]
            assert resumed == walked[10:]
            sample = await segment_sample(segment=segment, first=10, now=NOW)
            assert [c.key for c in sample] == walked[:10]

        # The check campaigns make, one customer at a time, agrees with the database.
        probes = rng.sample(mine, 40) + [doc for doc in mine if str(doc["_id"]) in expected][:20]
        for doc in probes:
            customer = Customer.model_validate(doc)
            in_it = await customer_in_segments(tenant.project_id, customer, [segment.key], NOW)
            assert in_it == (str(doc["_id"]) in expected), (i, doc["_id"])

    # All of them counted at once (a page of segments) agree with the reference too.
    assert await segment_sizes(project_id=tenant.project_id, segments=segments, now=NOW) == sizes
    samples = await segment_samples(
        project_id=tenant.project_id, segments=segments, first=10, now=NOW
    )
    assert {key: [c.key for c in found] for key, found in samples.items()} == firsts


def test_invalid_filters_are_refused_with_the_path_of_each_bad_node() -> None:
    with pytest.raises(DomainError) as refused:
        check_filter(
            {
                "all": [
                    {"field": "metrics.total_spent", "op": "gte", "value": "a lot"},
                    {"field": "password", "op": "eq", "value": "x"},
                    {"any": []},
                    {"any": [{"field": "tags", "op": "gt", "value": "vip"}]},
                    {"field": "rfm.group", "op": "eq", "value": "royalty"},
                    {"field": "attributes.a$b", "op": "eq", "value": 1},
                    {"field": "attributes.x", "op": "eq", "value": None},
                    {"field": "metrics.last_order_at", "op": "older_than_days", "value": -1},
                    {"field": "created_at", "op": "gt", "value": "yesterday"},
                    {"field": "metrics.orders_count", "op": "eq", "value": True},
                    {"field": "email", "op": "exists"},
                    {"field": "name", "op": "eq", "value": "x", "extra": 1},
                    "not a node",
                ]
            }
        )
    problems = refused.value.problems
    assert {p.code for p in problems} == {"INVALID_FILTER"}
    assert [p.field for p in problems] == [
        "filter.all.0.value",
        "filter.all.1.field",
        "filter.all.2.any",
        "filter.all.3.any.0.op",
        "filter.all.4.value",
        "filter.all.5.field",
        "filter.all.6.value",
        "filter.all.7.value",
        "filter.all.8.value",
        "filter.all.9.value",
        "filter.all.10.value",
        "filter.all.11",
        "filter.all.12",
    ]
    deep: dict[str, Any] = {"field": "tags", "op": "contains", "value": "vip"}
    for _ in range(7):
        deep = {"all": [deep]}
    with pytest.raises(DomainError, match="nest at most"):
        check_filter(deep)
    with pytest.raises(DomainError, match="at most 100 conditions"):
        check_filter({"any": [{"field": "tags", "op": "contains", "value": "x"}] * 101})


async def test_an_invalid_filter_writes_nothing(tenant: Tenant) -> None:
    bad = {"field": "metrics.total_spent", "op": "between", "value": [1, 2]}
    with pytest.raises(DomainError) as refused:
        await create_segment(
            project_id=tenant.project_id, name="Big", kind=SegmentKind.DYNAMIC, filter=bad
        )
    assert refused.value.problems[0].field == "filter.op"
    assert await Segment.find_all().count() == 0

    good = {"field": "tags", "op": "contains", "value": "Vip"}
    segment = await create_segment(
        project_id=tenant.project_id, name="Big", kind=SegmentKind.DYNAMIC, filter=good
    )
    assert segment.filter == {"field": "tags", "op": "contains", "value": "vip"}
    with pytest.raises(DomainError):
        await update_segment(
            project_id=tenant.project_id, segment_id=segment.key, name="Bigger", filter=bad
        )
    assert (await get_segment(tenant.project_id, segment.key)).name == "Big"
    with pytest.raises(DomainError, match="static segment has members"):
        await create_segment(
            project_id=tenant.project_id, name="List", kind=SegmentKind.STATIC, filter=good
        )
    with pytest.raises(DomainError) as duplicate:
        await create_segment(project_id=tenant.project_id, name="Big", kind=SegmentKind.STATIC)
    assert duplicate.value.code == "DUPLICATE_NAME"


async def test_static_members_in_bulk(tenant: Tenant) -> None:
    docs = [
        {"_id": ObjectId(), "project_id": tenant.project_id, "name": f"c{i}", "erased": False}
        for i in range(20_000)
    ]
    await Customer.get_pymongo_collection().insert_many(docs)
    ids = [str(doc["_id"]) for doc in docs]
    segment = await create_segment(
        project_id=tenant.project_id, name="Imported", kind=SegmentKind.STATIC
    )

    first = await add_members(
        project_id=tenant.project_id, segment_id=segment.key, customer_ids=ids[:10_000]
    )
    # Half of these are in already; repeats inside one call count once.
    second = await add_members(
        project_id=tenant.project_id, segment_id=segment.key, customer_ids=ids[5_000:15_000]
    )
    third = await add_members(
        project_id=tenant.project_id,
        segment_id=segment.key,
        customer_ids=ids[15_000:] + ids[15_000:15_100],
    )

    assert (first.changed, first.unchanged) == (10_000, 0)
    assert (second.changed, second.unchanged) == (5_000, 5_000)
    assert (third.changed, third.unchanged) == (5_000, 100)
    assert third.segment.members_count == 20_000
    assert await segment_size(segment=third.segment) == 20_000
    assert await SegmentMember.find({"segment_id": segment.key}).count() == 20_000
    sample = await segment_sample(segment=third.segment, first=10)
    assert [c.key for c in sample] == sorted(ids)[:10]
    walked = [
        i
        async for batch in segment_customer_ids(segment=third.segment, after=None, batch_size=3_000)
        for i in batch
    ]
    assert walked == sorted(ids)

    removed = await remove_members(
        project_id=tenant.project_id, segment_id=segment.key, customer_ids=ids[:100] + ids[:100]
    )
    assert (removed.changed, removed.unchanged) == (100, 100)
    assert removed.segment.members_count == 19_900
    customer = await Customer.get(docs[500]["_id"])
    assert customer is not None
    assert await customer_in_segments(tenant.project_id, customer, [segment.key])
    outside = await Customer.get(docs[50]["_id"])
    assert outside is not None
    assert not await customer_in_segments(tenant.project_id, outside, [segment.key])

    with pytest.raises(DomainError, match="1 to 10,000"):
        await add_members(
            project_id=tenant.project_id,
            segment_id=segment.key,
            customer_ids=ids[: MAX_IDS_PER_CALL + 1],
        )


async def test_unknown_ids_refuse_the_whole_call(tenant: Tenant, other_tenant: Tenant) -> None:
    ours = [await make_customer(project_id=tenant.project_id, name=f"c{i}") for i in range(3)]
    theirs = await make_customer(project_id=other_tenant.project_id, name="stranger")
    gone = await make_customer(project_id=tenant.project_id, name="gone")
    await erase_customer(tenant.project_id, gone.key, "test")
    segment = await create_segment(
        project_id=tenant.project_id, name="List", kind=SegmentKind.STATIC
    )

    given = [ours[0].key, theirs.key, ours[1].key, "not-an-id", gone.key]
    with pytest.raises(DomainError) as refused:
        await add_members(project_id=tenant.project_id, segment_id=segment.key, customer_ids=given)

    assert [(p.code, p.field) for p in refused.value.problems] == [
        ("UNKNOWN_CUSTOMER", "customerIds.1"),
        ("UNKNOWN_CUSTOMER", "customerIds.3"),
        ("UNKNOWN_CUSTOMER", "customerIds.4"),
    ]
    assert theirs.key in refused.value.problems[0].message
    assert await SegmentMember.find_all().count() == 0
    assert (await get_segment(tenant.project_id, segment.key)).members_count == 0
    dynamic = await create_segment(
        project_id=tenant.project_id,
        name="Dyn",
        kind=SegmentKind.DYNAMIC,
        filter={"field": "tags", "op": "contains", "value": "x"},
    )
    with pytest.raises(DomainError) as not_static:
        await add_members(
            project_id=tenant.project_id, segment_id=dynamic.key, customer_ids=[ours[0].key]
        )
    assert not_static.value.code == "NOT_STATIC"


async def test_erased_customers_leave_every_segment(tenant: Tenant) -> None:
    ada = await make_customer(project_id=tenant.project_id, name="Ada", tags=["vip"])
    bob = await make_customer(project_id=tenant.project_id, name="Bob", tags=["vip"])
    listed = await create_segment(
        project_id=tenant.project_id, name="List", kind=SegmentKind.STATIC
    )
    vips = await create_segment(
        project_id=tenant.project_id,
        name="VIP",
        kind=SegmentKind.DYNAMIC,
        filter={"field": "tags", "op": "contains", "value": "vip"},
    )
    await add_members(
        project_id=tenant.project_id, segment_id=listed.key, customer_ids=[ada.key, bob.key]
    )
    assert await segment_size(segment=vips) == 2

    await erase_customer(tenant.project_id, ada.key, "test")

    listed = await get_segment(tenant.project_id, listed.key)
    assert await segment_size(segment=listed) == 1
    assert [c.key for c in await segment_sample(segment=listed, first=10)] == [bob.key]
    assert await segment_size(segment=vips) == 1
    assert not await customer_in_segments(tenant.project_id, ada, [listed.key, vips.key])


async def test_segments_belong_to_their_project(tenant: Tenant, other_tenant: Tenant) -> None:
    ours = await make_customer(project_id=tenant.project_id, name="Ada", tags=["vip"])
    theirs = await make_customer(project_id=other_tenant.project_id, name="Eve", tags=["vip"])
    vips = await create_segment(
        project_id=other_tenant.project_id,
        name="VIP",
        kind=SegmentKind.DYNAMIC,
        filter={"field": "tags", "op": "contains", "value": "vip"},
    )
    listed = await create_segment(
        project_id=other_tenant.project_id, name="List", kind=SegmentKind.STATIC
    )
    await add_members(
        project_id=other_tenant.project_id, segment_id=listed.key, customer_ids=[theirs.key]
    )

    with pytest.raises(DomainError):
        await get_segment(tenant.project_id, vips.key)
    with pytest.raises(DomainError):
        await add_members(
            project_id=tenant.project_id, segment_id=listed.key, customer_ids=[ours.key]
        )
    assert not await customer_in_segments(tenant.project_id, ours, [vips.key, listed.key])
    assert await customer_in_segments(other_tenant.project_id, theirs, [vips.key, listed.key])
    assert [c.key for c in await segment_sample(segment=vips, first=10)] == [theirs.key]


async def test_a_segment_a_campaign_targets_is_not_deleted(tenant: Tenant) -> None:
    ada = await make_customer(project_id=tenant.project_id, name="Ada")
    segment = await create_segment(
        project_id=tenant.project_id, name="List", kind=SegmentKind.STATIC
    )
    await add_members(project_id=tenant.project_id, segment_id=segment.key, customer_ids=[ada.key])
    campaign = await make_campaign(
        project_id=tenant.project_id, rules=Rules(segment_ids=[segment.key])
    )

    with pytest.raises(DomainError) as refused:
        await delete_segment(project_id=tenant.project_id, segment_id=segment.key)
    assert refused.value.code == "SEGMENT_IN_USE"

    campaign.status = CampaignStatus.ENDED
    await campaign.save()
    await delete_segment(project_id=tenant.project_id, segment_id=segment.key)
    assert await Segment.find_all().count() == 0
    assert await SegmentMember.find_all().count() == 0


async def test_a_segment_an_experiment_variant_targets_is_not_deleted(tenant: Tenant) -> None:
    from domain.campaigns import RulesInput
    from domain.experiments import ExperimentInput, VariantInput, create_experiment

    segment = await create_segment(
        project_id=tenant.project_id, name="List", kind=SegmentKind.STATIC
    )
    unused = await create_segment(
        project_id=tenant.project_id, name="Other", kind=SegmentKind.STATIC
    )
    campaign = await make_campaign(project_id=tenant.project_id, name="Spring test")
    targeted = VariantInput(key="a", rules=RulesInput(segment_ids=[segment.key]))
    await create_experiment(
        project_id=tenant.project_id,
        data=ExperimentInput(
            campaign_id=campaign.key, name="t", variants=[targeted, VariantInput(key="b")]
        ),
    )

    with pytest.raises(DomainError) as refused:
        await delete_segment(project_id=tenant.project_id, segment_id=segment.key)
    assert refused.value.code == "SEGMENT_IN_USE" and "Spring test" in str(refused.value)
    await delete_segment(project_id=tenant.project_id, segment_id=unused.key)

    campaign.status = CampaignStatus.ENDED
    await campaign.save()
    await delete_segment(project_id=tenant.project_id, segment_id=segment.key)
    assert await Segment.find_all().count() == 0
