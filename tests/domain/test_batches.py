"""Round trips shared by concurrent requests: each request learns its own outcome, limits stay
exact, and a round trip that fails fails every request in it."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from starlette.applications import Starlette

from api.settings import Settings
from domain.batches import CounterTakes, ReadBatcher, ValueReads, WriteBatcher


@dataclass
class Commands(CommandListener):
    names: list[str] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name in ("update", "insert", "find", "findAndModify"):
            self.names.append(event.command_name)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
async def things(app: Starlette, settings: Settings, commands: Commands) -> AsyncIterator[Any]:
    """A collection reached through a client of its own, whose commands are counted."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[commands], tz_aware=True
    )
    collection = client[settings.database]["batched_things"]
    await collection.create_index("slot", unique=True)
    yield collection
    await client.close()


async def test_concurrent_upserts_share_round_trips_and_each_learns_its_outcome(
    things: Any, commands: Commands
) -> None:
    await things.insert_one({"slot": "s-0", "by": "earlier"})
    batcher = WriteBatcher(lambda: things)
    outcomes = await asyncio.gather(
        *(
            batcher.update_one(
                {"slot": f"s-{i % 50}"}, {"$setOnInsert": {"by": f"w-{i}"}}, upsert=True
            )
            for i in range(200)
        )
    )
    by_slot: dict[str, list[Any]] = {}
    for i, outcome in enumerate(outcomes):
        by_slot.setdefault(f"s-{i % 50}", []).append(outcome)
    # Every new slot was inserted by exactly one write; the others learned it was there.
    assert all(not outcome.upserted for outcome in by_slot["s-0"])
    for slot in (f"s-{n}" for n in range(1, 50)):
        assert sum(outcome.upserted for outcome in by_slot[slot]) == 1
    stored = {d["slot"]: d["by"] async for d in things.find({})}
    assert len(stored) == 50 and stored["s-0"] == "earlier"
    winners = {f"s-{i % 50}": f"w-{i}" for i, o in enumerate(outcomes) if o.upserted}
    assert all(stored[slot] == by for slot, by in winners.items())
    assert len(commands.names) < 20


async def test_updates_say_whether_they_matched(things: Any) -> None:
    await things.insert_many([{"slot": f"s-{i}", "state": "open"} for i in range(4)])
    batcher = WriteBatcher(lambda: things)
    closing = [
        batcher.update_one({"slot": f"s-{i}", "state": "open"}, {"$set": {"state": "shut"}})
        for i in range(4)
    ]
    assert [outcome.matched for outcome in await asyncio.gather(*closing)] == [True] * 4
    again = [
        batcher.update_one({"slot": f"s-{i}", "state": "open"}, {"$set": {"state": "shut"}})
        for i in range(4)
    ]
    assert [outcome.matched for outcome in await asyncio.gather(*again)] == [False] * 4
    await things.update_one({"slot": "s-1"}, {"$set": {"state": "open"}})
    mixed = await asyncio.gather(
        *(
            batcher.update_one({"slot": f"s-{i}", "state": "open"}, {"$set": {"state": "shut"}})
            for i in range(4)
        )
    )
    # Only one matched: the batch cannot tell which, so each caller is told to look.
    assert [outcome.matched for outcome in mixed] == [None] * 4
    assert await things.count_documents({"state": "shut"}) == 4


async def test_counter_takes_grant_exactly_the_limit_under_concurrency(
    things: Any, commands: Commands
) -> None:
    await things.insert_one({"slot": "code", "used": 0, "kind": "coupon"})
    takes = CounterTakes(lambda: things, "used")

    async def take() -> dict[str, Any] | None:
        return await takes.take_returning(
            {"slot": "code"}, 50, also_set={}, projection={"kind": 1, "used": 1}
        )

    results = await asyncio.gather(*(take() for _ in range(300)))
    granted = [result for result in results if result is not None]
    assert len(granted) == 50
    assert all(result["kind"] == "coupon" for result in granted)
    stored = await things.find_one({"slot": "code"})
    assert stored is not None and stored["used"] == 50
    # A few round trips, not one per take: those that fit went together, the rest were
    # refused on the counter's room.
    assert len(commands.names) < 20


async def test_counter_takes_without_a_limit_add_every_take(things: Any) -> None:
    await things.insert_one({"slot": "campaign", "used": 0})
    takes = CounterTakes(lambda: things, "used")
    results = await asyncio.gather(
        *(
            takes.take_returning({"slot": "campaign"}, None, also_set={}, projection=None)
            for _ in range(120)
        )
    )
    assert all(result is not None for result in results)
    stored = await things.find_one({"slot": "campaign"})
    assert stored is not None and stored["used"] == 120


async def test_reads_by_id_stay_in_their_project(things: Any, commands: Commands) -> None:
    inserted = await things.insert_many(
        [{"slot": f"s-{i}", "project_id": "p1" if i < 3 else "p2", "n": i} for i in range(4)]
    )
    ids = inserted.inserted_ids
    reads = ReadBatcher(lambda: things)
    found = await asyncio.gather(
        *(reads.find_by_id("p1", document_id, ("n",)) for document_id in ids),
        reads.find_by_id("p2", ids[3], ()),
    )
    assert [document["n"] if document else None for document in found[:4]] == [0, 1, 2, None]
    assert "slot" not in (found[0] or {})
    assert found[4] is not None and found[4]["slot"] == "s-3"
    assert len(commands.names) <= 3


async def test_reads_by_value_get_at_most_their_limit_each(things: Any, commands: Commands) -> None:
    await things.insert_many(
        [{"slot": f"a-{i}", "code": "A"} for i in range(5)]
        + [{"slot": "b", "code": "B"}, {"slot": "c-0", "code": "C"}, {"slot": "c-1", "code": "C"}]
    )
    reads = ValueReads(lambda: things, "code", 3)
    crowded = await asyncio.gather(reads.find("A"), reads.find("B"), reads.find("Z"))
    # A's five would crowd B out of a shared limit of six: each value was asked again alone.
    assert [len(found) for found in crowded] == [3, 1, 0]
    commands.names.clear()
    roomy = await asyncio.gather(reads.find("B"), reads.find("C"), reads.find("C"))
    assert [sorted(d["slot"] for d in found) for found in roomy] == [
        ["b"],
        ["c-0", "c-1"],
        ["c-0", "c-1"],
    ]
    assert commands.names == ["find"]


async def test_a_failed_round_trip_fails_every_request_in_it(app: Starlette) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        "mongodb://127.0.0.1:9", serverSelectionTimeoutMS=200
    )
    unreachable = client["nowhere"]["things"]
    writes = WriteBatcher(lambda: unreachable)
    takes = CounterTakes(lambda: unreachable, "used")
    reads = ReadBatcher(lambda: unreachable)
    by_value = ValueReads(lambda: unreachable, "code", 3)
    outcomes = await asyncio.gather(
        *(by_value.find(f"c-{i}") for i in range(3)),
        *(writes.insert_one({"n": i}) for i in range(3)),
        *(takes.take_returning({"slot": "x"}, 5, also_set={}, projection=None) for _ in range(3)),
        *(reads.find_by_id("p1", i, ()) for i in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, PyMongoError) for outcome in outcomes), outcomes
    await client.close()
