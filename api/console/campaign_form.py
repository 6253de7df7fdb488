"""The campaign form: posted fields read into the same CampaignInput createCampaign and
updateCampaign take, a stored campaign written back into fields, and the API's error fields
mapped onto the form's inputs (which are named after them)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import FormData

from domain import campaigns
from domain.campaigns import (
    UNSET,
    Campaign,
    CampaignInput,
    CodeConfigInput,
    CodeMode,
    DiscountInput,
    DiscountType,
    LimitsInput,
    PassLocationInput,
    RulesInput,
    Unset,
)
from domain.campaigns.validation import validated_fields
from domain.code_examples import CodePreview, preview_codes
from domain.common import Money, minor_unit_digits
from domain.errors import CommonError, DomainError, Problem

DAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY", "CAD", "AUD"]
# Inputs of the form, named after the API's field paths so that an error's field finds its input.
FIELDS = (
    "name",
    "description",
    "terms",
    "discount.type",
    "discount.percentOff",
    "discount.amountOff",
    "discount.maxDiscount",
    "discount.fixedPrice",
    "discount.scope",
    "currency",
    "standaloneCode",
    "codes.mode",
    "codes.pattern",
    "codes.charset",
    "codes.length",
    "codes.prefix",
    "codes.suffix",
    "codes.luhn",
    "plannedCodes",
    "startsAt",
    "endsAt",
    "timezone",
    "rules.daysOfWeek",
    "rules.hours",
    "limits.perCode",
    "limits.perCustomer",
    "limits.total",
    "limits.perDay",
    "codesPerCustomer",
    "releaseLimitsOnRefund",
    "rules.minOrder",
    "rules.segmentIds",
    "rules.skus",
    "rules.categories",
    "rules.firstOrderOnly",
    "rules.customerTags",
    "rules.attributes",
    "passLocations",
)
LIST_FIELDS = frozenset({"rules.daysOfWeek", "rules.hours", "rules.segmentIds"})
CHECKBOXES = frozenset({"codes.luhn", "releaseLimitsOnRefund", "rules.firstOrderOnly"})


def field_of(api_field: str | None) -> str | None:
    """Which input an API error belongs to; None for errors about the whole campaign."""
    if not api_field:
        return None
    if api_field.endswith(".currency"):
        return "currency"
    if api_field.startswith("passLocations"):
        return "passLocations"
    if api_field == "count":
        return "plannedCodes"
    if api_field in FIELDS:
        return api_field
    parent = api_field.rsplit(".", 1)[0]
    return parent if parent in FIELDS else None


def on_inputs(problems: list[Problem]) -> list[Problem]:
    """The API's problems with their field paths replaced by the inputs that show them."""
    return [Problem(p.code, p.message, field_of(p.field)) for p in problems]


def read_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in FIELDS:
        if name in LIST_FIELDS:
            values[name] = [str(v) for v in form.getlist(name)]
        elif name in CHECKBOXES:
            values[name] = form.get(name) is not None
        else:
            values[name] = str(form.get(name) or "").strip()
    return values


