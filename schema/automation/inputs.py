"""GraphQL inputs to create or update an automation: trigger, conditions, delay, action."""

import strawberry

from domain import automation
from schema.automation.enums import ActionTypeEnum
from schema.messages import MessageChannelEnum
from schema.types import JSON


@strawberry.input(
    description=(
        "How long after the trigger the action is due: the parts add up, 0 to 365 days in all."
    ),
)
class AutomationDelayInput:
    seconds: int = strawberry.field(default=0, description="Seconds, 0 or more.")
    minutes: int = strawberry.field(default=0, description="Minutes, 0 or more.")
    hours: int = strawberry.field(default=0, description="Hours, 0 or more.")
    days: int = strawberry.field(default=0, description="Days, 0 or more.")

    def to_domain(self) -> automation.DelayInput:
        return automation.DelayInput(self.seconds, self.minutes, self.hours, self.days)


@strawberry.input(
    description="What the automation does for the customer.",
)
class AutomationActionInput:
    type: ActionTypeEnum = strawberry.field(description="SEND_CODE or AWARD_POINTS.")
    campaign_id: strawberry.ID = strawberry.field(
        description="SEND_CODE: a DISCOUNT campaign; AWARD_POINTS: a LOYALTY program."
    )
    channel: MessageChannelEnum | None = strawberry.field(
        default=None, description="SEND_CODE: EMAIL or SMS, the channel the code is sent on."
    )
    template_id: str | None = strawberry.field(
        default=None,
        description="SEND_CODE: the template's id or builtin:<name>; builtin:coupon by default.",
    )
    points: int | None = strawberry.field(
        default=None, description="AWARD_POINTS: the points given, 1 to 1,000,000."
    )

    def to_domain(self) -> automation.ActionInput:
        return automation.ActionInput(
            type=self.type.value,
            campaign_id=str(self.campaign_id),
            channel=self.channel.value if self.channel else None,
            template_id=self.template_id,
            points=self.points,
        )


@strawberry.input(
    description="What the triggering event must satisfy for the action to be scheduled.",
)
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


@strawberry.input(
    description="How often one customer may be acted on.",
)
class AutomationFrequencyInput:
    period_days: int = strawberry.field(
        description="A customer is acted on at most once per this many days; 0: once ever."
    )


@strawberry.input(
    description=(
        "A new automation: when an event (the trigger) happens to a customer, do an action "
        "after a delay."
    ),
)
class AutomationInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    trigger: str = strawberry.field(
        description="An event name: cart.abandoned, customer.created, order.recorded, "
        "points.threshold, customer.dormant, birthday, referral.qualified, or your own."
    )
    action: AutomationActionInput = strawberry.field(description="What to do.")
    conditions: AutomationConditionsInput | None = strawberry.field(
        default=None, description="What the event must satisfy; null: every event of the trigger."
    )
    delay: AutomationDelayInput | None = strawberry.field(
        default=None, description="How long after the event; null: at once."
    )
    cancel_on: list[str] | None = strawberry.field(
        default=None,
        description=(
            "Event names (at most 10) that cancel the customer's pending action, such "
            "as order.recorded for cart.abandoned."
        ),
    )
    frequency: AutomationFrequencyInput | None = strawberry.field(
        default=None, description="Once per 30 days when left out."
    )


@strawberry.input(
    description="Changes to an automation; left-out fields keep their value.",
)
class AutomationUpdateInput:
    name: str | None = strawberry.field(default=None, description="1 to 200 characters.")
    trigger: str | None = strawberry.field(
        default=None, description="The event name that triggers it."
    )
    action: AutomationActionInput | None = strawberry.field(default=None, description="What to do.")
    conditions: AutomationConditionsInput | None = strawberry.field(
        default=None, description="What the event must satisfy."
    )
    delay: AutomationDelayInput | None = strawberry.field(
        default=None, description="How long after the event."
    )
    cancel_on: list[str] | None = strawberry.field(
        default=None,
        description="Event names (at most 10) that cancel the customer's pending action.",
    )
    frequency: AutomationFrequencyInput | None = strawberry.field(
        default=None, description="How often one customer may be acted on."
    )
