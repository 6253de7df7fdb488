"""Segments, RFM and segment-restricted campaigns over GraphQL."""

from typing import Any

from domain.campaigns import Rules
from domain.customers import OrderMetrics
from domain.jobs import run_pending_jobs
from domain.segments import Segment
from tests.factories import Tenant, make_campaign, make_code, make_customer, make_pos_key
from tests.schema.test_redemptions import ORDER, REDEEM, VALIDATE

SEGMENT_FIELDS = "id name kind size filter sample(first: 10) { id name }"
CREATE = f"""
mutation ($input: SegmentInput!) {{
  createSegment(input: $input) {{ segment {{ {SEGMENT_FIELDS} }} errors {{ code field message }} }}
}}"""
UPDATE = f"""
mutation ($id: ID!, $input: SegmentUpdateInput!) {{
  updateSegment(id: $id, input: $input) {{ segment {{ {SEGMENT_FIELDS} }} errors {{ code field }} }}
}}"""
DELETE = "mutation ($id: ID!) { deleteSegment(id: $id) { segment { id } errors { code } } }"
ADD = """
mutation ($id: ID!, $ids: [ID!]!) {
  addSegmentMembers(segmentId: $id, customerIds: $ids) {
    segment { id size } added alreadyMembers errors { code field message }
  }
}"""
REMOVE = """
mutation ($id: ID!, $ids: [ID!]!) {
  removeSegmentMembers(segmentId: $id, customerIds: $ids) {
    segment { id size } removed notMembers errors { code field }
  }
}"""
GET = f"query ($id: ID!) {{ segment(id: $id) {{ {SEGMENT_FIELDS} }} }}"
LIST = "query { segments(first: 10) { edges { node { id name kind } } totalCount } }"
RFM = """mutation { recomputeRfm { job { id kind status } errors { code } } }"""
CUSTOMER_RFM = """
query ($id: ID!) {
  customer(id: $id) { id rfm { recency frequency monetary group computedAt } }
}"""
BIG_SPENDERS = {
    "all": [
        {"field": "metrics.total_spent", "op": "gte", "value": 5_000},
        {"field": "attributes.city", "op": "eq", "value": "Paris"},
    ]
}


async def create(tenant: Tenant, **input: Any) -> dict[str, Any]:
    return dict((await tenant.gql(CREATE, {"input": input}))["createSegment"])


async def test_dynamic_segment_size_sample_and_filter(tenant: Tenant) -> None:
    paris = {"city": "Paris"}
    ada = await make_customer(
        project_id=tenant.project_id,
        name="Ada",
        attributes=paris,
        metrics=OrderMetrics(total_spent=9_000),
    )
    await make_customer(
        project_id=tenant.project_id,
        name="Bob",
        attributes=paris,
        metrics=OrderMetrics(total_spent=100),
    )
    await make_customer(
        project_id=tenant.project_id,
        name="Cyd",
        attributes={"city": "Lyon"},
        metrics=OrderMetrics(total_spent=9_000),
    )

    created = await create(tenant, name="Big in Paris", kind="DYNAMIC", filter=BIG_SPENDERS)

    assert created["errors"] == []
    segment = created["segment"]
    assert (segment["kind"], segment["size"], segment["filter"]) == ("DYNAMIC", 1, BIG_SPENDERS)
    assert segment["sample"] == [{"id": ada.key, "name": "Ada"}]
    found = (await tenant.gql(GET, {"id": segment["id"]}))["segment"]
    assert found == segment
    wider = {"field": "metrics.total_spent", "op": "gte", "value": 5_000}
    updated = await tenant.gql(UPDATE, {"id": segment["id"], "input": {"filter": wider}})
    assert updated["updateSegment"]["segment"]["size"] == 2
    listed = (await tenant.gql(LIST))["segments"]
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"] == {
        "id": segment["id"],
        "name": "Big in Paris",
        "kind": "DYNAMIC",
    }


async def test_invalid_filters_are_typed_errors_and_write_nothing(tenant: Tenant) -> None:
    bad = {"all": [{"field": "metrics.total_spent", "op": "gte", "value": "lots"}, {"any": []}]}

    created = await create(tenant, name="Broken", kind="DYNAMIC", filter=bad)

    assert created["segment"] is None
    assert [(e["code"], e["field"]) for e in created["errors"]] == [
        ("INVALID_FILTER", "filter.all.0.value"),
        ("INVALID_FILTER", "filter.all.1.any"),
    ]
    assert await Segment.find_all().count() == 0
    missing = await create(tenant, name="Nothing", kind="DYNAMIC")
    assert [e["code"] for e in missing["errors"]] == ["INVALID_FILTER"]


