"""Wallet pushes to APNs: an empty HTTP/2 POST per registered device, as the APPLE_PUSH sender."""

import asyncio
import json
import ssl
import threading
from pathlib import Path

import httpx

from delivery import sink
from delivery.channels import (
    ChannelSender,
    PermanentSendError,
    TransientSendError,
    register_sender,
)
from delivery.config import DeliverySettings
from delivery.wallet.certificates import SigningChain, signing_chain
from domain import wallet
from domain.messages import Message, MessageChannel
from domain.projects import Project

# Sent on success and on 410, when no apns-id came back.
GONE = "gone"

_clients: dict[tuple[object, ...], httpx.AsyncClient] = {}
_clients_lock = threading.Lock()


def _tls_context(settings: DeliverySettings, chain: SigningChain) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(settings.apns_ca_file) if settings.apns_ca_file else None
    )
    # Client authentication with the Pass Type ID certificate: that is how APNs knows the topic.
    context.load_cert_chain(
        str(chain.certificate_file),
        str(chain.key_file),
        password=chain.key_password or None,
    )
    context.set_alpn_protocols(["h2"])
    return context


def client_for(settings: DeliverySettings) -> httpx.AsyncClient:
    """One HTTP/2 client (one connection, many streams) per event loop, endpoint and certificate."""
    chain = signing_chain(settings)
    loop = asyncio.get_running_loop()
    key = (
        id(loop),
        settings.apns_endpoint,
        str(chain.certificate_file),
        str(settings.apns_ca_file or ""),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                http2=True,
                verify=_tls_context(settings, chain),
                timeout=httpx.Timeout(settings.apns_timeout_seconds),
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
            _clients[key] = client
        return client


async def close_clients() -> None:
    """Closes this event loop's clients (tests and shutdown)."""
    loop_id = id(asyncio.get_running_loop())
    with _clients_lock:
        mine = [key for key in _clients if key[0] == loop_id]
        closing = [_clients.pop(key) for key in mine]
    for client in closing:
        await client.aclose()


async def send_push(settings: DeliverySettings, message: Message, project: Project) -> str:
    """200: sent. 410: the device dropped the pass; its registration is removed and the push
    settles as sent (retrying cannot help). 429, 5xx and network failures are retried."""
    topic = str(message.payload.get("pass_type_id") or settings.apple_pass_type_id)
    url = f"{settings.apns_endpoint}/3/device/{message.to}"
    try:
        response = await client_for(settings).post(
            url,
            content=b"{}",
            headers={
                "apns-topic": topic,
                "apns-push-type": "background",
                "content-type": "application/json",
            },
        )
    except httpx.TimeoutException as error:
        raise TransientSendError(f"APNs timed out: {error}") from error
    except httpx.TransportError as error:
        raise TransientSendError(f"APNs unreachable: {type(error).__name__}: {error}") from error
    apns_id = response.headers.get("apns-id", "")
    if response.status_code == 200:
        return apns_id or "sent"
    reason = _reason(response)
    if response.status_code == 410:
        await wallet.remove_registration(
            message.project_id, str(message.payload.get("registration_id", "")), message.to
        )
        return f"{GONE}:{apns_id}" if apns_id else GONE
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(f"APNs answered {response.status_code} {reason}")
    raise PermanentSendError(f"APNs answered {response.status_code} {reason}")


def _reason(response: httpx.Response) -> str:
    try:
        return str(json.loads(response.content or b"{}").get("reason", ""))
    except (ValueError, AttributeError):
        return ""


async def sink_push(settings: DeliverySettings, message: Message, project: Project) -> str:
    """Sandbox projects, or no push service configured: recorded under the outbox sink."""
    record = {
        "message_id": message.key,
        "channel": message.channel.value,
        "to": message.to,
        "topic": str(message.payload.get("pass_type_id") or settings.apple_pass_type_id),
        "serial": message.payload.get("serial", ""),
        "tag": message.payload.get("tag", 0),
        "body": {},
    }
    return sink.write_push(Path(settings.sink_dir), message.project_id, record)


register_sender(
    MessageChannel.APPLE_PUSH,
    ChannelSender(
        configured=lambda settings: settings.apns_configured, send=send_push, sink=sink_push
    ),
)
