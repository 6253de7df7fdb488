"""updateMessaging reaches a running worker at once: its copy of the project is checked against
the settings version stored in the project, so a change made by any process counts."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from api.settings import Settings
from delivery.worker import OutboxWorker, Outcome
from domain import messages
from domain.common import utc_now
from domain.messages import MessageChannel, MessageStatus
from domain.projects import get_project
from tests.delivery.fakes import FakeTwilioServer
from tests.delivery.test_worker import a_customer, queue_raw, reload
from tests.factories import Tenant

UPDATE_MESSAGING = """
mutation ($input: MessagingInput!) {
  updateMessaging(input: $input) { errors { code field message } }
}"""


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


async def update_messaging(tenant: Tenant, **fields: object) -> None:
    answer = await tenant.gql(UPDATE_MESSAGING, {"input": fields})
    assert answer["updateMessaging"]["errors"] == []


async def test_quiet_hours_switched_off_release_the_held_sms_on_the_next_pass(
    tenant: Tenant, settings: Settings, twilio: FakeTwilioServer
) -> None:
    now = utc_now()
    await update_messaging(
        tenant,
        quietStart=(now - timedelta(hours=1)).strftime("%H:%M"),
        quietEnd=(now + timedelta(hours=2)).strftime("%H:%M"),
    )
    customer_id = await a_customer(tenant, attributes={"timezone": "UTC"})
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    # One worker for the whole test: it holds its copy of the project between passes.
    worker = OutboxWorker(settings.model_copy(update=twilio.settings()), concurrency=2)
    await worker.run_until_idle()
    held = await reload(message)
    assert held.status == MessageStatus.QUEUED and held.due_at > now + timedelta(minutes=30)
    assert twilio.sent() == []

    await update_messaging(tenant, quietHours=False)

    assert await worker.run_until_idle() == 1
    assert (await reload(message)).status == MessageStatus.SENT
    assert len(twilio.sent()) == 1


async def test_a_new_sender_applies_to_the_next_message(
    tenant: Tenant, settings: Settings, twilio: FakeTwilioServer
) -> None:
    await update_messaging(tenant, quietHours=False, smsFrom="+14155550100")
    customer_id = await a_customer(tenant)
    worker = OutboxWorker(settings.model_copy(update=twilio.settings()), concurrency=1)
    await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    assert await worker.run_until_idle() == 1

    await update_messaging(tenant, smsFrom="Engage")
    await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    assert await worker.run_until_idle() == 1

    assert [call.form["From"] for call in twilio.sent()] == ["+14155550100", "Engage"]


async def test_a_hold_judged_under_rules_changed_meanwhile_is_released(
    tenant: Tenant, settings: Settings, twilio: FakeTwilioServer
) -> None:
    now = utc_now()
    await update_messaging(
        tenant,
        quietStart=(now - timedelta(hours=1)).strftime("%H:%M"),
        quietEnd=(now + timedelta(hours=2)).strftime("%H:%M"),
    )
    customer_id = await a_customer(tenant, attributes={"timezone": "UTC"})
    [message] = await queue_raw(tenant.project_id, customer_id, MessageChannel.SMS)
    worker = OutboxWorker(settings.model_copy(update=twilio.settings()), concurrency=1)
    leased = await messages.lease_message(worker.owner)
    assert leased is not None and leased.id == message.id
    # The worker read the project, then quiet hours were switched off before it held the SMS.
    stale = await get_project(tenant.project_id)
    await update_messaging(tenant, quietHours=False)
    assert await worker._before_customer_send(leased, stale) == Outcome.DEFERRED

    assert await worker.run_until_idle() == 1
    assert (await reload(message)).status == MessageStatus.SENT
