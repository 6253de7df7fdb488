"""Guessing limits: fixed-window attempt counters in MongoDB, shared by every API process.

`limits`' own MongoDB storage is not used: its fixed and sliding windows update with aggregation
pipelines and its moving window filters with `$not`, neither of which the embedded server runs,
and its async storage needs Motor rather than pymongo's async client. Only its rate strings
("10/second;600/minute") are used here.
"""

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from beanie import Document
from limits import RateLimitItem, parse_many
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.errors import CommonError, DomainError

# The project of counters kept per client address: one address is one guesser in every project.
SERVICE_WIDE = ""
# A window's counter outlives its window a little, so a late give-back still finds it.
EXPIRY_MARGIN = timedelta(minutes=1)


class RateLimitWindow(Document):
    """Units taken by one subject in one window; `_id` names project, scope, subject, rate and
    window start, so the unique `_id` index makes one counter per window."""

    id: str  # type: ignore[assignment]
    project_id: str
    units: int
    expire_at: datetime

    class Settings:
        name = "rate_limit_windows"
        indexes = [IndexModel([("expire_at", 1)], expireAfterSeconds=0)]


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(CommonError.RATE_LIMITED, f"too many attempts; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Bucket:
    """Who is counted (`subject`), for what (`scope`), and at which rates."""

    project_id: str
    scope: str
    subject: str
    rates: tuple[RateLimitItem, ...]


@dataclass(frozen=True)
class Taken:
    """The windows an attempt took units from, so they can be given back to the same windows."""

    window_ids: tuple[str, ...]
    units: int


NOTHING_TAKEN = Taken(window_ids=(), units=0)


@lru_cache(maxsize=64)
def parse_rates(text: str) -> tuple[RateLimitItem, ...]:
    """ "600/minute" or "10/second;600/minute"; raises ValueError on anything else."""
    rates = tuple(parse_many(text))
    if not rates:
        raise ValueError(f"no rate in {text!r}")
    return rates


@dataclass(frozen=True)
class _Window:
    id: str
    project_id: str
    limit: int
    ends_at: float


def _window(bucket: Bucket, rate: RateLimitItem, now: float) -> _Window:
    seconds = rate.get_expiry()
    start = int(now // seconds) * seconds
    window_id = "|".join(
        (bucket.project_id, bucket.scope, bucket.subject, f"{rate.amount}/{seconds}s", str(start))
    )
    return _Window(window_id, bucket.project_id, rate.amount, float(start + seconds))


async def _take_from(window: _Window, units: int) -> bool:
    """Adds `units` only while the window has room for them, atomically."""
    if units > window.limit:
        return False
    collection = RateLimitWindow.get_pymongo_collection()
    with_room = {"_id": window.id, "units": {"$lte": window.limit - units}}
    if (await collection.update_one(with_room, {"$inc": {"units": units}})).modified_count:
        return True
    # No counter yet, or a full one: the unique _id lets exactly one racing insert create it.
    expire_at = datetime.fromtimestamp(window.ends_at, UTC) + EXPIRY_MARGIN
    try:
        await collection.insert_one(
            {
                "_id": window.id,
                "project_id": window.project_id,
                "units": units,
                "expire_at": expire_at,
            }
        )
        return True
    except DuplicateKeyError:
        pass
    return bool((await collection.update_one(with_room, {"$inc": {"units": units}})).modified_count)


async def _give_back(window_ids: Sequence[str], units: int) -> None:
    if units <= 0 or not window_ids:
        return
    collection = RateLimitWindow.get_pymongo_collection()
    await asyncio.gather(
        *(collection.update_one({"_id": wid}, {"$inc": {"units": -units}}) for wid in window_ids)
    )


async def take(buckets: Sequence[Bucket], units: int, now: float | None = None) -> Taken:
    """Takes `units` from every window of every bucket, or from none and raises RateLimited
    with the seconds until the fullest refusing window ends."""
    moment = time.time() if now is None else now
    windows = [_window(bucket, rate, moment) for bucket in buckets for rate in bucket.rates]
    granted = await asyncio.gather(*(_take_from(window, units) for window in windows))
    if all(granted):
        return Taken(window_ids=tuple(w.id for w in windows), units=units)
    await _give_back([w.id for w, ok in zip(windows, granted, strict=True) if ok], units)
    waits = [w.ends_at - moment for w, ok in zip(windows, granted, strict=True) if not ok]
    raise RateLimited(max(1, math.ceil(max(waits))))


async def give_back(taken: Taken, units: int) -> None:
    """Returns up to what was taken: an attempt that turned out cheaper than charged."""
    await _give_back(taken.window_ids, min(units, taken.units))


async def used(bucket: Bucket, now: float | None = None) -> list[int]:
    """Units used in each of the bucket's current windows (tests and diagnostics)."""
    moment = time.time() if now is None else now
    counts = []
    for rate in bucket.rates:
        found = await RateLimitWindow.get_pymongo_collection().find_one(
            {"_id": _window(bucket, rate, moment).id}
        )
        counts.append(int(found["units"]) if found else 0)
    return counts
