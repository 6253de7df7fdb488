"""A message's whole life: queued over GraphQL, sent through real SMTP and Twilio-speaking
servers, delivery reported by a signed webhook, the customer opting out by STOP and by the
unsubscribe link in the email they received, and the next sends suppressed."""

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.settings import Settings
from delivery.worker import OutboxWorker
from domain.projects import Project
from tests.delivery.fakes import FakeSmtpServer, FakeTwilioServer, twilio_signature
from tests.factories import Tenant

CREATE_CUSTOMER = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } }
}"""
CUSTOMER = """
query ($id: ID!) {
  customer(id: $id) { consents { email sms } consentLog { channel granted source } }
}"""
SEND = """
mutation ($customerId: ID!, $channel: MessageChannel!) {
  sendMessage(customerId: $customerId, channel: $channel, templateId: "builtin:points") {
    message { id status error } errors { code }
  }
}"""
MESSAGE = "query ($id: ID!) { message(id: $id) { status sentAt deliveredAt error } }"


@pytest.fixture
def providers() -> Iterator[tuple[FakeSmtpServer, FakeTwilioServer]]:
    with FakeSmtpServer() as smtp, FakeTwilioServer() as twilio:
        yield smtp, twilio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The webhooks check signatures with the same auth token the fake Twilio expects.
    return settings.model_copy(update=FakeTwilioServer().settings())


async def send(tenant: Tenant, customer_id: str, channel: str) -> dict[str, Any]:
    result = await tenant.gql(SEND, {"customerId": customer_id, "channel": channel})
    payload: dict[str, Any] = result["sendMessage"]
    assert payload["errors"] == []
    return dict(payload["message"])


async def status(tenant: Tenant, message_id: str) -> dict[str, Any]:
    return dict((await tenant.gql(MESSAGE, {"id": message_id}))["message"])


async def signed_post(http: httpx.AsyncClient, path: str, form: dict[str, str]) -> httpx.Response:
    token = FakeTwilioServer().auth_token
    signature = twilio_signature(token, f"http://testserver{path}", form)
    return await http.post(path, data=form, headers={"X-Twilio-Signature": signature})


async def test_sent_delivered_opted_out_and_suppressed(
    http: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
    providers: tuple[FakeSmtpServer, FakeTwilioServer],
) -> None:
    smtp, twilio = providers
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"messaging.quiet_hours": False}}
    )
    worker = OutboxWorker(settings.model_copy(update={**smtp.settings(), **twilio.settings()}))
    created = await tenant.gql(
        CREATE_CUSTOMER,
        {
            "input": {
                "name": "Ada",
                "email": "ada@example.com",
                "phone": "+14155550123",
                "consents": {"email": True, "sms": True},
            }
        },
    )
    ada = created["createCustomer"]["customer"]["id"]

    # 1. One SMS and one email go out through the real providers' protocols.
    sms = await send(tenant, ada, "SMS")
    email = await send(tenant, ada, "EMAIL")
    assert await worker.run_until_idle() == 2
    [call] = twilio.sent()
    assert call.form["To"] == "+14155550123" and "STOP" in call.form["Body"]
    [received] = smtp.wait_for(1)
    assert (await status(tenant, sms["id"]))["status"] == "SENT"

    # 2. Twilio reports the SMS delivered, signed; a forged report changes nothing.
    report = {"MessageSid": call.sid, "MessageStatus": "delivered", "To": "+14155550123"}
    forged = await http.post(
        "/hooks/twilio/status",
        data={**report, "MessageStatus": "undelivered"},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert forged.status_code == 403
    callback = urlsplit(call.form["StatusCallback"])
    callback_path = f"{callback.path}?{callback.query}"
    assert (await signed_post(http, callback_path, report)).status_code < 300
    delivered = await status(tenant, sms["id"])
    assert delivered["status"] == "DELIVERED" and delivered["deliveredAt"] is not None

    # 3. The customer answers STOP: SMS consent is withdrawn, with its source in the ledger.
    stop = {"From": "+14155550123", "To": twilio.from_number, "Body": " stop "}
    answer = await signed_post(http, "/hooks/twilio/inbound", stop)
    assert answer.status_code == 200 and "<Response>" in answer.text
    customer = (await tenant.gql(CUSTOMER, {"id": ada}))["customer"]
    assert customer["consents"] == {"email": True, "sms": False}
    assert customer["consentLog"][-1]["channel"] == "SMS"
    assert not customer["consentLog"][-1]["granted"]

    # 4. Then the unsubscribe link of the email actually received.
    [link] = [
        url for url in re.findall(r"https?://\S+", received.body("plain")) if "/unsubscribe/" in url
    ]
    page = await http.get(urlsplit(link).path)
    assert page.status_code == 200
    customer = (await tenant.gql(CUSTOMER, {"id": ada}))["customer"]
    assert customer["consents"] == {"email": False, "sms": False}

    # 5. Nothing more reaches the customer: both new messages are recorded as SUPPRESSED.
    later_sms = await send(tenant, ada, "SMS")
    later_email = await send(tenant, ada, "EMAIL")
    assert later_sms["status"] == later_email["status"] == "SUPPRESSED"
    assert await worker.run_until_idle() == 0
    assert len(twilio.sent()) == 1 and len(smtp.messages) == 1
    assert (await status(tenant, email["id"]))["status"] == "SENT"
