"""Customer events: trackEvent's checks, idempotency, the built-in events the domain emits
(customer created, order recorded, points changed, referral qualified), the daily dormancy and
birthday sweeps with injected dates, and dispatch after a crash."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain import events
from domain.automation import ActionInput, AutomationInput, ScheduledAction, create_automation
from domain.campaigns import Campaign
from domain.customer_lifecycle import create_customer
from domain.customers import Customer, CustomerInput
from domain.errors import DomainError
from domain.events import CustomerEvent
from domain.loyalty import grant_points
from domain.orders import apply_pending_order_effects, record_order
from domain.projects import Project
from domain.referrals import apply_referral_code, referral_link
from tests.factories import (
    Tenant,
    make_customer,
    make_loyalty_program,
    make_referral_program,
    make_shopper,
    order_input,
)

pytestmark = pytest.mark.usefixtures("tenant")

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


async def named(project_id: str, name: str) -> list[CustomerEvent]:
    return await CustomerEvent.find({"project_id": project_id, "name": name}).to_list()


async def listen(project_id: str, trigger: str, program: Campaign, **conditions: object) -> str:
    """An automation on `trigger`, so the sweeps look at the project."""
    found = await create_automation(
        project_id=project_id,
        data=AutomationInput(
            name=trigger,
            trigger=trigger,
            conditions=dict(conditions),
            action=ActionInput(type="AWARD_POINTS", campaign_id=program.key, points=10),
        ),
    )
    return found.key


async def test_refused_events_say_why_and_write_nothing(tenant: Tenant) -> None:
    ada = await make_shopper(project_id=tenant.project_id)
    erased = await make_customer(project_id=tenant.project_id, erased=True)
    cases = [
        ({"name": "Cart Abandoned"}, {"INVALID_EVENT_NAME"}),
        ({"name": "x" * 65}, {"INVALID_EVENT_NAME"}),
        ({"name": "order.recorded"}, {"RESERVED_EVENT"}),
        ({"properties": ["not", "an", "object"]}, {"INVALID"}),
        ({"properties": {"blob": "x" * 9000}}, {"PROPERTIES_TOO_LARGE"}),
        ({"at": NOW + timedelta(hours=1)}, {"INVALID"}),
        ({"idempotency_key": " "}, {"INVALID"}),
        ({"name": "", "at": NOW + timedelta(days=1)}, {"INVALID_EVENT_NAME", "INVALID"}),
        ({"customer_id": "65f000000000000000000001"}, {"NOT_FOUND"}),
        ({"customer_id": erased.key}, {"ERASED"}),
    ]
    for fields, codes in cases:
        arguments: dict[str, object] = {"customer_id": ada.key, "name": "cart.abandoned"}
        arguments.update(fields)
        with pytest.raises(DomainError) as refused:
            await events.track_event(tenant.project_id, now=NOW, **arguments)  # type: ignore[arg-type]
        assert {p.code for p in refused.value.problems} == codes, fields
    assert await CustomerEvent.find({"project_id": tenant.project_id}).count() == 0


async def test_an_idempotency_key_stores_one_event_however_many_race(tenant: Tenant) -> None:
    ada = await make_shopper(project_id=tenant.project_id)
    tracked = await asyncio.gather(
        *(
            events.track_event(
                tenant.project_id, ada.key, "cart.abandoned", {"n": i}, idempotency_key="cart-9"
            )
            for i in range(50)
        )
    )
    assert len({event.key for event in tracked}) == 1
    assert len(await named(tenant.project_id, "cart.abandoned")) == 1


async def test_customer_creation_and_orders_emit_their_events_once(tenant: Tenant) -> None:
    created = await create_customer(tenant.project_id, CustomerInput(name="Ada"), "test")
    [event] = await named(tenant.project_id, "customer.created")
    assert event.customer_id == created.key and event.source == "engage"
    recorded = await record_order(
        tenant.project_id, order_input(order_id="web-1", customer=created)
    )
    await record_order(tenant.project_id, order_input(order_id="web-1", customer=created))
    # The effects sweep finds nothing left, and emits nothing again.
    await apply_pending_order_effects(older_than=timedelta(0))
    [order_event] = await named(tenant.project_id, "order.recorded")
    assert order_event.properties["orderId"] == "web-1"
    assert order_event.properties["amount"] == 5_000
    assert order_event.at == recorded.order.created_at


async def test_earning_points_emits_the_balance_before_and_after(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=300,
        key="g1",
        reason="welcome",
    )
    await grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=300,
        key="g1",
        reason="welcome",
    )
    await grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=250,
        key="g2",
        reason="bonus",
    )
    changes = sorted(
        (e.properties["old"], e.properties["new"], e.properties["delta"])
        for e in await named(tenant.project_id, "points.changed")
    )
    assert changes == [(0, 300, 300), (300, 550, 250)]


async def test_a_qualified_referral_emits_for_the_referrer(tenant: Tenant) -> None:
    program = await make_referral_program(project_id=tenant.project_id)
    referrer = await make_customer(
        project_id=tenant.project_id, name="Referrer", email="r@example.com"
    )
    referee = await make_customer(
        project_id=tenant.project_id, name="Referee", email="e@example.com"
    )
    code = await referral_link(
        project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
    )
    await apply_referral_code(
        project_id=tenant.project_id, raw_code=code.code, customer_id=referee.key
    )
    await record_order(tenant.project_id, order_input(order_id="first", customer=referee))
    await record_order(tenant.project_id, order_input(order_id="second", customer=referee))
    [event] = await named(tenant.project_id, "referral.qualified")
    assert event.customer_id == referrer.key
    assert event.properties["refereeId"] == referee.key
    assert event.properties["orderId"] == "first"


async def test_dormant_customers_once_per_dormancy(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    await listen(tenant.project_id, "customer.dormant", program, days=90)
    lapsed = await make_customer(
        project_id=tenant.project_id,
        metrics={"orders_count": 1, "last_order_at": NOW - timedelta(days=100)},
    )
    await make_customer(
        project_id=tenant.project_id,
        metrics={"orders_count": 1, "last_order_at": NOW - timedelta(days=10)},
    )
    await make_customer(project_id=tenant.project_id)  # never ordered: never dormant
    assert await events.emit_dormant_events(NOW) == 1
    # Later the same day, and on the following days, the same dormancy is not emitted again.
    assert await events.emit_dormant_events(NOW + timedelta(hours=5)) == 0
    assert await events.emit_dormant_events(NOW + timedelta(days=1)) == 0
    assert await events.emit_dormant_events(NOW + timedelta(days=2)) == 0
    # 80 days later the second customer's 90 days are up.
    assert await events.emit_dormant_events(NOW + timedelta(days=81)) == 1
    # The lapsed customer orders again, then lapses again: a new dormancy.
    again = NOW + timedelta(days=100)
    await Customer.get_pymongo_collection().update_one(
        {"_id": lapsed.id}, {"$set": {"metrics.last_order_at": again}}
    )
    assert await events.emit_dormant_events(again + timedelta(days=91)) == 1
    dormant = await named(tenant.project_id, "customer.dormant")
    assert [e.customer_id for e in dormant].count(lapsed.key) == 2
    assert all(e.properties["days"] == 90 for e in dormant)
    # Each dormancy scheduled the automation's action.
    assert await ScheduledAction.find({"project_id": tenant.project_id}).count() == 3


async def test_birthdays_in_the_project_time_zone_once_a_year(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    await listen(tenant.project_id, "birthday", program)
    await Project.get_pymongo_collection().update_one(
        {"_id": tenant.project.id}, {"$set": {"messaging.timezone": "Pacific/Auckland"}}
    )
    full = await make_customer(project_id=tenant.project_id, attributes={"birthday": "1990-03-05"})
    short = await make_customer(project_id=tenant.project_id, attributes={"birthday": "03-05"})
    leap = await make_customer(project_id=tenant.project_id, attributes={"birthday": "2000-02-29"})
    await make_customer(project_id=tenant.project_id, attributes={"birthday": "1990-03-06"})
    await make_customer(project_id=tenant.project_id, attributes={"birthday": "not a date"})
    # 4 March 12:00 UTC is already 5 March in Auckland.
    march_4_utc = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert await events.emit_birthday_events(march_4_utc - timedelta(hours=12)) == 0
    assert await events.emit_birthday_events(march_4_utc) == 2
    assert await events.emit_birthday_events(march_4_utc + timedelta(hours=6)) == 0
    born = {e.customer_id for e in await named(tenant.project_id, "birthday")}
    assert born == {full.key, short.key}
    # 29 February is celebrated on the 28th in a year without one.
    assert await events.emit_birthday_events(datetime(2027, 2, 28, 0, 0, tzinfo=UTC)) == 1
    # The next year, again once.
    assert await events.emit_birthday_events(datetime(2027, 3, 4, 12, 0, tzinfo=UTC)) == 2
    assert await events.emit_birthday_events(datetime(2027, 3, 4, 13, 0, tzinfo=UTC)) == 0
    by_customer = [e.customer_id for e in await named(tenant.project_id, "birthday")]
    assert sorted(by_customer) == sorted([full.key, short.key, leap.key, full.key, short.key])


async def test_an_event_left_undispatched_by_a_crash_is_dispatched_later(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    await listen(tenant.project_id, "cart.abandoned", program)
    ada = await make_shopper(project_id=tenant.project_id)
    # The process stored the event and died before it scheduled anything.
    await CustomerEvent(
        project_id=tenant.project_id,
        customer_id=ada.key,
        name="cart.abandoned",
        at=NOW,
        dispatch_pending=True,
        created_at=NOW,
    ).insert()
    assert await events.dispatch_pending_events(NOW + timedelta(seconds=5)) == 0
    assert await events.dispatch_pending_events(NOW + timedelta(minutes=1)) == 1
    assert await events.dispatch_pending_events(NOW + timedelta(minutes=2)) == 0
    assert await ScheduledAction.find({"project_id": tenant.project_id}).count() == 1
