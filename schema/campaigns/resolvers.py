"""GraphQL queries and mutations for campaigns: read, create, update, pause, resume, end."""

import typing
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from domain import campaigns
from domain.errors import NotFound
from domain.loyalty_config import LoyaltyConfig, LoyaltyConfigInput, LoyaltyTierInput
from schema.context import Info
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, Money, MoneyInput, UserError, connection


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


@strawberry.enum(name="PointsRounding")
class PointsRoundingEnum(Enum):
    FLOOR = "FLOOR"
    HALF_EVEN = "HALF_EVEN"


@strawberry.type(name="LoyaltyTier")
class LoyaltyTierType:
    name: str
    threshold: int = strawberry.field(description="Points earned in the rolling window.")
    multiplier: float


@strawberry.type(name="LoyaltyEvent")
class LoyaltyEventType:
    name: str
    points: int


@strawberry.enum(name="TierBasis")
class TierBasisEnum(Enum):
    POINTS = "POINTS"
    SPENT = "SPENT"


@strawberry.type(name="LoyaltyConfig")
class LoyaltyConfigType:
    points_per_unit: float = strawberry.field(description="Per major currency unit spent.")
    rounding: PointsRoundingEnum
    points_per_order: int
    events: list[LoyaltyEventType]
    tiers: list[LoyaltyTierType]
    tier_window_days: int
    tier_basis: TierBasisEnum = strawberry.field(
        description="POINTS earned or amount SPENT in the window decides the tier."
    )
    currency: str = strawberry.field(description="SPENT: the currency counted; else empty.")
    expiry_days: int | None = strawberry.field(description="Null: points never expire.")

    @classmethod
    def from_domain(cls, value: LoyaltyConfig) -> "LoyaltyConfigType":
        return cls(
            points_per_unit=value.points_per_unit,
            rounding=PointsRoundingEnum(value.rounding.value),
            points_per_order=value.points_per_order,
            events=[LoyaltyEventType(name=n, points=p) for n, p in value.events.items()],
            tiers=[
                LoyaltyTierType(name=t.name, threshold=t.threshold, multiplier=t.multiplier)
                for t in value.tiers
            ],
            tier_window_days=value.tier_window_days,
            tier_basis=TierBasisEnum(value.tier_basis.value),
            currency=value.currency,
            expiry_days=value.expiry_days,
        )


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


def _kept(value: Any) -> Any:
    """A field left out of the request keeps its value; an explicit null clears it."""
    return campaigns.UNSET if value is strawberry.UNSET else value


@strawberry.input(name="DiscountInput")
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
    per_code: int | None = strawberry.UNSET
    per_customer: int | None = strawberry.UNSET
    total: int | None = strawberry.UNSET
    per_day: int | None = strawberry.UNSET

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
    segment_ids: list[str] | None = None
    skus: list[str] | None = None
    categories: list[str] | None = None
    first_order_only: bool | None = None
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
    mode: CodeModeEnum | None = None
    pattern: str | None = strawberry.field(
        default=None,
        description="`#` marks a random character, e.g. SUMMER-####-####; empty clears it.",
    )
    charset: str | None = None
    length: int | None = strawberry.field(
        default=None, description="NUMERIC: 12 to 16 digits, prefix and check digit included."
    )
    prefix: str | None = None
    suffix: str | None = None
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


@strawberry.input(name="LoyaltyTierInput")
class LoyaltyTierInputType:
    name: str
    threshold: int = strawberry.field(description="Points earned in the rolling window.")
    multiplier: float = 1.0


@strawberry.input(name="LoyaltyEventInput")
class LoyaltyEventInputType:
    name: str
    points: int


@strawberry.input(
    name="LoyaltyConfigInput",
    description="LOYALTY campaigns: left out keeps the value; lists given replace the stored ones.",
)
class LoyaltyConfigInputType:
    points_per_unit: float | None = strawberry.field(
        default=None, description="Points per major currency unit spent (1 when left out)."
    )
    rounding: PointsRoundingEnum | None = strawberry.field(
        default=None, description="FLOOR (default) or HALF_EVEN."
    )
    points_per_order: int | None = None
    events: list[LoyaltyEventInputType] | None = None
    tiers: list[LoyaltyTierInputType] | None = None
    tier_window_days: int | None = strawberry.field(
        default=None, description="The rolling window tiers are computed over (365 days)."
    )
    tier_basis: TierBasisEnum | None = strawberry.field(
        default=None, description="POINTS (default) or SPENT; SPENT needs `currency`."
    )
    currency: str | None = strawberry.field(
        default=None, description="SPENT: orders in this currency count towards tiers."
    )
    expiry_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Null: points never expire."
    )

    def to_domain(self) -> LoyaltyConfigInput:
        events = None if self.events is None else [(e.name, e.points) for e in self.events]
        config = LoyaltyConfigInput(
            points_per_unit=self.points_per_unit,
            rounding=None if self.rounding is None else self.rounding.value,
            points_per_order=self.points_per_order,
            events=events,
            tiers=None
            if self.tiers is None
            else [LoyaltyTierInput(t.name, t.threshold, t.multiplier) for t in self.tiers],
            tier_window_days=self.tier_window_days,
            tier_basis=None if self.tier_basis is None else self.tier_basis.value,
            currency=self.currency,
        )
        if self.expiry_days is not strawberry.UNSET:
            config.expiry_days = self.expiry_days
        return config


