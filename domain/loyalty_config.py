"""A loyalty program's earning rules, tiers and expiry, embedded in its LOYALTY campaign.

Kept apart from domain.loyalty so that domain.campaigns can validate it without a cycle."""

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.common import CURRENCY_PATTERN
from domain.errors import CommonError, ErrorCode, Problem
from domain.loyalty_errors import LoyaltyError

MAX_EVENTS = 100
MAX_TIERS = 20
MAX_NAME = 100
# Ten years: longer windows or lifetimes are a mistake in the input, not a policy.
MAX_DAYS = 3650
DEFAULT_TIER_WINDOW_DAYS = 365


class PointsRounding(StrEnum):
    FLOOR = "FLOOR"
    HALF_EVEN = "HALF_EVEN"


class TierBasis(StrEnum):
    # Points earned (less reversals) in the rolling window.
    POINTS = "POINTS"
    # Amount spent in the window, in minor units of the program's currency.
    SPENT = "SPENT"


class LoyaltyTier(BaseModel):
    name: str
    # Needed in the rolling window to hold the tier: points, or minor units spent.
    threshold: int
    multiplier: float = 1.0


class LoyaltyConfig(BaseModel):
    # Points per major currency unit spent (per euro, per yen), before the tier multiplier.
    points_per_unit: float = 1.0
    rounding: PointsRounding = PointsRounding.FLOOR
    points_per_order: int = 0
    events: dict[str, int] = Field(default_factory=dict)
    # Sorted by threshold, lowest first.
    tiers: list[LoyaltyTier] = Field(default_factory=list)
    tier_window_days: int = DEFAULT_TIER_WINDOW_DAYS
    tier_basis: TierBasis = TierBasis.POINTS
    # The currency spending is counted in; orders in other currencies do not count. "" unless
    # tier_basis is SPENT.
    currency: str = ""
    # None: points never expire.
    expiry_days: int | None = None

    def tier_for(self, in_window: int) -> LoyaltyTier | None:
        """The highest tier whose threshold the window's points (or spending) reach."""
        held = [tier for tier in self.tiers if tier.threshold <= in_window]
        return held[-1] if held else None

    def counted_spent(self, currency: str, amount: int) -> int:
        """Minor units of an order that count toward SPENT tiers."""
        if self.tier_basis != TierBasis.SPENT or currency != self.currency:
            return 0
        return max(amount, 0)

    def multiplier(self, tier_name: str) -> Decimal:
        for tier in self.tiers:
            if tier.name == tier_name:
                return Decimal(str(tier.multiplier))
        return Decimal(1)

    def rounded(self, value: Decimal) -> int:
        mode = ROUND_FLOOR if self.rounding == PointsRounding.FLOOR else ROUND_HALF_EVEN
        return int(value.quantize(Decimal(1), rounding=mode))


class _Unset:
    """An input field left out, as opposed to one set to null."""


UNSET_DAYS = _Unset()


@dataclass
class LoyaltyTierInput:
    name: str
    threshold: int
    multiplier: float = 1.0


