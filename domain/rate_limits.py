"""Guessing limits: fixed-window attempt counters in MongoDB, shared by every API process.

A window's counter holds every unit any process took from it. A process takes units in leases:
when its own hold for a window runs short it takes a fiftieth of the window's limit (at least
what the attempt needs) in one conditional upsert, and spends the hold without a round trip
until it runs short again. Near the limit a lease no longer fits and the attempt takes exactly
its units, so the counter stays exact where it matters: never more than the limit is spent,
and at worst a window refuses early by the units other processes hold unspent (at most a
fiftieth of the limit each, lost with a process that dies). Small limits (under 50 units per
window) lease nothing: every attempt is one round trip, as exact as without leases.

Several windows are taken from in one unordered bulk of conditional upserts, and a full window
refuses by colliding with its own `_id`. Units given back (a found code that costs less than
charged) return to the process's hold up to its lease; beyond that they are gathered for a
moment and written for many attempts in one bulk: until then the windows count the units as
taken, which can only refuse early, never admit more; an attempt refused while units of its
windows wait to be given back has them written first and is tried again, so it is refused
only on what stands.

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
from dataclasses import dataclass, field
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
    return _window_starting(bucket, rate, int(now // seconds) * seconds, seconds)


# Every attempt names its windows: a till's stay the same for a whole window.
@lru_cache(maxsize=4096)
def _window_starting(bucket: Bucket, rate: RateLimitItem, start: int, seconds: int) -> _Window:
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


async def _take_all(windows: Sequence[_Window], units: Sequence[int]) -> list[bool]:
    """Takes `units[i]` from `windows[i]` for every window with room, in one round trip; which
    of them granted (asking for nothing is granted)."""
    granted = [n <= window.limit for window, n in zip(windows, units, strict=True)]
    asked = [i for i, ok in enumerate(granted) if ok and units[i] > 0]
    if not asked:
        return granted
    requests = [_take_request(windows[i], units[i]) for i in asked]
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


# A lease is this fraction of a window's limit: a process refills its hold about this many
# times per window at most, and holds at most this much of the limit away from the others.
LEASE_FRACTION = 50
# Expired holds are dropped at most this often.
PRUNE_EVERY_SECONDS = 10.0


@dataclass
class _Hold:
    """Units this process took from one window and has not spent yet. One refill at a time:
    a burst of attempts waits for it rather than each taking a lease."""

    units: int
    lease: int
    ends_at: float
    refilling: asyncio.Lock = field(default_factory=asyncio.Lock)


class _Holds:
    def __init__(self) -> None:
        self.by_window: dict[str, _Hold] = {}
        self._pruned_at = 0.0

    def of(self, window: _Window) -> _Hold:
        hold = self.by_window.get(window.id)
        if hold is None:
            hold = _Hold(0, window.limit // LEASE_FRACTION, window.ends_at)
            self.by_window[window.id] = hold
        return hold

    def prune(self, moment: float) -> None:
        if moment - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = moment
        for window_id in [w for w, hold in self.by_window.items() if hold.ends_at <= moment]:
            del self.by_window[window_id]

    def held(self, window_id: str) -> int:
        hold = self.by_window.get(window_id)
        return hold.units if hold is not None else 0


_holds = _Holds()
# Refills of a window's hold before an attempt takes exactly its own units.
REFILL_ROUNDS = 3


async def _refill(windows: Sequence[_Window], units: int, exact: bool) -> list[bool]:
    """Tops up each window's hold to at least `units`, with a lease where it fits, else with
    exactly the shortfall; which windows granted. Granted units are held even when another
    window refuses: they stay counted as taken, so holding them never admits more."""
    wants = [
        units - _holds.held(w.id) if exact else max(_holds.of(w).lease, units - _holds.held(w.id))
        for w in windows
    ]
    granted = await _take_all(windows, wants)
    refused_leases = [
        i
        for i, (window, want, ok) in enumerate(zip(windows, wants, granted, strict=True))
        if not ok and want > units - _holds.held(window.id)
    ]
    if refused_leases:
        # No room for a lease: take exactly what is short.
        retried = await _refill([windows[i] for i in refused_leases], units, exact=True)
        for i, ok in zip(refused_leases, retried, strict=True):
            granted[i] = ok
            wants[i] = 0
    for window, want, ok in zip(windows, wants, granted, strict=True):
        if ok and want > 0:
            _holds.of(window).units += want
    return granted


async def _release_beyond_leases(windows: Sequence[_Window]) -> None:
    """After a refusal, what the refill took beyond each window's lease goes back at once, so
    a refused attempt holds no more than a lease from the others."""
    for window in windows:
        hold = _holds.of(window)
        excess = hold.units - hold.lease
        if excess > 0:
            hold.units -= excess
            await _give_back([window.id], excess)


async def take(buckets: Sequence[Bucket], units: int, now: float | None = None) -> Taken:
    """Takes `units` from every window of every bucket, or from none and raises RateLimited
    with the seconds until the fullest refusing window ends. Usually spent from the process's
    hold, without a round trip."""
    moment = time.time() if now is None else now
    windows = [_window(bucket, rate, moment) for bucket in buckets for rate in bucket.rates]
    for round_number in range(REFILL_ROUNDS + 1):
        short = [w for w in windows if _holds.held(w.id) < units]
        if not short:
            # Checked and spent with no await between: concurrent attempts cannot both spend.
            for window in windows:
                _holds.of(window).units -= units
            return Taken(window_ids=tuple(w.id for w in windows), units=units)
        _holds.prune(moment)
        async with contextlib.AsyncExitStack() as refilling:
            for window in sorted(short, key=lambda w: w.id):
                await refilling.enter_async_context(_holds.of(window).refilling)
            # Another attempt's refill may have topped these up while this one waited.
            short = [w for w in short if _holds.held(w.id) < units]
            if short:
                await _refill_or_refuse(short, units, round_number == REFILL_ROUNDS, moment)
    raise AssertionError("an exact refill always leaves enough held")


async def _refill_or_refuse(
    windows: Sequence[_Window], units: int, exact: bool, moment: float
) -> None:
    granted = await _refill(windows, units, exact)
    if not all(granted) and _refunds.waiting_for([w.id for w in windows]):
        # Refused perhaps only for units already given back: write those, then try again.
        await _refunds.flush()
        granted = await _refill(windows, units, exact)
    if not all(granted):
        await _release_beyond_leases(windows)
        waits = [w.ends_at - moment for w, ok in zip(windows, granted, strict=True) if not ok]
        raise RateLimited(max(1, math.ceil(max(waits))))


async def give_back(taken: Taken, units: int) -> None:
    """Returns up to what was taken: an attempt that turned out cheaper than charged. The units
    go back to this process's hold up to its lease; the rest are written with the other
    give-backs of the moment (see the module's notes)."""
    returned = min(units, taken.units)
    if returned <= 0:
        return
    for window_id in taken.window_ids:
        hold = _holds.by_window.get(window_id)
        kept = 0 if hold is None else max(0, min(returned, hold.lease - hold.units))
        if hold is not None:
            hold.units += kept
        if returned > kept:
            _refunds.add([window_id], returned - kept)


async def flush_given_back() -> None:
    """Writes the units given back and not yet written."""
    await _refunds.flush()


async def used(bucket: Bucket, now: float | None = None) -> list[int]:
    """Units spent in each of the bucket's current windows, as this process sees them: the
    counter less what it holds unspent (tests and diagnostics)."""
    await _refunds.flush()
    moment = time.time() if now is None else now
    counts = []
    for rate in bucket.rates:
        window = _window(bucket, rate, moment)
        found = await RateLimitWindow.get_pymongo_collection().find_one({"_id": window.id})
        counts.append((int(found["units"]) if found else 0) - _holds.held(window.id))
    return counts


def forget_holds() -> None:
    """Drops this process's unspent units (tests that empty the counters start afresh)."""
    _holds.by_window.clear()
