"""GraphQL enums of a campaign: its kind, status, discount type and scope, code mode."""

from enum import Enum

from schema.described_enums import described_enum


@described_enum(
    name="CampaignKind",
    description="What a campaign runs: coupon codes, a referral program or a loyalty program.",
    values={
        "DISCOUNT": "Codes that take a discount off an order.",
        "REFERRAL": "A referral program: customers share links and codes, both sides are rewarded.",
        "LOYALTY": (
            "A loyalty program: customers earn points on cards and exchange them for rewards."
        ),
    },
)
class CampaignKindEnum(Enum):
    DISCOUNT = "DISCOUNT"
    REFERRAL = "REFERRAL"
    LOYALTY = "LOYALTY"


@described_enum(
    name="CampaignStatus",
    description="Whether a campaign is running.",
    values={
        "ACTIVE": "Running: its codes redeem within its dates, rules and limits.",
        "PAUSED": "Stopped for now; can be made ACTIVE again. Codes are refused with PAUSED.",
        "ENDED": "Stopped for good: takes no new codes or activity.",
    },
)
class CampaignStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"


@described_enum(
    name="DiscountType",
    description="How a discount is computed.",
    values={
        "PERCENT": "percentOff percent of what it applies to, capped by maxDiscount.",
        "AMOUNT": "amountOff off what it applies to, never more than that.",
        "FIXED_PRICE": "What it applies to costs fixedPrice: the discount is the difference.",
        "FREE_SHIPPING": "The order's shipping amount is taken off.",
    },
)
class DiscountTypeEnum(Enum):
    PERCENT = "PERCENT"
    AMOUNT = "AMOUNT"
    FIXED_PRICE = "FIXED_PRICE"
    FREE_SHIPPING = "FREE_SHIPPING"


@described_enum(
    name="DiscountScope",
    description="What a discount applies to.",
    values={
        "ORDER": "The whole order amount.",
        "ELIGIBLE_ITEMS": "Only the order items whose sku or category is in the campaign's rules.",
    },
)
class DiscountScopeEnum(Enum):
    ORDER = "ORDER"
    ELIGIBLE_ITEMS = "ELIGIBLE_ITEMS"


@described_enum(
    name="CodeMode",
    description="The alphabet of a campaign's generated codes.",
    values={
        "ALPHANUMERIC": (
            "Letters and digits from the charset (by default without look-alikes 0/O, 1/I/L)."
        ),
        "NUMERIC": (
            "Digits only, 12 to 16 long, for barcodes at tills; may end with a Luhn check digit."
        ),
    },
)
class CodeModeEnum(Enum):
    ALPHANUMERIC = "ALPHANUMERIC"
    NUMERIC = "NUMERIC"