async def test_static_members_over_graphql(tenant: Tenant, other_tenant: Tenant) -> None:
    ada = await make_customer(project_id=tenant.project_id, name="Ada")
    bob = await make_customer(project_id=tenant.project_id, name="Bob")
    stranger = await make_customer(project_id=other_tenant.project_id, name="Eve")
    segment = (await create(tenant, name="Newsletter", kind="STATIC"))["segment"]
    assert (segment["size"], segment["filter"]) == (0, None)

    refused = (await tenant.gql(ADD, {"id": segment["id"], "ids": [ada.key, stranger.key]}))[
        "addSegmentMembers"
    ]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("UNKNOWN_CUSTOMER", "customerIds.1")
    ]
    assert (await tenant.gql(GET, {"id": segment["id"]}))["segment"]["size"] == 0

    added = (await tenant.gql(ADD, {"id": segment["id"], "ids": [ada.key, bob.key, ada.key]}))[
        "addSegmentMembers"
    ]
    assert (added["added"], added["alreadyMembers"], added["segment"]["size"]) == (2, 1, 2)
    removed = (await tenant.gql(REMOVE, {"id": segment["id"], "ids": [bob.key, stranger.key]}))[
        "removeSegmentMembers"
    ]
    assert (removed["removed"], removed["notMembers"], removed["segment"]["size"]) == (1, 1, 1)
    found = (await tenant.gql(GET, {"id": segment["id"]}))["segment"]
    assert found["sample"] == [{"id": ada.key, "name": "Ada"}]

    # Another project sees nothing of it.
    assert (await other_tenant.gql(GET, {"id": segment["id"]}))["segment"] is None
    theirs = await other_tenant.gql(ADD, {"id": segment["id"], "ids": [stranger.key]})
    assert [e["code"] for e in theirs["addSegmentMembers"]["errors"]] == ["NOT_FOUND"]
    assert (await tenant.gql(DELETE, {"id": segment["id"]}))["deleteSegment"]["errors"] == []
    assert (await tenant.gql(GET, {"id": segment["id"]}))["segment"] is None


async def test_segments_are_for_admin_keys(tenant: Tenant) -> None:
    till = tenant.gql.as_token(await make_pos_key(tenant=tenant))
    response = await till.raw(LIST)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_campaign_segments_decide_validate_and_redeem(tenant: Tenant) -> None:
    member = await make_customer(project_id=tenant.project_id, name="Ada", tags=["vip"])
    outsider = await make_customer(project_id=tenant.project_id, name="Bob")
    listed = (await create(tenant, name="List", kind="STATIC"))["segment"]
    await tenant.gql(ADD, {"id": listed["id"], "ids": [outsider.key]})
    vips = (
        await create(
            tenant,
            name="VIP",
            kind="DYNAMIC",
            filter={"field": "tags", "op": "contains", "value": "vip"},
        )
    )["segment"]
    campaign = await make_campaign(
        project_id=tenant.project_id, rules=Rules(segment_ids=[vips["id"]])
    )
    await make_code(campaign=campaign)

    async def validate(customer_id: str) -> dict[str, Any]:
        variables = {"code": "SUMMER-20", "customerId": customer_id, "order": ORDER}
        return dict((await tenant.gql(VALIDATE, variables))["validateCode"])

    assert (await validate(member.key))["valid"] is True
    assert (await validate(outsider.key))["reasons"] == ["NOT_IN_SEGMENT"]
    refused = await tenant.gql(
        REDEEM, {"code": "SUMMER-20", "customerId": outsider.key, "order": ORDER}
    )
    assert [e["code"] for e in refused["redeemCode"]["errors"]] == ["NOT_IN_SEGMENT"]
    redeemed = await tenant.gql(
        REDEEM, {"code": "SUMMER-20", "customerId": member.key, "order": ORDER}
    )
    assert redeemed["redeemCode"]["errors"] == []

    # The static segment lets its member in too: at least one segment is enough.
    campaign.rules.segment_ids = [vips["id"], listed["id"]]
    await campaign.save()
    assert (await validate(outsider.key))["valid"] is True
    in_use = (await tenant.gql(DELETE, {"id": vips["id"]}))["deleteSegment"]["errors"]
    assert [e["code"] for e in in_use] == ["SEGMENT_IN_USE"]


async def test_recompute_rfm_scores_customers(tenant: Tenant) -> None:
    buyer = await make_customer(
        project_id=tenant.project_id,
        name="Ada",
        metrics=OrderMetrics(orders_count=2, total_spent=4_000),
    )
    prospect = await make_customer(project_id=tenant.project_id, name="Bob")
    before = (await tenant.gql(CUSTOMER_RFM, {"id": buyer.key}))["customer"]
    assert before["rfm"] is None

    job = (await tenant.gql(RFM))["recomputeRfm"]["job"]
    assert (job["kind"], job["status"]) == ("compute_rfm", "QUEUED")
    await run_pending_jobs()

    scored = (await tenant.gql(CUSTOMER_RFM, {"id": buyer.key}))["customer"]["rfm"]
    # One buyer is the best of one on every measure: ceil(5 * 1 / 1) = 5, and (5, 5) champions.
    assert (scored["recency"], scored["frequency"], scored["monetary"]) == (5, 5, 5)
    assert scored["group"] == "champions" and scored["computedAt"]
    none = (await tenant.gql(CUSTOMER_RFM, {"id": prospect.key}))["customer"]["rfm"]
    assert (none["recency"], none["group"]) == (0, "prospect")
    prospects = await create(
        tenant,
        name="Prospects",
        kind="DYNAMIC",
        filter={"field": "rfm.group", "op": "eq", "value": "prospect"},
    )
    assert prospects["segment"]["sample"] == [{"id": prospect.key, "name": "Bob"}]
