"""Referral programs: links, applying codes and every refusal, qualifying orders under
concurrency, held rewards that a refund cancels, and releasing rewards exactly once."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from api.background import run_jobs_forever
from domain.campaigns import (
    CampaignInput,
    CampaignKind,
    CampaignStatus,
    ReferralConfigInput,
    ReferrerRewardInput,
    create_campaign,
    set_campaign_status,
)
from domain.codes import Code
from domain.common import utc_now
from domain.customers import Customer
from domain.errors import DomainError
from domain.jobs import JobRunner
from domain.loyalty import LedgerEntry, find_card
from domain.loyalty_config import LoyaltyConfig
from domain.orders import Order, record_order, set_order_status
from domain.referrals import (
    Referral,
    ReferralCode,
    ReferralStatus,
    apply_referral_code,
    on_order_recorded,
    referral_link,
    referral_totals,
    release_due_rewards,
)
from tests.factories import (
    ReferralProgram,
    Tenant,
    eur,
    make_campaign,
    make_customer,
    make_referral_program,
    order_input,
)


async def codes_of(customer: Customer, campaign_id: str) -> list[Code]:
    return await Code.find(
        {"project_id": customer.project_id, "campaign_id": campaign_id, "customer_id": customer.key}
    ).to_list()


async def referral_of(referee: Customer) -> Referral:
    found = await Referral.find_one({"project_id": referee.project_id, "referee_id": referee.key})
    assert found is not None
    return found


async def refused(code: str, call: Any) -> None:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value.problems


async def attached(tenant: Tenant, **referral: Any) -> tuple[ReferralProgram, Customer, Customer]:
    """A program, a referrer, and a referee who applied the referrer's code."""
    program = await make_referral_program(project_id=tenant.project_id, **referral)
    referrer = await make_customer(project_id=tenant.project_id, email="ann@example.com")
    referee = await make_customer(project_id=tenant.project_id, email="bob@example.com")
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    await apply_referral_code(
        project_id=tenant.project_id, raw_code=link.code, customer_id=referee.key
    )
    return program, referrer, referee


async def test_a_link_is_one_code_per_referrer_even_when_asked_twenty_times_at_once(
    tenant: Tenant,
) -> None:
    program = await make_referral_program(project_id=tenant.project_id)
    referrer = await make_customer(project_id=tenant.project_id)

    links = await asyncio.gather(
        *(
            referral_link(
                project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
            )
            for _ in range(20)
        )
    )

    assert len({link.code for link in links}) == 1
    assert await ReferralCode.find({"project_id": tenant.project_id}).count() == 1
    other = await make_customer(project_id=tenant.project_id)
    assert (
        await referral_link(
            project_id=tenant.project_id, campaign_id=program.id, customer_id=other.key
        )
    ).code != links[0].code


async def test_applying_a_code_attaches_the_referee_and_gives_the_welcome_code(
    tenant: Tenant,
) -> None:
    program, referrer, referee = await attached(tenant)

    referral = await referral_of(referee)
    assert referral.status == ReferralStatus.PENDING
    assert referral.referrer_id == referrer.key
    welcome = await codes_of(referee, program.welcome_id)
    assert [str(code.id) for code in welcome] == [referral.welcome_code_id]
    # A retry with the same code returns the referral and gives no second welcome code.
    again = await apply_referral_code(
        project_id=tenant.project_id, raw_code=referral.code.lower(), customer_id=referee.key
    )
    assert again.id == referral.id
    assert len(await codes_of(referee, program.welcome_id)) == 1