class _Reader:
    """Turns text into typed values, collecting a problem per input that cannot be read."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.problems: list[Problem] = []

    def text(self, name: str) -> str:
        return str(self.values.get(name) or "")

    def wrong(self, name: str, message: str) -> None:
        self.problems.append(Problem(CommonError.INVALID, message, name))

    def whole(self, name: str) -> int | None:
        text = self.text(name).replace(",", "").replace("_", "")
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            self.wrong(name, "enter a whole number")
            return None

    def number(self, name: str) -> float | None:
        text = self.text(name).replace(",", ".")
        if not text:
            return None
        try:
            return float(Decimal(text))
        except InvalidOperation:
            self.wrong(name, "enter a number such as 12.5")
            return None

    def money(self, name: str, currency: str) -> "GivenMoney | None":
        text = self.text(name).replace(",", ".")
        if not text:
            return None
        digits = minor_unit_digits(currency) if len(currency) == 3 else 2
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = Decimal("NaN")
        scaled = amount * (10**digits) if amount.is_finite() else amount
        if not scaled.is_finite() or scaled != scaled.to_integral_value():
            example = "5" if digits == 0 else "5." + "0" * digits
            self.wrong(name, f"enter an amount such as {example}")
            return None
        return GivenMoney(amount=int(scaled), currency=currency)

    def moment(self, name: str, zone: ZoneInfo) -> datetime | None:
        text = self.text(name)
        if not text:
            return None
        try:
            local = datetime.fromisoformat(text)
        except ValueError:
            self.wrong(name, "enter a date and time such as 2026-12-24T09:00")
            return None
        return local.replace(tzinfo=zone) if local.tzinfo is None else local

    def words(self, name: str) -> list[str]:
        text = self.text(name).replace("\n", ",")
        return [word.strip() for word in text.split(",") if word.strip()]

    def whole_list(self, name: str) -> list[int]:
        numbers = []
        for value in self.values.get(name) or []:
            try:
                numbers.append(int(value))
            except ValueError:
                self.wrong(name, "choose from the list")
        return numbers


@dataclass
class GivenMoney:
    """An amount as typed, in minor units; the domain checks the currency with the rest."""

    amount: int
    currency: str


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        # The domain names the wrong zone; the times are read in UTC meanwhile.
        return ZoneInfo("UTC")


def _pass_locations(reader: _Reader) -> list[PassLocationInput]:
    """One store per line: latitude, longitude, then what the lock screen says."""
    locations = []
    for number, line in enumerate(reader.text("passLocations").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",", 2)]
        try:
            latitude, longitude = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            reader.wrong(
                "passLocations", f"line {number}: write latitude, longitude, text (48.85, 2.35, …)"
            )
            continue
        locations.append(PassLocationInput(latitude, longitude, parts[2] if len(parts) > 2 else ""))
    return locations


def _code_config(reader: _Reader) -> CodeConfigInput:
    mode = reader.text("codes.mode") or CodeMode.ALPHANUMERIC.value
    charset = reader.text("codes.charset")
    if mode == CodeMode.NUMERIC.value and charset.upper() == campaigns.DEFAULT_CHARSET:
        # The letters were the ALPHANUMERIC default shown in the field, not a choice.
        charset = ""
    return CodeConfigInput(
        mode=mode,
        pattern=reader.text("codes.pattern"),
        charset=charset or None,
        length=reader.whole("codes.length"),
        prefix=reader.text("codes.prefix"),
        suffix=reader.text("codes.suffix"),
        luhn=bool(reader.values.get("codes.luhn")),
    )


def code_preview(values: Mapping[str, Any]) -> CodePreview:
    """Example codes of the form's code settings, read as the form is when saved, and the
    advice for the planned number of codes."""
    return preview_codes(given=_code_config(_Reader(values)), planned=planned_codes(values))


def campaign_input(
    values: Mapping[str, Any], *, current: Campaign | None
) -> tuple[CampaignInput, list[Problem]]:
    """The CampaignInput the form stands for, and the problems of inputs that could not even be
    read (a word in a number field): those inputs are left out of the CampaignInput."""
    creating = current is None
    reader = _Reader(values)
    currency = reader.text("currency").upper()
    discount_type = reader.text("discount.type") or None
    discount = DiscountInput(
        type=discount_type,
        percent_off=reader.number("discount.percentOff"),
        amount_off=reader.money("discount.amountOff", currency),
        max_discount=reader.money("discount.maxDiscount", currency),
        fixed_price=reader.money("discount.fixedPrice", currency),
        scope=reader.text("discount.scope") or None,
    )
    codes = _code_config(reader)
    zone_name = reader.text("timezone") or "UTC"
    zone = _zone(zone_name)
    attributes: dict[str, Any] | None = {}
    attributes_text = reader.text("rules.attributes")
    if attributes_text:
        try:
            attributes = json.loads(attributes_text)
        except ValueError:
            reader.wrong("rules.attributes", 'write a JSON object such as {"plan": "gold"}')
            attributes = None
    rules = RulesInput(
        min_order=reader.money("rules.minOrder", currency),
        segment_ids=[str(v) for v in values.get("rules.segmentIds") or []],
        skus=reader.words("rules.skus"),
        categories=reader.words("rules.categories"),
        first_order_only=bool(values.get("rules.firstOrderOnly")),
        days_of_week=reader.whole_list("rules.daysOfWeek"),
        hours=reader.whole_list("rules.hours"),
        customer_tags=reader.words("rules.customerTags"),
        attributes=attributes,
    )
    per_code: int | Unset | None = reader.whole("limits.perCode")
    if creating and per_code is None:
        # Left empty on a new campaign: the API's default, once for a unique code and no
        # limit for a shared one.
        per_code = UNSET
    limits = LimitsInput(
        per_code=per_code,
        per_customer=reader.whole("limits.perCustomer"),
        total=reader.whole("limits.total"),
        per_day=reader.whole("limits.perDay"),
    )
    data = CampaignInput(
        name=reader.text("name"),
        kind=campaigns.CampaignKind.DISCOUNT.value if creating else None,
        discount=discount,
        starts_at=reader.moment("startsAt", zone),
        ends_at=reader.moment("endsAt", zone),
        timezone=zone_name,
        limits=limits,
        rules=rules,
        codes=codes,
        standalone_code=(reader.text("standaloneCode") or None) if creating else None,
        description=reader.text("description"),
        terms=reader.text("terms"),
        codes_per_customer=reader.whole("codesPerCustomer") or 1,
        release_limits_on_refund=bool(values.get("releaseLimitsOnRefund")),
        pass_locations=_pass_locations(reader),
    )
    reader.whole("plannedCodes")
    return data, reader.problems


def checked_input(values: Mapping[str, Any], *, current: Campaign | None) -> CampaignInput:
    """The CampaignInput to store, or DomainError with every problem of the form at once: the
    unreadable inputs' and, for the rest, the very checks createCampaign and updateCampaign
    make (run here without storing, so that one answer lists them all)."""
    data, unreadable = campaign_input(values, current=current)
    if not unreadable:
        return data
    try:
        validated_fields(data, current)
    except DomainError as error:
        named = {field_of(p.field) for p in unreadable}
        unreadable += [p for p in error.problems if field_of(p.field) not in named]
    raise DomainError.of(unreadable)


def planned_codes(values: Mapping[str, Any]) -> int | None:
    text = str(values.get("plannedCodes") or "").replace(",", "").replace("_", "")
    return int(text) if text.isdigit() else None


def _amount(value: Money | None) -> str:
    if value is None:
        return ""
    digits = minor_unit_digits(value.currency)
    return str(Decimal(value.amount).scaleb(-digits)) if digits else str(value.amount)


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(_zone(zone)).strftime("%Y-%m-%dT%H:%M")


def _whole(value: int | None) -> str:
    return "" if value is None else str(value)


def campaign_currency(campaign: Campaign) -> str:
    discount = campaign.discount
    for value in (
        discount.amount_off if discount else None,
        discount.fixed_price if discount else None,
        discount.max_discount if discount else None,
        campaign.rules.min_order,
    ):
        if value is not None:
            return value.currency
    return ""


def new_campaign_values(*, timezone: str, currency: str = "EUR") -> dict[str, Any]:
    """A new campaign's form: 10 % off, unique codes of 8 characters, each usable once."""
    return {
        **{name: "" for name in FIELDS},
        "discount.type": DiscountType.PERCENT.value,
        "discount.scope": campaigns.DiscountScope.ORDER.value,
        "currency": currency,
        "codes.mode": CodeMode.ALPHANUMERIC.value,
        "codes.charset": campaigns.DEFAULT_CHARSET,
        "codes.length": "8",
        "codes.luhn": False,
        "timezone": timezone,
        "rules.daysOfWeek": [],
        "rules.hours": [],
        "rules.segmentIds": [],
        "limits.perCode": "",
        "codesPerCustomer": "1",
        "releaseLimitsOnRefund": False,
        "rules.firstOrderOnly": False,
    }


