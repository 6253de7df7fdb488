"""The automation executor across crashes: an executor that dies after leasing, or after
sending but before marking the action done, leaves work another executor finishes exactly once."""

from datetime import timedelta

import pytest

from delivery.automation import AutomationExecutor
from domain import automation
from domain.automation import ActionStatus, ScheduledAction
from domain.codes import Code
from domain.experiments import assign
from domain.messages import Message
from tests.delivery.test_distribution import variant_experiment
from tests.domain.test_automation import LINKS, T0, abandon, cart_automation
from tests.factories import Tenant, make_shopper

pytestmark = pytest.mark.usefixtures("tenant")

DUE = T0 + timedelta(hours=1)


async def test_an_executor_dying_after_its_lease_hands_the_action_on(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "cart-1")
    dead = await automation.lease_due_action(owner="dead", now=DUE)
    assert dead is not None
    survivor = AutomationExecutor(LINKS, owner="survivor")
    # While the lease runs nobody else touches the action.
    assert await survivor.run_due(DUE + timedelta(seconds=30)) == 0
    assert await survivor.run_due(DUE + automation.LEASE) == 1
    [action] = await ScheduledAction.find({"automation_id": found.key}).to_list()
    assert action.status == ActionStatus.DONE and action.attempts == 2
    [message] = await Message.find({"project_id": tenant.project_id}).to_list()
    assert message.to == "ada@example.com" and message.code == action.code
    assert message.idempotency_key == f"automation:{action.key}"
    # The dead executor cannot settle what it no longer holds.
    assert not await automation.settle(
        action=dead, owner="dead", status=ActionStatus.FAILED, detail="late", now=DUE
    )


async def test_an_executor_dying_after_sending_does_not_send_twice(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "cart-1")
    crashing = AutomationExecutor(LINKS, owner="crashing")
    leased = await automation.lease_due_action(owner=crashing.owner, now=DUE)
    assert leased is not None
    decision = await automation.decide(action=leased, owner=crashing.owner, now=DUE)
    assert decision.automation is not None and decision.status is None
    await crashing.perform(leased, decision.automation)
    # It died here: the code is published and the message queued, the action still PENDING.
    assert (await ScheduledAction.get(leased.id)).status == ActionStatus.PENDING  # type: ignore[union-attr]
    restarted = AutomationExecutor(LINKS, owner="restarted")
    assert await restarted.run_due(DUE + automation.LEASE) == 1
    [action] = await ScheduledAction.find({"automation_id": found.key}).to_list()
    assert action.status == ActionStatus.DONE
    assert await Message.find({"project_id": tenant.project_id}).count() == 1
    assert await Code.find({"project_id": tenant.project_id, "customer_id": ada.key}).count() == 1
    assert action.message_id and action.code


async def test_a_refused_send_fails_without_retrying(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "cart-1")
    # The campaign ended during the delay: the code cannot be given.
    from domain.campaigns import Campaign

    await Campaign.get_pymongo_collection().update_one(
        {"project_id": tenant.project_id}, {"$set": {"status": "ENDED"}}
    )
    assert await AutomationExecutor(LINKS).run_due(DUE) == 1
    [action] = await ScheduledAction.find({"automation_id": found.key}).to_list()
    assert action.status == ActionStatus.FAILED and "CAMPAIGN_ENDED" in action.detail
    assert await AutomationExecutor(LINKS).run_due(DUE + timedelta(days=1)) == 0


async def test_an_action_without_a_template_sends_the_variant_template(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    campaign_id = found.action.campaign_id
    experiment, template = await variant_experiment(tenant.project_id, campaign_id)
    shoppers = [await make_shopper(project_id=tenant.project_id, name=f"S{i}") for i in range(12)]
    arms = {
        s.key: assign(experiment_id=experiment.key, customer_id=s.key, arms=experiment.arms)
        for s in shoppers
    }
    assert set(arms.values()) == {"a", "b"}
    for n, customer in enumerate(shoppers):
        await abandon(tenant.project_id, customer, T0, f"cart-{n}")
    assert await AutomationExecutor(LINKS).run_due(DUE) == len(shoppers)
    sent = await Message.find({"project_id": tenant.project_id}).to_list()
    assert len(sent) == len(shoppers)
    for message in sent:
        expected = template.key if arms[message.customer_id] == "a" else "builtin:coupon"
        assert message.template_id == expected
