"""GraphQL for sending messages, reading the outbox, delivery counts and messaging settings."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from delivery import outbox
from domain import message_stats, messages, projects
from domain.errors import NotFound
from schema.context import Info
from schema.customers import CustomerType
from schema.described_enums import described_enum
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.projects import ProjectPayload, ProjectType
from schema.providers import (
    DeliveryWarning,
    SmtpServerInput,
    TwilioAccountInput,
    channel_warnings,
)
from schema.types import Connection, UserError, connection


@described_enum(
    name="MessageChannel",
    description="How a message reaches a customer.",
    values={
        "EMAIL": "By email, through SMTP.",
        "SMS": "By SMS, through Twilio.",
    },
)
class MessageChannelEnum(Enum):
    EMAIL = "EMAIL"
    SMS = "SMS"


@described_enum(
    name="MessageStatus",
    description="Where a message of the outbox stands.",
    values={
        "QUEUED": (
            "Waiting to be sent (SMS may wait for the quiet hours to end, failures for a retry)."
        ),
        "SENDING": "A worker is sending it now.",
        "SENT": "The provider accepted it (or it was recorded in the sink).",
        "DELIVERED": "The provider reported it delivered (SMS status callbacks).",
        "UNDELIVERED": "The provider reported it could not be delivered.",
        "FAILED": "Sending failed for good (refused, or out of retries); `error` says why.",
        "SUPPRESSED": (
            "Not sent: the customer had not consented or had opted out. Recorded, never sent."
        ),
    },
)
class MessageStatusEnum(Enum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


@strawberry.type(
    name="Message",
    description=(
        "An email or SMS of the outbox. Readable by admin keys; its address and rendered "
        "content are the recipient's personal data."
    ),
)
class MessageType:
    doc: strawberry.Private[messages.Message]

    def personal_data_owner(self) -> str:
        return self.doc.customer_id

    @strawberry.field(description="The message's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field(description="EMAIL or SMS.")
    def channel(self) -> MessageChannelEnum:
        return MessageChannelEnum(self.doc.channel.value)

    @strawberry.field(description="Where the message stands.")
    def status(self) -> MessageStatusEnum:
        return MessageStatusEnum(self.doc.status.value)

    @strawberry.field(description="The email address or phone number it went to.")
    def to(self) -> str:
        return self.doc.to

    @strawberry.field(description="The template it was rendered from (an id, or builtin:<name>).")
    def template_id(self) -> str:
        return self.doc.template_id

    @strawberry.field(description="The code it carries, normalized; null when none.")
    def code(self) -> str | None:
        return self.doc.code or None

    @strawberry.field(description="The campaign of the code it carries; null when none.")
    def campaign_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.campaign_id) if self.doc.campaign_id else None

    @strawberry.field(description='The rendered subject of an email; "" for SMS.')
    def rendered_subject(self) -> str:
        return self.doc.subject

    @strawberry.field(description="The plain-text body (the SMS text, or the email's text part).")
    def rendered_body(self) -> str:
        return self.doc.body_text

    @strawberry.field(description="The email's HTML part.")
    def rendered_html(self) -> str:
        return self.doc.body_html

    @strawberry.field(description="How many times sending was tried.")
    def attempts(self) -> int:
        return self.doc.attempts

    @strawberry.field(description="Why it failed, was suppressed, or is being retried.")
    def error(self) -> str | None:
        return self.doc.error or None

    @strawberry.field(
        description="True when it went to the local outbox sink (a sandbox project, or no "
        "provider configured) rather than to a provider."
    )
    def sink(self) -> bool:
        return self.doc.sink

    @strawberry.field(
        description="Why it was recorded in the sink instead of sent (SANDBOX, "
        "NO_EMAIL_PROVIDER, NO_SMS_PROVIDER); empty when a provider took it."
    )
    def warnings(self) -> list[DeliveryWarning]:
        if not self.doc.sink:
            return []
        return [DeliveryWarning.of(self.doc.sink_reason or "NO_PROVIDER")]

    @strawberry.field(description="When the message was queued, UTC ISO 8601.")
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field(description="When the provider accepted it, UTC ISO 8601; null before.")
    def sent_at(self) -> datetime | None:
        return self.doc.sent_at

    @strawberry.field(
        description="When the provider reported it delivered, UTC ISO 8601; null before."
    )
    def delivered_at(self) -> datetime | None:
        return self.doc.delivered_at

    @strawberry.field(description="The recipient. Admin keys only.")
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.customer_id)

    @strawberry.field(
        description="The redemption made with the code this message carried, attributed to it."
    )
    async def redemption_id(self, info: Info) -> strawberry.ID | None:
        found = await info.context.loaders.message_redemption.load(self.doc.key)
        return None if found is None else strawberry.ID(found.key)


@strawberry.type(
    description="A campaign's messages on one channel, counted by status.",
)
class ChannelDelivery:
    channel: MessageChannelEnum = strawberry.field(description="The channel counted.")
    queued: int = strawberry.field(description="Messages QUEUED or SENDING.")
    sent: int = strawberry.field(description="Messages SENT.")
    delivered: int = strawberry.field(description="Messages DELIVERED.")
    undelivered: int = strawberry.field(description="Messages UNDELIVERED.")
    failed: int = strawberry.field(description="Messages FAILED.")
    suppressed: int = strawberry.field(description="Messages SUPPRESSED.")
    redeemed: int = strawberry.field(
        description="Redemptions attributed to a message of this channel."
    )


@strawberry.type(
    description="The result of sendMessage: the queued message, or what was wrong.",
)
class SendMessagePayload:
    message: MessageType | None = strawberry.field(
        default=None,
        description=(
            "The message queued (or recorded as SUPPRESSED); null when `errors` is not empty."
        ),
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was queued."
        ),
    )
    warnings: list[DeliveryWarning] = strawberry.field(
        default_factory=list,
        description="Set when the message will be recorded in the sink, not sent.",
    )


@strawberry.input(
    description="A project's messaging settings; left-out fields keep their value.",
)
class MessagingInput:
    email_from: str | None = strawberry.field(
        default=None, description='"Name <address>"; "" uses the service default.'
    )
    sms_from: str | None = strawberry.field(
        default=None, description='An E.164 number or an alphanumeric sender id; "" default.'
    )
    timezone: str | None = strawberry.field(
        default=None,
        description="The IANA time zone of quiet hours for customers without a `timezone` "
        "attribute.",
    )
    quiet_hours: bool | None = strawberry.field(
        default=None,
        description="Whether SMS wait outside the quiet hours, in the customer's local time.",
    )
    quiet_start: str | None = strawberry.field(
        default=None, description="When the quiet hours start, HH:MM local time (21:00 by default)."
    )
    quiet_end: str | None = strawberry.field(
        default=None,
        description="When the quiet hours end, HH:MM local time (08:00 by default); may be past "
        "midnight.",
    )
    smtp: SmtpServerInput | None = strawberry.field(
        default=None, description="The project's own SMTP server, instead of the installation's."
    )
    twilio: TwilioAccountInput | None = strawberry.field(
        default=None, description="The project's own Twilio account, instead of the installation's."
    )
    clear_smtp: bool = strawberry.field(
        default=False, description="Removes the project's SMTP server and its password."
    )
    clear_twilio: bool = strawberry.field(
        default=False, description="Removes the project's Twilio account and its auth token."
    )


def message_links(info: Info) -> outbox.Links:
    settings = info.context.settings
    return outbox.Links(base_url=settings.public_base_url, secret_key=settings.secret_key)


@strawberry.type
class MessageQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="Email and SMS messages, oldest first."
    )
    async def messages(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only messages to this customer.")
        ] = None,
        status: Annotated[
            MessageStatusEnum | None,
            strawberry.argument(description="Only messages in this status."),
        ] = None,
        campaign_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only messages carrying a code of this campaign."),
        ] = None,
        channel: Annotated[
            MessageChannelEnum | None,
            strawberry.argument(description="Only messages on this channel."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many messages to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[MessageType]:
        where = messages.MessageFilter(
            customer_id=str(customer_id) if customer_id is not None else None,
            status=messages.MessageStatus(status.value) if status else None,
            campaign_id=str(campaign_id) if campaign_id is not None else None,
            channel=messages.MessageChannel(channel.value) if channel else None,
        )
        page = await messages.list_messages(info.context.project_id, where, first, after)
        return connection(page, lambda doc: MessageType(doc=doc))

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="One message of the outbox; null when the project has no such message.",
    )
    async def message(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The message's id.")],
    ) -> MessageType | None:
        try:
            found = await messages.get_message(info.context.project_id, str(id))
        except NotFound:
            return None
        return MessageType(doc=found)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="A campaign's messages by channel and status, and the redemptions each "
        "channel brought.",
    )
    async def campaign_delivery(
        self,
        info: Info,
        campaign_id: Annotated[strawberry.ID, strawberry.argument(description="The campaign.")],
    ) -> list[ChannelDelivery]:
        counts = await message_stats.delivery_counts(info.context.project_id, str(campaign_id))
        return [
            ChannelDelivery(
                channel=MessageChannelEnum(row.channel.value),
                queued=row.queued,
                sent=row.sent,
                delivered=row.delivered,
                undelivered=row.undelivered,
                failed=row.failed,
                suppressed=row.suppressed,
                redeemed=row.redeemed,
            )
            for row in counts
        ]


@strawberry.type
class MessageMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Renders a template for the customer (and code) and queues it in the "
        "outbox; without consent the message is recorded as SUPPRESSED and never sent. "
        "templateId defaults to builtin:coupon.",
    )
    @payload
    async def send_message(
        self,
        info: Info,
        customer_id: Annotated[strawberry.ID, strawberry.argument(description="The recipient.")],
        channel: Annotated[MessageChannelEnum, strawberry.argument(description="EMAIL or SMS.")],
        template_id: Annotated[
            str | None,
            strawberry.argument(
                description="The template's id or builtin:<name>; null for builtin:coupon."
            ),
        ] = None,
        code: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "The code the message carries; it must be published to this customer (or "
                    "be a standalone code)."
                )
            ),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "1 to 200 characters: a retry with the same key returns the first message "
                    "instead of queueing another."
                )
            ),
        ] = None,
    ) -> SendMessagePayload:
        message = await outbox.queue_message(
            message_links(info),
            info.context.project_id,
            str(customer_id),
            messages.MessageChannel(channel.value),
            template_id,
            code,
            idempotency_key,
        )
        warnings = await channel_warnings(info, [message.channel])
        return SendMessagePayload(message=MessageType(doc=message), warnings=warnings)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Senders, time zone, the SMS quiet hours, and the project's own SMTP "
        "server and Twilio account (their secrets are stored encrypted and never returned).",
    )
    @payload
    async def update_messaging(
        self,
        info: Info,
        input: Annotated[
            MessagingInput, strawberry.argument(description="The settings to change.")
        ],
    ) -> ProjectPayload:
        changes = projects.MessagingChanges(
            email_from=input.email_from,
            sms_from=input.sms_from,
            timezone=input.timezone,
            quiet_hours=input.quiet_hours,
            quiet_start=input.quiet_start,
            quiet_end=input.quiet_end,
            smtp=input.smtp.changes() if input.smtp is not None else None,
            twilio=input.twilio.changes() if input.twilio is not None else None,
            clear_smtp=input.clear_smtp,
            clear_twilio=input.clear_twilio,
        )
        project = await projects.update_messaging(
            info.context.project_id, changes, info.context.settings.secret_key
        )
        return ProjectPayload(project=ProjectType.from_doc(project))
