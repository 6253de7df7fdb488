"""The outbox: every message and wallet push is persisted first, then leased, sent and marked."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from bson import ObjectId
from pydantic import Field
from pymongo import IndexModel, ReturnDocument

from domain import webhooks
from domain.code_models import Code
from domain.common import object_id, utc_now
from domain.errors import DomainError, ErrorCode, NotFound
from domain.pagination import Page, decode_cursor, paginate


class MessageError(ErrorCode):
    """Returned by sendMessage."""

    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"


# A worker that stops answering loses its messages to another worker after this long.
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
# Backoff after the n-th transient failure: BASE * 2**(n-1), capped, with full jitter.
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)
MAX_IDEMPOTENCY_KEY = 200
# The due time of a settled message: past every `due_at <= now`, so the lease query's range on
# one indexed field skips settled messages (the embedded server cannot use compound indexes).
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


class MessageChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    # Wallet updates share the outbox: the same leases, retries and sandbox rules.
    APPLE_PUSH = "APPLE_PUSH"
    GOOGLE_UPDATE = "GOOGLE_UPDATE"


class MessageStatus(StrEnum):
    QUEUED = "QUEUED"
    # Leased by a worker that is sending it now.
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"
    FAILED = "FAILED"
    # The customer had not consented (or had opted out): recorded, never sent.
    SUPPRESSED = "SUPPRESSED"


# Statuses a worker may still act on; the others are final (DELIVERED/UNDELIVERED follow SENT).
OPEN_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING)


class Message(Document):
    project_id: str
    channel: MessageChannel
    status: MessageStatus = MessageStatus.QUEUED
    # "" when there is none (wallet pushes): the embedded server cannot match null reliably.
    customer_id: str = ""
    # The address it goes to: an email address, an E.164 number, a push token, an object id.
    to: str = ""
    template_id: str = ""
    # The normalized code it carries, its campaign, and the distribution job that queued it.
    code: str = ""
    campaign_id: str = ""
    job_id: str = ""
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    # Channel-specific data, e.g. the pass a push is about.
    payload: dict[str, Any] = Field(default_factory=dict)
    # Absent (None) keys are outside the partial unique index.
    idempotency_key: str | None = None
    # True while the message may still be sent.
    open: bool = True
    # When a worker may next take it: the retry time, the end of quiet hours or of a lease;
    # NEVER once settled.
    due_at: datetime = Field(default_factory=utc_now)
    lease_owner: str = ""
    # Waiting for the end of quiet hours: a change of the project's messaging wakes it.
    held_by_quiet_hours: bool = False
    attempts: int = 0
    max_attempts: int = MAX_ATTEMPTS
    # The provider's id: Twilio's MessageSid, the SMTP Message-ID.
    provider_id: str = ""
    # A delivery report that arrived while the send was still being recorded (a ProviderStatus,
    # its error and the provider id it is about): recording that send applies it.
    early_report: str = ""
    early_report_error: str = ""
    early_report_for: str = ""
    error: str = ""
    # Delivered to the sink (sandbox or no provider configured), not to a provider.
    sink: bool = False
    # Why it went to the sink: SANDBOX, NO_EMAIL_PROVIDER, NO_SMS_PROVIDER, NO_PROVIDER.
    sink_reason: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    # Set by the write that applies a delivery report (whose message and project are only known
    # by that write), cleared once its webhook event is stored or found unwanted: a process
    # dying in between leaves it to emit_pending_reports (domain.webhooks.pending).
    webhook_pending: bool = False

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("due_at", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1), ("created_at", -1)]),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("status", 1)]),
            # carrier_of: the latest message sent with a code.
            IndexModel([("project_id", 1), ("code", 1), ("sent_at", -1)]),
            IndexModel([("project_id", 1), ("job_id", 1)]),
            IndexModel([("provider_id", 1)]),
            IndexModel([("to", 1), ("channel", 1)]),
            IndexModel(
                [("project_id", 1), ("idempotency_key", 1)],
                unique=True,
                partialFilterExpression={"idempotency_key": {"$type": "string"}},
                name="project_idempotency_key_unique",
            ),
            IndexModel(
                [("idempotency_key", 1)],
                partialFilterExpression={"idempotency_key": {"$type": "string"}},
            ),
            # The sweep that emits report events a dead writer left (domain.webhooks.pending).
            IndexModel(
                [("webhook_pending", 1), ("updated_at", 1)],
                partialFilterExpression={"webhook_pending": True},
                name="webhook_pending",
            ),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


def _messages() -> Any:
    return Message.get_pymongo_collection()


def backoff(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Full jitter: a random wait up to the exponential bound, so retries do not bunch up."""
    bound = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return bound * (rng or random).random()


