"""GraphQL for testMessaging: a test email or SMS sent now, answered with the provider's reply."""

from enum import Enum

import strawberry

from delivery import provider_check
from domain import projects
from domain.messages import MessageChannel
from schema.context import Info
from schema.errors import payload
from schema.messages import MessageChannelEnum
from schema.permissions import IsAdmin
from schema.types import UserError


@strawberry.enum(description="Whose provider a project's messages go through.")
class MessagingProvider(Enum):
    PROJECT = "PROJECT"
    INSTALLATION = "INSTALLATION"


@strawberry.type
class MessagingTestResult:
    channel: MessageChannelEnum
    accepted: bool = strawberry.field(description="The provider took the message.")
    provider: MessagingProvider
    message_id: str | None = strawberry.field(
        description="The SMTP Message-ID or Twilio MessageSid of an accepted message."
    )
    smtp_code: int | None = strawberry.field(description="The SMTP server's refusal code.")
    twilio_error_code: int | None = strawberry.field(description="Twilio's error code.")
    http_status: int | None = strawberry.field(description="Twilio's HTTP status on refusal.")
    detail: str | None = strawberry.field(
        description="The provider's reply text, or why no answer came."
    )


@strawberry.type
class TestMessagingPayload:
    result: MessagingTestResult | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProviderCheckMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Sends a test email or SMS to `to` now, through the provider the project's "
        "messages use, and reports its answer (waits at most 15 seconds).",
    )
    @payload
    async def test_messaging(
        self, info: Info, channel: MessageChannelEnum, to: str
    ) -> TestMessagingPayload:
        project = await projects.get_project(info.context.project_id)
        answer = await provider_check.check_provider(
            info.context.settings, project, MessageChannel(channel.value), to
        )
        return TestMessagingPayload(
            result=MessagingTestResult(
                channel=channel,
                accepted=answer.accepted,
                provider=MessagingProvider(answer.source.value),
                message_id=answer.message_id or None,
                smtp_code=answer.smtp_code,
                twilio_error_code=answer.twilio_error_code,
                http_status=answer.http_status,
                detail=answer.detail or None,
            )
        )