@dataclass
class LoyaltyConfigInput:
    """Fields left as None (UNSET_DAYS for expiry_days) keep their value; lists given replace."""

    points_per_unit: float | None = None
    rounding: PointsRounding | str | None = None
    points_per_order: int | None = None
    events: list[tuple[str, int]] | None = None
    tiers: list[LoyaltyTierInput] | None = None
    tier_window_days: int | None = None
    expiry_days: int | _Unset | None = UNSET_DAYS
    tier_basis: TierBasis | str | None = None
    currency: str | None = None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validated_loyalty(
    given: LoyaltyConfigInput | None, current: LoyaltyConfig | None
) -> tuple[LoyaltyConfig, list[Problem]]:
    """The merged config and every problem found; nothing is stored when problems come back."""
    base = current or LoyaltyConfig()
    if given is None:
        return base, []
    problems: list[Problem] = []

    def add(code: ErrorCode, message: str, field: str) -> None:
        problems.append(Problem(code, message, f"loyalty.{field}"))

    per_unit = base.points_per_unit if given.points_per_unit is None else given.points_per_unit
    if not math.isfinite(per_unit) or per_unit < 0 or per_unit > 1_000_000:
        add(
            CommonError.INVALID_POINTS,
            "pointsPerUnit must be between 0 and 1000000",
            "pointsPerUnit",
        )
    rounding = base.rounding
    if given.rounding is not None:
        try:
            rounding = PointsRounding(given.rounding)
        except ValueError:
            add(LoyaltyError.INVALID_ROUNDING, "rounding must be FLOOR or HALF_EVEN", "rounding")
    per_order = base.points_per_order if given.points_per_order is None else given.points_per_order
    if not _whole(per_order) or not 0 <= per_order <= 1_000_000:
        add(
            CommonError.INVALID_POINTS,
            "pointsPerOrder must be a whole number 0 to 1000000",
            "pointsPerOrder",
        )

    events = dict(base.events)
    if given.events is not None:
        events = {}
        if len(given.events) > MAX_EVENTS:
            add(CommonError.INVALID, f"at most {MAX_EVENTS} events", "events")
        for raw_name, points in given.events:
            name = raw_name.strip()
            if not name or len(name) > MAX_NAME:
                add(
                    LoyaltyError.INVALID_EVENT,
                    f"an event name is 1 to {MAX_NAME} characters",
                    "events",
                )
            elif name in events:
                add(LoyaltyError.DUPLICATE_EVENT, f"event {name} is listed twice", "events")
            elif not _whole(points) or not 0 < points <= 1_000_000:
                add(CommonError.INVALID_POINTS, f"event {name} needs 1 to 1000000 points", "events")
            else:
                events[name] = points

    tiers = list(base.tiers)
    if given.tiers is not None:
        tiers = []
        if len(given.tiers) > MAX_TIERS:
            add(CommonError.INVALID, f"at most {MAX_TIERS} tiers", "tiers")
        names: set[str] = set()
        thresholds: set[int] = set()
        for tier in given.tiers:
            name = tier.name.strip()
            if not name or len(name) > MAX_NAME:
                add(
                    LoyaltyError.INVALID_TIER, f"a tier name is 1 to {MAX_NAME} characters", "tiers"
                )
                continue
            if name in names:
                add(LoyaltyError.DUPLICATE_TIER, f"tier {name} is listed twice", "tiers")
                continue
            if not _whole(tier.threshold) or tier.threshold < 0:
                add(
                    LoyaltyError.INVALID_TIER,
                    f"tier {name} needs a threshold of 0 or more",
                    "tiers",
                )
                continue
            if tier.threshold in thresholds:
                add(
                    LoyaltyError.DUPLICATE_TIER,
                    f"two tiers have threshold {tier.threshold}",
                    "tiers",
                )
                continue
            if not math.isfinite(tier.multiplier) or not 0 < tier.multiplier <= 100:
                add(
                    LoyaltyError.INVALID_TIER,
                    f"tier {name} needs a multiplier above 0, at most 100",
                    "tiers",
                )
                continue
            names.add(name)
            thresholds.add(tier.threshold)
            tiers.append(
                LoyaltyTier(name=name, threshold=tier.threshold, multiplier=tier.multiplier)
            )
        tiers.sort(key=lambda t: t.threshold)

    window = base.tier_window_days if given.tier_window_days is None else given.tier_window_days
    if not _whole(window) or not 1 <= window <= MAX_DAYS:
        add(CommonError.INVALID_DAYS, f"tierWindowDays must be 1 to {MAX_DAYS}", "tierWindowDays")
    basis = base.tier_basis
    if given.tier_basis is not None:
        try:
            basis = TierBasis(given.tier_basis)
        except ValueError:
            add(LoyaltyError.INVALID_TIER_BASIS, "tierBasis must be POINTS or SPENT", "tierBasis")
    currency = base.currency if given.currency is None else given.currency.strip().upper()
    if currency and not CURRENCY_PATTERN.match(currency):
        add(CommonError.INVALID_CURRENCY, "currency must be an ISO 4217 code", "currency")
    elif basis == TierBasis.SPENT and not currency:
        add(
            CommonError.REQUIRED,
            "tiers by amount spent need the currency spending is counted in",
            "currency",
        )
    expiry = base.expiry_days
    if not isinstance(given.expiry_days, _Unset):
        expiry = given.expiry_days
        if expiry is not None and (not _whole(expiry) or not 1 <= expiry <= MAX_DAYS):
            add(
                CommonError.INVALID_DAYS,
                f"expiryDays must be 1 to {MAX_DAYS}, or null",
                "expiryDays",
            )
    if problems:
        return base, problems
    return (
        LoyaltyConfig(
            points_per_unit=per_unit,
            rounding=rounding,
            points_per_order=per_order,
            events=events,
            tiers=tiers,
            tier_window_days=window,
            tier_basis=basis,
            currency=currency,
            expiry_days=expiry,
        ),
        [],
    )
