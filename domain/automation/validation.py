"""An automation as its author sends it, and the checks it passes before it is stored."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from domain import segments
from domain.automation.conditions import check_conditions, trigger_names
from domain.automation.models import DEFAULT_PERIOD_DAYS, ActionType, AutomationAction
from domain.automation_errors import AutomationError
from domain.campaigns import Campaign, CampaignKind
from domain.common import object_id
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.event_models import (
    check_name,
)
from domain.messages import MessageChannel

MAX_NAME = 200
MAX_DELAY = timedelta(days=365)
MAX_PERIOD_DAYS = 3650
MAX_CANCEL_ON = 10
MAX_SEGMENTS = 20
MAX_POINTS = 1_000_000
DEFAULT_TEMPLATE = "builtin:coupon"


class TemplateCheck(Protocol):
    """Resolves a template reference for a channel; raises DomainError when it cannot be used."""

    def __call__(
        self, *, project_id: str, template_ref: str, channel: MessageChannel
    ) -> Awaitable[Any]: ...


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


def _delay_seconds(delay: DelayInput | None) -> int:
    if delay is None:
        return 0
    parts = (delay.seconds, delay.minutes, delay.hours, delay.days)
    if any(part < 0 for part in parts):
        raise DomainError(AutomationError.INVALID_DELAY, "a delay cannot be negative", "delay")
    total = timedelta(
        seconds=delay.seconds, minutes=delay.minutes, hours=delay.hours, days=delay.days
    )
    if total > MAX_DELAY:
        raise DomainError(AutomationError.INVALID_DELAY, "a delay is at most 365 days", "delay")
    return int(total.total_seconds())


async def _segment_ids(project_id: str, raw: list[str] | None) -> list[str]:
    ids = sorted({str(value).strip() for value in raw or [] if str(value).strip()})
    if not ids:
        return []
    if len(ids) > MAX_SEGMENTS:
        raise DomainError(CommonError.INVALID, f"at most {MAX_SEGMENTS} segments", "segmentIds")
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
            AutomationError.INVALID_ACTION,
            "action type is SEND_CODE or AWARD_POINTS",
            "action.type",
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
                CommonError.NOT_LOYALTY,
                "points are awarded in a loyalty program",
                "action.campaignId",
            )
        points = data.points or 0
        if not 1 <= points <= MAX_POINTS:
            raise DomainError(
                CommonError.INVALID_POINTS, f"points are 1 to {MAX_POINTS}", "action.points"
            )
        return AutomationAction(type=kind, campaign_id=campaign.key, points=points)
    if campaign.kind != CampaignKind.DISCOUNT:
        raise DomainError(
            CommonError.CAMPAIGN_NOT_DISCOUNT,
            "codes come from a discount campaign",
            "action.campaignId",
        )
    try:
        channel = MessageChannel(data.channel or "")
    except ValueError:
        channel = MessageChannel.APPLE_PUSH
    if channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
        raise DomainError(
            CommonError.INVALID_CHANNEL, "codes are sent by EMAIL or SMS", "action.channel"
        )
    # None given: what publishCode(channel) sends, an experiment variant's template or the
    # default; stored as "" so that it stays a choice made per code.
    template = (data.template_id or "").strip()
    if template_check is not None:
        try:
            await template_check(
                project_id=project_id,
                template_ref=template or DEFAULT_TEMPLATE,
                channel=channel,
            )
        except DomainError as error:
            raise DomainError(error.code, error.problems[0].message, "action.templateId") from None
    return AutomationAction(
        type=kind, campaign_id=campaign.key, channel=channel.value, template_id=template
    )


async def validated_automation(
    *, project_id: str, data: AutomationInput, template_check: TemplateCheck | None
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
        problems.append(
            Problem(CommonError.INVALID, f"a name has 1 to {MAX_NAME} characters", "name")
        )
    values["name"] = name
    await check("trigger", lambda: check_name(data.trigger, "trigger"))
    trigger = values.get("trigger", "")
    if trigger:
        await check("conditions", lambda: check_conditions(raw=data.conditions, trigger=trigger))
    await check("segment_ids", lambda: _segment_ids(project_id, data.segment_ids))
    await check("delay_seconds", lambda: _delay_seconds(data.delay))

    def cancel_names() -> list[str]:
        names = sorted({check_name(raw, "cancelOn") for raw in data.cancel_on or []})
        if len(names) > MAX_CANCEL_ON:
            raise DomainError(
                CommonError.INVALID, f"at most {MAX_CANCEL_ON} cancelling events", "cancelOn"
            )
        if trigger and trigger_names(trigger=trigger) & set(names):
            raise DomainError(
                CommonError.INVALID, "the trigger cannot also cancel its own action", "cancelOn"
            )
        return names

    await check("cancel_on", cancel_names)
    period = DEFAULT_PERIOD_DAYS if data.period_days is None else data.period_days
    if not 0 <= period <= MAX_PERIOD_DAYS:
        problems.append(
            Problem(
                CommonError.INVALID,
                f"periodDays is 0 (once ever) to {MAX_PERIOD_DAYS}",
                "frequency",
            )
        )
    values["period_days"] = period
    await check("action", lambda: _checked_action(project_id, data.action, template_check))
    if problems:
        raise DomainError.of(problems)
    return values
