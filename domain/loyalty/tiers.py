"""Loyalty tiers: following the running window sums and recounting them from the ledger."""

import asyncio
from datetime import datetime
from typing import Any

from domain.campaigns import Campaign
from domain.common import as_utc, object_id, utc_now
from domain.loyalty.models import (
    NEVER,
    LedgerEntry,
    LoyaltyCard,
)
from domain.loyalty.rules import (
    tier_window,
)
from domain.loyalty_config import LoyaltyConfig, TierBasis
from domain.wallet import wallet_content_changed


async def follow_tier(*, card: dict[str, Any], config: LoyaltyConfig, now: datetime) -> None:
    """Sets the tier from the card's running window sums; recounts them from the ledger first
    when an entry they count has left the window."""
    if as_utc(card["tier_review_at"]) <= now:
        await retier(card_id=str(card["_id"]), now=now)
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


async def retier(*, card_id: str, now: datetime | None = None) -> None:
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
        since = moment - tier_window(config=config)
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
            min(as_utc(row["window_at"]) for row in counted) + tier_window(config=config)
            if counted
            else NEVER
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
