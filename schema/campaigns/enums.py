"""GraphQL enums of a campaign: its kind, status, discount type and scope, code mode."""

from enum import Enum

import strawberry


@strawberry.enum(
    name="CampaignKind",
    description="What a campaign runs: coupon codes, a referral program or a loyalty program.",
)
class CampaignKindEnum(Enum):
    DISCOUNT = strawberry.enum_value(
        "DISCOUNT",
        description="Codes that take a discount off an order.",
    )
    REFERRAL = strawberry.enum_value(
        "REFERRAL",
        description=(
            "A referral program: customers share links and codes, both sides are rewarded."
        ),
    )
    LOYALTY = strawberry.enum_value(
        "LOYALTY",
        description=(
            "A loyalty program: customers earn points on cards and exchange them for rewards."
        ),
    )


@strawberry.enum(name="CampaignStatus", description="Whether a campaign is running.")
class CampaignStatusEnum(Enum):
    ACTIVE = strawberry.enum_value(
        "ACTIVE",
        description="Running: its codes redeem within its dates, rules and limits.",
    )
    PAUSED = strawberry.enum_value(
        "PAUSED",
        description="Stopped for now; can be made ACTIVE again. Codes are refused with PAUSED.",
    )
    ENDED = strawberry.enum_value(
        "ENDED",
        description="Stopped for good: takes no new codes or activity.",
    )


@strawberry.enum(name="DiscountType", description="How a discount is computed.")
class DiscountTypeEnum(Enum):
    PERCENT = strawberry.enum_value(
        "PERCENT",
        description="percentOff percent of what it applies to, capped by maxDiscount.",
    )
    AMOUNT = strawberry.enum_value(
        "AMOUNT",
        description="amountOff off what it applies to, never more than that.",
    )
    FIXED_PRICE = strawberry.enum_value(
        "FIXED_PRICE",
        description="What it applies to costs fixedPrice: the discount is the difference.",
    )
    FREE_SHIPPING = strawberry.enum_value(
        "FREE_SHIPPING",
        description="The order's shipping amount is taken off.",
    )


@strawberry.enum(name="DiscountScope", description="What a discount applies to.")
class DiscountScopeEnum(Enum):
    ORDER = strawberry.enum_value("ORDER", description="The whole order amount.")
    ELIGIBLE_ITEMS = strawberry.enum_value(
        "ELIGIBLE_ITEMS",
        description="Only the order items whose sku or category is in the campaign's rules.",
    )


@strawberry.enum(name="CodeMode", description="The alphabet of a campaign's generated codes.")
class CodeModeEnum(Enum):
    ALPHANUMERIC = strawberry.enum_value(
        "ALPHANUMERIC",
        description=(
            "Letters and digits from the charset (by default without look-alikes 0/O, 1/I/L)."
        ),
    )
    NUMERIC = strawberry.enum_value(
        "NUMERIC",
        description=(
            "Digits only, 12 to 16 long, for barcodes at tills; may end with a Luhn check digit."
        ),
    )
