"""The automation executor: leases due scheduled actions, checks them again, and sends the code
through the outbox or awards the points, with keys derived from the action so a crash between
two steps never does anything twice."""

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from delivery.outbox import Links, queue_message
from delivery.polling import drain
from domain import automation as automations
from domain import experiments
from domain.automation import ActionStatus, ActionType, Automation, ScheduledAction
from domain.codes import find_code, publish_code
from domain.common import as_utc, utc_now
from domain.errors import DomainError
from domain.loyalty import grant_points
from domain.messages import MessageChannel

log = logging.getLogger("engage.automation")


def _executor_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def _variant_template(project_id: str, raw_code: str, channel: MessageChannel) -> str:
    """Without a template of its own, an action sends what publishCode(channel) would: the
    code's experiment variant's template for the channel, or "" for the default."""
    code = await find_code(project_id, raw_code)
    return (
        await experiments.template_for_code(code=code, channel=channel.value)
        if code is not None
        else ""
    )


class AutomationExecutor:
    """Any number of executors, in any number of processes, may share one database: an action
    is leased by one at a time, and only its lease holder settles it."""

    def __init__(
        self, links: Links, owner: str | None = None, lease: timedelta = automations.LEASE
    ) -> None:
        self.links = links
        self.owner = owner or _executor_name()
        self.lease = lease

    async def run_one(self, now: datetime | None = None) -> str | None:
        """Leases and handles one due action; None when nothing is due."""
        now = as_utc(now) if now is not None else utc_now()
        action = await automations.lease_due_action(owner=self.owner, now=now, lease=self.lease)
        if action is None:
            return None
        return await self.handle(action, now)

    async def run_due(self, now: datetime | None = None, concurrency: int = 1) -> int:
        """Handles every action due at `now`; returns how many."""
        return await drain(lambda: self.run_one(now), concurrency)

    async def handle(self, action: ScheduledAction, now: datetime) -> str:
        """Returns the status the action was settled with ("LOST" when its lease went)."""
        try:
            decision = await automations.decide(action=action, owner=self.owner, now=now)
            if decision.status is not None or decision.automation is None:
                status = decision.status or ActionStatus.SKIPPED
                settled = await automations.settle(
                    action=action, owner=self.owner, status=status, detail=decision.detail, now=now
                )
                return status.value if settled else "LOST"
            detail = await self.perform(action, decision.automation)
        except DomainError as error:
            # The caller's configuration refuses it (no address, campaign ended): not retried.
            await automations.settle(
                action=action,
                owner=self.owner,
                status=ActionStatus.FAILED,
                detail=f"{error.code}: {error}",
                now=now,
            )
            await automations.release_run(action=action)
            return ActionStatus.FAILED.value
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("automation executor %s: action %s failed", self.owner, action.key)
            reason = f"{type(error).__name__}: {error}"
            await automations.retry_later(action=action, owner=self.owner, error=reason, now=now)
            return "RETRY"
        settled = await automations.settle(
            action=action, owner=self.owner, status=ActionStatus.DONE, detail=detail, now=now
        )
        return ActionStatus.DONE.value if settled else "LOST"

    async def perform(self, action: ScheduledAction, automation: Automation) -> str:
        """The action's effect, safe to repeat: the code is remembered on the action, the
        message and the points are keyed by the action's id."""
        spec = automation.action
        key = f"automation:{action.key}"
        if spec.type == ActionType.AWARD_POINTS:
            await grant_points(
                project_id=action.project_id,
                campaign_id=spec.campaign_id,
                customer_id=action.customer_id,
                points=spec.points,
                key=key,
                reason=f"automation {automation.name}",
            )
            return f"{spec.points} points awarded"
        code = action.code
        if not code:
            published = await publish_code(action.project_id, spec.campaign_id, action.customer_id)
            code = published.code
            await automations.note_progress(action=action, owner=self.owner, code=code)
        channel = MessageChannel(spec.channel)
        template = spec.template_id or await _variant_template(action.project_id, code, channel)
        message = await queue_message(
            self.links, action.project_id, action.customer_id, channel, template, code, key
        )
        await automations.note_progress(action=action, owner=self.owner, message_id=message.key)
        if message.error:
            return f"code {code}; message {message.key} {message.status.value}: {message.error}"
        return f"code {code}; message {message.key} {message.status.value}"
