"""GraphQL output types of a campaign: the Campaign and the parts it is made of."""

import typing
from datetime import datetime

import strawberry

from domain import campaigns
from schema.campaigns.enums import (
    CampaignKindEnum,
    CampaignStatusEnum,
    CodeModeEnum,
    DiscountScopeEnum,
    DiscountTypeEnum,
)
from schema.campaigns.loyalty_config import LoyaltyConfigType
from schema.types import JSON, Money


@strawberry.type(
    name="Discount",
    description=(
        "What a DISCOUNT campaign's codes take off an order. Amounts are in minor units of the "
        "campaign's currency."
    ),
)
class DiscountType:
    type: DiscountTypeEnum = strawberry.field(description="How the discount is computed.")
    percent_off: float | None = strawberry.field(
        description=(
            "PERCENT only: the percentage off, more than 0 and at most 100 (12.5 is 12.5%); null "
            "for other types."
        )
    )
    amount_off: Money | None = strawberry.field(
        description=(
            "AMOUNT only: the amount taken off, never more than what it applies to; null for other "
            "types."
        )
    )
    max_discount: Money | None = strawberry.field(
        description="PERCENT only: the most the discount takes off one order; null: no cap."
    )
    fixed_price: Money | None = strawberry.field(
        description=(
            "FIXED_PRICE only: what the order (or its eligible items) costs with the code; null "
            "for other types."
        )
    )
    scope: DiscountScopeEnum = strawberry.field(
        description="Whether the discount applies to the whole order or to its eligible items."
    )

    @classmethod
    def from_domain(cls, value: campaigns.Discount) -> "DiscountType":
        return cls(
            type=DiscountTypeEnum(value.type.value),
            percent_off=value.percent_off,
            amount_off=Money.from_domain(value.amount_off),
            max_discount=Money.from_domain(value.max_discount),
            fixed_price=Money.from_domain(value.fixed_price),
            scope=DiscountScopeEnum(value.scope.value),
        )


@strawberry.type(name="Limits", description="Null means unlimited.")
class LimitsType:
    per_code: int | None = strawberry.field(
        description="How often one code may be redeemed; null: unlimited."
    )
    per_customer: int | None = strawberry.field(
        description="How often one customer may redeem the campaign; null: unlimited."
    )
    total: int | None = strawberry.field(
        description="How often the campaign may be redeemed in all; null: unlimited."
    )
    per_day: int | None = strawberry.field(
        description=(
            "How often the campaign may be redeemed per day (in the campaign's time zone); null: "
            "unlimited."
        )
    )


@strawberry.type(
    name="Rules",
    description=(
        "Who and which orders may redeem a DISCOUNT campaign's codes. An empty list is no "
        "condition."
    ),
)
class RulesType:
    min_order: Money | None = strawberry.field(
        description=(
            "The lowest order amount (before discount) a code redeems on; null: any amount."
        )
    )
    segment_ids: list[str] = strawberry.field(
        description="Segment ids: the customer must be in at least one of them."
    )
    skus: list[str] = strawberry.field(
        description="Item skus that an ELIGIBLE_ITEMS discount applies to."
    )
    categories: list[str] = strawberry.field(
        description="Item categories that an ELIGIBLE_ITEMS discount applies to."
    )
    first_order_only: bool = strawberry.field(
        description="Whether only a customer's first order may use the codes."
    )
    days_of_week: list[int] = strawberry.field(
        description=(
            "ISO weekdays the codes redeem on, 1 (Monday) to 7 (Sunday), in the campaign's time "
            "zone."
        )
    )
    hours: list[int] = strawberry.field(
        description="Hours of the day the codes redeem in, 0 to 23, in the campaign's time zone."
    )
    customer_tags: list[str] = strawberry.field(
        description="Lower-case tags: the customer must carry at least one of them."
    )
    attributes: JSON = strawberry.field(
        description=(
            "A JSON object of attribute values that the customer's attributes must all equal."
        )
    )

    @classmethod
    def from_domain(cls, value: campaigns.Rules) -> "RulesType":
        return cls(
            min_order=Money.from_domain(value.min_order),
            segment_ids=value.segment_ids,
            skus=value.skus,
            categories=value.categories,
            first_order_only=value.first_order_only,
            days_of_week=value.days_of_week,
            hours=value.hours,
            customer_tags=value.customer_tags,
            attributes=typing.cast(JSON, value.attributes),
        )


