"""Recording orders: idempotency under concurrency, customer metrics, reversal, crash recovery."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from api.background import run_jobs_forever
from domain.campaigns import Campaign, CampaignKind, Limits
from domain.common import Money, as_utc, utc_now
from domain.customers import Customer
from domain.discounts import Order as OrderSnapshot
from domain.discounts import OrderItemInput
from domain.errors import DomainError
from domain.jobs import JobRunner
from domain.loyalty import LedgerEntry, find_card
from domain.loyalty_config import LoyaltyConfig
from domain.orders import (
    Order,
    OrderInput,
    OrderStatus,
    apply_pending_order_effects,
    record_order,
    set_order_status,
)
from domain.redemptions import (
    Reason,
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
    redeem_code,
    validate_code,
)
from tests.factories import Tenant, eur, make_campaign, make_code, make_customer, order_input


async def metrics_of(customer: Customer) -> Any:
    fresh = await Customer.get(customer.id)
    assert fresh is not None
    return fresh.metrics


async def test_recording_the_same_order_twice_counts_it_once(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)

    first = await record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
    again = await record_order(
        tenant.project_id, order_input(order_id="web-1", customer=customer, amount=eur(9_999))
    )

    assert first.created and not again.created
    assert again.order.id == first.order.id
    assert again.order.amount == eur(5_000)
    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (1, 5_000)
    assert await Order.find({"project_id": tenant.project_id}).count() == 1


async def test_twenty_concurrent_records_store_and_count_one_order(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)

    results = await asyncio.gather(
        *(
            record_order(tenant.project_id, order_input(order_id="web-7", customer=customer))
            for _ in range(20)
        )
    )

    assert sum(result.created for result in results) == 1
    assert len({result.order.id for result in results}) == 1
    assert await Order.find({"project_id": tenant.project_id}).count() == 1
    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (1, 5_000)


async def test_concurrent_orders_of_one_customer_all_count(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)

    await asyncio.gather(
        *(
            record_order(
                tenant.project_id,
                order_input(order_id=f"web-{n}", customer=customer, amount=eur(n)),
            )
            for n in range(1, 11)
        )
    )

    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (10, sum(range(1, 11)))


async def test_metrics_keep_first_and_last_order_times(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    assert (await metrics_of(customer)).first_order_at is None

    first = (
        await record_order(tenant.project_id, order_input(order_id="a", customer=customer))
    ).order
    second = (
        await record_order(
            tenant.project_id, order_input(order_id="b", customer=customer, amount=eur(250))
        )
    ).order

    metrics = await metrics_of(customer)
    assert as_utc(metrics.first_order_at) == as_utc(first.created_at)
    assert as_utc(metrics.last_order_at) == as_utc(second.created_at)
    assert (metrics.orders_count, metrics.total_spent) == (2, 5_250)


async def test_items_give_the_amount_and_codes_are_normalized(tenant: Tenant) -> None:
    items = [
        OrderItemInput(sku="TEE", quantity=2, price=eur(1_500)),
        OrderItemInput(sku="CAP", quantity=1, price=eur(2_000), category="hats"),
    ]

    recorded = await record_order(
        tenant.project_id,
        OrderInput(order_id=" web-2 ", amount=None, items=items, codes=["summer-20", "SUMMER 20"]),
    )

    stored = await Order.get(recorded.order.id)
    assert stored is not None
    assert stored.order_id == "web-2"
    assert stored.amount == eur(5_000)
    assert [item.sku for item in stored.items] == ["TEE", "CAP"]
    assert stored.codes == ["SUMMER20"]
    assert stored.customer_id == "" and not stored.effects_pending


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"order_id": " "}, {"INVALID"}),
        ({"amount": eur(-1)}, {"INVALID"}),
        ({"amount": None}, {"INVALID"}),
        (
            {"amount": eur(100), "items": [OrderItemInput(sku="", quantity=0, price=eur(-5))]},
            {"INVALID"},
        ),
        (
            {
                "amount": eur(100),
                "items": [
                    OrderItemInput(sku="X", quantity=1, price=Money(amount=1, currency="USD"))
                ],
            },
            {"CURRENCY_MISMATCH"},
        ),
        ({"customer_id": "not-an-id"}, {"NOT_FOUND"}),
        ({"customer_id": "65a000000000000000000000"}, {"NOT_FOUND"}),
    ],
)
async def test_invalid_orders_are_refused_and_write_nothing(
    tenant: Tenant, fields: dict[str, Any], codes: set[str]
) -> None:
    values: dict[str, Any] = {"order_id": "web-1", "amount": eur(100)}
    values.update(fields)

    with pytest.raises(DomainError) as refused:
        await record_order(tenant.project_id, OrderInput(**values))

    assert {problem.code for problem in refused.value.problems} == codes
    assert await Order.get_pymongo_collection().count_documents({}) == 0


async def test_a_customer_of_another_project_is_refused(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    stranger = await make_customer(project_id=other_tenant.project_id)

    with pytest.raises(DomainError) as refused:
        await record_order(tenant.project_id, order_input(order_id="web-1", customer=stranger))

    assert refused.value.problems[0].field == "customerId"
    assert (await metrics_of(stranger)).orders_count == 0


async def test_order_ids_are_unique_per_project_only(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await record_order(tenant.project_id, order_input(order_id="web-1"))
    theirs = await record_order(other_tenant.project_id, order_input(order_id="web-1"))

    assert mine.created and theirs.created
    with pytest.raises(DomainError) as missing:
        await set_order_status(other_tenant.project_id, "web-2", OrderStatus.CANCELLED)
    assert missing.value.code == "NOT_FOUND"


async def test_cancelling_reverses_metrics_once_and_a_second_cancel_is_refused(
    tenant: Tenant,
) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    await record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
    await record_order(
        tenant.project_id, order_input(order_id="web-2", customer=customer, amount=eur(700))
    )

    cancelled = await set_order_status(tenant.project_id, "web-1", OrderStatus.CANCELLED)
    with pytest.raises(DomainError) as again:
        await set_order_status(tenant.project_id, "web-1", OrderStatus.CANCELLED)
    with pytest.raises(DomainError) as refund:
        await set_order_status(tenant.project_id, "web-1", OrderStatus.REFUNDED)

    assert cancelled.status == OrderStatus.CANCELLED and cancelled.status_changed_at is not None
    assert again.value.code == "ORDER_ALREADY_CANCELLED"
    assert refund.value.code == "ORDER_ALREADY_CANCELLED"
    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (1, 700)


async def test_concurrent_refunds_reverse_once(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    await record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
    await record_order(
        tenant.project_id, order_input(order_id="web-2", customer=customer, amount=eur(700))
    )

    outcomes = await asyncio.gather(
        *(set_order_status(tenant.project_id, "web-1", OrderStatus.REFUNDED) for _ in range(10)),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 9
    assert {error.code for error in refused} == {"ORDER_ALREADY_REFUNDED"}
    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (1, 700)


async def test_an_order_cannot_be_set_back_to_paid(tenant: Tenant) -> None:
    await record_order(tenant.project_id, order_input(order_id="web-1"))

    with pytest.raises(DomainError) as refused:
        await set_order_status(tenant.project_id, "web-1", "PAID")

    assert refused.value.code == "INVALID_STATUS"


async def redeem_for_order(project_id: str, order_id: str, customer: Customer) -> str:
    redemption = await redeem_code(
        project_id=project_id,
        raw_code="SUMMER-20",
        customer_id=customer.key,
        order=OrderSnapshot(id=order_id, amount=eur(5_000)),
        idempotency_key=None,
        channel=RedemptionChannel.ONLINE,
        api_key_id="",
    )
    return redemption.key


@pytest.mark.parametrize("releases", [True, False])
async def test_a_refund_releases_the_codes_limits_only_when_the_campaign_says_so(
    tenant: Tenant, releases: bool
) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id,
        limits=Limits(per_code=1),
        release_limits_on_refund=releases,
        timezone="UTC",
    )
    await make_code(campaign=campaign)
    customer = await make_customer(project_id=tenant.project_id)
    await redeem_for_order(tenant.project_id, "web-1", customer)
    await record_order(
        tenant.project_id, order_input(order_id="web-1", customer=customer, codes=["summer-20"])
    )
    used = await validate_code(
        project_id=tenant.project_id, raw_code="SUMMER-20", customer_id=customer.key, order=None
    )
    assert Reason.CODE_LIMIT_REACHED in used.reasons

    await set_order_status(tenant.project_id, "web-1", OrderStatus.REFUNDED)
    await apply_pending_order_effects(tenant.project_id, now=utc_now() + timedelta(hours=1))

    after = await validate_code(
        project_id=tenant.project_id, raw_code="SUMMER-20", customer_id=customer.key, order=None
    )
    assert after.valid is releases
    statuses = [
        r.status for r in await Redemption.find({"project_id": tenant.project_id}).to_list()
    ]
    expected = RedemptionStatus.ROLLED_BACK if releases else RedemptionStatus.SUCCEEDED
    assert statuses == [expected]
    if releases:
        await redeem_for_order(tenant.project_id, "web-2", customer)


async def test_pending_effects_are_applied_once_after_a_crash(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    # What a process that died right after the insert leaves behind.
    crashed = Order(
        project_id=tenant.project_id,
        order_id="web-9",
        customer_id=customer.key,
        amount=eur(1_200),
        created_at=utc_now() - timedelta(minutes=5),
    )
    await crashed.insert()
    fresh = (
        await record_order(tenant.project_id, order_input(order_id="web-10", customer=customer))
    ).order
    await Order.get_pymongo_collection().update_one(
        {"_id": fresh.id}, {"$set": {"effects_pending": True}}
    )

    first = await apply_pending_order_effects()
    second = await apply_pending_order_effects()

    # The recent order may still be in the hands of its own process: it is left alone.
    assert (first, second) == (1, 0)
    stored = await Order.get(crashed.id)
    assert stored is not None and not stored.effects_pending
    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (2, 6_200)


async def test_a_retried_effect_already_applied_is_not_counted_again(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    recorded = (
        await record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
    ).order
    # A crash after the metrics moved but before the order was marked done.
    await Order.get_pymongo_collection().update_one(
        {"_id": recorded.id},
        {"$set": {"effects_pending": True, "created_at": utc_now() - timedelta(minutes=5)}},
    )

    assert await apply_pending_order_effects(tenant.project_id) == 1

    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (1, 5_000)


async def test_a_reversal_left_pending_is_finished_once(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    await record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
    # A process that died right after flipping the status.
    await Order.get_pymongo_collection().update_one(
        {"project_id": tenant.project_id, "order_id": "web-1"},
        {
            "$set": {
                "status": OrderStatus.REFUNDED.value,
                "status_changed_at": utc_now() - timedelta(minutes=5),
                "reversal_pending": True,
            }
        },
    )

    assert await apply_pending_order_effects(tenant.project_id) == 1
    assert await apply_pending_order_effects(tenant.project_id) == 0

    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (0, 0)


async def points_of(campaign: Campaign, customer: Customer) -> tuple[int, int]:
    """The card's balance and the sum of its ledger, which must always agree."""
    card = await find_card(
        project_id=campaign.project_id, campaign_id=campaign.key, customer_id=customer.key
    )
    entries = await LedgerEntry.find(
        {"project_id": campaign.project_id, "customer_id": customer.key}
    ).to_list()
    return card.balance, sum(entry.points for entry in entries)


