"""GraphQL for outbound webhooks: create, list, pause, resume, delete, the delivery log and the
notices Engage leaves when it pauses a failing endpoint. Admin keys only."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import webhooks
from schema.context import Info
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.types import Connection, UserError, connection

_EVENT_LIST = ", ".join(webhooks.EVENT_TYPES)


@strawberry.enum(name="WebhookStatus", description="Whether a webhook receives events.")
class WebhookStatusEnum(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Events are recorded and sent.")
    PAUSED = strawberry.enum_value(
        "PAUSED",
        description="No new events are recorded for it; deliveries already queued are held "
        "and go out, in order, when it is resumed.",
    )


@strawberry.enum(name="WebhookPauseReason", description="Why a webhook is paused.")
class WebhookPauseReasonEnum(Enum):
    NONE = strawberry.enum_value("NONE", description="It is not paused.")
    MANUAL = strawberry.enum_value("MANUAL", description="An admin paused it (pauseWebhook).")
    FAILING = strawberry.enum_value(
        "FAILING",
        description="Every attempt failed for a day, so Engage paused it and left a notice "
        "(webhookNotices).",
    )


@strawberry.enum(name="WebhookDeliveryStatus", description="Where one event's delivery stands.")
class WebhookDeliveryStatusEnum(Enum):
    QUEUED = strawberry.enum_value(
        "QUEUED", description="Waiting for its first attempt or, after a failure, for a retry."
    )
    SENDING = strawberry.enum_value("SENDING", description="A worker is sending it now.")
    SUCCEEDED = strawberry.enum_value(
        "SUCCEEDED", description="The endpoint answered with a 2xx status."
    )
    FAILED = strawberry.enum_value(
        "FAILED",
        description="Given up: the last retry failed, the address was refused or the secret "
        "could not be opened.",
    )
    HELD = strawberry.enum_value(
        "HELD", description="Its webhook is paused; it is sent when the webhook is resumed."
    )


@strawberry.type(
    name="Webhook",
    description="An endpoint of the project that receives signed event deliveries (Standard "
    "Webhooks headers webhook-id, webhook-timestamp, webhook-signature). Admin keys only; the "
    "signing secret is shown once, by createWebhook.",
)
class WebhookType:
    id: strawberry.ID = strawberry.field(description="The webhook's id.")
    url: str = strawberry.field(
        description="Where deliveries are POSTed: an http:// or https:// URL."
    )
    events: list[str] = strawberry.field(
        description=f"The event types it receives, named noun.verb_past: one of {_EVENT_LIST}."
    )
    status: WebhookStatusEnum = strawberry.field(description="Whether it receives events.")
    pause_reason: WebhookPauseReasonEnum = strawberry.field(
        description="Why it is paused; NONE when it is active."
    )
    paused_at: datetime | None = strawberry.field(
        description="When it was paused (UTC, ISO 8601); null when it is active."
    )
    failing_since: datetime | None = strawberry.field(
        description="When the current run of failed attempts began (UTC, ISO 8601); null "
        "while its last attempt succeeded. After a day of failures the webhook is paused."
    )
    secret_last4: str | None = strawberry.field(
        description="The last four characters of the base64 signing secret, to tell secrets "
        "apart; the secret itself is never returned after createWebhook."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC, ISO 8601).")

    @classmethod
    def from_doc(cls, doc: webhooks.Webhook) -> "WebhookType":
        return cls(
            id=strawberry.ID(doc.key),
            url=doc.url,
            events=list(doc.events),
            status=WebhookStatusEnum(doc.status.value),
            pause_reason=WebhookPauseReasonEnum(doc.pause_reason.value),
            paused_at=doc.paused_at,
            failing_since=doc.failing_since if doc.failing else None,
            secret_last4=doc.secret.last4 or None,
            created_at=doc.created_at,
        )


@strawberry.type(
    name="WebhookAttempt", description="One HTTP attempt of a delivery. Admin keys only."
)
class WebhookAttemptType:
    number: int = strawberry.field(description="1 for the first attempt, then 2, 3, …")
    at: datetime = strawberry.field(description="When the answer (or failure) came, UTC.")
    status_code: int | None = strawberry.field(
        description="The endpoint's HTTP status; null when no answer came (refused, timed out)."
    )
    latency_ms: int = strawberry.field(
        description="Milliseconds from sending the request to the end of the answer."
    )
    error: str | None = strawberry.field(
        description="Why the attempt failed (the status and up to 200 characters of the answer, "
        "or the connection error); null when it succeeded."
    )

    @classmethod
    def from_doc(cls, doc: webhooks.WebhookAttempt) -> "WebhookAttemptType":
        return cls(
            number=doc.number,
            at=doc.at,
            status_code=doc.status_code or None,
            latency_ms=doc.latency_ms,
            error=doc.error or None,
        )


@strawberry.type(
    name="WebhookDelivery",
    description="One event sent to one webhook, with its attempts: the delivery log. Admin "
    "keys only.",
)
class WebhookDeliveryType:
    id: strawberry.ID = strawberry.field(description="The delivery's id.")
    event_id: str = strawberry.field(
        description="The event's id, sent as webhook-id and in the body: the same for every "
        "attempt and every webhook, so receivers de-duplicate on it."
    )
    event_type: str = strawberry.field(description="The event type, e.g. redemption.succeeded.")
    status: WebhookDeliveryStatusEnum = strawberry.field(description="Where the delivery stands.")
    attempt_count: int = strawberry.field(description="How many attempts were made so far.")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null when none answered."
    )
    last_latency_ms: int | None = strawberry.field(
        description="Milliseconds the last attempt took; null before the first."
    )
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed; null when it succeeded or none was made."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next (UTC); null once it succeeded, failed or is held."
    )
    created_at: datetime = strawberry.field(description="When the event happened, UTC.")
    delivered_at: datetime | None = strawberry.field(
        description="When the endpoint accepted it (UTC); null until then."
    )
    body: str = strawberry.field(
        description="The JSON body sent: {id, type, time (UTC, ISO 8601), data}. It carries "
        "ids, amounts and statuses, no contact details."
    )

    def personal_data_owner(self) -> str:
        # Events are the project's, not one customer's: admin keys only.
        return ""

    @strawberry.field(description="Every attempt, oldest first (at most 50).")
    async def attempts(self, info: Info) -> list[WebhookAttemptType]:
        found = await webhooks.attempts_of(
            project_id=info.context.project_id, delivery_id=str(self.id)
        )
        return [WebhookAttemptType.from_doc(a) for a in found]

    @classmethod
    def from_doc(cls, doc: webhooks.WebhookDelivery) -> "WebhookDeliveryType":
        pending = doc.status == webhooks.DeliveryStatus.QUEUED
        return cls(
            id=strawberry.ID(doc.key),
            event_id=doc.event_id,
            event_type=doc.event_type,
            status=WebhookDeliveryStatusEnum(doc.status.value),
            attempt_count=doc.attempts,
            last_status_code=doc.last_status_code or None,
            last_latency_ms=doc.last_latency_ms if doc.attempts else None,
            last_error=doc.last_error or None,
            next_attempt_at=doc.due_at if pending else None,
            created_at=doc.created_at,
            delivered_at=doc.delivered_at,
            body=doc.body,
        )


@strawberry.type(
    name="WebhookNotice",
    description="Something Engage did to a webhook on its own, such as pausing an endpoint "
    "that failed for a day. Admin keys only.",
)
class WebhookNoticeType:
    id: strawberry.ID = strawberry.field(description="The notice's id.")
    webhook_id: strawberry.ID = strawberry.field(description="The webhook it is about.")
    kind: str = strawberry.field(
        description="What happened: WEBHOOK_PAUSED (failing for a day, paused)."
    )
    message: str = strawberry.field(description="A sentence for people: what and what to do.")
    at: datetime = strawberry.field(description="When it happened, UTC.")

    @classmethod
    def from_doc(cls, doc: webhooks.WebhookNotice) -> "WebhookNoticeType":
        return cls(
            id=strawberry.ID(str(doc.id)),
            webhook_id=strawberry.ID(doc.webhook_id),
            kind=doc.kind,
            message=doc.message,
            at=doc.at,
        )


@strawberry.type(description="The result of createWebhook.")
class CreateWebhookPayload:
    webhook: WebhookType | None = strawberry.field(
        default=None, description="The new webhook; null when errors is not empty."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, whsec_ followed by base64: shown this once, never "
        "again. Receivers verify webhook-signature with it.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input; nothing was stored."
    )


@strawberry.type(description="The result of pauseWebhook or resumeWebhook.")
class WebhookPayload:
    webhook: WebhookType | None = strawberry.field(
        default=None, description="The webhook as it now stands; null when errors is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing changed (NOT_FOUND)."
    )


@strawberry.type(description="The result of deleteWebhook.")
class DeleteWebhookPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted webhook; null when errors is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was deleted (NOT_FOUND)."
    )


# The paging arguments of the three lists below.
PageSize = Annotated[int, strawberry.argument(description="Page size, 1 to 100.")]
After = Annotated[
    str | None, strawberry.argument(description="The endCursor of the previous page.")
]


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The project's webhooks, oldest first. Admin keys only.",
    )
    async def webhooks(
        self,
        info: Info,
        first: PageSize = 50,
        after: After = None,
    ) -> Connection[WebhookType]:
        page = await webhooks.list_webhooks(
            project_id=info.context.project_id, first=first, after=after
        )
        return connection(page, WebhookType.from_doc)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="A webhook's delivery log, oldest first: each event with its attempts "
        "(status code, latency, error). Admin keys only.",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: Annotated[strawberry.ID, strawberry.argument(description="The webhook's id.")],
        first: PageSize = 50,
        after: After = None,
    ) -> Connection[WebhookDeliveryType]:
        page = await webhooks.list_deliveries(
            project_id=info.context.project_id,
            webhook_id=str(webhook_id),
            first=first,
            after=after,
        )
        return connection(page, WebhookDeliveryType.from_doc)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="What Engage did to the project's webhooks on its own (an endpoint failing "
        "for a day is paused), oldest first. Admin keys only.",
    )
    async def webhook_notices(
        self,
        info: Info,
        first: PageSize = 50,
        after: After = None,
    ) -> Connection[WebhookNoticeType]:
        page = await webhooks.list_notices(
            project_id=info.context.project_id, first=first, after=after
        )
        return connection(page, WebhookNoticeType.from_doc)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Every event type a webhook may subscribe to, named noun.verb_past.",
    )
    def webhook_event_types(self) -> list[str]:
        return list(webhooks.EVENT_TYPES)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Adds an endpoint receiving the given events, signed with `secret` or with "
        "a new one returned once. In production loopback and private addresses are refused. "
        "Admin keys only.",
    )
    @payload
    async def create_webhook(
        self,
        info: Info,
        url: Annotated[
            str,
            strawberry.argument(
                description="Where deliveries are POSTed: an http:// or https:// URL, at most "
                "2,000 characters, without a user name or password."
            ),
        ],
        events: Annotated[
            list[str],
            strawberry.argument(
                description=f"The event types to receive (at least one): {_EVENT_LIST}."
            ),
        ],
        secret: Annotated[
            str | None,
            strawberry.argument(
                description="The signing secret: whsec_ followed by the base64 of 24 to 64 "
                "random bytes. Left out, one is made and returned once."
            ),
        ] = None,
    ) -> CreateWebhookPayload:
        settings = info.context.settings
        created = await webhooks.create_webhook(
            secret_key=settings.secret_key,
            project_id=info.context.project_id,
            url=url,
            events=events,
            secret=secret,
            allow_private=settings.env != "production",
        )
        return CreateWebhookPayload(
            webhook=WebhookType.from_doc(created.webhook), secret=created.secret
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Stops recording events for the webhook; queued deliveries are held until "
        "it is resumed. Admin keys only.",
    )
    @payload
    async def pause_webhook(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The webhook's id.")],
    ) -> WebhookPayload:
        found = await webhooks.pause_webhook(project_id=info.context.project_id, webhook_id=str(id))
        return WebhookPayload(webhook=WebhookType.from_doc(found))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Makes a paused webhook active again: held deliveries go out, in order, "
        "and the day of failures that pauses it starts afresh. Admin keys only.",
    )
    @payload
    async def resume_webhook(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The webhook's id.")],
    ) -> WebhookPayload:
        found = await webhooks.resume_webhook(
            project_id=info.context.project_id, webhook_id=str(id)
        )
        return WebhookPayload(webhook=WebhookType.from_doc(found))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Deletes the webhook with its queued deliveries and its log. Admin keys only.",
    )
    @payload
    async def delete_webhook(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The webhook's id.")],
    ) -> DeleteWebhookPayload:
        deleted = await webhooks.delete_webhook(
            project_id=info.context.project_id, webhook_id=str(id)
        )
        return DeleteWebhookPayload(deleted_id=strawberry.ID(deleted))
