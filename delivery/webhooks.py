"""Sending webhook deliveries: signed the Standard Webhooks way, one POST per attempt, each
attempt logged, settled by the lease holder only."""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

import httpx

from delivery.config import DeliverySettings
from delivery.polling import drain, poll_forever
from domain.common import as_utc, utc_now
from domain.secret_box import SecretKeyMismatch
from domain.webhooks import (
    Webhook,
    WebhookDelivery,
    WebhookStatus,
    is_private_ip,
    outbox,
    secret_bytes,
)

log = logging.getLogger("engage.webhooks")

IDLE_SECONDS = 0.5
# An endpoint has this long to answer; a slower answer counts as a failed attempt.
TIMEOUT_SECONDS = 10.0
USER_AGENT = "Engage-Webhooks/1"


def sign(*, secret: bytes, event_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: v1, then base64 of HMAC-SHA256 over id.timestamp.body."""
    signed = f"{event_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secret: bytes, event_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, event_id=event_id, timestamp=timestamp, body=body),
    }


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    HELD = "held"
    WAITING = "waiting"
    # A prepared event whose change never happened.
    DROPPED = "dropped"
    LOST = "lost"


class RefusedAddress(Exception):
    """The endpoint's name resolves to a loopback or private address (production only)."""


async def check_resolved(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        # Left to the request, which fails and is retried like any unreachable endpoint.
        return
    private = sorted({str(info[4][0]) for info in infos if is_private_ip(str(info[4][0]))})
    if private:
        raise RefusedAddress(f"{host} resolves to {', '.join(private)}: a private address")


class WebhookWorker:
    """Sends due webhook deliveries; any number of workers in any number of processes may share
    a database. `clock` decides what is due and when a failing endpoint is paused (tests move
    it); the webhook-timestamp header always carries the real time, which receivers check."""

    def __init__(
        self,
        settings: DeliverySettings,
        owner: str | None = None,
        lease: timedelta | None = None,
        concurrency: int | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease or timedelta(seconds=settings.worker_lease_seconds)
        self.concurrency = max(1, concurrency or settings.worker_concurrency)
        self.clock = clock
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
            )
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def run_one(self) -> Outcome | None:
        delivery = await outbox.lease_delivery(owner=self.owner, now=self.clock(), lease=self.lease)
        if delivery is None:
            return None
        return await self.handle(delivery)

    async def run_until_idle(self) -> int:
        return await drain(self.run_one, self.concurrency)

    async def run_forever(self, idle_seconds: float = IDLE_SECONDS) -> None:
        each = idle_seconds * self.concurrency
        who = f"webhook worker {self.owner}"
        await asyncio.gather(
            *(poll_forever(self.run_one, each, log, who) for _ in range(self.concurrency))
        )

    async def handle(self, delivery: WebhookDelivery) -> Outcome:
        now = self.clock()
        webhook = await Webhook.get(outbox.webhook_oid(delivery))
        if webhook is None or webhook.project_id != delivery.project_id:
            await outbox.mark_failed(
                delivery,
                self.owner,
                now,
                status_code=0,
                latency_ms=0,
                error="the webhook was deleted",
                retry=False,
            )
            return Outcome.FAILED
        if webhook.status == WebhookStatus.PAUSED:
            await outbox.hold(delivery, self.owner, now)
            return Outcome.HELD
        if delivery.confirm_pending:
            # Its writer died between writing the event and making the change, or is slow.
            if not await outbox.change_made(delivery):
                if now - as_utc(delivery.created_at) >= outbox.CONFIRM_GIVE_UP:
                    await outbox.drop(delivery, self.owner)
                    return Outcome.DROPPED
                await outbox.recheck_later(delivery, self.owner, now)
                return Outcome.WAITING
            await outbox.confirm_found(delivery, self.owner, now)
        earlier = await outbox.earlier_open(delivery)
        if earlier is not None:
            await outbox.wait_for_earlier(delivery, self.owner, now, earlier.due_at)
            return Outcome.WAITING
        try:
            secret = secret_bytes(
                secret_keys=[self.settings.secret_key, self.settings.previous_secret_key],
                webhook=webhook,
            )
            if self.settings.env == "production":
                await check_resolved(webhook.url)
        except (SecretKeyMismatch, RefusedAddress) as refusal:
            await outbox.record_attempt(
                delivery, now=now, status_code=0, latency_ms=0, error=str(refusal)
            )
            await outbox.mark_failed(
                delivery,
                self.owner,
                now,
                status_code=0,
                latency_ms=0,
                error=str(refusal),
                retry=False,
            )
            return Outcome.FAILED
        headers = signed_headers(
            secret=secret,
            event_id=delivery.event_id,
            timestamp=int(time.time()),
            body=delivery.body,
        )
        started = time.monotonic()
        status_code, error = 0, ""
        try:
            response = await self._http().post(webhook.url, content=delivery.body, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:200]}"
        except httpx.HTTPError as failure:
            error = (
                f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
            )
        latency_ms = int((time.monotonic() - started) * 1000)
        now = self.clock()
        await outbox.record_attempt(
            delivery, now=now, status_code=status_code, latency_ms=latency_ms, error=error
        )
        if not error:
            settled = await outbox.mark_succeeded(
                delivery,
                self.owner,
                now,
                status_code=status_code,
                latency_ms=latency_ms,
                was_failing=webhook.failing,
            )
            return Outcome.SUCCEEDED if settled else Outcome.LOST
        await outbox.mark_failed(
            delivery,
            self.owner,
            now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            retry=True,
        )
        if await outbox.note_failure(webhook, now):
            log.warning("webhook %s failed for a day and was paused", webhook.key)
        return Outcome.RETRY


class BackgroundWebhooks:
    """The webhook worker as a task inside a process; `stop` cancels it and waits."""

    def __init__(self, worker: WebhookWorker) -> None:
        self.worker = worker
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.worker.run_forever(), name="engage-webhooks")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task}, timeout=10.0)
        await self.worker.close()
