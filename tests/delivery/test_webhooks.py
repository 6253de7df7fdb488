"""Outbound webhooks end to end: GraphQL creates the endpoint, domain changes emit events, the
worker signs and POSTs them to a real HTTP server, which verifies every signature with the
`standardwebhooks` package (an implementation of the spec that is not ours)."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from pymongo.asynchronous.collection import AsyncCollection

from api.settings import Settings
from delivery.outbox import Links, queue_message
from delivery.webhooks import RefusedAddress, WebhookWorker, check_resolved
from delivery.worker import OutboxWorker
from domain import messages, webhooks
from domain.codes import Code, emit_pending_published, publish_code, publish_codes_to_many
from domain.common import utc_now
from domain.messages import MessageChannel, ProviderStatus
from domain.orders import record_order
from domain.referrals import apply_referral_code, referral_link, release_due_rewards
from domain.webhooks import DeliveryStatus, WebhookDelivery
from tests.delivery.webhook_receiver import Received, WebhookReceiver
from tests.factories import (
    Tenant,
    make_campaign,
    make_code,
    make_customer,
    make_pool,
    make_referral_program,
    order_input,
)

ENGAGE = str(Path(sys.executable).parent / "engage")

CREATE_WEBHOOK = """
mutation ($url: String!, $events: [String!]!) {
  createWebhook(url: $url, events: $events) {
    webhook { id status events } secret errors { code field message }
  }
}"""
REDEEM = """
mutation ($code: String!) {
  redeemCode(code: $code, idempotencyKey: "till-1") { redemption { id } errors { code } }
}"""
ROLLBACK = """
mutation ($id: ID!) {
  rollbackRedemption(id: $id, reason: "till error") { redemption { id } errors { code } }
}"""
CREATE_CUSTOMER = """
mutation { createCustomer(input: { sourceId: "c-1" }) { customer { id } errors { code } } }"""
DELIVERIES = """
query ($id: ID!) {
  webhookDeliveries(webhookId: $id) {
    edges { node {
      eventId eventType status attemptCount lastStatusCode
      attempts { number statusCode latencyMs error }
    } }
  }
}"""
WEBHOOKS = "{ webhooks { edges { node { id status pauseReason failingSince } } } }"
NOTICES = "{ webhookNotices { edges { node { webhookId kind message } } } }"
RESUME = "mutation ($id: ID!) { resumeWebhook(id: $id) { webhook { status } errors { code } } }"


class Clock:
    """What the worker takes for now: real time moved forward by the test, never slept for."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.ahead


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    started = await WebhookReceiver().start()
    yield started
    await started.stop()


async def _create(tenant: Tenant, url: str, events: list[str]) -> tuple[str, str]:
    data = await tenant.gql(CREATE_WEBHOOK, {"url": url, "events": events})
    created = data["createWebhook"]
    assert created["errors"] == []
    assert created["secret"].startswith("whsec_")
    return created["webhook"]["id"], created["secret"]


def _verified(secret: str, request: Received) -> dict[str, Any]:
    """The payload, after standardwebhooks checked the signature and the timestamp."""
    payload: dict[str, Any] = standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    assert payload["id"] == request.headers["webhook-id"]
    return payload


def _worker(settings: Settings, clock: Clock) -> WebhookWorker:
    return WebhookWorker(settings, concurrency=1, clock=clock)


