"""GraphQL queries and mutations for automations and customer events."""

from datetime import datetime
from typing import Annotated

import strawberry

from delivery.rendering import resolve_template
from domain import automation, events
from domain.callers import CallerKind
from domain.errors import CommonError, DomainError, NotFound
from schema.automation.enums import AutomationStatusEnum
from schema.automation.inputs import (
    AutomationConditionsInput,
    AutomationInput,
    AutomationUpdateInput,
)
from schema.automation.types import AutomationType, CustomerEventType
from schema.context import Info
from schema.errors import payload
from schema.loyalty import IsAdminOrSameCustomer
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, UserError, connection


def _segment_ids(conditions: AutomationConditionsInput | None) -> list[str] | None:
    if conditions is None or conditions.segment_ids is None:
        return None
    return [str(value) for value in conditions.segment_ids]


@strawberry.type(
    description="The result of trackEvent: the event, or what was wrong.",
)
class TrackEventPayload:
    event: CustomerEventType | None = strawberry.field(
        default=None,
        description=(
            "The event as stored (the first one for a repeated idempotencyKey); null "
            "when `errors` is not empty."
        ),
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    description="The result of an automation mutation: the automation, or what was wrong.",
)
class AutomationPayload:
    automation: AutomationType | None = strawberry.field(
        default=None, description="The automation as stored; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class AutomationQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="The project's automations, oldest first."
    )
    async def automations(
        self,
        info: Info,
        status: Annotated[
            AutomationStatusEnum | None,
            strawberry.argument(description="Only automations in this status; null for all."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many automations to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[AutomationType]:
        page = await automation.list_automations(
            project_id=info.context.project_id,
            status=automation.AutomationStatus(status.value) if status else None,
            first=first,
            after=after,
        )
        return connection(page, lambda doc: AutomationType(doc=doc))

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="One automation; null when the project has no such automation.",
    )
    async def automation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The automation's id.")],
    ) -> AutomationType | None:
        try:
            found = await automation.get_automation(
                project_id=info.context.project_id, automation_id=str(id)
            )
        except NotFound:
            return None
        return AutomationType(doc=found)

    @strawberry.field(
        permission_classes=[IsAdmin], description="A customer's events, oldest first."
    )
    async def customer_events(
        self,
        info: Info,
        customer_id: Annotated[strawberry.ID, strawberry.argument(description="The customer.")],
        name: Annotated[
            str | None, strawberry.argument(description="Only events with this name; null for all.")
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many events to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
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
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=(
                    "The customer the event happened to; a customer token may track only its own."
                )
            ),
        ],
        name: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The event name: 1 to 64 lowercase letters, digits, '_' or '.', starting "
                    "with a letter; not one Engage emits itself (such as order.recorded)."
                )
            ),
        ],
        properties: Annotated[
            JSON | None,
            strawberry.argument(
                description=(
                    "A JSON object of the event's properties, at most 8,000 bytes; automation "
                    "conditions match on it."
                )
            ),
        ] = None,
        at: Annotated[
            datetime | None,
            strawberry.argument(
                description=(
                    "When it happened, ISO 8601, at most 5 minutes ahead of the server; null: "
                    "now. Customer "
                    "tokens cannot set it."
                )
            ),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "Up to 200 characters: a repeat with the same key returns the first event."
                )
            ),
        ] = None,
    ) -> TrackEventPayload:
        by_customer = info.context.caller.kind == CallerKind.CUSTOMER
        if by_customer and at is not None:
            raise DomainError(CommonError.INVALID, "a customer token's events happen now", "at")
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

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Creates an automation, ACTIVE from now on.",
    )
    @payload
    async def create_automation(
        self,
        info: Info,
        input: Annotated[AutomationInput, strawberry.argument(description="The automation.")],
    ) -> AutomationPayload:
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
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The automation's id.")],
        input: Annotated[AutomationUpdateInput, strawberry.argument(description="The changes.")],
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
    async def pause_automation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The automation's id.")],
    ) -> AutomationPayload:
        paused = await automation.set_automation_status(
            project_id=info.context.project_id,
            automation_id=str(id),
            status=automation.AutomationStatus.PAUSED,
        )
        return AutomationPayload(automation=AutomationType(doc=paused))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description=(
            "Makes a paused automation ACTIVE again; events from now on schedule its action."
        ),
    )
    @payload
    async def resume_automation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The automation's id.")],
    ) -> AutomationPayload:
        resumed = await automation.set_automation_status(
            project_id=info.context.project_id,
            automation_id=str(id),
            status=automation.AutomationStatus.ACTIVE,
        )
        return AutomationPayload(automation=AutomationType(doc=resumed))
