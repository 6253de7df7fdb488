"""sendMessage, messages and campaignDelivery over GraphQL, sent for real through SMTP."""

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.settings import Settings
from delivery.worker import OutboxWorker
from domain.jobs import run_pending_jobs
from domain.messages import Message
from tests.delivery.fakes import FakeSmtpServer
from tests.factories import Tenant, create_campaign_over_graphql, create_customer_over_graphql

GENERATE = """
mutation ($campaignId: ID!) {
  generateCodes(campaignId: $campaignId, count: 20) { errors { code } }
}"""
PUBLISH = """
mutation ($campaignId: ID!, $customerId: ID!, $channel: MessageChannel) {
  publishCode(campaignId: $campaignId, customerId: $customerId, channel: $channel) {
    code { code display url } message { id channel status } errors { code field }
  }
}"""
SEND = """
mutation ($customerId: ID!, $channel: MessageChannel!, $templateId: String, $code: String,
          $key: String) {
  sendMessage(customerId: $customerId, channel: $channel, templateId: $templateId, code: $code,
              idempotencyKey: $key) {
    message { id channel status to code renderedSubject renderedBody renderedHtml error
              customer { id } }
    errors { code field message }
  }
}"""
MESSAGES = """
query ($customerId: ID, $status: MessageStatus) {
  messages(customerId: $customerId, status: $status) {
    totalCount edges { node { id status sentAt redemptionId channel } }
  }
}"""
DELIVERY = """
query ($campaignId: ID!) {
  campaignDelivery(campaignId: $campaignId) {
    channel queued sent delivered failed suppressed redeemed
  }
}"""
REDEEM = """
mutation ($code: String!, $customerId: ID) {
  redeemCode(code: $code, customerId: $customerId) { redemption { id } errors { code } }
}"""
MESSAGING = """
mutation ($input: MessagingInput!) {
  updateMessaging(input: $input) {
    project { messaging { emailFrom smsFrom timezone quietHours quietStart quietEnd } }
    errors { code field }
  }
}"""


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


async def campaign_with_codes(tenant: Tenant) -> str:
    """20% off, each code usable once, with 20 codes generated."""
    campaign_id = await create_campaign_over_graphql(
        tenant=tenant, discount={"type": "PERCENT", "percentOff": 20}, limits={"perCode": 1}
    )
    assert (await tenant.gql(GENERATE, {"campaignId": campaign_id}))["generateCodes"][
        "errors"
    ] == []
    await run_pending_jobs()
    return campaign_id


async def reachable_customer(tenant: Tenant, **fields: Any) -> str:
    """Ada, with an email address and a phone, who agreed to both channels."""
    values = {
        "email": "ada@example.com",
        "phone": "+14155550123",
        "name": "<i>Ada</i> Lovelace",
        "consents": {"email": True, "sms": True},
        **fields,
    }
    return await create_customer_over_graphql(tenant=tenant, **values)


async def publish(tenant: Tenant, campaign_id: str, customer_id: str) -> str:
    published = await tenant.gql(PUBLISH, {"campaignId": campaign_id, "customerId": customer_id})
    return str(published["publishCode"]["code"]["code"])


async def send(tenant: Tenant, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await tenant.gql(SEND, variables))["sendMessage"]
    return result


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


