"""GraphQL types of a LOYALTY campaign's program: earning, tiers and expiry, read and written."""

from enum import Enum

import strawberry

from domain.loyalty_config import LoyaltyConfig, LoyaltyConfigInput, LoyaltyTierInput


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
