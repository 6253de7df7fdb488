"""Attempt counters: exact under concurrency, all-or-nothing across buckets, windows that end,
taken in leases that never let several processes together spend more than the limit."""

import asyncio
import json
import sys
from pathlib import Path

import pytest
from starlette.applications import Starlette

from api.settings import Settings
from domain.errors import DomainError
from domain.rate_limits import (
    SERVICE_WIDE,
    Bucket,
    RateLimited,
    RateLimitWindow,
    forget_holds,
    give_back,
    parse_rates,
    take,
    used,
)

# A fixed moment 10 s into a minute, so window arithmetic in the tests is exact.
NOW = 1_800_000_010.0
ROOT = Path(__file__).resolve().parents[2]


def bucket(rate: str, subject: str = "key-1", project_id: str = "p1") -> Bucket:
    return Bucket(project_id, "test", subject, parse_rates(rate))


async def outcome(buckets: list[Bucket], units: int, now: float = NOW) -> bool:
    try:
        await take(buckets, units, now=now)
    except RateLimited:
        return False
    return True


async def test_exactly_the_limit_is_granted_to_hundreds_of_concurrent_attempts(
    app: Starlette,
) -> None:
    limited = bucket("50/minute")
    results = await asyncio.gather(*(outcome([limited], 1) for _ in range(300)))
    assert results.count(True) == 50
    assert await used(limited, now=NOW) == [50]


async def test_costlier_attempts_are_counted_exactly_under_concurrency(app: Starlette) -> None:
    limited = bucket("52/minute")
    results = await asyncio.gather(*(outcome([limited], 5) for _ in range(200)))
    # 10 attempts of 5 fit into 52; the 2 units left never admit another.
    assert results.count(True) == 10
    assert await used(limited, now=NOW) == [50]


async def test_a_refusal_says_when_the_window_ends(app: Starlette) -> None:
    limited = bucket("2/minute")
    await take([limited], 2, now=NOW)
    with pytest.raises(RateLimited) as refused:
        await take([limited], 1, now=NOW)
    assert refused.value.retry_after == 50
    assert refused.value.code == "RATE_LIMITED"
    assert isinstance(refused.value, DomainError)
    assert "retry in 50 s" in str(refused.value)


async def test_the_next_window_starts_empty(app: Starlette) -> None:
    limited = bucket("2/minute")
    await take([limited], 2, now=NOW)
    assert not await outcome([limited], 1, now=NOW + 49.9)
    assert await outcome([limited], 2, now=NOW + 50.0)


async def test_every_rate_of_a_bucket_must_have_room(app: Starlette) -> None:
    limited = bucket("3/second;5/minute")
    assert await outcome([limited], 3, now=NOW)
    assert not await outcome([limited], 1, now=NOW)
    assert await outcome([limited], 2, now=NOW + 1)
    with pytest.raises(RateLimited) as refused:
        await take([limited], 1, now=NOW + 2)
    assert refused.value.retry_after == 48  # the minute's window, not the second's
    assert await used(limited, now=NOW + 2) == [0, 5]


async def test_a_refused_attempt_takes_nothing_from_any_bucket(app: Starlette) -> None:
    roomy, full = bucket("100/minute", "key-1"), bucket("1/minute", "address", SERVICE_WIDE)
    await take([full], 1, now=NOW)
    assert not await outcome([roomy, full], 1)
    assert await used(roomy, now=NOW) == [0]
    assert await used(full, now=NOW) == [1]


async def test_subjects_and_projects_are_counted_apart(app: Starlette) -> None:
    await take([bucket("1/minute", "key-1")], 1, now=NOW)
    assert not await outcome([bucket("1/minute", "key-1")], 1)
    assert await outcome([bucket("1/minute", "key-2")], 1)
    assert await outcome([bucket("1/minute", "key-1", project_id="p2")], 1)


async def test_giving_back_frees_room_in_the_windows_taken_from(app: Starlette) -> None:
    limited = bucket("10/minute")
    taken = await take([limited], 5, now=NOW)
    await take([limited], 5, now=NOW)
    await give_back(taken, 4)
    assert await used(limited, now=NOW) == [6]
    assert await outcome([limited], 4)


