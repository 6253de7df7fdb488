"""Validation of a campaign's offer: its discount, limits and eligibility rules."""

import math

from domain.campaigns.checks import ProblemList, enum_value, limit_value, money_value
from domain.campaigns.errors import CampaignError
from domain.campaigns.inputs import UNSET, DiscountInput, LimitsInput, RulesInput
from domain.campaigns.models import Discount, DiscountScope, DiscountType, Limits, Rules
from domain.common import Money
from domain.errors import CommonError, ErrorCode

MAX_ATTRIBUTES_BYTES = 16_000


def validated_discount(
    *, given: DiscountInput | None, current: Discount | None, problems: ProblemList
) -> Discount | None:
    if given is None:
        return current
    raw_type = given.type if given.type is not None else (current.type if current else None)
    if raw_type is None:
        problems.add(CommonError.REQUIRED, "a discount needs a type", "discount.type")
        return current
    kind = enum_value(
        kind=DiscountType,
        value=raw_type,
        code=CampaignError.INVALID_DISCOUNT_TYPE,
        field="discount.type",
        problems=problems,
    )
    if kind is None:
        return current
    # Switching type drops the old type's amounts: they would not apply to the new one.
    base = current if current is not None and current.type == kind else Discount(type=kind)
    scope = base.scope if current is None else current.scope
    if given.scope is not None:
        scope = (
            enum_value(
                kind=DiscountScope,
                value=given.scope,
                code=CampaignError.INVALID_SCOPE,
                field="discount.scope",
                problems=problems,
            )
            or scope
        )
    percent_off = given.percent_off if given.percent_off is not None else base.percent_off
    amount_off = (
        base.amount_off
        if given.amount_off is None
        else money_value(value=given.amount_off, field="discount.amountOff", problems=problems)
    )
    fixed_price = (
        base.fixed_price
        if given.fixed_price is None
        else money_value(value=given.fixed_price, field="discount.fixedPrice", problems=problems)
    )
    max_discount = (
        base.max_discount
        if given.max_discount is UNSET
        else money_value(value=given.max_discount, field="discount.maxDiscount", problems=problems)
    )
    fields = {
        "percentOff": (percent_off, DiscountType.PERCENT),
        "amountOff": (amount_off, DiscountType.AMOUNT),
        "fixedPrice": (fixed_price, DiscountType.FIXED_PRICE),
        "maxDiscount": (max_discount, DiscountType.PERCENT),
    }
    for name, (value, owner) in fields.items():
        if value is not None and kind != owner:
            problems.add(
                CampaignError.NOT_APPLICABLE,
                f"{name} applies to {owner.value} discounts only",
                f"discount.{name}",
            )
    if kind == DiscountType.PERCENT:
        if percent_off is None:
            problems.add(
                CommonError.REQUIRED, "a PERCENT discount needs percentOff", "discount.percentOff"
            )
        elif not math.isfinite(percent_off) or not 0 < percent_off <= 100:
            problems.add(
                CampaignError.INVALID_PERCENT,
                "percentOff must be more than 0 and at most 100",
                "discount.percentOff",
            )
        if max_discount is not None and max_discount.amount <= 0:
            problems.add(
                CampaignError.INVALID_AMOUNT,
                "maxDiscount must be more than 0",
                "discount.maxDiscount",
            )
    if kind == DiscountType.AMOUNT:
        if amount_off is None and given.amount_off is None:
            problems.add(
                CommonError.REQUIRED, "an AMOUNT discount needs amountOff", "discount.amountOff"
            )
        elif amount_off is not None and amount_off.amount <= 0:
            problems.add(
                CampaignError.INVALID_AMOUNT, "amountOff must be more than 0", "discount.amountOff"
            )
    if kind == DiscountType.FIXED_PRICE:
        if fixed_price is None and given.fixed_price is None:
            problems.add(
                CommonError.REQUIRED,
                "a FIXED_PRICE discount needs fixedPrice",
                "discount.fixedPrice",
            )
        elif fixed_price is not None and fixed_price.amount < 0:
            problems.add(
                CampaignError.INVALID_AMOUNT, "fixedPrice must be 0 or more", "discount.fixedPrice"
            )
    return Discount(
        type=kind,
        percent_off=percent_off if kind == DiscountType.PERCENT else None,
        amount_off=amount_off if kind == DiscountType.AMOUNT else None,
        max_discount=max_discount if kind == DiscountType.PERCENT else None,
        fixed_price=fixed_price if kind == DiscountType.FIXED_PRICE else None,
        scope=scope,
    )


