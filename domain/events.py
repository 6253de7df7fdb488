"""Customer events: tracked by the shop or emitted by the domain, each stored once, and the
daily sweeps that emit `customer.dormant` and `birthday`. Storing an event is one insert; the
automations it triggers or cancels are found through a small per-process cache."""

import calendar
import contextlib
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from domain import automation
from domain.common import as_utc, object_id, utc_now
from domain.customers import Customer
from domain.errors import CommonError, DomainError, NotFound, Problem

# The names and documents live below automation; emitting callers keep using them from here.
from domain.event_models import (
    BIRTHDAY,
    BUILT_IN,
    CUSTOMER_DORMANT,
    CustomerEvent,
    EventError,
    EventSweep,
    check_name,
)
from domain.event_models import CART_ABANDONED as CART_ABANDONED
from domain.event_models import CUSTOMER_CREATED as CUSTOMER_CREATED
from domain.event_models import ORDER_RECORDED as ORDER_RECORDED
from domain.event_models import POINTS_CHANGED as POINTS_CHANGED
from domain.event_models import REFERRAL_QUALIFIED as REFERRAL_QUALIFIED
from domain.pagination import Page, paginate
from domain.projects import Project

MAX_PROPERTIES_BYTES = 8_000
MAX_KEY = 200
# A shop's clock may run a little ahead of ours; an event further in the future is refused.
FUTURE_SKEW = timedelta(minutes=5)
# An event whose automations were not looked at after this long was left by a process that died.
DISPATCH_AGE = timedelta(seconds=30)
# Customers read per round trip by the daily sweeps.
SWEEP_BATCH = 500
# Birthdays are stored as YYYY-MM-DD or MM-DD; years before this are not looked for.
FIRST_BIRTH_YEAR = 1900


def check_properties(raw: Any, field: str = "properties") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DomainError(CommonError.INVALID, "properties must be a JSON object", field)
    try:
        size = len(json.dumps(raw, separators=(",", ":"), default=str))
    except (TypeError, ValueError):
        raise DomainError(CommonError.INVALID, "properties must be plain JSON", field) from None
    if size > MAX_PROPERTIES_BYTES:
        raise DomainError(
            EventError.PROPERTIES_TOO_LARGE,
            f"properties are at most {MAX_PROPERTIES_BYTES} bytes",
            field,
        )
    return raw


async def _live_customer(project_id: str, customer_id: str) -> Customer:
    customer = await Customer.find_one(
        {"_id": object_id(customer_id, "customer", "customerId"), "project_id": project_id}
    )
    if customer is None:
        raise NotFound("customer", "customerId")
    if customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", "customerId")
    return customer


async def track_event(
    project_id: str,
    customer_id: str,
    name: str,
    properties: Any = None,
    at: datetime | None = None,
    idempotency_key: str | None = None,
    source: str = "api",
    now: datetime | None = None,
) -> CustomerEvent:
    """Stores an event the shop reports (cart.abandoned, say) and schedules what it triggers.
    A repeated idempotency key returns the first event. Names Engage emits itself are refused."""
    now = as_utc(now) if now is not None else utc_now()
    problems: list[Problem] = []
    checked_name = ""
    checked: dict[str, Any] = {}
    try:
        checked_name = check_name(name)
        if checked_name in BUILT_IN:
            raise DomainError(
                EventError.RESERVED_EVENT,
                f"{checked_name} is emitted by Engage and cannot be tracked",
                "name",
            )
    except DomainError as error:
        problems += error.problems
    try:
        checked = check_properties(properties)
    except DomainError as error:
        problems += error.problems
    moment = as_utc(at) if at is not None else now
    if moment > now + FUTURE_SKEW:
        problems.append(Problem(CommonError.INVALID, "an event cannot happen in the future", "at"))
    key = None
    if idempotency_key is not None:
        key = idempotency_key.strip()
        if not 1 <= len(key) <= MAX_KEY:
            problems.append(
                Problem(
                    CommonError.INVALID,
                    f"an idempotency key has 1 to {MAX_KEY} characters",
                    "idempotencyKey",
                )
            )
    if problems:
        raise DomainError.of(problems)
    customer = await _live_customer(project_id, customer_id)
    return await emit(
        project_id,
        customer.key,
        checked_name,
        checked,
        at=moment,
        source=source,
        dedupe_key=f"track:{key}" if key else None,
        now=now,
    )