async def test_an_attempt_costlier_than_the_limit_is_never_granted(app: Starlette) -> None:
    assert not await outcome([bucket("3/minute")], 5)
    assert await RateLimitWindow.get_pymongo_collection().count_documents({}) == 0


async def test_counters_expire_after_their_window(app: Starlette) -> None:
    await take([bucket("3/minute")], 1, now=NOW)
    stored = await RateLimitWindow.get_pymongo_collection().find_one({})
    assert stored is not None
    # The window ends 50 s after NOW; the counter lasts one margin minute longer.
    assert stored["expire_at"].timestamp() == NOW + 50 + 60
    indexes = await RateLimitWindow.get_pymongo_collection().index_information()
    assert any(index.get("expireAfterSeconds") == 0 for index in indexes.values())


def test_rates_are_read_from_limits_strings() -> None:
    assert [(r.amount, r.get_expiry()) for r in parse_rates("10/second;600/minute")] == [
        (10, 1),
        (600, 60),
    ]
    with pytest.raises(ValueError):
        parse_rates("plenty")


async def stored_units(limited: Bucket) -> int:
    found = await RateLimitWindow.get_pymongo_collection().find_one(
        {"_id": {"$regex": f"^{limited.project_id}\\|{limited.scope}\\|{limited.subject}\\|"}}
    )
    return int(found["units"]) if found else 0


async def test_a_large_limit_is_taken_a_lease_at_a_time(app: Starlette) -> None:
    limited = bucket("5000/minute")  # leases of 100 units
    taken = await take([limited], 5, now=NOW)
    assert await stored_units(limited) == 100
    for _ in range(19):
        await take([limited], 5, now=NOW)
    # Twenty attempts spent the lease without another write.
    assert await stored_units(limited) == 100
    assert await used(limited, now=NOW) == [100]
    await take([limited], 5, now=NOW)
    assert await stored_units(limited) == 200
    # Given back: kept for this process's next attempts, and no longer counted as spent.
    await give_back(taken, 4)
    assert await used(limited, now=NOW) == [101]
    assert await stored_units(limited) == 200


async def test_near_the_limit_an_attempt_takes_only_its_own_units(app: Starlette) -> None:
    limited = bucket("1000/minute")  # leases of 20 units
    await take([limited], 985, now=NOW)
    # No room for a lease of 20: the next attempts take exactly what they need.
    for _ in range(3):
        await take([limited], 5, now=NOW)
    assert await stored_units(limited) == 1000
    assert not await outcome([limited], 1)


async def test_a_process_that_forgets_its_hold_only_refuses_earlier(app: Starlette) -> None:
    limited = bucket("1000/minute")
    await take([limited], 1, now=NOW)
    forget_holds()  # as a process that died holding 19 unspent units
    assert await used(limited, now=NOW) == [20]
    assert await stored_units(limited) == 20


TAKER = """
import asyncio, json, sys
from api.database import init_database, make_client
from domain.rate_limits import RateLimited, Bucket, parse_rates, take

async def main(uri, name, attempts, now):
    client = make_client(uri)
    await init_database(client, name)
    limited = Bucket("p1", "test", "shared", parse_rates("1000/minute"))

    async def one():
        try:
            await take([limited], 1, now=now)
            return True
        except RateLimited:
            return False

    results = await asyncio.gather(*(one() for _ in range(attempts)))
    await client.close()
    print(json.dumps(results))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


async def test_leases_in_several_processes_never_spend_more_than_the_limit(
    app: Starlette, settings: Settings
) -> None:
    assert settings.mongodb_uri is not None
    arguments = [settings.mongodb_uri, settings.database, "500", str(NOW)]
    takers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            TAKER,
            *arguments,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [await taker.communicate() for taker in takers]
    for taker, (_, stderr) in zip(takers, outputs, strict=True):
        assert taker.returncode == 0, stderr.decode()
    granted = sum(json.loads(stdout).count(True) for stdout, _ in outputs)
    # 1,500 attempts at a limit of 1,000: never more, and at most the three processes' unspent
    # leases (20 units each) fewer.
    assert 1000 - 3 * 20 <= granted <= 1000
    assert await stored_units(bucket("1000/minute", "shared")) <= 1000
