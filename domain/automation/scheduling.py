"""Turning a customer event into scheduled actions, and cancelling the ones it cancels."""

from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from domain.automation.conditions import conditions_match, triggers_for
from domain.automation.models import ActionStatus, Automation, ScheduledAction
from domain.common import as_utc
from domain.event_models import (
    CustomerEvent,
)


async def dispatch(*, event: CustomerEvent, automations: list[Automation], now: datetime) -> None:
    """Schedules the actions the event triggers and cancels the pending ones it cancels. Both
    are safe to repeat: an event schedules once per automation, a cancellation once."""
    triggers = triggers_for(event_name=event.name)
    at = as_utc(event.at)
    for automation in automations:
        if automation.trigger not in triggers:
            continue
        if not conditions_match(conditions=automation.conditions, properties=event.properties):
            continue
        action = ScheduledAction(
            project_id=event.project_id,
            automation_id=automation.key,
            customer_id=event.customer_id,
            event_id=event.key,
            event_name=event.name,
            triggered_at=at,
            due_at=at + timedelta(seconds=automation.delay_seconds),
            created_at=now,
        )
        try:
            await action.insert()
        except DuplicateKeyError:
            continue
    cancelled = [a.key for a in automations if event.name in a.cancel_on]
    if cancelled:
        # Leased actions are left to their executor, which checks for this event itself.
        await ScheduledAction.get_pymongo_collection().update_many(
            {
                "project_id": event.project_id,
                "customer_id": event.customer_id,
                "status": ActionStatus.PENDING.value,
                "automation_id": {"$in": cancelled},
                "lease_owner": "",
                "triggered_at": {"$lt": at},
            },
            {
                "$set": {
                    "status": ActionStatus.CANCELLED.value,
                    "detail": f"cancelled by {event.name} ({event.key})",
                    "finished_at": now,
                }
            },
        )
