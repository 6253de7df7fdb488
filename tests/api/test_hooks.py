"""Twilio webhooks (signed status reports, STOP/START/HELP) and unsubscribe links."""

from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from api.settings import Settings
from delivery.channels import Envelope
from delivery.email import build_email
from domain.consent import Suppression, is_suppressed
from domain.customer_lifecycle import create_customer
from domain.customers import Channel, ConsentsInput, Customer, CustomerInput
from domain.customers import get_customer as load_customer
from domain.links import unsubscribe_token, unsubscribe_url
from domain.messages import Message, MessageChannel, MessageStatus, lease_message, mark_sent
from tests.delivery.fakes import AUTH_TOKEN, twilio_signature
from tests.factories import Tenant

PHONE = "+33612345678"
SID = "SM" + "ab" * 16


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": AUTH_TOKEN}
    )


async def post_signed(
    http: httpx.AsyncClient,
    path: str,
    form: dict[str, str],
    token: str = AUTH_TOKEN,
    signed_url: str | None = None,
) -> httpx.Response:
    signature = twilio_signature(token, signed_url or f"http://testserver{path}", form)
    return await http.post(path, data=form, headers={"X-Twilio-Signature": signature})


async def sent_sms(tenant: Tenant, customer_id: str = "") -> Message:
    message = Message(
        project_id=tenant.project_id,
        channel=MessageChannel.SMS,
        customer_id=customer_id,
        to=PHONE,
        status=MessageStatus.SENT,
        open=False,
        provider_id=SID,
    )
    await message.insert()
    return message


async def subscriber(tenant: Tenant) -> Customer:
    return await create_customer(
        tenant.project_id,
        CustomerInput(
            name="Ada",
            email="ada@example.com",
            phone=PHONE,
            consents=ConsentsInput(email=True, sms=True),
        ),
        "signup",
    )


def status_form(status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": SID,
        "SmsSid": SID,
        "MessageStatus": status,
        "To": PHONE,
        **extra,
    }


async def reload(message: Message) -> Message:
    stored = await Message.get(message.id)
    assert stored is not None
    return stored


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}],
    ids=["missing", "forged"],
)
async def test_status_reports_without_a_valid_signature_are_refused(
    http: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str]
) -> None:
    message = await sent_sms(tenant)

    response = await http.post(
        "/hooks/twilio/status", data=status_form("delivered"), headers=headers
    )

    assert response.status_code == 403
    assert (await reload(message)).status == MessageStatus.SENT


