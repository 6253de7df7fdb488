"""GraphQL for sending messages, reading the outbox, delivery counts and messaging settings."""

from datetime import datetime
from enum import Enum

import strawberry

from delivery import outbox
from domain import message_stats, messages, projects
from domain.errors import NotFound
from schema.context import Info
from schema.customers import CustomerType
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


@strawberry.enum(name="MessageChannel")
class MessageChannelEnum(Enum):
    EMAIL = "EMAIL"
    SMS = "SMS"


@strawberry.enum(name="MessageStatus")
class MessageStatusEnum(Enum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


@strawberry.type(name="Message")
class MessageType:
    doc: strawberry.Private[messages.Message]

    def personal_data_owner(self) -> str:
        return self.doc.customer_id

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.key)

    @strawberry.field
    def channel(self) -> MessageChannelEnum:
        return MessageChannelEnum(self.doc.channel.value)

    @strawberry.field
    def status(self) -> MessageStatusEnum:
        return MessageStatusEnum(self.doc.status.value)

    @strawberry.field(description="The email address or phone number it went to.")
    def to(self) -> str:
        return self.doc.to

    @strawberry.field
    def template_id(self) -> str:
        return self.doc.template_id

    @strawberry.field(description="The code it carries, if any.")
    def code(self) -> str | None:
        return self.doc.code or None

    @strawberry.field
    def campaign_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.campaign_id) if self.doc.campaign_id else None

    @strawberry.field(description="Email only.")
    def rendered_subject(self) -> str:
        return self.doc.subject

    @strawberry.field(description="The plain-text body (the SMS text, or the email's text part).")
    def rendered_body(self) -> str:
        return self.doc.body_text

    @strawberry.field(description="The email's HTML part.")
    def rendered_html(self) -> str:
        return self.doc.body_html

    @strawberry.field
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

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def sent_at(self) -> datetime | None:
        return self.doc.sent_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.doc.delivered_at

    @strawberry.field
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.customer_id)

    @strawberry.field(
        description="The redemption made with the code this message carried, attributed to it."
    )
    async def redemption_id(self, info: Info) -> strawberry.ID | None:
        found = await info.context.loaders.message_redemption.load(self.doc.key)
        return None if found is None else strawberry.ID(found.key)


@strawberry.type
class ChannelDelivery:
    channel: MessageChannelEnum
    queued: int
    sent: int
    delivered: int
    undelivered: int
    failed: int
    suppressed: int
    redeemed: int = strawberry.field(
        description="Redemptions attributed to a message of this channel."
    )


@strawberry.type
class SendMessagePayload:
    message: MessageType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
    warnings: list[DeliveryWarning] = strawberry.field(
        default_factory=list,
        description="Set when the message will be recorded in the sink, not sent.",
    )


@strawberry.input
class MessagingInput:
    email_from: str | None = strawberry.field(
        default=None, description='"Name <address>"; "" uses the service default.'
    )
    sms_from: str | None = strawberry.field(
        default=None, description='An E.164 number or an alphanumeric sender id; "" default.'
    )
    timezone: str | None = strawberry.field(
        default=None, description="For customers without a `timezone` attribute."
    )
    quiet_hours: bool | None = None
    quiet_start: str | None = strawberry.field(default=None, description="HH:MM, local time.")
    quiet_end: str | None = strawberry.field(default=None, description="HH:MM, local time.")
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
        customer_id: strawberry.ID | None = None,
        status: MessageStatusEnum | None = None,
        campaign_id: strawberry.ID | None = None,
        channel: MessageChannelEnum | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[MessageType]:
        where = messages.MessageFilter(
            customer_id=str(customer_id) if customer_id is not None else None,
            status=messages.MessageStatus(status.value) if status else None,
            campaign_id=str(campaign_id) if campaign_id is not None else None,
            channel=messages.MessageChannel(channel.value) if channel else None,
        )
        page = await messages.list_messages(info.context.project_id, where, first, after)
        return connection(page, lambda doc: MessageType(doc=doc))

    @strawberry.field(permission_classes=[IsAdmin])
    async def message(self, info: Info, id: strawberry.ID) -> MessageType | None:
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
        self, info: Info, campaign_id: strawberry.ID
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
        customer_id: strawberry.ID,
        channel: MessageChannelEnum,
        template_id: str | None = None,
        code: str | None = None,
        idempotency_key: str | None = None,
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
    async def update_messaging(self, info: Info, input: MessagingInput) -> ProjectPayload:
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
