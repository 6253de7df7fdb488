"""The executor's lease on a scheduled action: taking it, noting progress, settling, retrying."""

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from domain.automation.models import EPOCH, ActionStatus, ScheduledAction
from domain.automation.runs import release_run
from domain.common import as_utc, utc_now

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)


async def lease_due_action(
    *, owner: str, now: datetime | None = None, lease: timedelta = LEASE
) -> ScheduledAction | None:
    """Takes the action due first: pending and due, or leased by an executor whose lease ran
    out. Only the lease holder may settle it."""
    now = as_utc(now) if now is not None else utc_now()
    due = {"status": ActionStatus.PENDING.value, "due_at": {"$lte": now}}
    take = {"$set": {"lease_owner": owner, "lease_until": now + lease}, "$inc": {"attempts": 1}}
    actions = ScheduledAction.get_pymongo_collection()
    # Two indexed queries rather than one $or, which the embedded server scans in Python: the
    # second finds records written before lease_until existed, whose due_at held the lease.
    for free in ({"lease_until": {"$lte": now}}, {"lease_until": None}):
        raw = await actions.find_one_and_update(
            {**due, **free}, take, sort=[("due_at", 1)], return_document=ReturnDocument.AFTER
        )
        if raw is not None:
            return ScheduledAction.model_validate(raw)
    return None


async def write_while_held(*, action: ScheduledAction, owner: str, fields: dict[str, Any]) -> bool:
    """Writes `fields` only while `owner` holds the lease."""
    result = await ScheduledAction.get_pymongo_collection().update_one(
        {"_id": action.id, "lease_owner": owner, "status": ActionStatus.PENDING.value},
        {"$set": fields},
    )
    return bool(result.modified_count)


async def note_progress(*, action: ScheduledAction, owner: str, **fields: Any) -> bool:
    for name, value in fields.items():
        setattr(action, name, value)
    return await write_while_held(action=action, owner=owner, fields=fields)


async def settle(
    *, action: ScheduledAction, owner: str, status: ActionStatus, detail: str, now: datetime
) -> bool:
    action.status = status
    return await write_while_held(
        action=action,
        owner=owner,
        fields={"status": status.value, "detail": detail[:500], "finished_at": now},
    )


async def retry_later(*, action: ScheduledAction, owner: str, error: str, now: datetime) -> bool:
    """Hands the action back for a later attempt, or fails it after MAX_ATTEMPTS."""
    if action.attempts >= MAX_ATTEMPTS:
        failed = await settle(
            action=action, owner=owner, status=ActionStatus.FAILED, detail=error, now=now
        )
        await release_run(action=action)
        return failed
    wait = RETRY_BASE * 2 ** max(0, action.attempts - 1)
    return await write_while_held(
        action=action,
        owner=owner,
        fields={
            "lease_owner": "",
            "lease_until": EPOCH,
            "due_at": now + wait,
            "detail": error[:500],
        },
    )
