"""Outbound webhooks as stored: endpoints, their queued deliveries, each attempt, and notices."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now
from domain.errors import ErrorCode
from domain.secret_box import SealedSecret

# The event types a webhook may subscribe to, named noun.verb_past.
REDEMPTION_SUCCEEDED = "redemption.succeeded"
REDEMPTION_ROLLED_BACK = "redemption.rolled_back"
CODE_PUBLISHED = "code.published"
ORDER_RECORDED = "order.recorded"
ORDER_CANCELLED = "order.cancelled"
ORDER_REFUNDED = "order.refunded"
REFERRAL_QUALIFIED = "referral.qualified"
REFERRAL_REWARDED = "referral.rewarded"
POINTS_EARNED = "points.earned"
POINTS_SPENT = "points.spent"
POINTS_EXPIRED = "points.expired"
MESSAGE_SENT = "message.sent"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_FAILED = "message.failed"
MESSAGE_SUPPRESSED = "message.suppressed"
CUSTOMER_CREATED = "customer.created"
CUSTOMER_ERASED = "customer.erased"
JOB_FINISHED = "job.finished"

EVENT_TYPES: tuple[str, ...] = (
    REDEMPTION_SUCCEEDED,
    REDEMPTION_ROLLED_BACK,
    CODE_PUBLISHED,
    ORDER_RECORDED,
    ORDER_CANCELLED,
    ORDER_REFUNDED,
    REFERRAL_QUALIFIED,
    REFERRAL_REWARDED,
    POINTS_EARNED,
    POINTS_SPENT,
    POINTS_EXPIRED,
    MESSAGE_SENT,
    MESSAGE_DELIVERED,
    MESSAGE_FAILED,
    MESSAGE_SUPPRESSED,
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    JOB_FINISHED,
)

# How long the delivery log keeps a delivered event and an attempt.
LOG_SECONDS = 30 * 24 * 3600

# The due time of a settled or held delivery: past every `due_at <= now`, so the lease query's
# range on one indexed field skips them (the embedded server cannot use compound indexes).
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


class WebhookError(ErrorCode):
    """Returned by createWebhook, pauseWebhook, resumeWebhook and deleteWebhook."""

    INVALID_URL = "INVALID_URL"
    PRIVATE_ADDRESS = "PRIVATE_ADDRESS"
    UNKNOWN_EVENT = "UNKNOWN_EVENT"
    NO_EVENTS = "NO_EVENTS"
    INVALID_SECRET = "INVALID_SECRET"  # noqa: S105 (an error code, not a secret)
    TOO_MANY_WEBHOOKS = "TOO_MANY_WEBHOOKS"


class WebhookStatus(StrEnum):
    ACTIVE = "ACTIVE"
    # No new events are recorded for it; deliveries already queued wait until it is resumed.
    PAUSED = "PAUSED"


class PauseReason(StrEnum):
    NONE = "NONE"
    # An admin paused it.
    MANUAL = "MANUAL"
    # Every attempt failed for a day: Engage paused it and left a notice.
    FAILING = "FAILING"


class Webhook(Document):
    """An endpoint of a project: where events go, which ones, and the secret that signs them."""

    project_id: str
    url: str
    events: list[str]
    # The signing secret's bytes, base64, sealed: the worker opens it to sign.
    secret: SealedSecret
    status: WebhookStatus = WebhookStatus.ACTIVE
    pause_reason: PauseReason = PauseReason.NONE
    paused_at: datetime | None = None
    # True from the first failed attempt after a success until the next success.
    failing: bool = False
    failing_since: datetime = Field(default_factory=utc_now)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "webhooks"
        indexes = [IndexModel([("project_id", 1), ("status", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)


class DeliveryStatus(StrEnum):
    QUEUED = "QUEUED"
    # Leased by a worker that is sending it now.
    SENDING = "SENDING"
    SUCCEEDED = "SUCCEEDED"
    # The last attempt failed, or the address was refused: never tried again.
    FAILED = "FAILED"
    # The endpoint is paused: sent once it is resumed.
    HELD = "HELD"


class WebhookDelivery(Document):
    """One event for one endpoint: the outbox record the worker leases, sends and settles. The
    body is fixed when the event happens, so every attempt sends the same bytes."""

    project_id: str
    webhook_id: str
    # The event's id (webhook-id), the same for every endpoint and every attempt.
    event_id: str
    event_type: str
    # The object the event is about ("redemption:<id>"): deliveries of one object go in order.
    object_key: str
    # Emission order; deliveries of one object to one endpoint go out in this order.
    sequence: int
    body: str
    status: DeliveryStatus = DeliveryStatus.QUEUED
    open: bool = True
    due_at: datetime = Field(default_factory=utc_now)
    lease_owner: str = ""
    attempts: int = 0
    last_status_code: int = 0
    last_latency_ms: int = 0
    last_error: str = ""
    # Written before its change (prepare_event): True until the writer confirms the change
    # happened. A writer that died first leaves the worker to look for the change itself: the
    # document `_id` = confirm_id in confirm_collection, whose confirm_field holds one of
    # confirm_values.
    confirm_pending: bool = False
    confirm_collection: str = ""
    confirm_id: str = ""
    confirm_field: str = ""
    confirm_values: list[str | bool] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    delivered_at: datetime | None = None

    class Settings:
        name = "webhook_deliveries"
        indexes = [
            IndexModel([("due_at", 1)]),
            IndexModel([("webhook_id", 1), ("event_id", 1)], unique=True, name="webhook_event"),
            IndexModel([("webhook_id", 1), ("object_key", 1), ("open", 1)]),
            IndexModel([("project_id", 1), ("webhook_id", 1)]),
            # Only delivered events have the date: failed and pending ones stay in the log.
            IndexModel([("delivered_at", 1)], expireAfterSeconds=LOG_SECONDS),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class WebhookAttempt(Document):
    """One HTTP attempt of a delivery, for the delivery log."""

    project_id: str
    webhook_id: str
    delivery_id: str
    event_id: str
    number: int
    at: datetime = Field(default_factory=utc_now)
    # 0 when no answer came (refused, timed out, the address refused).
    status_code: int = 0
    latency_ms: int = 0
    error: str = ""

    class Settings:
        name = "webhook_attempts"
        indexes = [
            IndexModel([("delivery_id", 1), ("number", 1)]),
            IndexModel([("at", 1)], expireAfterSeconds=LOG_SECONDS),
        ]


class WebhookNotice(Document):
    """Something Engage did to a project's webhook on its own (paused a failing endpoint)."""

    project_id: str
    webhook_id: str
    kind: str
    message: str
    at: datetime = Field(default_factory=utc_now)
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "webhook_notices"
        indexes = [IndexModel([("project_id", 1), ("at", -1)])]
