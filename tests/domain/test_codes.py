"""Codes: status, uses left, publishing to customers (idempotent, limited, concurrent), helpers."""

import asyncio
from datetime import timedelta

import pytest

from domain import codes as codes_module
from domain.campaigns import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    CodeConfig,
    Discount,
    DiscountType,
    Limits,
)
from domain.codes import (
    Code,
    CodeKind,
    CodeStatus,
    code_status,
    coupon_url,
    find_code,
    find_public_code,
    format_money,
    normalize_code,
    offer_text,
    publish_code,
    qr_svg,
    random_code,
    uses_left,
)
from domain.common import Money, utc_now
from domain.customers import Customer
from domain.errors import DomainError
from tests.factories import Tenant, make_campaign, make_customer, make_pool


async def assigned_to(campaign: Campaign, customer: Customer) -> list[Code]:
    return await Code.find(
        {
            "project_id": campaign.project_id,
            "campaign_id": campaign.key,
            "customer_id": customer.key,
        }
    ).to_list()


async def test_publish_assigns_a_pooled_code_and_returns_it_again(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_pool(campaign=campaign, displays=["AAAA-1111", "BBBB-2222", "CCCC-3333"])
    customer = await make_customer(project_id=tenant.project_id)

    first = await publish_code(tenant.project_id, campaign.key, customer.key)
    again = await publish_code(tenant.project_id, campaign.key, customer.key)

    assert first.id == again.id
    assert first.assigned and first.customer_id == customer.key
    assert first.published_at is not None
    assert [c.id for c in await assigned_to(campaign, customer)] == [first.id]
    free = await Code.find({"campaign_id": campaign.key, "assigned": False}).count()
    assert free == 2


async def test_codes_per_customer_gives_that_many_distinct_codes_then_the_same(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, codes_per_customer=2)
    await make_pool(campaign=campaign, displays=["AAAA1111", "BBBB2222", "CCCC3333"])
    customer = await make_customer(project_id=tenant.project_id)

    first = await publish_code(tenant.project_id, campaign.key, customer.key)
    second = await publish_code(tenant.project_id, campaign.key, customer.key)
    later = [await publish_code(tenant.project_id, campaign.key, customer.key) for _ in range(3)]

    assert first.code != second.code
    assert {c.code for c in later} <= {first.code, second.code}
    assert len(await assigned_to(campaign, customer)) == 2


async def test_returned_code_prefers_one_with_uses_left(tenant: Tenant) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, codes_per_customer=2, limits=Limits(per_code=1)
    )
    await make_pool(campaign=campaign, displays=["AAAA1111", "BBBB2222"])
    customer = await make_customer(project_id=tenant.project_id)
    first = await publish_code(tenant.project_id, campaign.key, customer.key)
    second = await publish_code(tenant.project_id, campaign.key, customer.key)
    await Code.get_pymongo_collection().update_one(
        {"_id": first.id}, {"$set": {"redeemed_count": 1}}
    )

    assert (await publish_code(tenant.project_id, campaign.key, customer.key)).id == second.id


async def test_fifty_concurrent_publishes_assign_exactly_one_code(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_pool(campaign=campaign, displays=list(f"POOL{n:04d}" for n in range(60)))
    customer = await make_customer(project_id=tenant.project_id)

    results = await asyncio.gather(
        *(publish_code(tenant.project_id, campaign.key, customer.key) for _ in range(50))
    )

    assert {code.code for code in results} == {results[0].code}
    assigned = await assigned_to(campaign, customer)
    assert [c.code for c in assigned] == [results[0].code]
    assert await Code.find({"campaign_id": campaign.key, "assigned": True}).count() == 1


async def test_empty_pool_generates_a_code_from_the_campaign_config(tenant: Tenant) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, codes=CodeConfig(prefix="SPR-", length=6, charset="XYZ7")
    )
    customer = await make_customer(project_id=tenant.project_id)

    code = await publish_code(tenant.project_id, campaign.key, customer.key)

    assert code.display.startswith("SPR-") and len(code.display) == 10
    assert set(code.display[4:]) <= set("XYZ7")
    assert code.code == normalize_code(code.display)
    assert code.kind == CodeKind.UNIQUE and code.customer_id == customer.key
    stored = await find_code(tenant.project_id, code.display.lower())
    assert stored is not None and stored.id == code.id
    refreshed = await Campaign.get(campaign.id)
    assert refreshed is not None and refreshed.codes_count == 1
    assert (await publish_code(tenant.project_id, campaign.key, customer.key)).id == code.id


