"""Validating and redeeming codes: limits enforced by conditional atomic updates, retries answered
through idempotency keys, rollbacks given back exactly once, counters reconciled from the ledger."""

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from bson import ObjectId
from pydantic import Field
from pymongo import IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain import rules, segments
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, DiscountScope, get_campaign
from domain.codes import Code, find_code, normalize_code
from domain.common import Money, as_utc, object_id, utc_now
from domain.customers import Customer
from domain.discounts import (
    Order,
    compute_discount,
    discount_currency_problems,
    eligible_items,
    order_currency_problems,
)
from domain.errors import DomainError, NotFound, Problem
from domain.experiments import offer_for_code
from domain.messages import carrier_of
from domain.pagination import Page, paginate
from domain.wallet import wallet_content_changed

# A claim still PENDING after this long belongs to a process that died mid-way.
STALE_CLAIM_AGE = timedelta(minutes=1)
# How long a retry waits for the first attempt with the same idempotency key to finish.
FIRST_ATTEMPT_WAIT = timedelta(seconds=30)
MAX_IDEMPOTENCY_KEY = 200
MAX_ROLLBACK_REASON = 500
# Codes, campaigns and the counter documents all keep their count under this name.
COUNTER_FIELD = "redeemed_count"


class Reason(StrEnum):
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
    return DomainError.of([Problem(r.value, *REASON_DETAILS[r]) for r in reasons])


class RedemptionStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"


class RedemptionChannel(StrEnum):
    ONLINE = "ONLINE"
    POS = "POS"