async def test_unknown_codes_and_inactive_programs_are_refused(tenant: Tenant) -> None:
    program = await make_referral_program(project_id=tenant.project_id)
    referrer = await make_customer(project_id=tenant.project_id)
    referee = await make_customer(project_id=tenant.project_id)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )

    await refused(
        "NOT_FOUND",
        apply_referral_code(
            project_id=tenant.project_id, raw_code="NOPE-1234", customer_id=referee.key
        ),
    )
    await set_campaign_status(
        project_id=tenant.project_id, campaign_id=program.id, status=CampaignStatus.PAUSED
    )
    await refused(
        "PROGRAM_NOT_ACTIVE",
        apply_referral_code(
            project_id=tenant.project_id, raw_code=link.code, customer_id=referee.key
        ),
    )
    assert await Referral.find({"project_id": tenant.project_id}).count() == 0


async def test_self_referral_is_refused_by_id_email_or_phone(tenant: Tenant) -> None:
    program = await make_referral_program(project_id=tenant.project_id)
    referrer = await make_customer(
        project_id=tenant.project_id, email="ann@example.com", phone="+33612345678"
    )
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    same_email = await make_customer(project_id=tenant.project_id, email="ann@example.com")
    same_phone = await make_customer(project_id=tenant.project_id, phone="+33612345678")

    for customer in (referrer, same_email, same_phone):
        await refused(
            "SELF_REFERRAL",
            apply_referral_code(
                project_id=tenant.project_id, raw_code=link.code, customer_id=customer.key
            ),
        )
    assert await Referral.find({"project_id": tenant.project_id}).count() == 0
    assert (await ReferralCode.get(link.id)).referrals_count == 0  # type: ignore[union-attr]


async def test_a_referred_customer_cannot_take_a_second_referrer(tenant: Tenant) -> None:
    program, _, referee = await attached(tenant)
    second = await make_customer(project_id=tenant.project_id)
    other_link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=second.key
    )

    await refused(
        "ALREADY_REFERRED",
        apply_referral_code(
            project_id=tenant.project_id, raw_code=other_link.code, customer_id=referee.key
        ),
    )
    assert (await referral_of(referee)).code_id != other_link.key
    assert (await ReferralCode.get(other_link.id)).referrals_count == 0  # type: ignore[union-attr]


async def test_a_customer_who_already_ordered_is_refused(tenant: Tenant) -> None:
    program = await make_referral_program(project_id=tenant.project_id)
    referrer = await make_customer(project_id=tenant.project_id)
    buyer = await make_customer(project_id=tenant.project_id)
    await record_order(tenant.project_id, order_input(order_id="w-1", customer=buyer))
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )

    await refused(
        "ALREADY_ORDERED",
        apply_referral_code(
            project_id=tenant.project_id, raw_code=link.code, customer_id=buyer.key
        ),
    )
    assert await codes_of(buyer, program.welcome_id) == []


async def test_the_referrer_cap_holds_under_concurrent_referees(tenant: Tenant) -> None:
    program = await make_referral_program(
        project_id=tenant.project_id, max_referrals_per_referrer=3
    )
    referrer = await make_customer(project_id=tenant.project_id)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    referees = [await make_customer(project_id=tenant.project_id) for _ in range(12)]

    results = await asyncio.gather(
        *(
            apply_referral_code(project_id=tenant.project_id, raw_code=link.code, customer_id=r.key)
            for r in referees
        ),
        return_exceptions=True,
    )

    refusals = [r for r in results if isinstance(r, DomainError)]
    assert len(refusals) == 9
    assert {r.code for r in refusals} == {"REFERRER_CAP_REACHED"}
    assert await Referral.find({"project_id": tenant.project_id}).count() == 3
    assert (await ReferralCode.get(link.id)).referrals_count == 3  # type: ignore[union-attr]


