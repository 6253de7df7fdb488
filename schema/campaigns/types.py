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


@strawberry.type(name="Discount")
class DiscountType:
    type: DiscountTypeEnum
    percent_off: float | None
    amount_off: Money | None
    max_discount: Money | None
    fixed_price: Money | None
    scope: DiscountScopeEnum

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
    per_code: int | None
    per_customer: int | None
    total: int | None
    per_day: int | None


@strawberry.type(name="Rules")
class RulesType:
    min_order: Money | None
    segment_ids: list[str]
    skus: list[str]
    categories: list[str]
    first_order_only: bool
    days_of_week: list[int]
    hours: list[int]
    customer_tags: list[str]
    attributes: JSON

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


@strawberry.type(name="CodeConfig")
class CodeConfigType:
    mode: CodeModeEnum
    pattern: str | None
    charset: str
    length: int
    prefix: str
    suffix: str
    luhn: bool


@strawberry.type(name="ReferrerReward")
class ReferrerRewardType:
    discount_campaign_id: strawberry.ID | None = strawberry.field(
        description="The DISCOUNT campaign whose code the referrer gets."
    )
    loyalty_campaign_id: strawberry.ID | None = strawberry.field(
        description="The LOYALTY program the referrer earns points in."
    )
    points: int


@strawberry.type(name="ReferralConfig")
class ReferralConfigType:
    landing_url: str
    welcome_campaign_id: strawberry.ID | None = strawberry.field(
        description="The DISCOUNT campaign whose code a referee gets; null: none."
    )
    referrer_reward: ReferrerRewardType
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


@strawberry.type(name="PassLocation")
class PassLocationType:
    latitude: float
    longitude: float
    relevant_text: str


@strawberry.type(name="Campaign")
class CampaignType:
    id: strawberry.ID
    name: str
    kind: CampaignKindEnum
    status: CampaignStatusEnum
    description: str
    terms: str
    discount: DiscountType | None
    starts_at: datetime | None
    ends_at: datetime | None
    timezone: str
    limits: LimitsType
    rules: RulesType
    codes: CodeConfigType
    standalone_code: str | None
    loyalty: LoyaltyConfigType | None
    referral: ReferralConfigType | None
    codes_per_customer: int
    release_limits_on_refund: bool
    pass_locations: list[PassLocationType]
    codes_count: int
    redeemed_count: int
    created_at: datetime
    updated_at: datetime

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
