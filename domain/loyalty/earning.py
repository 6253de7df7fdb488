"""Earning, reversing, granting and adjusting points: the ledger's writers."""

import functools
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from domain import events
from domain.campaigns import Campaign, CampaignStatus
from domain.common import Money, as_utc, object_id, utc_now
from domain.customers import get_live_customer
from domain.errors import CommonError, DomainError, Problem
from domain.loyalty.cards import active_loyalty_campaigns, ensure_card, find_card, loyalty_campaign
from domain.loyalty.ledger import take_lots, write_entry
from domain.loyalty.models import LedgerEntry, LedgerKind, LoyaltyCard
from domain.loyalty.rules import (
    MAX_POINTS,
    MAX_REASON,
    checked_key,
    new_entry,
    order_points,
    tier_window,
)
from domain.loyalty.tiers import follow_tier
from domain.loyalty_config import LoyaltyConfig
from domain.loyalty_errors import LoyaltyError


class PointsFor(Protocol):
    """The points an earning gives at the card's tier multiplier."""

    def __call__(self, *, multiplier: Decimal) -> int: ...


async def _earn(
    campaign: Campaign,
    config: LoyaltyConfig,
    customer_id: str,
    points_for: PointsFor,
    key: str,
    reason: str,
    source: str,
    now: datetime,
    spent: int = 0,
) -> None:
    card = await ensure_card(
        project_id=campaign.project_id, campaign_id=campaign.key, customer_id=customer_id
    )
    points = points_for(multiplier=config.multiplier(card.tier))
    if points <= 0 and spent <= 0:
        return
    entry = new_entry(
        card=card,
        kind=LedgerKind.EARN,
        points=max(points, 0),
        key=key,
        reason=reason,
        source=source,
        config=config,
        now=now,
    )
    entry.spent = spent
    after = await write_entry(entry=entry, window=tier_window(config=config))
    if after is not None:
        await follow_tier(card=after, config=config, now=now)
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


async def earn_for_order(
    *,
    project_id: str,
    customer_id: str,
    order_id: str,
    amount: Money,
    now: datetime | None = None,
) -> None:
    """Earns points in every active loyalty program of the project, once per order, and counts
    the amount toward tiers by spending."""
    now = as_utc(now) if now is not None else utc_now()
    for campaign in await active_loyalty_campaigns(project_id=project_id, now=now):
        config = campaign.loyalty or LoyaltyConfig()
        await _earn(
            campaign,
            config,
            customer_id,
            functools.partial(order_points, config=config, amount=amount),
            f"order:{order_id}",
            f"order {order_id}",
            order_id,
            now,
            spent=config.counted_spent(amount.currency, amount.amount),
        )


async def reverse_for_order(*, project_id: str, customer_id: str, order_id: str) -> None:
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
            after = await write_entry(entry=entry, window=tier_window(config=config))
        except DomainError:
            # Points were spent meanwhile: take back what is left now.
            continue
        if after is not None:
            await take_lots(card_id=earn.card_id, points=points, first_lot=earn)
            await follow_tier(card=after, config=config, now=now)
        return
    raise DomainError(CommonError.BUSY, "the card keeps changing; retry", "orderId")


async def grant_points(
    *, project_id: str, campaign_id: str, customer_id: str, points: int, key: str, reason: str
) -> None:
    """Earns exactly `points` (no tier multiplier: the points were promised), once per `key`."""
    campaign, config = await loyalty_campaign(project_id=project_id, campaign_id=campaign_id)
    await _earn(
        campaign, config, customer_id, lambda multiplier: points, key, reason, key, utc_now()
    )


async def record_event(
    *, project_id: str, customer_id: str, campaign_id: str, name: str, idempotency_key: str
) -> LoyaltyCard:
    """Earns the program's points for a named event, once per idempotency key."""
    key = checked_key(raw=idempotency_key)
    campaign, config = await loyalty_campaign(project_id=project_id, campaign_id=campaign_id)
    customer_id = (await get_live_customer(project_id, customer_id)).key
    event = name.strip()
    if event not in config.events:
        raise DomainError(
            LoyaltyError.UNKNOWN_EVENT, "the program gives no points for this event", "name"
        )
    if campaign.status != CampaignStatus.ACTIVE:
        raise DomainError(
            LoyaltyError.CAMPAIGN_NOT_ACTIVE, "the program is not active", "campaignId"
        )
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
    return await find_card(project_id=project_id, campaign_id=campaign.key, customer_id=customer_id)


async def adjust_points(
    *, project_id: str, customer_id: str, campaign_id: str, points: int, reason: str, actor: str
) -> LoyaltyCard:
    """An admin's correction, with its reason; a card never goes below zero."""
    problems: list[Problem] = []
    if points == 0 or abs(points) > MAX_POINTS:
        problems.append(Problem(CommonError.INVALID_POINTS, "points must be non-zero", "points"))
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        problems.append(
            Problem(CommonError.REQUIRED, f"a reason of 1 to {MAX_REASON} characters", "reason")
        )
    if problems:
        raise DomainError.of(problems)
    campaign, config = await loyalty_campaign(project_id=project_id, campaign_id=campaign_id)
    customer_id = (await get_live_customer(project_id, customer_id)).key
    card = await ensure_card(
        project_id=project_id, campaign_id=campaign.key, customer_id=customer_id
    )
    now = utc_now()
    entry = new_entry(
        card=card,
        kind=LedgerKind.ADJUST,
        points=points,
        key=f"adjust:{uuid.uuid4().hex}",
        reason=text,
        source=actor,
        config=config,
        now=now,
    )
    await write_entry(entry=entry)
    if points < 0:
        await take_lots(card_id=card.key, points=-points)
    return await find_card(project_id=project_id, campaign_id=campaign.key, customer_id=customer_id)
