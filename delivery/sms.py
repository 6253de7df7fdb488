"""SMS through the Twilio SDK, with one HTTP session per process and account."""

import asyncio
import base64
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from delivery.channels import Envelope, PermanentSendError, TransientSendError
from delivery.config import ProviderSettings

# The SDK logs every request at INFO; one message each is too much for a sending worker.
_sdk_log = logging.getLogger("engage.delivery.twilio_http")
_sdk_log.setLevel(logging.WARNING)


class TwilioHttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client, sending to `api_url` instead of Twilio's hosts when it is set."""

    def __init__(self, api_url: str = "", timeout: float | None = None) -> None:
        super().__init__(pool_connections=True, timeout=timeout, logger=_sdk_log)
        self.api_url = api_url.rstrip("/")

    def rewrite(self, url: str) -> str:
        if not self.api_url:
            return url
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        base = urlsplit(self.api_url)
        return urlunsplit(
            parts._replace(scheme=base.scheme, netloc=base.netloc, path=base.path + parts.path)
        )

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            # A header rather than aiohttp's deprecated `auth=` argument.
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        return await super().request(
            method,
            self.rewrite(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            # The SDK passes None, which aiohttp takes as "no time limit".
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


@dataclass
class _Pooled:
    loop: asyncio.AbstractEventLoop
    client: Client
    http: TwilioHttpClient


@dataclass(frozen=True)
class TwilioConnection:
    """One Twilio account to send through: the installation's or a project's own."""

    account_sid: str
    auth_token: str
    # A number, or a Messaging Service SID (MG…), for envelopes that name no sender.
    default_sender: str
    api_url: str
    timeout_seconds: float

    @classmethod
    def of_installation(cls, settings: ProviderSettings) -> "TwilioConnection":
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            default_sender=settings.twilio_from,
            api_url=settings.twilio_api_url,
            timeout_seconds=settings.twilio_timeout_seconds,
        )


# One SDK client (and aiohttp session) per event loop and account: a session per message is slow.
_pool: dict[tuple[str, str, str, float], _Pooled] = {}


def _client(account: TwilioConnection) -> Client:
    loop = asyncio.get_running_loop()
    key = (account.account_sid, account.auth_token, account.api_url, account.timeout_seconds)
    pooled = _pool.get(key)
    session = pooled.http.session if pooled else None
    if pooled is None or pooled.loop is not loop or session is None or session.closed:
        http = TwilioHttpClient(account.api_url, account.timeout_seconds)
        client = Client(account.account_sid, account.auth_token, http_client=http)
        pooled = _pool[key] = _Pooled(loop, client, http)
    return pooled.client


async def close_sms_clients() -> None:
    """Closes the sessions opened on this event loop; call it when a worker stops."""
    loop = asyncio.get_running_loop()
    for key, pooled in list(_pool.items()):
        if pooled.loop is loop:
            del _pool[key]
            await pooled.http.close()


def _sender(account: TwilioConnection, envelope: Envelope) -> dict[str, Any]:
    sender = envelope.sender or account.default_sender
    # A Messaging Service picks the number itself.
    if sender.startswith("MG"):
        return {"messaging_service_sid": sender}
    return {"from_": sender}


async def send_sms(settings: ProviderSettings, envelope: Envelope) -> str:
    """Creates the message with the installation's Twilio account; returns its MessageSid."""
    return await send_sms_via(TwilioConnection.of_installation(settings), envelope)


async def send_sms_via(account: TwilioConnection, envelope: Envelope) -> str:
    """Creates the message with `account`; returns its MessageSid."""
    client = _client(account)
    try:
        message = await client.messages.create_async(
            to=envelope.to,
            body=envelope.text,
            status_callback=envelope.status_callback or None,
            **_sender(account, envelope),
        )
    except TwilioRestException as error:
        text = f"Twilio {error.status} (error {error.code}): {error.msg}"
        if error.status == 429 or error.status >= 500:
            raise TransientSendError(text) from error
        raise PermanentSendError(text) from error
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise TransientSendError(f"Twilio connection: {type(error).__name__}: {error}") from error
    return str(message.sid)
