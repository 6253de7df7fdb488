"""GraphQL types of a LOYALTY campaign's program: earning, tiers and expiry, read and written."""

from enum import Enum

import strawberry

from domain.loyalty_config import LoyaltyConfig, LoyaltyConfigInput, LoyaltyTierInput
from schema.described_enums import described_enum


@described_enum(
    name="PointsRounding",
    description="How fractional points earned on an order become whole points.",
    values={
        "FLOOR": "Rounded down (12.9 gives 12).",
        "HALF_EVEN": (
            "Rounded to the nearest whole point, halves to the even one (12.5 gives 12, 13.5 gives "
            "14)."
        ),
    },
)
class PointsRoundingEnum(Enum):
    FLOOR = "FLOOR"
    HALF_EVEN = "HALF_EVEN"


@strawberry.type(
    name="LoyaltyTier",
    description=(
        "A tier of a loyalty program: reached by points earned or amount spent in the rolling "
        "window, it multiplies points earned."
    ),
)
class LoyaltyTierType:
    name: str = strawberry.field(
        description="The tier's name, 1 to 100 characters, unique in the program."
    )
    threshold: int = strawberry.field(
        description="What the rolling window must reach for the tier: points (POINTS basis) or "
        "minor units spent (SPENT basis), 0 or more, distinct per tier."
    )
    multiplier: float = strawberry.field(
        description="Points earned on orders are multiplied by this, above 0 and at most 100."
    )


@strawberry.type(
    name="LoyaltyEvent",
    description="An event (trackEvent name) that gives loyalty points.",
)
class LoyaltyEventType:
    name: str = strawberry.field(description="The event name, as sent to trackEvent.")
    points: int = strawberry.field(description="Points the event gives each time it is tracked.")


@described_enum(
    name="TierBasis",
    description="What decides a card's tier.",
    values={
        "POINTS": "Points earned (less reversals) in the rolling window.",
        "SPENT": "Amount spent in the rolling window, in minor units of the program's currency.",
    },
)
class TierBasisEnum(Enum):
    POINTS = "POINTS"
    SPENT = "SPENT"


@strawberry.type(
    name="LoyaltyConfig",
    description="A LOYALTY campaign's program: how points are earned, its tiers and expiry.",
)
class LoyaltyConfigType:
    points_per_unit: float = strawberry.field(
        description="Points per major currency unit spent (per euro), before the tier multiplier."
    )
    rounding: PointsRoundingEnum = strawberry.field(
        description="How fractional points from spending are rounded."
    )
    points_per_order: int = strawberry.field(
        description="Points every recorded order gives, on top of those per unit spent."
    )
    events: list[LoyaltyEventType] = strawberry.field(
        description="Events that give points, at most 100."
    )
    tiers: list[LoyaltyTierType] = strawberry.field(
        description="Tiers sorted by threshold, lowest first; at most 20. Empty: no tiers."
    )
    tier_window_days: int = strawberry.field(
        description="The rolling window, in days (1 to 3650), that tiers are computed over."
    )
    tier_basis: TierBasisEnum = strawberry.field(
        description="POINTS earned or amount SPENT in the window decides the tier."
    )
    currency: str = strawberry.field(
        description='SPENT: the ISO 4217 currency counted (other orders do not count); else "".'
    )
    expiry_days: int | None = strawberry.field(
        description="Days points last; null: they never expire."
    )

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


@strawberry.input(
    name="LoyaltyTierInput",
    description="A tier of a loyalty program.",
)
class LoyaltyTierInputType:
    name: str = strawberry.field(description="1 to 100 characters, unique in the program.")
    threshold: int = strawberry.field(
        description="What the rolling window must reach for the tier: points (POINTS basis) or "
        "minor units spent (SPENT basis), 0 or more, distinct per tier."
    )
    multiplier: float = strawberry.field(
        default=1.0,
        description=(
            "Points earned on orders are multiplied by this, above 0 and at most 100 (1 when left "
            "out)."
        ),
    )


@strawberry.input(
    name="LoyaltyEventInput",
    description="An event (trackEvent name) that gives loyalty points.",
)
class LoyaltyEventInputType:
    name: str = strawberry.field(
        description=(
            "The event name, as sent to trackEvent, 1 to 100 characters, once per program."
        )
    )
    points: int = strawberry.field(
        description="Points the event gives each time it is tracked, 1 to 1,000,000."
    )


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
    points_per_order: int | None = strawberry.field(
        default=None,
        description=(
            "Points every recorded order gives, on top of those per unit spent (0 when left out)."
        ),
    )
    events: list[LoyaltyEventInputType] | None = strawberry.field(
        default=None,
        description="Events that give points, at most 100; replaces the stored list.",
    )
    tiers: list[LoyaltyTierInputType] | None = strawberry.field(
        default=None,
        description=(
            "Tiers, at most 20, with distinct names and thresholds; replaces the stored list."
        ),
    )
    tier_window_days: int | None = strawberry.field(
        default=None,
        description="The rolling window tiers are computed over, 1 to 3650 days "
        "(365 when left out).",
    )
    tier_basis: TierBasisEnum | None = strawberry.field(
        default=None, description="POINTS (default) or SPENT; SPENT needs `currency`."
    )
    currency: str | None = strawberry.field(
        default=None, description="SPENT: orders in this currency count towards tiers."
    )
    expiry_days: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Days points last, 1 to 3650; null: points never expire.",
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
