"""GraphQL output types of automations: the automation, its actions, stats and events."""

import typing
from datetime import datetime

import strawberry

from domain import automation, events
from schema.automation.enums import ActionStatusEnum, ActionTypeEnum, AutomationStatusEnum
from schema.context import Info
from schema.customers import CustomerType
from schema.messages import MessageChannelEnum
from schema.types import JSON, Connection, connection


@strawberry.type(name="CustomerEvent")
class CustomerEventType:
    doc: strawberry.Private[events.CustomerEvent]

    def personal_data_owner(self) -> str:
        return self.doc.customer_id

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.customer_id)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def properties(self) -> JSON:
        return typing.cast(JSON, self.doc.properties)

    @strawberry.field(description="When it happened.")
    def at(self) -> datetime:
        return self.doc.at

    @strawberry.field(description='"api", "customer" (its own token) or "engage" (built in).')
    def source(self) -> str:
        return self.doc.source

    @strawberry.field(description="When Engage stored it.")
    def created_at(self) -> datetime:
        return self.doc.created_at


@strawberry.type(name="AutomationStats")
class AutomationStatsType:
    triggered: int = strawberry.field(description="Actions matching events scheduled.")
    scheduled: int = strawberry.field(description="Actions waiting for their time.")
    cancelled: int
    executed: int
    skipped: int = strawberry.field(
        description="Not performed: frequency cap, paused automation, erased customer, segments."
    )
    failed: int


@strawberry.type(name="AutomationAction")
class AutomationActionType:
    type: ActionTypeEnum
    campaign_id: strawberry.ID
    channel: MessageChannelEnum | None
    template_id: str | None
    points: int | None


@strawberry.type(name="ScheduledAction")
class ScheduledActionType:
    doc: strawberry.Private[automation.ScheduledAction]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field
    def event_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.event_id)

    @strawberry.field
    def event_name(self) -> str:
        return self.doc.event_name

    @strawberry.field
    def triggered_at(self) -> datetime:
        return self.doc.triggered_at

    @strawberry.field(description="When it is (or was) due.")
    def due_at(self) -> datetime:
        return self.doc.due_at

    @strawberry.field
    def status(self) -> ActionStatusEnum:
        return ActionStatusEnum(self.doc.status.value)

    @strawberry.field
    def attempts(self) -> int:
        return self.doc.attempts

    @strawberry.field(description="SEND_CODE: the code published to the customer.")
    def code(self) -> str | None:
        return self.doc.code or None

    @strawberry.field(description="SEND_CODE: the outbox message carrying the code.")
    def message_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.message_id) if self.doc.message_id else None

    @strawberry.field(description="What happened, or why it was cancelled, skipped or failed.")
    def detail(self) -> str | None:
        return self.doc.detail or None

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.doc.finished_at

    @strawberry.field
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.customer_id)


@strawberry.type(name="Automation")
class AutomationType:
    doc: strawberry.Private[automation.Automation]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field(description="The event name that triggers it.")
    def trigger(self) -> str:
        return self.doc.trigger

    @strawberry.field(description="Conditions on the triggering event's properties.")
    def conditions(self) -> JSON:
        return typing.cast(JSON, self.doc.conditions)

    @strawberry.field
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

    @strawberry.field
    def action(self) -> AutomationActionType:
        spec = self.doc.action
        return AutomationActionType(
            type=ActionTypeEnum(spec.type.value),
            campaign_id=strawberry.ID(spec.campaign_id),
            channel=MessageChannelEnum(spec.channel) if spec.channel else None,
            template_id=spec.template_id or None,
            points=spec.points or None,
        )

    @strawberry.field
    def status(self) -> AutomationStatusEnum:
        return AutomationStatusEnum(self.doc.status.value)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
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
        status: ActionStatusEnum | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[ScheduledActionType]:
        wanted = automation.ActionStatus(status.value) if status else None
        page = await info.context.loaders.scheduled_actions.load(
            (self.doc.key, (wanted, first, after))
        )
        return connection(page, lambda doc: ScheduledActionType(doc=doc))
