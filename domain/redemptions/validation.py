"""Checking a code against a customer and an order without writing anything."""

from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId

from domain import rules, segments
from domain.batches import ReadBatcher
from domain.campaigns import Campaign, CampaignKind
from domain.codes import Code, find_code, normalize_code
from domain.common import Money, as_utc, utc_now
from domain.customers import Customer
from domain.discounts import Order
from domain.experiments.offers import offer_for_code
from domain.redemptions.models import CustomerRedemptionCounter, DailyRedemptionCounter
from domain.redemptions.reasons import Reason, customer_reasons, order_reasons, window_reasons


@dataclass
class Validation:
    """The outcome of checking a code against a customer and an order; nothing is written."""

    reasons: list[Reason]
    discount: Money | None = None
    code: Code | None = None
    campaign: Campaign | None = None
    customer: Customer | None = None
    day: str = ""

    @property
    def valid(self) -> bool:
        return not self.reasons


async def customer_in_segments(
    *, project_id: str, customer: Customer, segment_ids: list[str]
) -> bool:
    """Whether the customer belongs to at least one of the segments: the one place segments
    plug into validation. Unknown or deleted segments hold nobody."""
    return await segments.customer_in_segments(
        project_id=project_id, customer=customer, segment_ids=segment_ids
    )


async def find_customer(project_id: str, customer_id: str) -> Customer | None:
    if not ObjectId.is_valid(customer_id):
        return None
    customer = await Customer.find_one({"_id": ObjectId(customer_id), "project_id": project_id})
    return None if customer is None or customer.erased else customer


# Redemptions of concurrent requests read their customers in one round trip.
_customer_reads = ReadBatcher(Customer.get_pymongo_collection)
# What the rules about who redeems read of a customer; segments may read any field.
_EXISTS = ("project_id", "erased")
_RULE_FIELDS = (*_EXISTS, "metrics", "tags", "attributes")


async def customer_for_campaign(
    *, project_id: str, customer_id: str, campaign: Campaign
) -> Customer | None:
    """The customer as `customer_reasons` and the campaign's segments need it: only whether it
    exists when the campaign has no rules about customers, else the fields they read. Other
    fields keep their defaults. None: unknown or erased."""
    if not ObjectId.is_valid(customer_id):
        return None
    wanted = campaign.rules
    if wanted.segment_ids:
        fields: tuple[str, ...] = ()
    elif wanted.first_order_only or wanted.customer_tags or wanted.attributes:
        fields = _RULE_FIELDS
    else:
        fields = _EXISTS
    document = await _customer_reads.find_by_id(project_id, ObjectId(customer_id), fields)
    if document is None or document.get("erased"):
        return None
    return Customer.model_validate(document)


async def _limit_reasons(
    campaign: Campaign, code: Code, customer_id: str | None, day: str
) -> list[Reason]:
    """Limits as the counters stand now; redeem_code decides them atomically instead."""
    limits = campaign.limits
    reasons: list[Reason] = []
    if limits.per_code is not None and code.redeemed_count >= limits.per_code:
        reasons.append(Reason.CODE_LIMIT_REACHED)
    if limits.per_customer is not None and customer_id:
        counter = await CustomerRedemptionCounter.find_one(
            {
                "project_id": campaign.project_id,
                "campaign_id": campaign.key,
                "customer_id": customer_id,
            }
        )
        if counter is not None and counter.redeemed_count >= limits.per_customer:
            reasons.append(Reason.CUSTOMER_LIMIT_REACHED)
    if limits.total is not None and campaign.redeemed_count >= limits.total:
        reasons.append(Reason.CAMPAIGN_LIMIT_REACHED)
    if limits.per_day is not None:
        daily = await DailyRedemptionCounter.find_one(
            {"project_id": campaign.project_id, "campaign_id": campaign.key, "day": day}
        )
        if daily is not None and daily.redeemed_count >= limits.per_day:
            reasons.append(Reason.DAILY_LIMIT_REACHED)
    return reasons


async def evaluate(
    *,
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: Order | None,
    now: datetime,
    with_limits: bool,
) -> Validation:
    code = await find_code(project_id, raw_code) if normalize_code(raw_code) else None
    campaign = None
    if code is not None and ObjectId.is_valid(code.campaign_id):
        campaign = await Campaign.find_one(
            {"_id": ObjectId(code.campaign_id), "project_id": project_id}
        )
    if code is None or campaign is None:
        # Nothing else can be said about a code that does not exist.
        return Validation(reasons=[Reason.NOT_FOUND])
    # A code published in an experiment's variant gets that variant's discount.
    campaign = await offer_for_code(campaign=campaign, code=code)
    day = rules.day_key(now, campaign.timezone)
    customer = await find_customer(project_id, customer_id) if customer_id else None
    reasons: list[Reason] = []
    if campaign.kind != CampaignKind.DISCOUNT:
        reasons.append(Reason.CAMPAIGN_NOT_DISCOUNT)
    reasons += window_reasons(campaign=campaign, now=now)
    reasons += customer_reasons(
        campaign=campaign, code=code, customer_id=customer_id, customer=customer
    )
    if (
        campaign.rules.segment_ids
        and customer is not None
        and not await customer_in_segments(
            project_id=project_id, customer=customer, segment_ids=campaign.rules.segment_ids
        )
    ):
        reasons.append(Reason.NOT_IN_SEGMENT)
    if with_limits:
        reasons += await _limit_reasons(campaign, code, customer_id, day)
    for_order, discount = order_reasons(campaign=campaign, order=order)
    reasons += for_order
    return Validation(
        reasons=reasons,
        discount=None if reasons else discount,
        code=code,
        campaign=campaign,
        customer=customer,
        day=day,
    )


async def validate_code(
    *,
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: Order | None,
    now: datetime | None = None,
) -> Validation:
    """Every reason the code cannot be redeemed now, limits included, and the discount it would
    give. Writes nothing."""
    moment = as_utc(now) if now is not None else utc_now()
    return await evaluate(
        project_id=project_id,
        raw_code=raw_code,
        customer_id=customer_id or None,
        order=order,
        now=moment,
        with_limits=True,
    )
