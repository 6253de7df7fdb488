"""Every field of a campaign checked together, with every problem collected in one answer."""

import functools
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from domain.campaigns.checks import ProblemList, enum_value, limit_value
from domain.campaigns.code_rules import validated_code_config
from domain.campaigns.errors import CampaignError
from domain.campaigns.inputs import UNSET, CampaignInput, PassLocationInput
from domain.campaigns.models import Campaign, CampaignKind, DiscountScope
from domain.campaigns.offer_rules import (
    check_same_currency,
    validated_discount,
    validated_limits,
    validated_rules,
)
from domain.campaigns.referral_rules import validated_referral
from domain.code_models import normalize_code
from domain.common import as_utc
from domain.errors import CommonError
from domain.loyalty_config import validated_loyalty
from domain.storable import text_problem
from domain.wallet import PassLocation

MAX_NAME = 200
MAX_TEXT = 10_000
MAX_PASS_LOCATIONS = 10
MAX_RELEVANT_TEXT = 200
STANDALONE_CODE = re.compile(r"^[A-Z0-9_]{3,64}$")


@functools.cache
def _known_zones() -> frozenset[str]:
    # "localtime" is whatever zone the server runs in: a campaign's hours would move with it.
    return frozenset(available_timezones() - {"localtime"})


def _timezone(value: str, problems: ProblemList) -> str:
    zone = value.strip()
    try:
        ZoneInfo(zone)
        known = zone in _known_zones() or zone == "UTC"
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        problems.add(
            CommonError.INVALID_TIMEZONE,
            "timezone must be an IANA zone such as Europe/Paris",
            "timezone",
        )
    return zone


def validated_fields(data: CampaignInput, current: Campaign | None) -> dict[str, Any]:
    """Every field checked, every problem collected; returns the campaign's fields to store."""
    problems = ProblemList()
    values: dict[str, Any] = {}
    if data.name is not None or current is None:
        name = (data.name or "").strip()
        if not name:
            problems.add(CommonError.REQUIRED, "a campaign needs a name", "name")
        elif (problem := text_problem(name, "name")) is not None:
            problems.add(problem.code, problem.message, "name")
        elif len(name) > MAX_NAME:
            problems.add(CommonError.INVALID, f"name is at most {MAX_NAME} characters", "name")
        values["name"] = name
    kind = current.kind if current is not None else CampaignKind.DISCOUNT
    if data.kind is not None:
        kind = (
            enum_value(
                kind=CampaignKind,
                value=data.kind,
                code=CampaignError.INVALID_KIND,
                field="kind",
                problems=problems,
            )
            or kind
        )
    values["kind"] = kind
    for field in ("description", "terms"):
        text = getattr(data, field)
        if text is not None:
            if len(text) > MAX_TEXT:
                problems.add(
                    CommonError.INVALID, f"{field} is at most {MAX_TEXT} characters", field
                )
            values[field] = text.strip()

    standalone = current.standalone_code if current is not None else None
    if data.standalone_code is not None:
        normalized = normalize_code(data.standalone_code)
        if current is not None and (normalized or None) != current.standalone_code:
            problems.add(
                CampaignError.IMMUTABLE,
                "standaloneCode cannot change after creation",
                "standaloneCode",
            )
        elif current is None and normalized:
            if not STANDALONE_CODE.match(normalized):
                problems.add(
                    CampaignError.INVALID_CODE,
                    "a code is 3 to 64 letters, digits or underscores (spaces and dashes are "
                    "ignored)",
                    "standaloneCode",
                )
            standalone = normalized
            values["standalone_code"] = normalized

    discount = validated_discount(
        given=data.discount, current=current.discount if current else None, problems=problems
    )
    if kind == CampaignKind.DISCOUNT and discount is None:
        problems.add(CommonError.REQUIRED, "a DISCOUNT campaign needs a discount", "discount")
    values["discount"] = discount
    rules = validated_rules(
        given=data.rules, current=current.rules if current else None, problems=problems
    )
    values["rules"] = rules
    if (
        discount is not None
        and discount.scope == DiscountScope.ELIGIBLE_ITEMS
        and not (rules.skus or rules.categories)
    ):
        problems.add(
            CampaignError.SCOPE_NEEDS_ITEMS,
            "an ELIGIBLE_ITEMS discount needs rules.skus or rules.categories",
            "discount.scope",
        )
    check_same_currency(discount=discount, rules=rules, problems=problems)
    values["limits"] = validated_limits(
        given=data.limits,
        current=current.limits if current else None,
        standalone=standalone is not None,
        problems=problems,
    )
    values["codes"] = validated_code_config(
        given=data.codes, current=current.codes if current else None, problems=problems
    )

    starts_at = current.starts_at if current else None
    if data.starts_at is not UNSET:
        starts_at = None if data.starts_at is None else as_utc(data.starts_at)
    ends_at = current.ends_at if current else None
    if data.ends_at is not UNSET:
        ends_at = None if data.ends_at is None else as_utc(data.ends_at)
    if starts_at is not None and ends_at is not None and as_utc(starts_at) >= as_utc(ends_at):
        problems.add(CampaignError.INVALID_WINDOW, "endsAt must be after startsAt", "endsAt")
    values["starts_at"] = starts_at
    values["ends_at"] = ends_at
    if data.timezone is not None or current is None:
        values["timezone"] = _timezone(data.timezone or "UTC", problems)
    if kind == CampaignKind.LOYALTY:
        loyalty, wrong = validated_loyalty(data.loyalty, current.loyalty if current else None)
        problems.items.extend(wrong)
        values["loyalty"] = loyalty
    elif data.loyalty is not None:
        problems.add(
            CampaignError.NOT_APPLICABLE, "loyalty applies to LOYALTY campaigns only", "loyalty"
        )
    if kind == CampaignKind.REFERRAL:
        values["referral"] = validated_referral(
            given=data.referral, current=current.referral if current else None, problems=problems
        )
    elif data.referral is not None:
        problems.add(
            CampaignError.NOT_APPLICABLE, "referral applies to REFERRAL campaigns only", "referral"
        )
    if data.codes_per_customer is not None:
        values["codes_per_customer"] = limit_value(
            value=data.codes_per_customer, field="codesPerCustomer", problems=problems
        )
    if data.release_limits_on_refund is not None:
        values["release_limits_on_refund"] = data.release_limits_on_refund
    if data.pass_locations is not None:
        values["pass_locations"] = _pass_locations(data.pass_locations, problems)
    problems.raise_any()
    return values


def _pass_locations(given: list[PassLocationInput], problems: ProblemList) -> list[PassLocation]:
    """Apple Wallet shows at most 10 locations; the text is what the lock screen says."""
    if len(given) > MAX_PASS_LOCATIONS:
        problems.add(
            CommonError.INVALID,
            f"a pass has at most {MAX_PASS_LOCATIONS} locations",
            "passLocations",
        )
    locations = []
    for index, place in enumerate(given):
        field = f"passLocations.{index}"
        if not -90 <= place.latitude <= 90 or not -180 <= place.longitude <= 180:
            problems.add(CommonError.INVALID, "latitude is -90 to 90, longitude -180 to 180", field)
        text = place.relevant_text.strip()
        if len(text) > MAX_RELEVANT_TEXT:
            problems.add(
                CommonError.INVALID,
                f"relevantText is at most {MAX_RELEVANT_TEXT} characters",
                field,
            )
        locations.append(
            PassLocation(latitude=place.latitude, longitude=place.longitude, relevant_text=text)
        )
    return locations