@strawberry.type(
    name="CodeConfig",
    description="How a campaign's generated codes look.",
)
class CodeConfigType:
    mode: CodeModeEnum = strawberry.field(description="The code alphabet: ALPHANUMERIC or NUMERIC.")
    pattern: str | None = strawberry.field(
        description=(
            "ALPHANUMERIC only: the code's shape, `#` for a random character and other characters "
            "kept (such as SUMMER-####-####); null: `length` random characters."
        )
    )
    charset: str = strawberry.field(
        description="The characters random positions are drawn from (NUMERIC: 0-9)."
    )
    length: int = strawberry.field(
        description=(
            "Random characters per code without a pattern, 4 to 64 (NUMERIC: the whole code, 12 to "
            "16 digits, prefix and check digit included)."
        )
    )
    prefix: str = strawberry.field(
        description=(
            'Text put before every code, up to 20 letters, digits and dashes; "" for none.'
        )
    )
    suffix: str = strawberry.field(
        description=('Text put after every code, up to 20 letters, digits and dashes; "" for none.')
    )
    luhn: bool = strawberry.field(
        description="NUMERIC only: whether the last digit is a Luhn check digit."
    )


@strawberry.type(
    name="ReferrerReward",
    description=(
        "What a referrer gets when a referral completes: a discount code or loyalty points."
    ),
)
class ReferrerRewardType:
    discount_campaign_id: strawberry.ID | None = strawberry.field(
        description="The DISCOUNT campaign whose code the referrer gets."
    )
    loyalty_campaign_id: strawberry.ID | None = strawberry.field(
        description="The LOYALTY program the referrer earns points in."
    )
    points: int = strawberry.field(
        description="The loyalty points the referrer earns; 0 when the reward is a discount code."
    )


@strawberry.type(
    name="ReferralConfig",
    description="A REFERRAL campaign's program: where its links lead and who gets what, when.",
)
class ReferralConfigType:
    landing_url: str = strawberry.field(
        description="The http(s) address a referral link leads to, with the referral code added."
    )
    welcome_campaign_id: strawberry.ID | None = strawberry.field(
        description="The DISCOUNT campaign whose code a referee gets; null: none."
    )
    referrer_reward: ReferrerRewardType = strawberry.field(
        description="What the referrer gets when a referral completes."
    )
    min_order: Money | None = strawberry.field(
        description="The referee's first order at or above this completes the referral."
    )
    hold_days: int = strawberry.field(
        description="Days the referrer's reward is held; a refund meanwhile cancels it."
    )
    max_referrals_per_referrer: int | None = strawberry.field(description="Null: no cap.")

    @classmethod
    def from_domain(cls, value: campaigns.ReferralConfig) -> "ReferralConfigType":
        reward = value.referrer_reward
        return cls(
            landing_url=value.landing_url,
            welcome_campaign_id=strawberry.ID(value.welcome_campaign_id)
            if value.welcome_campaign_id
            else None,
            referrer_reward=ReferrerRewardType(
                discount_campaign_id=strawberry.ID(reward.discount_campaign_id)
                if reward.discount_campaign_id
                else None,
                loyalty_campaign_id=strawberry.ID(reward.loyalty_campaign_id)
                if reward.loyalty_campaign_id
                else None,
                points=reward.points,
            ),
            min_order=Money.from_domain(value.min_order),
            hold_days=value.hold_days,
            max_referrals_per_referrer=value.max_referrals_per_referrer,
        )


@strawberry.type(
    name="PassLocation",
    description="A store near which the campaign's wallet passes show on the lock screen.",
)
class PassLocationType:
    latitude: float = strawberry.field(description="Degrees north, -90 to 90 (WGS 84).")
    longitude: float = strawberry.field(description="Degrees east, -180 to 180 (WGS 84).")
    relevant_text: str = strawberry.field(
        description=('The text the lock screen shows near this place; "" for the default.')
    )


