"""Frequency slots: at most one action per customer per automation per period."""

from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from domain.automation.models import EPOCH, Automation, AutomationRun, ScheduledAction
from domain.common import as_utc


async def claim_run(*, action: ScheduledAction, automation: Automation, now: datetime) -> bool:
    """Takes the customer's frequency slot for this action: free, or held by an action more
    than the period ago (never, for period 0), or already held by this very action."""
    runs = AutomationRun.get_pymongo_collection()
    owner = {
        "project_id": action.project_id,
        "automation_id": action.automation_id,
        "customer_id": action.customer_id,
    }
    try:
        await runs.insert_one(
            {
                **owner,
                "holder": action.key,
                "held_at": now,
                "previous_holder": "",
                "previous_held_at": EPOCH,
                "version": 0,
            }
        )
        return True
    except DuplicateKeyError:
        pass
    for _ in range(20):
        run = await runs.find_one(owner)
        if run is None:
            return False
        if run["holder"] == action.key:
            return True
        expired = automation.period_days > 0 and as_utc(run["held_at"]) <= now - timedelta(
            days=automation.period_days
        )
        if run["holder"] and not expired:
            return False
        taken = await runs.update_one(
            {"_id": run["_id"], "version": run["version"]},
            {
                "$set": {
                    "holder": action.key,
                    "held_at": now,
                    "previous_holder": run["holder"],
                    "previous_held_at": run["held_at"],
                },
                "$inc": {"version": 1},
            },
        )
        if taken.modified_count:
            return True
    return False


async def release_run(*, action: ScheduledAction) -> None:
    """A failed action gives the slot back to whoever held it before."""
    runs = AutomationRun.get_pymongo_collection()
    run = await runs.find_one(
        {
            "project_id": action.project_id,
            "automation_id": action.automation_id,
            "customer_id": action.customer_id,
            "holder": action.key,
        }
    )
    if run is None:
        return
    await runs.update_one(
        {"_id": run["_id"], "version": run["version"]},
        {
            "$set": {"holder": run["previous_holder"], "held_at": run["previous_held_at"]},
            "$inc": {"version": 1},
        },
    )
