"""GraphQL inputs to create or update a campaign, each mapped to its domain input."""

from datetime import datetime
from typing import Any

import strawberry

from domain import campaigns
from schema.campaigns.enums import (
    CampaignKindEnum,
    CodeModeEnum,
    DiscountScopeEnum,
    DiscountTypeEnum,
)
from schema.campaigns.loyalty_config import LoyaltyConfigInputType
from schema.types import JSON, MoneyInput


def _kept(value: Any) -> Any:
    """A field left out of the request keeps its value; an explicit null clears it."""
    return campaigns.UNSET if value is strawberry.UNSET else value


@strawberry.input(
    name="DiscountInput",
    description=(
        "What a DISCOUNT campaign's codes take off; money in minor units. Left-out fields keep "
        "their value on update."
    ),
)
class DiscountInputType:
    type: DiscountTypeEnum | None = strawberry.field(
        default=None, description="Required when creating; changing it drops the old amounts."
    )
    percent_off: float | None = strawberry.field(
        default=None, description="PERCENT: more than 0, at most 100."
    )
    amount_off: MoneyInput | None = strawberry.field(default=None, description="AMOUNT only.")
    max_discount: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="PERCENT only: the most it takes off; null: no cap."
    )
    fixed_price: MoneyInput | None = strawberry.field(
        default=None, description="FIXED_PRICE only: what the order (or eligible items) cost."
    )
    scope: DiscountScopeEnum | None = strawberry.field(
        default=None,
        description="ORDER (default) or ELIGIBLE_ITEMS (the items matching rules.skus or "
        "rules.categories).",
    )

    def to_domain(self) -> campaigns.DiscountInput:
        return campaigns.DiscountInput(
            type=None if self.type is None else self.type.value,
            percent_off=self.percent_off,
            amount_off=self.amount_off,
            max_discount=_kept(self.max_discount),
            fixed_price=self.fixed_price,
            scope=None if self.scope is None else self.scope.value,
        )


@strawberry.input(name="LimitsInput", description="Left out: unchanged; null: unlimited.")
class LimitsInputType:
    per_code: int | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "How often one code may be redeemed, a positive whole number; null: unlimited."
        ),
    )
    per_customer: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="How often one customer may redeem the campaign; null: unlimited.",
    )
    total: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="How often the campaign may be redeemed in all; null: unlimited.",
    )
    per_day: int | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "How often the campaign may be redeemed per day in its time zone; null: unlimited."
        ),
    )

    def to_domain(self) -> campaigns.LimitsInput:
        return campaigns.LimitsInput(
            per_code=_kept(self.per_code),
            per_customer=_kept(self.per_customer),
            total=_kept(self.total),
            per_day=_kept(self.per_day),
        )


@strawberry.input(name="RulesInput", description="Lists given replace the stored ones.")
class RulesInputType:
    min_order: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes the minimum."
    )
    segment_ids: list[str] | None = strawberry.field(
        default=None,
        description="Segment ids: the customer must be in at least one; [] removes the rule.",
    )
    skus: list[str] | None = strawberry.field(
        default=None, description="Item skus an ELIGIBLE_ITEMS discount applies to."
    )
    categories: list[str] | None = strawberry.field(
        default=None, description="Item categories an ELIGIBLE_ITEMS discount applies to."
    )
    first_order_only: bool | None = strawberry.field(
        default=None, description="Whether only a customer's first order may use the codes."
    )
    days_of_week: list[int] | None = strawberry.field(
        default=None, description="ISO weekdays, 1 = Monday to 7 = Sunday, in the campaign's zone."
    )
    hours: list[int] | None = strawberry.field(
        default=None, description="Hours of the day, 0 to 23, in the campaign's zone."
    )
    customer_tags: list[str] | None = strawberry.field(
        default=None, description="The customer needs one of these tags."
    )
    attributes: JSON | None = strawberry.field(
        default=None, description="The customer's attributes must equal these values."
    )

    def to_domain(self) -> campaigns.RulesInput:
        attributes: Any = self.attributes
        return campaigns.RulesInput(
            min_order=_kept(self.min_order),
            segment_ids=self.segment_ids,
            skus=self.skus,
            categories=self.categories,
            first_order_only=self.first_order_only,
            days_of_week=self.days_of_week,
            hours=self.hours,
            customer_tags=self.customer_tags,
            attributes=attributes,
        )


