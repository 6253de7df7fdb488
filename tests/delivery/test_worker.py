"""The outbox worker against real SMTP and Twilio-speaking servers: retries, consent, quiet
hours, sinks, and several workers (in several processes) sending each message once."""

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from delivery.worker import OutboxWorker, Outcome
from domain import consent, customer_lifecycle, messages
from domain.common import utc_now
from domain.customers import Channel, ConsentsInput, CustomerInput
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import Project
from tests.delivery.fakes import FakeSmtpServer, FakeTwilioServer
from tests.engines import SECANTUS, selected_engine
from tests.factories import Tenant

ENGAGE = str(Path(sys.executable).parent / "engage")
# What two workers share out between them. SecantusDB answers the lease query (a range on
# `due_at`, sorted) by scanning the collection, about 30 leases a second over 1,000 open
# messages on an idle machine, so it gets a batch that fits the timeout; what is checked
# (every message sent exactly once) is the same.
SHARED_BATCH = 200 if selected_engine() == SECANTUS else 1000


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


async def a_customer(tenant: Tenant, email: bool = True, sms: bool = True, **extra: Any) -> str:
    customer = await customer_lifecycle.create_customer(
        tenant.project_id,
        CustomerInput(
            email=extra.pop("address", "ada@example.com"),
            phone="+14155550123",
            name="Ada",
            consents=ConsentsInput(email=email, sms=sms),
            **extra,
        ),
        source="test",
    )
    return customer.key


async def queue_raw(
    project_id: str, customer_id: str, channel: MessageChannel, count: int = 1, **fields: Any
) -> list[Message]:
    """Rendered messages written straight to the outbox: these tests are about sending them."""
    to = "ada@example.com" if channel == MessageChannel.EMAIL else "+14155550123"
    batch = [
        Message(
            project_id=project_id,
            channel=channel,
            customer_id=customer_id,
            to=to,
            subject=f"Offer {n}",
            body_text=f"Your code N{n:05d}",
            body_html=f"<p>Your code N{n:05d}</p>",
            **fields,
        )
        for n in range(count)
    ]
    await Message.insert_many(batch)
    return await Message.find({"project_id": project_id}).sort("_id").to_list()


def worker_for(settings: Settings, **update: Any) -> OutboxWorker:
    return OutboxWorker(settings.model_copy(update=update), concurrency=4)


async def reload(message: Message) -> Message:
    found = await Message.get(message.id)
    assert found is not None
    return found


async def make_due(message: Message) -> None:
    """Moves a retry's time to now, as if its backoff had passed."""
    await Message.get_pymongo_collection().update_one(
        {"_id": message.id}, {"$set": {"due_at": utc_now()}}
    )


