"""Campaign service functions: validation, partial updates, status changes, standalone codes."""

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from domain.campaigns import (
    DIGITS,
    UNSET,
    Campaign,
    CampaignInput,
    CampaignKind,
    CampaignStatus,
    CodeConfigInput,
    CodeMode,
    DiscountInput,
    DiscountType,
    LimitsInput,
    ReferralConfigInput,
    RulesInput,
    create_campaign,
    list_campaigns,
    set_campaign_status,
    update_campaign,
)
from domain.codegen import code_space, luhn_valid, new_code
from domain.codes import Code
from domain.errors import DomainError
from tests.factories import Tenant


@dataclass
class Eur:
    amount: int
    currency: str = "EUR"


def ten_percent(**fields: object) -> CampaignInput:
    data = CampaignInput(
        name="Summer", discount=DiscountInput(type=DiscountType.PERCENT, percent_off=10)
    )
    for name, value in fields.items():
        setattr(data, name, value)
    return data


def problems(error: pytest.ExceptionInfo[DomainError]) -> set[tuple[str, str | None]]:
    return {(p.code, p.field) for p in error.value.problems}


async def test_a_pattern_with_placeholders_is_accepted_and_generates_matching_codes(
    tenant: Tenant,
) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id,
        data=ten_percent(codes=CodeConfigInput(pattern="summer-####-##", prefix="x")),
    )
    assert campaign.codes.pattern == "SUMMER-####-##"
    assert code_space(campaign.codes) == len(campaign.codes.charset) ** 6
    code = new_code(campaign.codes)
    assert re.fullmatch(r"XSUMMER-[A-Z0-9]{4}-[A-Z0-9]{2}", code), code
    assert set(code[8:].replace("-", "")) <= set(campaign.codes.charset)


async def test_numeric_codes_keep_their_length_with_prefix_and_check_digit(
    tenant: Tenant,
) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id,
        data=ten_percent(codes=CodeConfigInput(mode="NUMERIC", length=13, prefix="99", luhn=True)),
    )
    assert campaign.codes.charset == DIGITS
    for _ in range(20):
        code = new_code(campaign.codes)
        assert len(code) == 13 and code.startswith("99") and luhn_valid(code), code


async def test_switching_code_mode_takes_the_new_modes_defaults(tenant: Tenant) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id, data=ten_percent(codes=CodeConfigInput(pattern="AB-###"))
    )
    numeric = await update_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        data=CampaignInput(codes=CodeConfigInput(mode="NUMERIC")),
    )
    assert numeric.codes.mode == CodeMode.NUMERIC
    assert (numeric.codes.length, numeric.codes.charset, numeric.codes.pattern) == (
        12,
        DIGITS,
        None,
    )


async def test_an_update_keeps_counters_and_status_moved_meanwhile(tenant: Tenant) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id, data=ten_percent(standalone_code="KEEP1")
    )
    # Redemptions and pausing happen beside the admin's edit.
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id}, {"$inc": {"redeemed_count": 7, "codes_count": 2}}
    )
    await set_campaign_status(
        project_id=tenant.project_id, campaign_id=campaign.key, status=CampaignStatus.PAUSED
    )

    updated = await update_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        data=CampaignInput(name="Renamed", limits=LimitsInput(per_customer=2)),
    )
    assert (updated.name, updated.redeemed_count, updated.codes_count) == ("Renamed", 7, 3)
    assert updated.status == CampaignStatus.PAUSED
    assert updated.standalone_code == "KEEP1"
    # The standalone code's default stays: shared codes are not single-use.
    assert (updated.limits.per_code, updated.limits.per_customer) == (None, 2)


async def test_unset_keeps_and_none_clears(tenant: Tenant) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id,
        data=ten_percent(
            starts_at=datetime(2025, 6, 1, tzinfo=UTC),
            limits=LimitsInput(per_code=5, total=10),
            rules=RulesInput(min_order=Eur(1_000), skus=["TEE"]),
        ),
    )
    updated = await update_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        data=CampaignInput(
            starts_at=None,
            limits=LimitsInput(total=None),
            rules=RulesInput(min_order=UNSET, skus=[]),
        ),
    )
    assert updated.starts_at is None
    assert (updated.limits.per_code, updated.limits.total) == (5, None)
    assert updated.rules.min_order is not None and updated.rules.min_order.amount == 1_000
    assert updated.rules.skus == []