@strawberry.input(
    name="ReferrerRewardInput",
    description="A code of a DISCOUNT campaign, or points in a LOYALTY program; replaces the "
    "stored reward.",
)
class ReferrerRewardInputType:
    discount_campaign_id: strawberry.ID | None = None
    loyalty_campaign_id: strawberry.ID | None = None
    points: int | None = None

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
    referrer_reward: ReferrerRewardInputType | None = None
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


@strawberry.input(name="PassLocationInput")
class PassLocationInputType:
    latitude: float
    longitude: float
    relevant_text: str = strawberry.field(
        default="", description="What the lock screen shows near this place."
    )


@strawberry.input(
    name="CampaignInput",
    description="On update only the fields given change; nested inputs merge field by field.",
)
class CampaignInputType:
    name: str | None = None
    kind: CampaignKindEnum | None = strawberry.field(
        default=None, description="DISCOUNT when left out at creation."
    )
    discount: DiscountInputType | None = None
    starts_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Null: from now on."
    )
    ends_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Null: no end."
    )
    timezone: str | None = strawberry.field(
        default=None, description="IANA zone for days and hours (UTC when left out)."
    )
    limits: LimitsInputType | None = None
    rules: RulesInputType | None = None
    codes: CodeConfigInputType | None = None
    standalone_code: str | None = strawberry.field(
        default=None,
        description="One code shared by everyone, e.g. SUMMER20; set at creation only.",
    )
    loyalty: LoyaltyConfigInputType | None = None
    referral: ReferralConfigInputType | None = None
    codes_per_customer: int | None = None
    release_limits_on_refund: bool | None = strawberry.field(
        default=None,
        description="A cancelled or refunded order gives back the limits its redemptions used.",
    )
    description: str | None = None
    terms: str | None = None
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


@strawberry.input
class CampaignFilter:
    kind: CampaignKindEnum | None = None
    status: CampaignStatusEnum | None = None


@strawberry.type
class CampaignPayload:
    campaign: CampaignType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CampaignQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="Null when the project has no such campaign."
    )
    async def campaign(self, info: Info, id: strawberry.ID) -> CampaignType | None:
        try:
            found = await campaigns.get_campaign(info.context.project_id, str(id), "id")
        except NotFound:
            return None
        return CampaignType.from_doc(found)

    @strawberry.field(permission_classes=[IsAdmin], description="Oldest first.")
    async def campaigns(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: CampaignFilter | None = None,
    ) -> Connection[CampaignType]:
        wanted = filter or CampaignFilter()
        kind = None if wanted.kind is None else campaigns.CampaignKind(wanted.kind.value)
        status = None if wanted.status is None else campaigns.CampaignStatus(wanted.status.value)
        page = await campaigns.list_campaigns(
            info.context.project_id, first, after, kind=kind, status=status
        )
        return connection(page, CampaignType.from_doc)


async def _set_status(
    info: Info, id: strawberry.ID, status: campaigns.CampaignStatus
) -> CampaignPayload:
    campaign = await campaigns.set_campaign_status(info.context.project_id, str(id), status)
    return CampaignPayload(campaign=CampaignType.from_doc(campaign))


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_campaign(self, info: Info, input: CampaignInputType) -> CampaignPayload:
        campaign = await campaigns.create_campaign(info.context.project_id, input.to_domain())
        return CampaignPayload(campaign=CampaignType.from_doc(campaign))

    @strawberry.mutation(permission_classes=[IsAdmin], description="Changes only the fields given.")
    @payload
    async def update_campaign(
        self, info: Info, id: strawberry.ID, input: CampaignInputType
    ) -> CampaignPayload:
        campaign = await campaigns.update_campaign(
            info.context.project_id, str(id), input.to_domain()
        )
        return CampaignPayload(campaign=CampaignType.from_doc(campaign))

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="Its codes validate as PAUSED until resumed."
    )
    @payload
    async def pause_campaign(self, info: Info, id: strawberry.ID) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.PAUSED)

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="An ENDED campaign cannot be resumed."
    )
    @payload
    async def resume_campaign(self, info: Info, id: strawberry.ID) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.ACTIVE)

    @strawberry.mutation(permission_classes=[IsAdmin], description="Final: no code works after.")
    @payload
    async def end_campaign(self, info: Info, id: strawberry.ID) -> CampaignPayload:
        return await _set_status(info, id, campaigns.CampaignStatus.ENDED)