@strawberry.input(name="CodeConfigInput", description="How generated codes look.")
class CodeConfigInputType:
    mode: CodeModeEnum | None = strawberry.field(
        default=None,
        description=(
            "ALPHANUMERIC (default) or NUMERIC; changing it resets the charset and pattern."
        ),
    )
    pattern: str | None = strawberry.field(
        default=None,
        description="`#` marks a random character, e.g. SUMMER-####-####; empty clears it.",
    )
    charset: str | None = strawberry.field(
        default=None,
        description=(
            "ALPHANUMERIC only: at least 2 distinct letters or digits random positions are drawn "
            "from (upper-cased); NUMERIC is always 0-9."
        ),
    )
    length: int | None = strawberry.field(
        default=None, description="NUMERIC: 12 to 16 digits, prefix and check digit included."
    )
    prefix: str | None = strawberry.field(
        default=None,
        description=(
            'Text before every code: up to 20 letters, digits and dashes (NUMERIC: digits); "" '
            "for none."
        ),
    )
    suffix: str | None = strawberry.field(
        default=None,
        description=(
            'Text after every code: up to 20 letters, digits and dashes (not for NUMERIC); "" '
            "for none."
        ),
    )
    luhn: bool | None = strawberry.field(
        default=None, description="NUMERIC only: the last digit is a Luhn check digit."
    )

    def to_domain(self) -> campaigns.CodeConfigInput:
        return campaigns.CodeConfigInput(
            mode=None if self.mode is None else self.mode.value,
            pattern=self.pattern,
            charset=self.charset,
            length=self.length,
            prefix=self.prefix,
            suffix=self.suffix,
            luhn=self.luhn,
        )


@strawberry.input(
    name="ReferrerRewardInput",
    description="A code of a DISCOUNT campaign, or points in a LOYALTY program; replaces the "
    "stored reward.",
)
class ReferrerRewardInputType:
    discount_campaign_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The DISCOUNT campaign whose code the referrer gets; give this or loyaltyCampaignId."
        ),
    )
    loyalty_campaign_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The LOYALTY program the referrer earns points in; give this or discountCampaignId."
        ),
    )
    points: int | None = strawberry.field(
        default=None,
        description="With loyaltyCampaignId: the points the referrer earns, 1 to 1,000,000,000.",
    )

    def to_domain(self) -> campaigns.ReferrerRewardInput:
        return campaigns.ReferrerRewardInput(
            discount_campaign_id=None
            if self.discount_campaign_id is None
            else str(self.discount_campaign_id),
            loyalty_campaign_id=None
            if self.loyalty_campaign_id is None
            else str(self.loyalty_campaign_id),
            points=self.points,
        )


@strawberry.input(
    name="ReferralConfigInput", description="REFERRAL campaigns: left out keeps the value."
)
class ReferralConfigInputType:
    landing_url: str | None = strawberry.field(
        default=None, description="Required at creation: where referral links lead (http(s))."
    )
    welcome_campaign_id: strawberry.ID | None = strawberry.field(
        default=None, description="The DISCOUNT campaign whose code a referee gets; empty: none."
    )
    referrer_reward: ReferrerRewardInputType | None = strawberry.field(
        default=None,
        description=(
            "What the referrer gets when a referral completes; replaces the stored reward."
        ),
    )
    min_order: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes the minimum."
    )
    hold_days: int | None = strawberry.field(
        default=None, description="Days the referrer's reward is held (0 when left out)."
    )
    max_referrals_per_referrer: int | None = strawberry.field(
        default=strawberry.UNSET, description="Null: no cap."
    )

    def to_domain(self) -> campaigns.ReferralConfigInput:
        return campaigns.ReferralConfigInput(
            landing_url=self.landing_url,
            welcome_campaign_id=None
            if self.welcome_campaign_id is None
            else str(self.welcome_campaign_id),
            referrer_reward=None
            if self.referrer_reward is None
            else self.referrer_reward.to_domain(),
            min_order=_kept(self.min_order),
            hold_days=self.hold_days,
            max_referrals_per_referrer=_kept(self.max_referrals_per_referrer),
        )