async def test_email_goes_out_through_smtp_and_is_marked_sent(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    assert await worker_for(settings, **smtp.settings()).run_until_idle() == 1
    [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ["ada@example.com"]
    assert "N00000" in received.body("plain")
    sent = await reload(message)
    assert sent.status == MessageStatus.SENT
    assert sent.provider_id == received.message["Message-ID"]
    assert sent.sent_at is not None and not sent.sink


async def test_transient_smtp_failure_is_retried_and_permanent_is_not(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    worker = worker_for(settings, **smtp.settings())
    smtp.fail(451)
    # One attempt: the jittered backoff may make the retry due at once.
    assert await worker.run_one() == Outcome.RETRY
    waiting = await reload(message)
    assert waiting.status == MessageStatus.QUEUED and waiting.open
    assert "451" in waiting.error and waiting.attempts == 1
    assert waiting.due_at > utc_now() - timedelta(seconds=1)
    await make_due(message)
    await worker.run_until_idle()
    assert (await reload(message)).status == MessageStatus.SENT
    assert len(smtp.wait_for(1)) == 1

    smtp.fail(550, times=None)
    [*_, refused] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    await worker.run_until_idle()
    failed = await reload(refused)
    assert failed.status == MessageStatus.FAILED and not failed.open
    assert "550" in failed.error and failed.attempts == 1


async def test_a_message_fails_after_its_last_attempt(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(
        tenant.project_id, customer_id, MessageChannel.EMAIL, max_attempts=3
    )
    smtp.fail(421, times=None)
    worker = worker_for(settings, **smtp.settings())
    for _ in range(3):
        await make_due(message)
        await worker.run_until_idle()
    failed = await reload(message)
    assert failed.status == MessageStatus.FAILED
    assert failed.attempts == 3 and "gave up after 3 attempts" in failed.error
    assert smtp.messages == []


async def test_sms_429_is_retried_and_400_is_not(
    tenant: Tenant, settings: Settings, twilio: FakeTwilioServer
) -> None:
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"messaging.quiet_hours": False}}
    )
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    worker = worker_for(settings, **twilio.settings())
    twilio.respond(429)
    assert await worker.run_one() == Outcome.RETRY
    assert (await reload(message)).status == MessageStatus.QUEUED
    await make_due(message)
    await worker.run_until_idle()
    sent = await reload(message)
    assert sent.status == MessageStatus.SENT
    assert [call.status for call in twilio.calls] == [429, 201]
    call = twilio.calls[-1]
    assert call.authorized and sent.provider_id == call.sid
    assert call.form["To"] == "+14155550123" and call.form["Body"] == "Your code N00000"
    callback = f"http://testserver/hooks/twilio/status?message={message.key}"
    assert call.form["StatusCallback"] == callback

    twilio.reset()
    twilio.respond(400, times=None)
    [*_, refused] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    await worker.run_until_idle()
    failed = await reload(refused)
    assert failed.status == MessageStatus.FAILED and "400" in failed.error
    assert len(twilio.calls) == 1


async def test_consent_withdrawn_after_queueing_suppresses_the_message(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    await consent.withdraw_consent(tenant.project_id, customer_id, Channel.EMAIL, "test")
    await worker_for(settings, **smtp.settings()).run_until_idle()
    suppressed = await reload(message)
    assert suppressed.status == MessageStatus.SUPPRESSED and not suppressed.open
    assert "consent" in suppressed.error
    assert smtp.messages == []


async def test_an_address_opted_out_elsewhere_is_suppressed(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    # Another customer record with the same address unsubscribed.
    await consent.withdraw_email(tenant.project_id, "ada@example.com", "unsubscribe-link")
    await worker_for(settings, **smtp.settings()).run_until_idle()
    assert (await reload(message)).status == MessageStatus.SUPPRESSED
    assert smtp.messages == []


async def test_sms_waits_for_the_end_of_quiet_hours_in_the_customers_zone(
    tenant: Tenant, settings: Settings, twilio: FakeTwilioServer
) -> None:
    now = utc_now()
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=1)).strftime("%H:%M")
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id},
        {"$set": {"messaging.quiet_start": start, "messaging.quiet_end": end}},
    )
    # The customer lives in UTC, the project elsewhere: the customer's zone decides.
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"messaging.timezone": "Asia/Tokyo"}}
    )
    customer_id = await a_customer(tenant, attributes={"timezone": "UTC"})
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    await worker_for(settings, **twilio.settings()).run_until_idle()
    waiting = await reload(message)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.attempts == 0, "waiting for the morning does not use up an attempt"
    wake = waiting.due_at
    assert wake.strftime("%H:%M") == end and wake > now
    assert twilio.calls == []
    # Email is not held by quiet hours.
    [email] = [
        m
        for m in await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
        if m.channel == MessageChannel.EMAIL
    ]
    with FakeSmtpServer() as smtp:
        await worker_for(settings, **smtp.settings()).run_until_idle()
        assert (await reload(email)).status == MessageStatus.SENT


async def test_sandbox_projects_and_unconfigured_channels_write_to_the_sink(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"sandbox": True}}
    )
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    # SMTP is configured, but a sandbox project never reaches a provider.
    await worker_for(settings, **smtp.settings()).run_until_idle()
    sunk = await reload(message)
    assert sunk.status == MessageStatus.SENT and sunk.sink
    assert smtp.messages == []
    eml = settings.sink_dir / tenant.project_id / f"{message.key}.eml"
    assert "N00000" in eml.read_text()

    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"sandbox": False}}
    )
    [*_, sms] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"messaging.quiet_hours": False}}
    )
    # No Twilio account configured: the SMS goes to the SMS log.
    await worker_for(settings).run_until_idle()
    assert (await reload(sms)).sink
    log = (settings.sink_dir / tenant.project_id / "sms.log").read_text()
    assert sms.key in log and "+14155550123" in log


