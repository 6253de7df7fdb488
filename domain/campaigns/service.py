"""Campaign operations: create, update, pause or end, and look campaigns up."""

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.code_models import Code, CodeKind, normalize_code
from domain.common import Money, as_utc, money, object_id, object_ids, utc_now
from domain.errors import DomainError, NotFound, Problem
from domain.loyalty_config import LoyaltyConfig, LoyaltyConfigInput, validated_loyalty
from domain.pagination import Page, paginate
from domain.storable import text_problem
from domain.wallet import PassLocation, campaign_passes_changed

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

    class Settings:
        name = "campaigns"
        indexes = [IndexModel([("project_id", 1), ("created_at", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)


async def get_campaign(project_id: str, campaign_id: str, field: str = "campaignId") -> Campaign:
    campaign = await Campaign.find_one(
        {"_id": object_id(campaign_id, "campaign", field), "project_id": project_id}
    )
    if campaign is None:
        raise NotFound("campaign", field)
    return campaign


async def campaigns_by_id(project_id: str, campaign_ids: list[str]) -> dict[str, Campaign]:
    """The project's campaigns among the ids, in one query, by id; unknown ids are left out."""
    found = await Campaign.find(
        {"_id": {"$in": object_ids(campaign_ids)}, "project_id": project_id}
    ).to_list()
    return {campaign.key: campaign for campaign in found}


class Unset(Enum):
    """An input field left out, as opposed to one set to null (which means "none")."""

    UNSET = "UNSET"


UNSET = Unset.UNSET

MAX_NAME = 200
MAX_TEXT = 10_000
MAX_PASS_LOCATIONS = 10
MAX_RELEVANT_TEXT = 200
MAX_ATTRIBUTES_BYTES = 16_000
MIN_CODE_LENGTH = 4
# domain.codes refuses longer input at lookup, so no campaign may make longer codes.
MAX_CODE_LENGTH = 64
NUMERIC_LENGTHS = range(12, 17)
MAX_AFFIX = 20
_CODE_TEXT = re.compile(r"^[A-Z0-9\-]*$")
# A pattern is code text plus `#`, the placeholder for a random character.
_PATTERN_TEXT = re.compile(r"^[A-Z0-9\-#]*$")
_STANDALONE = re.compile(r"^[A-Z0-9_]{3,64}$")


E = TypeVar("E", bound=StrEnum)


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


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: str, message: str, field: str) -> None:
        self.items.append(Problem(code, message, field))

    def raise_any(self) -> None:
        if self.items:
            raise DomainError.of(self.items)


def _enum_value(
    kind: type[E], value: E | str, code: str, field: str, problems: _Problems
) -> E | None:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems.add(code, f"must be one of {allowed}", field)
        return None


def _money(value: MoneyLike | None, field: str, problems: _Problems) -> Money | None:
    if value is None:
        return None
    try:
        return money(value.amount, value.currency, f"{field}.currency")
    except DomainError as error:
        problems.items.extend(error.problems)
        return None


def _discount(
    given: DiscountInput | None, current: Discount | None, problems: _Problems
) -> Discount | None:
    if given is None:
        return current
    raw_type = given.type if given.type is not None else (current.type if current else None)
    if raw_type is None:
        problems.add("REQUIRED", "a discount needs a type", "discount.type")
        return current
    kind = _enum_value(DiscountType, raw_type, "INVALID_DISCOUNT_TYPE", "discount.type", problems)
    if kind is None:
        return current
    # Switching type drops the old type's amounts: they would not apply to the new one.
    base = current if current is not None and current.type == kind else Discount(type=kind)
    scope = base.scope if current is None else current.scope
    if given.scope is not None:
        scope = (
            _enum_value(DiscountScope, given.scope, "INVALID_SCOPE", "discount.scope", problems)
            or scope
        )
    percent_off = given.percent_off if given.percent_off is not None else base.percent_off
    amount_off = (
        base.amount_off
        if given.amount_off is None
        else _money(given.amount_off, "discount.amountOff", problems)
    )
    fixed_price = (
        base.fixed_price
        if given.fixed_price is None
        else _money(given.fixed_price, "discount.fixedPrice", problems)
    )
    max_discount = (
        base.max_discount
        if given.max_discount is UNSET
        else _money(given.max_discount, "discount.maxDiscount", problems)
    )
    fields = {
        "percentOff": (percent_off, DiscountType.PERCENT),
        "amountOff": (amount_off, DiscountType.AMOUNT),
        "fixedPrice": (fixed_price, DiscountType.FIXED_PRICE),
        "maxDiscount": (max_discount, DiscountType.PERCENT),
    }
    for name, (value, owner) in fields.items():
        if value is not None and kind != owner:
            problems.add(
                "NOT_APPLICABLE",
                f"{name} applies to {owner.value} discounts only",
                f"discount.{name}",
            )
    if kind == DiscountType.PERCENT:
        if percent_off is None:
            problems.add("REQUIRED", "a PERCENT discount needs percentOff", "discount.percentOff")
        elif not math.isfinite(percent_off) or not 0 < percent_off <= 100:
            problems.add(
                "INVALID_PERCENT",
                "percentOff must be more than 0 and at most 100",
                "discount.percentOff",
            )
        if max_discount is not None and max_discount.amount <= 0:
            problems.add(
                "INVALID_AMOUNT", "maxDiscount must be more than 0", "discount.maxDiscount"
            )
    if kind == DiscountType.AMOUNT:
        if amount_off is None and given.amount_off is None:
            problems.add("REQUIRED", "an AMOUNT discount needs amountOff", "discount.amountOff")
        elif amount_off is not None and amount_off.amount <= 0:
            problems.add("INVALID_AMOUNT", "amountOff must be more than 0", "discount.amountOff")
    if kind == DiscountType.FIXED_PRICE:
        if fixed_price is None and given.fixed_price is None:
            problems.add(
                "REQUIRED", "a FIXED_PRICE discount needs fixedPrice", "discount.fixedPrice"
            )
        elif fixed_price is not None and fixed_price.amount < 0:
            problems.add("INVALID_AMOUNT", "fixedPrice must be 0 or more", "discount.fixedPrice")
    return Discount(
        type=kind,
        percent_off=percent_off if kind == DiscountType.PERCENT else None,
        amount_off=amount_off if kind == DiscountType.AMOUNT else None,
        max_discount=max_discount if kind == DiscountType.PERCENT else None,
        fixed_price=fixed_price if kind == DiscountType.FIXED_PRICE else None,
        scope=scope,
    )


def _limit(value: int | None, field: str, problems: _Problems) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        problems.add("INVALID_LIMIT", "a limit must be a positive whole number or null", field)
        return None
    return value


def _limits(
    given: LimitsInput | None, current: Limits | None, standalone: bool, problems: _Problems
) -> Limits:
    # A unique code is single-use unless said otherwise; a shared standalone code is not.
    defaults = current or Limits(per_code=None if standalone else 1)
    wanted = given or LimitsInput()
    values: dict[str, int | None] = {}
    for name, field in (
        ("per_code", "perCode"),
        ("per_customer", "perCustomer"),
        ("total", "total"),
        ("per_day", "perDay"),
    ):
        value = getattr(wanted, name)
        if value is UNSET:
            values[name] = getattr(defaults, name)
        else:
            values[name] = _limit(value, f"limits.{field}", problems)
    return Limits(**values)


def _clean_list(values: list[str]) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def _numbers(
    values: list[int], allowed: range, code: str, field: str, problems: _Problems
) -> list[int]:
    wrong = [v for v in values if v not in allowed]
    if wrong:
        problems.add(
            code,
            f"values must be between {allowed.start} and {allowed.stop - 1}; got {wrong}",
            field,
        )
    return sorted({v for v in values if v in allowed})


def _rules(given: RulesInput | None, current: Rules | None, problems: _Problems) -> Rules:
    base = current or Rules()
    if given is None:
        return base
    min_order = (
        base.min_order
        if given.min_order is UNSET
        else _money(given.min_order, "rules.minOrder", problems)
    )
    if min_order is not None and min_order.amount < 0:
        problems.add("INVALID_AMOUNT", "minOrder must be 0 or more", "rules.minOrder")
    attributes = base.attributes
    if given.attributes is not None:
        if not isinstance(given.attributes, dict):
            problems.add("INVALID", "attributes must be an object", "rules.attributes")
        elif len(repr(given.attributes)) > MAX_ATTRIBUTES_BYTES:
            problems.add("INVALID", "attributes are too large", "rules.attributes")
        else:
            attributes = given.attributes

    def listed(value: list[str] | None, kept: list[str]) -> list[str]:
        return kept if value is None else _clean_list(value)

    days = base.days_of_week
    if given.days_of_week is not None:
        days = _numbers(
            given.days_of_week, range(1, 8), "INVALID_DAY_OF_WEEK", "rules.daysOfWeek", problems
        )
    hours = base.hours
    if given.hours is not None:
        hours = _numbers(given.hours, range(24), "INVALID_HOUR", "rules.hours", problems)
    return Rules(
        min_order=min_order,
        segment_ids=listed(given.segment_ids, base.segment_ids),
        skus=listed(given.skus, base.skus),
        categories=listed(given.categories, base.categories),
        first_order_only=(
            base.first_order_only if given.first_order_only is None else given.first_order_only
        ),
        days_of_week=days,
        hours=hours,
        customer_tags=[tag.lower() for tag in listed(given.customer_tags, base.customer_tags)],
        attributes=attributes,
    )


def _code_text(value: str, field: str, limit: int, problems: _Problems) -> str:
    text = value.strip().upper()
    if not _CODE_TEXT.match(text) or len(text) > limit:
        problems.add("INVALID_AFFIX", f"use at most {limit} letters, digits and dashes", field)
    return text


def _pattern_text(value: str, problems: _Problems) -> str:
    text = value.strip().upper()
    if not _PATTERN_TEXT.match(text) or len(text) > MAX_CODE_LENGTH:
        problems.add(
            "INVALID_PATTERN",
            f"use at most {MAX_CODE_LENGTH} letters, digits, dashes and '#'",
            "codes.pattern",
        )
    return text


def _code_config(
    given: CodeConfigInput | None, current: CodeConfig | None, problems: _Problems
) -> CodeConfig:
    base = current or CodeConfig()
    if given is None:
        return base
    mode = base.mode
    if given.mode is not None:
        mode = (
            _enum_value(CodeMode, given.mode, "INVALID_CODE_MODE", "codes.mode", problems) or mode
        )
    same_mode = mode == base.mode
    numeric = mode == CodeMode.NUMERIC
    prefix = (
        base.prefix
        if given.prefix is None
        else _code_text(given.prefix, "codes.prefix", MAX_AFFIX, problems)
    )
    suffix = (
        base.suffix
        if given.suffix is None
        else _code_text(given.suffix, "codes.suffix", MAX_AFFIX, problems)
    )
    pattern = base.pattern if same_mode else None
    if given.pattern is not None:
        pattern = _pattern_text(given.pattern, problems) or None
    if given.length is not None:
        length = given.length
    elif same_mode:
        length = base.length
    else:
        length = NUMERIC_LENGTHS.start if numeric else CodeConfig().length
    luhn = (base.luhn if same_mode else False) if given.luhn is None else given.luhn
    if given.charset is not None:
        charset = "".join(dict.fromkeys(given.charset.strip().upper()))
    elif same_mode:
        charset = base.charset
    else:
        charset = DIGITS if numeric else DEFAULT_CHARSET
    if luhn and not numeric:
        problems.add("LUHN_NEEDS_NUMERIC", "a Luhn check digit needs NUMERIC codes", "codes.luhn")
    if numeric:
        if set(charset) != set(DIGITS):
            problems.add("INVALID_CHARSET", "NUMERIC codes use the digits 0-9", "codes.charset")
        charset = DIGITS
        if pattern:
            problems.add("INVALID_PATTERN", "NUMERIC codes take no pattern", "codes.pattern")
        if suffix:
            problems.add("INVALID_AFFIX", "NUMERIC codes take no suffix", "codes.suffix")
        if not prefix.isdigit() and prefix:
            problems.add("INVALID_AFFIX", "a NUMERIC code's prefix is digits", "codes.prefix")
        if length not in NUMERIC_LENGTHS:
            problems.add(
                "INVALID_CODE_LENGTH",
                "NUMERIC codes are 12 to 16 digits long, check digit and prefix included",
                "codes.length",
            )
        elif length - len(prefix) - int(luhn) < MIN_CODE_LENGTH:
            problems.add(
                "INVALID_CODE_LENGTH",
                f"the prefix leaves fewer than {MIN_CODE_LENGTH} random digits",
                "codes.prefix",
            )
        return CodeConfig(
            mode=mode,
            charset=charset,
            length=length,
            pattern=None,
            prefix=prefix,
            suffix="",
            luhn=luhn,
        )
    if len(charset) < 2 or not (charset.isascii() and charset.isalnum()):
        problems.add(
            "INVALID_CHARSET",
            "charset needs at least 2 distinct letters or digits",
            "codes.charset",
        )
    if pattern is not None:
        if "#" not in pattern:
            problems.add(
                "INVALID_PATTERN",
                "a pattern needs at least one '#' (a random character)",
                "codes.pattern",
            )
        body = len(pattern.replace("-", ""))
    else:
        if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
            problems.add(
                "INVALID_CODE_LENGTH",
                f"length must be between {MIN_CODE_LENGTH} and {MAX_CODE_LENGTH}",
                "codes.length",
            )
        body = length
    total = body + len(prefix.replace("-", "")) + len(suffix.replace("-", ""))
    if total > MAX_CODE_LENGTH:
        problems.add(
            "INVALID_CODE_LENGTH",
            f"codes would be {total} characters long; at most {MAX_CODE_LENGTH}",
            "codes.pattern" if pattern else "codes.length",
        )
    return CodeConfig(
        mode=mode,
        charset=charset,
        length=length,
        pattern=pattern,
        prefix=prefix,
        suffix=suffix,
        luhn=False,
    )


@functools.cache
def _known_zones() -> frozenset[str]:
    # "localtime" is whatever zone the server runs in: a campaign's hours would move with it.
    return frozenset(available_timezones() - {"localtime"})


def _timezone(value: str, problems: _Problems) -> str:
    zone = value.strip()
    try:
        ZoneInfo(zone)
        known = zone in _known_zones() or zone == "UTC"
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        problems.add(
            "INVALID_TIMEZONE", "timezone must be an IANA zone such as Europe/Paris", "timezone"
        )
    return zone


def _same_currency(discount: Discount | None, rules: Rules, problems: _Problems) -> None:
    amounts: list[tuple[str, Money | None]] = [("rules.minOrder", rules.min_order)]
    if discount is not None:
        amounts = [
            ("discount.amountOff", discount.amount_off),
            ("discount.maxDiscount", discount.max_discount),
            ("discount.fixedPrice", discount.fixed_price),
            *amounts,
        ]
    present = [(field, value) for field, value in amounts if value is not None]
    if not present:
        return
    currency = present[0][1].currency
    for field, value in present[1:]:
        if value.currency != currency:
            problems.add(
                "CURRENCY_MISMATCH",
                f"every amount of a campaign is in one currency ({currency})",
                f"{field}.currency",
            )


MAX_URL = 2_000
MAX_HOLD_DAYS = 3650
MAX_REFERRAL_POINTS = 1_000_000_000


def _landing_url(value: str, problems: _Problems) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
        problems.add("INVALID_URL", "landingUrl must be an http(s) address", "referral.landingUrl")
    return url


def _referrer_reward(
    given: ReferrerRewardInput | None, current: ReferrerReward, problems: _Problems
) -> ReferrerReward:
    if given is None:
        return current
    reward = ReferrerReward(
        discount_campaign_id=(given.discount_campaign_id or "").strip(),
        loyalty_campaign_id=(given.loyalty_campaign_id or "").strip(),
        points=given.points or 0,
    )
    field = "referral.referrerReward"
    if reward.discount_campaign_id and reward.loyalty_campaign_id:
        problems.add(
            "INVALID_REWARD",
            "a referrer reward is a discount code or loyalty points, not both",
            field,
        )
    if reward.loyalty_campaign_id and not 0 < reward.points <= MAX_REFERRAL_POINTS:
        problems.add("INVALID_POINTS", "points must be more than 0", f"{field}.points")
    if reward.points and not reward.loyalty_campaign_id:
        problems.add("REQUIRED", "points need a loyaltyCampaignId", f"{field}.loyaltyCampaignId")
    return reward


def _referral(
    given: ReferralConfigInput | None, current: ReferralConfig | None, problems: _Problems
) -> ReferralConfig | None:
    wanted = given or ReferralConfigInput()
    landing = current.landing_url if current else ""
    if wanted.landing_url is not None:
        landing = _landing_url(wanted.landing_url, problems)
    elif not landing:
        problems.add(
            "REQUIRED", "a REFERRAL campaign needs referral.landingUrl", "referral.landingUrl"
        )
    min_order = current.min_order if current else None
    if wanted.min_order is not UNSET:
        min_order = _money(wanted.min_order, "referral.minOrder", problems)
        if min_order is not None and min_order.amount < 0:
            problems.add("INVALID_AMOUNT", "minOrder must be 0 or more", "referral.minOrder")
    hold_days = current.hold_days if current else 0
    if wanted.hold_days is not None:
        hold_days = wanted.hold_days
        if not 0 <= hold_days <= MAX_HOLD_DAYS:
            problems.add(
                "INVALID_DAYS",
                f"holdDays must be between 0 and {MAX_HOLD_DAYS}",
                "referral.holdDays",
            )
    cap = current.max_referrals_per_referrer if current else None
    if wanted.max_referrals_per_referrer is not UNSET:
        cap = _limit(
            wanted.max_referrals_per_referrer, "referral.maxReferralsPerReferrer", problems
        )
    welcome = current.welcome_campaign_id if current else ""
    if wanted.welcome_campaign_id is not None:
        welcome = wanted.welcome_campaign_id.strip()
    reward = _referrer_reward(
        wanted.referrer_reward, current.referrer_reward if current else ReferrerReward(), problems
    )
    if not landing:
        return current
    return ReferralConfig(
        landing_url=landing,
        welcome_campaign_id=welcome,
        referrer_reward=reward,
        min_order=min_order,
        hold_days=max(0, min(hold_days, MAX_HOLD_DAYS)),
        max_referrals_per_referrer=cap,
    )


async def _referral_reference_problems(project_id: str, config: Any) -> list[Problem]:
    """The campaigns a referral program names must exist in the project, of the right kind."""
    if not isinstance(config, ReferralConfig):
        return []
    wanted = [
        (config.welcome_campaign_id, CampaignKind.DISCOUNT, "referral.welcomeCampaignId"),
        (
            config.referrer_reward.discount_campaign_id,
            CampaignKind.DISCOUNT,
            "referral.referrerReward.discountCampaignId",
        ),
        (
            config.referrer_reward.loyalty_campaign_id,
            CampaignKind.LOYALTY,
            "referral.referrerReward.loyaltyCampaignId",
        ),
    ]
    problems: list[Problem] = []
    for campaign_id, kind, field in wanted:
        if not campaign_id:
            continue
        try:
            found = await get_campaign(project_id, campaign_id, field)
        except NotFound as error:
            problems.extend(error.problems)
            continue
        if found.kind != kind:
            problems.append(
                Problem("WRONG_CAMPAIGN_KIND", f"must be a {kind.value} campaign", field)
            )
    return problems


def _validated(data: CampaignInput, current: Campaign | None) -> dict[str, Any]:
    """Every field checked, every problem collected; returns the campaign's fields to store."""
    problems = _Problems()
    values: dict[str, Any] = {}
    if data.name is not None or current is None:
        name = (data.name or "").strip()
        if not name:
            problems.add("REQUIRED", "a campaign needs a name", "name")
        elif (problem := text_problem(name, "name")) is not None:
            problems.add(problem.code, problem.message, "name")
        elif len(name) > MAX_NAME:
            problems.add("INVALID", f"name is at most {MAX_NAME} characters", "name")
        values["name"] = name
    kind = current.kind if current is not None else CampaignKind.DISCOUNT
    if data.kind is not None:
        kind = _enum_value(CampaignKind, data.kind, "INVALID_KIND", "kind", problems) or kind
    values["kind"] = kind
    for field in ("description", "terms"):
        text = getattr(data, field)
        if text is not None:
            if len(text) > MAX_TEXT:
                problems.add("INVALID", f"{field} is at most {MAX_TEXT} characters", field)
            values[field] = text.strip()

    standalone = current.standalone_code if current is not None else None
    if data.standalone_code is not None:
        normalized = normalize_code(data.standalone_code)
        if current is not None and (normalized or None) != current.standalone_code:
            problems.add(
                "IMMUTABLE", "standaloneCode cannot change after creation", "standaloneCode"
            )
        elif current is None and normalized:
            if not _STANDALONE.match(normalized):
                problems.add(
                    "INVALID_CODE",
                    "a code is 3 to 64 letters, digits or underscores (spaces and dashes are "
                    "ignored)",
                    "standaloneCode",
                )
            standalone = normalized
            values["standalone_code"] = normalized

    discount = _discount(data.discount, current.discount if current else None, problems)
    if kind == CampaignKind.DISCOUNT and discount is None:
        problems.add("REQUIRED", "a DISCOUNT campaign needs a discount", "discount")
    values["discount"] = discount
    rules = _rules(data.rules, current.rules if current else None, problems)
    values["rules"] = rules
    if (
        discount is not None
        and discount.scope == DiscountScope.ELIGIBLE_ITEMS
        and not (rules.skus or rules.categories)
    ):
        problems.add(
            "SCOPE_NEEDS_ITEMS",
            "an ELIGIBLE_ITEMS discount needs rules.skus or rules.categories",
            "discount.scope",
        )
    _same_currency(discount, rules, problems)
    values["limits"] = _limits(
        data.limits, current.limits if current else None, standalone is not None, problems
    )
    values["codes"] = _code_config(data.codes, current.codes if current else None, problems)

    starts_at = current.starts_at if current else None
    if data.starts_at is not UNSET:
        starts_at = None if data.starts_at is None else as_utc(data.starts_at)
    ends_at = current.ends_at if current else None
    if data.ends_at is not UNSET:
        ends_at = None if data.ends_at is None else as_utc(data.ends_at)
    if starts_at is not None and ends_at is not None and as_utc(starts_at) >= as_utc(ends_at):
        problems.add("INVALID_WINDOW", "endsAt must be after startsAt", "endsAt")
    values["starts_at"] = starts_at
    values["ends_at"] = ends_at
    if data.timezone is not None or current is None:
        values["timezone"] = _timezone(data.timezone or "UTC", problems)
    if kind == CampaignKind.LOYALTY:
        loyalty, wrong = validated_loyalty(data.loyalty, current.loyalty if current else None)
        problems.items.extend(wrong)
        values["loyalty"] = loyalty
    elif data.loyalty is not None:
        problems.add("NOT_APPLICABLE", "loyalty applies to LOYALTY campaigns only", "loyalty")
    if kind == CampaignKind.REFERRAL:
        values["referral"] = _referral(
            data.referral, current.referral if current else None, problems
        )
    elif data.referral is not None:
        problems.add("NOT_APPLICABLE", "referral applies to REFERRAL campaigns only", "referral")
    if data.codes_per_customer is not None:
        values["codes_per_customer"] = _limit(data.codes_per_customer, "codesPerCustomer", problems)
    if data.release_limits_on_refund is not None:
        values["release_limits_on_refund"] = data.release_limits_on_refund
    if data.pass_locations is not None:
        values["pass_locations"] = _pass_locations(data.pass_locations, problems)
    problems.raise_any()
    return values


def _pass_locations(given: list[PassLocationInput], problems: _Problems) -> list[PassLocation]:
    """Apple Wallet shows at most 10 locations; the text is what the lock screen says."""
    if len(given) > MAX_PASS_LOCATIONS:
        problems.add(
            "INVALID", f"a pass has at most {MAX_PASS_LOCATIONS} locations", "passLocations"
        )
    locations = []
    for index, place in enumerate(given):
        field = f"passLocations.{index}"
        if not -90 <= place.latitude <= 90 or not -180 <= place.longitude <= 180:
            problems.add("INVALID", "latitude is -90 to 90, longitude -180 to 180", field)
        text = place.relevant_text.strip()
        if len(text) > MAX_RELEVANT_TEXT:
            problems.add(
                "INVALID", f"relevantText is at most {MAX_RELEVANT_TEXT} characters", field
            )
        locations.append(
            PassLocation(latitude=place.latitude, longitude=place.longitude, relevant_text=text)
        )
    return locations


def _duplicate_code() -> DomainError:
    return DomainError(
        "DUPLICATE_CODE", "this code is already used in the project", "standaloneCode"
    )


async def create_campaign(project_id: str, data: CampaignInput) -> Campaign:
    problems: list[Problem] = []
    try:
        values = _validated(data, None)
    except DomainError as error:
        problems = list(error.problems)
        values = {}
    problems += await _referral_reference_problems(project_id, values.get("referral"))
    # Checked even when other fields are wrong, so one answer lists every problem.
    code = normalize_code(data.standalone_code or "")
    if (
        _STANDALONE.match(code)
        and await Code.find_one({"project_id": project_id, "code": code}) is not None
    ):
        problems.append(_duplicate_code().problems[0])
    if problems:
        raise DomainError.of(problems)
    made = 1 if code else 0
    campaign = Campaign(project_id=project_id, codes_count=made, codes_reserved=made, **values)
    await campaign.insert()
    if code and data.standalone_code is not None:
        try:
            await Code(
                project_id=project_id,
                code=code,
                # Codes are stored and shown upper-case; the caller's dashes stay for printing.
                display=data.standalone_code.strip().upper(),
                campaign_id=campaign.key,
                kind=CodeKind.STANDALONE,
            ).insert()
        except DuplicateKeyError:
            # Taken between the check and the insert: the campaign must not stay without it.
            await Campaign.get_pymongo_collection().delete_one({"_id": campaign.id})
            raise _duplicate_code() from None
    return campaign


async def update_campaign(project_id: str, campaign_id: str, data: CampaignInput) -> Campaign:
    current = await get_campaign(project_id, campaign_id, "id")
    values = _validated(data, current)
    wrong = await _referral_reference_problems(project_id, values.get("referral"))
    if wrong:
        raise DomainError.of(wrong)
    stored = {key: _storable(value) for key, value in values.items()}
    await Campaign.get_pymongo_collection().update_one(
        {"_id": current.id, "project_id": project_id},
        {"$set": {**stored, "updated_at": utc_now()}},
    )
    updated = await get_campaign(project_id, campaign_id, "id")
    # Names, offers, terms, dates and locations show on the campaign's wallet passes.
    await campaign_passes_changed(project_id, updated.key)
    return updated


def _storable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


async def set_campaign_status(
    project_id: str, campaign_id: str, status: CampaignStatus | str
) -> Campaign:
    """ACTIVE and PAUSED switch freely; ENDED is final."""
    wanted = CampaignStatus(status)
    now = utc_now()
    result = await Campaign.get_pymongo_collection().update_one(
        {
            "_id": object_id(campaign_id, "campaign", "id"),
            "project_id": project_id,
            # Only a real change moves status_changed_at: pausing twice keeps the first date.
            "status": {
                "$in": [
                    s.value for s in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED) if s != wanted
                ]
            },
        },
        {"$set": {"status": wanted.value, "updated_at": now, "status_changed_at": now}},
    )
    campaign = await get_campaign(project_id, campaign_id, "id")
    if result.matched_count == 0 and campaign.status != wanted:
        raise DomainError(
            "CAMPAIGN_ENDED", "the campaign has ended and cannot be paused or resumed", "id"
        )
    if result.modified_count:
        await campaign_passes_changed(project_id, campaign.key)
    return campaign


async def list_campaigns(
    project_id: str,
    first: int,
    after: str | None,
    kind: CampaignKind | None = None,
    status: CampaignStatus | None = None,
) -> Page[Campaign]:
    query: dict[str, Any] = {"project_id": project_id}
    if kind is not None:
        query["kind"] = kind.value
    if status is not None:
        query["status"] = status.value
    return await paginate(Campaign, query, first, after)
