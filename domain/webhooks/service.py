"""Managing a project's webhooks: create (the secret shown once), list, pause, resume, delete,
and reading their delivery log and notices."""

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from domain.common import object_id, utc_now
from domain.errors import DomainError, NotFound, Problem
from domain.pagination import Page, paginate
from domain.secret_box import open_sealed, seal
from domain.webhooks.addresses import check_url
from domain.webhooks.models import (
    EVENT_TYPES,
    NEVER,
    DeliveryStatus,
    PauseReason,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookError,
    WebhookNotice,
    WebhookStatus,
)
from domain.webhooks.subscriptions import forget

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix of every secret, not one)
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
MAX_WEBHOOKS = 20
# Attempts listed per delivery in the log.
MAX_ATTEMPTS_SHOWN = 50


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    # whsec_<base64>: returned once, never again.
    secret: str


def _secret_context(project_id: str) -> str:
    return f"project:{project_id}:webhook-secret"


def secret_bytes(*, secret_keys: list[str], webhook: Webhook) -> bytes:
    """The signing key, opened with the installation's secret key."""
    return base64.b64decode(
        open_sealed(secret_keys, webhook.secret, _secret_context(webhook.project_id))
    )


def _checked_secret(raw: str | None) -> bytes:
    if raw is None:
        return secrets.token_bytes(SECRET_BYTES)
    text = raw.strip()
    encoded = text.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not text.startswith(SECRET_PREFIX) or not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise DomainError(
            WebhookError.INVALID_SECRET,
            f"a secret is whsec_ followed by the base64 of {MIN_SECRET_BYTES} to "
            f"{MAX_SECRET_BYTES} random bytes; leave it out to have one made",
            "secret",
        )
    return key


def _checked_events(raw: list[str]) -> list[str]:
    events: list[str] = []
    for name in raw:
        name = name.strip()
        if name not in EVENT_TYPES:
            raise DomainError(
                WebhookError.UNKNOWN_EVENT,
                f"{name!r} is not an event type; known: {', '.join(EVENT_TYPES)}",
                "events",
            )
        if name not in events:
            events.append(name)
    if not events:
        raise DomainError(WebhookError.NO_EVENTS, "subscribe to at least one event", "events")
    return events


async def create_webhook(
    *,
    secret_key: str,
    project_id: str,
    url: str,
    events: list[str],
    secret: str | None,
    allow_private: bool,
) -> CreatedWebhook:
    """A new active endpoint; every problem of the input is reported at once."""
    problems: list[Problem] = []
    checked: dict[str, Any] = {}
    for field, check in (
        ("url", lambda: check_url(url, allow_private=allow_private)),
        ("events", lambda: _checked_events(events)),
        ("secret", lambda: _checked_secret(secret)),
    ):
        try:
            checked[field] = check()
        except DomainError as error:
            problems += error.problems
    if problems:
        raise DomainError.of(problems)
    existing = await Webhook.get_pymongo_collection().count_documents({"project_id": project_id})
    if existing >= MAX_WEBHOOKS:
        raise DomainError(
            WebhookError.TOO_MANY_WEBHOOKS, f"a project has at most {MAX_WEBHOOKS} webhooks"
        )
    key: bytes = checked["secret"]
    encoded = base64.b64encode(key).decode()
    webhook = Webhook(
        project_id=project_id,
        url=checked["url"],
        events=checked["events"],
        secret=seal(secret_key, encoded, _secret_context(project_id)),
    )
    await webhook.insert()
    forget(project_id=project_id)
    return CreatedWebhook(webhook=webhook, secret=SECRET_PREFIX + encoded)


async def get_webhook(*, project_id: str, webhook_id: str) -> Webhook:
    webhook = await Webhook.find_one(
        {"_id": object_id(webhook_id, "webhook"), "project_id": project_id}
    )
    if webhook is None:
        raise NotFound("webhook")
    return webhook


async def list_webhooks(*, project_id: str, first: int, after: str | None) -> Page[Webhook]:
    return await paginate(Webhook, {"project_id": project_id}, first, after)


async def pause_webhook(*, project_id: str, webhook_id: str) -> Webhook:
    """No new events are recorded for it; queued deliveries wait. Pausing twice is harmless."""
    webhook = await get_webhook(project_id=project_id, webhook_id=webhook_id)
    now = utc_now()
    await Webhook.get_pymongo_collection().update_one(
        {"_id": webhook.id, "status": WebhookStatus.ACTIVE.value},
        {
            "$set": {
                "status": WebhookStatus.PAUSED.value,
                "pause_reason": PauseReason.MANUAL.value,
                "paused_at": now,
                "updated_at": now,
            }
        },
    )
    forget(project_id=project_id)
    return await get_webhook(project_id=project_id, webhook_id=webhook_id)


async def resume_webhook(*, project_id: str, webhook_id: str) -> Webhook:
    """Active again: held deliveries go out now, in their order, and the failure clock restarts."""
    webhook = await get_webhook(project_id=project_id, webhook_id=webhook_id)
    now = utc_now()
    await Webhook.get_pymongo_collection().update_one(
        {"_id": webhook.id},
        {
            "$set": {
                "status": WebhookStatus.ACTIVE.value,
                "pause_reason": PauseReason.NONE.value,
                "paused_at": None,
                "failing": False,
                "updated_at": now,
            }
        },
    )
    await WebhookDelivery.get_pymongo_collection().update_many(
        {"webhook_id": webhook.key, "status": DeliveryStatus.HELD.value},
        {"$set": {"status": DeliveryStatus.QUEUED.value, "open": True, "due_at": now}},
    )
    forget(project_id=project_id)
    return await get_webhook(project_id=project_id, webhook_id=webhook_id)


async def delete_webhook(*, project_id: str, webhook_id: str) -> str:
    """Removes the endpoint with its queued deliveries and its log; returns its id."""
    webhook = await get_webhook(project_id=project_id, webhook_id=webhook_id)
    await webhook.delete()
    forget(project_id=project_id)
    owned = {"project_id": project_id, "webhook_id": webhook.key}
    await WebhookDelivery.get_pymongo_collection().delete_many(owned)
    await WebhookAttempt.get_pymongo_collection().delete_many(owned)
    return webhook.key


async def list_deliveries(
    *, project_id: str, webhook_id: str, first: int, after: str | None
) -> Page[WebhookDelivery]:
    webhook = await get_webhook(project_id=project_id, webhook_id=webhook_id)
    return await paginate(
        WebhookDelivery, {"project_id": project_id, "webhook_id": webhook.key}, first, after
    )


async def attempts_of(*, project_id: str, delivery_id: str) -> list[WebhookAttempt]:
    return (
        await WebhookAttempt.find({"project_id": project_id, "delivery_id": delivery_id})
        .sort("number")
        .limit(MAX_ATTEMPTS_SHOWN)
        .to_list()
    )


async def list_notices(*, project_id: str, first: int, after: str | None) -> Page[WebhookNotice]:
    return await paginate(WebhookNotice, {"project_id": project_id}, first, after)


def next_due(delivery: WebhookDelivery) -> str:
    """When the delivery is next tried, as the log shows it ("" when it will not be)."""
    if not delivery.open or delivery.due_at >= NEVER:
        return ""
    return delivery.due_at.isoformat()