async def test_generated_codes_retry_on_collision(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    other = await make_campaign(project_id=tenant.project_id)
    await make_pool(campaign=other, displays=["TAKEN-1"])
    # Only the random draw is fixed: the first lands on a code another campaign holds.
    draws = iter(["TAKEN-1", "FRESH-2"])
    monkeypatch.setattr(codes_module, "random_code", lambda config: next(draws))

    code = await publish_code(
        tenant.project_id, campaign.key, (await make_customer(project_id=tenant.project_id)).key
    )

    assert code.code == "FRESH2" and code.campaign_id == campaign.key


async def test_on_demand_codes_keep_to_the_space_rule(tenant: Tenant) -> None:
    # 4 positions over 10 characters: 10,000 codes, of which a campaign may hold 100.
    small = CodeConfig(length=4, charset="ABCDEFGHJK")
    campaign = await make_campaign(project_id=tenant.project_id, codes=small, codes_reserved=99)
    await publish_code(
        tenant.project_id, campaign.key, (await make_customer(project_id=tenant.project_id)).key
    )
    late = await make_customer(project_id=tenant.project_id, name="Bo")
    with pytest.raises(DomainError) as raised:
        await publish_code(tenant.project_id, campaign.key, late.key)
    assert raised.value.code == "CODE_SPACE_TOO_SMALL"
    assert await assigned_to(campaign, late) == []


async def test_failed_assignment_gives_the_slot_back(tenant: Tenant) -> None:
    # The pool is empty and the code space is full: making a code fails after the claim.
    small = CodeConfig(length=4, charset="ABCDEFGHJK")
    campaign = await make_campaign(project_id=tenant.project_id, codes=small, codes_reserved=100)
    customer = await make_customer(project_id=tenant.project_id, name="Bo")
    with pytest.raises(DomainError):
        await publish_code(tenant.project_id, campaign.key, customer.key)
    # Once a code is free again, the same customer gets it: the failed call left no claim.
    await make_pool(campaign=campaign, displays=["FREE1"])
    code = await publish_code(tenant.project_id, campaign.key, customer.key)
    assert code.code == "FREE1"


async def test_standalone_campaign_returns_its_shared_code(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, standalone_code="spring-15")
    await Code(
        project_id=tenant.project_id,
        code="SPRING15",
        display="SPRING-15",
        campaign_id=campaign.key,
        kind=CodeKind.STANDALONE,
    ).insert()
    jane = await make_customer(project_id=tenant.project_id)
    bob = await make_customer(project_id=tenant.project_id, name="Bob")

    for_jane = await publish_code(tenant.project_id, campaign.key, jane.key)
    for_bob = await publish_code(tenant.project_id, campaign.key, bob.key)

    assert for_jane.id == for_bob.id
    assert for_jane.kind == CodeKind.STANDALONE and not for_jane.assigned
    assert for_jane.customer_id == ""
    with pytest.raises(DomainError) as raised:
        await publish_code(tenant.project_id, campaign.key, "0" * 24)
    assert (raised.value.code, raised.value.problems[0].field) == ("NOT_FOUND", "customerId")


async def test_standalone_code_missing_from_storage_is_created_once(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, standalone_code="WELCOME")
    customer = await make_customer(project_id=tenant.project_id)

    codes = await asyncio.gather(
        *(publish_code(tenant.project_id, campaign.key, customer.key) for _ in range(5))
    )

    assert {c.code for c in codes} == {"WELCOME"}
    assert await Code.find({"project_id": tenant.project_id}).count() == 1


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"status": CampaignStatus.ENDED}, "CAMPAIGN_ENDED", "campaignId"),
        ({"ends_at": utc_now() - timedelta(days=1)}, "CAMPAIGN_ENDED", "campaignId"),
        ({"kind": CampaignKind.LOYALTY}, "CAMPAIGN_NOT_DISCOUNT", "campaignId"),
    ],
)
async def test_publish_refuses_unusable_campaigns(
    tenant: Tenant, change: dict, error: str, field: str
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, **change)
    await make_pool(campaign=campaign, displays=["AAAA1111"])
    customer = await make_customer(project_id=tenant.project_id)
    with pytest.raises(DomainError) as raised:
        await publish_code(tenant.project_id, campaign.key, customer.key)
    assert (raised.value.code, raised.value.problems[0].field) == (error, field)
    assert await assigned_to(campaign, customer) == []


