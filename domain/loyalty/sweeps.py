"""Loyalty sweeps: expiring points, and repairing cards a dead process left half-written."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.common import as_utc, object_id, utc_now
from domain.errors import DomainError
from domain.loyalty.ledger import finish_entry, write_entry
from domain.loyalty.models import LedgerEntry, LedgerKind, LoyaltyCard
from domain.loyalty.rules import STALE_AGE, card_owner
from domain.loyalty.tiers import retier
from domain.wallet import wallet_content_changed

# Cards repaired per sweep at most; the next sweep takes the rest.
REPAIR_BATCH = 100


@dataclass
class Repair:
    balance_before: int
    balance_after: int
    entries_finished: int


async def repair_card(
    *,
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
    card = await LoyaltyCard.find_one(
        card_owner(project_id=project_id, campaign_id=campaign_id, customer_id=customer_id)
    )
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
        await finish_entry(entry=entry, card=card)
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
    await retier(card_id=card.key)
    after = await LoyaltyCard.get(card.id)
    balance = after.balance if after else total
    if finished or balance != before:
        # What a dead process left half done may have left the card's pass behind.
        await wallet_content_changed(project_id, card_id=card.key)
    return Repair(before, balance, finished)


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


async def expire_points(*, now: datetime | None = None, batch: int = 1000) -> int:
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
        await retier(card_id=card_id, now=moment)
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
        done = await write_entry(entry=entry)
    except DomainError:
        done = None
    if done is None:
        # A spend is between its balance and its lots: leave the points for the next run.
        await collection.update_one({"_id": lot.id}, {"$inc": {"remaining": left}})
        return False
    return True


async def repair_stale_cards(*, now: datetime | None = None, limit: int = REPAIR_BATCH) -> int:
    """Runs repair_card on every card with an entry left unapplied for longer than STALE_AGE
    (inserted, maybe moved onto the balance, never marked); returns how many cards."""
    moment = now or utc_now()
    cutoff = moment - STALE_AGE
    # Indexed on (applied, created_at): only the stuck entries are read, never all cards.
    stuck = LedgerEntry.get_pymongo_collection().find(
        {"applied": False, "created_at": {"$lte": cutoff}},
        {"project_id": 1, "campaign_id": 1, "customer_id": 1},
    )
    owners: set[tuple[str, str, str]] = set()
    async for row in stuck.limit(limit * 10):
        owners.add((row["project_id"], row["campaign_id"], row["customer_id"]))
        if len(owners) >= limit:
            break
    for project_id, campaign_id, customer_id in sorted(owners):
        await repair_card(
            project_id=project_id, campaign_id=campaign_id, customer_id=customer_id, now=moment
        )
    return len(owners)
