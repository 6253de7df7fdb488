"""The in-process job loop: leases and runs background jobs until the service stops."""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Protocol

from delivery.automation import AutomationExecutor
from domain.codes import emit_pending_published
from domain.events import dispatch_pending_events, emit_birthday_events, emit_dormant_events
from domain.jobs import JobRunner
from domain.loyalty import expire_points, repair_stale_cards
from domain.messages import emit_pending_reports
from domain.orders import apply_pending_order_effects
from domain.referrals import release_due_rewards
from domain.rfm import queue_due_rfm
from domain.service_leases import hold_lease, release_lease

log = logging.getLogger("engage.jobs")

IDLE_SECONDS = 1.0
# After an unexpected error (the database unreachable, say), wait before polling again.
ERROR_SECONDS = 5.0
# How long stopping waits for the runner to hand its job back before giving up on it.
STOP_SECONDS = 10.0
# How often the loop finishes order effects and loyalty ledger entries that a crashed process
# left undone, and releases referral rewards whose hold has passed.
SWEEP_SECONDS = 30.0
# Points expire at most this long after their time; a run with nothing due is one query.
EXPIRY_SECONDS = 300.0
# How often the loop looks for projects whose daily RFM recomputation is due.
RFM_CHECK_SECONDS = 600.0
# How often the dormancy and birthday sweeps look whether a project's day is still unswept.
EVENT_SWEEP_SECONDS = 900.0


async def run_jobs_forever(
    runner: JobRunner, idle_seconds: float = IDLE_SECONDS, error_seconds: float = ERROR_SECONDS
) -> None:
    """Runs jobs one after another, the order effects, loyalty, referral and webhook repair
    sweeps every SWEEP_SECONDS and queues the daily RFM jobs that are due; sleeps when no job
    waits; never dies of an error."""
    next_sweep = next_rfm = 0.0
    while True:
        try:
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + SWEEP_SECONDS
                await apply_pending_order_effects()
                await repair_stale_cards()
                await release_due_rewards()
                await emit_pending_published()
                await emit_pending_reports()
            if time.monotonic() >= next_rfm:
                next_rfm = time.monotonic() + RFM_CHECK_SECONDS
                await queue_due_rfm()
            worked = await runner.run_one()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job runner %s: polling failed", runner.owner)
            await asyncio.sleep(error_seconds)
            continue
        if not worked:
            await asyncio.sleep(idle_seconds)


async def expire_points_forever(
    every_seconds: float = EXPIRY_SECONDS, error_seconds: float = ERROR_SECONDS
) -> None:
    """Expires loyalty points now and then. Every process may run it: each expiry is written
    once, whoever gets there first."""
    while True:
        try:
            await expire_points()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("points expiry failed")
            await asyncio.sleep(error_seconds)
            continue
        await asyncio.sleep(every_seconds)


async def run_automations_forever(
    executor: AutomationExecutor,
    idle_seconds: float = IDLE_SECONDS,
    error_seconds: float = ERROR_SECONDS,
) -> None:
    """Performs due automation actions; now and then dispatches events a crashed process left
    and runs the daily event sweeps (each project's day is swept once, by any process)."""
    next_dispatch = next_daily = 0.0
    while True:
        try:
            if time.monotonic() >= next_dispatch:
                next_dispatch = time.monotonic() + SWEEP_SECONDS
                await dispatch_pending_events()
            if time.monotonic() >= next_daily:
                next_daily = time.monotonic() + EVENT_SWEEP_SECONDS
                await emit_dormant_events()
                await emit_birthday_events()
            worked = await executor.run_one()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("automation executor %s: polling failed", executor.owner)
            await asyncio.sleep(error_seconds)
            continue
        if worked is None:
            await asyncio.sleep(idle_seconds)


class BackgroundJobs:
    """Starts the loop as a task; `stop` cancels it and waits, so shutdown is quick and clean."""

    def __init__(
        self,
        runner: JobRunner | None = None,
        idle_seconds: float = IDLE_SECONDS,
        automation: AutomationExecutor | None = None,
    ):
        self.runner = runner or JobRunner()
        self.idle_seconds = idle_seconds
        self.automation = automation
        self._task: asyncio.Task[None] | None = None
        self._expiry: asyncio.Task[None] | None = None
        self._automation: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._task = asyncio.create_task(
            run_jobs_forever(self.runner, self.idle_seconds), name="engage-jobs"
        )
        self._expiry = asyncio.create_task(expire_points_forever(), name="engage-points-expiry")
        if self.automation is not None:
            self._automation = asyncio.create_task(
                run_automations_forever(self.automation, self.idle_seconds),
                name="engage-automation",
            )
        log.info("job runner %s started", self.runner.owner)

    async def stop(self) -> None:
        # A stopped executor's leased actions go to another executor when their leases end.
        sides, self._expiry, self._automation = (self._expiry, self._automation), None, None
        for side in sides:
            if side is not None:
                side.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await side
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # A cancelled runner releases its job (one quick write) before it ends.
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            log.warning("job runner %s did not stop in %.0f s", self.runner.owner, STOP_SECONDS)
            return
        with contextlib.suppress(asyncio.CancelledError):
            error = task.exception()
            if error is not None:
                log.error("job runner %s ended with %r", self.runner.owner, error)
        log.info("job runner %s stopped", self.runner.owner)


class Startable(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


# The background lease: renewed every LEASE_RENEW_SECONDS, taken over by another process once
# LEASE_SECONDS pass without renewal (the holder died).
BACKGROUND_LEASE = "background"
LEASE_SECONDS = 15.0
LEASE_RENEW_SECONDS = 5.0


class BackgroundLeader:
    """Runs the given loops only while this process holds the background lease, so among the
    processes of `engage serve --workers N` (or several services on one database) they run in
    exactly one at a time. A process that cannot renew the lease stops its loops before the
    lease can pass to another."""

    def __init__(
        self,
        loops: list[Startable],
        *,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = LEASE_RENEW_SECONDS,
    ) -> None:
        self.loops = loops
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._keep(), name="engage-background-lease")

    async def _keep(self) -> None:
        while True:
            try:
                held = await hold_lease(
                    name=BACKGROUND_LEASE, owner=self.owner, seconds=self.lease_seconds
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background lease %s: renewal failed", self.owner)
                held = False
            if held and not self.leading:
                self.leading = True
                for loop in self.loops:
                    loop.start()
                log.info("background loops run in %s", self.owner)
            elif not held and self.leading:
                await self._stop_loops()
            await asyncio.sleep(self.renew_seconds)

    async def _stop_loops(self) -> None:
        self.leading = False
        for loop in self.loops:
            await loop.stop()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.leading:
            await self._stop_loops()
            with contextlib.suppress(Exception):
                # Another process may take over at once rather than when the lease runs out.
                await release_lease(name=BACKGROUND_LEASE, owner=self.owner)
