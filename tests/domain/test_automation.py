"""Automations: typed refusals that write nothing, conditions, durable scheduling, cancelling
events (eager and re-checked), the frequency cap under concurrency, awarding points once,
pausing, and tenancy."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from delivery.automation import AutomationExecutor
from delivery.outbox import Links
from domain import automation, events, segments
from domain.automation import (
    ActionInput,
    ActionStatus,
    Automation,
    AutomationInput,
    AutomationRun,
    AutomationStatus,
    DelayInput,
    ScheduledAction,
    conditions_match,
    create_automation,
    get_automation,
    set_automation_status,
)
from domain.campaigns import Campaign
from domain.customers import Customer
from domain.errors import DomainError, NotFound
from domain.loyalty import find_card
from domain.messages import Message
from tests.factories import Tenant, make_campaign, make_customer, make_loyalty_program, make_shopper

pytestmark = pytest.mark.usefixtures("tenant")

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LINKS = Links(base_url="http://testserver", secret_key="k" * 32)


def send_code(campaign: Campaign, channel: str = "EMAIL") -> ActionInput:
    return ActionInput(type="SEND_CODE", campaign_id=campaign.key, channel=channel)


async def cart_automation(project_id: str, **fields: Any) -> Automation:
    """cart.abandoned -> one hour later a code by email, unless an order came first."""
    campaign = fields.pop("campaign", None) or await make_campaign(
        project_id=project_id, name="Come back"
    )
    values: dict[str, Any] = {
        "name": "Abandoned cart",
        "trigger": "cart.abandoned",
        "action": send_code(campaign),
        "delay": DelayInput(hours=1),
        "cancel_on": ["order.recorded"],
    }
    values.update(fields)
    return await create_automation(project_id=project_id, data=AutomationInput(**values))


async def abandon(project_id: str, customer: Customer, at: datetime, key: str = "") -> Any:
    return await events.track_event(
        project_id,
        customer.key,
        "cart.abandoned",
        {"cartId": key or "c-1", "total": 4200},
        at=at,
        idempotency_key=key or None,
        now=at,
    )


async def actions_of(found: Automation) -> list[ScheduledAction]:
    return await ScheduledAction.find({"automation_id": found.key}).sort("created_at").to_list()


async def statuses(found: Automation) -> list[str]:
    return sorted(action.status.value for action in await actions_of(found))


def executor(owner: str = "") -> AutomationExecutor:
    return AutomationExecutor(LINKS, owner=owner or None)


async def test_refused_automations_say_why_and_write_nothing(tenant: Tenant) -> None:
    discount = await make_campaign(project_id=tenant.project_id)
    program = await make_loyalty_program(project_id=tenant.project_id)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"trigger": "Cart Abandoned"}, {"INVALID_EVENT_NAME"}),
        ({"name": " "}, {"INVALID"}),
        ({"conditions": {"total": {"bigger": 3}}}, {"INVALID_CONDITIONS"}),
        ({"conditions": ["total"]}, {"INVALID_CONDITIONS"}),
        ({"conditions": {"crossed": 500}}, {"INVALID_CONDITIONS"}),
        ({"trigger": "points.threshold"}, {"INVALID_CONDITIONS"}),
        ({"trigger": "customer.dormant"}, {"INVALID_CONDITIONS"}),
        ({"delay": DelayInput(minutes=-5)}, {"INVALID_DELAY"}),
        ({"delay": DelayInput(days=400)}, {"INVALID_DELAY"}),
        ({"cancel_on": ["cart.abandoned"]}, {"INVALID"}),
        ({"period_days": -1}, {"INVALID"}),
        ({"action": ActionInput(type="SEND_CODE", campaign_id=discount.key)}, {"INVALID_CHANNEL"}),
        ({"action": send_code(program)}, {"CAMPAIGN_NOT_DISCOUNT"}),
        (
            {"action": ActionInput(type="AWARD_POINTS", campaign_id=discount.key, points=5)},
            {"NOT_LOYALTY"},
        ),
        (
            {"action": ActionInput(type="AWARD_POINTS", campaign_id=program.key, points=0)},
            {"INVALID_POINTS"},
        ),
        ({"action": ActionInput(type="TELEPORT", campaign_id=program.key)}, {"INVALID_ACTION"}),
        (
            {"action": ActionInput(type="SEND_CODE", campaign_id="nope", channel="EMAIL")},
            {"NOT_FOUND"},
        ),
        (
            {"trigger": "x y", "delay": DelayInput(seconds=-1), "period_days": 99_999},
            {"INVALID_EVENT_NAME", "INVALID_DELAY", "INVALID"},
        ),
    ]
    for fields, codes in cases:
        with pytest.raises(DomainError) as refused:
            await cart_automation(tenant.project_id, campaign=discount, **fields)
        assert {p.code for p in refused.value.problems} == codes, fields
    assert await Automation.find({"project_id": tenant.project_id}).count() == 0


def test_conditions_on_event_properties() -> None:
    properties = {"total": 4200, "currency": "EUR", "cart": {"items": 3}, "vip": False}
    assert conditions_match(conditions={}, properties=properties)
    assert conditions_match(
        conditions={"currency": "EUR", "total": {"gte": 4000, "lt": 5000}}, properties=properties
    )
    assert conditions_match(
        conditions={"cart.items": {"in": [2, 3]}, "coupon": {"exists": False}},
        properties=properties,
    )
    assert conditions_match(
        conditions={"vip": False, "currency": {"ne": "USD"}}, properties=properties
    )
    assert not conditions_match(conditions={"currency": "USD"}, properties=properties)
    assert not conditions_match(conditions={"total": {"gt": 4200}}, properties=properties)
    assert not conditions_match(conditions={"missing": {"gte": 1}}, properties=properties)
    assert not conditions_match(conditions={"currency": {"gt": 3}}, properties=properties)
    assert not conditions_match(conditions={"cart.items": {"nin": [3]}}, properties=properties)
    assert conditions_match(conditions={"crossed": 500}, properties={"old": 400, "new": 500})
    assert not conditions_match(conditions={"crossed": 500}, properties={"old": 500, "new": 700})
    assert not conditions_match(conditions={"crossed": 500}, properties={"old": 100, "new": 499})


async def test_a_matching_event_schedules_one_durable_action(tenant: Tenant) -> None:
    found = await cart_automation(
        tenant.project_id, conditions={"total": {"gte": 1000}}, delay=DelayInput(minutes=90)
    )
    ada = await make_shopper(project_id=tenant.project_id)
    event = await abandon(tenant.project_id, ada, T0, key="cart-1")
    again = await abandon(tenant.project_id, ada, T0, key="cart-1")
    assert again.key == event.key
    small = await events.track_event(
        tenant.project_id, ada.key, "cart.abandoned", {"total": 10}, at=T0, now=T0
    )
    assert small.name == "cart.abandoned"
    [action] = await actions_of(found)
    assert action.status == ActionStatus.PENDING and action.event_id == event.key
    assert action.due_at == T0 + timedelta(minutes=90)
    # Not due yet: nothing happens however often the executor looks.
    assert await executor().run_due(T0 + timedelta(minutes=89)) == 0
    assert await executor().run_due(T0 + timedelta(minutes=90)) == 1
    assert await statuses(found) == ["DONE"]
    assert await Message.find({"project_id": tenant.project_id}).count() == 1


async def test_an_order_cancels_eagerly_and_the_executor_checks_again(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada, bob = (
        await make_shopper(project_id=tenant.project_id),
        await make_shopper(project_id=tenant.project_id, name="Bob"),
    )
    await abandon(tenant.project_id, ada, T0, "a")
    await abandon(tenant.project_id, bob, T0, "b")
    # Ada orders 10 minutes later: her pending action is cancelled at once.
    await events.emit(tenant.project_id, ada.key, "order.recorded", at=T0 + timedelta(minutes=10))
    by_customer = {a.customer_id: a for a in await actions_of(found)}
    assert by_customer[ada.key].status == ActionStatus.CANCELLED
    assert "order.recorded" in by_customer[ada.key].detail
    # Bob's action is leased when his order arrives, so only the executor's check can stop it.
    leased = await automation.lease_due_action(owner="gone", now=T0 + timedelta(hours=1))
    assert leased is not None and leased.customer_id == bob.key
    await events.emit(tenant.project_id, bob.key, "order.recorded", at=T0 + timedelta(minutes=61))
    assert (await ScheduledAction.get(leased.id)).status == ActionStatus.PENDING  # type: ignore[union-attr]
    assert await executor().run_due(T0 + timedelta(hours=2)) == 1
    assert await statuses(found) == ["CANCELLED", "CANCELLED"]
    assert await Message.find({"project_id": tenant.project_id}).count() == 0
    # An order before the cart was abandoned cancels nothing.
    await events.emit(tenant.project_id, ada.key, "order.recorded", at=T0 + timedelta(hours=3))
    await abandon(tenant.project_id, ada, T0 + timedelta(hours=4), "a2")
    assert await executor().run_due(T0 + timedelta(hours=6)) == 1
    assert "DONE" in await statuses(found)


async def test_once_per_period_and_once_ever(tenant: Tenant) -> None:
    monthly = await cart_automation(tenant.project_id, period_days=30)
    once = await cart_automation(tenant.project_id, name="Once", period_days=0)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "1")
    await abandon(tenant.project_id, ada, T0 + timedelta(days=2), "2")
    await executor().run_due(T0 + timedelta(days=3))
    assert await statuses(monthly) == ["DONE", "SKIPPED"]
    assert await statuses(once) == ["DONE", "SKIPPED"]
    # The period counts from the first action (day 3): day 33 is past it.
    await abandon(tenant.project_id, ada, T0 + timedelta(days=32), "3")
    await executor().run_due(T0 + timedelta(days=33))
    assert await statuses(monthly) == ["DONE", "DONE", "SKIPPED"]
    assert await statuses(once) == ["DONE", "SKIPPED", "SKIPPED"]


async def test_fifty_racing_executors_act_on_a_customer_once(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    for index in range(50):
        await abandon(tenant.project_id, ada, T0 + timedelta(seconds=index), f"cart-{index}")
    racers = [executor(f"executor-{index}") for index in range(50)]
    due = T0 + timedelta(hours=2)
    await asyncio.gather(*(racer.run_due(due) for racer in racers))
    assert (await statuses(found)).count("DONE") == 1
    assert (await statuses(found)).count("SKIPPED") == 49
    assert await Message.find({"project_id": tenant.project_id}).count() == 1
    assert await AutomationRun.find({"automation_id": found.key}).count() == 1


async def test_fifty_identical_triggers_schedule_once(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    tracked = await asyncio.gather(
        *(abandon(tenant.project_id, ada, T0, "same") for _ in range(50))
    )
    assert len({event.key for event in tracked}) == 1
    assert len(await actions_of(found)) == 1


async def test_award_points_once_even_when_retried(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    found = await create_automation(
        project_id=tenant.project_id,
        data=AutomationInput(
            name="Welcome points",
            trigger="customer.created",
            action=ActionInput(type="AWARD_POINTS", campaign_id=program.key, points=150),
        ),
    )
    ada = await make_shopper(project_id=tenant.project_id)
    await events.emit(tenant.project_id, ada.key, "customer.created", at=T0)
    # The first executor awards the points and dies before marking the action done.
    [action] = await actions_of(found)
    leased = await automation.lease_due_action(owner="dies", now=T0)
    assert leased is not None
    decision = await automation.decide(action=leased, owner="dies", now=T0)
    assert decision.status is None and decision.automation is not None
    await executor("dies").perform(leased, decision.automation)
    # Another takes the action over when the lease ends; the points are not given twice.
    assert await executor().run_due(T0 + timedelta(minutes=5)) == 1
    card = await find_card(
        project_id=tenant.project_id, campaign_id=program.key, customer_id=ada.key
    )
    assert card.balance == 150
    assert await statuses(found) == ["DONE"]
    assert action.key == leased.key


async def test_points_threshold_fires_when_the_balance_crosses_it(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    bonus = await make_loyalty_program(project_id=tenant.project_id)
    found = await create_automation(
        project_id=tenant.project_id,
        data=AutomationInput(
            name="500 club",
            trigger="points.threshold",
            conditions={"crossed": 500, "campaignId": program.key},
            action=ActionInput(type="AWARD_POINTS", campaign_id=bonus.key, points=50),
            period_days=0,
        ),
    )
    ada = await make_shopper(project_id=tenant.project_id)
    from domain.loyalty import grant_points

    await grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=400,
        key="g1",
        reason="test",
    )
    assert await actions_of(found) == []
    await grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=200,
        key="g2",
        reason="test",
    )
    await grant_points(
        project_id=tenant.project_id,
        campaign_id=program.key,
        customer_id=ada.key,
        points=200,
        key="g3",
        reason="test",
    )
    [action] = await actions_of(found)
    assert action.event_name == "points.changed"
    await executor().run_due()
    assert (
        await find_card(project_id=tenant.project_id, campaign_id=bonus.key, customer_id=ada.key)
    ).balance == 50


async def test_paused_automations_schedule_nothing_and_skip_what_was_pending(
    tenant: Tenant,
) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "1")
    await set_automation_status(
        project_id=tenant.project_id, automation_id=found.key, status=AutomationStatus.PAUSED
    )
    await abandon(tenant.project_id, ada, T0, "2")
    await executor().run_due(T0 + timedelta(hours=2))
    assert await statuses(found) == ["SKIPPED"]
    resumed = await set_automation_status(
        project_id=tenant.project_id, automation_id=found.key, status=AutomationStatus.ACTIVE
    )
    assert resumed.status == AutomationStatus.ACTIVE
    await abandon(tenant.project_id, ada, T0 + timedelta(hours=3), "3")
    await executor().run_due(T0 + timedelta(hours=5))
    assert await statuses(found) == ["DONE", "SKIPPED"]
    stats = await automation.automation_stats(project_id=tenant.project_id, automation_id=found.key)
    assert (stats.triggered, stats.executed, stats.skipped, stats.scheduled) == (2, 1, 1, 0)


async def test_a_failed_action_gives_its_frequency_slot_back(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    mute = await make_customer(project_id=tenant.project_id, name="No email")
    await abandon(tenant.project_id, mute, T0, "1")
    await executor().run_due(T0 + timedelta(hours=2))
    [failed] = await actions_of(found)
    assert failed.status == ActionStatus.FAILED and "NO_ADDRESS" in failed.detail
    await Customer.get_pymongo_collection().update_one(
        {"_id": mute.id}, {"$set": {"email": "late@example.com", "consents.email": True}}
    )
    await abandon(tenant.project_id, mute, T0 + timedelta(hours=3), "2")
    await executor().run_due(T0 + timedelta(hours=5))
    assert await statuses(found) == ["DONE", "FAILED"]


async def test_automations_and_events_stay_in_their_project(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    found = await cart_automation(tenant.project_id)
    stranger = await make_shopper(project_id=other_tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(other_tenant.project_id, stranger, T0, "x")
    assert await actions_of(found) == []
    with pytest.raises(NotFound):
        await get_automation(project_id=other_tenant.project_id, automation_id=found.key)
    with pytest.raises(DomainError) as refused:
        await events.track_event(other_tenant.project_id, ada.key, "cart.abandoned")
    assert refused.value.code == "NOT_FOUND"
    # Another project's order does not cancel this project's action.
    await abandon(tenant.project_id, ada, T0, "a")
    await events.emit(
        other_tenant.project_id, ada.key, "order.recorded", at=T0 + timedelta(minutes=5)
    )
    await executor().run_due(T0 + timedelta(hours=2))
    assert await statuses(found) == ["DONE"]


async def test_segment_conditions_are_checked_when_the_action_is_due(tenant: Tenant) -> None:
    vip = await segments.create_segment(
        project_id=tenant.project_id,
        name="VIP",
        kind=segments.SegmentKind.DYNAMIC,
        filter={"field": "attributes.tier", "op": "eq", "value": "vip"},
    )
    with pytest.raises(DomainError) as refused:
        await cart_automation(tenant.project_id, segment_ids=["65f000000000000000000001"])
    assert refused.value.code == "NOT_FOUND"
    found = await cart_automation(tenant.project_id, segment_ids=[vip.key])
    ada, bob = (
        await make_shopper(project_id=tenant.project_id),
        await make_shopper(project_id=tenant.project_id, name="Bob"),
    )
    await abandon(tenant.project_id, ada, T0, "a")
    await abandon(tenant.project_id, bob, T0, "b")
    # Ada joins the segment during the delay: membership counts when the action is due.
    await Customer.get_pymongo_collection().update_one(
        {"_id": ada.id}, {"$set": {"attributes": {"tier": "vip"}}}
    )
    await executor().run_due(T0 + timedelta(hours=2))
    by_customer = {a.customer_id: a.status for a in await actions_of(found)}
    assert by_customer == {ada.key: ActionStatus.DONE, bob.key: ActionStatus.SKIPPED}
