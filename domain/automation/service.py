"""Creating, reading, changing and pausing automations."""

from typing import Any

from domain.automation.active import forget
from domain.automation.models import Automation, AutomationAction, AutomationStatus
from domain.automation.validation import (
    ActionInput,
    AutomationChanges,
    AutomationInput,
    DelayInput,
    TemplateCheck,
    validated_automation,
)
from domain.common import object_id, utc_now
from domain.errors import NotFound
from domain.pagination import Page, paginate


async def create_automation(
    *, project_id: str, data: AutomationInput, template_check: TemplateCheck | None = None
) -> Automation:
    values = await validated_automation(
        project_id=project_id, data=data, template_check=template_check
    )
    automation = Automation(project_id=project_id, **values)
    await automation.insert()
    forget(project_id=project_id)
    return automation


async def get_automation(*, project_id: str, automation_id: str) -> Automation:
    found = await Automation.find_one(
        {"_id": object_id(automation_id, "automation"), "project_id": project_id}
    )
    if found is None:
        raise NotFound("automation")
    return found


def _action_input(action: AutomationAction) -> ActionInput:
    return ActionInput(
        type=action.type.value,
        campaign_id=action.campaign_id,
        channel=action.channel or None,
        template_id=action.template_id or None,
        points=action.points or None,
    )


async def update_automation(
    *,
    project_id: str,
    automation_id: str,
    changes: AutomationChanges,
    template_check: TemplateCheck | None = None,
) -> Automation:
    """Changes apply to actions performed from now on, including those already scheduled."""
    current = await get_automation(project_id=project_id, automation_id=automation_id)
    merged = AutomationInput(
        name=current.name if changes.name is None else changes.name,
        trigger=current.trigger if changes.trigger is None else changes.trigger,
        action=_action_input(current.action) if changes.action is None else changes.action,
        conditions=current.conditions if changes.conditions is None else changes.conditions,
        segment_ids=current.segment_ids if changes.segment_ids is None else changes.segment_ids,
        delay=DelayInput(seconds=current.delay_seconds) if changes.delay is None else changes.delay,
        cancel_on=current.cancel_on if changes.cancel_on is None else changes.cancel_on,
        period_days=current.period_days if changes.period_days is None else changes.period_days,
    )
    values = await validated_automation(
        project_id=project_id, data=merged, template_check=template_check
    )
    values["action"] = values["action"].model_dump(mode="json")
    values["updated_at"] = utc_now()
    await Automation.get_pymongo_collection().update_one(
        {"_id": current.id, "project_id": project_id}, {"$set": values}
    )
    forget(project_id=project_id)
    return await get_automation(project_id=project_id, automation_id=automation_id)


async def set_automation_status(
    *, project_id: str, automation_id: str, status: AutomationStatus
) -> Automation:
    """Pausing stops new actions from being scheduled; pending ones are skipped when due."""
    automation = await get_automation(project_id=project_id, automation_id=automation_id)
    await Automation.get_pymongo_collection().update_one(
        {"_id": automation.id, "project_id": project_id},
        {"$set": {"status": status.value, "updated_at": utc_now()}},
    )
    forget(project_id=project_id)
    return await get_automation(project_id=project_id, automation_id=automation_id)


async def list_automations(
    *, project_id: str, status: AutomationStatus | None, first: int, after: str | None
) -> Page[Automation]:
    query: dict[str, Any] = {"project_id": project_id}
    if status is not None:
        query["status"] = status.value
    return await paginate(Automation, query, first, after)