@strawberry.type(
    name="Campaign",
    description=(
        "A campaign of the project: coupon codes (DISCOUNT), a referral program or a loyalty "
        "program. Readable by admin keys."
    ),
)
class CampaignType:
    id: strawberry.ID = strawberry.field(description="The campaign's id.")
    name: str = strawberry.field(
        description="The campaign's name, shown to customers on coupon pages and passes."
    )
    kind: CampaignKindEnum = strawberry.field(
        description="What the campaign runs; fixed at creation."
    )
    status: CampaignStatusEnum = strawberry.field(description="Whether the campaign is running.")
    description: str = strawberry.field(
        description=('The text shown to customers about the offer; "" for none.')
    )
    terms: str = strawberry.field(
        description=('The terms and conditions shown to customers; "" for none.')
    )
    discount: DiscountType | None = strawberry.field(
        description="What a DISCOUNT campaign's codes take off; null for other kinds."
    )
    starts_at: datetime | None = strawberry.field(
        description="When codes start to redeem, UTC ISO 8601; null: from creation."
    )
    ends_at: datetime | None = strawberry.field(
        description="When codes stop redeeming, UTC ISO 8601; null: no end."
    )
    timezone: str = strawberry.field(
        description=(
            "The IANA time zone (such as Europe/Paris) that daily limits, days of week and hours "
            "are counted in."
        )
    )
    limits: LimitsType = strawberry.field(
        description="How often codes may be redeemed; each null limit is unlimited."
    )
    rules: RulesType = strawberry.field(description="Who and which orders may redeem the codes.")
    codes: CodeConfigType = strawberry.field(description="How generated codes look.")
    standalone_code: str | None = strawberry.field(
        description=(
            "One code shared by every customer instead of generated codes; null when codes are "
            "generated. Cannot change after creation."
        )
    )
    loyalty: LoyaltyConfigType | None = strawberry.field(
        description="A LOYALTY campaign's earning rules, tiers and expiry; null for other kinds."
    )
    referral: ReferralConfigType | None = strawberry.field(
        description="A REFERRAL campaign's program; null for other kinds."
    )
    codes_per_customer: int = strawberry.field(
        description="How many codes publishCode may give one customer in this campaign."
    )
    release_limits_on_refund: bool = strawberry.field(
        description=(
            "Whether a cancelled or refunded order gives back the limits its redemptions of this "
            "campaign used."
        )
    )
    pass_locations: list[PassLocationType] = strawberry.field(
        description=(
            "Up to 10 stores near which the campaign's wallet passes show on the lock screen."
        )
    )
    codes_count: int = strawberry.field(
        description="How many codes the campaign has (generated and published)."
    )
    redeemed_count: int = strawberry.field(
        description=(
            "How many redemptions of the campaign completed (rolled back ones are given back)."
        )
    )
    created_at: datetime = strawberry.field(
        description="When the campaign was created, UTC ISO 8601."
    )
    updated_at: datetime = strawberry.field(
        description="When the campaign last changed, UTC ISO 8601."
    )

    @classmethod
    def from_doc(cls, doc: campaigns.Campaign) -> "CampaignType":
        return cls(
            id=strawberry.ID(doc.key),
            name=doc.name,
            kind=CampaignKindEnum(doc.kind.value),
            status=CampaignStatusEnum(doc.status.value),
            description=doc.description,
            terms=doc.terms,
            discount=None if doc.discount is None else DiscountType.from_domain(doc.discount),
            starts_at=doc.starts_at,
            ends_at=doc.ends_at,
            timezone=doc.timezone,
            limits=LimitsType(**doc.limits.model_dump()),
            rules=RulesType.from_domain(doc.rules),
            codes=CodeConfigType(
                mode=CodeModeEnum(doc.codes.mode.value),
                pattern=doc.codes.pattern,
                charset=doc.codes.charset,
                length=doc.codes.length,
                prefix=doc.codes.prefix,
                suffix=doc.codes.suffix,
                luhn=doc.codes.luhn,
            ),
            standalone_code=doc.standalone_code,
            loyalty=None if doc.loyalty is None else LoyaltyConfigType.from_domain(doc.loyalty),
            referral=None if doc.referral is None else ReferralConfigType.from_domain(doc.referral),
            codes_per_customer=doc.codes_per_customer,
            release_limits_on_refund=doc.release_limits_on_refund,
            pass_locations=[
                PassLocationType(
                    latitude=p.latitude, longitude=p.longitude, relevant_text=p.relevant_text
                )
                for p in doc.pass_locations
            ],
            codes_count=doc.codes_count,
            redeemed_count=doc.redeemed_count,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        )
