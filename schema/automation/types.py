"""GraphQL output types of automations: the automation, its actions, stats and events."""

import typing
from datetime import datetime
from typing import Annotated

import strawberry

from domain import automation, events
from schema.automation.enums import ActionStatusEnum, ActionTypeEnum, AutomationStatusEnum
from schema.context import Info
from schema.customers import CustomerType
from schema.messages import MessageChannelEnum
from schema.types import JSON, Connection, connection


@strawberry.type(
    name="CustomerEvent",
    description=(
        "Something that happened to a customer (tracked by the shop or emitted by Engage), "
        "which automations react to. Readable by admin keys; its properties also by the "
        "customer's own token."
    ),
)
class CustomerEventType:
    doc: strawberry.Private[events.CustomerEvent]

    def personal_data_owner(self) -> str:
        return self.doc.customer_id

    @strawberry.field(description="The event's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field(description="Whose event it is.")
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.customer_id)

    @strawberry.field(description="The event name, such as cart.abandoned or order.recorded.")
    def name(self) -> str:
        return self.doc.name

    @strawberry.field(
        description="The event's JSON object of properties, as tracked (at most 8,000 bytes)."
    )
    def properties(self) -> JSON:
        return typing.cast(JSON, self.doc.properties)

    @strawberry.field(description="When it happened, UTC ISO 8601.")
    def at(self) -> datetime:
        return self.doc.at

    @strawberry.field(description='"api", "customer" (its own token) or "engage" (built in).')
    def source(self) -> str:
        return self.doc.source

    @strawberry.field(description="When Engage stored it, UTC ISO 8601.")
    def created_at(self) -> datetime:
        return self.doc.created_at


@strawberry.type(
    name="AutomationStats",
    description="An automation's scheduled actions counted by what became of them.",
)
class AutomationStatsType:
    triggered: int = strawberry.field(description="Actions matching events scheduled.")
    scheduled: int = strawberry.field(description="Actions waiting for their time.")
    cancelled: int = strawberry.field(description="Actions CANCELLED by a cancelOn event.")
    executed: int = strawberry.field(description="Actions DONE.")
    skipped: int = strawberry.field(
        description="Not performed: frequency cap, paused automation, erased customer, segments."
    )
    failed: int = strawberry.field(description="Actions FAILED.")


@strawberry.type(
    name="AutomationAction",
    description="What an automation does for the customer.",
)
class AutomationActionType:
    type: ActionTypeEnum = strawberry.field(description="SEND_CODE or AWARD_POINTS.")
    campaign_id: strawberry.ID = strawberry.field(
        description="SEND_CODE: the DISCOUNT campaign; AWARD_POINTS: the LOYALTY program."
    )
    channel: MessageChannelEnum | None = strawberry.field(
        description="SEND_CODE: the channel the code is sent on; null for AWARD_POINTS."
    )
    template_id: str | None = strawberry.field(
        description="SEND_CODE: the template (null for builtin:coupon); null for AWARD_POINTS."
    )
    points: int | None = strawberry.field(
        description="AWARD_POINTS: the points given; null for SEND_CODE."
    )


