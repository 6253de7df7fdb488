"""Loyalty points: a card per customer per program, an append-only ledger whose sum is the card's
balance, earning from orders and events, FIFO expiry, tiers, and a rewards catalogue.

Every change is a ledger entry inserted first under a unique key (so it happens once), then moved
onto the card with one conditional update that also records the entry id in `inflight` (so the
update is never applied twice), then marked applied. A process that dies in between leaves
evidence that `repair_card` reads to finish or drop the entry, and the invariant
balance == sum(points of applied entries) holds again."""

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain import codes, events
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, get_campaign
from domain.common import Money, as_utc, minor_unit_digits, object_id, utc_now
from domain.customers import get_live_customer
from domain.errors import DomainError, NotFound, Problem
from domain.loyalty_config import LoyaltyConfig, TierBasis
from domain.pagination import Page, empty_page, paginate, paginate_each
from domain.wallet import wallet_content_changed

# An entry or exchange still unfinished after this long belongs to a process that died mid-way.
STALE_AGE = timedelta(minutes=1)
# How long a retry waits for the first exchange with the same idempotency key to finish.
FIRST_ATTEMPT_WAIT = timedelta(seconds=30)
MAX_KEY = 200
MAX_REASON = 500
MAX_NAME = 200
MAX_POINTS = 1_000_000_000
# Cards with nothing in their tier window are reviewed at this moment, i.e. never (null cannot
# be filtered).
NEVER = datetime(3000, 1, 1)
EXPIRING_SOON = timedelta(days=30)


class LedgerKind(StrEnum):
    EARN = "EARN"
    SPEND = "SPEND"
    EXPIRE = "EXPIRE"
    ADJUST = "ADJUST"
    REVERSE = "REVERSE"


