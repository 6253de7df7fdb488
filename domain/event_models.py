"""Customer events as stored (CustomerEvent, EventSweep) and named: the built-in names and the
rule every name follows. Automations read these without depending on how events are emitted."""

import re
from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now
from domain.errors import DomainError, ErrorCode


class EventError(ErrorCode):
    """Returned by trackEvent and the automation triggers naming an event."""

    INVALID_EVENT_NAME = "INVALID_EVENT_NAME"
    PROPERTIES_TOO_LARGE = "PROPERTIES_TOO_LARGE"
    RESERVED_EVENT = "RESERVED_EVENT"


NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")

CUSTOMER_CREATED = "customer.created"
ORDER_RECORDED = "order.recorded"
POINTS_CHANGED = "points.changed"
CUSTOMER_DORMANT = "customer.dormant"
BIRTHDAY = "birthday"
REFERRAL_QUALIFIED = "referral.qualified"
CART_ABANDONED = "cart.abandoned"
# Emitted by Engage itself: trackEvent refuses them so a caller cannot fake an order or a birthday.
BUILT_IN = frozenset(
    {CUSTOMER_CREATED, ORDER_RECORDED, POINTS_CHANGED, CUSTOMER_DORMANT, BIRTHDAY}
    | {REFERRAL_QUALIFIED}
)


class CustomerEvent(Document):
    project_id: str
    customer_id: str
    name: str
    properties: dict[str, Any] = Field(default_factory=dict)
    # When it happened (the shop may say); created_at is when it was stored.
    at: datetime = Field(default_factory=utc_now)
    # "api" (an admin key), "customer" (the customer's token) or "engage" (built-in).
    source: str = "api"
    # Absent (None) keys are outside the partial unique index: the same event is stored once.
    dedupe_key: str | None = None
    # True until the automations it triggers or cancels have been looked at.
    dispatch_pending: bool = False
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "customer_events"
        indexes = [
            IndexModel([("project_id", 1), ("customer_id", 1), ("name", 1), ("at", 1)]),
            IndexModel(
                [("project_id", 1), ("dedupe_key", 1)],
                unique=True,
                partialFilterExpression={"dedupe_key": {"$type": "string"}},
                name="project_dedupe_key_unique",
            ),
            IndexModel([("dispatch_pending", 1), ("created_at", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class EventSweep(Document):
    """How far a daily sweep of a project got, so a day is swept once and none is skipped."""

    project_id: str
    # "dormant:<days>" or "birthday".
    kind: str
    # The last day swept (UTC for dormancy, the project's local date for birthdays).
    swept_on: str = ""
    # Dormancy: customers whose last order is before this were already looked at.
    through: datetime | None = None

    class Settings:
        name = "event_sweeps"
        indexes = [
            IndexModel([("project_id", 1), ("kind", 1)], unique=True, name="project_kind_unique")
        ]


def check_name(raw: str, field: str = "name") -> str:
    name = (raw or "").strip()
    if not NAME_PATTERN.match(name):
        raise DomainError(
            EventError.INVALID_EVENT_NAME,
            "an event name is 1 to 64 characters: a lower-case letter, then letters, digits, "
            "'_' or '.'",
            field,
        )
    return name