@strawberry.input(
    name="PassLocationInput",
    description="A store near which the campaign's wallet passes show on the lock screen.",
)
class PassLocationInputType:
    latitude: float = strawberry.field(description="Degrees north, -90 to 90 (WGS 84).")
    longitude: float = strawberry.field(description="Degrees east, -180 to 180 (WGS 84).")
    relevant_text: str = strawberry.field(
        default="", description="What the lock screen shows near this place."
    )


@strawberry.input(
    name="CampaignInput",
    description="On update only the fields given change; nested inputs merge field by field.",
)
class CampaignInputType:
    name: str | None = strawberry.field(
        default=None, description="1 to 200 characters; required at creation."
    )
    kind: CampaignKindEnum | None = strawberry.field(
        default=None, description="DISCOUNT when left out at creation."
    )
    discount: DiscountInputType | None = strawberry.field(
        default=None,
        description="DISCOUNT campaigns: what the codes take off; required at creation.",
    )
    starts_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="When codes start to redeem, ISO 8601 (stored in UTC); null: from now on.",
    )
    ends_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="When codes stop redeeming, ISO 8601 (stored in UTC); null: no end.",
    )
    timezone: str | None = strawberry.field(
        default=None, description="IANA zone for days and hours (UTC when left out)."
    )
    limits: LimitsInputType | None = strawberry.field(
        default=None,
        description="How often codes may be redeemed; left-out limits keep their value.",
    )
    rules: RulesInputType | None = strawberry.field(
        default=None, description="Who and which orders may redeem the codes."
    )
    codes: CodeConfigInputType | None = strawberry.field(
        default=None, description="How generated codes look."
    )
    standalone_code: str | None = strawberry.field(
        default=None,
        description="One code shared by everyone, e.g. SUMMER20; set at creation only.",
    )
    loyalty: LoyaltyConfigInputType | None = strawberry.field(
        default=None, description="LOYALTY campaigns: earning rules, tiers and expiry."
    )
    referral: ReferralConfigInputType | None = strawberry.field(
        default=None, description="REFERRAL campaigns: landing page and rewards."
    )
    codes_per_customer: int | None = strawberry.field(
        default=None,
        description=(
            "How many codes publishCode may give one customer, a positive whole number (1 when "
            "left out at creation)."
        ),
    )
    release_limits_on_refund: bool | None = strawberry.field(
        default=None,
        description="A cancelled or refunded order gives back the limits its redemptions used.",
    )
    description: str | None = strawberry.field(
        default=None,
        description="Text shown to customers about the offer, at most 10,000 characters.",
    )
    terms: str | None = strawberry.field(
        default=None,
        description="Terms and conditions shown to customers, at most 10,000 characters.",
    )
    pass_locations: list[PassLocationInputType] | None = strawberry.field(
        default=None,
        description="Up to 10 stores near which the campaign's wallet passes show on the lock "
        "screen; replaces the list, [] clears it.",
    )

    def to_domain(self) -> campaigns.CampaignInput:
        return campaigns.CampaignInput(
            name=self.name,
            kind=None if self.kind is None else self.kind.value,
            discount=None if self.discount is None else self.discount.to_domain(),
            starts_at=_kept(self.starts_at),
            ends_at=_kept(self.ends_at),
            timezone=self.timezone,
            limits=None if self.limits is None else self.limits.to_domain(),
            rules=None if self.rules is None else self.rules.to_domain(),
            codes=None if self.codes is None else self.codes.to_domain(),
            standalone_code=self.standalone_code,
            description=self.description,
            terms=self.terms,
            loyalty=None if self.loyalty is None else self.loyalty.to_domain(),
            referral=None if self.referral is None else self.referral.to_domain(),
            codes_per_customer=self.codes_per_customer,
            release_limits_on_refund=self.release_limits_on_refund,
            pass_locations=None
            if self.pass_locations is None
            else [
                campaigns.PassLocationInput(p.latitude, p.longitude, p.relevant_text)
                for p in self.pass_locations
            ],
        )
