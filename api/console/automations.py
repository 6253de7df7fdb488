"""Console pages for automations: the list with what each one did, the create and edit form
(createAutomation's and updateAutomation's checks and typed errors), an automation's page with
its pending actions, and pause and resume after a confirmation. Everything goes through
domain.automation, as the GraphQL mutations do."""

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
)
from delivery.rendering import resolve_template
from domain import automation
from domain.automation import (
    ActionStatus,
    ActionType,
    Automation,
    AutomationStatus,
)
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, campaigns_by_id
from domain.console import ConsoleRole
from domain.errors import DomainError, NotFound, Problem
from domain.segments import Segment

LIST_PAGE = 100
PENDING_PAGE = 50
TEXT_FIELDS = (
    "name",
    "trigger",
    "conditions",
    "delay.days",
    "delay.hours",
    "delay.minutes",
    "cancelOn",
    "frequency",
    "action.type",
    "action.campaignId",
    "action.channel",
    "action.templateId",
    "action.points",
)
ACTION_TYPES = [
    (ActionType.SEND_CODE.value, "Send a code from a discount campaign"),
    (ActionType.AWARD_POINTS.value, "Award loyalty points"),
]
CHANNELS = [("EMAIL", "Email"), ("SMS", "SMS")]
TRIGGERS = (
    "cart.abandoned",
    "customer.created",
    "customer.dormant",
    "order.recorded",
    "points.threshold",
)


@dataclass(frozen=True)
class StatusChange:
    action: str
    status: AutomationStatus
    verb: str
    consequence: str
    allowed_from: AutomationStatus


STATUS_CHANGES = {
    "pause": StatusChange(
        "pause",
        AutomationStatus.PAUSED,
        "Pause",
        "No new action is scheduled while it is paused, and actions already waiting are skipped "
        "when they fall due.",
        AutomationStatus.ACTIVE,
    ),
    "resume": StatusChange(
        "resume",
        AutomationStatus.ACTIVE,
        "Resume",
        "Events from now on schedule its action again; events while it was paused do not.",
        AutomationStatus.PAUSED,
    ),
}


async def _automation_of(visit: Visit, request: Request) -> Automation:
    return await automation.get_automation(
        project_id=visit.project_id, automation_id=str(request.path_params["automation_id"])
    )


def _delay_text(seconds: int) -> str:
    if not seconds:
        return "At once"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second")]
    return "After " + ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in parts if n)


def _action_text(item: Automation, campaigns: dict[str, Campaign]) -> str:
    found = campaigns.get(item.action.campaign_id)
    name = found.name if found else "a campaign that no longer exists"
    if item.action.type == ActionType.AWARD_POINTS:
        return f"Award {item.action.points:,} points in {name}"
    channel = {"EMAIL": "email", "SMS": "SMS"}.get(item.action.channel, item.action.channel)
    return f"Send a code of {name} by {channel}"


def _frequency_text(period_days: int) -> str:
    if period_days == 0:
        return "Once per customer, ever"
    return f"At most once per customer every {period_days} day{'s' if period_days != 1 else ''}"


# --- list ------------------------------------------------------------------------------------


@console_page()
async def automation_list(request: Request, visit: Visit) -> Response:
    page = await automation.list_automations(
        project_id=visit.project_id, status=None, first=LIST_PAGE, after=None
    )
    stats = await automation.automations_stats(
        project_id=visit.project_id, automation_ids=[a.key for a in page.items]
    )
    campaigns = await campaigns_by_id(
        project_id=visit.project_id, campaign_ids=[a.action.campaign_id for a in page.items]
    )
    rows = [
        {
            "automation": item,
            "stats": stats[item.key],
            "action": _action_text(item, campaigns),
            "delay": _delay_text(item.delay_seconds),
        }
        for item in page.items
    ]
    return render(
        request,
        "console/automations/list.html",
        {"title": "Automations", "area": "automations", "rows": rows, "more": page.has_next},
    )


# --- create and edit -------------------------------------------------------------------------


