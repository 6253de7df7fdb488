"""trackEvent and the automation mutations over GraphQL: typed errors that write nothing,
roles (customer tokens track only their own events), updates, pausing, and tenancy."""

from typing import Any

from domain.automation import Automation
from domain.events import CustomerEvent
from tests.factories import Tenant, make_campaign, make_loyalty_program, make_shopper

FIELDS = "id name trigger conditions delaySeconds cancelOn periodDays status segmentIds"
CREATE = (
    """
mutation ($input: AutomationInput!) {
  createAutomation(input: $input) { automation { """
    + FIELDS
    + """ action { type campaignId channel templateId points } } errors { code field } }
}"""
)
UPDATE = (
    """
mutation ($id: ID!, $input: AutomationUpdateInput!) {
  updateAutomation(id: $id, input: $input) { automation { """
    + FIELDS
    + """ } errors { code field } }
}"""
)
PAUSE = "mutation ($id: ID!) { pauseAutomation(id: $id) { automation { status } errors { code } } }"
RESUME = (
    "mutation ($id: ID!) { resumeAutomation(id: $id) { automation { status } errors { code } } }"
)
LIST = "query { automations { edges { node { id name status } } totalCount } }"
ONE = "query ($id: ID!) { automation(id: $id) { name stats { triggered } } }"
TRACK = """
mutation ($customerId: ID!, $name: String!, $at: DateTime) {
  trackEvent(customerId: $customerId, name: $name, properties: {total: 5}, at: $at) {
    event { name source properties customerId } errors { code field }
  }
}"""
TOKEN = "mutation ($id: ID!) { issueCustomerToken(customerId: $id) { token } }"


def cart_input(campaign_id: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Abandoned cart",
        "trigger": "cart.abandoned",
        "conditions": {"properties": {"total": {"gte": 1000}}},
        "delay": {"minutes": 30, "hours": 1},
        "cancelOn": ["order.recorded"],
        "action": {"type": "SEND_CODE", "campaignId": campaign_id, "channel": "SMS"},
        "frequency": {"periodDays": 7},
    }
    values.update(fields)
    return values


async def create(tenant: Tenant, variables: dict[str, Any]) -> dict[str, Any]:
    return dict((await tenant.gql(CREATE, {"input": variables}))["createAutomation"])


async def test_create_update_pause_and_resume(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    made = await create(tenant, cart_input(campaign.key))
    assert made["errors"] == []
    automation = made["automation"]
    assert automation["conditions"] == {"total": {"gte": 1000}}
    assert automation["delaySeconds"] == 5400 and automation["periodDays"] == 7
    assert automation["action"] == {
        "type": "SEND_CODE",
        "campaignId": campaign.key,
        "channel": "SMS",
        "templateId": None,
        "points": None,
    }
    program = await make_loyalty_program(project_id=tenant.project_id)
    changes = {
        "name": "Cart points",
        "action": {"type": "AWARD_POINTS", "campaignId": program.key, "points": 25},
        "frequency": {"periodDays": 0},
    }
    updated = await tenant.gql(UPDATE, {"id": automation["id"], "input": changes})
    assert updated["updateAutomation"]["errors"] == []
    assert updated["updateAutomation"]["automation"]["periodDays"] == 0
    assert updated["updateAutomation"]["automation"]["cancelOn"] == ["order.recorded"]
    paused = await tenant.gql(PAUSE, {"id": automation["id"]})
    assert paused["pauseAutomation"]["automation"]["status"] == "PAUSED"
    resumed = await tenant.gql(RESUME, {"id": automation["id"]})
    assert resumed["resumeAutomation"]["automation"]["status"] == "ACTIVE"
    listed = (await tenant.gql(LIST))["automations"]
    assert listed["totalCount"] == 1 and listed["edges"][0]["node"]["name"] == "Cart points"


async def test_invalid_automations_are_typed_errors_and_write_nothing(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    bad_template = cart_input(
        campaign.key,
        action={
            "type": "SEND_CODE",
            "campaignId": campaign.key,
            "channel": "EMAIL",
            "templateId": "builtin:nope",
        },
    )
    made = await create(tenant, bad_template)
    assert made == {
        "automation": None,
        "errors": [{"code": "NOT_FOUND", "field": "action.templateId"}],
    }
    many = await create(
        tenant,
        cart_input(
            campaign.key,
            trigger="Bad Name",
            delay={"days": -1},
            conditions={"properties": {"total": {"between": [1, 2]}}},
        ),
    )
    assert {e["field"] for e in many["errors"]} == {"trigger", "delay"}
    unknown = await tenant.gql(UPDATE, {"id": "65f000000000000000000001", "input": {"name": "x"}})
    assert unknown["updateAutomation"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    assert await Automation.find({"project_id": tenant.project_id}).count() == 0


async def test_roles_and_customer_tokens(tenant: Tenant) -> None:
    ada = await make_shopper(project_id=tenant.project_id)
    bob = await make_shopper(project_id=tenant.project_id, name="Bob")
    token = (await tenant.gql(TOKEN, {"id": ada.key}))["issueCustomerToken"]["token"]
    me = tenant.gql.as_token(token)
    own = (await me(TRACK, {"customerId": ada.key, "name": "wishlist.added"}))["trackEvent"]
    assert own["errors"] == []
    assert own["event"]["source"] == "customer" and own["event"]["properties"] == {"total": 5}
    dated = await me(
        TRACK, {"customerId": ada.key, "name": "wishlist.added", "at": "2026-01-01T00:00:00Z"}
    )
    assert dated["trackEvent"]["errors"] == [{"code": "INVALID", "field": "at"}]
    other = (await me.raw(TRACK, {"customerId": bob.key, "name": "wishlist.added"})).json()
    assert other["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    forbidden = (await me.raw(LIST)).json()
    assert forbidden["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    reserved = await tenant.gql(TRACK, {"customerId": bob.key, "name": "order.recorded"})
    assert reserved["trackEvent"]["errors"] == [{"code": "RESERVED_EVENT", "field": "name"}]
    assert await CustomerEvent.find({"project_id": tenant.project_id}).count() == 1


async def test_automations_stay_in_their_project(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    made = await create(tenant, cart_input(campaign.key))
    automation_id = made["automation"]["id"]
    assert (await other_tenant.gql(ONE, {"id": automation_id}))["automation"] is None
    paused = await other_tenant.gql(PAUSE, {"id": automation_id})
    assert paused["pauseAutomation"]["errors"] == [{"code": "NOT_FOUND"}]
    assert (await other_tenant.gql(LIST))["automations"]["totalCount"] == 0
    # Another project's campaign cannot be used either.
    theirs = await create(other_tenant, cart_input(campaign.key))
    assert theirs["errors"] == [{"code": "NOT_FOUND", "field": "action.campaignId"}]
    ada = await make_shopper(project_id=tenant.project_id)
    tracked = await other_tenant.gql(TRACK, {"customerId": ada.key, "name": "cart.abandoned"})
    assert tracked["trackEvent"]["errors"] == [{"code": "NOT_FOUND", "field": "customerId"}]
