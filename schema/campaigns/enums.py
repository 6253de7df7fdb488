"""GraphQL enums of a campaign: its kind, status, discount type and scope, code mode."""

from enum import Enum

import strawberry


@strawberry.enum(name="CampaignKind")
class CampaignKindEnum(Enum):
    DISCOUNT = "DISCOUNT"
    REFERRAL = "REFERRAL"
    LOYALTY = "LOYALTY"


@strawberry.enum(name="CampaignStatus")
class CampaignStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"


@strawberry.enum(name="DiscountType")
class DiscountTypeEnum(Enum):
    PERCENT = "PERCENT"
    AMOUNT = "AMOUNT"
    FIXED_PRICE = "FIXED_PRICE"
    FREE_SHIPPING = "FREE_SHIPPING"


@strawberry.enum(name="DiscountScope")
class DiscountScopeEnum(Enum):
    ORDER = "ORDER"
    ELIGIBLE_ITEMS = "ELIGIBLE_ITEMS"


@strawberry.enum(name="CodeMode")
class CodeModeEnum(Enum):
    ALPHANUMERIC = "ALPHANUMERIC"
    NUMERIC = "NUMERIC"
