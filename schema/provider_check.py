"""GraphQL for testMessaging: a test email or SMS sent now, answered with the provider's reply."""

from enum import Enum
from typing import Annotated

import strawberry

from delivery import provider_check
from domain import projects
from domain.messages import MessageChannel
from schema.context import Info
from schema.described_enums import described_enum
from schema.errors import payload
from schema.messages import MessageChannelEnum
from schema.permissions import IsAdmin
from schema.types import UserError


@described_enum(
    description="Whose provider a project's messages go through.",
    values={
        "PROJECT": "The project's own SMTP server or Twilio account (set with updateMessaging).",
        "INSTALLATION": "The installation's provider, from the server's settings.",
    },
)
class MessagingProvider(Enum):
    PROJECT = "PROJECT"
    INSTALLATION = "INSTALLATION"


@strawberry.type(
    description="What the provider answered to a test message.",
)
class MessagingTestResult:
    channel: MessageChannelEnum = strawberry.field(description="The channel tested.")
    accepted: bool = strawberry.field(description="The provider took the message.")
    provider: MessagingProvider = strawberry.field(
        description="Whose provider the test went through."
    )
    message_id: str | None = strawberry.field(
        description="The SMTP Message-ID or Twilio MessageSid of an accepted message."
    )
    smtp_code: int | None = strawberry.field(
        description="The SMTP server's reply code on refusal (such as 550); null otherwise."
    )
    twilio_error_code: int | None = strawberry.field(
        description="Twilio's error code on refusal (such as 21211); null otherwise."
    )
    http_status: int | None = strawberry.field(
        description="Twilio's HTTP status on refusal; null otherwise."
    )
    detail: str | None = strawberry.field(
        description="The provider's reply text, or why no answer came."
    )


@strawberry.type(
    description="The result of testMessaging: the provider's answer, or what was wrong.",
)
class TestMessagingPayload:
    result: MessagingTestResult | None = strawberry.field(
        default=None,
        description=(
            "The provider's answer (a refusal included); null when `errors` is not empty."
        ),
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request (no provider, a bad address); empty when "
            "the provider was asked."
        ),
    )


@strawberry.type
class ProviderCheckMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Sends a test email or SMS to `to` now, through the provider the project's "
        "messages use, and reports its answer (waits at most 15 seconds).",
    )
    @payload
    async def test_messaging(
        self,
        info: Info,
        channel: Annotated[MessageChannelEnum, strawberry.argument(description="EMAIL or SMS.")],
        to: Annotated[
            str,
            strawberry.argument(
                description=(
                    "An email address (EMAIL) or an E.164 phone number such as +33612345678 (SMS)."
                )
            ),
        ],
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
