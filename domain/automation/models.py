"""Automations' stored documents: the automation, its scheduled actions and frequency slots."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel

from domain.common import utc_now

# Stands for "never": the embedded server cannot match null reliably.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_PERIOD_DAYS = 30


class AutomationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


class ActionType(StrEnum):
    SEND_CODE = "SEND_CODE"
    AWARD_POINTS = "AWARD_POINTS"


class ActionStatus(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


class AutomationAction(BaseModel):
    type: ActionType
    # SEND_CODE: a DISCOUNT campaign; AWARD_POINTS: a LOYALTY program.
    campaign_id: str
    channel: str = ""
    template_id: str = ""
    points: int = 0


class Automation(Document):
    project_id: str
    name: str
    # An event name; points.threshold listens to points.changed.
    trigger: str
    # Conditions on the event's properties; see conditions_match.
    conditions: dict[str, Any] = Field(default_factory=dict)
    segment_ids: list[str] = Field(default_factory=list)
    delay_seconds: int = 0
    cancel_on: list[str] = Field(default_factory=list)
    action: AutomationAction
    # A customer is acted on at most once per this many days; 0: once ever.
    period_days: int = DEFAULT_PERIOD_DAYS
    status: AutomationStatus = AutomationStatus.ACTIVE
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "automations"
        indexes = [
            IndexModel([("project_id", 1), ("status", 1)]),
            IndexModel([("status", 1), ("trigger", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class ScheduledAction(Document):
    """One triggering event's pending action; the unique key makes an event schedule once."""

    project_id: str
    automation_id: str
    customer_id: str
    event_id: str
    event_name: str
    triggered_at: datetime
    # When it is due; leasing never moves it (older records leased before lease_until existed
    # carry their lease's end here, and are read that way).
    due_at: datetime
    status: ActionStatus = ActionStatus.PENDING
    lease_owner: str = ""
    lease_until: datetime = EPOCH
    attempts: int = 0
    # Set once every check passed and the frequency slot is held: a retry after a crash then
    # finishes the action instead of judging it again.
    claimed: bool = False
    # SEND_CODE: the code published to the customer, and the message carrying it.
    code: str = ""
    message_id: str = ""
    detail: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None

    class Settings:
        name = "scheduled_actions"
        indexes = [
            IndexModel(
                [("project_id", 1), ("automation_id", 1), ("event_id", 1)],
                unique=True,
                name="project_automation_event_unique",
            ),
            IndexModel([("status", 1), ("due_at", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1), ("status", 1)]),
            IndexModel([("project_id", 1), ("automation_id", 1), ("status", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class AutomationRun(Document):
    """The frequency slot of one customer in one automation: which action holds it, since
    when. Moved by compare-and-set on `version`, so one action wins however many race."""

    project_id: str
    automation_id: str
    customer_id: str
    holder: str = ""
    held_at: datetime = EPOCH
    # What a failed holder gives the slot back to.
    previous_holder: str = ""
    previous_held_at: datetime = EPOCH
    version: int = 0

    class Settings:
        name = "automation_runs"
        indexes = [
            IndexModel(
                [("project_id", 1), ("automation_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_automation_customer_unique",
            )
        ]
