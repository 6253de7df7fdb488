"""Rewarding the referrer: the referee's qualifying order, a refund, and the reward given once."""

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from domain import events, loyalty, webhooks
from domain.campaigns import Campaign, ReferralConfig
from domain.codes import publish_code
from domain.common import utc_now
from domain.errors import DomainError
from domain.referrals.models import Referral, ReferralStatus


def _qualifies(config: ReferralConfig, amount: Any) -> bool:
    minimum = config.min_order
    if minimum is None:
        return True
    return bool(amount.currency == minimum.currency and amount.amount >= minimum.amount)


async def on_order_recorded(*, order: Any) -> None:
    """The referee's first qualifying order moves the referral PENDING -> QUALIFIED, once: the
    conditional update on the status lets exactly one of several concurrent orders through."""
    if not order.customer_id:
        return
    pending = await Referral.find(
        {
            "project_id": order.project_id,
            "referee_id": order.customer_id,
            "status": ReferralStatus.PENDING.value,
            "confirmed": True,
        }
    ).to_list()
    for referral in pending:
        campaign = await Campaign.find_one(
            {"_id": ObjectId(referral.campaign_id), "project_id": order.project_id}
        )
        if campaign is None or campaign.referral is None:
            continue
        if not _qualifies(campaign.referral, order.amount):
            continue
        now = utc_now()
        release_at = now + timedelta(days=campaign.referral.hold_days)
        # Of concurrent orders only the one whose write moves the referral may announce it:
        # that write records that the event is owed (domain.webhooks.pending).
        listening = await webhooks.listens(
            project_id=order.project_id, event_type=webhooks.REFERRAL_QUALIFIED
        )
        owed = {webhooks.PENDING_FIELD: True} if listening else {}
        moved = await Referral.get_pymongo_collection().update_one(
            {"_id": referral.id, "status": ReferralStatus.PENDING.value},
            {
                "$set": {
                    "status": ReferralStatus.QUALIFIED.value,
                    "qualifying_order_id": order.order_id,
                    "qualified_at": now,
                    "release_at": release_at,
                    **owed,
                }
            },
        )
        if moved.modified_count == 1:
            referral.status, referral.qualifying_order_id = (
                ReferralStatus.QUALIFIED,
                order.order_id,
            )
            referral.qualified_at, referral.release_at = now, release_at
            await _emit(referral, webhooks.REFERRAL_QUALIFIED)
            if listening:
                await webhooks.clear_pending(Referral.get_pymongo_collection(), [referral.id])
            await events.emit(
                order.project_id,
                referral.referrer_id,
                events.REFERRAL_QUALIFIED,
                {
                    "referralId": referral.key,
                    "campaignId": referral.campaign_id,
                    "refereeId": referral.referee_id,
                    "orderId": order.order_id,
                },
                at=now,
                dedupe_key=f"referral.qualified:{referral.key}",
            )
        if moved.modified_count == 1 and campaign.referral.hold_days == 0:
            await grant_reward(referral_id=referral.key, campaign=campaign, now=now)


async def on_order_reversed(*, order: Any) -> None:
    """A refund while the reward is held cancels it; a reward already given stays given."""
    if not order.customer_id:
        return
    await Referral.get_pymongo_collection().update_many(
        {
            "project_id": order.project_id,
            "referee_id": order.customer_id,
            "qualifying_order_id": order.order_id,
            "status": ReferralStatus.QUALIFIED.value,
        },
        {"$set": {"status": ReferralStatus.CANCELLED.value, "cancelled_at": utc_now()}},
    )


async def grant_reward(*, referral_id: str, campaign: Campaign, now: datetime) -> bool:
    """QUALIFIED -> REWARDED once, by a conditional update, then the reward itself."""
    moved = await Referral.get_pymongo_collection().update_one(
        {"_id": ObjectId(referral_id), "status": ReferralStatus.QUALIFIED.value},
        {
            "$set": {
                "status": ReferralStatus.REWARDED.value,
                "rewarded_at": now,
                "reward_pending": True,
            }
        },
    )
    if moved.modified_count == 0:
        return False
    referral = await Referral.get(ObjectId(referral_id))
    if referral is not None:
        await give_reward(referral=referral, campaign=campaign)
    return True


async def give_reward(*, referral: Referral, campaign: Campaign) -> None:
    """Idempotent: the code is published once (remembered on the referral) and points are
    earned under a ledger key unique to the referral."""
    config = campaign.referral
    reward = config.referrer_reward if config else None
    error = ""
    try:
        if reward is not None and reward.discount_campaign_id and not referral.reward_code_id:
            code = await publish_code(
                referral.project_id, reward.discount_campaign_id, referral.referrer_id, enroll=False
            )
            await Referral.get_pymongo_collection().update_one(
                {"_id": referral.id}, {"$set": {"reward_code_id": str(code.id)}}
            )
        elif reward is not None and reward.loyalty_campaign_id and reward.points > 0:
            await _earn_points(referral, reward.loyalty_campaign_id, reward.points)
    except DomainError as failure:
        # Retrying cannot help (the reward's campaign ended, say): kept for the admin to see.
        error = failure.problems[0].message
    # Before reward_pending is cleared: the sweep that finishes a dead process's reward emits
    # again, under the same event id.
    await _emit(referral, webhooks.REFERRAL_REWARDED)
    await Referral.get_pymongo_collection().update_one(
        {"_id": referral.id}, {"$set": {"reward_pending": False, "reward_error": error}}
    )


async def emit_pending_qualified(
    *, now: datetime | None = None, scope: dict[str, Any] | None = None
) -> int:
    """Emits the referral.qualified events of referrals whose writer died before storing them."""
    return await webhooks.emit_pending(
        collection=Referral.get_pymongo_collection(),
        changed_at="qualified_at",
        emit_row=lambda row: _emit(Referral.model_validate(row), webhooks.REFERRAL_QUALIFIED),
        now=now,
        scope=scope,
    )


async def _emit(referral: Referral, event_type: str) -> None:
    await webhooks.emit(
        project_id=referral.project_id,
        event_type=event_type,
        object_key=f"referral:{referral.id}",
        data=webhooks.objects.referral(referral),
        dedupe_key=f"{event_type}:{referral.id}",
    )


async def _earn_points(referral: Referral, loyalty_campaign_id: str, points: int) -> None:
    await loyalty.grant_points(
        project_id=referral.project_id,
        campaign_id=loyalty_campaign_id,
        customer_id=referral.referrer_id,
        points=points,
        key=f"referral:{referral.key}",
        reason=f"referral of customer {referral.referee_id}",
    )
