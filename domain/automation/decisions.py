"""Checking a leased action again at its time: perform it, skip it or cancel it."""

from dataclasses import dataclass
from datetime import datetime

from domain import segments
from domain.automation.leasing import note_progress
from domain.automation.models import ActionStatus, Automation, AutomationStatus, ScheduledAction
from domain.automation.runs import claim_run
from domain.common import as_utc, object_id
from domain.customers import Customer
from domain.event_models import (
    CustomerEvent,
)


@dataclass
class Decision:
    """What the executor does with a leased action: `status` settles it now, None performs it."""

    automation: Automation | None
    status: ActionStatus | None = None
    detail: str = ""


async def cancelling_event(
    *, action: ScheduledAction, automation: Automation, now: datetime
) -> CustomerEvent | None:
    """A cancelOn event of the customer after the trigger and up to now."""
    for name in automation.cancel_on:
        found = await CustomerEvent.find_one(
            {
                "project_id": action.project_id,
                "customer_id": action.customer_id,
                "name": name,
                "at": {"$gt": as_utc(action.triggered_at), "$lte": now},
            }
        )
        if found is not None:
            return found
    return None


async def customer_in_segments(
    *, project_id: str, customer: Customer, segment_ids: list[str], now: datetime
) -> bool:
    """In at least one of the segments, as they stand at `now`."""
    return bool(await segments.customer_in_segments(project_id, customer, segment_ids, now))


async def decide(*, action: ScheduledAction, owner: str, now: datetime) -> Decision:
    """Checks a leased action again at its time: the automation still active, no cancelling
    event, the customer still there and in the segments, and the frequency slot free."""
    automation = await Automation.find_one(
        {"_id": object_id(action.automation_id, "automation"), "project_id": action.project_id}
    )
    if automation is None:
        return Decision(None, ActionStatus.SKIPPED, "the automation no longer exists")
    if action.claimed:
        # A retry after a crash: the checks passed and the action may be half done.
        return Decision(automation)
    if automation.status != AutomationStatus.ACTIVE:
        return Decision(automation, ActionStatus.SKIPPED, "the automation is paused")
    cancel = await cancelling_event(action=action, automation=automation, now=now)
    if cancel is not None:
        return Decision(
            automation, ActionStatus.CANCELLED, f"cancelled by {cancel.name} ({cancel.key})"
        )
    customer = await Customer.find_one(
        {"_id": object_id(action.customer_id, "customer"), "project_id": action.project_id}
    )
    if customer is None or customer.erased:
        return Decision(automation, ActionStatus.SKIPPED, "the customer was erased")
    if automation.segment_ids and not await customer_in_segments(
        project_id=action.project_id, customer=customer, segment_ids=automation.segment_ids, now=now
    ):
        return Decision(automation, ActionStatus.SKIPPED, "the customer is not in the segments")
    if not await claim_run(action=action, automation=automation, now=now):
        period = "once ever" if automation.period_days == 0 else f"{automation.period_days} days"
        return Decision(
            automation, ActionStatus.SKIPPED, f"the customer was acted on already ({period})"
        )
    if not await note_progress(action=action, owner=owner, claimed=True):
        # The lease went to another executor meanwhile; it holds the same slot now.
        return Decision(automation, ActionStatus.SKIPPED, "lease lost")
    return Decision(automation)
