"""The ledger's write protocol: insert an entry once, move it onto its card once, mark it."""

# Every change is a ledger entry inserted first under a unique key (so it happens once), then moved
# onto the card with one conditional update that also records the entry id in `inflight` (so the
# update is never applied twice), then marked applied. A process that dies in between leaves
# evidence that `repair_card` reads to finish or drop the entry, and the invariant
# balance == sum(points of applied entries) holds again.

from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain import webhooks
from domain.common import as_utc, object_id, utc_now
from domain.loyalty.models import LedgerEntry, LedgerKind, LoyaltyCard
from domain.loyalty.rules import insufficient_points
from domain.wallet import wallet_content_changed


async def apply_entry(
    *, entry: LedgerEntry, window: timedelta | None = None
) -> dict[str, Any] | None:
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
    # Before the entry is settled: a process dying in between leaves an entry that
    # repair_card finishes, and moves the pass for.
    await wallet_content_changed(card["project_id"], card_id=entry.card_id)
    await settle_entry(entry=entry)
    return card


def _event_type(entry: LedgerEntry) -> str | None:
    """The webhook event an entry is: an adjustment counts by its sign; a reversal (an order's
    points taken back on refund) is reported by order.refunded / order.cancelled instead."""
    if entry.kind == LedgerKind.EXPIRE:
        return webhooks.POINTS_EXPIRED
    if entry.kind == LedgerKind.SPEND or (entry.kind == LedgerKind.ADJUST and entry.points < 0):
        return webhooks.POINTS_SPENT
    if entry.kind in (LedgerKind.EARN, LedgerKind.ADJUST) and entry.points > 0:
        return webhooks.POINTS_EARNED
    return None


async def settle_entry(*, entry: LedgerEntry) -> None:
    # Emitted before the entry is marked applied: repair_card finishes an entry a dead process
    # left through here again, under the same event id.
    event_type = _event_type(entry)
    if event_type is not None:
        await webhooks.emit(
            project_id=entry.project_id,
            event_type=event_type,
            object_key=f"loyalty_card:{entry.card_id}",
            data=webhooks.objects.ledger_entry(entry),
            dedupe_key=f"ledger:{entry.id}",
        )
    await LedgerEntry.get_pymongo_collection().update_one(
        {"_id": entry.id, "applied": False}, {"$set": {"applied": True}}
    )
    await LoyaltyCard.get_pymongo_collection().update_one(
        {"_id": object_id(entry.card_id, "card")}, {"$pull": {"inflight": entry.key_id}}
    )
    entry.applied = True


async def write_entry(
    *, entry: LedgerEntry, window: timedelta | None = None
) -> dict[str, Any] | None:
    """Inserts and applies the entry and returns the card after it; None when its key was
    written before (or is in flight). A debit that does not fit the balance is removed again
    and raises INSUFFICIENT_POINTS."""
    try:
        await entry.insert()
    except DuplicateKeyError:
        return None
    card = await apply_entry(entry=entry, window=window)
    if card is None:
        # Never applied, so never part of the ledger's sum: the key is free for a later try.
        await LedgerEntry.get_pymongo_collection().delete_one({"_id": entry.id, "applied": False})
        raise insufficient_points()
    return card


async def take_lots(*, card_id: str, points: int, first_lot: LedgerEntry | None = None) -> None:
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


async def finish_entry(*, entry: LedgerEntry, card: LoyaltyCard) -> bool:
    """Completes an entry whose writer died; False when it was a debit that no longer fits
    (it is removed: it never took effect)."""
    if entry.key_id in card.inflight:
        # Already on the balance: only the mark is missing.
        await settle_entry(entry=entry)
        return True
    if await apply_entry(entry=entry):
        return True
    await LedgerEntry.get_pymongo_collection().delete_one({"_id": entry.id, "applied": False})
    return False
