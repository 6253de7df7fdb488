"""The webhook outbox: deliveries leased by one worker at a time, settled only by the lease
holder, retried with exponential backoff, and an endpoint failing for a day paused."""

import random
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from domain import audit
from domain.webhooks.models import (
    NEVER,
    DeliveryStatus,
    PauseReason,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookNotice,
    WebhookStatus,
)
from domain.webhooks.subscriptions import forget

# A worker that stops answering loses its deliveries to another worker after this long.
LEASE = timedelta(seconds=60)
# After so many attempts a delivery is given up (by then the endpoint has usually been paused).
MAX_ATTEMPTS = 30
# Backoff after the n-th failure: BASE * 2**(n-1), capped, with jitter of up to a fifth.
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=2)
# An endpoint whose every attempt failed for this long is paused and the project told.
FAILING_PAUSE_AFTER = timedelta(days=1)
# A delivery waiting for an earlier one of the same object looks again after this long.
ORDER_WAIT = timedelta(seconds=1)
# A prepared event whose change is not found this long after it was written never happened
# (a redemption claim is removed after a minute; a rollback refused): it is dropped.
CONFIRM_GIVE_UP = timedelta(minutes=10)
# How long the worker waits before looking again for a prepared event's change.
CONFIRM_RECHECK = timedelta(seconds=30)


def _deliveries() -> Any:
    return WebhookDelivery.get_pymongo_collection()


def backoff(attempt: int, rng: random.Random | None = None) -> timedelta:
    bound = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return bound * (1 - 0.2 * (rng or random).random())