async def test_a_lost_lease_is_not_settled_by_its_old_holder(
    tenant: Tenant, settings: Settings
) -> None:
    customer_id = await a_customer(tenant)
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL)
    first = await messages.lease_message("first", timedelta(seconds=-1))
    assert first is not None
    # The lease ran out at once: a second worker takes the message over.
    second = await messages.lease_message("second")
    assert second is not None and second.id == message.id and second.attempts == 2
    assert not await messages.mark_sent(first, "first", "late")
    assert await messages.mark_sent(second, "second", "on time")
    assert (await reload(message)).provider_id == "on time"


def _worker_process(settings: Settings, smtp: FakeSmtpServer, lease_seconds: float) -> Any:
    env = {
        **os.environ,
        "ENGAGE_MONGODB_URI": str(settings.mongodb_uri),
        "ENGAGE_DATABASE": settings.database,
        "ENGAGE_DATA_DIR": str(settings.data_dir),
        "ENGAGE_SMTP_HOST": smtp.host,
        "ENGAGE_SMTP_PORT": str(smtp.port),
        "ENGAGE_SMTP_SECURITY": "none",
        "ENGAGE_WORKER_LEASE_SECONDS": str(lease_seconds),
        "ENGAGE_WORKER_CONCURRENCY": "8",
    }
    return subprocess.Popen(
        [ENGAGE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


async def _settled(project_id: str) -> int:
    return await Message.find({"project_id": project_id, "open": False}).count()


async def _wait_for(predicate: Any, seconds: float) -> None:
    # Polls the database: there is no event to wait on across processes.
    async with asyncio.timeout(seconds):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.2)


def _message_ids(smtp: FakeSmtpServer) -> Counter[str]:
    return Counter(str(received.message["Message-ID"]) for received in smtp.messages)


async def test_two_worker_processes_send_a_shared_batch_once_each(
    tenant: Tenant, settings: Settings, smtp: FakeSmtpServer
) -> None:
    customer_id = await a_customer(tenant)
    queued = await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL, SHARED_BATCH)
    workers = [_worker_process(settings, smtp, 60) for _ in range(2)]
    try:
        await _wait_for(lambda: _settled_all(tenant.project_id, SHARED_BATCH), 240)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.wait(20)
    received = _message_ids(smtp)
    assert len(smtp.messages) == SHARED_BATCH
    assert set(received.values()) == {1}
    stored = await Message.find({"project_id": tenant.project_id}).to_list()
    assert {m.status for m in stored} == {MessageStatus.SENT}
    assert set(received) == {m.provider_id for m in stored}
    assert len(queued) == SHARED_BATCH


async def _settled_all(project_id: str, count: int) -> bool:
    return await _settled(project_id) >= count


async def test_a_killed_worker_leaves_no_message_unsent_or_sent_twice(
    tenant: Tenant, settings: Settings
) -> None:
    customer_id = await a_customer(tenant)
    await queue_raw(tenant.project_id, customer_id, MessageChannel.EMAIL, 40)
    # The server holds every recipient for a while, so the worker is killed mid-conversation,
    # holding leases on messages that no server has accepted yet.
    with FakeSmtpServer(rcpt_delay=2.0) as smtp:
        doomed = _worker_process(settings, smtp, lease_seconds=3)
        try:
            await _wait_for(lambda: _leased(tenant.project_id), 30)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
            held = await Message.find(
                {"project_id": tenant.project_id, "status": MessageStatus.SENDING.value}
            ).count()
            assert held > 0
        finally:
            if doomed.poll() is None:
                doomed.kill()
        smtp.rcpt_delay = 0.0
        survivor = _worker_process(settings, smtp, lease_seconds=3)
        try:
            await _wait_for(lambda: _settled_all(tenant.project_id, 40), 120)
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(20)
        received = _message_ids(smtp)
    assert len(received) == 40 and set(received.values()) == {1}
    stored = await Message.find({"project_id": tenant.project_id}).to_list()
    assert {m.status for m in stored} == {MessageStatus.SENT}
    # The messages the dead worker held were taken over: their second attempt sent them.
    assert max(m.attempts for m in stored) == 2


async def _leased(project_id: str) -> bool:
    return (
        await Message.find(
            {"project_id": project_id, "status": MessageStatus.SENDING.value}
        ).count()
        >= 4
    )
