"""updateMessaging's SMTP and Twilio settings and testMessaging over GraphQL: secrets stored
sealed and never returned, typed errors that write nothing, warnings when nothing is sent."""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from api.settings import Settings
from delivery import provider_check
from delivery.sms import close_sms_clients
from delivery.worker import OutboxWorker
from domain.projects import Project
from tests.delivery.fakes import FakeSmtpServer, FakeTwilioServer
from tests.factories import Tenant, make_campaign
from tests.schema.test_messages import reachable_customer

SMTP_PASSWORD = "smtp-secret-Password-4242"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "f" * 28 + "9a8b"
MESSAGING_FIELDS = """
  emailFrom smsFrom timezone quietHours quietStart quietEnd
  smtp { host port security username fromAddress password { isSet last4 } }
  twilio { accountSid from authToken { isSet last4 } }
"""
UPDATE = f"""
mutation ($input: MessagingInput!) {{
  updateMessaging(input: $input) {{
    project {{ messaging {{ {MESSAGING_FIELDS} }} }}
    errors {{ code field message }}
  }}
}}"""
PROJECT = f"query {{ project {{ id name sandbox messaging {{ {MESSAGING_FIELDS} }} }} }}"
TEST = """
mutation ($channel: MessageChannel!, $to: String!) {
  testMessaging(channel: $channel, to: $to) {
    result { channel accepted provider messageId smtpCode twilioErrorCode httpStatus detail }
    errors { code field message }
  }
}"""
SEND = """
mutation ($customerId: ID!, $channel: MessageChannel!, $code: String) {
  sendMessage(customerId: $customerId, channel: $channel, code: $code) {
    message { id sink warnings { code message } }
    warnings { code message }
    errors { code }
  }
}"""
PUBLISH = """
mutation ($campaignId: ID!, $customerId: ID!, $channel: MessageChannel) {
  publishCode(campaignId: $campaignId, customerId: $customerId, channel: $channel) {
    code { code } warnings { code message } errors { code }
  }
}"""
DISTRIBUTE = """
mutation ($campaignId: ID!, $channels: [MessageChannel!]!) {
  distributeCampaign(campaignId: $campaignId, channels: $channels) {
    job { id } warnings { code message } errors { code }
  }
}"""
MESSAGE = "query ($id: ID!) { message(id: $id) { sink warnings { code message } } }"


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(credentials=("shop", SMTP_PASSWORD)) as server:
        yield server


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(auth_token=TWILIO_TOKEN) as server:
        yield server


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    await close_sms_clients()


def smtp_input(server: FakeSmtpServer, **changes: Any) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": "shop",
        "password": SMTP_PASSWORD,
        "fromAddress": "hello@shop.example",
        **changes,
    }


def twilio_input(**changes: Any) -> dict[str, Any]:
    return {"accountSid": TWILIO_SID, "authToken": TWILIO_TOKEN, "from": "+15005550006", **changes}


async def update(tenant: Tenant, **input: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await tenant.gql(UPDATE, {"input": input}))["updateMessaging"]
    return result


async def a_code(tenant: Tenant, campaign_id: str, customer_id: str) -> str:
    published = await tenant.gql(PUBLISH, {"campaignId": campaign_id, "customerId": customer_id})
    return str(published["publishCode"]["code"]["code"])


async def stored_messaging(tenant: Tenant) -> dict[str, Any]:
    raw = await Project.get_pymongo_collection().find_one({"_id": tenant.project.id})
    assert raw is not None
    messaging: dict[str, Any] = raw["messaging"]
    return messaging


async def test_providers_are_set_and_only_whether_secrets_are_set_comes_back(
    tenant: Tenant, smtp: FakeSmtpServer
) -> None:
    response = await tenant.gql.raw(
        UPDATE, {"input": {"smtp": smtp_input(smtp), "twilio": twilio_input()}}
    )
    queried = await tenant.gql.raw(PROJECT)

    for answer in (response, queried):
        assert SMTP_PASSWORD not in answer.text and TWILIO_TOKEN not in answer.text
    messaging = queried.json()["data"]["project"]["messaging"]
    assert messaging["smtp"] == {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "username": "shop",
        "fromAddress": "hello@shop.example",
        "password": {"isSet": True, "last4": "4242"},
    }
    assert messaging["twilio"] == {
        "accountSid": TWILIO_SID,
        "from": "+15005550006",
        "authToken": {"isSet": True, "last4": "9a8b"},
    }
    assert response.json()["data"]["updateMessaging"]["project"]["messaging"] == messaging