async def test_one_referee_applying_at_once_takes_one_slot_of_the_cap(tenant: Tenant) -> None:
    program = await make_referral_program(
        project_id=tenant.project_id, max_referrals_per_referrer=2
    )
    referrer = await make_customer(project_id=tenant.project_id)
    referee = await make_customer(project_id=tenant.project_id)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )

    results = await asyncio.gather(
        *(
            apply_referral_code(
                project_id=tenant.project_id, raw_code=link.code, customer_id=referee.key
            )
            for _ in range(10)
        )
    )

    assert len({r.id for r in results}) == 1
    # The losers of the race gave their slot back: one more referee still fits.
    assert (await ReferralCode.get(link.id)).referrals_count == 1  # type: ignore[union-attr]
    another = await make_customer(project_id=tenant.project_id)
    await apply_referral_code(
        project_id=tenant.project_id, raw_code=link.code, customer_id=another.key
    )
    assert len(await codes_of(referee, program.welcome_id)) == 1


async def test_a_welcome_reward_that_cannot_be_given_leaves_nothing(tenant: Tenant) -> None:
    program = await make_referral_program(
        project_id=tenant.project_id, max_referrals_per_referrer=1
    )
    referrer = await make_customer(project_id=tenant.project_id)
    referee = await make_customer(project_id=tenant.project_id)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    await set_campaign_status(
        project_id=tenant.project_id, campaign_id=program.welcome_id, status=CampaignStatus.ENDED
    )

    await refused(
        "CAMPAIGN_ENDED",
        apply_referral_code(
            project_id=tenant.project_id, raw_code=link.code, customer_id=referee.key
        ),
    )

    assert await Referral.find({"project_id": tenant.project_id}).count() == 0
    assert (await ReferralCode.get(link.id)).referrals_count == 0  # type: ignore[union-attr]


async def test_first_order_recorded_twenty_times_at_once_rewards_the_referrer_once(
    tenant: Tenant,
) -> None:
    program, referrer, referee = await attached(tenant)

    await asyncio.gather(
        *(
            record_order(tenant.project_id, order_input(order_id="first", customer=referee))
            for _ in range(20)
        )
    )

    referral = await referral_of(referee)
    assert referral.status == ReferralStatus.REWARDED
    assert referral.qualifying_order_id == "first"
    rewards = await codes_of(referrer, program.reward_id)
    assert [str(code.id) for code in rewards] == [referral.reward_code_id]


async def test_twenty_different_first_orders_at_once_qualify_one(tenant: Tenant) -> None:
    program, referrer, referee = await attached(tenant)

    await asyncio.gather(
        *(
            record_order(tenant.project_id, order_input(order_id=f"o-{n}", customer=referee))
            for n in range(20)
        )
    )
    # The hook runs again for every order, as the retry sweep would: nothing changes.
    for order_id in ("o-0", "o-7"):
        order = (
            await record_order(tenant.project_id, order_input(order_id=order_id, customer=referee))
        ).order
        await on_order_recorded(order=order)

    referral = await referral_of(referee)
    assert referral.status == ReferralStatus.REWARDED
    assert referral.qualifying_order_id.startswith("o-")
    assert len(await codes_of(referrer, program.reward_id)) == 1


async def test_twenty_qualifying_hooks_at_once_reward_once(tenant: Tenant) -> None:
    """Every hook reads the referral PENDING before any of them moves it: only the conditional
    updates stand between them and twenty rewards."""
    program, referrer, referee = await attached(tenant)
    orders = [
        Order(
            project_id=tenant.project_id,
            order_id=f"h-{n}",
            customer_id=referee.key,
            amount=eur(500),
        )
        for n in range(20)
    ]
    for order in orders:
        await order.insert()

    await asyncio.gather(*(on_order_recorded(order=order) for order in orders))

    referral = await referral_of(referee)
    assert referral.status == ReferralStatus.REWARDED
    assert len(await codes_of(referrer, program.reward_id)) == 1


async def test_orders_below_the_minimum_do_not_qualify(tenant: Tenant) -> None:
    _, _, referee = await attached(tenant, min_order=eur(3_000))

    await record_order(
        tenant.project_id, order_input(order_id="small", customer=referee, amount=eur(2_999))
    )
    assert (await referral_of(referee)).status == ReferralStatus.PENDING
    await record_order(
        tenant.project_id, order_input(order_id="big", customer=referee, amount=eur(9_000))
    )
    referral = await referral_of(referee)
    assert (referral.status, referral.qualifying_order_id) == (ReferralStatus.REWARDED, "big")


