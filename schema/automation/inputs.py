"""GraphQL inputs to create or update an automation: trigger, conditions, delay, action."""

import strawberry

from domain import automation
from schema.automation.enums import ActionTypeEnum
from schema.messages import MessageChannelEnum
from schema.types import JSON


@strawberry.input
class AutomationDelayInput:
    seconds: int = 0
    minutes: int = 0
    hours: int = 0
    days: int = 0

    def to_domain(self) -> automation.DelayInput:
        return automation.DelayInput(self.seconds, self.minutes, self.hours, self.days)


@strawberry.input
class AutomationActionInput:
    type: ActionTypeEnum
    campaign_id: strawberry.ID = strawberry.field(
        description="SEND_CODE: a DISCOUNT campaign; AWARD_POINTS: a LOYALTY program."
    )
    channel: MessageChannelEnum | None = strawberry.field(default=None, description="SEND_CODE")
    template_id: str | None = strawberry.field(
        default=None, description="SEND_CODE; builtin:coupon by default."
    )
    points: int | None = strawberry.field(default=None, description="AWARD_POINTS")

    def to_domain(self) -> automation.ActionInput:
        return automation.ActionInput(
            type=self.type.value,
            campaign_id=str(self.campaign_id),
            channel=self.channel.value if self.channel else None,
            template_id=self.template_id,
            points=self.points,
        )


@strawberry.input
class AutomationConditionsInput:
    properties: JSON | None = strawberry.field(
        default=None,
        description='Property conditions: {"currency": "EUR", "total": {"gte": 5000}}; '
        'operators eq ne gt gte lt lte in nin exists; {"crossed": 500} for points; '
        '{"days": 90} for customer.dormant.',
    )
    segment_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="The customer must be in at least one of them when the action is due.",
    )


@strawberry.input
class AutomationFrequencyInput:
    period_days: int = strawberry.field(
        description="A customer is acted on at most once per this many days; 0: once ever."
    )


@strawberry.input
class AutomationInput:
    name: str
    trigger: str = strawberry.field(
        description="An event name: cart.abandoned, customer.created, order.recorded, "
        "points.threshold, customer.dormant, birthday, referral.qualified, or your own."
    )
    action: AutomationActionInput
    conditions: AutomationConditionsInput | None = None
    delay: AutomationDelayInput | None = None
    cancel_on: list[str] | None = None
    frequency: AutomationFrequencyInput | None = strawberry.field(
        default=None, description="30 days when left out."
    )


@strawberry.input
class AutomationUpdateInput:
    name: str | None = None
    trigger: str | None = None
    action: AutomationActionInput | None = None
    conditions: AutomationConditionsInput | None = None
    delay: AutomationDelayInput | None = None
    cancel_on: list[str] | None = None
    frequency: AutomationFrequencyInput | None = None
