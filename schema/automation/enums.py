"""GraphQL enums of automations: their status, action types and scheduled actions' status."""

from enum import Enum

import strawberry


@strawberry.enum(
    name="AutomationStatus",
    description="Whether an automation acts on events.",
)
class AutomationStatusEnum(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Matching events schedule its action.")
    PAUSED = strawberry.enum_value(
        "PAUSED", description="It schedules nothing; actions already pending are skipped when due."
    )


@strawberry.enum(
    name="AutomationActionType",
    description="What an automation does for the customer.",
)
class ActionTypeEnum(Enum):
    SEND_CODE = strawberry.enum_value(
        "SEND_CODE",
        description=(
            "Publishes a code of a DISCOUNT campaign to the customer and sends it on a channel."
        ),
    )
    AWARD_POINTS = strawberry.enum_value(
        "AWARD_POINTS", description="Gives the customer points in a LOYALTY program."
    )


@strawberry.enum(
    name="ScheduledActionStatus",
    description="What became of a scheduled action.",
)
class ActionStatusEnum(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Waiting for its due time (or being performed)."
    )
    DONE = strawberry.enum_value("DONE", description="Performed.")
    CANCELLED = strawberry.enum_value(
        "CANCELLED",
        description="Cancelled by one of the automation's cancelOn events before it was due.",
    )
    SKIPPED = strawberry.enum_value(
        "SKIPPED",
        description=(
            "Not performed: the frequency cap, a paused automation, an erased "
            "customer or the segments ruled it out."
        ),
    )
    FAILED = strawberry.enum_value(
        "FAILED", description="Performing it failed for good (after 5 attempts); `detail` says why."
    )