async def test_a_refund_inside_the_hold_cancels_the_reward(tenant: Tenant) -> None:
    program, referrer, referee = await attached(tenant, hold_days=14)
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))
    held = await referral_of(referee)
    assert held.status == ReferralStatus.QUALIFIED
    assert held.release_at is not None and held.qualified_at is not None
    assert held.release_at - held.qualified_at == timedelta(days=14)

    await set_order_status(tenant.project_id, "first", "REFUNDED")

    assert (await referral_of(referee)).status == ReferralStatus.CANCELLED
    assert await release_due_rewards(now=utc_now() + timedelta(days=15)) == 0
    assert (await referral_of(referee)).status == ReferralStatus.CANCELLED
    assert await codes_of(referrer, program.reward_id) == []


async def test_a_refund_after_the_release_keeps_the_reward(tenant: Tenant) -> None:
    program, referrer, referee = await attached(tenant, hold_days=14)
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))
    assert await release_due_rewards(now=utc_now() + timedelta(days=13)) == 0
    assert await codes_of(referrer, program.reward_id) == []

    assert await release_due_rewards(now=utc_now() + timedelta(days=15)) == 1
    assert await release_due_rewards(now=utc_now() + timedelta(days=16)) == 0
    await set_order_status(tenant.project_id, "first", "REFUNDED")

    referral = await referral_of(referee)
    assert referral.status == ReferralStatus.REWARDED
    assert len(await codes_of(referrer, program.reward_id)) == 1


async def test_a_refund_of_another_order_does_not_cancel(tenant: Tenant) -> None:
    _, _, referee = await attached(tenant, hold_days=7)
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))
    await record_order(tenant.project_id, order_input(order_id="second", customer=referee))

    await set_order_status(tenant.project_id, "second", "CANCELLED")

    assert (await referral_of(referee)).status == ReferralStatus.QUALIFIED


async def test_points_rewards_are_earned_once(tenant: Tenant) -> None:
    program = await make_campaign(
        project_id=tenant.project_id,
        name="Points",
        kind=CampaignKind.LOYALTY,
        discount=None,
        loyalty=LoyaltyConfig(),
    )
    reward = ReferrerRewardInput(loyalty_campaign_id=program.key, points=250)
    _, referrer, referee = await attached(tenant, referrer_reward=reward, hold_days=1)
    await record_order(
        tenant.project_id, order_input(order_id="first", customer=referee, amount=eur(100))
    )

    later = utc_now() + timedelta(days=2)
    granted = await asyncio.gather(*(release_due_rewards(now=later) for _ in range(10)))

    assert sum(granted) == 1
    card = await find_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=referrer.key
    )
    assert card.balance == 250
    entries = await LedgerEntry.find({"card_id": card.key}).to_list()
    assert [e.points for e in entries] == [250]


async def test_totals_count_clicks_and_states(tenant: Tenant) -> None:
    program, referrer, referee = await attached(tenant, hold_days=3)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    await ReferralCode.get_pymongo_collection().update_one(
        {"_id": link.id}, {"$inc": {"clicks": 4}}
    )
    waiting = await make_customer(project_id=tenant.project_id)
    await apply_referral_code(
        project_id=tenant.project_id, raw_code=link.code, customer_id=waiting.key
    )
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))

    totals = await referral_totals(project_id=tenant.project_id, campaign_id=program.id)

    assert (totals.clicks, totals.referrals, totals.pending, totals.qualified) == (4, 2, 1, 1)
    assert (totals.rewarded, totals.cancelled) == (0, 0)


