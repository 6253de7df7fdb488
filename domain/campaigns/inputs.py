"""What a caller gives to create or update a campaign, field by field."""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from domain.campaigns.models import CampaignKind, CodeMode, DiscountScope, DiscountType
from domain.loyalty_config import LoyaltyConfigInput


class Unset(Enum):
    """An input field left out, as opposed to one set to null (which means "none")."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


class MoneyLike(Protocol):
    """Money as a caller gives it: the currency is checked here, with the other fields."""

    amount: int
    currency: str


@dataclass
class DiscountInput:
    type: DiscountType | str | None = None
    percent_off: float | None = None
    amount_off: MoneyLike | None = None
    max_discount: MoneyLike | Unset | None = UNSET
    fixed_price: MoneyLike | None = None
    scope: DiscountScope | str | None = None


@dataclass
class LimitsInput:
    """UNSET keeps the current value (or the default); None means unlimited."""

    per_code: int | Unset | None = UNSET
    per_customer: int | Unset | None = UNSET
    total: int | Unset | None = UNSET
    per_day: int | Unset | None = UNSET


@dataclass
class RulesInput:
    min_order: MoneyLike | Unset | None = UNSET
    segment_ids: list[str] | None = None
    skus: list[str] | None = None
    categories: list[str] | None = None
    first_order_only: bool | None = None
    days_of_week: list[int] | None = None
    hours: list[int] | None = None
    customer_tags: list[str] | None = None
    attributes: dict[str, Any] | None = None


@dataclass
class CodeConfigInput:
    """An empty pattern, prefix or suffix clears it."""

    mode: CodeMode | str | None = None
    pattern: str | None = None
    charset: str | None = None
    length: int | None = None
    prefix: str | None = None
    suffix: str | None = None
    luhn: bool | None = None


@dataclass
class PassLocationInput:
    latitude: float
    longitude: float
    relevant_text: str = ""


@dataclass
class ReferrerRewardInput:
    discount_campaign_id: str | None = None
    loyalty_campaign_id: str | None = None
    points: int | None = None


@dataclass
class ReferralConfigInput:
    """Fields left as None keep their value; a referrer reward given replaces the stored one."""

    landing_url: str | None = None
    welcome_campaign_id: str | None = None
    referrer_reward: ReferrerRewardInput | None = None
    min_order: MoneyLike | Unset | None = UNSET
    hold_days: int | None = None
    max_referrals_per_referrer: int | Unset | None = UNSET


@dataclass
class CampaignInput:
    """Fields left as None (or UNSET) are not changed on update; nested inputs merge the same
    way, field by field."""

    name: str | None = None
    kind: CampaignKind | str | None = None
    discount: DiscountInput | None = None
    starts_at: datetime | Unset | None = UNSET
    ends_at: datetime | Unset | None = UNSET
    timezone: str | None = None
    limits: LimitsInput | None = None
    rules: RulesInput | None = None
    codes: CodeConfigInput | None = None
    standalone_code: str | None = None
    description: str | None = None
    terms: str | None = None
    loyalty: LoyaltyConfigInput | None = None
    referral: ReferralConfigInput | None = None
    codes_per_customer: int | None = None
    release_limits_on_refund: bool | None = None
    # Replaces the whole list; [] clears it.
    pass_locations: list[PassLocationInput] | None = None
