"""The outbox worker: leases due messages, checks consent and quiet hours, sends, settles once."""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from delivery import email, providers, sink, sms
from delivery.channels import (
    SENDERS,
    ChannelSender,
    Envelope,
    PermanentSendError,
    SendError,
    register_sender,
)
from delivery.config import DeliverySettings
from delivery.outbox import consent_refusal
from delivery.polling import drain, poll_forever
from delivery.wallet import apns as _apns  # noqa: F401 (registers APPLE_PUSH)
from delivery.wallet import google as _google_wallet  # noqa: F401 (registers GOOGLE_UPDATE)
from domain import messages, projects, wallet
from domain.common import object_id, utc_now
from domain.customers import Customer
from domain.errors import NotFound
from domain.messages import Message, MessageChannel
from domain.projects import Project
from domain.quiet_hours import parse_clock, quiet_until, zone_or

log = logging.getLogger("engage.worker")

IDLE_SECONDS = 0.5
STOP_SECONDS = 10.0


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    LOST = "lost"


class OutboxWorker:
    """Sends outbox messages; any number of workers, in any number of processes, may share one
    database: a message is leased by one of them at a time and settled only by its lease holder."""

    def __init__(
        self,
        settings: DeliverySettings,
        owner: str | None = None,
        lease: timedelta | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.settings = settings
        self.owner = owner or _worker_name()
        self.lease = lease or timedelta(seconds=settings.worker_lease_seconds)
        self.concurrency = max(1, concurrency or settings.worker_concurrency)
        self._projects: dict[str, Project] = {}
        # One wallet step at a time per worker: its idle tasks would otherwise all queue the
        # same passes' pushes at once (harmless, the keys dedupe them, but wasted).
        self._wallet_step = asyncio.Lock()

    async def _project(self, project_id: str) -> Project | None:
        """The project as it stands: the copy held while its settings version is unchanged, so
        a change made through any process applies to the next message."""
        # A database error propagates: the message's lease runs out and it is tried again.
        with contextlib.suppress(NotFound):
            version = await projects.settings_version(project_id)
            cached = self._projects.get(project_id)
            if version is None:
                self._projects.pop(project_id, None)
                return None
            if cached is not None and cached.settings_version == version:
                return cached
            project = await Project.get(object_id(project_id, "project"))
            if project is not None:
                self._projects[project_id] = project
            return project
        return None

    async def run_one(self) -> Outcome | None:
        """Leases and handles one due message; None when nothing is due. With nothing due,
        the pushes of wallet passes whose marker is set are queued first and looked for."""
        message = await messages.lease_message(self.owner, self.lease)
        if message is None and await self.queue_wallet_updates():
            message = await messages.lease_message(self.owner, self.lease)
        if message is None:
            return None
        return await self.handle(message)

    async def queue_wallet_updates(self) -> int | None:
        """Queues the pushes of wallet passes whose push marker is set (by a change in this
        process or another, or left by one that died); None when no marker is set, or when
        another task of this worker is at it."""
        if self._wallet_step.locked():
            return None
        async with self._wallet_step:
            return await wallet.queue_pending_updates() or None

    async def run_until_idle(self) -> int:
        """Handles due messages with `concurrency` tasks until none is due; returns how many."""
        return await drain(self.run_one, self.concurrency)

    async def run_forever(self, idle_seconds: float = IDLE_SECONDS) -> None:
        # Idle tasks sleep long, at random: together they still look about every
        # `idle_seconds`, without each polling the database that often.
        each = idle_seconds * self.concurrency
        who = f"outbox worker {self.owner}"
        await asyncio.gather(
            # Its own poller too: a busy outbox would otherwise keep the pushes waiting.
            poll_forever(self.queue_wallet_updates, idle_seconds, log, f"{who} (wallet)"),
            *(poll_forever(self.run_one, each, log, who) for _ in range(self.concurrency)),
        )

    async def handle(self, message: Message) -> Outcome:
        project = await self._project(message.project_id)
        if project is None:
            await messages.mark_failed(message, self.owner, "the project no longer exists")
            return Outcome.FAILED
        sender = SENDERS.get(message.channel)
        if sender is None:
            await messages.mark_failed(message, self.owner, f"no sender for {message.channel}")
            return Outcome.FAILED
        if message.channel in (MessageChannel.EMAIL, MessageChannel.SMS):
            early = await self._before_customer_send(message, project)
            if early is not None:
                return early
        try:
            reason = sender.reason_to_sink(self.settings, project)
            if reason:
                provider_id = await sender.sink(self.settings, message, project)
                settled = await messages.mark_sent(
                    message, self.owner, provider_id, sink=True, sink_reason=reason
                )
            else:
                provider_id = await sender.send(self.settings, message, project)
                settled = await messages.mark_sent(message, self.owner, provider_id)
        except PermanentSendError as error:
            await messages.mark_failed(message, self.owner, str(error) or type(error).__name__)
            return Outcome.FAILED
        except SendError as error:
            # TransientSendError, or a sender's own SendError: worth another attempt.
            return await self._retry(message, str(error) or type(error).__name__)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # A bug or an unexpected provider answer: retried like a transient failure, and
            # logged, so a message is never dropped silently.
            log.exception("outbox worker %s: message %s failed", self.owner, message.key)
            return await self._retry(message, f"{type(error).__name__}: {error}")
        if not settled:
            log.warning("message %s was settled by another worker", message.key)
            return Outcome.LOST
        return Outcome.SENT

    async def _retry(self, message: Message, error: str) -> Outcome:
        at = utc_now() + messages.backoff(message.attempts)
        await messages.retry_later(message, self.owner, error, at)
        return Outcome.RETRY if message.attempts < message.max_attempts else Outcome.FAILED

    async def _before_customer_send(self, message: Message, project: Project) -> Outcome | None:
        """Consent and quiet hours, checked again now that the message is about to leave."""
        customer = None
        with contextlib.suppress(NotFound):
            customer = await Customer.find_one(
                {"_id": object_id(message.customer_id, "customer"), "project_id": project.key}
            )
        if customer is None or customer.erased:
            await messages.mark_suppressed(message, self.owner, "the customer was erased")
            return Outcome.SUPPRESSED
        refusal = await consent_refusal(customer, message.channel, message.to)
        if refusal:
            await messages.mark_suppressed(message, self.owner, refusal)
            return Outcome.SUPPRESSED
        if message.channel == MessageChannel.SMS:
            wake = sms_quiet_until(project, customer)
            if wake is not None:
                await messages.defer(message, self.owner, wake)
                # Messaging changed meanwhile: its wake-up may have run before this hold.
                if await projects.settings_version(project.key) != project.settings_version:
                    await messages.wake_quiet_held(project.key)
                return Outcome.DEFERRED
        return None


def sms_quiet_until(project: Project, customer: Customer) -> datetime | None:
    rules = project.messaging
    if not rules.quiet_hours:
        return None
    zone = zone_or(customer.attributes.get("timezone"), rules.timezone)
    start = parse_clock(rules.quiet_start, "quietStart")
    end = parse_clock(rules.quiet_end, "quietEnd")
    return quiet_until(utc_now(), zone, start, end)


def envelope_of(settings: DeliverySettings, message: Message, project: Project) -> Envelope:
    if message.channel == MessageChannel.EMAIL:
        sender = providers.default_email_sender(settings, project)
        unsubscribe = message.payload.get("unsubscribe_url", "")
        callback = ""
    else:
        sender = providers.default_sms_sender(settings, project)
        unsubscribe = ""
        # Naming the message lets a report that outruns mark_sent find it.
        callback = f"{settings.public_base_url}/hooks/twilio/status?message={message.key}"
    return Envelope(
        message_id=message.key,
        project_id=message.project_id,
        to=message.to,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        sender=sender,
        unsubscribe_url=str(unsubscribe),
        status_callback=callback,
    )


async def _send_email(settings: DeliverySettings, message: Message, project: Project) -> str:
    server = providers.smtp_connection(settings, project)
    return await email.send_email_via(server, envelope_of(settings, message, project))


async def _sink_email(settings: DeliverySettings, message: Message, project: Project) -> str:
    return sink.write_email(settings.sink_dir, envelope_of(settings, message, project))


async def _send_sms(settings: DeliverySettings, message: Message, project: Project) -> str:
    account = providers.twilio_connection(settings, project)
    return await sms.send_sms_via(account, envelope_of(settings, message, project))


async def _sink_sms(settings: DeliverySettings, message: Message, project: Project) -> str:
    return sink.write_sms(settings.sink_dir, envelope_of(settings, message, project))


register_sender(
    MessageChannel.EMAIL,
    ChannelSender(
        configured=lambda settings: settings.email_configured,
        send=_send_email,
        sink=_sink_email,
        sink_reason=lambda settings, project: (
            providers.sink_reason(settings, project, MessageChannel.EMAIL) or ""
        ),
    ),
)
register_sender(
    MessageChannel.SMS,
    ChannelSender(
        configured=lambda settings: settings.sms_configured,
        send=_send_sms,
        sink=_sink_sms,
        sink_reason=lambda settings, project: (
            providers.sink_reason(settings, project, MessageChannel.SMS) or ""
        ),
    ),
)


class BackgroundWorker:
    """The worker as a task inside `engage serve`; `stop` cancels it and waits."""

    def __init__(self, worker: OutboxWorker) -> None:
        self.worker = worker
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.worker.run_forever(), name="engage-outbox")
            log.info("outbox worker %s started", self.worker.owner)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # Messages it held stay leased until the lease ends, then another worker sends them.
        await asyncio.wait({task}, timeout=STOP_SECONDS)
        await sms.close_sms_clients()
        log.info("outbox worker %s stopped", self.worker.owner)