async def test_the_stored_document_holds_ciphertext_not_the_secrets(
    tenant: Tenant, smtp: FakeSmtpServer
) -> None:
    await update(tenant, smtp=smtp_input(smtp), twilio=twilio_input())

    stored = await stored_messaging(tenant)
    as_text = json.dumps(stored, default=str)
    assert SMTP_PASSWORD not in as_text and TWILIO_TOKEN not in as_text
    password, token = stored["smtp"]["password"], stored["twilio"]["auth_token"]
    assert password["ciphertext"] and password["key_id"] and password["scheme"] == "v1"
    assert token["ciphertext"] and token["key_id"] == password["key_id"]


@pytest.mark.parametrize(
    ("input", "fields"),
    [
        ({"smtp": {"host": "bad host!", "port": 587}}, ["smtp.host"]),
        (
            {"smtp": {"host": "", "port": 0, "security": "ssl"}},
            ["smtp.host", "smtp.port", "smtp.security"],
        ),
        ({"smtp": {"host": "smtp.example.com", "port": 70000}}, ["smtp.port"]),
        ({"smtp": {"host": "smtp.example.com", "password": "x" * 20}}, ["smtp.username"]),
        (
            {"twilio": {"accountSid": "AC123", "authToken": "f" * 32, "from": "+15005550006"}},
            ["twilio.accountSid"],
        ),
        (
            {"twilio": {"accountSid": TWILIO_SID, "authToken": "short", "from": "+1"}},
            ["twilio.authToken", "twilio.from"],
        ),
        (
            {"twilio": {"accountSid": TWILIO_SID, "from": "MG123"}},
            ["twilio.authToken", "twilio.from"],
        ),
        # One bad part rejects the good ones beside it.
        (
            {
                "smtp": {"host": "smtp.example.com"},
                "twilio": {"accountSid": "SK1"},
                "timezone": "Europe/Paris",
            },
            ["twilio.accountSid", "twilio.authToken", "twilio.from"],
        ),
        ({"smtp": {"host": "smtp.example.com"}, "clearSmtp": True}, ["smtp"]),
    ],
)
async def test_bad_provider_settings_are_field_errors_and_write_nothing(
    tenant: Tenant, input: dict[str, Any], fields: list[str]
) -> None:
    before = await stored_messaging(tenant)

    result = await update(tenant, **input)

    assert result["project"] is None
    assert [error["field"] for error in result["errors"]] == fields
    assert all(error["code"] in ("INVALID", "REQUIRED") for error in result["errors"])
    assert await stored_messaging(tenant) == before


async def test_a_partial_change_keeps_the_secret_and_secrets_and_providers_can_be_cleared(
    tenant: Tenant, smtp: FakeSmtpServer
) -> None:
    await update(tenant, smtp=smtp_input(smtp), twilio=twilio_input())
    sealed = (await stored_messaging(tenant))["smtp"]["password"]

    moved = await update(tenant, smtp={"port": 2525})
    assert moved["project"]["messaging"]["smtp"]["port"] == 2525
    assert (await stored_messaging(tenant))["smtp"]["password"] == sealed

    no_password = await update(tenant, smtp={"password": "", "username": ""})
    assert no_password["project"]["messaging"]["smtp"]["password"] == {
        "isSet": False,
        "last4": None,
    }
    cleared = await update(tenant, clearSmtp=True, clearTwilio=True)
    assert cleared["errors"] == []
    assert cleared["project"]["messaging"]["smtp"] is None
    assert cleared["project"]["messaging"]["twilio"] is None
    stored = await stored_messaging(tenant)
    assert stored["smtp"] is None and stored["twilio"] is None


async def test_a_pos_key_cannot_set_or_test_providers(tenant: Tenant, smtp: FakeSmtpServer) -> None:
    created = await tenant.gql("mutation { createApiKey(role: POS) { secret } }")
    till = tenant.gql.as_token(created["createApiKey"]["secret"])

    for query, variables in (
        (UPDATE, {"input": {"smtp": smtp_input(smtp)}}),
        (TEST, {"channel": "EMAIL", "to": "me@shop.example"}),
        (PROJECT, {}),
    ):
        body = (await till.raw(query, variables)).json()
        assert body["errors"] and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await stored_messaging(tenant)).get("smtp") is None


async def test_test_messaging_reports_an_accepted_email_and_an_smtp_refusal(
    tenant: Tenant, smtp: FakeSmtpServer
) -> None:
    await update(tenant, smtp=smtp_input(smtp))

    accepted = await tenant.gql(TEST, {"channel": "EMAIL", "to": "me@shop.example"})
    [received] = smtp.wait_for(1)
    smtp.fail(550, stage="RCPT")
    refused = await tenant.gql(TEST, {"channel": "EMAIL", "to": "nobody@shop.example"})

    result = accepted["testMessaging"]["result"]
    assert result["accepted"] and result["provider"] == "PROJECT"
    assert result["messageId"] == received.message["Message-ID"]
    assert received.rcpt_tos == ["me@shop.example"]
    assert received.mail_from == "hello@shop.example"
    refusal = refused["testMessaging"]["result"]
    assert not refusal["accepted"] and refusal["smtpCode"] == 550
    assert "No such user" in refusal["detail"] and refusal["messageId"] is None