async def test_codes_and_programs_stay_in_their_project(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    program = await make_referral_program(project_id=tenant.project_id)
    referrer = await make_customer(project_id=tenant.project_id)
    link = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    stranger = await make_customer(project_id=other_tenant.project_id)

    await refused(
        "NOT_FOUND",
        apply_referral_code(
            project_id=other_tenant.project_id, raw_code=link.code, customer_id=stranger.key
        ),
    )
    await refused(
        "NOT_FOUND",
        referral_link(
            project_id=other_tenant.project_id, campaign_id=program.id, customer_id=stranger.key
        ),
    )
    await refused(
        "NOT_FOUND", referral_totals(project_id=other_tenant.project_id, campaign_id=program.id)
    )


async def test_a_program_needs_a_landing_url_and_campaigns_of_the_right_kind(
    tenant: Tenant,
) -> None:
    discount = await make_campaign(project_id=tenant.project_id)

    with pytest.raises(DomainError) as caught:
        await create_campaign(
            project_id=tenant.project_id,
            data=CampaignInput(
                name="Refer",
                kind=CampaignKind.REFERRAL,
                referral=ReferralConfigInput(
                    landing_url="javascript:alert(1)",
                    welcome_campaign_id="0" * 24,
                    referrer_reward=ReferrerRewardInput(loyalty_campaign_id=discount.key),
                    hold_days=-1,
                ),
            ),
        )

    fields = {(p.code, p.field) for p in caught.value.problems}
    assert fields == {
        ("INVALID_URL", "referral.landingUrl"),
        ("INVALID_POINTS", "referral.referrerReward.points"),
        ("INVALID_DAYS", "referral.holdDays"),
    }
    await refused(
        "REQUIRED",
        create_campaign(
            project_id=tenant.project_id,
            data=CampaignInput(name="R", kind=CampaignKind.REFERRAL),
        ),
    )
    with pytest.raises(DomainError) as wrong:
        await make_referral_program(project_id=tenant.project_id, welcome_campaign_id="0" * 24)
    assert wrong.value.problems[0].field == "referral.welcomeCampaignId"
    reward = ReferrerRewardInput(loyalty_campaign_id=discount.key, points=10)
    await refused(
        "WRONG_CAMPAIGN_KIND",
        make_referral_program(project_id=tenant.project_id, referrer_reward=reward),
    )


async def test_the_job_loop_releases_rewards_whose_hold_passed(tenant: Tenant) -> None:
    program, referrer, referee = await attached(tenant, hold_days=30)
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))
    referral = await referral_of(referee)
    await Referral.get_pymongo_collection().update_one(
        {"_id": referral.id}, {"$set": {"release_at": utc_now() - timedelta(seconds=1)}}
    )

    loop = asyncio.create_task(run_jobs_forever(JobRunner(owner="sweeper"), idle_seconds=0.05))
    try:
        for _ in range(600):
            # Given, not just REWARDED: the status moves first and the reward follows, and
            # cancelling between the two would leave it pending, as a crash would.
            current = await referral_of(referee)
            if current.status == ReferralStatus.REWARDED and not current.reward_pending:
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop

    assert (await referral_of(referee)).status == ReferralStatus.REWARDED
    assert len(await codes_of(referrer, program.reward_id)) == 1


async def test_a_reward_left_half_given_by_a_crash_is_given_once(tenant: Tenant) -> None:
    program, referrer, referee = await attached(tenant, hold_days=30)
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))
    referral = await referral_of(referee)
    # As a process leaves it when it dies between the status change and the reward.
    await Referral.get_pymongo_collection().update_one(
        {"_id": referral.id},
        {
            "$set": {
                "status": ReferralStatus.REWARDED.value,
                "reward_pending": True,
                "rewarded_at": utc_now() - timedelta(minutes=5),
            }
        },
    )

    assert await release_due_rewards() == 0
    await release_due_rewards()

    finished = await referral_of(referee)
    assert not finished.reward_pending and finished.reward_error == ""
    rewards = await codes_of(referrer, program.reward_id)
    assert [str(code.id) for code in rewards] == [finished.reward_code_id]