class Redemption(Document):
    """One use of a code. Inserted PENDING as a claim before any counter moves."""

    project_id: str
    # The normalized code, as looked up.
    code: str
    code_id: str
    campaign_id: str
    # "" without a customer: the embedded server cannot match null reliably.
    customer_id: str = ""
    order: Order | None = None
    discount: Money | None = None
    channel: RedemptionChannel = RedemptionChannel.ONLINE
    api_key_id: str = ""
    # Absent (None) keys are outside the partial unique index.
    idempotency_key: str | None = None
    status: RedemptionStatus = RedemptionStatus.PENDING
    # The campaign-local day whose per-day counter this redemption takes.
    day: str
    # True from the claim until a rollback has given the counters back: reconciliation counts
    # these, so a redemption in flight is never missing from a recomputed counter.
    holds_counters: bool = True
    created_at: datetime = Field(default_factory=utc_now)
    completed_at: datetime | None = None
    rolled_back_at: datetime | None = None
    rollback_reason: str = ""
    # The message that carried the code to the customer, if one did (channel attribution).
    message_id: str = ""
    message_channel: str = ""
    # Copied from the code: experiment results group redemptions on these plain fields.
    experiment_id: str = ""
    variant: str = ""

    class Settings:
        name = "redemptions"
        indexes = [
            IndexModel(
                [("project_id", 1), ("idempotency_key", 1)],
                unique=True,
                partialFilterExpression={"idempotency_key": {"$type": "string"}},
                name="project_idempotency_key_unique",
            ),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("holds_counters", 1)]),
            IndexModel([("project_id", 1), ("code_id", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
            IndexModel([("project_id", 1), ("code", 1)]),
            # Orders find the redemptions made for them when they are cancelled or refunded.
            IndexModel([("project_id", 1), ("order.id", 1)]),
            IndexModel([("project_id", 1), ("message_id", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class CustomerRedemptionCounter(Document):
    """How often a customer has redeemed a campaign; moved only by conditional $inc."""

    project_id: str
    campaign_id: str
    customer_id: str
    redeemed_count: int = 0

    class Settings:
        name = "redemption_customer_counters"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_campaign_customer_unique",
            )
        ]


class DailyRedemptionCounter(Document):
    """How often a campaign was redeemed on one day of its own time zone."""

    project_id: str
    campaign_id: str
    day: str
    redeemed_count: int = 0

    class Settings:
        name = "redemption_day_counters"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("day", 1)],
                unique=True,
                name="project_campaign_day_unique",
            )
        ]


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


async def customer_in_segments(project_id: str, customer: Customer, segment_ids: list[str]) -> bool:
    """Whether the customer belongs to at least one of the segments: the one place segments
    plug into validation. Unknown or deleted segments hold nobody."""
    return await segments.customer_in_segments(project_id, customer, segment_ids)


def window_reasons(campaign: Campaign, now: datetime) -> list[Reason]:
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
    campaign: Campaign, code: Code, customer_id: str | None, customer: Customer | None
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


def order_reasons(campaign: Campaign, order: Order | None) -> tuple[list[Reason], Money | None]:
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


async def _find_customer(project_id: str, customer_id: str) -> Customer | None:
    if not ObjectId.is_valid(customer_id):
        return None
    customer = await Customer.find_one({"_id": ObjectId(customer_id), "project_id": project_id})
    return None if customer is None or customer.erased else customer


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


async def _evaluate(
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
    campaign = await offer_for_code(campaign, code)
    day = rules.day_key(now, campaign.timezone)
    customer = await _find_customer(project_id, customer_id) if customer_id else None
    reasons: list[Reason] = []
    if campaign.kind != CampaignKind.DISCOUNT:
        reasons.append(Reason.CAMPAIGN_NOT_DISCOUNT)
    reasons += window_reasons(campaign, now)
    reasons += customer_reasons(campaign, code, customer_id, customer)
    if (
        campaign.rules.segment_ids
        and customer is not None
        and not await customer_in_segments(project_id, customer, campaign.rules.segment_ids)
    ):
        reasons.append(Reason.NOT_IN_SEGMENT)
    if with_limits:
        reasons += await _limit_reasons(campaign, code, customer_id, day)
    for_order, discount = order_reasons(campaign, order)
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
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: Order | None,
    now: datetime | None = None,
) -> Validation:
    """Every reason the code cannot be redeemed now, limits included, and the discount it would
    give. Writes nothing."""
    moment = as_utc(now) if now is not None else utc_now()
    return await _evaluate(project_id, raw_code, customer_id or None, order, moment, True)


@dataclass(frozen=True)
class _Counter:
    """One counter a redemption takes: conditional $inc with the limit in the filter."""

    collection: Any
    selector: dict[str, Any]
    limit: int | None
    reason: Reason
    # Counter documents are created on first use; codes and campaigns already exist.
    created_on_first_use: bool
    also_set: dict[str, Any] = field(default_factory=dict)

    async def _increment(self) -> bool:
        query = dict(self.selector)
        if self.limit is not None:
            query[COUNTER_FIELD] = {"$lt": self.limit}
        update: dict[str, Any] = {"$inc": {COUNTER_FIELD: 1}}
        if self.also_set:
            update["$set"] = self.also_set
        found = await self.collection.find_one_and_update(query, update, projection={"_id": 1})
        return found is not None

    async def take(self) -> bool:
        if await self._increment():
            return True
        if not self.created_on_first_use:
            return False
        # No $setOnInsert inside find_one_and_update on the embedded server: create the counter
        # at 0 with an upsert (the unique index settles racing creators), then try again.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.update_one(
                self.selector, {"$setOnInsert": {COUNTER_FIELD: 0}}, upsert=True
            )
        return await self._increment()

    async def give_back(self) -> None:
        await self.collection.update_one(
            {**self.selector, COUNTER_FIELD: {"$gt": 0}}, {"$inc": {COUNTER_FIELD: -1}}
        )


