"""The worker sends each project's messages through its own SMTP server and Twilio account,
else the installation's, else the sink (saying why); a secret it cannot open fails the message."""

from collections.abc import AsyncIterator, Iterator

import pytest

from api.settings import Settings
from delivery.sms import close_sms_clients
from delivery.worker import OutboxWorker, Outcome
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import MessagingChanges, update_messaging
from domain.providers import SmtpChanges, TwilioChanges
from tests.delivery.fakes import FakeSmtpServer, FakeTwilioServer
from tests.delivery.test_worker import a_customer, queue_raw, reload
from tests.factories import Tenant

SECOND_SID = "AC" + "fedcba9876543210" * 2
SECOND_TOKEN = "e" * 32
SECOND_NUMBER = "+15005550009"


@pytest.fixture
def smtp_a() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(credentials=("shop-a", "password-of-shop-a")) as server:
        yield server


@pytest.fixture
def smtp_b() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(credentials=("shop-b", "password-of-shop-b")) as server:
        yield server


@pytest.fixture
def smtp_installation() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    """One Twilio API serving two accounts, as Twilio does."""
    with FakeTwilioServer(other_accounts={SECOND_SID: SECOND_TOKEN}) as server:
        yield server


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    await close_sms_clients()


async def no_quiet_hours(*tenants: Tenant) -> None:
    # SMS wait out the default quiet hours; these tests are about where messages go.
    for tenant in tenants:
        await update_messaging(tenant.project_id, MessagingChanges(quiet_hours=False))


async def give_smtp(settings: Settings, tenant: Tenant, server: FakeSmtpServer) -> None:
    assert server.credentials is not None
    username, password = server.credentials
    changes = SmtpChanges(
        host=server.host,
        port=server.port,
        security="none",
        username=username,
        password=password,
        from_address=f"hello@{username}.example",
    )
    await update_messaging(tenant.project_id, MessagingChanges(smtp=changes), settings.secret_key)


async def give_twilio(
    settings: Settings, tenant: Tenant, sid: str, token: str, sender: str
) -> None:
    changes = TwilioChanges(account_sid=sid, auth_token=token, sender=sender)
    await update_messaging(tenant.project_id, MessagingChanges(twilio=changes), settings.secret_key)


async def test_two_projects_send_through_their_own_smtp_server_and_twilio_account(
    tenant: Tenant,
    other_tenant: Tenant,
    settings: Settings,
    smtp_a: FakeSmtpServer,
    smtp_b: FakeSmtpServer,
    smtp_installation: FakeSmtpServer,
    twilio: FakeTwilioServer,
) -> None:
    await no_quiet_hours(tenant, other_tenant)
    await give_smtp(settings, tenant, smtp_a)
    await give_smtp(settings, other_tenant, smtp_b)
    await give_twilio(settings, tenant, twilio.account_sid, twilio.auth_token, twilio.from_number)
    await give_twilio(settings, other_tenant, SECOND_SID, SECOND_TOKEN, SECOND_NUMBER)
    for each in (tenant, other_tenant):
        customer_id = await a_customer(each)
        await queue_raw(each.project_id, customer_id, MessageChannel.EMAIL)
        await queue_raw(each.project_id, customer_id, MessageChannel.SMS)
    # The installation has an SMTP server of its own: projects with theirs do not use it.
    installation = settings.model_copy(
        update={**smtp_installation.settings(), "twilio_api_url": twilio.url}
    )

    assert await OutboxWorker(installation, concurrency=2).run_until_idle() == 4

    [to_a] = smtp_a.wait_for(1)
    [to_b] = smtp_b.wait_for(1)
    assert to_a.mail_from == "hello@shop-a.example" and to_b.mail_from == "hello@shop-b.example"
    assert smtp_installation.messages == []
    calls = {call.account_sid: call for call in twilio.sent()}
    assert set(calls) == {twilio.account_sid, SECOND_SID}
    assert calls[twilio.account_sid].form["From"] == twilio.from_number
    assert calls[SECOND_SID].form["From"] == SECOND_NUMBER
    assert all(call.authorized for call in twilio.calls)
    for message in await Message.find_all().to_list():
        assert message.status == MessageStatus.SENT and not message.sink
        assert message.provider_id and not message.sink_reason