async def test_publish_errors_for_missing_and_foreign_documents(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_pool(campaign=campaign, displays=["AAAA1111"])
    customer = await make_customer(project_id=tenant.project_id)
    foreign_campaign = await make_campaign(project_id=other_tenant.project_id)
    foreign_customer = await make_customer(project_id=other_tenant.project_id)

    cases = [
        ("not-an-id", customer.key, "campaignId"),
        ("0" * 24, customer.key, "campaignId"),
        (foreign_campaign.key, customer.key, "campaignId"),
        (campaign.key, "nope", "customerId"),
        (campaign.key, foreign_customer.key, "customerId"),
    ]
    for campaign_id, customer_id, field in cases:
        with pytest.raises(DomainError) as raised:
            await publish_code(tenant.project_id, campaign_id, customer_id)
        assert (raised.value.code, raised.value.problems[0].field) == ("NOT_FOUND", field)
    assert await Code.find({"assigned": True}).count() == 0


async def test_publish_refuses_erased_customers(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    customer = Customer(project_id=tenant.project_id, erased=True)
    await customer.insert()
    with pytest.raises(DomainError) as raised:
        await publish_code(tenant.project_id, campaign.key, customer.key)
    assert raised.value.code == "ERASED"


async def test_code_status_follows_the_code_and_its_campaign(tenant: Tenant) -> None:
    now = utc_now()
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=2))
    code = Code(project_id=tenant.project_id, code="X", display="X", campaign_id=campaign.key)

    assert code_status(code, campaign, now) == CodeStatus.ACTIVE
    assert uses_left(code, campaign) == 2
    code.redeemed_count = 2
    assert code_status(code, campaign, now) == CodeStatus.REDEEMED
    assert uses_left(code, campaign) == 0
    code.redeemed_count = 0

    def with_campaign(**change: object) -> CodeStatus:
        return code_status(code, campaign.model_copy(update=change), now)

    assert with_campaign(status=CampaignStatus.PAUSED) == CodeStatus.PAUSED
    assert with_campaign(status=CampaignStatus.ENDED) == CodeStatus.EXPIRED
    assert with_campaign(ends_at=now - timedelta(seconds=1)) == CodeStatus.EXPIRED
    assert with_campaign(ends_at=now + timedelta(days=1)) == CodeStatus.ACTIVE
    assert with_campaign(starts_at=now + timedelta(hours=1)) == CodeStatus.NOT_STARTED
    assert with_campaign(limits=Limits()) == CodeStatus.ACTIVE
    assert uses_left(code, campaign.model_copy(update={"limits": Limits()})) is None


async def test_public_lookup_refuses_codes_present_in_two_projects(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await make_campaign(project_id=tenant.project_id)
    theirs = await make_campaign(project_id=other_tenant.project_id)
    await make_pool(campaign=mine, displays=["ONLY-MINE", "SHARED-1"])
    await make_pool(campaign=theirs, displays=["SHARED-1"])

    found = await find_public_code(" only mine ")
    assert found is not None and found.project_id == tenant.project_id
    assert await find_public_code("shared1") is None
    assert await find_public_code("never-issued") is None
    assert await find_public_code("") is None
    assert await find_code(tenant.project_id, "x" * 200) is None


def test_random_code_follows_patterns_and_luhn() -> None:
    patterned = random_code(CodeConfig(pattern="SUM-##-##", charset="AB"))
    assert patterned.startswith("SUM-") and patterned[6] == "-"
    assert set(patterned[4:6] + patterned[7:]) <= {"A", "B"}
    numeric = random_code(CodeConfig(mode="NUMERIC", length=12, luhn=True))
    assert numeric.isdigit() and len(numeric) == 12
    checksum = 0
    for position, digit in enumerate(int(d) for d in reversed(numeric)):
        doubled = digit * 2 if position % 2 else digit
        checksum += doubled - 9 if doubled > 9 else doubled
    assert checksum % 10 == 0


def test_offer_text_and_money_formatting() -> None:
    eur = Money(amount=500, currency="EUR")
    assert offer_text(Discount(type=DiscountType.PERCENT, percent_off=15)) == "15% off"
    assert (
        offer_text(Discount(type=DiscountType.PERCENT, percent_off=12.5, max_discount=eur))
        == "12.5% off (up to €5.00)"
    )
    assert offer_text(Discount(type=DiscountType.AMOUNT, amount_off=eur)) == "€5.00 off"
    assert offer_text(Discount(type=DiscountType.FREE_SHIPPING)) == "Free shipping"
    assert (
        offer_text(
            Discount(type=DiscountType.FIXED_PRICE, fixed_price=Money(amount=990, currency="EUR"))
        )
        == "Now €9.90"
    )
    assert offer_text(None) == ""
    assert format_money(Money(amount=123456, currency="USD")) == "$1,234.56"
    assert format_money(Money(amount=500, currency="JPY")) == "¥500"
    assert format_money(Money(amount=12500, currency="KWD")) == "12.500 KWD"
    assert format_money(Money(amount=1000, currency="CHF")) == "10.00 CHF"


def test_coupon_url_and_qr() -> None:
    code = Code(project_id="p", code="ABC123", display="ABC-123", campaign_id="c")
    assert coupon_url("https://shop.example/", code) == "https://shop.example/c/ABC123"
    svg = qr_svg("https://shop.example/c/ABC123")
    assert svg.startswith("<svg") and "viewBox" in svg
    assert "<?xml" not in svg and 'width="' not in svg.split(">")[0]