async def test_test_messaging_reports_twilios_answer(
    tenant: Tenant, settings: Settings, twilio: FakeTwilioServer
) -> None:
    # The app was built with these settings: its installation-wide Twilio API address.
    settings.twilio_api_url = twilio.url
    await update(tenant, twilio=twilio_input())

    accepted = await tenant.gql(TEST, {"channel": "SMS", "to": "+14155550123"})
    twilio.respond(400, code=21211, message="The 'To' number is not a valid phone number.")
    refused = await tenant.gql(TEST, {"channel": "SMS", "to": "+14155550124"})

    [call] = twilio.sent()
    result = accepted["testMessaging"]["result"]
    assert result["accepted"] and result["messageId"] == call.sid
    assert call.account_sid == TWILIO_SID and call.form["To"] == "+14155550123"
    refusal = refused["testMessaging"]["result"]
    assert not refusal["accepted"]
    assert (refusal["httpStatus"], refusal["twilioErrorCode"]) == (400, 21211)
    assert "not a valid phone number" in refusal["detail"]


async def test_test_messaging_gives_up_on_a_provider_that_does_not_answer(
    tenant: Tenant, smtp: FakeSmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider_check, "CHECK_TIMEOUT_SECONDS", 0.5)
    await update(tenant, smtp=smtp_input(smtp))
    smtp.delay = 5.0

    answer = await tenant.gql(TEST, {"channel": "EMAIL", "to": "me@shop.example"})

    result = answer["testMessaging"]["result"]
    assert not result["accepted"] and result["provider"] == "PROJECT"
    assert "SMTP" in result["detail"] or "no answer" in result["detail"]


async def test_test_messaging_without_a_provider_or_with_a_bad_address_is_a_user_error(
    tenant: Tenant,
) -> None:
    for channel, to, code, field in (
        ("EMAIL", "me@shop.example", "NO_EMAIL_PROVIDER", "channel"),
        ("SMS", "+14155550123", "NO_SMS_PROVIDER", "channel"),
        ("EMAIL", "not an address", "INVALID", "to"),
        ("SMS", "0612345678", "INVALID", "to"),
    ):
        answer = (await tenant.gql(TEST, {"channel": channel, "to": to}))["testMessaging"]
        assert answer["result"] is None
        assert [(e["code"], e["field"]) for e in answer["errors"]] == [(code, field)]


async def test_sends_without_a_provider_carry_a_warning_and_the_message_says_sink(
    tenant: Tenant, settings: Settings
) -> None:
    customer_id = await reachable_customer(tenant)
    campaign = await make_campaign(project_id=tenant.project_id)
    code = await a_code(tenant, campaign.key, customer_id)

    sent = (await tenant.gql(SEND, {"customerId": customer_id, "channel": "EMAIL", "code": code}))[
        "sendMessage"
    ]
    published = (
        await tenant.gql(
            PUBLISH, {"campaignId": campaign.key, "customerId": customer_id, "channel": "SMS"}
        )
    )["publishCode"]
    distributed = (
        await tenant.gql(DISTRIBUTE, {"campaignId": campaign.key, "channels": ["EMAIL", "SMS"]})
    )["distributeCampaign"]

    assert [w["code"] for w in sent["warnings"]] == ["NO_EMAIL_PROVIDER"]
    assert "SMTP" in sent["warnings"][0]["message"]
    assert [w["code"] for w in published["warnings"]] == ["NO_SMS_PROVIDER"]
    assert [w["code"] for w in distributed["warnings"]] == ["NO_EMAIL_PROVIDER", "NO_SMS_PROVIDER"]
    await OutboxWorker(settings).run_until_idle()
    message = (await tenant.gql(MESSAGE, {"id": sent["message"]["id"]}))["message"]
    assert message["sink"] is True
    assert [w["code"] for w in message["warnings"]] == ["NO_EMAIL_PROVIDER"]


async def test_a_project_with_its_own_provider_gets_no_warning_and_a_sandbox_says_so(
    tenant: Tenant, smtp: FakeSmtpServer
) -> None:
    customer_id = await reachable_customer(tenant)
    campaign = await make_campaign(project_id=tenant.project_id)
    variables = {
        "customerId": customer_id,
        "channel": "EMAIL",
        "code": await a_code(tenant, campaign.key, customer_id),
    }
    await update(tenant, smtp=smtp_input(smtp))

    own = (await tenant.gql(SEND, variables))["sendMessage"]
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"sandbox": True}}
    )
    sandbox = (await tenant.gql(SEND, variables))["sendMessage"]

    assert own["errors"] == [] and own["warnings"] == []
    assert [w["code"] for w in sandbox["warnings"]] == ["SANDBOX"]
