"""Guessing limits: fixed-window attempt counters in MongoDB, shared by every API process.

An attempt costs one round trip: every window it counts against is taken from in one unordered
bulk of conditional upserts, and a full window refuses by colliding with its own `_id`. Giving
units back (a found code that costs less than charged) is gathered for a moment and written for
many attempts in one bulk: until then the windows count the units as taken, which can only
refuse early, never admit more; an attempt refused while units of its windows wait to be given
back has them written first and is tried again, so it is refused only on what stands.

`limits`' own MongoDB storage is not used: its fixed and sliding windows update with aggregation
pipelines and its moving window filters with `$not`, neither of which the embedded server runs,
and its async storage needs Motor rather than pymongo's async client. Only its rate strings
("10/second;600/minute") are used here.
"""

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from beanie import Document
from limits import RateLimitItem, parse_many
from pymongo import IndexModel, UpdateOne
from pymongo.errors import BulkWriteError

from domain.errors import CommonError, DomainError

# The project of counters kept per client address: one address is one guesser in every project.
SERVICE_WIDE = ""
# A window's counter outlives its window a little, so a late give-back still finds it.
EXPIRY_MARGIN = timedelta(minutes=1)
DUPLICATE_KEY = 11000


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


def _take_request(window: _Window, units: int) -> UpdateOne:
    """Adds `units` only while the window has room for them; creates the window's counter on
    first use. A full window makes the upsert collide with the existing counter's `_id`."""
    expire_at = datetime.fromtimestamp(window.ends_at, UTC) + EXPIRY_MARGIN
    return UpdateOne(
        {"_id": window.id, "units": {"$lte": window.limit - units}},
        {
            "$inc": {"units": units},
            "$setOnInsert": {"project_id": window.project_id, "expire_at": expire_at},
        },
        upsert=True,
    )


async def _take_all(windows: Sequence[_Window], units: int) -> list[bool]:
    """Takes from every window with room in one round trip; which of them granted."""
    granted = [units <= window.limit for window in windows]
    requests = [_take_request(w, units) for w, ok in zip(windows, granted, strict=True) if ok]
    if not requests:
        return granted
    asked = [i for i, ok in enumerate(granted) if ok]
    try:
        await RateLimitWindow.get_pymongo_collection().bulk_write(requests, ordered=False)
    except BulkWriteError as error:
        for failure in error.details.get("writeErrors", []):
            if failure.get("code") != DUPLICATE_KEY:
                raise
            granted[asked[failure["index"]]] = False
    return granted


async def _give_back(window_ids: Sequence[str], units: int) -> None:
    if units <= 0 or not window_ids:
        return
    await RateLimitWindow.get_pymongo_collection().bulk_write(
        [UpdateOne({"_id": wid}, {"$inc": {"units": -units}}) for wid in window_ids],
        ordered=False,
    )


class _Refunds:
    """Units given back, per window, waiting to be written together (one bulk per moment)."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        # Being written: an attempt refused meanwhile waits for them, as for pending ones.
        self.writing: dict[str, int] = {}
        self._scheduled: asyncio.TimerHandle | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def add(self, window_ids: Sequence[str], units: int) -> None:
        for window_id in window_ids:
            self.pending[window_id] = self.pending.get(window_id, 0) + units
        loop = asyncio.get_running_loop()
        handle = self._scheduled
        if handle is None or handle.cancelled() or getattr(handle, "_loop", loop) is not loop:
            self._scheduled = loop.call_later(REFUND_DELAY_SECONDS, self._start_flush)

    def _start_flush(self) -> None:
        self._scheduled = None
        task = asyncio.ensure_future(self._flush_quietly())
        _flushes.add(task)
        task.add_done_callback(_flushes.discard)

    async def _flush_quietly(self) -> None:
        # Units that cannot be written back (the database went away) only refuse early.
        with contextlib.suppress(Exception):
            await self.flush()

    def waiting_for(self, window_ids: Sequence[str]) -> bool:
        return any(w in self.pending or w in self.writing for w in window_ids)

    def _writer_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def flush(self) -> None:
        """Writes what is pending, after any write already under way."""
        async with self._writer_lock():
            pending, self.pending = self.pending, {}
            if not pending:
                return
            self.writing = pending
            try:
                await RateLimitWindow.get_pymongo_collection().bulk_write(
                    [UpdateOne({"_id": w}, {"$inc": {"units": -n}}) for w, n in pending.items()],
                    ordered=False,
                )
            finally:
                self.writing = {}


# Given-back units wait this long to be written with others.
REFUND_DELAY_SECONDS = 0.05
_refunds = _Refunds()
_flushes: set[asyncio.Future[None]] = set()


async def take(buckets: Sequence[Bucket], units: int, now: float | None = None) -> Taken:
    """Takes `units` from every window of every bucket, or from none and raises RateLimited
    with the seconds until the fullest refusing window ends."""
    moment = time.time() if now is None else now
    windows = [_window(bucket, rate, moment) for bucket in buckets for rate in bucket.rates]
    granted = await _take_all(windows, units)
    if not all(granted) and _refunds.waiting_for([w.id for w in windows]):
        # Refused perhaps only for units already given back: write those, then try again.
        await _give_back([w.id for w, ok in zip(windows, granted, strict=True) if ok], units)
        await _refunds.flush()
        granted = await _take_all(windows, units)
    if all(granted):
        return Taken(window_ids=tuple(w.id for w in windows), units=units)
    await _give_back([w.id for w, ok in zip(windows, granted, strict=True) if ok], units)
    waits = [w.ends_at - moment for w, ok in zip(windows, granted, strict=True) if not ok]
    raise RateLimited(max(1, math.ceil(max(waits))))


async def give_back(taken: Taken, units: int) -> None:
    """Returns up to what was taken: an attempt that turned out cheaper than charged. Written
    with the other give-backs of the moment (see the module's notes)."""
    returned = min(units, taken.units)
    if returned > 0 and taken.window_ids:
        _refunds.add(taken.window_ids, returned)


async def flush_given_back() -> None:
    """Writes the units given back and not yet written."""
    await _refunds.flush()


async def used(bucket: Bucket, now: float | None = None) -> list[int]:
    """Units used in each of the bucket's current windows (tests and diagnostics)."""
    await _refunds.flush()
    moment = time.time() if now is None else now
    counts = []
    for rate in bucket.rates:
        found = await RateLimitWindow.get_pymongo_collection().find_one(
            {"_id": _window(bucket, rate, moment).id}
        )
        counts.append(int(found["units"]) if found else 0)
    return counts
