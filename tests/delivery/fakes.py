"""Real local servers for delivery tests: an SMTP server (aiosmtpd) and Twilio's Messages API."""

import asyncio
import base64
import email
import email.policy
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Self

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from domain.common import utc_now

HOST = "127.0.0.1"
# Twilio-shaped credentials: an account SID is AC + 32 hex digits.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
FROM_NUMBER = "+15005550006"
SMTP_REPLIES = {
    421: "421 4.3.2 Service not available, closing channel",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary failure, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 No such user here",
    552: "552 5.3.4 Message too big",
    553: "553 5.1.3 Bad recipient address syntax",
    554: "554 5.7.1 Message rejected",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


@dataclass
class _Rule:
    """Answers `code` at `stage` for the next `times` messages (None: every message)."""

    stage: str
    code: int
    times: int | None
    reply: str


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    def body(self, subtype: str = "plain") -> str:
        """The text/<subtype> part's decoded content ("" when there is none)."""
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            return ""
        return str(part.get_content())


class FakeSmtpServer:
    """An aiosmtpd server on a free port, in its own thread, keeping what it accepts.

    `fail(code, times, stage)` scripts refusals: `fail(451)` then accept, `fail(550, None)` always.
    `delay` and `rcpt_delay` (seconds, changeable while it runs) hold each DATA and RCPT command;
    `credentials` requires AUTH with that login.
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        delay: float = 0.0,
        rcpt_delay: float = 0.0,
    ) -> None:
        self.host = HOST
        self.port = free_port()
        self.credentials = credentials
        self.delay = delay
        self.rcpt_delay = rcpt_delay
        self.messages: list[ReceivedEmail] = []
        self.refused: list[tuple[str, int]] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        auth: dict[str, Any] = {}
        if credentials is not None:
            auth = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(_SmtpHandler(self), hostname=HOST, port=self.port, **auth)

    def start(self) -> Self:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self) -> dict[str, Any]:
        """Settings fields that point send_email here: `settings.model_copy(update=...)`."""
        values: dict[str, Any] = {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 10.0,
        }
        if self.credentials:
            values["smtp_username"], values["smtp_password"] = self.credentials
        return values

    def fail(self, code: int, times: int | None = 1, stage: str = "DATA", reply: str = "") -> None:
        """Refuse with `code` at RCPT or DATA for the next `times` messages (None: always)."""
        if stage not in ("RCPT", "DATA"):
            raise ValueError("stage is RCPT or DATA")
        text = reply or SMTP_REPLIES.get(code, f"{code} Scripted reply")
        with self._lock:
            self._rules.append(_Rule(stage, code, times, text))

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self.messages.clear()
            self.refused.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedEmail]:
        wait_until(lambda: len(self.messages) >= count, timeout)
        return list(self.messages)

    def _scripted(self, stage: str) -> str | None:
        with self._lock:
            for rule in self._rules:
                if rule.stage == stage and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    self.refused.append((stage, rule.code))
                    return rule.reply
        return None

    def _accept(self, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        received = ReceivedEmail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            message=message,
            raw=raw,
        )
        with self._lock:
            self.messages.append(received)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        login, password = self.credentials
        ok = data.login.decode() == login and data.password.decode() == password
        return AuthResult(success=ok, handled=False)


class _SmtpHandler:
    def __init__(self, owner: FakeSmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.owner.rcpt_delay:
            await asyncio.sleep(self.owner.rcpt_delay)
        refusal = self.owner._scripted("RCPT")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.owner.delay:
            await asyncio.sleep(self.owner.delay)
        refusal = self.owner._scripted("DATA")
        if refusal:
            return refusal
        self.owner._accept(envelope)
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class TwilioCall:
    """One request the fake Twilio API received."""

    account_sid: str
    form: dict[str, str]
    # The HTTP basic credentials matched the account SID and auth token.
    authorized: bool
    status: int
    sid: str = ""
    # The client's address and port: the same for requests over one kept-alive connection.
    peer: str = ""


@dataclass
class _Scripted:
    status: int
    times: int | None
    code: int
    message: str


@dataclass
class FakeTwilioServer:
    """Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`) on a real socket.

    It checks basic auth and the fields Twilio requires, answers 201 with a Twilio-shaped
    message, and can be scripted: `respond(429)` once, `respond(400, times=None, code=21211)`.
    """

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    from_number: str = FROM_NUMBER
    # Further accounts served beside the first: account SID -> auth token.
    other_accounts: dict[str, str] = field(default_factory=dict)
    # Seconds each request waits before it is answered.
    delay: float = 0.0
    calls: list[TwilioCall] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _script: list[_Scripted] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def settings(self) -> dict[str, Any]:
        """Settings fields that point send_sms here: `settings.model_copy(update=...)`."""
        return {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "twilio_from": self.from_number,
            "twilio_api_url": self.url,
            "twilio_timeout_seconds": 10.0,
        }

    def respond(
        self, status: int, times: int | None = 1, code: int | None = None, message: str = ""
    ) -> None:
        """The next `times` requests (None: all) get `status` with Twilio's error JSON."""
        with self._lock:
            self._script.append(
                _Scripted(status, times, code or _DEFAULT_ERROR_CODES.get(status, 20001), message)
            )

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.calls.clear()

    def sent(self) -> list[TwilioCall]:
        """The calls answered 201."""
        return [call for call in self.calls if call.status == 201]

    def start(self) -> Self:
        app = Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{account_sid}/Messages.json",
                    self._create_message,
                    methods=["POST"],
                )
            ]
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[listener]), name="fake-twilio", daemon=True
        )
        self._thread.start()
        wait_until(lambda: server.started, 10.0)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorized(self, request: Request, account_sid: str) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        tokens = {self.account_sid: self.auth_token, **self.other_accounts}
        return user == account_sid and tokens.get(user) == password

    def _scripted(self) -> _Scripted | None:
        with self._lock:
            for entry in self._script:
                if entry.times != 0:
                    if entry.times is not None:
                        entry.times -= 1
                    return entry
        return None

    async def _create_message(self, request: Request) -> JSONResponse:
        account_sid = request.path_params["account_sid"]
        form = {key: str(value) for key, value in (await request.form()).items()}
        authorized = self._authorized(request, account_sid)
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        call = TwilioCall(account_sid, form, authorized, status=0, peer=peer)
        with self._lock:
            self.calls.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not authorized:
            return self._error(call, 401, 20003, "Authenticate")
        problem = _missing_field(form)
        if problem:
            return self._error(call, 400, *problem)
        scripted = self._scripted()
        if scripted is not None:
            return self._error(
                call,
                scripted.status,
                scripted.code,
                scripted.message or _DEFAULT_MESSAGES.get(scripted.status, "Scripted error"),
            )
        call.status, call.sid = 201, "SM" + secrets.token_hex(16)
        return JSONResponse(_message_json(account_sid, call.sid, form), status_code=201)

    @staticmethod
    def _error(call: TwilioCall, status: int, code: int, message: str) -> JSONResponse:
        call.status = status
        return JSONResponse(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status_code=status,
        )


_DEFAULT_ERROR_CODES = {400: 21211, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
_DEFAULT_MESSAGES = {
    400: "The 'To' number is not a valid phone number.",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _missing_field(form: dict[str, str]) -> tuple[int, str] | None:
    """Twilio's own checks on a new message: a recipient, a sender and something to send."""
    if not form.get("To"):
        return 21604, "A 'To' phone number is required."
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    if not form.get("Body") and not form.get("MediaUrl"):
        return 21602, "Message body is required."
    return None


def _message_json(account_sid: str, sid: str, form: dict[str, str]) -> dict[str, Any]:
    now = format_datetime(utc_now())
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
        },
        "to": form.get("To"),
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for a webhook POST of `params` to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, params))