async def test_a_coupon_email_is_rendered_queued_and_received_with_its_links(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    campaign_id = await campaign_with_codes(tenant)
    customer_id = await reachable_customer(tenant)
    code = await publish(tenant, campaign_id, customer_id)
    sent = await send(tenant, customerId=customer_id, channel="EMAIL", code=code)
    assert sent["errors"] == []
    message = sent["message"]
    assert message["status"] == "QUEUED" and message["to"] == "ada@example.com"
    assert message["code"] == code and code in message["renderedBody"]
    # The customer's name is escaped in HTML and left as written in the text part.
    assert "&lt;i&gt;Ada&lt;/i&gt;" in message["renderedHtml"]
    assert "<i>Ada" not in message["renderedHtml"]
    assert "<i>Ada</i>" in message["renderedBody"]

    await OutboxWorker(settings.model_copy(update=smtp.settings())).run_until_idle()
    [received] = smtp.wait_for(1)
    text, html = received.body("plain"), received.body("html")
    assert code in text and code in html
    coupon_link = f"http://testserver/c/{code}"
    assert coupon_link in links_in(text) and coupon_link in links_in(html)
    unsubscribe = [link for link in links_in(text) if "/unsubscribe/" in link]
    assert len(unsubscribe) == 1
    assert received.message["List-Unsubscribe"] == f"<{unsubscribe[0]}>"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.message["Subject"] == message["renderedSubject"]

    listed = (await tenant.gql(MESSAGES, {"customerId": customer_id, "status": "SENT"}))["messages"]
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"]["id"] == message["id"]
    assert listed["edges"][0]["node"]["sentAt"] is not None


async def test_a_redemption_is_attributed_to_the_message_that_carried_the_code(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    campaign_id = await campaign_with_codes(tenant)
    ada = await reachable_customer(tenant)
    bob = await reachable_customer(tenant, email="bob@example.com", consents={"email": False})
    ada_code = await publish(tenant, campaign_id, ada)
    bob_code = await publish(tenant, campaign_id, bob)
    await send(tenant, customerId=ada, channel="EMAIL", code=ada_code)
    suppressed = await send(tenant, customerId=bob, channel="EMAIL", code=bob_code)
    assert suppressed["message"]["status"] == "SUPPRESSED"
    assert "consent" in suppressed["message"]["error"]
    await OutboxWorker(settings.model_copy(update=smtp.settings())).run_until_idle()
    assert len(smtp.wait_for(1)) == 1

    for code, customer in ((ada_code, ada), (bob_code, bob)):
        redeemed = await tenant.gql(REDEEM, {"code": code, "customerId": customer})
        assert redeemed["redeemCode"]["errors"] == []
    nodes = [
        edge["node"]
        for edge in (await tenant.gql(MESSAGES, {"customerId": ada}))["messages"]["edges"]
    ]
    redemption_id = nodes[0]["redemptionId"]
    assert redemption_id is not None
    email, sms = (await tenant.gql(DELIVERY, {"campaignId": campaign_id}))["campaignDelivery"]
    assert email == {
        "channel": "EMAIL",
        "queued": 0,
        "sent": 1,
        "delivered": 0,
        "failed": 0,
        "suppressed": 1,
        # Bob's redemption came without a message: it is not attributed to email.
        "redeemed": 1,
    }
    assert sms["sent"] == 0 and sms["redeemed"] == 0


async def test_publish_code_with_a_channel_also_queues_the_coupon(tenant: Tenant) -> None:
    campaign_id = await campaign_with_codes(tenant)
    customer_id = await reachable_customer(tenant)
    published = await tenant.gql(
        PUBLISH, {"campaignId": campaign_id, "customerId": customer_id, "channel": "SMS"}
    )
    result = published["publishCode"]
    assert result["errors"] == []
    assert result["message"]["channel"] == "SMS" and result["message"]["status"] == "QUEUED"
    stored = await Message.find_one({"project_id": tenant.project_id})
    assert stored is not None and stored.code == result["code"]["code"]
    assert result["code"]["code"] in stored.body_text
    # Without a channel nothing is sent.
    other = await reachable_customer(tenant, email="eve@example.com")
    plain = await tenant.gql(PUBLISH, {"campaignId": campaign_id, "customerId": other})
    assert plain["publishCode"]["message"] is None
    assert await Message.find({"project_id": tenant.project_id}).count() == 1


async def test_refused_sends_name_their_reason_and_write_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign_id = await campaign_with_codes(tenant)
    ada = await reachable_customer(tenant)
    no_phone = await reachable_customer(tenant, phone=None, email="np@example.com")
    bob = await reachable_customer(tenant, email="bob@example.com")
    bobs_code = await publish(tenant, campaign_id, bob)
    stranger = await reachable_customer(other_tenant)
    cases = [
        ({"customerId": no_phone, "channel": "SMS"}, "NO_ADDRESS", "customerId"),
        ({"customerId": stranger, "channel": "EMAIL"}, "NOT_FOUND", "customerId"),
        ({"customerId": ada, "channel": "EMAIL", "code": "NOPE-0000"}, "NOT_FOUND", "code"),
        (
            {"customerId": ada, "channel": "EMAIL", "code": bobs_code},
            "CODE_OF_ANOTHER_CUSTOMER",
            "code",
        ),
        (
            {"customerId": ada, "channel": "EMAIL", "templateId": "builtin:nothing"},
            "NOT_FOUND",
            "templateId",
        ),
        ({"customerId": ada, "channel": "EMAIL", "key": ""}, "INVALID_IDEMPOTENCY_KEY", None),
    ]
    for variables, code, field in cases:
        result = await send(tenant, **variables)
        assert result["message"] is None, variables
        [error] = result["errors"]
        assert error["code"] == code, (variables, error)
        if field:
            assert error["field"] == field
    assert await Message.find({}).count() == 0


async def test_one_idempotency_key_sent_at_once_queues_one_message(tenant: Tenant) -> None:
    customer_id = await reachable_customer(tenant)
    results = await asyncio.gather(
        *(
            send(
                tenant,
                customerId=customer_id,
                channel="EMAIL",
                templateId="builtin:points",
                key="newsletter-42",
            )
            for _ in range(20)
        )
    )
    assert {r["message"]["id"] for r in results} == {results[0]["message"]["id"]}
    assert await Message.find({"project_id": tenant.project_id}).count() == 1


async def test_messages_are_scoped_to_their_project(tenant: Tenant, other_tenant: Tenant) -> None:
    customer_id = await reachable_customer(tenant)
    await send(tenant, customerId=customer_id, channel="EMAIL", templateId="builtin:points")
    theirs = (await other_tenant.gql(MESSAGES, {}))["messages"]
    assert theirs["totalCount"] == 0
    ours = (await tenant.gql(MESSAGES, {"status": "QUEUED"}))["messages"]
    assert ours["totalCount"] == 1


async def test_messaging_settings_are_checked_together(tenant: Tenant) -> None:
    good = await tenant.gql(
        MESSAGING,
        {
            "input": {
                "emailFrom": "Shop A <hello@shop-a.example>",
                "smsFrom": "ShopA",
                "timezone": "Europe/Paris",
                "quietStart": "22:30",
                "quietEnd": "07:00",
            }
        },
    )
    assert good["updateMessaging"]["errors"] == []
    assert good["updateMessaging"]["project"]["messaging"] == {
        "emailFrom": "Shop A <hello@shop-a.example>",
        "smsFrom": "ShopA",
        "timezone": "Europe/Paris",
        "quietHours": True,
        "quietStart": "22:30",
        "quietEnd": "07:00",
    }
    bad = await tenant.gql(
        MESSAGING,
        {
            "input": {
                "emailFrom": "not an address",
                "smsFrom": "A sender id that is far too long",
                "timezone": "Mars/Olympus",
                "quietStart": "25:00",
                "quietHours": False,
            }
        },
    )
    fields = {error["field"] for error in bad["updateMessaging"]["errors"]}
    assert fields == {"emailFrom", "smsFrom", "timezone", "quietStart"}
    assert bad["updateMessaging"]["project"] is None
    # Nothing of the refused change was kept, not even the valid quietHours.
    unchanged = await tenant.gql(MESSAGING, {"input": {}})
    assert unchanged["updateMessaging"]["project"]["messaging"]["quietHours"] is True
    assert unchanged["updateMessaging"]["project"]["messaging"]["timezone"] == "Europe/Paris"