class LoyaltyCard(Document):
    project_id: str
    campaign_id: str
    customer_id: str
    # Always the sum of the applied ledger entries; moved only by conditional $inc.
    balance: int = 0
    # EARN minus REVERSE, over the card's life.
    earned_total: int = 0
    tier: str = ""
    # Running sums over the tier window, moved with the balance so earning needs no ledger scan:
    # points earned less reversed, and minor units spent in the program's currency.
    window_points: int = 0
    window_spent: int = 0
    # When the oldest entry counted in the window sums leaves the window: from then on the sums
    # are recounted from the ledger before the tier is looked at.
    tier_review_at: datetime = NEVER
    # Entries moved onto the balance but not yet marked applied: a crash leaves them here.
    inflight: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_cards"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_campaign_customer_unique",
            ),
            IndexModel([("tier_review_at", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class LedgerEntry(Document):
    """One change of a card's points. Never changed after it is applied, except `remaining`."""

    project_id: str
    campaign_id: str
    customer_id: str
    card_id: str
    kind: LedgerKind
    # Signed: positive entries add points, negative ones take them.
    points: int
    reason: str = ""
    # What caused it: an order id, a reward id, an API key id, an earn entry id.
    source: str = ""
    # Unique per card: the same effect (earning for one order, say) is written once.
    key: str
    applied: bool = False
    # Positive entries only: points not yet spent, reversed or expired, taken oldest first.
    remaining: int = 0
    expires: bool = False
    expires_at: datetime | None = None
    # What the entry adds to the tier window sums: EARN and REVERSE entries only.
    tier_points: int = 0
    spent: int = 0
    # When it counts in the window: its own time, or for a reversal the time of what it reverses.
    window_at: datetime = Field(default_factory=utc_now)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_ledger"
        indexes = [
            IndexModel([("card_id", 1), ("key", 1)], unique=True, name="card_key_unique"),
            IndexModel([("card_id", 1), ("created_at", 1)]),
            IndexModel([("project_id", 1), ("source", 1), ("kind", 1)]),
            IndexModel([("expires", 1), ("remaining", 1), ("expires_at", 1)]),
            # The repair sweep's query: entries a dead process left unapplied.
            IndexModel([("applied", 1), ("created_at", 1)]),
        ]

    @property
    def key_id(self) -> str:
        return str(self.id)


class Reward(Document):
    project_id: str
    campaign_id: str
    name: str
    cost: int
    # A DISCOUNT campaign whose code the reward gives; "" for a free-form reward.
    discount_campaign_id: str = ""
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_rewards"
        indexes = [IndexModel([("project_id", 1), ("campaign_id", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)


class ExchangeStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"


class Exchange(Document):
    """Points exchanged for a reward. Inserted PENDING as a claim on its idempotency key."""

    project_id: str
    campaign_id: str
    customer_id: str
    reward_id: str
    idempotency_key: str
    cost: int
    status: ExchangeStatus = ExchangeStatus.PENDING
    code_id: str = ""
    claimed_at: datetime = Field(default_factory=utc_now)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_exchanges"
        indexes = [
            IndexModel(
                [("project_id", 1), ("idempotency_key", 1)],
                unique=True,
                name="project_idempotency_key_unique",
            )
        ]


def _insufficient() -> DomainError:
    return DomainError("INSUFFICIENT_POINTS", "the card does not have enough points", "points")


async def loyalty_campaign(project_id: str, campaign_id: str) -> tuple[Campaign, LoyaltyConfig]:
    campaign = await get_campaign(project_id, campaign_id)
    if campaign.kind != CampaignKind.LOYALTY:
        raise DomainError("NOT_LOYALTY", "this campaign is not a loyalty program", "campaignId")
    return campaign, campaign.loyalty or LoyaltyConfig()


def _owner(project_id: str, campaign_id: str, customer_id: str) -> dict[str, str]:
    return {"project_id": project_id, "campaign_id": campaign_id, "customer_id": customer_id}


async def ensure_card(project_id: str, campaign_id: str, customer_id: str) -> LoyaltyCard:
    """The customer's card in the program, made on first use."""
    owner = _owner(project_id, campaign_id, customer_id)
    found = await LoyaltyCard.find_one(owner)
    if found is not None:
        return found
    collection = LoyaltyCard.get_pymongo_collection()
    # Two first uses at once: the unique index keeps one card, the other update fails harmlessly.
    with contextlib.suppress(DuplicateKeyError):
        await collection.update_one(
            owner,
            {
                "$setOnInsert": {
                    "balance": 0,
                    "earned_total": 0,
                    "tier": "",
                    "window_points": 0,
                    "window_spent": 0,
                    "tier_review_at": NEVER,
                    "inflight": [],
                    "created_at": utc_now(),
                }
            },
            upsert=True,
        )
    card = await LoyaltyCard.find_one(owner)
    assert card is not None
    return card


async def customer_cards(project_id: str, customer_id: str) -> list[LoyaltyCard]:
    """The customer's cards in the project's programs: stored ones, plus an empty one (not
    stored) for each active program the customer has no card in yet; oldest program first."""
    stored = await LoyaltyCard.find(
        {"project_id": project_id, "customer_id": customer_id}
    ).to_list()
    held = {card.campaign_id for card in stored}
    empty = [
        LoyaltyCard(**_owner(project_id, campaign.key, customer_id))
        for campaign in await _active_loyalty_campaigns(project_id, utc_now())
        if campaign.key not in held
    ]
    return sorted(stored + empty, key=lambda card: card.campaign_id)


async def find_card(project_id: str, campaign_id: str, customer_id: str) -> LoyaltyCard:
    """The stored card, or an empty one (not stored) for a customer who has none yet."""
    card = await LoyaltyCard.find_one(_owner(project_id, campaign_id, customer_id))
    return card or LoyaltyCard(**_owner(project_id, campaign_id, customer_id))


def _new_entry(
    card: LoyaltyCard,
    kind: LedgerKind,
    points: int,
    key: str,
    reason: str,
    source: str,
    config: LoyaltyConfig,
    now: datetime,
    spent: int = 0,
) -> LedgerEntry:
    lot = points > 0
    expires = lot and config.expiry_days is not None
    return LedgerEntry(
        project_id=card.project_id,
        campaign_id=card.campaign_id,
        customer_id=card.customer_id,
        card_id=card.key,
        kind=kind,
        points=points,
        key=key,
        reason=reason,
        source=source,
        remaining=points if lot else 0,
        expires=expires,
        expires_at=now + timedelta(days=config.expiry_days or 0) if expires else None,
        tier_points=points if kind == LedgerKind.EARN else 0,
        spent=spent,
        window_at=now,
        created_at=now,
    )


async def _apply(entry: LedgerEntry, window: timedelta | None = None) -> dict[str, Any] | None:
    """Moves the entry's points (and its share of the tier window sums) onto its card once;
    returns the card as it stands after, or None when a debit would go below zero. `window`
    None: the window is not known here, so the card is marked for a recount."""
    cards = LoyaltyCard.get_pymongo_collection()
    entry_id = entry.key_id
    guard: dict[str, Any] = {"inflight": {"$ne": entry_id}}
    if entry.points < 0:
        guard["balance"] = {"$gte": -entry.points}
    moves = {"balance": entry.points}
    update: dict[str, Any] = {"$inc": moves, "$push": {"inflight": entry_id}}
    if entry.kind in (LedgerKind.EARN, LedgerKind.REVERSE):
        moves["earned_total"] = entry.points
    if entry.tier_points or entry.spent:
        leaves = as_utc(entry.window_at) + window if window is not None else None
        if leaves is None or leaves > utc_now():
            moves["window_points"] = entry.tier_points
            moves["window_spent"] = entry.spent
            update["$min"] = {"tier_review_at": leaves or as_utc(entry.window_at)}
    card = await cards.find_one_and_update(
        {"_id": object_id(entry.card_id, "card"), **guard},
        update,
        return_document=ReturnDocument.AFTER,
    )
    if card is None:
        card = await cards.find_one({"_id": object_id(entry.card_id, "card")})
        if card is None or entry_id not in card.get("inflight", []):
            return None
    await _settle(entry)
    await wallet_content_changed(card["project_id"], card_id=entry.card_id)
    return card


async def _settle(entry: LedgerEntry) -> None:
    await LedgerEntry.get_pymongo_collection().update_one(
        {"_id": entry.id, "applied": False}, {"$set": {"applied": True}}
    )
    await LoyaltyCard.get_pymongo_collection().update_one(
        {"_id": object_id(entry.card_id, "card")}, {"$pull": {"inflight": entry.key_id}}
    )
    entry.applied = True


async def _write(entry: LedgerEntry, window: timedelta | None = None) -> dict[str, Any] | None:
    """Inserts and applies the entry and returns the card after it; None when its key was
    written before (or is in flight). A debit that does not fit the balance is removed again
    and raises INSUFFICIENT_POINTS."""
    try:
        await entry.insert()
    except DuplicateKeyError:
        return None
    card = await _apply(entry, window)
    if card is None:
        # Never applied, so never part of the ledger's sum: the key is free for a later try.
        await LedgerEntry.get_pymongo_collection().delete_one({"_id": entry.id, "applied": False})
        raise _insufficient()
    return card


async def _take_lots(card_id: str, points: int, first_lot: LedgerEntry | None = None) -> None:
    """Takes `points` from the card's positive entries, oldest first (`first_lot` before all)."""
    collection = LedgerEntry.get_pymongo_collection()
    left = points
    for _ in range(1000):
        if left <= 0:
            return
        if first_lot is not None:
            lot = await collection.find_one({"_id": first_lot.id, "remaining": {"$gt": 0}})
            first_lot = None if lot is None else first_lot
        else:
            lot = None
        if lot is None:
            lot = await collection.find_one(
                {"card_id": card_id, "remaining": {"$gt": 0}},
                sort=[("created_at", 1), ("_id", 1)],
            )
        if lot is None:
            # Fewer lots than points: another debit is between its balance and its lots;
            # repair_card recounts lots from the ledger.
            return
        take = min(lot["remaining"], left)
        taken = await collection.update_one(
            {"_id": lot["_id"], "remaining": {"$gte": take}}, {"$inc": {"remaining": -take}}
        )
        if taken.modified_count:
            left -= take


async def _active_loyalty_campaigns(project_id: str, now: datetime) -> list[Campaign]:
    found = await Campaign.find(
        {
            "project_id": project_id,
            "kind": CampaignKind.LOYALTY.value,
            "status": CampaignStatus.ACTIVE.value,
        }
    ).to_list()
    return [
        campaign
        for campaign in found
        if (campaign.starts_at is None or as_utc(campaign.starts_at) <= now)
        and (campaign.ends_at is None or now < as_utc(campaign.ends_at))
    ]


def order_points(config: LoyaltyConfig, amount: Money, multiplier: Decimal) -> int:
    """Points an order earns: per major unit spent plus per order, times the tier multiplier."""
    major = Decimal(max(amount.amount, 0)).scaleb(-minor_unit_digits(amount.currency))
    per_unit = config.rounded(major * Decimal(str(config.points_per_unit)))
    return max(config.rounded((per_unit + config.points_per_order) * multiplier), 0)


async def _earn(
    campaign: Campaign,
    config: LoyaltyConfig,
    customer_id: str,
    points_for: Callable[[Decimal], int],
    key: str,
    reason: str,
    source: str,
    now: datetime,
    spent: int = 0,
) -> None:
    card = await ensure_card(campaign.project_id, campaign.key, customer_id)
    points = points_for(config.multiplier(card.tier))
    if points <= 0 and spent <= 0:
        return
    entry = _new_entry(card, LedgerKind.EARN, max(points, 0), key, reason, source, config, now)
    entry.spent = spent
    after = await _write(entry, _window(config))
    if after is not None:
        await _follow_tier(after, config, now)
        # Automations decide which thresholds matter (conditions {"crossed": N}).
        await events.emit(
            campaign.project_id,
            customer_id,
            events.POINTS_CHANGED,
            {
                "campaignId": campaign.key,
                "old": int(after["balance"]) - entry.points,
                "new": int(after["balance"]),
                "delta": entry.points,
                "reason": reason,
            },
            at=now,
            dedupe_key=f"points.changed:{entry.key_id}",
        )


def _window(config: LoyaltyConfig) -> timedelta:
    return timedelta(days=config.tier_window_days)


async def _follow_tier(card: dict[str, Any], config: LoyaltyConfig, now: datetime) -> None:
    """Sets the tier from the card's running window sums; recounts them from the ledger first
    when an entry they count has left the window."""
    if as_utc(card["tier_review_at"]) <= now:
        await retier(str(card["_id"]), now)
        return
    points, spent = int(card.get("window_points", 0)), int(card.get("window_spent", 0))
    held = config.tier_for(spent if config.tier_basis == TierBasis.SPENT else points)
    tier = held.name if held else ""
    if tier == card.get("tier", ""):
        return
    # Only if the sums are still those the tier was judged on: a later writer judges its own.
    moved = await LoyaltyCard.get_pymongo_collection().update_one(
        {"_id": card["_id"], "window_points": points, "window_spent": spent},
        {"$set": {"tier": tier}},
    )
    if moved.modified_count:
        await wallet_content_changed(card["project_id"], card_id=str(card["_id"]))


async def earn_for_order(
    project_id: str,
    customer_id: str,
    order_id: str,
    amount: Money,
    now: datetime | None = None,
) -> None:
    """Earns points in every active loyalty program of the project, once per order, and counts
    the amount toward tiers by spending."""
    now = as_utc(now) if now is not None else utc_now()
    for campaign in await _active_loyalty_campaigns(project_id, now):
        config = campaign.loyalty or LoyaltyConfig()
        await _earn(
            campaign,
            config,
            customer_id,
            functools.partial(order_points, config, amount),
            f"order:{order_id}",
            f"order {order_id}",
            order_id,
            now,
            spent=config.counted_spent(amount.currency, amount.amount),
        )


async def reverse_for_order(project_id: str, customer_id: str, order_id: str) -> None:
    """Takes back what an order earned, once; never more than the card still holds."""
    earned = await LedgerEntry.find(
        {
            "project_id": project_id,
            "customer_id": customer_id,
            "source": order_id,
            "kind": LedgerKind.EARN.value,
            "applied": True,
        }
    ).to_list()
    now = utc_now()
    for earn in earned:
        await _reverse(earn, now)


async def _reverse(earn: LedgerEntry, now: datetime) -> None:
    cards = LoyaltyCard.get_pymongo_collection()
    campaign = await Campaign.get(object_id(earn.campaign_id, "campaign"))
    config = (campaign.loyalty if campaign else None) or LoyaltyConfig()
    for _ in range(20):
        card = await cards.find_one({"_id": object_id(earn.card_id, "card")}, {"balance": 1})
        balance = int((card or {}).get("balance", 0))
        points = min(earn.points, balance)
        reason = f"order {earn.source} cancelled"
        if points < earn.points:
            reason += f": {points} of {earn.points} points were left to take back"
        entry = LedgerEntry(
            project_id=earn.project_id,
            campaign_id=earn.campaign_id,
            customer_id=earn.customer_id,
            card_id=earn.card_id,
            kind=LedgerKind.REVERSE,
            points=-points,
            key=f"reverse:{earn.key}",
            reason=reason,
            source=earn.source,
            # The order leaves the tier window sums as it entered them: at the earning's time.
            tier_points=-points,
            spent=-earn.spent,
            window_at=earn.window_at,
            created_at=now,
        )
        try:
            after = await _write(entry, _window(config))
        except DomainError:
            # Points were spent meanwhile: take back what is left now.
            continue
        if after is not None:
            await _take_lots(earn.card_id, points, first_lot=earn)
            await _follow_tier(after, config, now)
        return
    raise DomainError("BUSY", "the card keeps changing; retry", "orderId")


async def grant_points(
    project_id: str, campaign_id: str, customer_id: str, points: int, key: str, reason: str
) -> None:
    """Earns exactly `points` (no tier multiplier: the points were promised), once per `key`."""
    campaign, config = await loyalty_campaign(project_id, campaign_id)
    await _earn(
        campaign, config, customer_id, lambda _multiplier: points, key, reason, key, utc_now()
    )


async def record_event(
    project_id: str, customer_id: str, campaign_id: str, name: str, idempotency_key: str
) -> LoyaltyCard:
    """Earns the program's points for a named event, once per idempotency key."""
    key = _checked_key(idempotency_key)
    campaign, config = await loyalty_campaign(project_id, campaign_id)
    customer_id = (await get_live_customer(project_id, customer_id)).key
    event = name.strip()
    if event not in config.events:
        raise DomainError("UNKNOWN_EVENT", "the program gives no points for this event", "name")
    if campaign.status != CampaignStatus.ACTIVE:
        raise DomainError("CAMPAIGN_NOT_ACTIVE", "the program is not active", "campaignId")
    points = config.events[event]
    await _earn(
        campaign,
        config,
        customer_id,
        lambda multiplier: config.rounded(points * multiplier),
        f"event:{key}",
        f"event {event}",
        event,
        utc_now(),
    )
    return await find_card(project_id, campaign.key, customer_id)


def _checked_key(raw: str) -> str:
    key = (raw or "").strip()
    if not key:
        raise DomainError("REQUIRED", "an idempotency key is required", "idempotencyKey")
    if len(key) > MAX_KEY:
        raise DomainError(
            "INVALID", f"an idempotency key has at most {MAX_KEY} characters", "idempotencyKey"
        )
    return key


async def adjust_points(
    project_id: str, customer_id: str, campaign_id: str, points: int, reason: str, actor: str
) -> LoyaltyCard:
    """An admin's correction, with its reason; a card never goes below zero."""
    problems: list[Problem] = []
    if points == 0 or abs(points) > MAX_POINTS:
        problems.append(Problem("INVALID_POINTS", "points must be non-zero", "points"))
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        problems.append(Problem("REQUIRED", f"a reason of 1 to {MAX_REASON} characters", "reason"))
    if problems:
        raise DomainError.of(problems)
    campaign, config = await loyalty_campaign(project_id, campaign_id)
    customer_id = (await get_live_customer(project_id, customer_id)).key
    card = await ensure_card(project_id, campaign.key, customer_id)
    now = utc_now()
    entry = _new_entry(
        card, LedgerKind.ADJUST, points, f"adjust:{uuid.uuid4().hex}", text, actor, config, now
    )
    await _write(entry)
    if points < 0:
        await _take_lots(card.key, -points)
    return await find_card(project_id, campaign.key, customer_id)


async def retier(card_id: str, now: datetime | None = None) -> None:
    """Recounts the card's tier window sums from its ledger and sets its tier from them."""
    moment = as_utc(now) if now is not None else utc_now()
    cards = LoyaltyCard.get_pymongo_collection()
    ledger = LedgerEntry.get_pymongo_collection()
    for _ in range(5):
        card = await cards.find_one({"_id": object_id(card_id, "card")})
        if card is None:
            return
        campaign = await Campaign.get(object_id(card["campaign_id"], "campaign"))
        config = (campaign.loyalty if campaign else None) or LoyaltyConfig()
        since = moment - _window(config)
        # Equality on the card only (an index prefix); the few other conditions are read here.
        rows = await ledger.find(
            {"card_id": card_id},
            {"applied": 1, "tier_points": 1, "spent": 1, "window_at": 1},
        ).to_list(None)
        counted = [
            row
            for row in rows
            if row.get("applied")
            and (row.get("tier_points") or row.get("spent"))
            and "window_at" in row
            and as_utc(row["window_at"]) > since
        ]
        points = sum(int(row.get("tier_points", 0)) for row in counted)
        spent = sum(int(row.get("spent", 0)) for row in counted)
        held = config.tier_for(spent if config.tier_basis == TierBasis.SPENT else points)
        review = (
            min(as_utc(row["window_at"]) for row in counted) + _window(config) if counted else NEVER
        )
        # Only if nothing moved the sums since the card was read and nothing is half-applied.
        recounted = await cards.update_one(
            {
                "_id": card["_id"],
                "window_points": card.get("window_points", 0),
                "window_spent": card.get("window_spent", 0),
                "inflight": {"$size": 0},
            },
            {
                "$set": {
                    "tier": held.name if held else "",
                    "window_points": points,
                    "window_spent": spent,
                    "tier_review_at": review,
                }
            },
        )
        if recounted.matched_count:
            if (held.name if held else "") != card.get("tier", ""):
                await wallet_content_changed(card["project_id"], card_id=card_id)
            return
        await asyncio.sleep(0.01)


async def expire_points(now: datetime | None = None, batch: int = 1000) -> int:
    """Writes one EXPIRE entry for each positive entry past its expiry with points left, and
    looks again at tiers whose window has moved. Running it twice changes nothing more."""
    moment = as_utc(now) if now is not None else utc_now()
    collection = LedgerEntry.get_pymongo_collection()
    written = 0
    while True:
        lots = (
            await collection.find(
                {"expires": True, "remaining": {"$gt": 0}, "expires_at": {"$lte": moment}}
            )
            .sort([("expires_at", 1), ("_id", 1)])
            .limit(batch)
            .to_list(None)
        )
        progressed = False
        for lot in lots:
            if await _expire_lot(LedgerEntry.model_validate(lot), moment):
                written += 1
                progressed = True
        if len(lots) < batch or not progressed:
            break
    due = (
        await LoyaltyCard.get_pymongo_collection()
        .find({"tier_review_at": {"$lte": moment}}, {"_id": 1})
        .to_list(None)
    )
    # Expiry leaves the tier window sums alone: only cards whose window moved are recounted.
    for card_id in {str(row["_id"]) for row in due}:
        await retier(card_id, moment)
    return written


async def _expire_lot(lot: LedgerEntry, now: datetime) -> bool:
    collection = LedgerEntry.get_pymongo_collection()
    left = lot.remaining
    # Taking the lot's points first keeps a concurrent spend from taking them too.
    taken = await collection.update_one(
        {"_id": lot.id, "remaining": left}, {"$set": {"remaining": 0}}
    )
    if taken.modified_count == 0:
        return False
    entry = LedgerEntry(
        project_id=lot.project_id,
        campaign_id=lot.campaign_id,
        customer_id=lot.customer_id,
        card_id=lot.card_id,
        kind=LedgerKind.EXPIRE,
        points=-left,
        key=f"expire:{lot.key_id}",
        reason=f"{left} points earned {as_utc(lot.created_at).date().isoformat()} expired",
        source=lot.key_id,
        created_at=now,
    )
    try:
        done = await _write(entry)
    except DomainError:
        done = None
    if done is None:
        # A spend is between its balance and its lots: leave the points for the next run.
        await collection.update_one({"_id": lot.id}, {"$inc": {"remaining": left}})
        return False
    return True


@dataclass
class RewardInput:
    campaign_id: str
    name: str
    cost: int
    discount_campaign_id: str | None = None


async def create_reward(project_id: str, data: RewardInput) -> Reward:
    problems: list[Problem] = []
    name = (data.name or "").strip()
    if not name or len(name) > MAX_NAME:
        problems.append(Problem("REQUIRED", f"a name of 1 to {MAX_NAME} characters", "name"))
    if isinstance(data.cost, bool) or not 0 < data.cost <= MAX_POINTS:
        problems.append(Problem("INVALID_POINTS", "cost must be more than 0 points", "cost"))
    campaign_id = ""
    try:
        campaign, _ = await loyalty_campaign(project_id, data.campaign_id)
        campaign_id = campaign.key
    except DomainError as error:
        problems.extend(error.problems)
    discount_campaign_id = (data.discount_campaign_id or "").strip()
    if discount_campaign_id:
        try:
            discount = await get_campaign(project_id, discount_campaign_id, "discountCampaignId")
            codes.check_gives_codes(discount)
            discount_campaign_id = discount.key
        except DomainError as error:
            problems.extend(
                Problem(p.code, p.message, "discountCampaignId") for p in error.problems
            )
    if problems:
        raise DomainError.of(problems)
    reward = Reward(
        project_id=project_id,
        campaign_id=campaign_id,
        name=name,
        cost=data.cost,
        discount_campaign_id=discount_campaign_id,
    )
    await reward.insert()
    return reward


async def get_reward(project_id: str, reward_id: str) -> Reward:
    reward = await Reward.find_one(
        {"_id": object_id(reward_id, "reward", "rewardId"), "project_id": project_id}
    )
    if reward is None:
        raise NotFound("reward", "rewardId")
    return reward


async def list_rewards(project_id: str, campaign_id: str) -> list[Reward]:
    return (
        await Reward.find({"project_id": project_id, "campaign_id": campaign_id})
        .sort("cost")
        .to_list()
    )


@dataclass
class ExchangeResult:
    exchange: Exchange
    code: codes.Code | None
    card: LoyaltyCard


async def _result(exchange: Exchange) -> ExchangeResult:
    code = None
    if exchange.code_id:
        code = await codes.Code.get(object_id(exchange.code_id, "code"))
    card = await find_card(exchange.project_id, exchange.campaign_id, exchange.customer_id)
    return ExchangeResult(exchange=exchange, code=code, card=card)


async def _reward_code(reward: Reward, customer_id: str) -> codes.Code:
    """A fresh code for each exchange, unlike publishCode which gives a customer the same one."""
    campaign = await get_campaign(reward.project_id, reward.discount_campaign_id, "rewardId")
    return await codes.issue_fresh_code(campaign, customer_id)


async def exchange_points(
    project_id: str, customer_id: str, reward_id: str, idempotency_key: str
) -> ExchangeResult:
    """Debits the reward's cost once per idempotency key and gives the reward; a repeated key
    returns the first exchange. The balance never goes below zero, however many race."""
    key = _checked_key(idempotency_key)
    reward = await get_reward(project_id, reward_id)
    campaign, _ = await loyalty_campaign(project_id, reward.campaign_id)
    customer_id = (await get_live_customer(project_id, customer_id)).key
    if campaign.status != CampaignStatus.ACTIVE:
        raise DomainError("CAMPAIGN_NOT_ACTIVE", "the program is not active", "rewardId")
    if reward.discount_campaign_id:
        # Refused before any point moves when the reward's codes can no longer be given.
        codes.check_gives_codes(
            await get_campaign(project_id, reward.discount_campaign_id, "rewardId")
        )
    for _ in range(5):
        claim = Exchange(
            project_id=project_id,
            campaign_id=campaign.key,
            customer_id=customer_id,
            reward_id=reward.key,
            idempotency_key=key,
            cost=reward.cost,
        )
        try:
            await claim.insert()
        except DuplicateKeyError:
            earlier = await _earlier_exchange(project_id, key, customer_id, reward.key)
            if earlier is None:
                continue
            if earlier.status == ExchangeStatus.SUCCEEDED:
                return await _result(earlier)
            claim = earlier
        return await _complete(claim, reward)
    raise DomainError("EXCHANGE_IN_PROGRESS", "retry later", "idempotencyKey")


async def _earlier_exchange(
    project_id: str, key: str, customer_id: str, reward_id: str
) -> Exchange | None:
    """The settled exchange made with this key, waiting while it is in flight; a claim left by
    a process that died is taken over (returned PENDING). None: it was refused, try again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_ATTEMPT_WAIT.total_seconds()
    delay = 0.01
    collection = Exchange.get_pymongo_collection()
    while True:
        earlier = await Exchange.find_one({"project_id": project_id, "idempotency_key": key})
        if earlier is None:
            return None
        if earlier.customer_id != customer_id or earlier.reward_id != reward_id:
            raise DomainError(
                "IDEMPOTENCY_KEY_REUSED",
                "this idempotency key was used for another exchange",
                "idempotencyKey",
            )
        if earlier.status == ExchangeStatus.SUCCEEDED:
            return earlier
        if as_utc(earlier.claimed_at) < utc_now() - STALE_AGE:
            taken = await collection.update_one(
                {"_id": earlier.id, "status": "PENDING", "claimed_at": earlier.claimed_at},
                {"$set": {"claimed_at": utc_now()}},
            )
            if taken.modified_count:
                return earlier
            continue
        if loop.time() > deadline:
            raise DomainError(
                "EXCHANGE_IN_PROGRESS",
                "an exchange with this idempotency key is still in progress; retry later",
                "idempotencyKey",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def _complete(claim: Exchange, reward: Reward) -> ExchangeResult:
    """Debits, takes the points from the oldest lots, gives the code, marks the claim done.
    Each step is safe to run again after a crash: the debit's entry key makes it once."""
    exchanges = Exchange.get_pymongo_collection()
    card = await ensure_card(claim.project_id, claim.campaign_id, claim.customer_id)
    campaign = await Campaign.get(object_id(claim.campaign_id, "campaign"))
    config = (campaign.loyalty if campaign else None) or LoyaltyConfig()
    spend_key = f"spend:{claim.id}"
    spend = await LedgerEntry.find_one({"card_id": card.key, "key": spend_key})
    if spend is None:
        spend = _new_entry(
            card,
            LedgerKind.SPEND,
            -claim.cost,
            spend_key,
            f"exchanged for {reward.name}",
            reward.key,
            config,
            utc_now(),
        )
        try:
            await _write(spend)
        except DomainError:
            # Refused: the key is free again so a retry is judged afresh.
            await exchanges.delete_one({"_id": claim.id, "status": "PENDING"})
            raise
        await _take_lots(card.key, claim.cost)
    elif not spend.applied and not await _finish(spend, card):
        # The dead attempt's debit never fitted: refused as it would have been then.
        await exchanges.delete_one({"_id": claim.id, "status": "PENDING"})
        raise _insufficient()
    code_id = claim.code_id
    if reward.discount_campaign_id and not code_id:
        try:
            code = await _reward_code(reward, claim.customer_id)
        except DomainError:
            await _refund(claim, card, config)
            raise
        code_id = str(code.id)
    await exchanges.update_one(
        {"_id": claim.id},
        {"$set": {"status": ExchangeStatus.SUCCEEDED.value, "code_id": code_id}},
    )
    claim.status = ExchangeStatus.SUCCEEDED
    claim.code_id = code_id
    return await _result(claim)


async def _refund(claim: Exchange, card: LoyaltyCard, config: LoyaltyConfig) -> None:
    """Gives the points back when the reward cannot be given, and frees the idempotency key."""
    refund = _new_entry(
        card,
        LedgerKind.ADJUST,
        claim.cost,
        f"refund:{claim.id}",
        "the reward's code could not be given",
        claim.reward_id,
        config,
        utc_now(),
    )
    await _write(refund)
    await Exchange.get_pymongo_collection().delete_one({"_id": claim.id, "status": "PENDING"})


async def _finish(entry: LedgerEntry, card: LoyaltyCard) -> bool:
    """Completes an entry whose writer died; False when it was a debit that no longer fits
    (it is removed: it never took effect)."""
    if entry.key_id in card.inflight:
        # Already on the balance: only the mark is missing.
        await _settle(entry)
        return True
    if await _apply(entry):
        return True
    await LedgerEntry.get_pymongo_collection().delete_one({"_id": entry.id, "applied": False})
    return False


@dataclass
class Repair:
    balance_before: int
    balance_after: int
    entries_finished: int


async def repair_card(
    project_id: str,
    campaign_id: str,
    customer_id: str,
    force: bool = False,
    now: datetime | None = None,
) -> Repair:
    """Finishes entries a dead process left half-written, then recounts the balance and the
    lots from the ledger. Entries younger than STALE_AGE are in flight and left alone unless
    `force` (the caller knows nothing else writes to this card)."""
    cards = LoyaltyCard.get_pymongo_collection()
    ledger = LedgerEntry.get_pymongo_collection()
    card = await LoyaltyCard.find_one(_owner(project_id, campaign_id, customer_id))
    if card is None:
        return Repair(0, 0, 0)
    before = card.balance
    moment = now or utc_now()
    cutoff = moment if force else moment - STALE_AGE
    finished = 0
    unapplied = await LedgerEntry.find(
        {"card_id": card.key, "applied": False, "created_at": {"$lte": cutoff}}
    ).to_list()
    for entry in unapplied:
        await _finish(entry, card)
        finished += 1
    # Entries marked applied while their id stayed in `inflight` (a crash after the mark).
    fresh = await LoyaltyCard.get(card.id)
    assert fresh is not None
    for entry_id in fresh.inflight:
        marked = await ledger.find_one({"_id": object_id(entry_id, "entry"), "applied": True})
        if marked is not None:
            await cards.update_one({"_id": card.id}, {"$pull": {"inflight": entry_id}})
    settled = await LoyaltyCard.get(card.id)
    assert settled is not None
    entries = (
        await LedgerEntry.find({"card_id": card.key, "applied": True})
        .sort("+created_at", "+_id")
        .to_list()
    )
    total = sum(entry.points for entry in entries)
    if force or not settled.inflight:
        recount: dict[str, Any] = {"_id": card.id}
        if not force:
            # Only if nothing moved the card since it was read: a write in between wins.
            recount.update({"balance": settled.balance, "inflight": {"$size": 0}})
        result = await cards.update_one(recount, {"$set": {"balance": total}})
        if result.matched_count:
            await _recount_lots(entries)
    await retier(card.key)
    after = await LoyaltyCard.get(card.id)
    return Repair(before, after.balance if after else total, finished)


async def _recount_lots(entries: list[LedgerEntry]) -> None:
    """Replays the ledger: each debit takes from the oldest lots; an expiry from its own lot."""
    lots = [entry for entry in entries if entry.points > 0]
    left = {entry.key_id: entry.points for entry in lots}
    for entry in entries:
        if entry.points >= 0:
            continue
        need = -entry.points
        own = entry.source if entry.kind == LedgerKind.EXPIRE else ""
        order = sorted(left, key=lambda lot_id: lot_id != own)
        for lot_id in order:
            take = min(left[lot_id], need)
            left[lot_id] -= take
            need -= take
            if need == 0:
                break
    collection = LedgerEntry.get_pymongo_collection()
    for lot in lots:
        if lot.remaining != left[lot.key_id]:
            await collection.update_one({"_id": lot.id}, {"$set": {"remaining": left[lot.key_id]}})


async def ledger_sum(card_id: str) -> int:
    rows = (
        await LedgerEntry.get_pymongo_collection()
        .find({"card_id": card_id, "applied": True}, {"points": 1})
        .to_list(None)
    )
    return sum(int(row["points"]) for row in rows)


async def list_ledger(card: LoyaltyCard, first: int, after: str | None) -> Page[LedgerEntry]:
    query: dict[str, Any] = {"card_id": card.key if card.id else "", "applied": True}
    if card.id is None:
        query["project_id"] = ""
    return await paginate(LedgerEntry, query, first, after)


async def ledger_pages(
    project_id: str, cards: list[LoyaltyCard], first: int, after: str | None
) -> dict[str, Page[LedgerEntry]]:
    """list_ledger of the project's cards in one query, by card id; a card not stored yet has
    an empty ledger."""
    stored = [card.key for card in cards if card.id is not None]
    pages = await paginate_each(
        LedgerEntry, {"project_id": project_id, "applied": True}, "card_id", stored, first, after
    )
    return {card.key: pages.get(card.key) or empty_page() for card in cards}


@dataclass
class Expiring:
    points: int
    at: datetime


async def expiring_soon(card: LoyaltyCard, now: datetime | None = None) -> list[Expiring]:
    """Points that expire within EXPIRING_SOON, soonest first, per expiry moment."""
    found = await expiring_soon_by_card(card.project_id, [card], now)
    return found.get(card.key, []) if card.id is not None else []


async def expiring_soon_by_card(
    project_id: str, cards: list[LoyaltyCard], now: datetime | None = None
) -> dict[str, list[Expiring]]:
    """expiring_soon of the project's cards in one query, by card id. Cards not stored yet
    (the empty one shown for a program without points) are left out: nothing expires there."""
    card_ids = list(dict.fromkeys(card.key for card in cards if card.id is not None))
    if not card_ids:
        return {}
    moment = as_utc(now) if now is not None else utc_now()
    rows = (
        await LedgerEntry.get_pymongo_collection()
        .find(
            {
                "project_id": project_id,
                "card_id": {"$in": card_ids},
                "expires": True,
                "remaining": {"$gt": 0},
                "expires_at": {"$lte": moment + EXPIRING_SOON},
            },
            {"card_id": 1, "remaining": 1, "expires_at": 1},
        )
        .to_list(None)
    )
    by_card: dict[str, dict[datetime, int]] = {key: {} for key in card_ids}
    for row in rows:
        by_moment = by_card[row["card_id"]]
        at = as_utc(row["expires_at"])
        by_moment[at] = by_moment.get(at, 0) + int(row["remaining"])
    return {
        key: [Expiring(points=p, at=at) for at, p in sorted(by_moment.items())]
        for key, by_moment in by_card.items()
    }
