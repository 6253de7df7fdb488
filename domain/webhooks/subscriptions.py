"""Which active webhooks of a project listen to which events: a small per-process cache, so
emitting an event nobody listens to costs no database call."""

import time
from dataclasses import dataclass

from domain.webhooks.models import Webhook, WebhookStatus

# Each process re-reads a project's webhooks at most this often; its own changes (create,
# pause, resume, delete) are seen at once. Another process's take effect within this time,
# and the worker checks an endpoint's state before every send, whatever was cached.
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Subscription:
    webhook_id: str
    events: frozenset[str]


# project id -> (read at, the active webhooks' subscriptions).
_cached: dict[str, tuple[float, tuple[Subscription, ...]]] = {}


def forget(*, project_id: str) -> None:
    """Makes the next emit in this process read the project's webhooks again."""
    _cached.pop(project_id, None)


async def subscriptions(*, project_id: str) -> tuple[Subscription, ...]:
    held = _cached.get(project_id)
    if held is not None and time.monotonic() - held[0] < CACHE_SECONDS:
        return held[1]
    rows = (
        await Webhook.get_pymongo_collection()
        .find(
            {"project_id": project_id, "status": WebhookStatus.ACTIVE.value},
            {"events": 1},
        )
        .to_list(None)
    )
    found = tuple(
        Subscription(webhook_id=str(row["_id"]), events=frozenset(row.get("events") or ()))
        for row in rows
    )
    _cached[project_id] = (time.monotonic(), found)
    return found


async def listeners(*, project_id: str, event_type: str) -> list[str]:
    """The ids of the project's active webhooks subscribed to `event_type`."""
    return [
        sub.webhook_id
        for sub in await subscriptions(project_id=project_id)
        if event_type in sub.events
    ]


async def listens(*, project_id: str, event_type: str) -> bool:
    """Whether an active webhook of the project is subscribed to `event_type`: lets a caller
    skip preparing an event's object when nobody would receive it."""
    return bool(await listeners(project_id=project_id, event_type=event_type))