def campaign_values(campaign: Campaign) -> dict[str, Any]:
    """A stored campaign as the form's fields."""
    discount = campaign.discount
    rules, limits, codes = campaign.rules, campaign.limits, campaign.codes
    return {
        "name": campaign.name,
        "description": campaign.description,
        "terms": campaign.terms,
        "discount.type": discount.type.value if discount else "",
        "discount.percentOff": (
            f"{discount.percent_off:g}" if discount and discount.percent_off is not None else ""
        ),
        "discount.amountOff": _amount(discount.amount_off if discount else None),
        "discount.maxDiscount": _amount(discount.max_discount if discount else None),
        "discount.fixedPrice": _amount(discount.fixed_price if discount else None),
        "discount.scope": discount.scope.value if discount else "ORDER",
        "currency": campaign_currency(campaign) or "EUR",
        "standaloneCode": campaign.standalone_code or "",
        "codes.mode": codes.mode.value,
        "codes.pattern": codes.pattern or "",
        "codes.charset": codes.charset,
        "codes.length": str(codes.length),
        "codes.prefix": codes.prefix,
        "codes.suffix": codes.suffix,
        "codes.luhn": codes.luhn,
        "plannedCodes": "",
        "startsAt": _local(campaign.starts_at, campaign.timezone),
        "endsAt": _local(campaign.ends_at, campaign.timezone),
        "timezone": campaign.timezone,
        "rules.daysOfWeek": [str(d) for d in rules.days_of_week],
        "rules.hours": [str(h) for h in rules.hours],
        "limits.perCode": _whole(limits.per_code),
        "limits.perCustomer": _whole(limits.per_customer),
        "limits.total": _whole(limits.total),
        "limits.perDay": _whole(limits.per_day),
        "codesPerCustomer": str(campaign.codes_per_customer),
        "releaseLimitsOnRefund": campaign.release_limits_on_refund,
        "rules.minOrder": _amount(rules.min_order),
        "rules.segmentIds": list(rules.segment_ids),
        "rules.skus": ", ".join(rules.skus),
        "rules.categories": ", ".join(rules.categories),
        "rules.firstOrderOnly": rules.first_order_only,
        "rules.customerTags": ", ".join(rules.customer_tags),
        "rules.attributes": json.dumps(rules.attributes) if rules.attributes else "",
        "passLocations": "\n".join(
            f"{p.latitude}, {p.longitude}, {p.relevant_text}".rstrip(", ")
            for p in campaign.pass_locations
        ),
    }
