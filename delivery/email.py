"""Email over SMTP with aiosmtplib: one multipart text+HTML message per envelope."""

import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache

import aiosmtplib

from delivery.channels import Envelope, PermanentSendError, TransientSendError
from delivery.config import ProviderSettings
from domain.common import utc_now

# Used for the Message-ID when the sender has no usable domain.
FALLBACK_DOMAIN = "engage.localhost"


def message_id_header(message_id: str, sender: str) -> str:
    """The same Message-ID for every attempt at one outbox message, so receivers de-duplicate."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip().lower() or FALLBACK_DOMAIN
    return f"<engage.{message_id}@{domain}>"


def build_email(
    envelope: Envelope, default_sender: str, date: datetime | None = None
) -> EmailMessage:
    """The MIME message for an envelope: what SMTP sends and what the sink stores."""
    sender = envelope.sender or default_sender
    message = EmailMessage()
    message["From"] = sender
    message["To"] = envelope.to
    message["Subject"] = envelope.subject
    message["Date"] = format_datetime(date or utc_now())
    message["Message-ID"] = message_id_header(envelope.message_id, sender)
    if envelope.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
        # RFC 8058: mail clients may unsubscribe with one POST, without opening a page.
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in envelope.headers.items():
        if name not in message:
            message[name] = value
    message.set_content(envelope.text or "")
    if envelope.html:
        message.add_alternative(envelope.html, subtype="html")
    return message


@lru_cache(maxsize=1)
def _local_hostname() -> str:
    # aiosmtplib would look the name up on every connection; it does not change.
    return socket.getfqdn() or "localhost"


def _classify(error: Exception) -> Exception:
    """TransientSendError when trying again later may work, PermanentSendError otherwise."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        if codes and all(400 <= code < 500 for code in codes):
            return TransientSendError(f"recipient refused: {error}")
        return PermanentSendError(f"recipient refused: {error}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        text = f"SMTP {error.code}: {error.message}"
        if 400 <= error.code < 500:
            return TransientSendError(text)
        return PermanentSendError(text)
    if isinstance(error, ssl.SSLCertVerificationError):
        return PermanentSendError(f"SMTP certificate not trusted: {error}")
    if isinstance(
        error,
        aiosmtplib.SMTPServerDisconnected
        | aiosmtplib.SMTPConnectError
        | aiosmtplib.SMTPTimeoutError
        | OSError
        | TimeoutError,
    ):
        # Timeouts, refused or reset connections, a server that hung up.
        return TransientSendError(f"SMTP connection: {type(error).__name__}: {error}")
    if isinstance(error, aiosmtplib.SMTPException):
        # The server cannot do what the settings ask: STARTTLS, AUTH, SMTPUTF8.
        return PermanentSendError(f"SMTP configuration: {error}")
    return error


@dataclass(frozen=True)
class SmtpConnection:
    """One SMTP server to send through: the installation's or a project's own."""

    host: str
    port: int
    security: str
    username: str
    password: str
    timeout_seconds: float
    # The From of envelopes that name none.
    default_sender: str
    # MAIL FROM; "" takes the From header's address.
    envelope_sender: str = ""

    @classmethod
    def of_installation(cls, settings: ProviderSettings) -> "SmtpConnection":
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout_seconds=settings.smtp_timeout_seconds,
            default_sender=settings.email_from,
        )


async def send_email(settings: ProviderSettings, envelope: Envelope) -> str:
    """Sends through the installation's SMTP server; returns the Message-ID header."""
    return await send_email_via(SmtpConnection.of_installation(settings), envelope)


async def send_email_via(server: SmtpConnection, envelope: Envelope) -> str:
    """Sends through `server`; returns the Message-ID header."""
    message = build_email(envelope, server.default_sender)
    try:
        await aiosmtplib.send(
            message,
            sender=server.envelope_sender or None,
            hostname=server.host,
            port=server.port,
            username=server.username or None,
            password=server.password or None,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            timeout=server.timeout_seconds,
            local_hostname=_local_hostname(),
        )
    except Exception as error:
        classified = _classify(error)
        if classified is error:
            raise
        raise classified from error
    return str(message["Message-ID"])
