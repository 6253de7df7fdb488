"""The loyalty program form: posted fields read into the LoyaltyConfigInput createCampaign and
updateCampaign take, a stored program written back into fields, and the reward and adjustment
forms' numbers read the same way. Inputs are named after the API's field paths
("loyalty.expiryDays") so that an error's field finds its input."""

import math
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from domain.campaigns import Campaign
from domain.errors import CommonError, Problem
from domain.loyalty_config import (
    LoyaltyConfig,
    LoyaltyConfigInput,
    LoyaltyTierInput,
    PointsRounding,
    TierBasis,
)

FIELDS = (
    "name",
    "loyalty.pointsPerUnit",
    "loyalty.rounding",
    "loyalty.pointsPerOrder",
    "loyalty.tierBasis",
    "loyalty.currency",
    "loyalty.tierWindowDays",
    "loyalty.expiryDays",
)
# Empty rows offered under the program's tiers and events for new ones.
SPARE_ROWS = 2
ROUNDINGS = [(PointsRounding.FLOOR.value, "Down"), (PointsRounding.HALF_EVEN.value, "To nearest")]
TIER_BASES = [
    (TierBasis.POINTS.value, "Points earned in the window"),
    (TierBasis.SPENT.value, "Amount spent in the window"),
]


@dataclass
class Row:
    """One tier (name, threshold, multiplier) or event (name, points) as typed."""

    name: str = ""
    threshold: str = ""
    multiplier: str = ""
    points: str = ""


@dataclass
class ProgramValues:
    fields: dict[str, str]
    tiers: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)

    def with_spare_rows(self) -> "ProgramValues":
        return ProgramValues(
            fields=self.fields,
            tiers=self.tiers + [Row() for _ in range(SPARE_ROWS)],
            events=self.events + [Row() for _ in range(SPARE_ROWS)],
        )


def _rows(form: FormData, prefix: str, parts: tuple[str, ...]) -> list[Row]:
    """The form's numbered rows (tiers.0.name, tiers.0.threshold, ...); blank rows dropped."""
    rows = []
    for index in range(100):
        values = {part: str(form.get(f"{prefix}.{index}.{part}") or "").strip() for part in parts}
        if not any(f"{prefix}.{index}.{part}" in form for part in parts):
            break
        if any(values.values()):
            rows.append(Row(**values))
    return rows


def read_values(form: FormData) -> ProgramValues:
    return ProgramValues(
        fields={name: str(form.get(name) or "").strip() for name in FIELDS},
        tiers=_rows(form, "tiers", ("name", "threshold", "multiplier")),
        events=_rows(form, "events", ("name", "points")),
    )


def _number(value: float) -> str:
    return f"{value:g}"


def program_values(campaign: Campaign) -> ProgramValues:
    config = campaign.loyalty or LoyaltyConfig()
    return ProgramValues(
        fields={
            "name": campaign.name,
            "loyalty.pointsPerUnit": _number(config.points_per_unit),
            "loyalty.rounding": config.rounding.value,
            "loyalty.pointsPerOrder": str(config.points_per_order),
            "loyalty.tierBasis": config.tier_basis.value,
            "loyalty.currency": config.currency,
            "loyalty.tierWindowDays": str(config.tier_window_days),
            "loyalty.expiryDays": "" if config.expiry_days is None else str(config.expiry_days),
        },
        tiers=[
            Row(name=t.name, threshold=str(t.threshold), multiplier=_number(t.multiplier))
            for t in config.tiers
        ],
        events=[Row(name=name, points=str(points)) for name, points in config.events.items()],
    )


def new_program_values() -> ProgramValues:
    config = LoyaltyConfig()
    return ProgramValues(
        fields={
            "name": "",
            "loyalty.pointsPerUnit": _number(config.points_per_unit),
            "loyalty.rounding": config.rounding.value,
            "loyalty.pointsPerOrder": str(config.points_per_order),
            "loyalty.tierBasis": config.tier_basis.value,
            "loyalty.currency": "",
            "loyalty.tierWindowDays": str(config.tier_window_days),
            "loyalty.expiryDays": "",
        }
    )


