"""GraphQL for campaigns: the Campaign type, its inputs, queries and mutations."""

import typing
from datetime import datetime
from enum import Enum

import strawberry

from domain import campaigns
from schema.types import JSON, Money


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
    codes_per_customer: int
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
            codes_per_customer=doc.codes_per_customer,
            codes_count=doc.codes_count,
            redeemed_count=doc.redeemed_count,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        )


@strawberry.type
class CampaignQuery:
    pass


@strawberry.type
class CampaignMutation:
    pass