async def test_signed_in_order_and_retried_after_a_500(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    webhook_id, secret = await _create(
        tenant, receiver.url, ["redemption.succeeded", "redemption.rolled_back"]
    )
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_code(campaign=campaign, display="HOOK-1")
    redeemed = await tenant.gql(REDEEM, {"code": "HOOK-1"})
    redemption_id = redeemed["redeemCode"]["redemption"]["id"]
    await tenant.gql(ROLLBACK, {"id": redemption_id})
    # Not subscribed: recorded for no endpoint.
    await tenant.gql(CREATE_CUSTOMER)

    receiver.statuses.extend([500])
    clock = Clock()
    worker = _worker(settings, clock)
    try:
        await worker.run_until_idle()
        # The rollback waits behind the failed success of the same redemption.
        assert len(receiver.received) == 1
        for step in (1, 2):
            clock.ahead = timedelta(hours=step)
            await worker.run_until_idle()
    finally:
        await worker.close()

    payloads = [_verified(secret, request) for request in receiver.received]
    assert [p["type"] for p in payloads] == [
        "redemption.succeeded",
        "redemption.succeeded",
        "redemption.rolled_back",
    ]
    assert payloads[0]["id"] == payloads[1]["id"] != payloads[2]["id"]
    first = payloads[0]
    assert first["data"]["id"] == redemption_id
    assert first["data"]["code"] == "HOOK1"
    assert first["time"].endswith("Z")
    assert payloads[2]["data"]["status"] == "ROLLED_BACK"

    log = await tenant.gql(DELIVERIES, {"id": webhook_id})
    nodes = [edge["node"] for edge in log["webhookDeliveries"]["edges"]]
    assert [n["eventType"] for n in nodes] == ["redemption.succeeded", "redemption.rolled_back"]
    assert [n["status"] for n in nodes] == ["SUCCEEDED", "SUCCEEDED"]
    succeeded = nodes[0]
    assert succeeded["eventId"] == first["id"]
    assert succeeded["attemptCount"] == 2
    assert [a["statusCode"] for a in succeeded["attempts"]] == [500, 200]
    assert succeeded["attempts"][0]["error"].startswith("HTTP 500")
    assert succeeded["attempts"][1]["error"] is None
    assert all(a["latencyMs"] >= 0 for a in succeeded["attempts"])


async def test_an_endpoint_failing_for_a_day_is_paused_and_the_project_told(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    webhook_id, secret = await _create(tenant, receiver.url, ["customer.created"])
    await tenant.gql(CREATE_CUSTOMER)
    receiver.statuses.extend([500, 503, 502])
    clock = Clock()
    worker = _worker(settings, clock)
    try:
        await worker.run_until_idle()
        clock.ahead = timedelta(hours=2)
        await worker.run_until_idle()
        listed = (await tenant.gql(WEBHOOKS))["webhooks"]["edges"][0]["node"]
        assert listed["status"] == "ACTIVE"
        assert listed["failingSince"] is not None
        clock.ahead = timedelta(hours=25)
        await worker.run_until_idle()
        listed = (await tenant.gql(WEBHOOKS))["webhooks"]["edges"][0]["node"]
        assert (listed["status"], listed["pauseReason"]) == ("PAUSED", "FAILING")
        notices = (await tenant.gql(NOTICES))["webhookNotices"]["edges"]
        assert [(n["node"]["webhookId"], n["node"]["kind"]) for n in notices] == [
            (webhook_id, "WEBHOOK_PAUSED")
        ]
        assert receiver.url in notices[0]["node"]["message"]
        # Paused: the delivery is held, not sent, however long the wait.
        clock.ahead = timedelta(days=3)
        await worker.run_until_idle()
        assert len(receiver.received) == 3
        held = await WebhookDelivery.find_one({"webhook_id": webhook_id})
        assert held is not None and held.status == DeliveryStatus.HELD
        # Resumed, the endpoint healthy again: the held event goes out.
        resumed = await tenant.gql(RESUME, {"id": webhook_id})
        assert resumed["resumeWebhook"]["webhook"]["status"] == "ACTIVE"
        await worker.run_until_idle()
    finally:
        await worker.close()
    assert len(receiver.received) == 4
    ids = {_verified(secret, request)["id"] for request in receiver.received}
    assert len(ids) == 1


def _worker_process(settings: Settings) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ENGAGE_MONGODB_URI": str(settings.mongodb_uri),
        "ENGAGE_DATABASE": settings.database,
        "ENGAGE_DATA_DIR": str(settings.data_dir),
        "ENGAGE_WORKER_CONCURRENCY": "1",
    }
    return subprocess.Popen(
        [ENGAGE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


async def test_a_worker_killed_mid_delivery_leaves_it_to_another(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    _, secret = await _create(tenant, receiver.url, ["customer.created"])
    await tenant.gql(CREATE_CUSTOMER)
    receiver.hold = True
    doomed = _worker_process(settings)
    try:
        await receiver.wait_for_request(60)
        # The request arrived and is unanswered: the worker dies holding the lease.
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)
    receiver.release()
    delivery = await WebhookDelivery.find_one({"project_id": tenant.project_id})
    assert delivery is not None and delivery.status == DeliveryStatus.SENDING

    clock = Clock()
    # Past the dead worker's lease: another worker takes the delivery over.
    clock.ahead = timedelta(seconds=settings.worker_lease_seconds + 1)
    worker = _worker(settings, clock)
    try:
        assert await worker.run_until_idle() == 1
    finally:
        await worker.close()
    payloads = [_verified(secret, request) for request in receiver.received]
    assert len(payloads) == 2
    assert payloads[0]["id"] == payloads[1]["id"]
    assert payloads[0]["type"] == "customer.created"
    settled = await WebhookDelivery.get(delivery.id)
    assert settled is not None and settled.status == DeliveryStatus.SUCCEEDED


def _body(delivery: WebhookDelivery) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(delivery.body)
    return body


async def test_a_repeated_change_is_one_event_per_endpoint(tenant: Tenant) -> None:
    created = await webhooks.create_webhook(
        secret_key="k" * 40,
        project_id=tenant.project_id,
        url="https://hooks.example.com/a",
        events=["order.recorded"],
        secret=None,
        allow_private=False,
    )
    for _ in range(2):
        await webhooks.emit(
            project_id=tenant.project_id,
            event_type=webhooks.ORDER_RECORDED,
            object_key="order:A-1",
            data={"id": "A-1"},
            dedupe_key="order.recorded:A-1",
        )
    stored = await WebhookDelivery.find({"webhook_id": created.webhook.key}).to_list()
    assert len(stored) == 1
    assert _body(stored[0])["data"] == {"id": "A-1"}


async def test_in_production_a_name_resolving_to_a_private_address_is_not_called() -> None:
    with pytest.raises(RefusedAddress):
        await check_resolved("http://localhost:8000/hook")
    await check_resolved("http://93.184.215.14/hook")


async def test_an_event_written_before_its_change_goes_out_only_if_the_change_was_made(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    """A process that dies between writing an event and making its change never confirms it:
    the worker looks for the change itself, sends the event if it finds it, drops it if not."""
    _, secret = await _create(tenant, receiver.url, ["redemption.succeeded"])
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_code(campaign=campaign, display="HOOK-2")
    redeemed = await tenant.gql(REDEEM, {"code": "HOOK-2"})
    made_id = redeemed["redeemCode"]["redemption"]["id"]
    for document_id in (made_id, "0" * 24):
        await webhooks.prepare_event(
            project_id=tenant.project_id,
            event_type=webhooks.REDEMPTION_SUCCEEDED,
            object_key=f"redemption:{document_id}",
            data={"id": document_id},
            dedupe_key=f"unconfirmed:{document_id}",
            change=webhooks.Change(
                collection="redemptions",
                document_id=document_id,
                field="status",
                values=("SUCCEEDED",),
            ),
        )
    clock = Clock()
    worker = _worker(settings, clock)
    try:
        # The confirmed event only: the prepared ones wait for their writer a while.
        await worker.run_until_idle()
        assert len(receiver.received) == 1
        clock.ahead = timedelta(minutes=1)
        await worker.run_until_idle()
        sent = [_verified(secret, request)["data"]["id"] for request in receiver.received]
        assert sent == [made_id, made_id]
        # The change that was never made: looked for again, then dropped.
        assert await WebhookDelivery.find({"project_id": tenant.project_id}).count() == 3
        clock.ahead = timedelta(minutes=20)
        await worker.run_until_idle()
    finally:
        await worker.close()
    assert len(receiver.received) == 2
    left = await WebhookDelivery.find({"project_id": tenant.project_id}).to_list()
    assert [d.status for d in left] == [DeliveryStatus.SUCCEEDED] * 2


@contextlib.contextmanager
def dying_when_storing_an_event() -> Iterator[None]:
    """The process stops right after a change, as it writes the change's webhook event: the
    task is cancelled at the driver's insert into the webhook outbox."""
    original = AsyncCollection.insert_many

    async def cancelled(self: AsyncCollection[Any], *args: Any, **kwargs: Any) -> Any:
        if self.name == WebhookDelivery.get_collection_name():
            raise asyncio.CancelledError
        return await original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AsyncCollection, "insert_many", cancelled)
        yield


async def _recovered_once(
    tenant: Tenant,
    settings: Settings,
    receiver: WebhookReceiver,
    secret: str,
    sweep: Any,
    dedupe_key: str,
) -> dict[str, Any]:
    """Nothing was stored by the dead writer; the sweep stores the event (a second sweep finds
    nothing left), and the worker delivers it once, under the change's own event id."""
    stored = WebhookDelivery.find({"project_id": tenant.project_id})
    assert await stored.count() == 0
    later = utc_now() + timedelta(minutes=1)
    await sweep(now=later)
    await sweep(now=later)
    assert await stored.count() == 1
    worker = _worker(settings, Clock())
    try:
        await worker.run_until_idle()
    finally:
        await worker.close()
    assert len(receiver.received) == 1
    payload = _verified(secret, receiver.received[0])
    assert payload["id"] == webhooks.event_id_for(
        project_id=tenant.project_id, dedupe_key=dedupe_key
    )
    return payload


async def test_a_pooled_code_published_by_a_dying_process_is_announced_once(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    _, secret = await _create(tenant, receiver.url, ["code.published"])
    campaign = await make_campaign(project_id=tenant.project_id)
    [pooled] = await make_pool(campaign=campaign, displays=["POOL-1"])
    ann = await make_customer(project_id=tenant.project_id)
    with dying_when_storing_an_event(), pytest.raises(asyncio.CancelledError):
        await publish_code(tenant.project_id, campaign.key, ann.key)
    payload = await _recovered_once(
        tenant, settings, receiver, secret, emit_pending_published, f"code.published:{pooled.id}"
    )
    assert (payload["type"], payload["data"]["id"]) == ("code.published", str(pooled.id))


async def test_codes_published_to_many_by_a_dying_process_are_announced_once(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    _, secret = await _create(tenant, receiver.url, ["code.published"])
    campaign = await make_campaign(project_id=tenant.project_id)
    audience = [await make_customer(project_id=tenant.project_id) for _ in range(2)]
    with dying_when_storing_an_event(), pytest.raises(asyncio.CancelledError):
        await publish_codes_to_many(campaign=campaign, customers=audience)
    given = await Code.find({"campaign_id": campaign.key}).to_list()
    assert len(given) == 2
    later = utc_now() + timedelta(minutes=1)
    assert await emit_pending_published(now=later) == 2
    assert await emit_pending_published(now=later) == 0
    worker = _worker(settings, Clock())
    try:
        await worker.run_until_idle()
    finally:
        await worker.close()
    told = sorted(_verified(secret, request)["id"] for request in receiver.received)
    assert told == sorted(
        webhooks.event_id_for(project_id=tenant.project_id, dedupe_key=f"code.published:{c.id}")
        for c in given
    )


async def test_a_referral_qualified_by_a_dying_process_is_announced_once(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    _, secret = await _create(tenant, receiver.url, ["referral.qualified"])
    program = await make_referral_program(project_id=tenant.project_id, hold_days=30)
    referrer = await make_customer(project_id=tenant.project_id)
    referee = await make_customer(project_id=tenant.project_id)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    referral = await apply_referral_code(
        project_id=tenant.project_id, raw_code=link.code, customer_id=referee.key
    )
    with dying_when_storing_an_event(), pytest.raises(asyncio.CancelledError):
        await record_order(tenant.project_id, order_input(order_id="r-1", customer=referee))
    payload = await _recovered_once(
        tenant,
        settings,
        receiver,
        secret,
        release_due_rewards,
        f"referral.qualified:{referral.id}",
    )
    assert payload["data"]["id"] == referral.key
    assert payload["data"]["status"] == "QUALIFIED"


async def test_a_delivery_report_applied_by_a_dying_process_is_announced_once(
    tenant: Tenant, settings: Settings, receiver: WebhookReceiver
) -> None:
    _, secret = await _create(tenant, receiver.url, ["message.delivered"])
    ann = await make_customer(
        project_id=tenant.project_id, email="ann@example.com", consents={"email": True}
    )
    links = Links(base_url=settings.public_base_url, secret_key=settings.secret_key)
    campaign = await make_campaign(project_id=tenant.project_id)
    coupon = await publish_code(tenant.project_id, campaign.key, ann.key)
    queued = await queue_message(
        links, tenant.project_id, ann.key, MessageChannel.EMAIL, None, coupon.code
    )
    await OutboxWorker(settings, concurrency=1).run_until_idle()
    sent = await messages.get_message(tenant.project_id, queued.key)
    with dying_when_storing_an_event(), pytest.raises(asyncio.CancelledError):
        await messages.record_provider_status(sent.provider_id, ProviderStatus.DELIVERED)
    payload = await _recovered_once(
        tenant,
        settings,
        receiver,
        secret,
        messages.emit_pending_reports,
        f"message.delivered:{sent.id}",
    )
    assert (payload["data"]["id"], payload["data"]["status"]) == (sent.key, "DELIVERED")
