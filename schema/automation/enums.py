"""GraphQL enums of automations: their status, action types and scheduled actions' status."""

from enum import Enum

import strawberry


@strawberry.enum(name="AutomationStatus")
class AutomationStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


@strawberry.enum(name="AutomationActionType")
class ActionTypeEnum(Enum):
    SEND_CODE = "SEND_CODE"
    AWARD_POINTS = "AWARD_POINTS"


@strawberry.enum(name="ScheduledActionStatus")
class ActionStatusEnum(Enum):
    PENDING = "PENDING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