def whole_number(text: str) -> int | None:
    """A whole number as people type it ("1,000", "-50"); None when it is not one."""
    cleaned = text.replace(",", "").replace("_", "").replace(" ", "")
    try:
        return int(cleaned)
    except ValueError:
        return None


def decimal_number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def loyalty_input(values: ProgramValues) -> tuple[LoyaltyConfigInput, list[Problem]]:
    """The LoyaltyConfigInput the form stands for, and problems of inputs that could not be
    read as numbers (the domain checks the rest, with the same errors as the API)."""
    problems: list[Problem] = []
    fields = values.fields

    def whole(name: str, code: CommonError = CommonError.INVALID) -> int | None:
        number = whole_number(fields[name])
        if number is None:
            problems.append(Problem(code, "enter a whole number", name))
        return number

    per_unit = decimal_number(fields["loyalty.pointsPerUnit"] or "0")
    if per_unit is None:
        problems.append(
            Problem(
                CommonError.INVALID_POINTS, "enter a number such as 1.5", "loyalty.pointsPerUnit"
            )
        )
    tiers = []
    for row in values.tiers:
        threshold = whole_number(row.threshold)
        multiplier = decimal_number(row.multiplier or "1")
        if threshold is None or multiplier is None:
            problems.append(
                Problem(
                    CommonError.INVALID,
                    f"tier {row.name or '(no name)'} needs a whole threshold and a multiplier "
                    "such as 1.5",
                    "loyalty.tiers",
                )
            )
            continue
        tiers.append(LoyaltyTierInput(name=row.name, threshold=threshold, multiplier=multiplier))
    events = []
    for row in values.events:
        points = whole_number(row.points)
        if points is None:
            problems.append(
                Problem(
                    CommonError.INVALID_POINTS,
                    f"event {row.name or '(no name)'} needs a whole number of points",
                    "loyalty.events",
                )
            )
            continue
        events.append((row.name, points))
    expiry_text = fields["loyalty.expiryDays"]
    data = LoyaltyConfigInput(
        points_per_unit=per_unit,
        rounding=fields["loyalty.rounding"] or None,
        points_per_order=whole("loyalty.pointsPerOrder", CommonError.INVALID_POINTS)
        if fields["loyalty.pointsPerOrder"]
        else 0,
        events=events,
        tiers=tiers,
        tier_window_days=whole("loyalty.tierWindowDays", CommonError.INVALID_DAYS),
        # Empty: the points never expire.
        expiry_days=whole("loyalty.expiryDays", CommonError.INVALID_DAYS) if expiry_text else None,
        tier_basis=fields["loyalty.tierBasis"] or None,
        currency=fields["loyalty.currency"],
    )
    return data, problems


def form_field(api_field: str | None) -> str | None:
    """The input an API problem belongs to: "loyalty.tiers" and the like are inputs' names."""
    if api_field is None:
        return None
    if api_field in FIELDS or api_field in ("loyalty.tiers", "loyalty.events"):
        return api_field
    if api_field.startswith("loyalty."):
        parent = ".".join(api_field.split(".")[:2])
        return parent if parent in FIELDS else None
    return None


def on_inputs(problems: list[Problem]) -> list[Problem]:
    return [Problem(p.code, p.message, form_field(p.field)) for p in problems]


def describe(config: LoyaltyConfig) -> dict[str, Any]:
    """The program's rules in words, for the list and the program page."""
    per_unit = _number(config.points_per_unit)
    earning = f"{per_unit} {'point' if per_unit == '1' else 'points'} per unit spent"
    if config.points_per_order:
        earning += f", plus {config.points_per_order:,} per order"
    basis = "points earned" if config.tier_basis == TierBasis.POINTS else "amount spent"
    if config.tier_basis == TierBasis.SPENT and config.currency:
        basis += f" in {config.currency} (thresholds in minor units)"
    return {
        "earning": earning,
        "rounding": dict(ROUNDINGS)[config.rounding.value].lower(),
        "expiry": "never"
        if config.expiry_days is None
        else f"{config.expiry_days:,} days after they are earned",
        "tiers": ", ".join(tier.name for tier in config.tiers) or "none",
        "tier_rule": f"by {basis} over the last {config.tier_window_days:,} days",
    }
