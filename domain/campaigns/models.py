"""Campaign documents and the enums and sub-documents they are made of."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel

from domain.common import Money, utc_now
from domain.loyalty_config import LoyaltyConfig
from domain.wallet import PassLocation

# Upper-case letters and digits without the look-alikes 0/O, 1/I/L.
DEFAULT_CHARSET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
DIGITS = "0123456789"


class CampaignKind(StrEnum):
    DISCOUNT = "DISCOUNT"
    REFERRAL = "REFERRAL"
    LOYALTY = "LOYALTY"


class CampaignStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"


class DiscountType(StrEnum):
    PERCENT = "PERCENT"
    AMOUNT = "AMOUNT"
    FIXED_PRICE = "FIXED_PRICE"
    FREE_SHIPPING = "FREE_SHIPPING"


class DiscountScope(StrEnum):
    ORDER = "ORDER"
    ELIGIBLE_ITEMS = "ELIGIBLE_ITEMS"


class Discount(BaseModel):
    type: DiscountType
    # Percent as given by the caller (e.g. 12.5); arithmetic goes through Decimal(str(...)).
    percent_off: float | None = None
    amount_off: Money | None = None
    max_discount: Money | None = None
    fixed_price: Money | None = None
    scope: DiscountScope = DiscountScope.ORDER


class Limits(BaseModel):
    """None means unlimited."""

    per_code: int | None = None
    per_customer: int | None = None
    total: int | None = None
    per_day: int | None = None


class Rules(BaseModel):
    min_order: Money | None = None
    segment_ids: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    first_order_only: bool = False
    # ISO weekdays, 1 = Monday ... 7 = Sunday, in the campaign's time zone.
    days_of_week: list[int] = Field(default_factory=list)
    # Hours of the day 0..23 in the campaign's time zone.
    hours: list[int] = Field(default_factory=list)
    customer_tags: list[str] = Field(default_factory=list)
    # Attribute equality conditions on the customer's `attributes`.
    attributes: dict[str, Any] = Field(default_factory=dict)


class CodeMode(StrEnum):
    ALPHANUMERIC = "ALPHANUMERIC"
    NUMERIC = "NUMERIC"


class CodeConfig(BaseModel):
    mode: CodeMode = CodeMode.ALPHANUMERIC
    charset: str = DEFAULT_CHARSET
    length: int = 8
    # `#` marks a random character; other characters are kept (e.g. "SUMMER-####-####").
    pattern: str | None = None
    prefix: str = ""
    suffix: str = ""
    # NUMERIC mode only: the last digit is a Luhn check digit.
    luhn: bool = False


class ReferrerReward(BaseModel):
    """What a referrer gets: a code of a DISCOUNT campaign, or points in a LOYALTY program."""

    discount_campaign_id: str = ""
    loyalty_campaign_id: str = ""
    points: int = 0


class ReferralConfig(BaseModel):
    """A REFERRAL campaign's program: where links lead, and who gets what, when."""

    landing_url: str
    # "" for none: the DISCOUNT campaign whose code a referee gets on applying a referral code.
    welcome_campaign_id: str = ""
    referrer_reward: ReferrerReward = Field(default_factory=ReferrerReward)
    # The referee's first order at or above this amount completes the referral.
    min_order: Money | None = None
    # Days the referrer's reward is held after the qualifying order, so a refund can cancel it.
    hold_days: int = 0
    # None: no cap on how many referees one referrer may bring.
    max_referrals_per_referrer: int | None = None


class Campaign(Document):
    project_id: str
    name: str
    kind: CampaignKind = CampaignKind.DISCOUNT
    status: CampaignStatus = CampaignStatus.ACTIVE
    description: str = ""
    terms: str = ""
    discount: Discount | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str = "UTC"
    limits: Limits = Field(default_factory=Limits)
    rules: Rules = Field(default_factory=Rules)
    codes: CodeConfig = Field(default_factory=CodeConfig)
    standalone_code: str | None = None
    # LOYALTY campaigns only: earning rules, tiers and expiry.
    loyalty: LoyaltyConfig | None = None
    # REFERRAL campaigns only: the program's landing page and rewards.
    referral: ReferralConfig | None = None
    # How many codes publishCode may give one customer in this campaign.
    codes_per_customer: int = 1
    # A cancelled or refunded order gives back the limits its redemptions of this campaign used.
    release_limits_on_refund: bool = False
    # Up to 10 stores near which the campaign's wallet passes show on the lock screen.
    pass_locations: list[PassLocation] = Field(default_factory=list)
    # Live counters, moved only by conditional atomic updates.
    redeemed_count: int = 0
    codes_count: int = 0
    # Codes made or queued for generation, checked against the 1% rule with one conditional
    # $inc so that concurrent requests cannot together exceed it. A failed job keeps its share.
    codes_reserved: int = 0
    # Generation jobs' last counted batch, by job id: makes codes_count's $inc idempotent.
    generation_batches: dict[str, int] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    # When it was last paused, resumed or ended: the coupon page says since when.
    status_changed_at: datetime | None = None
    # Moved by every change to the campaign and by every key revoked in its project: an app's
    # cached copy that no longer matches the stored campaign is re-read (domain/snapshots.py).
    revision: int = 0

    class Settings:
        name = "campaigns"
        indexes = [IndexModel([("project_id", 1), ("created_at", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)
