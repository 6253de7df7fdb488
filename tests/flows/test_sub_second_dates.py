"""Product answers at sub-second boundaries: a campaignStats window with a fractional bound, and
an order in the same second after an abandoned cart cancelling its automation."""

from datetime import UTC, datetime, timedelta

from domain import automation, events
from domain.automation import ActionStatus, ScheduledAction
from domain.messages import Message
from tests.domain.test_automation import abandon, cart_automation, executor, statuses
from tests.factories import Tenant, make_campaign, make_code, make_shopper
from tests.schema.test_analytics import STATS

SECOND = datetime(2026, 5, 4, 12, 0, 51, tzinfo=UTC)


def at(milliseconds: int) -> datetime:
    return SECOND + timedelta(milliseconds=milliseconds)


async def test_campaign_stats_window_with_a_fractional_bound(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, name="Spring")
    # Three codes published inside one second, at .115, .600 and .700.
    for index, milliseconds in enumerate((115, 600, 700)):
        await make_code(
            campaign=campaign,
            display=f"SPRING-{index}",
            assigned=True,
            published_at=at(milliseconds),
        )

    async def published(start: str | None, end: str | None) -> int:
        variables = {"id": campaign.key, "from": start, "to": end}
        stats = (await tenant.gql(STATS, variables))["campaignStats"]
        return int(stats["published"])

    assert await published(None, None) == 3
    # [from, to): .600 starts the window, so .115 is before it and .600 inside.
    assert await published("2026-05-04T12:00:51.600Z", "2026-05-04T13:00:00Z") == 2
    assert await published("2026-05-04T12:00:51.601Z", "2026-05-04T13:00:00Z") == 1
    assert await published("2026-05-04T12:00:00Z", "2026-05-04T12:00:51.600Z") == 1
    assert await published("2026-05-04T12:00:51.116Z", "2026-05-04T12:00:51.700Z") == 1


async def test_an_order_in_the_same_second_after_the_cart_cancels_the_automation(
    tenant: Tenant,
) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    bob = await make_shopper(project_id=tenant.project_id, name="Bob")
    await abandon(tenant.project_id, ada, at(115), "ada-cart")
    await abandon(tenant.project_id, bob, at(115), "bob-cart")

    # Ada orders 485 ms after abandoning, in the same second: cancelled at once.
    await events.emit(tenant.project_id, ada.key, "order.recorded", at=at(600))
    ada_action = await ScheduledAction.find_one({"customer_id": ada.key})
    assert ada_action is not None and ada_action.status == ActionStatus.CANCELLED

    # Bob's action is leased when his order comes, so the executor's own check must see it.
    leased = await automation.lease_due_action(owner="gone", now=at(115) + timedelta(hours=1))
    assert leased is not None and leased.customer_id == bob.key
    await events.emit(tenant.project_id, bob.key, "order.recorded", at=at(116))
    assert await executor().run_due(SECOND + timedelta(hours=2)) == 1
    assert await statuses(found) == ["CANCELLED", "CANCELLED"]
    assert await Message.find({"project_id": tenant.project_id}).count() == 0

    # An order earlier in the same second cancels nothing.
    await abandon(tenant.project_id, ada, at(10_500), "ada-cart-2")
    await events.emit(tenant.project_id, ada.key, "order.recorded", at=at(10_400))
    assert await executor().run_due(SECOND + timedelta(hours=3)) == 1
    assert await statuses(found) == ["CANCELLED", "CANCELLED", "DONE"]
