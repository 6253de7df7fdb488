"""All-time money figures of a page of campaigns: revenue of their paid orders and the
discounts their redemptions gave, one amount per currency (never summed across currencies)."""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from domain.common import Money
from domain.orders import Order, OrderStatus
from domain.redemptions import Redemption, RedemptionStatus


@dataclass
class CampaignTotals:
    revenue: list[Money] = field(default_factory=list)
    discount_cost: list[Money] = field(default_factory=list)


async def _sums(collection: Any, pipeline: list[dict[str, Any]]) -> dict[str, list[Money]]:
    """Rows keyed "campaign|currency" (built in a $project: the embedded server cannot group on
    an expression) folded into a list of Money per campaign, currencies in order."""
    cursor = await collection.aggregate(pipeline)
    amounts: dict[str, dict[str, int]] = defaultdict(dict)
    async for row in cursor:
        campaign_id, _, currency = str(row["_id"]).partition("|")
        if currency:
            amounts[campaign_id][currency] = int(row["a"] or 0)
    return {
        key: [Money(amount=by[c], currency=c) for c in sorted(by)] for key, by in amounts.items()
    }


async def campaign_totals(*, project_id: str, campaign_ids: list[str]) -> dict[str, CampaignTotals]:
    """Two aggregations for the whole page; campaigns without orders or redemptions get empty
    lists."""
    wanted = list(dict.fromkeys(campaign_ids))
    totals = {key: CampaignTotals() for key in wanted}
    if not wanted:
        return totals
    revenue = await _sums(
        Order.get_pymongo_collection(),
        [
            {
                "$match": {
                    "project_id": project_id,
                    "status": OrderStatus.PAID.value,
                    "campaign_ids": {"$in": wanted},
                }
            },
            {"$unwind": "$campaign_ids"},
            {"$match": {"campaign_ids": {"$in": wanted}}},
            {
                "$project": {
                    "_id": 0,
                    "k": {"$concat": ["$campaign_ids", "|", "$amount.currency"]},
                    "a": "$amount.amount",
                }
            },
            {"$group": {"_id": "$k", "a": {"$sum": "$a"}}},
        ],
    )
    discounts = await _sums(
        Redemption.get_pymongo_collection(),
        [
            {
                "$match": {
                    "project_id": project_id,
                    "status": RedemptionStatus.SUCCEEDED.value,
                    "campaign_id": {"$in": wanted},
                }
            },
            {
                "$project": {
                    "_id": 0,
                    "k": {
                        "$concat": ["$campaign_id", "|", {"$ifNull": ["$discount.currency", ""]}]
                    },
                    "a": "$discount.amount",
                }
            },
            {"$group": {"_id": "$k", "a": {"$sum": "$a"}}},
        ],
    )
    for key, found in totals.items():
        found.revenue = revenue.get(key, [])
        found.discount_cost = discounts.get(key, [])
    return totals
