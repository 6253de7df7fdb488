"""The sweep that repairs loyalty cards whose ledger entries a dead process left in flight."""

from datetime import datetime

from domain.common import utc_now
from domain.loyalty import STALE_AGE, LedgerEntry, repair_card

# Cards repaired per sweep at most; the next sweep takes the rest.
REPAIR_BATCH = 100


async def repair_stale_cards(now: datetime | None = None, limit: int = REPAIR_BATCH) -> int:
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
        await repair_card(project_id, campaign_id, customer_id, now=moment)
    return len(owners)