async def lease_delivery(
    *, owner: str, now: datetime, lease: timedelta = LEASE
) -> WebhookDelivery | None:
    """Takes the delivery due first: queued and due, or leased by a worker whose lease ran out."""
    raw = await _deliveries().find_one_and_update(
        {"open": True, "due_at": {"$lte": now}},
        {
            "$set": {
                "status": DeliveryStatus.SENDING.value,
                "lease_owner": owner,
                "due_at": now + lease,
                "updated_at": now,
            },
            "$inc": {"attempts": 1},
        },
        sort=[("due_at", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else WebhookDelivery.model_validate(raw)


async def earlier_open(delivery: WebhookDelivery) -> WebhookDelivery | None:
    """An open delivery of the same object to the same endpoint emitted before this one."""
    raw = await _deliveries().find_one(
        {
            "webhook_id": delivery.webhook_id,
            "object_key": delivery.object_key,
            "open": True,
            "sequence": {"$lt": delivery.sequence},
        },
        sort=[("sequence", 1)],
    )
    return None if raw is None else WebhookDelivery.model_validate(raw)


async def _settle(
    delivery: WebhookDelivery, owner: str, now: datetime, fields: dict[str, Any]
) -> bool:
    """Writes `fields` only while `owner` still holds the lease; False when it was lost."""
    result = await _deliveries().update_one(
        {"_id": delivery.id, "lease_owner": owner, "status": DeliveryStatus.SENDING.value},
        {"$set": {**fields, "updated_at": now}},
    )
    return bool(result.modified_count)


async def wait_for_earlier(
    delivery: WebhookDelivery, owner: str, now: datetime, until: datetime
) -> bool:
    """Back in the queue behind an earlier delivery of its object, without using an attempt."""
    return await _settle(
        delivery,
        owner,
        now,
        {
            "status": DeliveryStatus.QUEUED.value,
            "lease_owner": "",
            "due_at": max(until, now + ORDER_WAIT),
            "attempts": max(0, delivery.attempts - 1),
        },
    )


async def hold(delivery: WebhookDelivery, owner: str, now: datetime) -> bool:
    """The endpoint is paused: kept, without using an attempt, until it is resumed."""
    return await _settle(
        delivery,
        owner,
        now,
        {
            "status": DeliveryStatus.HELD.value,
            "open": False,
            "lease_owner": "",
            "due_at": NEVER,
            "attempts": max(0, delivery.attempts - 1),
        },
    )


async def record_attempt(
    delivery: WebhookDelivery, *, now: datetime, status_code: int, latency_ms: int, error: str
) -> None:
    await WebhookAttempt(
        project_id=delivery.project_id,
        webhook_id=delivery.webhook_id,
        delivery_id=delivery.key,
        event_id=delivery.event_id,
        number=delivery.attempts,
        at=now,
        status_code=status_code,
        latency_ms=latency_ms,
        error=error[:1000],
    ).insert()


async def mark_succeeded(
    delivery: WebhookDelivery,
    owner: str,
    now: datetime,
    *,
    status_code: int,
    latency_ms: int,
    was_failing: bool,
) -> bool:
    settled = await _settle(
        delivery,
        owner,
        now,
        {
            "status": DeliveryStatus.SUCCEEDED.value,
            "open": False,
            "lease_owner": "",
            "due_at": NEVER,
            "last_status_code": status_code,
            "last_latency_ms": latency_ms,
            "last_error": "",
            "delivered_at": now,
        },
    )
    if not was_failing:
        return settled
    # The endpoint answers again: its failure clock stops.
    await Webhook.get_pymongo_collection().update_one(
        {"_id": webhook_oid(delivery), "failing": True}, {"$set": {"failing": False}}
    )
    return settled


async def mark_failed(
    delivery: WebhookDelivery,
    owner: str,
    now: datetime,
    *,
    status_code: int,
    latency_ms: int,
    error: str,
    retry: bool,
) -> bool:
    """A failed attempt: retried after a backoff, or FAILED when `retry` is False or this was
    the last attempt."""
    last = not retry or delivery.attempts >= MAX_ATTEMPTS
    fields: dict[str, Any] = {
        "lease_owner": "",
        "last_status_code": status_code,
        "last_latency_ms": latency_ms,
        "last_error": error[:1000],
    }
    if last:
        fields.update(status=DeliveryStatus.FAILED.value, open=False, due_at=NEVER)
    else:
        fields.update(status=DeliveryStatus.QUEUED.value, due_at=now + backoff(delivery.attempts))
    return await _settle(delivery, owner, now, fields)


def webhook_oid(delivery: WebhookDelivery) -> ObjectId:
    return ObjectId(delivery.webhook_id)


async def note_failure(webhook: Webhook, now: datetime) -> bool:
    """Starts the endpoint's failure clock, or pauses it (once) when it has run for a day and
    leaves a notice for the project; True when this call paused it."""
    collection = Webhook.get_pymongo_collection()
    started = await collection.update_one(
        {"_id": webhook.id, "failing": False}, {"$set": {"failing": True, "failing_since": now}}
    )
    if started.modified_count or now - webhook.failing_since < FAILING_PAUSE_AFTER:
        return False
    paused = await collection.update_one(
        {"_id": webhook.id, "status": WebhookStatus.ACTIVE.value, "failing": True},
        {
            "$set": {
                "status": WebhookStatus.PAUSED.value,
                "pause_reason": PauseReason.FAILING.value,
                "paused_at": now,
                "updated_at": now,
            }
        },
    )
    if not paused.modified_count:
        return False
    forget(project_id=webhook.project_id)
    message = (
        f"Every delivery to {webhook.url} failed since {webhook.failing_since.isoformat()}: "
        "the webhook was paused. Fix the endpoint, then resume it (resumeWebhook); held "
        "deliveries go out then."
    )
    await WebhookNotice(
        project_id=webhook.project_id,
        webhook_id=webhook.key,
        kind="WEBHOOK_PAUSED",
        message=message,
        at=now,
        details={"url": webhook.url, "failingSince": webhook.failing_since.isoformat()},
    ).insert()
    await audit.record(
        webhook.project_id, "webhook.paused", webhook.key, "engage", reason="failing for a day"
    )
    return True


async def change_made(delivery: WebhookDelivery) -> bool:
    """Whether the change a prepared event announced was made (its writer died before saying)."""
    collection = WebhookDelivery.get_pymongo_collection().database[delivery.confirm_collection]
    found = await collection.find_one(
        {
            "_id": ObjectId(delivery.confirm_id),
            delivery.confirm_field: {"$in": delivery.confirm_values},
        },
        {"_id": 1},
    )
    return found is not None


async def drop(delivery: WebhookDelivery, owner: str) -> bool:
    """Removes a prepared event whose change never happened: there is nothing to tell."""
    result = await _deliveries().delete_one(
        {"_id": delivery.id, "lease_owner": owner, "status": DeliveryStatus.SENDING.value}
    )
    return bool(result.deleted_count)


async def confirm_found(delivery: WebhookDelivery, owner: str, now: datetime) -> bool:
    """The change was found made: the event is an ordinary delivery from now on."""
    return await _settle(delivery, owner, now, {"confirm_pending": False})


async def recheck_later(delivery: WebhookDelivery, owner: str, now: datetime) -> bool:
    """The change is not (yet) found: looked for again later, without using an attempt."""
    return await _settle(
        delivery,
        owner,
        now,
        {
            "status": DeliveryStatus.QUEUED.value,
            "lease_owner": "",
            "due_at": now + CONFIRM_RECHECK,
            "attempts": max(0, delivery.attempts - 1),
        },
    )
