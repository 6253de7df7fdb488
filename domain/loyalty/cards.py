"""Finding a customer's loyalty cards and the programs they belong to."""

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from domain.campaigns import Campaign, CampaignKind, CampaignStatus, get_campaign
from domain.common import as_utc, utc_now
from domain.errors import CommonError, DomainError
from domain.loyalty.models import NEVER, LoyaltyCard
from domain.loyalty.rules import card_owner
from domain.loyalty_config import LoyaltyConfig


async def loyalty_campaign(*, project_id: str, campaign_id: str) -> tuple[Campaign, LoyaltyConfig]:
    campaign = await get_campaign(project_id, campaign_id)
    if campaign.kind != CampaignKind.LOYALTY:
        raise DomainError(
            CommonError.NOT_LOYALTY, "this campaign is not a loyalty program", "campaignId"
        )
    return campaign, campaign.loyalty or LoyaltyConfig()


async def active_loyalty_campaigns(*, project_id: str, now: datetime) -> list[Campaign]:
    found = await Campaign.find(
        {
            "project_id": project_id,
            "kind": CampaignKind.LOYALTY.value,
            "status": CampaignStatus.ACTIVE.value,
        }
    ).to_list()
    return [
        campaign
        for campaign in found
        if (campaign.starts_at is None or as_utc(campaign.starts_at) <= now)
        and (campaign.ends_at is None or now < as_utc(campaign.ends_at))
    ]


async def ensure_card(*, project_id: str, campaign_id: str, customer_id: str) -> LoyaltyCard:
    """The customer's card in the program, made on first use."""
    owner = card_owner(project_id=project_id, campaign_id=campaign_id, customer_id=customer_id)
    found = await LoyaltyCard.find_one(owner)
    if found is not None:
        return found
    collection = LoyaltyCard.get_pymongo_collection()
    # Two first uses at once: the unique index keeps one card, the other update fails harmlessly.
    with contextlib.suppress(DuplicateKeyError):
        await collection.update_one(
            owner,
            {
                "$setOnInsert": {
                    "balance": 0,
                    "earned_total": 0,
                    "tier": "",
                    "window_points": 0,
                    "window_spent": 0,
                    "tier_review_at": NEVER,
                    "inflight": [],
                    "created_at": utc_now(),
                }
            },
            upsert=True,
        )
    card = await LoyaltyCard.find_one(owner)
    assert card is not None
    return card


async def customer_cards(*, project_id: str, customer_id: str) -> list[LoyaltyCard]:
    """The customer's cards in the project's programs: stored ones, plus an empty one (not
    stored) for each active program the customer has no card in yet; oldest program first."""
    stored = await LoyaltyCard.find(
        {"project_id": project_id, "customer_id": customer_id}
    ).to_list()
    held = {card.campaign_id for card in stored}
    empty = [
        LoyaltyCard(
            **card_owner(project_id=project_id, campaign_id=campaign.key, customer_id=customer_id)
        )
        for campaign in await active_loyalty_campaigns(project_id=project_id, now=utc_now())
        if campaign.key not in held
    ]
    return sorted(stored + empty, key=lambda card: card.campaign_id)


async def find_card(*, project_id: str, campaign_id: str, customer_id: str) -> LoyaltyCard:
    """The stored card, or an empty one (not stored) for a customer who has none yet."""
    card = await LoyaltyCard.find_one(
        card_owner(project_id=project_id, campaign_id=campaign_id, customer_id=customer_id)
    )
    return card or LoyaltyCard(
        **card_owner(project_id=project_id, campaign_id=campaign_id, customer_id=customer_id)
    )