async def lease_message(owner: str, lease: timedelta = LEASE) -> Message | None:
    """Takes the message due first: queued and due, or leased by a worker whose lease ran out."""
    now = utc_now()
    raw = await _messages().find_one_and_update(
        {"open": True, "due_at": {"$lte": now}},
        {
            "$set": {
                "status": MessageStatus.SENDING.value,
                "lease_owner": owner,
                "due_at": now + lease,
                "held_by_quiet_hours": False,
                "updated_at": now,
            },
            "$inc": {"attempts": 1},
        },
        sort=[("due_at", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else Message.model_validate(raw)


_EVENT_OF_STATUS = {
    MessageStatus.SENT: webhooks.MESSAGE_SENT,
    MessageStatus.DELIVERED: webhooks.MESSAGE_DELIVERED,
    MessageStatus.UNDELIVERED: webhooks.MESSAGE_FAILED,
    MessageStatus.FAILED: webhooks.MESSAGE_FAILED,
    MessageStatus.SUPPRESSED: webhooks.MESSAGE_SUPPRESSED,
}


async def emit_status(message: Message) -> bool:
    """The webhook event of an email or SMS that reached a final status (wallet pushes have
    none); costs no database call while no webhook listens. True when it was stored."""
    event_type = _EVENT_OF_STATUS.get(message.status)
    if event_type is None or message.channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
        return False
    stored = await webhooks.emit(
        project_id=message.project_id,
        event_type=event_type,
        object_key=f"message:{message.id}",
        data=webhooks.objects.message(message),
        dedupe_key=f"{event_type}:{message.id}",
    )
    return stored is not None


async def emit_pending_reports(*, now: datetime | None = None) -> int:
    """Emits the events of delivery reports whose writer died before storing them."""
    return await webhooks.emit_pending(
        collection=_messages(),
        changed_at="updated_at",
        emit_row=lambda row: emit_status(Message.model_validate(row)),
        now=now,
    )


async def _prepare_status(
    message: Message, fields: dict[str, Any]
) -> webhooks.PreparedEvent | None:
    """The webhook event of a status the worker is about to write, written first so that a
    worker dying between the two cannot lose it (see webhooks.prepare_event). None, without a
    database call, when no webhook listens."""
    status = MessageStatus(fields["status"])
    event_type = _EVENT_OF_STATUS.get(status)
    if event_type is None or message.channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
        return None
    if not await webhooks.listens(project_id=message.project_id, event_type=event_type):
        return None
    after = message.model_copy(update={**fields, "status": status})
    # A sent message may be reported delivered or undelivered before the worker looks.
    made = [status.value]
    if status == MessageStatus.SENT:
        made += [MessageStatus.DELIVERED.value, MessageStatus.UNDELIVERED.value]
    return await webhooks.prepare_event(
        project_id=message.project_id,
        event_type=event_type,
        object_key=f"message:{message.id}",
        data=webhooks.objects.message(after),
        dedupe_key=f"{event_type}:{message.id}",
        change=webhooks.Change(
            collection=Message.get_collection_name(),
            document_id=message.key,
            field="status",
            values=tuple(made),
        ),
    )


async def prepare_new_status(message: Message) -> webhooks.PreparedEvent | None:
    """The webhook event of a message about to be inserted with a final status (SUPPRESSED);
    its id must be set. Confirm it with webhooks.confirm_event once inserted."""
    return await _prepare_status(message, {"status": message.status.value})


async def _settle_final(message: Message, owner: str, fields: dict[str, Any]) -> bool:
    """_settle for a final status, with its webhook event."""
    event = await _prepare_status(message, fields)
    settled = await _settle(message, owner, fields)
    if settled:
        await webhooks.confirm_event(event)
    return settled


async def _settle(message: Message, owner: str, fields: dict[str, Any]) -> bool:
    """Writes `fields` only while `owner` still holds the lease; False when it was lost."""
    result = await _messages().update_one(
        {"_id": message.id, "lease_owner": owner, "status": MessageStatus.SENDING.value},
        {"$set": {**fields, "updated_at": utc_now()}},
    )
    return bool(result.modified_count)


async def mark_sent(
    message: Message, owner: str, provider_id: str = "", sink: bool = False, sink_reason: str = ""
) -> bool:
    """SENT, while `owner` holds the lease; a delivery report that came first is applied."""
    now = utc_now()
    fields: dict[str, Any] = {
        "status": MessageStatus.SENT.value,
        "open": False,
        "lease_owner": "",
        "due_at": NEVER,
        "provider_id": provider_id,
        "sink": sink,
        "sink_reason": sink_reason,
        "sent_at": now,
        "error": "",
        "updated_at": now,
    }
    event = await _prepare_status(message, fields)
    sent = await _messages().find_one_and_update(
        {"_id": message.id, "lease_owner": owner, "status": MessageStatus.SENDING.value},
        {"$set": fields},
        return_document=ReturnDocument.AFTER,
    )
    if sent is None:
        return False
    await webhooks.confirm_event(event)
    if sent.get("code"):
        # Redemptions of the code now look for the message that carried it (carrier_of).
        await Code.get_pymongo_collection().update_one(
            {"project_id": sent["project_id"], "code": sent["code"], "carried": {"$ne": True}},
            {"$set": {"carried": True}},
        )
    early = sent.get("early_report") or ""
    if early and provider_id and sent.get("early_report_for") == provider_id:
        await _apply_report(
            {"_id": message.id, "status": MessageStatus.SENT.value},
            ProviderStatus(early),
            str(sent.get("early_report_error") or ""),
        )
    return True


async def mark_failed(message: Message, owner: str, error: str) -> bool:
    """A permanent failure, or the last attempt's: never tried again."""
    return await _settle_final(
        message,
        owner,
        {
            "status": MessageStatus.FAILED.value,
            "open": False,
            "lease_owner": "",
            "due_at": NEVER,
            "error": error[:1000],
        },
    )


async def mark_suppressed(message: Message, owner: str, reason: str) -> bool:
    return await _settle_final(
        message,
        owner,
        {
            "status": MessageStatus.SUPPRESSED.value,
            "open": False,
            "lease_owner": "",
            "due_at": NEVER,
            "error": reason[:1000],
        },
    )


async def retry_later(message: Message, owner: str, error: str, at: datetime) -> bool:
    """A transient failure: back in the queue until `at`, or FAILED after the last attempt."""
    if message.attempts >= message.max_attempts:
        return await mark_failed(
            message, owner, f"gave up after {message.attempts} attempts: {error}"
        )
    return await _settle(
        message,
        owner,
        {
            "status": MessageStatus.QUEUED.value,
            "lease_owner": "",
            "due_at": at,
            "error": error[:1000],
        },
    )


async def defer(message: Message, owner: str, until: datetime) -> bool:
    """Waits (quiet hours) without using up an attempt."""
    return await _settle(
        message,
        owner,
        {
            "status": MessageStatus.QUEUED.value,
            "lease_owner": "",
            "due_at": until,
            "held_by_quiet_hours": True,
            "attempts": max(0, message.attempts - 1),
        },
    )


async def wake_quiet_held(project_id: str) -> int:
    """Makes the project's messages waiting for the end of quiet hours due now, to be judged
    again under its current rules; returns how many."""
    result = await _messages().update_many(
        {
            "project_id": project_id,
            "status": MessageStatus.QUEUED.value,
            "held_by_quiet_hours": True,
        },
        {"$set": {"due_at": utc_now(), "held_by_quiet_hours": False, "updated_at": utc_now()}},
    )
    return int(result.modified_count)


class ProviderStatus(StrEnum):
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"


async def _apply_report(which: dict[str, Any], status: ProviderStatus, error: str) -> bool:
    # The message (and its project, so whether a webhook listens) is known only once this
    # write found it: the write itself records that its event is owed.
    fields: dict[str, Any] = {
        "status": status.value,
        "updated_at": utc_now(),
        webhooks.PENDING_FIELD: True,
    }
    if status == ProviderStatus.DELIVERED:
        fields["delivered_at"] = utc_now()
    elif error:
        fields["error"] = error[:1000]
    raw = await _messages().find_one_and_update(
        which, {"$set": fields}, return_document=ReturnDocument.AFTER
    )
    if raw is None:
        return False
    if await emit_status(Message.model_validate(raw)):
        await webhooks.clear_pending(_messages(), [raw["_id"]])
    return True


async def record_provider_status(
    provider_id: str, status: ProviderStatus, error: str = "", message_id: str = ""
) -> bool:
    """A delivery report (Twilio's status callback): moves a SENT message on, once.

    Twilio can report before the worker has recorded the send. The callback URL names the
    message, so such a report is kept on it and applied when the send is recorded."""
    if not provider_id:
        return False
    sent = {"provider_id": provider_id, "status": MessageStatus.SENT.value}
    if await _apply_report(sent, status, error):
        return True
    if not ObjectId.is_valid(message_id):
        return False
    early = await _messages().update_one(
        {"_id": ObjectId(message_id), "status": MessageStatus.SENDING.value},
        {
            "$set": {
                "early_report": status.value,
                "early_report_error": error[:1000],
                "early_report_for": provider_id,
            }
        },
    )
    if early.modified_count:
        return True
    # The send was recorded between the two writes above.
    return await _apply_report(sent, status, error)


async def carrier_of(project_id: str, code: str, at: datetime) -> Message | None:
    """The latest customer message that carried the code and left before `at`: the channel a
    redemption made with the code is attributed to."""
    # A message sent after the redemption did not bring it about. One indexed read, newest
    # first, however many messages carried the code.
    raw = await _messages().find_one(
        {
            "project_id": project_id,
            "code": code,
            "channel": {"$in": [MessageChannel.EMAIL.value, MessageChannel.SMS.value]},
            "status": {"$in": [MessageStatus.SENT.value, MessageStatus.DELIVERED.value]},
            "sent_at": {"$lte": at},
        },
        sort=[("sent_at", -1)],
    )
    return None if raw is None else Message.model_validate(raw)


@dataclass(frozen=True)
class MessageFilter:
    customer_id: str | None = None
    status: MessageStatus | None = None
    campaign_id: str | None = None
    channel: MessageChannel | None = None


async def get_message(project_id: str, message_id: str) -> Message:
    message = await Message.find_one(
        {"_id": object_id(message_id, "message"), "project_id": project_id}
    )
    if message is None:
        raise NotFound("message")
    return message


def _listing_query(project_id: str, where: MessageFilter) -> dict[str, Any]:
    query: dict[str, Any] = {"project_id": project_id}
    if where.customer_id is not None:
        query["customer_id"] = where.customer_id
    if where.status is not None:
        query["status"] = where.status.value
    if where.campaign_id is not None:
        query["campaign_id"] = where.campaign_id
    if where.channel is not None:
        query["channel"] = where.channel.value
    else:
        query["channel"] = {"$in": [MessageChannel.EMAIL.value, MessageChannel.SMS.value]}
    return query


async def list_messages(
    project_id: str, where: MessageFilter, first: int, after: str | None
) -> Page[Message]:
    return await paginate(Message, _listing_query(project_id, where), first, after)


async def newest_messages(
    *, project_id: str, where: MessageFilter, first: int, before: str | None
) -> Page[Message]:
    """The same messages as list_messages, newest first, for people reading a log; `before` is
    the cursor of the last message already shown."""
    query = _listing_query(project_id, where)
    page_query = dict(query)
    if before:
        page_query["_id"] = {"$lt": decode_cursor(before)}
    rows = await Message.find(page_query).sort("-_id").limit(first + 1).to_list()

    async def total() -> int:
        return await Message.get_pymongo_collection().count_documents(query)

    return Page(items=rows[:first], has_next=len(rows) > first, total=total)


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise DomainError(
            MessageError.INVALID_IDEMPOTENCY_KEY,
            f"an idempotency key has 1 to {MAX_IDEMPOTENCY_KEY} characters",
            "idempotencyKey",
        )
    return key