async def test_an_order_earns_points_once_and_a_cancel_takes_them_back_once(
    tenant: Tenant,
) -> None:
    program = Campaign(
        project_id=tenant.project_id,
        name="Points",
        kind=CampaignKind.LOYALTY,
        loyalty=LoyaltyConfig(points_per_unit=1),
    )
    await program.insert()
    customer = await make_customer(project_id=tenant.project_id)

    await asyncio.gather(
        *(
            record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
            for _ in range(20)
        )
    )
    await record_order(tenant.project_id, order_input(order_id="web-1", customer=customer))
    assert await points_of(program, customer) == (50, 50)

    await set_order_status(tenant.project_id, "web-1", OrderStatus.CANCELLED)
    with pytest.raises(DomainError):
        await set_order_status(tenant.project_id, "web-1", OrderStatus.REFUNDED)
    # A reversal retried by the sweep takes nothing more.
    await Order.get_pymongo_collection().update_one(
        {"project_id": tenant.project_id, "order_id": "web-1"},
        {"$set": {"reversal_pending": True}},
    )
    await apply_pending_order_effects(tenant.project_id, now=utc_now() + timedelta(hours=1))

    assert await points_of(program, customer) == (0, 0)
    metrics = await metrics_of(customer)
    assert (metrics.orders_count, metrics.total_spent) == (0, 0)


async def test_the_job_loop_finishes_orders_left_pending(tenant: Tenant) -> None:
    customer = await make_customer(project_id=tenant.project_id)
    crashed = Order(
        project_id=tenant.project_id,
        order_id="web-9",
        customer_id=customer.key,
        amount=eur(1_200),
        created_at=utc_now() - timedelta(minutes=5),
    )
    await crashed.insert()

    loop = asyncio.create_task(run_jobs_forever(JobRunner(owner="sweeper"), idle_seconds=0.05))
    try:
        for _ in range(600):
            stored = await Order.get(crashed.id)
            if stored is not None and not stored.effects_pending:
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop

    assert stored is not None and not stored.effects_pending
    assert (await metrics_of(customer)).orders_count == 1
