"""Which provider a project's email and SMS go through: its own, the installation's, or none."""

from enum import StrEnum

from delivery.channels import PermanentSendError
from delivery.config import ProviderSettings
from delivery.email import SmtpConnection
from delivery.sms import TwilioConnection
from domain.messages import MessageChannel
from domain.projects import Project
from domain.providers import smtp_password, twilio_auth_token
from domain.secret_box import SecretKeyMismatch


class SinkReason(StrEnum):
    """Why a message is recorded in the sink instead of being sent."""

    SANDBOX = "SANDBOX"
    NO_EMAIL_PROVIDER = "NO_EMAIL_PROVIDER"
    NO_SMS_PROVIDER = "NO_SMS_PROVIDER"
    NO_PROVIDER = "NO_PROVIDER"


SINK_MESSAGES = {
    SinkReason.SANDBOX: "a sandbox project: messages are recorded in the sink, never sent",
    SinkReason.NO_EMAIL_PROVIDER: "no SMTP server is set for this project or the "
    "installation: emails are recorded in the sink, not sent",
    SinkReason.NO_SMS_PROVIDER: "no Twilio account is set for this project or the "
    "installation: SMS are recorded in the sink, not sent",
    SinkReason.NO_PROVIDER: "no provider is configured: recorded in the sink, not sent",
}


class ProviderSource(StrEnum):
    PROJECT = "PROJECT"
    INSTALLATION = "INSTALLATION"


class ProviderSecretError(PermanentSendError):
    """The project's provider secret cannot be opened with this installation's secret key."""


def opening_keys(settings: ProviderSettings) -> tuple[str, str]:
    """The keys that may open a project's provider secrets: the current, then the previous."""
    return (settings.secret_key, settings.previous_secret_key)


def provider_source(
    settings: ProviderSettings, project: Project, channel: MessageChannel
) -> ProviderSource | None:
    """Whose provider sends the project's messages on `channel`; None: nobody's."""
    own = project.messaging.smtp if channel == MessageChannel.EMAIL else project.messaging.twilio
    if own is not None:
        return ProviderSource.PROJECT
    installed = (
        settings.email_configured if channel == MessageChannel.EMAIL else settings.sms_configured
    )
    return ProviderSource.INSTALLATION if installed else None


def sink_reason(
    settings: ProviderSettings, project: Project, channel: MessageChannel
) -> SinkReason | None:
    """Why an email or SMS of the project would go to the sink; None when it is really sent."""
    if project.sandbox:
        return SinkReason.SANDBOX
    if provider_source(settings, project, channel) is not None:
        return None
    if channel == MessageChannel.EMAIL:
        return SinkReason.NO_EMAIL_PROVIDER
    return SinkReason.NO_SMS_PROVIDER


def smtp_connection(settings: ProviderSettings, project: Project) -> SmtpConnection:
    """The project's SMTP server, else the installation's."""
    server = project.messaging.smtp
    if server is None:
        return SmtpConnection.of_installation(settings)
    try:
        password = smtp_password(opening_keys(settings), project.key, server)
    except SecretKeyMismatch as error:
        raise ProviderSecretError(f"the project's SMTP password cannot be read: {error}") from error
    return SmtpConnection(
        host=server.host,
        port=server.port,
        security=server.security,
        username=server.username,
        password=password,
        timeout_seconds=settings.smtp_timeout_seconds,
        default_sender=server.from_address or settings.email_from,
        envelope_sender=server.from_address,
    )


def twilio_connection(settings: ProviderSettings, project: Project) -> TwilioConnection:
    """The project's Twilio account, else the installation's."""
    account = project.messaging.twilio
    if account is None:
        return TwilioConnection.of_installation(settings)
    try:
        token = twilio_auth_token(opening_keys(settings), project.key, account)
    except SecretKeyMismatch as error:
        raise ProviderSecretError(
            f"the project's Twilio auth token cannot be read: {error}"
        ) from error
    return TwilioConnection(
        account_sid=account.account_sid,
        auth_token=token,
        default_sender=account.sender,
        # The installation's API address (a proxy, a test server) serves every account.
        api_url=settings.twilio_api_url,
        timeout_seconds=settings.twilio_timeout_seconds,
    )


def default_email_sender(settings: ProviderSettings, project: Project) -> str:
    """The From of the project's emails: its own setting, its server's address, the service's."""
    server = project.messaging.smtp
    own_server = server.from_address if server is not None else ""
    return project.messaging.email_from or own_server or settings.email_from


def default_sms_sender(settings: ProviderSettings, project: Project) -> str:
    """The sender of the project's SMS: its own setting, its account's, the service's."""
    account = project.messaging.twilio
    own_account = account.sender if account is not None else ""
    return project.messaging.sms_from or own_account or settings.twilio_from