async def emit(
    project_id: str,
    customer_id: str,
    name: str,
    properties: dict[str, Any] | None = None,
    at: datetime | None = None,
    source: str = "engage",
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> CustomerEvent:
    """Stores the event (once per dedupe key) and hands it to the automations that listen. With
    no automation listening this is a single insert."""
    event, _ = await _store(project_id, customer_id, name, properties, at, source, dedupe_key, now)
    return event


async def _store(
    project_id: str,
    customer_id: str,
    name: str,
    properties: dict[str, Any] | None,
    at: datetime | None,
    source: str,
    dedupe_key: str | None,
    now: datetime | None,
) -> tuple[CustomerEvent, bool]:
    """emit, also saying whether the event is new (False: its dedupe key was stored before)."""
    now = as_utc(now) if now is not None else utc_now()
    listening = await automation.active_automations(project_id=project_id)
    interested = automation.listens_to(automations=listening, event_name=name)
    event = CustomerEvent(
        project_id=project_id,
        customer_id=customer_id,
        name=name,
        properties=properties or {},
        at=as_utc(at) if at is not None else now,
        source=source,
        dedupe_key=dedupe_key,
        dispatch_pending=bool(interested),
        created_at=now,
    )
    try:
        await event.insert()
    except DuplicateKeyError:
        earlier = await CustomerEvent.find_one({"project_id": project_id, "dedupe_key": dedupe_key})
        if earlier is None:
            raise
        # Its first writer dispatches it, or dispatch_pending_events does if that writer died.
        return earlier, False
    if interested:
        await automation.dispatch(event=event, automations=interested, now=now)
        await CustomerEvent.get_pymongo_collection().update_one(
            {"_id": event.id}, {"$set": {"dispatch_pending": False}}
        )
        event.dispatch_pending = False
    return event, True


async def dispatch_pending_events(
    now: datetime | None = None, older_than: timedelta = DISPATCH_AGE
) -> int:
    """Schedules and cancels for events whose process died before it did; returns how many."""
    now = as_utc(now) if now is not None else utc_now()
    stale = CustomerEvent.find(
        {"dispatch_pending": True, "created_at": {"$lt": now - older_than}}
    ).limit(1000)
    done = 0
    for event in await stale.to_list():
        listening = await automation.active_automations(project_id=event.project_id, fresh=True)
        await automation.dispatch(
            event=event,
            automations=automation.listens_to(automations=listening, event_name=event.name),
            now=now,
        )
        await CustomerEvent.get_pymongo_collection().update_one(
            {"_id": event.id}, {"$set": {"dispatch_pending": False}}
        )
        done += 1
    return done


async def get_event(project_id: str, event_id: str) -> CustomerEvent:
    event = await CustomerEvent.find_one(
        {"_id": object_id(event_id, "event"), "project_id": project_id}
    )
    if event is None:
        raise NotFound("event")
    return event


async def list_events(
    project_id: str, customer_id: str, name: str | None, first: int, after: str | None
) -> Page[CustomerEvent]:
    query: dict[str, Any] = {"project_id": project_id, "customer_id": customer_id}
    if name:
        query["name"] = name.strip()
    return await paginate(CustomerEvent, query, first, after)


async def _sweep_mark(project_id: str, kind: str) -> EventSweep:
    collection = EventSweep.get_pymongo_collection()
    owner = {"project_id": project_id, "kind": kind}
    # Two sweeps at once: the unique index keeps one mark.
    with contextlib.suppress(DuplicateKeyError):
        await collection.update_one(owner, {"$setOnInsert": {"swept_on": ""}}, upsert=True)
    found = await EventSweep.find_one(owner)
    assert found is not None
    return found


async def _set_mark(mark: EventSweep, swept_on: str, through: datetime | None = None) -> None:
    values: dict[str, Any] = {"swept_on": swept_on}
    if through is not None:
        values["through"] = through
    await EventSweep.get_pymongo_collection().update_one({"_id": mark.id}, {"$set": values})


async def emit_dormant_events(now: datetime | None = None) -> int:
    """Once a day per project and dormancy length: `customer.dormant` for each customer whose
    last order is that many days old, once per dormancy (a new order starts a new one); returns
    how many it emitted. The lengths are those the active `customer.dormant` automations ask
    for. Customers who never ordered are never dormant."""
    now = as_utc(now) if now is not None else utc_now()
    emitted = 0
    for project_id, days in await automation.dormancy_lengths():
        mark = await _sweep_mark(project_id, f"dormant:{days}")
        today = now.date().isoformat()
        if mark.swept_on == today:
            continue
        cutoff = now - timedelta(days=days)
        window: dict[str, Any] = {"$lt": cutoff}
        if mark.through is not None:
            # A day of overlap: dedupe keys make a second look harmless.
            window["$gte"] = as_utc(mark.through) - timedelta(days=1)
        query = {"project_id": project_id, "erased": False, "metrics.last_order_at": window}
        last_id: ObjectId | None = None
        while True:
            page_query = dict(query)
            if last_id is not None:
                page_query["_id"] = {"$gt": last_id}
            rows = (
                await Customer.get_pymongo_collection()
                .find(page_query, {"metrics": 1})
                .sort("_id", 1)
                .limit(SWEEP_BATCH)
                .to_list(SWEEP_BATCH)
            )
            for row in rows:
                last_order = as_utc(row["metrics"]["last_order_at"])
                _, new = await _store(
                    project_id,
                    str(row["_id"]),
                    CUSTOMER_DORMANT,
                    {"days": days, "lastOrderAt": last_order.isoformat()},
                    now,
                    "engage",
                    f"dormant:{days}:{row['_id']}:{last_order.isoformat()}",
                    now,
                )
                emitted += new
            if len(rows) < SWEEP_BATCH:
                break
            last_id = rows[-1]["_id"]
        await _set_mark(mark, today, cutoff)
    return emitted


def birthday_values(today: date) -> list[str]:
    """The stored forms of a birthday falling on `today`: MM-DD and every YYYY-MM-DD. Someone
    born on 29 February celebrates on the 28th in other years."""
    days = [today.strftime("%m-%d")]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append("02-29")
    values = list(days)
    for year in range(FIRST_BIRTH_YEAR, today.year + 1):
        values += [f"{year:04d}-{day}" for day in days]
    return values


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def emit_birthday_events(now: datetime | None = None) -> int:
    """Once a day per project: `birthday` for each customer whose `birthday` attribute
    (YYYY-MM-DD or MM-DD) is today in the project's time zone, once per year."""
    now = as_utc(now) if now is not None else utc_now()
    emitted = 0
    for project_id in await automation.projects_listening_to(trigger=BIRTHDAY):
        project = await Project.get(object_id(project_id, "project"))
        if project is None:
            continue
        today = now.astimezone(_zone(project.messaging.timezone)).date()
        mark = await _sweep_mark(project_id, BIRTHDAY)
        if mark.swept_on == today.isoformat():
            continue
        # No $regex on the embedded server: the birthday is matched against its stored forms.
        query = {
            "project_id": project_id,
            "erased": False,
            "attributes.birthday": {"$in": birthday_values(today)},
        }
        cursor = Customer.get_pymongo_collection().find(query, {"attributes": 1})
        async for row in cursor:
            _, new = await _store(
                project_id,
                str(row["_id"]),
                BIRTHDAY,
                {"birthday": row["attributes"]["birthday"], "year": today.year},
                now,
                "engage",
                f"birthday:{row['_id']}:{today.year}",
                now,
            )
            emitted += new
        await _set_mark(mark, today.isoformat())
    return emitted
