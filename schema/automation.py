"""GraphQL for customer events and automations: trackEvent, automations and their actions."""

import typing
from datetime import datetime
from enum import Enum

import strawberry

from delivery.rendering import resolve_template
from domain import automation, events
from domain.callers import CallerKind
from domain.errors import DomainError, NotFound
from schema.context import Info
from schema.customers import CustomerType
from schema.errors import payload
from schema.loyalty import IsAdminOrSameCustomer
from schema.messages import MessageChannelEnum
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, UserError, connection


@strawberry.enum(name="AutomationStatus")
class AutomationStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


@strawberry.enum(name="AutomationActionType")
class ActionTypeEnum(Enum):
    SEND_CODE = "SEND_CODE"
    AWARD_POINTS = "AWARD_POINTS"


@strawberry.enum(name="ScheduledActionStatus")
class ActionStatusEnum(Enum):
    PENDING = "PENDING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


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


def _segment_ids(conditions: AutomationConditionsInput | None) -> list[str] | None:
    if conditions is None or conditions.segment_ids is None:
        return None
    return [str(value) for value in conditions.segment_ids]


@strawberry.type
class TrackEventPayload:
    event: CustomerEventType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AutomationPayload:
    automation: AutomationType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AutomationQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Oldest first.")
    async def automations(
        self,
        info: Info,
        status: AutomationStatusEnum | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AutomationType]:
        page = await automation.list_automations(
            project_id=info.context.project_id,
            status=automation.AutomationStatus(status.value) if status else None,
            first=first,
            after=after,
        )
        return connection(page, lambda doc: AutomationType(doc=doc))

    @strawberry.field(permission_classes=[IsAdmin])
    async def automation(self, info: Info, id: strawberry.ID) -> AutomationType | None:
        try:
            found = await automation.get_automation(
                project_id=info.context.project_id, automation_id=str(id)
            )
        except NotFound:
            return None
        return AutomationType(doc=found)

    @strawberry.field(permission_classes=[IsAdmin], description="A customer's events, oldest first")
    async def customer_events(
        self,
        info: Info,
        customer_id: strawberry.ID,
        name: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[CustomerEventType]:
        page = await events.list_events(
            info.context.project_id, str(customer_id), name, first, after
        )
        return connection(page, lambda doc: CustomerEventType(doc=doc))


@strawberry.type
class AutomationMutation:
    @strawberry.mutation(
        permission_classes=[IsAdminOrSameCustomer],
        description="Records an event of the customer (cart.abandoned, say) and schedules the "
        "automations it triggers. A repeated idempotencyKey returns the first event. A customer "
        "token may track its own events, at the present time.",
    )
    @payload
    async def track_event(
        self,
        info: Info,
        customer_id: strawberry.ID,
        name: str,
        properties: JSON | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> TrackEventPayload:
        by_customer = info.context.caller.kind == CallerKind.CUSTOMER
        if by_customer and at is not None:
            raise DomainError("INVALID", "a customer token's events happen now", "at")
        event = await events.track_event(
            info.context.project_id,
            str(customer_id),
            name,
            properties,
            at,
            idempotency_key,
            source="customer" if by_customer else "api",
        )
        return TrackEventPayload(event=CustomerEventType(doc=event))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_automation(self, info: Info, input: AutomationInput) -> AutomationPayload:
        data = automation.AutomationInput(
            name=input.name,
            trigger=input.trigger,
            action=input.action.to_domain(),
            conditions=input.conditions.properties if input.conditions else None,
            segment_ids=_segment_ids(input.conditions),
            delay=input.delay.to_domain() if input.delay else None,
            cancel_on=input.cancel_on,
            period_days=input.frequency.period_days if input.frequency else None,
        )
        created = await automation.create_automation(
            project_id=info.context.project_id, data=data, template_check=resolve_template
        )
        return AutomationPayload(automation=AutomationType(doc=created))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Changes apply to every action performed from now on, already scheduled "
        "ones included.",
    )
    @payload
    async def update_automation(
        self, info: Info, id: strawberry.ID, input: AutomationUpdateInput
    ) -> AutomationPayload:
        conditions = input.conditions
        changes = automation.AutomationChanges(
            name=input.name,
            trigger=input.trigger,
            action=input.action.to_domain() if input.action else None,
            conditions=conditions.properties if conditions else None,
            segment_ids=_segment_ids(conditions),
            delay=input.delay.to_domain() if input.delay else None,
            cancel_on=input.cancel_on,
            period_days=input.frequency.period_days if input.frequency else None,
        )
        updated = await automation.update_automation(
            project_id=info.context.project_id,
            automation_id=str(id),
            changes=changes,
            template_check=resolve_template,
        )
        return AutomationPayload(automation=AutomationType(doc=updated))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Schedules nothing new; pending actions are skipped when they fall due.",
    )
    @payload
    async def pause_automation(self, info: Info, id: strawberry.ID) -> AutomationPayload:
        paused = await automation.set_automation_status(
            project_id=info.context.project_id,
            automation_id=str(id),
            status=automation.AutomationStatus.PAUSED,
        )
        return AutomationPayload(automation=AutomationType(doc=paused))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def resume_automation(self, info: Info, id: strawberry.ID) -> AutomationPayload:
        resumed = await automation.set_automation_status(
            project_id=info.context.project_id,
            automation_id=str(id),
            status=automation.AutomationStatus.ACTIVE,
        )
        return AutomationPayload(automation=AutomationType(doc=resumed))
