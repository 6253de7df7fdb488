"""Read models of a card: its ledger pages, ledger sum and points expiring soon."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.common import as_utc, utc_now
from domain.loyalty.models import LedgerEntry, LoyaltyCard
from domain.pagination import Page, empty_page, paginate, paginate_each

EXPIRING_SOON = timedelta(days=30)


async def ledger_sum(*, card_id: str) -> int:
    rows = (
        await LedgerEntry.get_pymongo_collection()
        .find({"card_id": card_id, "applied": True}, {"points": 1})
        .to_list(None)
    )
    return sum(int(row["points"]) for row in rows)


async def list_ledger(*, card: LoyaltyCard, first: int, after: str | None) -> Page[LedgerEntry]:
    query: dict[str, Any] = {"card_id": card.key if card.id else "", "applied": True}
    if card.id is None:
        query["project_id"] = ""
    return await paginate(LedgerEntry, query, first, after)


async def ledger_pages(
    *, project_id: str, cards: list[LoyaltyCard], first: int, after: str | None
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


async def expiring_soon(*, card: LoyaltyCard, now: datetime | None = None) -> list[Expiring]:
    """Points that expire within EXPIRING_SOON, soonest first, per expiry moment."""
    found = await expiring_soon_by_card(project_id=card.project_id, cards=[card], now=now)
    return found.get(card.key, []) if card.id is not None else []


async def expiring_soon_by_card(
    *, project_id: str, cards: list[LoyaltyCard], now: datetime | None = None
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


async def members_per_tier(*, project_id: str, campaign_id: str) -> dict[str, int]:
    """How many cards of the program hold each tier ("" for none), in one aggregation."""
    cursor = await LoyaltyCard.get_pymongo_collection().aggregate(
        [
            {"$match": {"project_id": project_id, "campaign_id": campaign_id}},
            {"$group": {"_id": "$tier", "n": {"$sum": 1}}},
        ]
    )
    return {str(row["_id"] or ""): int(row["n"]) async for row in cursor}
