"""Emitting an event: one delivery record per subscribed endpoint, written in one insert, or
nothing at all (and no database call) when no endpoint listens."""

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from pymongo.errors import BulkWriteError

from domain.common import as_utc, utc_now
from domain.webhooks.models import EVENT_TYPES, WebhookDelivery
from domain.webhooks.subscriptions import listeners

_DUPLICATE_KEY = 11000
# A prepared event not confirmed after this long is looked at by the worker: its writer died,
# or is slow (a redemption's claim lives up to a minute).
CONFIRM_WAIT = timedelta(seconds=30)


def event_id_for(*, project_id: str, dedupe_key: str | None) -> str:
    """The event's id: derived from its dedupe key, so emitting the same change again (a retry,
    a repair sweep) gives the same id and is stored once per endpoint."""
    if dedupe_key is None:
        return "evt_" + secrets.token_hex(16)
    digest = hashlib.sha256(f"{project_id}\x00{dedupe_key}".encode()).hexdigest()
    return "evt_" + digest[:32]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def event_body(*, event_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The JSON every endpoint receives: id, type, time (UTC, ISO 8601) and the object."""
    return json.dumps(
        {"id": event_id, "type": event_type, "time": _plain(at), "data": _plain(data)},
        separators=(",", ":"),
        sort_keys=False,
    )


@dataclass(frozen=True)
class Change:
    """How to tell that a change happened: the document `_id` = `document_id` in `collection`
    has one of `values` in `field` (the state the change leaves, or one that can follow it)."""

    collection: str
    document_id: str
    field: str
    values: tuple[str | bool, ...]


@dataclass(frozen=True)
class PreparedEvent:
    project_id: str
    event_id: str


async def emit(
    *,
    project_id: str,
    event_type: str,
    object_key: str,
    data: dict[str, Any],
    dedupe_key: str | None = None,
    at: datetime | None = None,
) -> str | None:
    """Queues the event for every active endpoint of the project subscribed to it; returns its
    id, or None when none is. Call it after the change it reports, from the one place the
    change is made, in a step that a crashed process's repair runs again; `dedupe_key` names
    the change, so a repeat is delivered once."""
    return await _store(project_id, event_type, object_key, data, dedupe_key, at, None)


async def prepare_event(
    *,
    project_id: str,
    event_type: str,
    object_key: str,
    data: dict[str, Any],
    dedupe_key: str,
    change: Change,
    at: datetime | None = None,
) -> PreparedEvent | None:
    """For a change no repair step runs again: the event is written before the change, held,
    and `confirm_event` releases it once the change is made. If the process dies in between,
    the worker sends it when it finds `change` made, and drops it when it never is. None (and
    no database call) when no endpoint listens."""
    event_id = await _store(project_id, event_type, object_key, data, dedupe_key, at, change)
    return None if event_id is None else PreparedEvent(project_id=project_id, event_id=event_id)


async def confirm_event(prepared: PreparedEvent | None) -> None:
    """The change was made: the prepared event goes out now."""
    if prepared is None:
        return
    await WebhookDelivery.get_pymongo_collection().update_many(
        {
            "project_id": prepared.project_id,
            "event_id": prepared.event_id,
            "confirm_pending": True,
        },
        {"$set": {"confirm_pending": False, "due_at": utc_now()}},
    )


async def _store(
    project_id: str,
    event_type: str,
    object_key: str,
    data: dict[str, Any],
    dedupe_key: str | None,
    at: datetime | None,
    change: Change | None,
) -> str | None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type}")
    webhook_ids = await listeners(project_id=project_id, event_type=event_type)
    if not webhook_ids:
        return None
    now = utc_now()
    held: dict[str, Any] = {}
    if change is not None:
        held = {
            "confirm_pending": True,
            "confirm_collection": change.collection,
            "confirm_id": change.document_id,
            "confirm_field": change.field,
            "confirm_values": list(change.values),
        }
    event_id = event_id_for(project_id=project_id, dedupe_key=dedupe_key)
    body = event_body(event_id=event_id, event_type=event_type, at=at or now, data=data)
    sequence = time.time_ns()
    rows = [
        WebhookDelivery(
            project_id=project_id,
            webhook_id=webhook_id,
            event_id=event_id,
            event_type=event_type,
            object_key=object_key,
            sequence=sequence,
            body=body,
            # A prepared event waits for its confirmation; the worker looks after CONFIRM_WAIT.
            due_at=now + CONFIRM_WAIT if change is not None else now,
            created_at=now,
            updated_at=now,
            **held,
        )
        # Without the empty delivered_at: the log's TTL index then never sees an open one.
        .model_dump(exclude={"id", "revision_id"}, exclude_none=True)
        for webhook_id in webhook_ids
    ]
    try:
        await WebhookDelivery.get_pymongo_collection().insert_many(rows, ordered=False)
    except BulkWriteError as error:
        # The same change emitted again: the earlier deliveries stand.
        if any(e.get("code") != _DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise
    return event_id