def validated_limits(
    *, given: LimitsInput | None, current: Limits | None, standalone: bool, problems: ProblemList
) -> Limits:
    # A unique code is single-use unless said otherwise; a shared standalone code is not.
    defaults = current or Limits(per_code=None if standalone else 1)
    wanted = given or LimitsInput()
    values: dict[str, int | None] = {}
    for name, field in (
        ("per_code", "perCode"),
        ("per_customer", "perCustomer"),
        ("total", "total"),
        ("per_day", "perDay"),
    ):
        value = getattr(wanted, name)
        if value is UNSET:
            values[name] = getattr(defaults, name)
        else:
            values[name] = limit_value(value=value, field=f"limits.{field}", problems=problems)
    return Limits(**values)


def _clean_list(values: list[str]) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def _numbers(
    values: list[int], allowed: range, code: ErrorCode, field: str, problems: ProblemList
) -> list[int]:
    wrong = [v for v in values if v not in allowed]
    if wrong:
        problems.add(
            code,
            f"values must be between {allowed.start} and {allowed.stop - 1}; got {wrong}",
            field,
        )
    return sorted({v for v in values if v in allowed})


def validated_rules(
    *, given: RulesInput | None, current: Rules | None, problems: ProblemList
) -> Rules:
    base = current or Rules()
    if given is None:
        return base
    min_order = (
        base.min_order
        if given.min_order is UNSET
        else money_value(value=given.min_order, field="rules.minOrder", problems=problems)
    )
    if min_order is not None and min_order.amount < 0:
        problems.add(CampaignError.INVALID_AMOUNT, "minOrder must be 0 or more", "rules.minOrder")
    attributes = base.attributes
    if given.attributes is not None:
        if not isinstance(given.attributes, dict):
            problems.add(CommonError.INVALID, "attributes must be an object", "rules.attributes")
        elif len(repr(given.attributes)) > MAX_ATTRIBUTES_BYTES:
            problems.add(CommonError.INVALID, "attributes are too large", "rules.attributes")
        else:
            attributes = given.attributes

    def listed(value: list[str] | None, kept: list[str]) -> list[str]:
        return kept if value is None else _clean_list(value)

    days = base.days_of_week
    if given.days_of_week is not None:
        days = _numbers(
            given.days_of_week,
            range(1, 8),
            CampaignError.INVALID_DAY_OF_WEEK,
            "rules.daysOfWeek",
            problems,
        )
    hours = base.hours
    if given.hours is not None:
        hours = _numbers(
            given.hours, range(24), CampaignError.INVALID_HOUR, "rules.hours", problems
        )
    return Rules(
        min_order=min_order,
        segment_ids=listed(given.segment_ids, base.segment_ids),
        skus=listed(given.skus, base.skus),
        categories=listed(given.categories, base.categories),
        first_order_only=(
            base.first_order_only if given.first_order_only is None else given.first_order_only
        ),
        days_of_week=days,
        hours=hours,
        customer_tags=[tag.lower() for tag in listed(given.customer_tags, base.customer_tags)],
        attributes=attributes,
    )


def check_same_currency(*, discount: Discount | None, rules: Rules, problems: ProblemList) -> None:
    amounts: list[tuple[str, Money | None]] = [("rules.minOrder", rules.min_order)]
    if discount is not None:
        amounts = [
            ("discount.amountOff", discount.amount_off),
            ("discount.maxDiscount", discount.max_discount),
            ("discount.fixedPrice", discount.fixed_price),
            *amounts,
        ]
    present = [(field, value) for field, value in amounts if value is not None]
    if not present:
        return
    currency = present[0][1].currency
    for field, value in present[1:]:
        if value.currency != currency:
            problems.add(
                CommonError.CURRENCY_MISMATCH,
                f"every amount of a campaign is in one currency ({currency})",
                f"{field}.currency",
            )
