"""The rewards catalogue and exchanging points for a reward, once per idempotency key."""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from domain import codes
from domain.campaigns import Campaign, CampaignStatus, get_campaign
from domain.common import as_utc, object_id, utc_now
from domain.customers import get_live_customer
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.loyalty.cards import (
    ensure_card,
    find_card,
    loyalty_campaign,
)
from domain.loyalty.ledger import finish_entry, take_lots, write_entry
from domain.loyalty.models import (
    Exchange,
    ExchangeStatus,
    LedgerEntry,
    LedgerKind,
    LoyaltyCard,
    Reward,
)
from domain.loyalty.rules import (
    MAX_NAME,
    MAX_POINTS,
    STALE_AGE,
    checked_key,
    insufficient_points,
    new_entry,
)
from domain.loyalty_config import LoyaltyConfig
from domain.loyalty_errors import LoyaltyError

# How long a retry waits for the first exchange with the same idempotency key to finish.
FIRST_ATTEMPT_WAIT = timedelta(seconds=30)


@dataclass
class RewardInput:
    campaign_id: str
    name: str
    cost: int
    discount_campaign_id: str | None = None


async def _checked_reward(*, project_id: str, data: RewardInput) -> Reward:
    """The reward the input describes, every problem found raised at once (nothing stored)."""
    problems: list[Problem] = []
    name = (data.name or "").strip()
    if not name or len(name) > MAX_NAME:
        problems.append(
            Problem(CommonError.REQUIRED, f"a name of 1 to {MAX_NAME} characters", "name")
        )
    if isinstance(data.cost, bool) or not 0 < data.cost <= MAX_POINTS:
        problems.append(
            Problem(CommonError.INVALID_POINTS, "cost must be more than 0 points", "cost")
        )
    campaign_id = ""
    try:
        campaign, _ = await loyalty_campaign(project_id=project_id, campaign_id=data.campaign_id)
        campaign_id = campaign.key
    except DomainError as error:
        problems.extend(error.problems)
    discount_campaign_id = (data.discount_campaign_id or "").strip()
    if discount_campaign_id:
        try:
            discount = await get_campaign(project_id, discount_campaign_id, "discountCampaignId")
            codes.check_gives_codes(discount)
            discount_campaign_id = discount.key
        except DomainError as error:
            problems.extend(
                Problem(p.code, p.message, "discountCampaignId") for p in error.problems
            )
    if problems:
        raise DomainError.of(problems)
    return Reward(
        project_id=project_id,
        campaign_id=campaign_id,
        name=name,
        cost=data.cost,
        discount_campaign_id=discount_campaign_id,
    )


async def create_reward(*, project_id: str, data: RewardInput) -> Reward:
    reward = await _checked_reward(project_id=project_id, data=data)
    await reward.insert()
    return reward


async def update_reward(*, project_id: str, reward_id: str, data: RewardInput) -> Reward:
    """Changes a reward's name, cost and code with createReward's checks; it stays in its
    program. Exchanges already made keep the cost they paid (each exchange records it)."""
    current = await get_reward(project_id=project_id, reward_id=reward_id)
    if data.campaign_id != current.campaign_id:
        raise DomainError(
            CommonError.INVALID, "a reward cannot move to another program", "campaignId"
        )
    checked = await _checked_reward(project_id=project_id, data=data)
    await Reward.get_pymongo_collection().update_one(
        {"_id": current.id, "project_id": project_id},
        {
            "$set": {
                "name": checked.name,
                "cost": checked.cost,
                "discount_campaign_id": checked.discount_campaign_id,
            }
        },
    )
    return await get_reward(project_id=project_id, reward_id=reward_id)


async def get_reward(*, project_id: str, reward_id: str) -> Reward:
    reward = await Reward.find_one(
        {"_id": object_id(reward_id, "reward", "rewardId"), "project_id": project_id}
    )
    if reward is None:
        raise NotFound("reward", "rewardId")
    return reward


async def list_rewards(*, project_id: str, campaign_id: str) -> list[Reward]:
    return (
        await Reward.find({"project_id": project_id, "campaign_id": campaign_id})
        .sort("cost")
        .to_list()
    )


@dataclass
class ExchangeResult:
    exchange: Exchange
    code: codes.Code | None
    card: LoyaltyCard


async def _result(exchange: Exchange) -> ExchangeResult:
    code = None
    if exchange.code_id:
        code = await codes.Code.get(object_id(exchange.code_id, "code"))
    card = await find_card(
        project_id=exchange.project_id,
        campaign_id=exchange.campaign_id,
        customer_id=exchange.customer_id,
    )
    return ExchangeResult(exchange=exchange, code=code, card=card)


async def _reward_code(reward: Reward, customer_id: str) -> codes.Code:
    """A fresh code for each exchange, unlike publishCode which gives a customer the same one."""
    campaign = await get_campaign(reward.project_id, reward.discount_campaign_id, "rewardId")
    return await codes.issue_fresh_code(campaign, customer_id)


