"""A project's own SMTP server and Twilio account: validated, secrets sealed at rest."""

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from domain.errors import CommonError, DomainError, Problem
from domain.secret_box import SealedSecret, open_sealed, seal

SMTP_SECURITIES = ("none", "starttls", "tls")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Twilio auth tokens are 32 hexadecimal digits.
_AUTH_TOKEN = re.compile(r"^[0-9a-fA-F]{32}$")
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MAX_PASSWORD = 500


class SmtpServer(BaseModel):
    """The project's SMTP server; the password is sealed."""

    host: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: SealedSecret | None = None
    # The envelope sender and default From of this server's messages.
    from_address: str = ""


class TwilioAccount(BaseModel):
    """The project's Twilio account; the auth token is sealed."""

    account_sid: str
    auth_token: SealedSecret
    # An E.164 number or a Messaging Service SID (MG…).
    sender: str


def secret_context(project_id: str, field: str) -> str:
    """What a project's sealed secret is bound to."""
    return f"project:{project_id}:{field}"


def smtp_password(secret_keys: Sequence[str], project_id: str, server: SmtpServer) -> str:
    """The plaintext password ("" when none); SecretKeyMismatch when it cannot be opened."""
    if server.password is None:
        return ""
    context = secret_context(project_id, "smtp.password")
    return open_sealed(secret_keys, server.password, context)


def twilio_auth_token(secret_keys: Sequence[str], project_id: str, account: TwilioAccount) -> str:
    """The plaintext auth token; SecretKeyMismatch when it cannot be opened."""
    context = secret_context(project_id, "twilio.authToken")
    return open_sealed(secret_keys, account.auth_token, context)


@dataclass(frozen=True)
class SmtpChanges:
    """None leaves a field as it is; a password of "" removes it."""

    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = None
    from_address: str | None = None


@dataclass(frozen=True)
class TwilioChanges:
    """None leaves a field as it is."""

    account_sid: str | None = None
    auth_token: str | None = None
    sender: str | None = None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return 0 < len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def changed_smtp(
    secret_key: str, project_id: str, current: SmtpServer | None, changes: SmtpChanges
) -> SmtpServer:
    """The server after `changes`, or DomainError naming every bad field (`smtp.<field>`)."""
    problems: list[Problem] = []
    values: dict[str, Any] = current.model_dump() if current is not None else {}
    if changes.host is not None:
        values["host"] = changes.host.strip().lower()
    if not values.get("host") or not _valid_host(values["host"]):
        problems.append(
            Problem(CommonError.INVALID, "host is a host name or an IP address", "smtp.host")
        )
    if changes.port is not None:
        values["port"] = changes.port
    if not 1 <= int(values.get("port", 587)) <= 65535:
        problems.append(Problem(CommonError.INVALID, "port is between 1 and 65535", "smtp.port"))
    if changes.security is not None:
        values["security"] = changes.security.strip().lower()
    if values.get("security", "starttls") not in SMTP_SECURITIES:
        problems.append(
            Problem(CommonError.INVALID, "security is none, starttls or tls", "smtp.security")
        )
    if changes.username is not None:
        username = changes.username.strip()
        if len(username) > 200:
            problems.append(Problem(CommonError.INVALID, "username is too long", "smtp.username"))
        values["username"] = username
    if changes.from_address is not None:
        address = changes.from_address.strip()
        if address and not _EMAIL_ADDRESS.match(address):
            problems.append(
                Problem(CommonError.INVALID, "fromAddress is an email address", "smtp.fromAddress")
            )
        values["from_address"] = address
    if changes.password is not None:
        if len(changes.password) > MAX_PASSWORD:
            problems.append(Problem(CommonError.INVALID, "password is too long", "smtp.password"))
        elif changes.password:
            context = secret_context(project_id, "smtp.password")
            values["password"] = seal(secret_key, changes.password, context).model_dump()
        else:
            values["password"] = None
    if values.get("password") and not values.get("username"):
        problems.append(
            Problem(CommonError.INVALID, "a password needs a username", "smtp.username")
        )
    if problems:
        raise DomainError.of(problems)
    return SmtpServer.model_validate(values)


def changed_twilio(
    secret_key: str, project_id: str, current: TwilioAccount | None, changes: TwilioChanges
) -> TwilioAccount:
    """The account after `changes`, or DomainError naming every bad field (`twilio.<field>`)."""
    problems: list[Problem] = []
    values: dict[str, Any] = current.model_dump() if current is not None else {}
    if changes.account_sid is not None:
        values["account_sid"] = changes.account_sid.strip()
    if not _ACCOUNT_SID.match(values.get("account_sid", "")):
        problems.append(
            Problem(
                CommonError.INVALID,
                "accountSid is AC followed by 32 hex digits",
                "twilio.accountSid",
            )
        )
    if changes.auth_token is not None:
        token = changes.auth_token.strip()
        if _AUTH_TOKEN.match(token):
            context = secret_context(project_id, "twilio.authToken")
            values["auth_token"] = seal(secret_key, token, context).model_dump()
        else:
            problems.append(
                Problem(CommonError.INVALID, "authToken is 32 hex digits", "twilio.authToken")
            )
    elif not values.get("auth_token"):
        problems.append(Problem(CommonError.REQUIRED, "authToken is required", "twilio.authToken"))
    if changes.sender is not None:
        values["sender"] = changes.sender.strip()
    sender = values.get("sender", "")
    if not (_E164.match(sender) or _MESSAGING_SERVICE_SID.match(sender)):
        problems.append(
            Problem(
                CommonError.INVALID,
                "from is an E.164 number or a Messaging Service SID (MG and 32 hex digits)",
                "twilio.from",
            )
        )
    if problems:
        raise DomainError.of(problems)
    return TwilioAccount.model_validate(values)
