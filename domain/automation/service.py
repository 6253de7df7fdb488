"""Automations: an event triggers, after a durable delay, a code sent or points awarded, unless a
cancelling event came first, at most once per customer per period. Matching events become
ScheduledAction records; delivery/automation.py leases and performs them."""

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain import segments
from domain.campaigns import Campaign, CampaignKind
from domain.common import as_utc, object_id, utc_now
from domain.customers import Customer
from domain.errors import DomainError, NotFound, Problem
from domain.event_models import (
    CUSTOMER_DORMANT,
    POINTS_CHANGED,
    CustomerEvent,
    check_name,
)
from domain.messages import MessageChannel
from domain.pagination import Page, paginate, paginate_each

# A trigger that listens to points.changed and needs a `crossed` threshold in its conditions.
POINTS_THRESHOLD = "points.threshold"
# Each process re-reads a project's active automations at most this often; its own changes
# are seen at once.
CACHE_SECONDS = 5.0
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
MAX_NAME = 200
MAX_DELAY = timedelta(days=365)
MAX_PERIOD_DAYS = 3650
MAX_CANCEL_ON = 10
MAX_SEGMENTS = 20
MAX_CONDITIONS_BYTES = 4_000
MAX_POINTS = 1_000_000
DEFAULT_PERIOD_DAYS = 30
DEFAULT_TEMPLATE = "builtin:coupon"
OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists"})
PROPERTY_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
# Stands for "never": the embedded server cannot match null reliably.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TemplateCheck = Callable[[str, str, MessageChannel], Awaitable[Any]]


class AutomationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


class ActionType(StrEnum):
    SEND_CODE = "SEND_CODE"
    AWARD_POINTS = "AWARD_POINTS"