async def exchange_points(
    *, project_id: str, customer_id: str, reward_id: str, idempotency_key: str
) -> ExchangeResult:
    """Debits the reward's cost once per idempotency key and gives the reward; a repeated key
    returns the first exchange. The balance never goes below zero, however many race."""
    key = checked_key(raw=idempotency_key)
    reward = await get_reward(project_id=project_id, reward_id=reward_id)
    campaign, _ = await loyalty_campaign(project_id=project_id, campaign_id=reward.campaign_id)
    customer_id = (await get_live_customer(project_id, customer_id)).key
    if campaign.status != CampaignStatus.ACTIVE:
        raise DomainError(LoyaltyError.CAMPAIGN_NOT_ACTIVE, "the program is not active", "rewardId")
    if reward.discount_campaign_id:
        # Refused before any point moves when the reward's codes can no longer be given.
        codes.check_gives_codes(
            await get_campaign(project_id, reward.discount_campaign_id, "rewardId")
        )
    for _ in range(5):
        claim = Exchange(
            project_id=project_id,
            campaign_id=campaign.key,
            customer_id=customer_id,
            reward_id=reward.key,
            idempotency_key=key,
            cost=reward.cost,
        )
        try:
            await claim.insert()
        except DuplicateKeyError:
            earlier = await _earlier_exchange(project_id, key, customer_id, reward.key)
            if earlier is None:
                continue
            if earlier.status == ExchangeStatus.SUCCEEDED:
                return await _result(earlier)
            claim = earlier
        return await _complete(claim, reward)
    raise DomainError(LoyaltyError.EXCHANGE_IN_PROGRESS, "retry later", "idempotencyKey")


async def _earlier_exchange(
    project_id: str, key: str, customer_id: str, reward_id: str
) -> Exchange | None:
    """The settled exchange made with this key, waiting while it is in flight; a claim left by
    a process that died is taken over (returned PENDING). None: it was refused, try again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_ATTEMPT_WAIT.total_seconds()
    delay = 0.01
    collection = Exchange.get_pymongo_collection()
    while True:
        earlier = await Exchange.find_one({"project_id": project_id, "idempotency_key": key})
        if earlier is None:
            return None
        if earlier.customer_id != customer_id or earlier.reward_id != reward_id:
            raise DomainError(
                CommonError.IDEMPOTENCY_KEY_REUSED,
                "this idempotency key was used for another exchange",
                "idempotencyKey",
            )
        if earlier.status == ExchangeStatus.SUCCEEDED:
            return earlier
        if as_utc(earlier.claimed_at) < utc_now() - STALE_AGE:
            taken = await collection.update_one(
                {"_id": earlier.id, "status": "PENDING", "claimed_at": earlier.claimed_at},
                {"$set": {"claimed_at": utc_now()}},
            )
            if taken.modified_count:
                return earlier
            continue
        if loop.time() > deadline:
            raise DomainError(
                LoyaltyError.EXCHANGE_IN_PROGRESS,
                "an exchange with this idempotency key is still in progress; retry later",
                "idempotencyKey",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def _complete(claim: Exchange, reward: Reward) -> ExchangeResult:
    """Debits, takes the points from the oldest lots, gives the code, marks the claim done.
    Each step is safe to run again after a crash: the debit's entry key makes it once."""
    exchanges = Exchange.get_pymongo_collection()
    card = await ensure_card(
        project_id=claim.project_id, campaign_id=claim.campaign_id, customer_id=claim.customer_id
    )
    campaign = await Campaign.get(object_id(claim.campaign_id, "campaign"))
    config = (campaign.loyalty if campaign else None) or LoyaltyConfig()
    spend_key = f"spend:{claim.id}"
    spend = await LedgerEntry.find_one({"card_id": card.key, "key": spend_key})
    if spend is None:
        spend = new_entry(
            card=card,
            kind=LedgerKind.SPEND,
            points=-claim.cost,
            key=spend_key,
            reason=f"exchanged for {reward.name}",
            source=reward.key,
            config=config,
            now=utc_now(),
        )
        try:
            await write_entry(entry=spend)
        except DomainError:
            # Refused: the key is free again so a retry is judged afresh.
            await exchanges.delete_one({"_id": claim.id, "status": "PENDING"})
            raise
        await take_lots(card_id=card.key, points=claim.cost)
    elif not spend.applied and not await finish_entry(entry=spend, card=card):
        # The dead attempt's debit never fitted: refused as it would have been then.
        await exchanges.delete_one({"_id": claim.id, "status": "PENDING"})
        raise insufficient_points()
    code_id = claim.code_id
    if reward.discount_campaign_id and not code_id:
        try:
            code = await _reward_code(reward, claim.customer_id)
        except DomainError:
            await _refund(claim, card, config)
            raise
        code_id = str(code.id)
    await exchanges.update_one(
        {"_id": claim.id},
        {"$set": {"status": ExchangeStatus.SUCCEEDED.value, "code_id": code_id}},
    )
    claim.status = ExchangeStatus.SUCCEEDED
    claim.code_id = code_id
    return await _result(claim)


async def _refund(claim: Exchange, card: LoyaltyCard, config: LoyaltyConfig) -> None:
    """Gives the points back when the reward cannot be given, and frees the idempotency key."""
    refund = new_entry(
        card=card,
        kind=LedgerKind.ADJUST,
        points=claim.cost,
        key=f"refund:{claim.id}",
        reason="the reward's code could not be given",
        source=claim.reward_id,
        config=config,
        now=utc_now(),
    )
    await write_entry(entry=refund)
    await Exchange.get_pymongo_collection().delete_one({"_id": claim.id, "status": "PENDING"})