def _new_values() -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
    values |= {
        "trigger": "cart.abandoned",
        "delay.hours": "1",
        "cancelOn": "order.recorded",
        "frequency": str(automation.DEFAULT_PERIOD_DAYS),
        "action.type": ActionType.SEND_CODE.value,
        "action.channel": "EMAIL",
        "segmentIds": [],
    }
    return values


def _values_of(item: Automation) -> dict[str, Any]:
    days, rest = divmod(item.delay_seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    return {
        "name": item.name,
        "trigger": item.trigger,
        "conditions": json.dumps(item.conditions) if item.conditions else "",
        # Whole minutes: the API takes seconds too, which this form rounds down to minutes.
        "delay.days": str(days),
        "delay.hours": str(hours),
        "delay.minutes": str(rest // 60),
        "cancelOn": ", ".join(item.cancel_on),
        "frequency": str(item.period_days),
        "action.type": item.action.type.value,
        "action.campaignId": item.action.campaign_id,
        "action.channel": item.action.channel or "EMAIL",
        "action.templateId": item.action.template_id,
        "action.points": str(item.action.points or ""),
        "segmentIds": list(item.segment_ids),
    }


def _read_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    values["segmentIds"] = [str(v) for v in form.getlist("segmentIds")]
    return values


def _whole(text: str, fallback: int) -> int:
    """A whole number as typed; `fallback` (a value the API refuses) when it is not one."""
    try:
        return int(text or "0")
    except ValueError:
        return fallback


def _conditions(text: str) -> Any:
    """The JSON typed; text that is not JSON goes to the API as it is, which refuses it in its
    own words (conditions must be a JSON object)."""
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def _input(values: dict[str, Any]) -> automation.AutomationInput:
    sending = values["action.type"] == ActionType.SEND_CODE.value
    return automation.AutomationInput(
        name=values["name"],
        trigger=values["trigger"],
        conditions=_conditions(values["conditions"]),
        segment_ids=values["segmentIds"],
        delay=automation.DelayInput(
            days=_whole(values["delay.days"], -1),
            hours=_whole(values["delay.hours"], -1),
            minutes=_whole(values["delay.minutes"], -1),
        ),
        cancel_on=[name.strip() for name in values["cancelOn"].split(",") if name.strip()],
        period_days=_whole(values["frequency"], -1),
        action=automation.ActionInput(
            type=values["action.type"],
            campaign_id=values["action.campaignId"],
            channel=values["action.channel"] if sending else None,
            template_id=(values["action.templateId"] or None) if sending else None,
            points=None if sending else _whole(values["action.points"], 0),
        ),
    )


async def _form_page(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, Any],
    item: Automation | None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    page = (
        await Campaign.find(
            {
                "project_id": visit.project_id,
                "kind": {"$in": [CampaignKind.DISCOUNT.value, CampaignKind.LOYALTY.value]},
                "status": {"$ne": CampaignStatus.ENDED.value},
            }
        )
        .sort("name")
        .limit(200)
        .to_list()
    )
    campaigns = [("", "Choose a campaign or loyalty program")] + [
        (c.key, f"{c.name} ({'loyalty program' if c.kind == CampaignKind.LOYALTY else 'discount'})")
        for c in page
    ]
    segments = (
        await Segment.find({"project_id": visit.project_id}).sort("name").limit(200).to_list()
    )
    return render(
        request,
        "console/automations/form.html",
        {
            "title": f"Edit {item.name}" if item else "New automation",
            "area": "automations",
            "item": item,
            "v": values,
            "errors": errors or FormErrors(),
            "campaigns": campaigns,
            "segments": segments,
            "action_types": ACTION_TYPES,
            "channels": CHANNELS,
            "triggers": TRIGGERS,
        },
        status,
    )


def _on_form(problems: list[Problem]) -> FormErrors:
    return form_errors(problems, {"periodDays": "frequency", "delay": "delay.days"})


@console_page(ConsoleRole.MARKETER)
async def automation_new(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        return await _form_page(request, visit, values=_new_values(), item=None)
    values = _read_values(await request.form())
    try:
        created = await automation.create_automation(
            project_id=visit.project_id, data=_input(values), template_check=resolve_template
        )
    except DomainError as error:
        return await _form_page(
            request, visit, values=values, item=None, errors=_on_form(error.problems), status=400
        )
    return redirect(request, "automation", query="saved=created", automation_id=created.key)


@console_page(ConsoleRole.MARKETER)
async def automation_edit(request: Request, visit: Visit) -> Response:
    item = await _automation_of(visit, request)
    if request.method == "GET":
        return await _form_page(request, visit, values=_values_of(item), item=item)
    values = _read_values(await request.form())
    given = _input(values)
    changes = automation.AutomationChanges(
        name=given.name,
        trigger=given.trigger,
        action=given.action,
        conditions=given.conditions,
        segment_ids=given.segment_ids,
        delay=given.delay,
        cancel_on=given.cancel_on,
        period_days=given.period_days,
    )
    try:
        await automation.update_automation(
            project_id=visit.project_id,
            automation_id=item.key,
            changes=changes,
            template_check=resolve_template,
        )
    except DomainError as error:
        return await _form_page(
            request, visit, values=values, item=item, errors=_on_form(error.problems), status=400
        )
    return redirect(request, "automation", query="saved=updated", automation_id=item.key)


# --- one automation, its pending actions -----------------------------------------------------


@console_page()
async def automation_page(request: Request, visit: Visit) -> Response:
    item = await _automation_of(visit, request)
    stats = await automation.automation_stats(project_id=visit.project_id, automation_id=item.key)
    pending = await automation.list_scheduled_actions(
        project_id=visit.project_id,
        automation_id=item.key,
        status=ActionStatus.PENDING,
        first=PENDING_PAGE,
        after=None,
    )
    campaigns = await campaigns_by_id(
        project_id=visit.project_id, campaign_ids=[item.action.campaign_id]
    )
    wanted = set(item.segment_ids)
    segments = [
        s
        for s in await Segment.find({"project_id": visit.project_id}).limit(500).to_list()
        if str(s.id) in wanted
    ]
    return render(
        request,
        "console/automations/automation.html",
        {
            "title": item.name,
            "area": "automations",
            "item": item,
            "stats": stats,
            "pending": pending.items,
            "more_pending": pending.has_next,
            "action": _action_text(item, campaigns),
            "delay": _delay_text(item.delay_seconds),
            "frequency": _frequency_text(item.period_days),
            "conditions": json.dumps(item.conditions, indent=2) if item.conditions else "",
            "segment_names": [s.name for s in segments],
            "saved": request.query_params.get("saved", ""),
        },
    )


@console_page(ConsoleRole.MARKETER)
async def automation_status(request: Request, visit: Visit) -> Response:
    item = await _automation_of(visit, request)
    change = STATUS_CHANGES.get(str(request.path_params["action"]))
    if change is None:
        raise NotFound("action")
    possible = item.status == change.allowed_from
    if request.method == "POST" and possible:
        await automation.set_automation_status(
            project_id=visit.project_id, automation_id=item.key, status=change.status
        )
        return redirect(
            request, "automation", query=f"saved={change.action}", automation_id=item.key
        )
    return render(
        request,
        "console/automations/status.html",
        {
            "title": f"{change.verb} {item.name}?",
            "area": "automations",
            "item": item,
            "change": change,
            "possible": possible,
        },
        200 if possible or request.method == "GET" else 400,
    )


routes: list[BaseRoute] = [
    Route("/automations", automation_list, methods=["GET"], name="automations"),
    Route("/automations/new", automation_new, methods=["GET", "POST"], name="automation_new"),
    Route("/automations/{automation_id}", automation_page, methods=["GET"], name="automation"),
    Route(
        "/automations/{automation_id}/edit",
        automation_edit,
        methods=["GET", "POST"],
        name="automation_edit",
    ),
    Route(
        "/automations/{automation_id}/status/{action}",
        automation_status,
        methods=["GET", "POST"],
        name="automation_status",
    ),
]
TEMPLATES = tuple(f"automations/{name}.html" for name in ("list", "form", "automation", "status"))
