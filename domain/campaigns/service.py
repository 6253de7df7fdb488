"""Campaign operations: create, update, pause, resume or end a campaign."""

from typing import Any

from pydantic import BaseModel
from pymongo.errors import DuplicateKeyError

from domain import snapshot_registry
from domain.campaigns.errors import CampaignError
from domain.campaigns.inputs import CampaignInput
from domain.campaigns.models import Campaign, CampaignKind, CampaignStatus, ReferralConfig
from domain.campaigns.queries import get_campaign
from domain.campaigns.validation import STANDALONE_CODE, validated_fields
from domain.code_models import Code, CodeKind, normalize_code
from domain.common import object_id, utc_now
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.wallet import campaign_passes_changed


async def _referral_reference_problems(project_id: str, config: Any) -> list[Problem]:
    """The campaigns a referral program names must exist in the project, of the right kind."""
    if not isinstance(config, ReferralConfig):
        return []
    wanted = [
        (config.welcome_campaign_id, CampaignKind.DISCOUNT, "referral.welcomeCampaignId"),
        (
            config.referrer_reward.discount_campaign_id,
            CampaignKind.DISCOUNT,
            "referral.referrerReward.discountCampaignId",
        ),
        (
            config.referrer_reward.loyalty_campaign_id,
            CampaignKind.LOYALTY,
            "referral.referrerReward.loyaltyCampaignId",
        ),
    ]
    problems: list[Problem] = []
    for campaign_id, kind, field in wanted:
        if not campaign_id:
            continue
        try:
            found = await get_campaign(project_id, campaign_id, field)
        except NotFound as error:
            problems.extend(error.problems)
            continue
        if found.kind != kind:
            problems.append(
                Problem(
                    CampaignError.WRONG_CAMPAIGN_KIND, f"must be a {kind.value} campaign", field
                )
            )
    return problems


def _duplicate_code() -> DomainError:
    return DomainError(
        CampaignError.DUPLICATE_CODE, "this code is already used in the project", "standaloneCode"
    )


async def create_campaign(*, project_id: str, data: CampaignInput) -> Campaign:
    problems: list[Problem] = []
    try:
        values = validated_fields(data, None)
    except DomainError as error:
        problems = list(error.problems)
        values = {}
    problems += await _referral_reference_problems(project_id, values.get("referral"))
    # Checked even when other fields are wrong, so one answer lists every problem.
    code = normalize_code(data.standalone_code or "")
    if (
        STANDALONE_CODE.match(code)
        and await Code.find_one({"project_id": project_id, "code": code}) is not None
    ):
        problems.append(_duplicate_code().problems[0])
    if problems:
        raise DomainError.of(problems)
    made = 1 if code else 0
    campaign = Campaign(project_id=project_id, codes_count=made, codes_reserved=made, **values)
    await campaign.insert()
    if code and data.standalone_code is not None:
        try:
            await Code(
                project_id=project_id,
                code=code,
                # Codes are stored and shown upper-case; the caller's dashes stay for printing.
                display=data.standalone_code.strip().upper(),
                campaign_id=campaign.key,
                kind=CodeKind.STANDALONE,
            ).insert()
        except DuplicateKeyError:
            # Taken between the check and the insert: the campaign must not stay without it.
            await Campaign.get_pymongo_collection().delete_one({"_id": campaign.id})
            raise _duplicate_code() from None
    return campaign


async def update_campaign(*, project_id: str, campaign_id: str, data: CampaignInput) -> Campaign:
    current = await get_campaign(project_id, campaign_id, "id")
    values = validated_fields(data, current)
    wrong = await _referral_reference_problems(project_id, values.get("referral"))
    if wrong:
        raise DomainError.of(wrong)
    stored = {key: _storable(value) for key, value in values.items()}
    await Campaign.get_pymongo_collection().update_one(
        {"_id": current.id, "project_id": project_id},
        {"$set": {**stored, "updated_at": utc_now()}, "$inc": {"revision": 1}},
    )
    updated = await get_campaign(project_id, campaign_id, "id")
    snapshot_registry.campaign_changed(project_id=project_id, campaign_id=updated.key)
    # Names, offers, terms, dates and locations show on the campaign's wallet passes.
    await campaign_passes_changed(
        project_id, updated.key, starts_at=updated.starts_at, ends_at=updated.ends_at
    )
    return updated


def _storable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


async def set_campaign_status(
    *, project_id: str, campaign_id: str, status: CampaignStatus | str
) -> Campaign:
    """ACTIVE and PAUSED switch freely; ENDED is final."""
    wanted = CampaignStatus(status)
    now = utc_now()
    result = await Campaign.get_pymongo_collection().update_one(
        {
            "_id": object_id(campaign_id, "campaign", "id"),
            "project_id": project_id,
            # Only a real change moves status_changed_at: pausing twice keeps the first date.
            "status": {
                "$in": [
                    s.value for s in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED) if s != wanted
                ]
            },
        },
        {
            "$set": {"status": wanted.value, "updated_at": now, "status_changed_at": now},
            "$inc": {"revision": 1},
        },
    )
    campaign = await get_campaign(project_id, campaign_id, "id")
    if result.matched_count == 0 and campaign.status != wanted:
        raise DomainError(
            CommonError.CAMPAIGN_ENDED,
            "the campaign has ended and cannot be paused or resumed",
            "id",
        )
    if result.modified_count:
        snapshot_registry.campaign_changed(project_id=project_id, campaign_id=campaign.key)
        await campaign_passes_changed(
            project_id, campaign.key, starts_at=campaign.starts_at, ends_at=campaign.ends_at
        )
    return campaign