@strawberry.type(
    name="ScheduledAction",
    description=(
        "One action an automation scheduled for a customer after a triggering event. Readable "
        "by admin keys."
    ),
)
class ScheduledActionType:
    doc: strawberry.Private[automation.ScheduledAction]

    @strawberry.field(description="The scheduled action's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field(description="The event that triggered it.")
    def event_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.event_id)

    @strawberry.field(description="The name of the event that triggered it.")
    def event_name(self) -> str:
        return self.doc.event_name

    @strawberry.field(description="When the triggering event happened, UTC ISO 8601.")
    def triggered_at(self) -> datetime:
        return self.doc.triggered_at

    @strawberry.field(description="When it is (or was) due, UTC ISO 8601.")
    def due_at(self) -> datetime:
        return self.doc.due_at

    @strawberry.field(description="What became of it.")
    def status(self) -> ActionStatusEnum:
        return ActionStatusEnum(self.doc.status.value)

    @strawberry.field(description="How many times performing it was tried (at most 5).")
    def attempts(self) -> int:
        return self.doc.attempts

    @strawberry.field(
        description="SEND_CODE: the code published to the customer; null before, or for "
        "AWARD_POINTS."
    )
    def code(self) -> str | None:
        return self.doc.code or None

    @strawberry.field(description="SEND_CODE: the outbox message carrying the code.")
    def message_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.message_id) if self.doc.message_id else None

    @strawberry.field(description="What happened, or why it was cancelled, skipped or failed.")
    def detail(self) -> str | None:
        return self.doc.detail or None

    @strawberry.field(
        description=(
            "When it was done, cancelled, skipped or failed, UTC ISO 8601; null while PENDING."
        )
    )
    def finished_at(self) -> datetime | None:
        return self.doc.finished_at

    @strawberry.field(description="The customer acted on. Admin keys only.")
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.customer_id)


@strawberry.type(
    name="Automation",
    description=(
        "An automation: when an event happens to a customer, do an action for them after a "
        "delay. Readable by admin keys."
    ),
)
class AutomationType:
    doc: strawberry.Private[automation.Automation]

    @strawberry.field(description="The automation's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field(description="The automation's name.")
    def name(self) -> str:
        return self.doc.name

    @strawberry.field(description="The event name that triggers it.")
    def trigger(self) -> str:
        return self.doc.trigger

    @strawberry.field(description="Conditions on the triggering event's properties.")
    def conditions(self) -> JSON:
        return typing.cast(JSON, self.doc.conditions)

    @strawberry.field(
        description=(
            "The customer must be in at least one of these segments when the action is due; "
            "empty: no such rule."
        )
    )
    def segment_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(value) for value in self.doc.segment_ids]

    @strawberry.field(description="Seconds between the trigger and the action.")
    def delay_seconds(self) -> int:
        return self.doc.delay_seconds

    @strawberry.field(description="Events that cancel a pending action of the same customer.")
    def cancel_on(self) -> list[str]:
        return self.doc.cancel_on

    @strawberry.field(description="At most one action per customer per this many days; 0: once.")
    def period_days(self) -> int:
        return self.doc.period_days

    @strawberry.field(description="What it does.")
    def action(self) -> AutomationActionType:
        spec = self.doc.action
        return AutomationActionType(
            type=ActionTypeEnum(spec.type.value),
            campaign_id=strawberry.ID(spec.campaign_id),
            channel=MessageChannelEnum(spec.channel) if spec.channel else None,
            template_id=spec.template_id or None,
            points=spec.points or None,
        )

    @strawberry.field(description="ACTIVE or PAUSED.")
    def status(self) -> AutomationStatusEnum:
        return AutomationStatusEnum(self.doc.status.value)

    @strawberry.field(description="When the automation was created, UTC ISO 8601.")
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field(description="When the automation last changed, UTC ISO 8601.")
    def updated_at(self) -> datetime:
        return self.doc.updated_at

    @strawberry.field(description="Its scheduled actions counted by what became of them.")
    async def stats(self, info: Info) -> AutomationStatsType:
        counts = await info.context.loaders.automation_stats.load(self.doc.key)
        return AutomationStatsType(
            triggered=counts.triggered,
            scheduled=counts.scheduled,
            cancelled=counts.cancelled,
            executed=counts.executed,
            skipped=counts.skipped,
            failed=counts.failed,
        )

    @strawberry.field(description="Its scheduled actions, oldest first.")
    async def scheduled_actions(
        self,
        info: Info,
        status: Annotated[
            ActionStatusEnum | None,
            strawberry.argument(description="Only actions in this status; null for all."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many actions to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[ScheduledActionType]:
        wanted = automation.ActionStatus(status.value) if status else None
        page = await info.context.loaders.scheduled_actions.load(
            (self.doc.key, (wanted, first, after))
        )
        return connection(page, lambda doc: ScheduledActionType(doc=doc))
