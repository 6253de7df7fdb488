"""GraphQL for a project's own SMTP server and Twilio account; secrets are never returned."""

from collections.abc import Iterable

import strawberry

from delivery.providers import SINK_MESSAGES, SinkReason, sink_reason
from domain.messages import MessageChannel
from domain.projects import Project, get_project
from domain.providers import SmtpChanges, SmtpServer, TwilioAccount, TwilioChanges
from domain.secret_box import SealedSecret
from schema.config import SchemaSettings
from schema.context import Info


@strawberry.type(
    description="A stored secret as the API shows it: whether it is set, and its last four "
    "characters (none for secrets shorter than 12). The secret itself is never returned."
)
class SecretState:
    is_set: bool = strawberry.field(description="Whether the secret is set.")
    last4: str | None = strawberry.field(
        description=(
            "The secret's last four characters, to tell which one is stored; null "
            "when not set or shorter than 12 characters."
        )
    )

    @classmethod
    def of(cls, secret: SealedSecret | None) -> "SecretState":
        if secret is None:
            return cls(is_set=False, last4=None)
        return cls(is_set=True, last4=secret.last4 or None)


@strawberry.type(name="SmtpServer", description="The project's own SMTP server.")
class SmtpServerType:
    host: str = strawberry.field(description="The SMTP server's host name or IP address.")
    port: int = strawberry.field(description="The SMTP server's port, 1 to 65535.")
    security: str = strawberry.field(description="none, starttls or tls.")
    username: str = strawberry.field(
        description='The login name; "" when the server takes no login.'
    )
    password: SecretState = strawberry.field(
        description="Whether a password is stored (never the password)."
    )
    from_address: str = strawberry.field(description="MAIL FROM, and the default From.")

    @classmethod
    def of(cls, server: SmtpServer) -> "SmtpServerType":
        return cls(
            host=server.host,
            port=server.port,
            security=server.security,
            username=server.username,
            password=SecretState.of(server.password),
            from_address=server.from_address,
        )


@strawberry.type(name="TwilioAccount", description="The project's own Twilio account.")
class TwilioAccountType:
    account_sid: str = strawberry.field(
        description="The Twilio Account SID (AC followed by 32 hex digits)."
    )
    auth_token: SecretState = strawberry.field(
        description="Whether an auth token is stored (never the token)."
    )
    sender: str = strawberry.field(
        name="from", description="An E.164 number or a Messaging Service SID (MG…)."
    )

    @classmethod
    def of(cls, account: TwilioAccount) -> "TwilioAccountType":
        return cls(
            account_sid=account.account_sid,
            auth_token=SecretState.of(account.auth_token),
            sender=account.sender,
        )


@strawberry.input(description="Fields left out keep their value; a new server needs a host.")
class SmtpServerInput:
    host: str | None = strawberry.field(
        default=None, description="A host name or IP address; required for a new server."
    )
    port: int | None = strawberry.field(default=None, description="1 to 65535.")
    security: str | None = strawberry.field(default=None, description="none, starttls or tls.")
    username: str | None = strawberry.field(
        default=None, description=('The login name; "" for none. A password needs a username.')
    )
    password: str | None = strawberry.field(
        default=None, description='Stored encrypted, never returned; "" removes it.'
    )
    from_address: str | None = strawberry.field(
        default=None, description="An email address: MAIL FROM, and the default From."
    )

    def changes(self) -> SmtpChanges:
        return SmtpChanges(
            host=self.host,
            port=self.port,
            security=self.security,
            username=self.username,
            password=self.password,
            from_address=self.from_address,
        )


@strawberry.input(description="Fields left out keep their value; a new account needs all three.")
class TwilioAccountInput:
    account_sid: str | None = strawberry.field(default=None, description="AC + 32 hex digits.")
    auth_token: str | None = strawberry.field(
        default=None, description="Stored encrypted, never returned."
    )
    sender: str | None = strawberry.field(
        default=None,
        name="from",
        description="An E.164 number or a Messaging Service SID (MG + 32 hex digits).",
    )

    def changes(self) -> TwilioChanges:
        return TwilioChanges(
            account_sid=self.account_sid, auth_token=self.auth_token, sender=self.sender
        )


@strawberry.type(
    description="Something the caller should know although nothing failed: SANDBOX, "
    "NO_EMAIL_PROVIDER or NO_SMS_PROVIDER when messages are recorded in the sink, not sent."
)
class DeliveryWarning:
    code: str = strawberry.field(
        description="SANDBOX, NO_EMAIL_PROVIDER or NO_SMS_PROVIDER (values of DeliveryError)."
    )
    message: str = strawberry.field(
        description="An English sentence for people; never switch on it."
    )

    @classmethod
    def of(cls, reason: str) -> "DeliveryWarning":
        known = reason in SinkReason.__members__
        text = SINK_MESSAGES[SinkReason(reason)] if known else "recorded in the sink, not sent"
        return cls(code=reason, message=text)


def delivery_warnings(
    settings: SchemaSettings, project: Project, channels: Iterable[MessageChannel]
) -> list[DeliveryWarning]:
    """One warning per channel (and one SANDBOX) whose messages would not really be sent."""
    reasons: list[str] = []
    for channel in channels:
        if channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
            continue
        reason = sink_reason(settings, project, channel)
        if reason is not None and reason.value not in reasons:
            reasons.append(reason.value)
    return [DeliveryWarning.of(reason) for reason in reasons]


async def channel_warnings(info: Info, channels: list[MessageChannel]) -> list[DeliveryWarning]:
    """delivery_warnings for the caller's project."""
    if not channels:
        return []
    project = await get_project(info.context.project_id)
    return delivery_warnings(info.context.settings, project, channels)
