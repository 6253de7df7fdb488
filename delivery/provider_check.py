"""A test message sent at once through a project's provider, with the provider's own answer."""

import asyncio
import dataclasses
import re
import uuid
from dataclasses import dataclass

import aiosmtplib
from twilio.base.exceptions import TwilioRestException

from delivery import email, providers, sms
from delivery.channels import Envelope, SendError
from delivery.config import ProviderSettings
from delivery.errors import DeliveryError
from domain.errors import CommonError, DomainError
from domain.messages import MessageChannel
from domain.projects import Project

# The longest a test may wait on a provider, whatever the sending timeouts say.
CHECK_TIMEOUT_SECONDS = 15.0
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TEST_SUBJECT = "Engage test message"
TEST_TEXT = "This is a test message from Engage: the project's provider accepted it."


@dataclass(frozen=True)
class ProviderAnswer:
    """What the provider said to the test message."""

    accepted: bool
    source: providers.ProviderSource
    # The SMTP Message-ID or Twilio MessageSid of an accepted message.
    message_id: str = ""
    smtp_code: int | None = None
    twilio_error_code: int | None = None
    http_status: int | None = None
    detail: str = ""


def _refusal(source: providers.ProviderSource, error: BaseException) -> ProviderAnswer:
    cause = error.__cause__ or error
    if isinstance(cause, aiosmtplib.SMTPRecipientsRefused) and cause.recipients:
        refused = cause.recipients[0]
        return ProviderAnswer(False, source, smtp_code=refused.code, detail=refused.message)
    if isinstance(cause, aiosmtplib.SMTPResponseException):
        return ProviderAnswer(False, source, smtp_code=cause.code, detail=cause.message)
    if isinstance(cause, TwilioRestException):
        return ProviderAnswer(
            False,
            source,
            twilio_error_code=int(cause.code) if cause.code is not None else None,
            http_status=cause.status,
            detail=str(cause.msg),
        )
    return ProviderAnswer(False, source, detail=str(error) or type(error).__name__)


def _checked_recipient(channel: MessageChannel, to: str) -> str:
    to = to.strip()
    if channel == MessageChannel.EMAIL and not _EMAIL.match(to):
        raise DomainError(CommonError.INVALID, "to is an email address", "to")
    if channel == MessageChannel.SMS and not _E164.match(to):
        raise DomainError(CommonError.INVALID, "to is an E.164 phone number", "to")
    return to


async def check_provider(
    settings: ProviderSettings, project: Project, channel: MessageChannel, to: str
) -> ProviderAnswer:
    """Sends a test to `to` through the provider the project's messages use, now; DomainError
    when there is none to test (a sandbox project, no provider) or `to` is not an address."""
    if channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
        raise DomainError(CommonError.INVALID, "channel is EMAIL or SMS", "channel")
    to = _checked_recipient(channel, to)
    reason = providers.sink_reason(settings, project, channel)
    if reason is not None:
        raise DomainError(DeliveryError(reason.value), providers.SINK_MESSAGES[reason], "channel")
    source = providers.provider_source(settings, project, channel)
    assert source is not None  # sink_reason is None only when there is a provider
    envelope = Envelope(
        message_id=uuid.uuid4().hex, project_id=project.key, to=to, subject=TEST_SUBJECT
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS + 1):
            if channel == MessageChannel.EMAIL:
                message_id = await _send_test_email(settings, project, envelope)
            else:
                message_id = await _send_test_sms(settings, project, envelope)
    except TimeoutError:
        detail = f"no answer within {CHECK_TIMEOUT_SECONDS:g} seconds"
        return ProviderAnswer(False, source, detail=detail)
    except SendError as error:
        return _refusal(source, error)
    return ProviderAnswer(True, source, message_id=message_id)


async def _send_test_email(settings: ProviderSettings, project: Project, base: Envelope) -> str:
    server = providers.smtp_connection(settings, project)
    bounded = dataclasses.replace(
        server, timeout_seconds=min(server.timeout_seconds, CHECK_TIMEOUT_SECONDS)
    )
    envelope = dataclasses.replace(
        base, text=TEST_TEXT, sender=providers.default_email_sender(settings, project)
    )
    return await email.send_email_via(bounded, envelope)


async def _send_test_sms(settings: ProviderSettings, project: Project, base: Envelope) -> str:
    account = providers.twilio_connection(settings, project)
    bounded = dataclasses.replace(
        account, timeout_seconds=min(account.timeout_seconds, CHECK_TIMEOUT_SECONDS)
    )
    envelope = dataclasses.replace(
        base, text=TEST_TEXT, sender=providers.default_sms_sender(settings, project)
    )
    return await sms.send_sms_via(bounded, envelope)