class ActionStatus(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


class AutomationAction(BaseModel):
    type: ActionType
    # SEND_CODE: a DISCOUNT campaign; AWARD_POINTS: a LOYALTY program.
    campaign_id: str
    channel: str = ""
    template_id: str = ""
    points: int = 0


class Automation(Document):
    project_id: str
    name: str
    # An event name; points.threshold listens to points.changed.
    trigger: str
    # Conditions on the event's properties; see conditions_match.
    conditions: dict[str, Any] = Field(default_factory=dict)
    segment_ids: list[str] = Field(default_factory=list)
    delay_seconds: int = 0
    cancel_on: list[str] = Field(default_factory=list)
    action: AutomationAction
    # A customer is acted on at most once per this many days; 0: once ever.
    period_days: int = DEFAULT_PERIOD_DAYS
    status: AutomationStatus = AutomationStatus.ACTIVE
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "automations"
        indexes = [
            IndexModel([("project_id", 1), ("status", 1)]),
            IndexModel([("status", 1), ("trigger", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class ScheduledAction(Document):
    """One triggering event's pending action; the unique key makes an event schedule once."""

    project_id: str
    automation_id: str
    customer_id: str
    event_id: str
    event_name: str
    triggered_at: datetime
    # When it is due; leasing never moves it (older records leased before lease_until existed
    # carry their lease's end here, and are read that way).
    due_at: datetime
    status: ActionStatus = ActionStatus.PENDING
    lease_owner: str = ""
    lease_until: datetime = EPOCH
    attempts: int = 0
    # Set once every check passed and the frequency slot is held: a retry after a crash then
    # finishes the action instead of judging it again.
    claimed: bool = False
    # SEND_CODE: the code published to the customer, and the message carrying it.
    code: str = ""
    message_id: str = ""
    detail: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None

    class Settings:
        name = "scheduled_actions"
        indexes = [
            IndexModel(
                [("project_id", 1), ("automation_id", 1), ("event_id", 1)],
                unique=True,
                name="project_automation_event_unique",
            ),
            IndexModel([("status", 1), ("due_at", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1), ("status", 1)]),
            IndexModel([("project_id", 1), ("automation_id", 1), ("status", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class AutomationRun(Document):
    """The frequency slot of one customer in one automation: which action holds it, since
    when. Moved by compare-and-set on `version`, so one action wins however many race."""

    project_id: str
    automation_id: str
    customer_id: str
    holder: str = ""
    held_at: datetime = EPOCH
    # What a failed holder gives the slot back to.
    previous_holder: str = ""
    previous_held_at: datetime = EPOCH
    version: int = 0

    class Settings:
        name = "automation_runs"
        indexes = [
            IndexModel(
                [("project_id", 1), ("automation_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_automation_customer_unique",
            )
        ]


@dataclass
class DelayInput:
    seconds: int = 0
    minutes: int = 0
    hours: int = 0
    days: int = 0


@dataclass
class ActionInput:
    type: str
    campaign_id: str
    channel: str | None = None
    template_id: str | None = None
    points: int | None = None


@dataclass
class AutomationInput:
    name: str
    trigger: str
    action: ActionInput
    conditions: Any = None
    segment_ids: list[str] | None = None
    delay: DelayInput | None = None
    cancel_on: list[str] | None = None
    period_days: int | None = None


@dataclass
class AutomationChanges:
    """Fields left as None are kept."""

    name: str | None = None
    trigger: str | None = None
    action: ActionInput | None = None
    conditions: Any = None
    segment_ids: list[str] | None = None
    delay: DelayInput | None = None
    cancel_on: list[str] | None = None
    period_days: int | None = None


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


@dataclass
class Decision:
    """What the executor does with a leased action: `status` settles it now, None performs it."""

    automation: Automation | None
    status: ActionStatus | None = None
    detail: str = ""


# The per-process cache of active automations: project id -> (read at, automations).
_active: dict[str, tuple[float, list[Automation]]] = {}


def forget(project_id: str) -> None:
    _active.pop(project_id, None)


async def active_automations(project_id: str, fresh: bool = False) -> list[Automation]:
    cached = _active.get(project_id)
    if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = await Automation.find(
        {"project_id": project_id, "status": AutomationStatus.ACTIVE.value}
    ).to_list()
    _active[project_id] = (time.monotonic(), found)
    return found


def triggers_for(event_name: str) -> set[str]:
    names = {event_name}
    if event_name == POINTS_CHANGED:
        names.add(POINTS_THRESHOLD)
    return names


def listens_to(automations: list[Automation], event_name: str) -> list[Automation]:
    """The automations the event may trigger or cancel."""
    triggers = triggers_for(event_name)
    return [a for a in automations if a.trigger in triggers or event_name in a.cancel_on]


def _lookup(properties: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = properties
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _holds(operator: str, expected: Any, found: bool, value: Any) -> bool:
    if operator == "exists":
        return found == bool(expected)
    if operator == "ne":
        return not found or value != expected
    if not found:
        return False
    try:
        if operator == "eq":
            return bool(value == expected)
        if operator == "in":
            return value in expected
        if operator == "nin":
            return value not in expected
        if isinstance(value, bool) or not isinstance(value, type(expected) | int | float):
            return False
        if operator == "gt":
            return bool(value > expected)
        if operator == "gte":
            return bool(value >= expected)
        if operator == "lt":
            return bool(value < expected)
        return bool(value <= expected)
    except TypeError:
        return False


def conditions_match(conditions: dict[str, Any], properties: dict[str, Any]) -> bool:
    """Every condition holds. A key names a property (dotted for nested ones) and its value is
    the property's value, or an object of operators (eq ne gt gte lt lte in nin exists).
    `crossed: N` holds when a points.changed event moved the balance from below N to N or more."""
    for path, expected in conditions.items():
        if path == "crossed":
            old, new = properties.get("old"), properties.get("new")
            if not (isinstance(old, int) and isinstance(new, int) and old < expected <= new):
                return False
            continue
        found, value = _lookup(properties, path)
        if isinstance(expected, dict):
            if not all(_holds(op, arg, found, value) for op, arg in expected.items()):
                return False
        elif not _holds("eq", expected, found, value):
            return False
    return True


def _check_conditions(raw: Any, trigger: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DomainError("INVALID_CONDITIONS", "conditions must be a JSON object", "conditions")
    if len(json.dumps(raw, default=str)) > MAX_CONDITIONS_BYTES:
        raise DomainError(
            "INVALID_CONDITIONS",
            f"conditions are at most {MAX_CONDITIONS_BYTES} bytes",
            "conditions",
        )
    for path, expected in raw.items():
        if path == "crossed":
            if trigger not in (POINTS_CHANGED, POINTS_THRESHOLD):
                raise DomainError(
                    "INVALID_CONDITIONS",
                    "crossed applies to points.changed and points.threshold only",
                    "conditions",
                )
            if isinstance(expected, bool) or not isinstance(expected, int) or expected < 1:
                raise DomainError(
                    "INVALID_CONDITIONS", "crossed is a positive number of points", "conditions"
                )
            continue
        if not PROPERTY_PATH.match(path):
            raise DomainError(
                "INVALID_CONDITIONS", f"{path!r} is not a property name", "conditions"
            )
        if isinstance(expected, dict):
            unknown = set(expected) - OPERATORS
            if not expected or unknown:
                raise DomainError(
                    "INVALID_CONDITIONS",
                    f"operators are {', '.join(sorted(OPERATORS))}",
                    "conditions",
                )
            for operator in ("in", "nin"):
                if operator in expected and not isinstance(expected[operator], list):
                    raise DomainError(
                        "INVALID_CONDITIONS", f"{operator} takes a list", "conditions"
                    )
    if trigger == POINTS_THRESHOLD and "crossed" not in raw:
        raise DomainError(
            "INVALID_CONDITIONS",
            'points.threshold needs the threshold as conditions {"crossed": N}',
            "conditions",
        )
    if trigger == CUSTOMER_DORMANT:
        days = raw.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise DomainError(
                "INVALID_CONDITIONS",
                'customer.dormant needs the days without an order as conditions {"days": N}',
                "conditions",
            )
    return raw


def _delay_seconds(delay: DelayInput | None) -> int:
    if delay is None:
        return 0
    parts = (delay.seconds, delay.minutes, delay.hours, delay.days)
    if any(part < 0 for part in parts):
        raise DomainError("INVALID_DELAY", "a delay cannot be negative", "delay")
    total = timedelta(
        seconds=delay.seconds, minutes=delay.minutes, hours=delay.hours, days=delay.days
    )
    if total > MAX_DELAY:
        raise DomainError("INVALID_DELAY", "a delay is at most 365 days", "delay")
    return int(total.total_seconds())


async def _segment_ids(project_id: str, raw: list[str] | None) -> list[str]:
    ids = sorted({str(value).strip() for value in raw or [] if str(value).strip()})
    if not ids:
        return []
    if len(ids) > MAX_SEGMENTS:
        raise DomainError("INVALID", f"at most {MAX_SEGMENTS} segments", "segmentIds")
    for value in ids:
        await segments.get_segment(project_id, value, "segmentIds")
    return ids


async def _checked_action(
    project_id: str, data: ActionInput, template_check: TemplateCheck | None
) -> AutomationAction:
    try:
        kind = ActionType(data.type)
    except ValueError:
        raise DomainError(
            "INVALID_ACTION", "action type is SEND_CODE or AWARD_POINTS", "action.type"
        ) from None
    campaign = await Campaign.find_one(
        {
            "_id": object_id(data.campaign_id, "campaign", "action.campaignId"),
            "project_id": project_id,
        }
    )
    if campaign is None:
        raise NotFound("campaign", "action.campaignId")
    if kind == ActionType.AWARD_POINTS:
        if campaign.kind != CampaignKind.LOYALTY:
            raise DomainError(
                "NOT_LOYALTY", "points are awarded in a loyalty program", "action.campaignId"
            )
        points = data.points or 0
        if not 1 <= points <= MAX_POINTS:
            raise DomainError("INVALID_POINTS", f"points are 1 to {MAX_POINTS}", "action.points")
        return AutomationAction(type=kind, campaign_id=campaign.key, points=points)
    if campaign.kind != CampaignKind.DISCOUNT:
        raise DomainError(
            "CAMPAIGN_NOT_DISCOUNT", "codes come from a discount campaign", "action.campaignId"
        )
    try:
        channel = MessageChannel(data.channel or "")
    except ValueError:
        channel = MessageChannel.APPLE_PUSH
    if channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
        raise DomainError("INVALID_CHANNEL", "codes are sent by EMAIL or SMS", "action.channel")
    # None given: what publishCode(channel) sends, an experiment variant's template or the
    # default; stored as "" so that it stays a choice made per code.
    template = (data.template_id or "").strip()
    if template_check is not None:
        try:
            await template_check(project_id, template or DEFAULT_TEMPLATE, channel)
        except DomainError as error:
            raise DomainError(error.code, error.problems[0].message, "action.templateId") from None
    return AutomationAction(
        type=kind, campaign_id=campaign.key, channel=channel.value, template_id=template
    )


async def _validated(
    project_id: str, data: AutomationInput, template_check: TemplateCheck | None
) -> dict[str, Any]:
    """Every field checked, every problem collected; nothing is written."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}

    async def check(name: str, make: Callable[[], Any]) -> None:
        try:
            result = make()
            values[name] = await result if isinstance(result, Awaitable) else result
        except DomainError as error:
            problems.extend(error.problems)

    name = (data.name or "").strip()
    if not 1 <= len(name) <= MAX_NAME:
        problems.append(Problem("INVALID", f"a name has 1 to {MAX_NAME} characters", "name"))
    values["name"] = name
    await check("trigger", lambda: check_name(data.trigger, "trigger"))
    trigger = values.get("trigger", "")
    if trigger:
        await check("conditions", lambda: _check_conditions(data.conditions, trigger))
    await check("segment_ids", lambda: _segment_ids(project_id, data.segment_ids))
    await check("delay_seconds", lambda: _delay_seconds(data.delay))

    def cancel_names() -> list[str]:
        names = sorted({check_name(raw, "cancelOn") for raw in data.cancel_on or []})
        if len(names) > MAX_CANCEL_ON:
            raise DomainError("INVALID", f"at most {MAX_CANCEL_ON} cancelling events", "cancelOn")
        if trigger and trigger_names(trigger) & set(names):
            raise DomainError(
                "INVALID", "the trigger cannot also cancel its own action", "cancelOn"
            )
        return names

    await check("cancel_on", cancel_names)
    period = DEFAULT_PERIOD_DAYS if data.period_days is None else data.period_days
    if not 0 <= period <= MAX_PERIOD_DAYS:
        problems.append(
            Problem("INVALID", f"periodDays is 0 (once ever) to {MAX_PERIOD_DAYS}", "frequency")
        )
    values["period_days"] = period
    await check("action", lambda: _checked_action(project_id, data.action, template_check))
    if problems:
        raise DomainError.of(problems)
    return values


def trigger_names(trigger: str) -> set[str]:
    """The event names a trigger listens to."""
    return {POINTS_CHANGED} if trigger == POINTS_THRESHOLD else {trigger}


async def create_automation(
    project_id: str, data: AutomationInput, template_check: TemplateCheck | None = None
) -> Automation:
    values = await _validated(project_id, data, template_check)
    automation = Automation(project_id=project_id, **values)
    await automation.insert()
    forget(project_id)
    return automation


async def get_automation(project_id: str, automation_id: str) -> Automation:
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
    project_id: str,
    automation_id: str,
    changes: AutomationChanges,
    template_check: TemplateCheck | None = None,
) -> Automation:
    """Changes apply to actions performed from now on, including those already scheduled."""
    current = await get_automation(project_id, automation_id)
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
    values = await _validated(project_id, merged, template_check)
    values["action"] = values["action"].model_dump(mode="json")
    values["updated_at"] = utc_now()
    await Automation.get_pymongo_collection().update_one(
        {"_id": current.id, "project_id": project_id}, {"$set": values}
    )
    forget(project_id)
    return await get_automation(project_id, automation_id)


async def set_automation_status(
    project_id: str, automation_id: str, status: AutomationStatus
) -> Automation:
    """Pausing stops new actions from being scheduled; pending ones are skipped when due."""
    automation = await get_automation(project_id, automation_id)
    await Automation.get_pymongo_collection().update_one(
        {"_id": automation.id, "project_id": project_id},
        {"$set": {"status": status.value, "updated_at": utc_now()}},
    )
    forget(project_id)
    return await get_automation(project_id, automation_id)


async def list_automations(
    project_id: str, status: AutomationStatus | None, first: int, after: str | None
) -> Page[Automation]:
    query: dict[str, Any] = {"project_id": project_id}
    if status is not None:
        query["status"] = status.value
    return await paginate(Automation, query, first, after)


async def automation_stats(project_id: str, automation_id: str) -> AutomationStats:
    return (await automations_stats(project_id, [automation_id]))[automation_id]


# Each figure of AutomationStats and the action status it counts.
STATS_BY_STATUS = {
    "scheduled": ActionStatus.PENDING,
    "cancelled": ActionStatus.CANCELLED,
    "executed": ActionStatus.DONE,
    "skipped": ActionStatus.SKIPPED,
    "failed": ActionStatus.FAILED,
}


async def automations_stats(
    project_id: str, automation_ids: list[str]
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


async def dormancy_lengths() -> list[tuple[str, int]]:
    """(project, days) for every active customer.dormant automation, without repeats."""
    found = await Automation.find(
        {"status": AutomationStatus.ACTIVE.value, "trigger": CUSTOMER_DORMANT}
    ).to_list()
    return sorted({(a.project_id, int(a.conditions["days"])) for a in found})


async def projects_listening_to(trigger: str) -> list[str]:
    found = await Automation.find(
        {"status": AutomationStatus.ACTIVE.value, "trigger": trigger}
    ).to_list()
    return sorted({a.project_id for a in found})


async def dispatch(event: CustomerEvent, automations: list[Automation], now: datetime) -> None:
    """Schedules the actions the event triggers and cancels the pending ones it cancels. Both
    are safe to repeat: an event schedules once per automation, a cancellation once."""
    triggers = triggers_for(event.name)
    at = as_utc(event.at)
    for automation in automations:
        if automation.trigger not in triggers:
            continue
        if not conditions_match(automation.conditions, event.properties):
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


async def lease_due_action(
    owner: str, now: datetime | None = None, lease: timedelta = LEASE
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


async def _held(action: ScheduledAction, owner: str, fields: dict[str, Any]) -> bool:
    """Writes `fields` only while `owner` holds the lease."""
    result = await ScheduledAction.get_pymongo_collection().update_one(
        {"_id": action.id, "lease_owner": owner, "status": ActionStatus.PENDING.value},
        {"$set": fields},
    )
    return bool(result.modified_count)


async def note_progress(action: ScheduledAction, owner: str, **fields: Any) -> bool:
    for name, value in fields.items():
        setattr(action, name, value)
    return await _held(action, owner, fields)


async def settle(
    action: ScheduledAction, owner: str, status: ActionStatus, detail: str, now: datetime
) -> bool:
    action.status = status
    return await _held(
        action, owner, {"status": status.value, "detail": detail[:500], "finished_at": now}
    )


async def retry_later(action: ScheduledAction, owner: str, error: str, now: datetime) -> bool:
    """Hands the action back for a later attempt, or fails it after MAX_ATTEMPTS."""
    if action.attempts >= MAX_ATTEMPTS:
        failed = await settle(action, owner, ActionStatus.FAILED, error, now)
        await release_run(action)
        return failed
    wait = RETRY_BASE * 2 ** max(0, action.attempts - 1)
    return await _held(
        action,
        owner,
        {"lease_owner": "", "lease_until": EPOCH, "due_at": now + wait, "detail": error[:500]},
    )


async def cancelling_event(
    action: ScheduledAction, automation: Automation, now: datetime
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
    project_id: str, customer: Customer, segment_ids: list[str], now: datetime
) -> bool:
    """In at least one of the segments, as they stand at `now`."""
    return bool(await segments.customer_in_segments(project_id, customer, segment_ids, now))


async def claim_run(action: ScheduledAction, automation: Automation, now: datetime) -> bool:
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


async def release_run(action: ScheduledAction) -> None:
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


async def decide(action: ScheduledAction, owner: str, now: datetime) -> Decision:
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
    cancel = await cancelling_event(action, automation, now)
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
        action.project_id, customer, automation.segment_ids, now
    ):
        return Decision(automation, ActionStatus.SKIPPED, "the customer is not in the segments")
    if not await claim_run(action, automation, now):
        period = "once ever" if automation.period_days == 0 else f"{automation.period_days} days"
        return Decision(
            automation, ActionStatus.SKIPPED, f"the customer was acted on already ({period})"
        )
    if not await note_progress(action, owner, claimed=True):
        # The lease went to another executor meanwhile; it holds the same slot now.
        return Decision(automation, ActionStatus.SKIPPED, "lease lost")
    return Decision(automation)