async def test_a_signature_for_another_url_or_token_is_refused(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    message = await sent_sms(tenant)
    form = status_form("delivered")

    other_url = await post_signed(
        http, "/hooks/twilio/status", form, signed_url="http://evil.example/hooks/twilio/status"
    )
    other_token = await post_signed(http, "/hooks/twilio/status", form, token="e" * 32)

    assert other_url.status_code == other_token.status_code == 403
    assert (await reload(message)).status == MessageStatus.SENT


async def test_without_twilio_configured_every_report_is_refused(
    http: httpx.AsyncClient, app: Starlette, tenant: Tenant, settings: Settings
) -> None:
    message = await sent_sms(tenant)
    app.state.settings = settings.model_copy(update={"twilio_auth_token": ""})

    response = await post_signed(http, "/hooks/twilio/status", status_form("delivered"), token="")

    assert response.status_code == 403
    assert (await reload(message)).status == MessageStatus.SENT


async def test_a_signed_delivered_report_marks_the_message_delivered(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    message = await sent_sms(tenant)

    response = await post_signed(http, "/hooks/twilio/status", status_form("delivered"))

    assert response.status_code == 204
    stored = await reload(message)
    assert stored.status == MessageStatus.DELIVERED and stored.delivered_at is not None


@pytest.mark.parametrize("twilio_status", ["undelivered", "failed"])
async def test_a_signed_failure_report_marks_the_message_undelivered_with_the_error(
    http: httpx.AsyncClient, tenant: Tenant, twilio_status: str
) -> None:
    message = await sent_sms(tenant)

    response = await post_signed(
        http, "/hooks/twilio/status", status_form(twilio_status, ErrorCode="30003")
    )

    assert response.status_code == 204
    stored = await reload(message)
    assert stored.status == MessageStatus.UNDELIVERED
    assert "30003" in stored.error


async def sending_sms(tenant: Tenant) -> Message:
    """An SMS a worker has leased and handed to Twilio, its send not yet recorded."""
    message = Message(project_id=tenant.project_id, channel=MessageChannel.SMS, to=PHONE)
    await message.insert()
    leased = await lease_message("worker-1")
    assert leased is not None and leased.id == message.id
    assert leased.status == MessageStatus.SENDING
    return leased


@pytest.mark.parametrize(
    ("twilio_status", "recorded"),
    [("delivered", MessageStatus.DELIVERED), ("undelivered", MessageStatus.UNDELIVERED)],
)
async def test_a_report_that_outruns_the_recorded_send_is_applied_with_it(
    http: httpx.AsyncClient, tenant: Tenant, twilio_status: str, recorded: MessageStatus
) -> None:
    message = await sending_sms(tenant)
    callback = f"/hooks/twilio/status?message={message.key}"

    response = await post_signed(http, callback, status_form(twilio_status, ErrorCode="30005"))

    assert response.status_code == 204
    waiting = await reload(message)
    assert waiting.status == MessageStatus.SENDING and waiting.early_report == recorded.value
    assert await mark_sent(message, "worker-1", SID)
    stored = await reload(message)
    assert stored.status == recorded and stored.provider_id == SID
    if recorded == MessageStatus.DELIVERED:
        assert stored.delivered_at is not None
    else:
        assert "30005" in stored.error


async def test_an_early_report_needs_a_message_being_sent_and_applies_to_its_own_sid(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    queued = Message(project_id=tenant.project_id, channel=MessageChannel.SMS, to=PHONE)
    await queued.insert()
    for message_id in (queued.key, "not-an-id", ""):
        response = await post_signed(
            http, f"/hooks/twilio/status?message={message_id}", status_form("delivered")
        )
        assert response.status_code == 204
    stored = await reload(queued)
    assert stored.status == MessageStatus.QUEUED and stored.early_report == ""
    # A report about another send of it (an earlier attempt's SID) is kept but not applied.
    leased = await lease_message("worker-1")
    assert leased is not None and leased.id == queued.id
    response = await post_signed(
        http,
        f"/hooks/twilio/status?message={queued.key}",
        status_form("undelivered", MessageSid="SM" + "cd" * 16),
    )
    assert response.status_code == 204
    assert (await reload(queued)).early_report == MessageStatus.UNDELIVERED.value
    assert await mark_sent(leased, "worker-1", SID)
    assert (await reload(queued)).status == MessageStatus.SENT


async def test_intermediate_statuses_are_acknowledged_and_change_nothing(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    message = await sent_sms(tenant)

    for twilio_status in ("queued", "sending", "sent"):
        response = await post_signed(http, "/hooks/twilio/status", status_form(twilio_status))
        assert response.status_code == 204
    assert (await reload(message)).status == MessageStatus.SENT


def inbound(body: str, sender: str = PHONE) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": "SM" + "cd" * 16,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }


async def test_stop_withdraws_sms_consent_and_start_gives_it_back(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    ada = await subscriber(tenant)
    await sent_sms(tenant, ada.key)

    stop = await post_signed(http, "/hooks/twilio/inbound", inbound("  stop "))

    assert stop.status_code == 200
    assert stop.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>You are unsubscribed" in stop.text
    stored = await load_customer(tenant.project_id, ada.key)
    assert stored.consents.sms is False and stored.consents.email is True
    assert stored.consent_log[-1].source == "sms:STOP"
    assert await is_suppressed(tenant.project_id, Channel.SMS, PHONE)

    start = await post_signed(http, "/hooks/twilio/inbound", inbound("Start"))

    assert "<Message>You are subscribed again" in start.text
    stored = await load_customer(tenant.project_id, ada.key)
    assert stored.consents.sms is True
    assert stored.consent_log[-1].source == "sms:START"
    assert not await is_suppressed(tenant.project_id, Channel.SMS, PHONE)


@pytest.mark.parametrize("keyword", ["STOPALL", "unsubscribe", "Cancel", "end", "QUIT."])
async def test_every_stop_keyword_opts_out(
    http: httpx.AsyncClient, tenant: Tenant, keyword: str
) -> None:
    await post_signed(http, "/hooks/twilio/inbound", inbound(keyword))

    assert await is_suppressed(tenant.project_id, Channel.SMS, PHONE)


async def test_help_answers_and_other_texts_get_an_empty_response(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    ada = await subscriber(tenant)
    await sent_sms(tenant, ada.key)

    help_reply = await post_signed(http, "/hooks/twilio/inbound", inbound("help"))
    other = await post_signed(http, "/hooks/twilio/inbound", inbound("please stop by tomorrow"))

    assert "<Message>Reply STOP to unsubscribe" in help_reply.text
    assert other.status_code == 200 and "<Message>" not in other.text
    assert "<Response" in other.text
    assert (await load_customer(tenant.project_id, ada.key)).consents.sms is True
    assert await Suppression.find_all().count() == 0


async def test_an_unsigned_stop_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    ada = await subscriber(tenant)
    await sent_sms(tenant, ada.key)

    response = await http.post("/hooks/twilio/inbound", data=inbound("STOP"))

    assert response.status_code == 403
    assert (await load_customer(tenant.project_id, ada.key)).consents.sms is True
    assert await Suppression.find_all().count() == 0


async def test_the_unsubscribe_link_opts_the_email_out_once_and_shows_a_branded_page(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    ada = await subscriber(tenant)
    token = unsubscribe_token(settings.secret_key, tenant.project_id, ada.key, MessageChannel.EMAIL)

    first = await http.get(f"/unsubscribe/{token}")
    second = await http.get(f"/unsubscribe/{token}")

    assert first.status_code == second.status_code == 200
    assert "You are unsubscribed" in first.text and "shop-a" in first.text
    assert "a***@example.com" in first.text and "ada@example.com" not in first.text
    stored = await load_customer(tenant.project_id, ada.key)
    assert stored.consents.email is False and stored.consents.sms is True
    assert [(c.granted, c.source) for c in stored.consent_log if c.channel == Channel.EMAIL] == [
        (True, "signup"),
        (False, "unsubscribe:link"),
    ]
    assert await is_suppressed(tenant.project_id, Channel.EMAIL, "ada@example.com")


async def test_one_click_from_the_list_unsubscribe_header_opts_out(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    ada = await subscriber(tenant)
    link = unsubscribe_url(
        settings.public_base_url,
        settings.secret_key,
        tenant.project_id,
        ada.key,
        MessageChannel.EMAIL,
    )
    email = build_email(
        Envelope(
            message_id="m1",
            project_id=tenant.project_id,
            to="ada@example.com",
            text="Hi",
            unsubscribe_url=link,
        ),
        settings.email_from,
    )
    # What a mail client does with List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    target = urlsplit(str(email["List-Unsubscribe"]).strip("<>")).path

    response = await http.post(
        target,
        content=str(email["List-Unsubscribe-Post"]).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    stored = await load_customer(tenant.project_id, ada.key)
    assert stored.consents.email is False
    assert stored.consent_log[-1].source == "unsubscribe:one-click"


async def test_an_sms_unsubscribe_link_opts_the_number_out(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    ada = await subscriber(tenant)
    token = unsubscribe_token(settings.secret_key, tenant.project_id, ada.key, MessageChannel.SMS)

    response = await http.get(f"/unsubscribe/{token}")

    assert response.status_code == 200 and "text messages" in response.text
    stored = await load_customer(tenant.project_id, ada.key)
    assert stored.consents.sms is False and stored.consents.email is True
    assert await is_suppressed(tenant.project_id, Channel.SMS, PHONE)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_forged_or_broken_token_is_404_and_writes_nothing(
    http: httpx.AsyncClient, tenant: Tenant, method: str
) -> None:
    ada = await subscriber(tenant)
    forged = unsubscribe_token("another-key", tenant.project_id, ada.key, MessageChannel.EMAIL)

    for token in (forged, "garbage", forged.split(".")[0] + ".", "%00"):
        response = await http.request(method, f"/unsubscribe/{token}")
        assert response.status_code == 404
        assert "Link not valid" in response.text

    assert (await load_customer(tenant.project_id, ada.key)).consents.email is True
    assert await Suppression.find_all().count() == 0


async def test_a_head_request_from_a_link_checker_opts_nobody_out(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    ada = await subscriber(tenant)
    token = unsubscribe_token(settings.secret_key, tenant.project_id, ada.key, MessageChannel.EMAIL)

    response = await http.head(f"/unsubscribe/{token}")

    assert response.status_code == 200
    assert (await load_customer(tenant.project_id, ada.key)).consents.email is True
