"""Events recorded on the changed document itself, for changes whose document is only known
once the change is made (a delivery report found by the provider's id, a pooled code the claim
picks) or that concurrent writers race to make: the one write that makes the change also sets
`webhook_pending`, the writer emits the event and clears the flag, and a sweep emits the events
of documents a process that died in between left flagged. The event's dedupe key makes the
sweep's repeat of an event already stored one delivery."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from domain.common import utc_now

PENDING_FIELD = "webhook_pending"
# A writer emits right after its change; a document still flagged this long after was left by a
# process that died in between.
PENDING_GRACE = timedelta(seconds=30)
# Documents a sweep reads at a time.
PENDING_BATCH = 500


async def clear_pending(collection: Any, ids: list[Any]) -> None:
    """The events of these documents are stored: nothing is left for the sweep."""
    if ids:
        await collection.update_many(
            {"_id": {"$in": ids}, PENDING_FIELD: True}, {"$set": {PENDING_FIELD: False}}
        )


async def emit_pending(
    *,
    collection: Any,
    changed_at: str,
    emit_row: Callable[[dict[str, Any]], Awaitable[Any]],
    now: datetime | None = None,
    scope: dict[str, Any] | None = None,
    batch: int = PENDING_BATCH,
) -> int:
    """Emits (with `emit_row`, under the event's usual dedupe key) the events of documents whose
    writer died before clearing their flag (of those matching `scope`, a project say), then
    clears it, a batch at a time; returns how many it looked at."""
    cutoff = (now or utc_now()) - PENDING_GRACE
    query = {**(scope or {}), PENDING_FIELD: True, changed_at: {"$lt": cutoff}}
    seen = 0
    while True:
        rows = await collection.find(query).limit(batch).to_list(None)
        for row in rows:
            await emit_row(row)
        await clear_pending(collection, [row["_id"] for row in rows])
        seen += len(rows)
        # Delivery reports of projects nobody listens for stay flagged until here: every
        # batch is taken, so they never pile up.
        if len(rows) < batch:
            return seen