def _counters(
    redemption: Redemption, campaign: Campaign | None, now: datetime | None = None
) -> list[_Counter]:
    """The counters a redemption takes, in the order it takes them. Without the campaign
    (giving back) the limits do not matter."""
    limits = campaign.limits if campaign is not None else None
    project_id, campaign_id = redemption.project_id, redemption.campaign_id
    counters = [
        _Counter(
            Code.get_pymongo_collection(),
            {"_id": ObjectId(redemption.code_id), "project_id": project_id},
            limits.per_code if limits else None,
            Reason.CODE_LIMIT_REACHED,
            created_on_first_use=False,
            also_set={"last_redeemed_at": now} if now is not None else {},
        )
    ]
    if redemption.customer_id:
        counters.append(
            _Counter(
                CustomerRedemptionCounter.get_pymongo_collection(),
                {
                    "project_id": project_id,
                    "campaign_id": campaign_id,
                    "customer_id": redemption.customer_id,
                },
                limits.per_customer if limits else None,
                Reason.CUSTOMER_LIMIT_REACHED,
                created_on_first_use=True,
            )
        )
    counters += [
        _Counter(
            DailyRedemptionCounter.get_pymongo_collection(),
            {"project_id": project_id, "campaign_id": campaign_id, "day": redemption.day},
            limits.per_day if limits else None,
            Reason.DAILY_LIMIT_REACHED,
            created_on_first_use=True,
        ),
        _Counter(
            Campaign.get_pymongo_collection(),
            {"_id": ObjectId(campaign_id), "project_id": project_id},
            limits.total if limits else None,
            Reason.CAMPAIGN_LIMIT_REACHED,
            created_on_first_use=False,
        ),
    ]
    return counters


async def _give_back(counters: list[_Counter]) -> None:
    for counter in reversed(counters):
        await counter.give_back()


async def _take_counters(redemption: Redemption, campaign: Campaign, now: datetime) -> None:
    """Takes every counter or none. A refusal gives back what was taken and raises its reason.

    Without transactions a counter taken by a request that is refused further on is held for a
    moment, so a rival request near the limit may be refused too: limits are never exceeded,
    at worst one is reached early for the duration of a round trip.
    """
    taken: list[_Counter] = []
    try:
        for counter in _counters(redemption, campaign, now):
            if not await counter.take():
                await _give_back(taken)
                taken = []
                raise reason_error([counter.reason])
            taken.append(counter)
    except BaseException:
        # A crash or cancellation mid-way: what cannot be given back here, reconciliation will.
        with contextlib.suppress(Exception):
            await _give_back(taken)
        raise


def _already_at_limit(check: Validation) -> list[Reason]:
    """Refusals readable from the documents validation just loaded, before anything is written."""
    assert check.code is not None and check.campaign is not None
    limits = check.campaign.limits
    reasons: list[Reason] = []
    if limits.per_code is not None and check.code.redeemed_count >= limits.per_code:
        reasons.append(Reason.CODE_LIMIT_REACHED)
    if limits.total is not None and check.campaign.redeemed_count >= limits.total:
        reasons.append(Reason.CAMPAIGN_LIMIT_REACHED)
    return reasons


