"""Abandoned cart end to end over GraphQL: an automation is created, the shop reports carts,
time passes (injected, never slept), the executor publishes a code and queues the email, the
outbox worker sends it through a real SMTP server. An order placed in between cancels it, and
an executor stopped mid-way leaves the action to another that sends it exactly once."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from api.settings import Settings
from delivery.automation import AutomationExecutor
from delivery.outbox import Links
from delivery.worker import OutboxWorker
from domain import automation
from domain.common import utc_now
from tests.delivery.fakes import FakeSmtpServer
from tests.factories import Tenant

CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id } errors { code } }
}"""
CREATE_CUSTOMER = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } }
}"""
CREATE_AUTOMATION = """
mutation ($input: AutomationInput!) {
  createAutomation(input: $input) { automation { id status delaySeconds cancelOn } errors { code } }
}"""
TRACK = """
mutation ($customerId: ID!, $properties: JSON, $key: String) {
  trackEvent(customerId: $customerId, name: "cart.abandoned", properties: $properties,
             idempotencyKey: $key) { event { id name at } errors { code field } }
}"""
RECORD_ORDER = """
mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) { order { id } errors { code } }
}"""
AUTOMATION = """
query ($id: ID!) {
  automation(id: $id) {
    stats { triggered scheduled cancelled executed skipped failed }
    scheduledActions { edges { node { status code detail customer { id } } } }
  }
}"""
MESSAGES = """
query ($customerId: ID!) {
  messages(customerId: $customerId) { edges { node { status code to } } }
}"""


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


async def create_customer(tenant: Tenant, name: str) -> str:
    variables = {
        "input": {"name": name, "email": f"{name.lower()}@example.com", "consents": {"email": True}}
    }
    created = (await tenant.gql(CREATE_CUSTOMER, variables))["createCustomer"]
    assert created["errors"] == []
    return str(created["customer"]["id"])


async def abandon(tenant: Tenant, customer_id: str, cart: str) -> dict[str, Any]:
    variables = {"customerId": customer_id, "properties": {"cartId": cart}, "key": cart}
    tracked = (await tenant.gql(TRACK, variables))["trackEvent"]
    assert tracked["errors"] == []
    return dict(tracked["event"])


async def test_abandoned_carts_get_one_code_unless_they_order(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    created = await tenant.gql(
        CREATE_CAMPAIGN,
        {
            "input": {
                "name": "Come back",
                "discount": {"type": "PERCENT", "percentOff": 10},
                "codes": {"pattern": "BACK-####-####"},
            }
        },
    )
    campaign_id = created["createCampaign"]["campaign"]["id"]
    made = await tenant.gql(
        CREATE_AUTOMATION,
        {
            "input": {
                "name": "Abandoned cart",
                "trigger": "cart.abandoned",
                "delay": {"hours": 1},
                "cancelOn": ["order.recorded"],
                "action": {"type": "SEND_CODE", "campaignId": campaign_id, "channel": "EMAIL"},
                "frequency": {"periodDays": 30},
            }
        },
    )
    assert made["createAutomation"]["errors"] == []
    automation_id = made["createAutomation"]["automation"]["id"]
    assert made["createAutomation"]["automation"]["delaySeconds"] == 3600

    ada = await create_customer(tenant, "Ada")
    bob = await create_customer(tenant, "Bob")
    cy = await create_customer(tenant, "Cy")
    await abandon(tenant, ada, "cart-ada")
    await abandon(tenant, ada, "cart-ada-2")  # a second cart in the period: still one code
    await abandon(tenant, bob, "cart-bob")
    await abandon(tenant, cy, "cart-cy")
    # Bob orders before the hour is up.
    ordered = await tenant.gql(
        RECORD_ORDER,
        {
            "input": {
                "id": "bob-1",
                "customerId": bob,
                "amount": {"amount": 4200, "currency": "EUR"},
            }
        },
    )
    assert ordered["recordOrder"]["errors"] == []

    links = Links(base_url=settings.public_base_url, secret_key=settings.secret_key)
    executor = AutomationExecutor(links, owner="first")
    start = utc_now()
    assert await executor.run_due(start + timedelta(minutes=59)) == 0
    # Cy's action is leased by an executor that is then stopped (a restart mid-way).
    stopped = await automation.lease_due_action(
        owner="stopped", now=start + timedelta(hours=1, seconds=1)
    )
    assert stopped is not None
    await executor.run_due(start + timedelta(hours=1, seconds=1))
    # After the stopped executor's lease runs out, another executor takes Cy's action.
    restarted = AutomationExecutor(links, owner="restarted")
    assert await restarted.run_due(start + timedelta(hours=1, minutes=2)) == 1
    assert await restarted.run_due(start + timedelta(hours=3)) == 0

    worker = OutboxWorker(settings.model_copy(update=smtp.settings()))
    assert await worker.run_until_idle() == 2
    received = smtp.wait_for(2)
    assert sorted(r.rcpt_tos[0] for r in received) == ["ada@example.com", "cy@example.com"]

    view = (await tenant.gql(AUTOMATION, {"id": automation_id}))["automation"]
    assert view["stats"] == {
        "triggered": 4,
        "scheduled": 0,
        "cancelled": 1,
        "executed": 2,
        "skipped": 1,
        "failed": 0,
    }
    actions = [edge["node"] for edge in view["scheduledActions"]["edges"]]
    sent_codes = {a["customer"]["id"]: a["code"] for a in actions if a["status"] == "DONE"}
    assert set(sent_codes) == {ada, cy}
    # Each email carries the code its action published.
    for customer_id, code in sent_codes.items():
        edges = (await tenant.gql(MESSAGES, {"customerId": customer_id}))["messages"]["edges"]
        assert [(e["node"]["status"], e["node"]["code"]) for e in edges] == [("SENT", code)]
    assert any(sent_codes[ada].replace("-", "") in r.body().replace("-", "") for r in received)
    assert (await tenant.gql(MESSAGES, {"customerId": bob}))["messages"]["edges"] == []
