"""Read models of automations: their figures by status and their scheduled actions."""

from dataclasses import dataclass
from typing import Any

from domain.automation.models import ActionStatus, ScheduledAction
from domain.pagination import Page, paginate, paginate_each


@dataclass
class AutomationStats:
    # Every action a matching event scheduled, whatever became of it.
    triggered: int = 0
    # Waiting for their time (or being performed now).
    scheduled: int = 0
    cancelled: int = 0
    executed: int = 0
    skipped: int = 0
    failed: int = 0


async def automation_stats(*, project_id: str, automation_id: str) -> AutomationStats:
    return (await automations_stats(project_id=project_id, automation_ids=[automation_id]))[
        automation_id
    ]


# Each figure of AutomationStats and the action status it counts.
STATS_BY_STATUS = {
    "scheduled": ActionStatus.PENDING,
    "cancelled": ActionStatus.CANCELLED,
    "executed": ActionStatus.DONE,
    "skipped": ActionStatus.SKIPPED,
    "failed": ActionStatus.FAILED,
}


async def automations_stats(
    *, project_id: str, automation_ids: list[str]
) -> dict[str, AutomationStats]:
    """Each automation's scheduled actions counted by status, in one aggregation."""
    wanted = list(dict.fromkeys(automation_ids))
    # One count per status in the group: the embedded server cannot group on a compound key.
    per_status = {
        figure: {"$sum": {"$cond": [{"$eq": ["$status", status.value]}, 1, 0]}}
        for figure, status in STATS_BY_STATUS.items()
    }
    rows = await ScheduledAction.get_pymongo_collection().aggregate(
        [
            {"$match": {"project_id": project_id, "automation_id": {"$in": wanted}}},
            {"$group": {"_id": "$automation_id", "triggered": {"$sum": 1}, **per_status}},
        ]
    )
    found = {
        row["_id"]: AutomationStats(
            triggered=int(row["triggered"]),
            **{figure: int(row[figure]) for figure in STATS_BY_STATUS},
        )
        async for row in rows
    }
    return {key: found.get(key, AutomationStats()) for key in wanted}


async def list_scheduled_actions(
    *,
    project_id: str,
    automation_id: str,
    status: ActionStatus | None,
    first: int,
    after: str | None,
) -> Page[ScheduledAction]:
    query: dict[str, Any] = {"project_id": project_id, "automation_id": automation_id}
    if status is not None:
        query["status"] = status.value
    return await paginate(ScheduledAction, query, first, after)


async def scheduled_action_pages(
    *,
    project_id: str,
    automation_ids: list[str],
    status: ActionStatus | None,
    first: int,
    after: str | None,
) -> dict[str, Page[ScheduledAction]]:
    """list_scheduled_actions of several automations in one query, by automation id."""
    query: dict[str, Any] = {"project_id": project_id}
    if status is not None:
        query["status"] = status.value
    return await paginate_each(
        ScheduledAction, query, "automation_id", automation_ids, first, after
    )