async def _earlier_attempt(project_id: str, key: str, code: str) -> tuple[Redemption | None, bool]:
    """The settled redemption made with this key, waiting while it is in flight, and whether an
    attempt was in flight at all. (None, True): it was refused or cleared, so evaluate again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_ATTEMPT_WAIT.total_seconds()
    delay = 0.01
    waited = False
    while True:
        earlier = await Redemption.find_one({"project_id": project_id, "idempotency_key": key})
        if earlier is None:
            return None, waited
        if earlier.code != code:
            raise DomainError(
                "IDEMPOTENCY_KEY_REUSED",
                "this idempotency key was used to redeem another code",
                "idempotencyKey",
            )
        if earlier.status != RedemptionStatus.PENDING:
            return earlier, waited
        waited = True
        if as_utc(earlier.created_at) < utc_now() - STALE_CLAIM_AGE:
            await reconcile_campaign(project_id, earlier.campaign_id)
            continue
        if loop.time() > deadline:
            raise DomainError(
                "REDEMPTION_IN_PROGRESS",
                "a request with this idempotency key is still in progress; retry later",
                "idempotencyKey",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def redeem_code(
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: Order | None,
    idempotency_key: str | None,
    channel: RedemptionChannel,
    api_key_id: str,
    now: datetime | None = None,
) -> Redemption:
    """Redeems a code once, or raises a DomainError carrying every reason it cannot be.

    Order of work: validate (reads only), insert the claim (the idempotency key's unique index
    makes one attempt the owner), take every counter atomically, mark the claim SUCCEEDED. A
    refusal gives back the counters and removes the claim, so a retry evaluates again.
    """
    moment = as_utc(now) if now is not None else utc_now()
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise DomainError(
            "INVALID",
            f"an idempotency key has at most {MAX_IDEMPOTENCY_KEY} characters",
            "idempotencyKey",
        )
    customer_id = (customer_id or "").strip() or None
    code_value = normalize_code(raw_code)
    # Each turn either settles or finds an earlier attempt with the key that was refused.
    for _ in range(5):
        check = await _evaluate(project_id, raw_code, customer_id, order, moment, False)
        refusal = check.reasons or _already_at_limit(check)
        if refusal:
            if key is not None:
                earlier, was_in_flight = await _earlier_attempt(project_id, key, code_value)
                if earlier is not None:
                    return earlier
                if was_in_flight:
                    # What refused us may have been that attempt's counters: look again.
                    continue
            raise reason_error(refusal)
        assert check.code is not None and check.campaign is not None
        claim = Redemption(
            project_id=project_id,
            code=check.code.code,
            code_id=str(check.code.id),
            campaign_id=check.campaign.key,
            customer_id=customer_id or "",
            order=order,
            discount=check.discount,
            channel=channel,
            api_key_id=api_key_id,
            idempotency_key=key,
            day=check.day,
            experiment_id=check.code.experiment_id,
            variant=check.code.variant,
        )
        try:
            await claim.insert()
        except DuplicateKeyError:
            assert key is not None
            earlier, _ = await _earlier_attempt(project_id, key, code_value)
            if earlier is not None:
                return earlier
            continue
        return await _complete(claim, check.campaign, moment)
    raise DomainError(
        "REDEMPTION_IN_PROGRESS",
        "requests with this idempotency key keep being refused and retried; retry later",
        "idempotencyKey",
    )


async def _complete(claim: Redemption, campaign: Campaign, now: datetime) -> Redemption:
    collection = Redemption.get_pymongo_collection()
    try:
        await _take_counters(claim, campaign, now)
    except BaseException:
        with contextlib.suppress(Exception):
            await collection.delete_one({"_id": claim.id, "status": RedemptionStatus.PENDING.value})
        raise
    completed_at = utc_now()
    # Attributed in the same write that completes the redemption, so a crash cannot split them.
    carrier = await carrier_of(claim.project_id, claim.code, completed_at)
    attribution = (
        {"message_id": carrier.key, "message_channel": carrier.channel.value} if carrier else {}
    )
    result = await collection.update_one(
        {"_id": claim.id, "status": RedemptionStatus.PENDING.value},
        {
            "$set": {
                "status": RedemptionStatus.SUCCEEDED.value,
                "completed_at": completed_at,
                **attribution,
            }
        },
    )
    if result.matched_count == 0:
        # Reconciliation took the claim for a dead process's and removed it.
        await _give_back(_counters(claim, None))
        raise DomainError(
            "REDEMPTION_EXPIRED", "the redemption took too long and was cancelled; retry", "code"
        )
    claim.status = RedemptionStatus.SUCCEEDED
    claim.completed_at = completed_at
    if carrier is not None:
        claim.message_id, claim.message_channel = carrier.key, carrier.channel.value
    await wallet_content_changed(claim.project_id, code=claim.code)
    return claim


async def get_redemption(project_id: str, redemption_id: str) -> Redemption:
    redemption = await Redemption.find_one(
        {"_id": object_id(redemption_id, "redemption"), "project_id": project_id}
    )
    if redemption is None:
        raise NotFound("redemption")
    return redemption


async def redemptions_by_message(project_id: str, message_ids: list[str]) -> dict[str, Redemption]:
    """The redemption attributed to each message, in one query; the first made when several
    were (a code usable more than once); messages without one are left out."""
    found = (
        await Redemption.find(
            {"project_id": project_id, "message_id": {"$in": list(dict.fromkeys(message_ids))}}
        )
        .sort("_id")
        .to_list()
    )
    first: dict[str, Redemption] = {}
    for redemption in found:
        first.setdefault(redemption.message_id, redemption)
    return first


async def rollback_redemption(project_id: str, redemption_id: str, reason: str) -> Redemption:
    """Undoes a redemption exactly once: one conditional flip, then every counter given back."""
    oid = object_id(redemption_id, "redemption")
    collection = Redemption.get_pymongo_collection()
    flipped = await collection.find_one_and_update(
        {"_id": oid, "project_id": project_id, "status": RedemptionStatus.SUCCEEDED.value},
        {
            "$set": {
                "status": RedemptionStatus.ROLLED_BACK.value,
                "rolled_back_at": utc_now(),
                "rollback_reason": reason.strip()[:MAX_ROLLBACK_REASON],
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if flipped is None:
        existing = await get_redemption(project_id, redemption_id)
        if existing.status == RedemptionStatus.ROLLED_BACK:
            raise DomainError(
                "ALREADY_ROLLED_BACK", "this redemption was already rolled back", "id"
            )
        raise DomainError("NOT_COMPLETED", "this redemption has not completed yet", "id")
    redemption = Redemption.model_validate(flipped)
    await _give_back(_counters(redemption, None))
    await collection.update_one({"_id": oid}, {"$set": {"holds_counters": False}})
    redemption.holds_counters = False
    await wallet_content_changed(project_id, code=redemption.code)
    return redemption


async def list_redemptions(
    project_id: str,
    first: int,
    after: str | None,
    campaign_id: str | None = None,
    customer_id: str | None = None,
    code: str | None = None,
    code_id: str | None = None,
) -> Page[Redemption]:
    query: dict[str, Any] = {"project_id": project_id}
    if code_id:
        query["code_id"] = code_id
    if campaign_id:
        query["campaign_id"] = campaign_id
    if customer_id:
        query["customer_id"] = customer_id
    if code:
        query["code"] = normalize_code(code)
    return await paginate(Redemption, query, first, after)


@dataclass(frozen=True)
class Correction:
    counter: str
    key: str
    was: int
    now: int


@dataclass
class Reconciliation:
    corrections: list[Correction] = field(default_factory=list)
    stale_claims_removed: int = 0
    rollbacks_completed: int = 0


async def reconcile_campaign(project_id: str, campaign_id: str) -> Reconciliation:
    """Recomputes every counter of a campaign from its redemptions and says what it corrected.

    Counters are set by compare-and-set against the value read before counting, so a counter
    that moves meanwhile is recounted rather than overwritten. Claims older than a minute
    belong to processes that died and are removed first.
    """
    campaign = await get_campaign(project_id, campaign_id)
    collection = Redemption.get_pymongo_collection()
    cutoff = utc_now() - STALE_CLAIM_AGE
    scope = {"project_id": project_id, "campaign_id": campaign.key}
    removed = await collection.delete_many(
        {**scope, "status": RedemptionStatus.PENDING.value, "created_at": {"$lt": cutoff}}
    )
    completed = await collection.update_many(
        {
            **scope,
            "status": RedemptionStatus.ROLLED_BACK.value,
            "holds_counters": True,
            "rolled_back_at": {"$lt": cutoff},
        },
        {"$set": {"holds_counters": False}},
    )
    report = Reconciliation(
        stale_claims_removed=removed.deleted_count, rollbacks_completed=completed.modified_count
    )
    for _ in range(5):
        if not await _reconcile_pass(campaign, report):
            break
    return report


async def _held_counts(scope: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Redemptions holding counters, grouped per code, customer and day.

    Three plain groups rather than one `$facet`: the embedded server has no `$facet`.
    """
    collection = Redemption.get_pymongo_collection()
    held: dict[str, dict[str, int]] = {}
    for name in ("code_id", "customer_id", "day"):
        cursor = await collection.aggregate(
            [
                {"$match": {**scope, "holds_counters": True}},
                {"$group": {"_id": f"${name}", "n": {"$sum": 1}}},
            ]
        )
        held[name] = {str(row["_id"]): int(row["n"]) async for row in cursor if row["_id"]}
    return held


