"""The counters a redemption takes and gives back, each a conditional atomic update."""

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId

from domain.batches import CounterTakes, WriteBatcher
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
class Counter:
    """One counter a redemption takes: conditional $inc with the limit in the filter."""

    collection: Any
    selector: dict[str, Any]
    limit: int | None
    reason: Reason
    also_set: dict[str, Any] = field(default_factory=dict)
    # A counter made on first use (per customer, per day) is upserted, in bulks shared with
    # concurrent redemptions; None for the counters of codes and campaigns, which exist.
    first_use: WriteBatcher | None = None
    # Takes of a code's or a campaign's counter share their round trips too.
    takes: CounterTakes | None = None

    def _take_request(self) -> tuple[dict[str, Any], dict[str, Any]]:
        query = dict(self.selector)
        if self.limit is not None:
            query[COUNTER_FIELD] = {"$lt": self.limit}
        update: dict[str, Any] = {"$inc": {COUNTER_FIELD: 1}}
        if self.also_set:
            update["$set"] = self.also_set
        return query, update

    async def take(self) -> bool:
        """One conditional $inc. A counter made on first use is upserted: when it exists at its
        limit the upsert collides with it on the unique index, and only then (or when a racing
        first use created it meanwhile) is the $inc tried once more without upserting."""
        query, update = self._take_request()
        # An upsert that neither matches nor inserts collides: it is granted unless so.
        if (
            self.first_use is not None
            and not (await self.first_use.update_one(query, update, upsert=True)).duplicate
        ):
            return True
        result = await self.collection.update_one(query, update)
        return bool(result.modified_count)

    async def take_returning(self, projection: dict[str, Any] | None = None) -> Any:
        """Takes a counter that exists (a code's, a campaign's) and returns its document as it
        is after the $inc, or None when at its limit or gone."""
        assert self.takes is not None, "only a code's or a campaign's counter returns itself"
        return await self.takes.take_returning(
            self.selector, self.limit, also_set=self.also_set, projection=projection
        )

    async def give_back(self) -> None:
        await self.collection.update_one(
            {**self.selector, COUNTER_FIELD: {"$gt": 0}}, {"$inc": {COUNTER_FIELD: -1}}
        )


_code_takes = CounterTakes(Code.get_pymongo_collection, COUNTER_FIELD)
_campaign_takes = CounterTakes(Campaign.get_pymongo_collection, COUNTER_FIELD)
_customer_counter_upserts = WriteBatcher(CustomerRedemptionCounter.get_pymongo_collection)
_daily_counter_upserts = WriteBatcher(DailyRedemptionCounter.get_pymongo_collection)


def counters_of(
    *, redemption: Redemption, campaign: Campaign | None, now: datetime | None = None
) -> list[Counter]:
    """The counters a redemption takes, in the order it takes them: the code's, the customer's
    and the day's when the campaign limits them, and the campaign's. Without the campaign
    (giving back) every counter that may exist; giving back to one that does not changes
    nothing. A per-customer or per-day limit added to a campaign later is counted from its
    redemptions by reconciliation (`limits_added`)."""
    limits = campaign.limits if campaign is not None else None
    project_id, campaign_id = redemption.project_id, redemption.campaign_id
    counters = [
        Counter(
            Code.get_pymongo_collection(),
            {"_id": ObjectId(redemption.code_id), "project_id": project_id},
            limits.per_code if limits else None,
            Reason.CODE_LIMIT_REACHED,
            also_set={"last_redeemed_at": now} if now is not None else {},
            takes=_code_takes,
        )
    ]
    if redemption.customer_id and (limits is None or limits.per_customer is not None):
        counters.append(
            Counter(
                CustomerRedemptionCounter.get_pymongo_collection(),
                {
                    "project_id": project_id,
                    "campaign_id": campaign_id,
                    "customer_id": redemption.customer_id,
                },
                limits.per_customer if limits else None,
                Reason.CUSTOMER_LIMIT_REACHED,
                first_use=_customer_counter_upserts,
            )
        )
    if limits is None or limits.per_day is not None:
        counters.append(
            Counter(
                DailyRedemptionCounter.get_pymongo_collection(),
                {"project_id": project_id, "campaign_id": campaign_id, "day": redemption.day},
                limits.per_day if limits else None,
                Reason.DAILY_LIMIT_REACHED,
                first_use=_daily_counter_upserts,
            )
        )
    counters += [
        Counter(
            Campaign.get_pymongo_collection(),
            {"_id": ObjectId(campaign_id), "project_id": project_id},
            limits.total if limits else None,
            Reason.CAMPAIGN_LIMIT_REACHED,
            takes=_campaign_takes,
        ),
    ]
    return counters


async def give_back_all(counters: list[Counter]) -> None:
    for counter in reversed(counters):
        await counter.give_back()


async def take_counters(*, redemption: Redemption, campaign: Campaign, now: datetime) -> None:
    """Takes every counter or none. A refusal gives back what was taken and raises its reason.

    Without transactions a counter taken by a request that is refused further on is held for a
    moment, so a rival request near the limit may be refused too: limits are never exceeded,
    at worst one is reached early for the duration of a round trip.
    """
    taken: list[Counter] = []
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
