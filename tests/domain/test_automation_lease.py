"""An automation action's lease lives in its own field: dueAt stays when the action was due,
a lease that ran out is taken over, and records leased before the field existed still work."""

from datetime import timedelta

from domain import automation
from domain.automation import LEASE, ActionStatus, ScheduledAction
from tests.domain.test_automation import T0, abandon, actions_of, cart_automation, executor
from tests.factories import Tenant, make_shopper

DUE = T0 + timedelta(hours=1)


async def test_a_performed_action_keeps_its_due_time(tenant: Tenant) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "cart")

    assert await executor().run_due(DUE + timedelta(minutes=7)) == 1

    [action] = await actions_of(found)
    assert action.status == ActionStatus.DONE
    assert action.due_at == DUE
    assert action.finished_at == DUE + timedelta(minutes=7)
    assert action.lease_until == DUE + timedelta(minutes=7) + LEASE


async def test_a_lease_that_ran_out_is_taken_over_without_moving_the_due_time(
    tenant: Tenant,
) -> None:
    await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "cart")

    leased = await automation.lease_due_action(owner="crashed", now=DUE)
    assert leased is not None and leased.due_at == DUE and leased.lease_until == DUE + LEASE
    # Held: nobody else takes it, even though it is due.
    assert (
        await automation.lease_due_action(
            owner="other", now=DUE + LEASE - timedelta(milliseconds=1)
        )
        is None
    )
    taken = await automation.lease_due_action(owner="other", now=DUE + LEASE)
    assert taken is not None and taken.id == leased.id
    assert (taken.lease_owner, taken.attempts, taken.due_at) == ("other", 2, DUE)


async def test_a_record_leased_before_lease_until_existed_is_read_by_its_due_time(
    tenant: Tenant,
) -> None:
    found = await cart_automation(tenant.project_id)
    ada = await make_shopper(project_id=tenant.project_id)
    await abandon(tenant.project_id, ada, T0, "cart")
    [action] = await actions_of(found)
    # As an earlier version left it: leased by a process that died, the lease's end in due_at.
    await ScheduledAction.get_pymongo_collection().update_one(
        {"_id": action.id},
        {
            "$set": {"lease_owner": "old", "due_at": DUE + LEASE, "attempts": 1},
            "$unset": {"lease_until": ""},
        },
    )
    assert await automation.lease_due_action(owner="new", now=DUE + timedelta(seconds=30)) is None
    assert await executor().run_due(DUE + LEASE) == 1
    [done] = await actions_of(found)
    assert done.status == ActionStatus.DONE and done.attempts == 2