async def test_a_project_without_its_own_provider_uses_the_installations(
    tenant: Tenant,
    settings: Settings,
    smtp_installation: FakeSmtpServer,
    twilio: FakeTwilioServer,
) -> None:
    await no_quiet_hours(tenant)
    customer_id = await a_customer(tenant)
    [email] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    installation = settings.model_copy(update={**smtp_installation.settings(), **twilio.settings()})
    await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)

    assert await OutboxWorker(installation).run_until_idle() == 2

    assert len(smtp_installation.wait_for(1)) == 1
    [call] = twilio.sent()
    assert call.account_sid == twilio.account_sid
    assert not (await reload(email)).sink


async def test_without_any_provider_messages_go_to_the_sink_and_say_why(
    tenant: Tenant, settings: Settings
) -> None:
    await no_quiet_hours(tenant)
    customer_id = await a_customer(tenant)
    [email] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    [_, sms] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)

    assert await OutboxWorker(settings).run_until_idle() == 2

    email, sms = await reload(email), await reload(sms)
    assert email.status == sms.status == MessageStatus.SENT
    assert email.sink and email.sink_reason == "NO_EMAIL_PROVIDER"
    assert sms.sink and sms.sink_reason == "NO_SMS_PROVIDER"


async def test_a_sandbox_project_with_a_provider_still_records_in_the_sink(
    tenant: Tenant, settings: Settings, smtp_a: FakeSmtpServer
) -> None:
    await give_smtp(settings, tenant, smtp_a)
    await tenant.project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"sandbox": True}}
    )
    customer_id = await a_customer(tenant)
    [email] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)

    assert await OutboxWorker(settings).run_until_idle() == 1

    sunk = await reload(email)
    assert sunk.sink and sunk.sink_reason == "SANDBOX"
    assert smtp_a.messages == []


async def test_a_secret_sealed_under_another_key_fails_the_message_with_the_reason(
    tenant: Tenant, settings: Settings, smtp_a: FakeSmtpServer, twilio: FakeTwilioServer
) -> None:
    await no_quiet_hours(tenant)
    await give_smtp(settings, tenant, smtp_a)
    await give_twilio(settings, tenant, twilio.account_sid, twilio.auth_token, twilio.from_number)
    customer_id = await a_customer(tenant)
    [email] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    [_, sms] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    rotated = settings.model_copy(
        update={"secret_key": "another-secret-key-" + "x" * 32, "twilio_api_url": twilio.url}
    )
    worker = OutboxWorker(rotated)

    assert [await worker.run_one(), await worker.run_one()] == [Outcome.FAILED] * 2

    email, sms = await reload(email), await reload(sms)
    assert email.status == sms.status == MessageStatus.FAILED
    assert "SMTP password cannot be read" in email.error and "ENGAGE_SECRET_KEY" in email.error
    assert "Twilio auth token cannot be read" in sms.error
    assert smtp_a.messages == [] and twilio.calls == []


async def test_after_a_key_rotation_the_previous_key_still_opens_the_projects_secrets(
    tenant: Tenant, settings: Settings, smtp_a: FakeSmtpServer
) -> None:
    await give_smtp(settings, tenant, smtp_a)
    customer_id = await a_customer(tenant)
    [email] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    rotated = settings.model_copy(
        update={
            "secret_key": "the-new-secret-key-" + "n" * 32,
            "previous_secret_key": settings.secret_key,
        }
    )

    assert await OutboxWorker(rotated).run_one() == Outcome.SENT

    assert len(smtp_a.wait_for(1)) == 1
    assert (await reload(email)).status == MessageStatus.SENT
