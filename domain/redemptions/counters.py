"""The counters a redemption takes and gives back, each a conditional atomic update."""

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from domain.campaigns import Campaign
from domain.codes import Code
from domain.redemptions.models import (
    COUNTER_FIELD,
    CustomerRedemptionCounter,
    DailyRedemptionCounter,
    Redemption,
)
from domain.redemptions.reasons import Reason, reason_error


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


def counters_of(
    *, redemption: Redemption, campaign: Campaign | None, now: datetime | None = None
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


async def give_back_all(counters: list[_Counter]) -> None:
    for counter in reversed(counters):
        await counter.give_back()


async def take_counters(*, redemption: Redemption, campaign: Campaign, now: datetime) -> None:
    """Takes every counter or none. A refusal gives back what was taken and raises its reason.

    Without transactions a counter taken by a request that is refused further on is held for a
    moment, so a rival request near the limit may be refused too: limits are never exceeded,
    at worst one is reached early for the duration of a round trip.
    """
    taken: list[_Counter] = []
    try:
        for counter in counters_of(redemption=redemption, campaign=campaign, now=now):
            if not await counter.take():
                await give_back_all(taken)
                taken = []
                raise reason_error([counter.reason])
            taken.append(counter)
    except BaseException:
        # A crash or cancellation mid-way: what cannot be given back here, reconciliation will.
        with contextlib.suppress(Exception):
            await give_back_all(taken)
        raise
