"""Reconciling a campaign's counters with the redemptions that hold them."""

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from domain.campaigns import Campaign, get_campaign
from domain.codes import Code
from domain.common import utc_now
from domain.redemptions.models import (
    COUNTER_FIELD,
    CustomerRedemptionCounter,
    DailyRedemptionCounter,
    Redemption,
    RedemptionStatus,
)
from domain.wallet import wallet_content_changed

# A claim still PENDING after this long belongs to a process that died mid-way.
STALE_CLAIM_AGE = timedelta(minutes=1)


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


async def reconcile_campaign(*, project_id: str, campaign_id: str) -> Reconciliation:
    """Recomputes every counter of a campaign from its redemptions and says what it corrected.

    Counters are set by compare-and-set against the value read before counting, so a counter
    that moves meanwhile is recounted rather than overwritten. Claims older than a minute
    belong to processes that died and are removed first.
    """
    campaign = await get_campaign(project_id, campaign_id)
    collection = Redemption.get_pymongo_collection()
    cutoff = utc_now() - STALE_CLAIM_AGE
    scope = {"project_id": project_id, "campaign_id": campaign.key}
    stale_claims = {
        **scope,
        "status": RedemptionStatus.PENDING.value,
        "created_at": {"$lt": cutoff},
    }
    stale_rollbacks = {
        **scope,
        "status": RedemptionStatus.ROLLED_BACK.value,
        "holds_counters": True,
        "rolled_back_at": {"$lt": cutoff},
    }
    # What a dead process left half done may have left a wallet pass behind its code's state.
    left = [
        row
        for query in (stale_claims, stale_rollbacks)
        for row in await collection.find(query, {"code": 1, "_id": 0}).to_list()
    ]
    removed = await collection.delete_many(stale_claims)
    completed = await collection.update_many(stale_rollbacks, {"$set": {"holds_counters": False}})
    report = Reconciliation(
        stale_claims_removed=removed.deleted_count, rollbacks_completed=completed.modified_count
    )
    for _ in range(5):
        if not await _reconcile_pass(campaign, report):
            break
    corrected = {c.key for c in report.corrections if c.counter == "code"}
    for code in sorted(corrected | {str(row["code"]) for row in left}):
        await wallet_content_changed(project_id, code=code)
    return report


async def count_limited_counters(*, campaign: Campaign) -> None:
    """Per-customer and per-day counters are kept only while the campaign has such a limit
    (redemptions of an unlimited campaign take none): once a limit is set, its counters are
    counted from the redemptions that hold counters, so the limit counts every one of them."""
    limits = campaign.limits
    if limits.per_customer is not None or limits.per_day is not None:
        await reconcile_campaign(project_id=campaign.project_id, campaign_id=campaign.key)


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

    limited = [
        (name, collection, rows)
        for name, collection, rows, limit in (
            ("customer_id", customers, customer_rows, campaign.limits.per_customer),
            ("day", days, day_rows, campaign.limits.per_day),
        )
        # Without the limit its counters are not kept, so there is nothing to correct.
        if limit is not None
    ]
    for name, collection, rows in limited:
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
