"""A process killed in the middle of a ledger entry leaves a card that the background loop
repairs by itself: the entry applied once, the balance the ledger's sum."""

import asyncio
import contextlib
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

from api.background import run_jobs_forever
from api.settings import PROJECT_ROOT, Settings
from domain.common import utc_now
from domain.jobs import JobRunner
from domain.loyalty import LedgerEntry, LoyaltyCard, repair_stale_cards
from tests.domain.test_loyalty import assert_consistent, card_of, funded
from tests.factories import Tenant

# Adds 7 points, and freezes (until killed) when the driver is asked to mark the entry applied:
# the entry is inserted and the card moved, the mark is never written.
DYING_WRITER = """
import asyncio, sys, time
from pathlib import Path

from pymongo.asynchronous.collection import AsyncCollection

from api.database import init_database, make_client
from domain.loyalty import adjust_points

uri, database, marker, project_id, customer_id, campaign_id = sys.argv[1:7]
update_one = AsyncCollection.update_one


async def freezing_update_one(self, query, update, *args, **kwargs):
    if self.name == "loyalty_ledger" and update.get("$set", {}).get("applied") is True:
        Path(marker).write_text("moved")
        time.sleep(3600)
    return await update_one(self, query, update, *args, **kwargs)


AsyncCollection.update_one = freezing_update_one


async def main():
    await init_database(make_client(uri), database)
    await adjust_points(
        project_id=project_id,
        customer_id=customer_id,
        campaign_id=campaign_id,
        points=7,
        reason="killed mid-entry",
        actor="test",
    )


asyncio.run(main())
"""


async def kill_mid_entry(settings: Settings, tmp_path: Path, *owner: str) -> None:
    marker = tmp_path / "moved"
    assert settings.mongodb_uri is not None
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DYING_WRITER,
        settings.mongodb_uri,
        settings.database,
        str(marker),
        *owner,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.returncode is None, "the writer ended before it moved the card"
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()


async def age_unapplied_entries(card: LoyaltyCard) -> None:
    """The crash happened over a minute ago: younger entries count as still being written."""
    await LedgerEntry.get_pymongo_collection().update_many(
        {"card_id": card.key, "applied": False},
        {"$set": {"created_at": utc_now() - timedelta(minutes=2)}},
    )


async def test_the_background_loop_repairs_a_card_left_by_a_killed_process(
    tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    program, customer = await funded(tenant, 10)
    await kill_mid_entry(settings, tmp_path, tenant.project_id, customer.key, program.key)

    broken = await card_of(program, customer)
    [stuck] = await LedgerEntry.find({"card_id": broken.key, "applied": False}).to_list()
    assert (broken.balance, broken.inflight, stuck.points) == (17, [stuck.key_id], 7)
    await age_unapplied_entries(broken)

    loop = asyncio.create_task(run_jobs_forever(JobRunner(owner="sweeper"), idle_seconds=0.05))
    try:
        deadline = time.monotonic() + 60
        while (await card_of(program, customer)).inflight:
            assert not loop.done(), "the background loop ended"
            assert time.monotonic() < deadline, "the card was never repaired"
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop

    card = await assert_consistent(program, customer)
    assert card.balance == 17
    assert (await LedgerEntry.get(stuck.id)).applied  # type: ignore[union-attr]


async def test_the_sweep_leaves_entries_still_being_written_alone(
    tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    program, customer = await funded(tenant, 10)
    await kill_mid_entry(settings, tmp_path, tenant.project_id, customer.key, program.key)

    assert await repair_stale_cards() == 0
    assert (await card_of(program, customer)).inflight != []
    # A minute later it counts as abandoned, and one sweep repairs it.
    assert await repair_stale_cards(now=utc_now() + timedelta(minutes=2)) == 1
    await assert_consistent(program, customer)