async def _reconcile_pass(campaign: Campaign, report: Reconciliation) -> bool:
    """One recount; True when some counter moved during it and another pass is needed."""
    scope = {"project_id": campaign.project_id, "campaign_id": campaign.key}
    codes = Code.get_pymongo_collection()
    customers = CustomerRedemptionCounter.get_pymongo_collection()
    days = DailyRedemptionCounter.get_pymongo_collection()
    campaigns = Campaign.get_pymongo_collection()
    # Read the counters before counting: a compare-and-set then notices any move in between.
    code_rows = await codes.find(
        {**scope, "redeemed_count": {"$gt": 0}}, {"code": 1, "redeemed_count": 1}
    ).to_list()
    customer_rows = await customers.find(scope).to_list()
    day_rows = await days.find(scope).to_list()
    campaign_row = await campaigns.find_one(
        {"_id": campaign.id, "project_id": campaign.project_id}, {"redeemed_count": 1}
    )
    held = await _held_counts(scope)
    moved = False

    counted_codes = [ObjectId(key) for key in held["code_id"] if ObjectId.is_valid(key)]
    known = {row["_id"] for row in code_rows}
    missing = [oid for oid in counted_codes if oid not in known]
    if missing:
        code_rows += await codes.find(
            {"_id": {"$in": missing}, "project_id": campaign.project_id},
            {"code": 1, "redeemed_count": 1},
        ).to_list()
    for row in code_rows:
        was, expected = int(row["redeemed_count"]), held["code_id"].get(str(row["_id"]), 0)
        if was != expected:
            result = await codes.update_one(
                {"_id": row["_id"], "redeemed_count": was}, {"$set": {"redeemed_count": expected}}
            )
            moved |= _record(report, result.modified_count, "code", row["code"], was, expected)

    for name, collection, rows in (
        ("customer_id", customers, customer_rows),
        ("day", days, day_rows),
    ):
        current = {str(row[name]): int(row[COUNTER_FIELD]) for row in rows}
        for key in set(current) | set(held[name]):
            was, expected = current.get(key, 0), held[name].get(key, 0)
            if was == expected:
                continue
            selector = {**scope, name: key}
            if key not in current:
                with contextlib.suppress(DuplicateKeyError):
                    await collection.update_one(
                        selector, {"$setOnInsert": {COUNTER_FIELD: 0}}, upsert=True
                    )
            result = await collection.update_one(
                {**selector, COUNTER_FIELD: was}, {"$set": {COUNTER_FIELD: expected}}
            )
            label = "customer" if name == "customer_id" else "day"
            moved |= _record(report, result.modified_count, label, key, was, expected)

    if campaign_row is not None:
        was, expected = int(campaign_row.get("redeemed_count", 0)), sum(held["code_id"].values())
        if was != expected:
            result = await campaigns.update_one(
                {"_id": campaign.id, "redeemed_count": was}, {"$set": {"redeemed_count": expected}}
            )
            moved |= _record(report, result.modified_count, "campaign", campaign.key, was, expected)
    return moved


def _record(
    report: Reconciliation, modified: int, counter: str, key: str, was: int, expected: int
) -> bool:
    """Notes a correction; True when the compare-and-set lost to a concurrent move."""
    if modified:
        report.corrections.append(Correction(counter=counter, key=key, was=was, now=expected))
        return False
    return True
