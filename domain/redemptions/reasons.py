"""Why a code cannot be redeemed: the reason codes and the pure rules that find them."""

from datetime import datetime

from domain import rules
from domain.campaigns import Campaign, CampaignStatus, DiscountScope
from domain.codes import Code
from domain.common import Money
from domain.customers import Customer
from domain.discounts import (
    Order,
    compute_discount,
    discount_currency_problems,
    eligible_items,
    order_currency_problems,
)
from domain.errors import DomainError, ErrorCode, Problem


class Reason(ErrorCode):
    """Why a code cannot be redeemed: stable codes that clients switch on."""

    NOT_FOUND = "NOT_FOUND"
    CAMPAIGN_NOT_DISCOUNT = "CAMPAIGN_NOT_DISCOUNT"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"
    PAUSED = "PAUSED"
    OUTSIDE_HOURS = "OUTSIDE_HOURS"
    CODE_LIMIT_REACHED = "CODE_LIMIT_REACHED"
    CUSTOMER_LIMIT_REACHED = "CUSTOMER_LIMIT_REACHED"
    CAMPAIGN_LIMIT_REACHED = "CAMPAIGN_LIMIT_REACHED"
    DAILY_LIMIT_REACHED = "DAILY_LIMIT_REACHED"
    CUSTOMER_REQUIRED = "CUSTOMER_REQUIRED"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    NOT_ASSIGNED_TO_CUSTOMER = "NOT_ASSIGNED_TO_CUSTOMER"
    NOT_FIRST_ORDER = "NOT_FIRST_ORDER"
    TAG_NOT_MATCHED = "TAG_NOT_MATCHED"
    ATTRIBUTES_NOT_MATCHED = "ATTRIBUTES_NOT_MATCHED"
    NOT_IN_SEGMENT = "NOT_IN_SEGMENT"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    MIN_ORDER_NOT_MET = "MIN_ORDER_NOT_MET"
    NO_ELIGIBLE_ITEMS = "NO_ELIGIBLE_ITEMS"


REASON_DETAILS: dict[Reason, tuple[str, str]] = {
    Reason.NOT_FOUND: ("no such code", "code"),
    Reason.CAMPAIGN_NOT_DISCOUNT: ("this code does not give a discount", "code"),
    Reason.NOT_STARTED: ("the campaign has not started yet", "code"),
    Reason.EXPIRED: ("the campaign has ended", "code"),
    Reason.PAUSED: ("the campaign is paused", "code"),
    Reason.OUTSIDE_HOURS: ("the code is not valid at this day or hour", "code"),
    Reason.CODE_LIMIT_REACHED: ("this code has been redeemed as often as allowed", "code"),
    Reason.CUSTOMER_LIMIT_REACHED: (
        "this customer has redeemed this campaign as often as allowed",
        "customerId",
    ),
    Reason.CAMPAIGN_LIMIT_REACHED: ("the campaign has no redemptions left", "code"),
    Reason.DAILY_LIMIT_REACHED: ("the campaign has no redemptions left today", "code"),
    Reason.CUSTOMER_REQUIRED: ("this campaign needs a customer", "customerId"),
    Reason.CUSTOMER_NOT_FOUND: ("no such customer", "customerId"),
    Reason.NOT_ASSIGNED_TO_CUSTOMER: ("this code belongs to another customer", "customerId"),
    Reason.NOT_FIRST_ORDER: ("this campaign is for a first order only", "customerId"),
    Reason.TAG_NOT_MATCHED: ("the customer has none of the required tags", "customerId"),
    Reason.ATTRIBUTES_NOT_MATCHED: (
        "the customer's attributes do not match the campaign",
        "customerId",
    ),
    Reason.NOT_IN_SEGMENT: ("the customer is not in the campaign's segments", "customerId"),
    Reason.CURRENCY_MISMATCH: ("the order's currency does not match the campaign", "order"),
    Reason.MIN_ORDER_NOT_MET: ("the order is below the campaign's minimum", "order.amount"),
    Reason.NO_ELIGIBLE_ITEMS: ("the order has no items the campaign applies to", "order.items"),
}


def reason_error(reasons: list[Reason]) -> DomainError:
    return DomainError.of([Problem(r, *REASON_DETAILS[r]) for r in reasons])


def window_reasons(*, campaign: Campaign, now: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    if rules.not_started(campaign.starts_at, now):
        reasons.append(Reason.NOT_STARTED)
    if campaign.status == CampaignStatus.ENDED or rules.has_ended(campaign.ends_at, now):
        reasons.append(Reason.EXPIRED)
    if campaign.status == CampaignStatus.PAUSED:
        reasons.append(Reason.PAUSED)
    if rules.outside_hours(
        campaign.rules.days_of_week, campaign.rules.hours, now, campaign.timezone
    ):
        reasons.append(Reason.OUTSIDE_HOURS)
    return reasons


def needs_customer(campaign: Campaign) -> bool:
    wanted = campaign.rules
    return bool(
        campaign.limits.per_customer is not None
        or wanted.first_order_only
        or wanted.customer_tags
        or wanted.attributes
        or wanted.segment_ids
    )


def customer_reasons(
    *, campaign: Campaign, code: Code, customer_id: str | None, customer: Customer | None
) -> list[Reason]:
    """Rules about who redeems. Segments are async and checked by the caller."""
    if not customer_id:
        # Holding an assigned code is proof enough when the till does not name the customer.
        return [Reason.CUSTOMER_REQUIRED] if needs_customer(campaign) else []
    reasons: list[Reason] = []
    if code.assigned and code.customer_id != customer_id:
        reasons.append(Reason.NOT_ASSIGNED_TO_CUSTOMER)
    if customer is None:
        return [*reasons, Reason.CUSTOMER_NOT_FOUND]
    wanted = campaign.rules
    if wanted.first_order_only and customer.metrics.orders_count > 0:
        reasons.append(Reason.NOT_FIRST_ORDER)
    if not rules.tags_match(wanted.customer_tags, customer.tags):
        reasons.append(Reason.TAG_NOT_MATCHED)
    if not rules.attributes_match(wanted.attributes, customer.attributes):
        reasons.append(Reason.ATTRIBUTES_NOT_MATCHED)
    return reasons


def order_reasons(*, campaign: Campaign, order: Order | None) -> tuple[list[Reason], Money | None]:
    """Rules about the order, and the discount when it can be computed."""
    wanted = campaign.rules
    discount = campaign.discount
    needs_items = bool(
        wanted.skus
        or wanted.categories
        or (discount is not None and discount.scope == DiscountScope.ELIGIBLE_ITEMS)
    )
    reasons: list[Reason] = []
    if order is None:
        if wanted.min_order is not None:
            reasons.append(Reason.MIN_ORDER_NOT_MET)
        if needs_items:
            reasons.append(Reason.NO_ELIGIBLE_ITEMS)
        return reasons, None
    currency = order.currency
    mismatch = bool(order_currency_problems(order)) or (
        discount is not None and bool(discount_currency_problems(discount, currency))
    )
    if wanted.min_order is not None:
        if wanted.min_order.currency != currency:
            mismatch = True
        elif order.amount.amount < wanted.min_order.amount:
            reasons.append(Reason.MIN_ORDER_NOT_MET)
    if mismatch:
        reasons.insert(0, Reason.CURRENCY_MISMATCH)
    if needs_items and not eligible_items(order, wanted):
        reasons.append(Reason.NO_ELIGIBLE_ITEMS)
    if mismatch or discount is None:
        return reasons, None
    return reasons, compute_discount(discount, order, wanted)