async def test_an_empty_standalone_code_is_no_code(tenant: Tenant) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id, data=ten_percent(standalone_code=" ")
    )
    assert campaign.standalone_code is None and campaign.codes_count == 0
    assert campaign.limits.per_code == 1
    again = await update_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        data=CampaignInput(standalone_code=""),
    )
    assert again.standalone_code is None
    with pytest.raises(DomainError) as error:
        await update_campaign(
            project_id=tenant.project_id,
            campaign_id=campaign.key,
            data=CampaignInput(standalone_code="X1Y"),
        )
    assert problems(error) == {("IMMUTABLE", "standaloneCode")}


async def test_racing_creations_of_one_standalone_code_leave_one_campaign(tenant: Tenant) -> None:
    results = await asyncio.gather(
        *(
            create_campaign(
                project_id=tenant.project_id, data=ten_percent(name=f"C{i}", standalone_code="RACE")
            )
            for i in range(6)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, Campaign)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(made) == 1 and len(refused) == 5, results
    assert all(r.code == "DUPLICATE_CODE" for r in refused)
    assert await Campaign.find({"project_id": tenant.project_id}).count() == 1
    code = await Code.find_one({"project_id": tenant.project_id, "code": "RACE"})
    assert code is not None and code.campaign_id == made[0].key


async def test_a_referral_campaign_needs_no_discount(tenant: Tenant) -> None:
    campaign = await create_campaign(
        project_id=tenant.project_id,
        data=CampaignInput(
            name="Friends",
            kind="REFERRAL",
            referral=ReferralConfigInput(landing_url="https://shop.example/"),
        ),
    )
    assert (campaign.kind, campaign.discount, campaign.timezone) == (
        CampaignKind.REFERRAL,
        None,
        "UTC",
    )
    with pytest.raises(DomainError) as error:
        await create_campaign(project_id=tenant.project_id, data=CampaignInput(name="Sale"))
    assert problems(error) == {("REQUIRED", "discount")}


async def test_status_changes_and_the_end_is_final(tenant: Tenant) -> None:
    campaign = await create_campaign(project_id=tenant.project_id, data=ten_percent())
    paused = await set_campaign_status(
        project_id=tenant.project_id, campaign_id=campaign.key, status="PAUSED"
    )
    assert paused.status == CampaignStatus.PAUSED
    ended = await set_campaign_status(
        project_id=tenant.project_id, campaign_id=campaign.key, status=CampaignStatus.ENDED
    )
    assert ended.status == CampaignStatus.ENDED
    for wanted in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        with pytest.raises(DomainError) as error:
            await set_campaign_status(
                project_id=tenant.project_id, campaign_id=campaign.key, status=wanted
            )
        assert problems(error) == {("CAMPAIGN_ENDED", "id")}
    stored = await Campaign.get(campaign.id)
    assert stored is not None and stored.status == CampaignStatus.ENDED


async def test_another_projects_campaign_is_not_found_and_not_changed(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await create_campaign(project_id=tenant.project_id, data=ten_percent())
    for change in (
        set_campaign_status(
            project_id=other_tenant.project_id,
            campaign_id=campaign.key,
            status=CampaignStatus.ENDED,
        ),
        update_campaign(
            project_id=other_tenant.project_id,
            campaign_id=campaign.key,
            data=CampaignInput(name="Mine"),
        ),
    ):
        with pytest.raises(DomainError) as error:
            await change
        assert problems(error) == {("NOT_FOUND", "id")}
    stored = await Campaign.get(campaign.id)
    assert stored is not None and (stored.name, stored.status) == ("Summer", CampaignStatus.ACTIVE)
    page = await list_campaigns(project_id=other_tenant.project_id, first=10, after=None)
    assert page.items == [] and await page.total() == 0
