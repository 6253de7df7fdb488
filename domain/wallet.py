"""Wallet passes: one per code or loyalty card, their device registrations, and the change hook.

What is guaranteed when a pass's content changes (a redemption, a rollback, a balance or tier
change, a campaign edited, paused, resumed or ended, a brand changed):
- The change hook moves the pass's `last_updated` tag and `updated_at` (strictly later, at the
  second precision of Last-Modified) and sets `push_pending`, all in one conditional update.
  The tag is a time in microseconds, so tags of every project compare without a shared counter.
- A signed archive is kept per (pass, tag, what time alone changes): downloads of an unchanged
  pass read the pass record only. So every change to what pass.json shows moves the tag, and
  a change undone (a refused redemption giving its code counter back) moves it again.
- What only time changes (a campaign starting or ending) is part of the archive's key, from the
  campaign window copied onto the pass: the first download after the moment builds the pass
  again, finds its content changed (`record_served_content`) and moves the tag then.
- Pushes run from the persisted marker: the outbox worker (`queue_pending_updates`) reads the
  registrations of passes whose marker is set and queues one outbox message per registration
  (and one Google update), each under a key made of the registration and the tag, then clears
  the marker if the tag has not moved since. A process that dies between the hook and the
  worker leaves the marker set, and the worker (in any process) picks it up later.
- A process that dies between a change and its hook: a redemption moves the pass before it
  completes, and reconciliation, which removes a dead process's claims and recounts codes,
  moves the pass of every code it corrects.
"""

import contextlib
import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain.code_models import Code
from domain.common import as_utc, object_id, same_secret, utc_now
from domain.errors import NotFound
from domain.messages import Message, MessageChannel
from domain.storable import single_line

# Apple asks for at least 16 characters; HMAC-SHA256 in hex gives 64, of which 32 are kept.
AUTH_TOKEN_LENGTH = 32
# What one PassKit log request may write: devices report a handful of short error lines.
MAX_LOG_LINES = 20
MAX_LOG_LINE = 500
# How many passes the worker handles per round of queueing their pushes.
PENDING_BATCH = 200


class PassLocation(BaseModel):
    """A store near which the pass shows on the lock screen."""

    latitude: float
    longitude: float
    relevant_text: str = ""


class PassKind(StrEnum):
    COUPON = "COUPON"
    STORE_CARD = "STORE_CARD"


class WalletPass(Document):
    """A code's or a loyalty card's pass, created on its first download."""

    project_id: str
    kind: PassKind
    # "code:<CODE>" or "card:<id>": one pass per subject and project.
    subject: str
    # Random, and the only input (beside the service's secret key) of the authentication token.
    serial: str
    code: str = ""
    card_id: str = ""
    # A card's holder, whose name shows on the card's pass.
    customer_id: str = ""
    # The campaign (or loyalty program) it belongs to, so a campaign change reaches its passes.
    campaign_id: str = ""
    # Strictly increases on every change: PassKit's `lastUpdated`.
    last_updated: int = 0
    # Last-Modified, whole seconds, strictly later on every change.
    updated_at: datetime = Field(default_factory=lambda: _whole_second(utc_now()))
    # SHA-256 of the pass.json last served; "" before the first download.
    content_digest: str = ""
    # Set with every move of the tag, cleared once the move's pushes are queued.
    push_pending: bool = False
    # The campaign's window, copied: what time alone changes on the pass is known from the
    # pass record, without reading the campaign.
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Google Wallet: set by the Google half once the object exists at Google.
    google_object_id: str = ""
    google_issued: bool = False
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "wallet_passes"
        indexes = [
            IndexModel([("project_id", 1), ("subject", 1)], unique=True),
            IndexModel([("serial", 1)], unique=True),
            IndexModel([("project_id", 1), ("campaign_id", 1)]),
            # A download finds the pass by the code in its link, before it knows the project.
            IndexModel([("code", 1)]),
            IndexModel([("push_pending", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class PassRegistration(Document):
    """A device that added a pass and wants pushes when it changes (PassKit request 1)."""

    project_id: str
    device_library_id: str
    pass_type_id: str
    serial: str
    push_token: str
    campaign_id: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "wallet_registrations"
        indexes = [
            IndexModel(
                [("project_id", 1), ("device_library_id", 1), ("pass_type_id", 1), ("serial", 1)],
                unique=True,
                name="project_device_pass_unique",
            ),
            IndexModel([("device_library_id", 1), ("pass_type_id", 1)]),
            IndexModel([("project_id", 1), ("serial", 1)]),
            IndexModel([("project_id", 1), ("campaign_id", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class PassLog(Document):
    """What devices report through PassKit request 5 (errors with our passes)."""

    line: str
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "wallet_logs"
        indexes = [IndexModel([("created_at", 1)], expireAfterSeconds=30 * 24 * 3600)]


def _whole_second(moment: datetime) -> datetime:
    return as_utc(moment).replace(microsecond=0)


def authentication_token(secret_key: str, serial: str) -> str:
    """Derived, never stored: a leaked database alone opens no pass; the serial is random."""
    digest = hmac.new(secret_key.encode(), f"wallet-pass|{serial}".encode(), hashlib.sha256)
    return digest.hexdigest()[:AUTH_TOKEN_LENGTH]


def check_authentication_token(secret_key: str, serial: str, presented: str) -> bool:
    return same_secret(presented, authentication_token(secret_key, serial))


def card_subject(card_id: str) -> str:
    return f"card:{card_id}"


def code_subject(code: str) -> str:
    return f"code:{code}"


async def ensure_pass(
    project_id: str,
    kind: PassKind,
    *,
    campaign_id: str,
    code: str = "",
    card_id: str = "",
    customer_id: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> WalletPass:
    """The subject's pass, created with a random serial on first call (even when calls race);
    `starts_at` and `ends_at` are its campaign's window, `customer_id` a card's holder."""
    subject = code_subject(code) if kind == PassKind.COUPON else card_subject(card_id)
    found = await WalletPass.find_one({"project_id": project_id, "subject": subject})
    if found is not None and customer_id and found.customer_id != customer_id:
        # A card's pass made before passes named their holder.
        await WalletPass.get_pymongo_collection().update_one(
            {"_id": found.id}, {"$set": {"customer_id": customer_id}}
        )
        found.customer_id = customer_id
    if found is not None:
        return found
    fresh = WalletPass(
        project_id=project_id,
        kind=kind,
        subject=subject,
        serial=secrets.token_hex(16),
        code=code,
        card_id=card_id,
        customer_id=customer_id,
        campaign_id=campaign_id,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    if code:
        # Before the pass exists, so no redemption can miss it: redemptions of the code now
        # move its pass.
        await Code.get_pymongo_collection().update_one(
            {"project_id": project_id, "code": code}, {"$set": {"wallet_pass": True}}
        )
    with contextlib.suppress(DuplicateKeyError):
        await fresh.insert()
    found = await WalletPass.find_one({"project_id": project_id, "subject": subject})
    if found is None:
        raise NotFound("pass")
    return found


async def find_pass(project_id: str, *, code: str = "", card_id: str = "") -> WalletPass | None:
    subject = code_subject(code) if code else card_subject(card_id)
    return await WalletPass.find_one({"project_id": project_id, "subject": subject})


async def pass_by_serial(serial: str) -> WalletPass | None:
    return await WalletPass.find_one({"serial": serial})


class _Tags:
    """Tags are microseconds since 1970, strictly increasing within a process. Processes on one
    machine share its clock; across machines, tags compare as well as their clocks agree."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns() // 1000, self._last + 1)
        return self._last


_tags = _Tags()


def _moved(tag: int, stamp: datetime, digest: str = "") -> dict[str, Any]:
    """The one write that moves a pass: tag, Last-Modified and the push marker together. The
    digest of the content served is set with it: "" (unknown) after a change, so the next
    build is recorded, not taken for a change that missed its hook."""
    return {
        "$set": {
            "last_updated": tag,
            "updated_at": stamp,
            "content_digest": digest,
            "push_pending": True,
        }
    }


async def _bump(wallet_pass: WalletPass, digest: str = "") -> WalletPass:
    """Moves one pass's tag and Last-Modified on, past any concurrent move (compare-and-set)."""
    collection = WalletPass.get_pymongo_collection()
    current = wallet_pass
    while True:
        tag = max(_tags.next(), current.last_updated + 1)
        stamp = max(
            _whole_second(utc_now()), _whole_second(current.updated_at) + timedelta(seconds=1)
        )
        raw = await collection.find_one_and_update(
            {"_id": current.id, "last_updated": current.last_updated},
            _moved(tag, stamp, digest),
            return_document=ReturnDocument.AFTER,
        )
        if raw is not None:
            return WalletPass.model_validate(raw)
        again = await WalletPass.get(current.id)
        if again is None:
            raise NotFound("pass")
        current = again


async def _queue_updates(project_id: str, passes: list[WalletPass], tag_of: dict[str, int]) -> int:
    """One push per registration and one Google update per issued pass, keyed by the tag."""
    if not passes:
        return 0
    serials = [wallet_pass.serial for wallet_pass in passes]
    by_serial = {wallet_pass.serial: wallet_pass for wallet_pass in passes}
    registrations = await PassRegistration.find(
        {"project_id": project_id, "serial": {"$in": serials}}
    ).to_list()
    return await _insert_updates(project_id, registrations, passes, by_serial, tag_of)


async def _insert_updates(
    project_id: str,
    registrations: list[PassRegistration],
    google_passes: list[WalletPass],
    by_serial: dict[str, WalletPass],
    tag_of: dict[str, int],
) -> int:
    queued: list[Message] = []
    for registration in registrations:
        wallet_pass = by_serial.get(registration.serial)
        if wallet_pass is None:
            continue
        tag = tag_of[wallet_pass.serial]
        queued.append(
            Message(
                project_id=project_id,
                channel=MessageChannel.APPLE_PUSH,
                to=registration.push_token,
                code=wallet_pass.code,
                campaign_id=wallet_pass.campaign_id,
                payload={
                    "serial": registration.serial,
                    "registration_id": registration.key,
                    "pass_type_id": registration.pass_type_id,
                    "tag": tag,
                },
                idempotency_key=f"wallet:apple:{registration.key}:{tag}",
            )
        )
    for wallet_pass in google_passes:
        if not wallet_pass.google_issued:
            continue
        tag = tag_of[wallet_pass.serial]
        queued.append(
            Message(
                project_id=project_id,
                channel=MessageChannel.GOOGLE_UPDATE,
                to=wallet_pass.google_object_id,
                code=wallet_pass.code,
                campaign_id=wallet_pass.campaign_id,
                payload={"pass_id": wallet_pass.key, "serial": wallet_pass.serial, "tag": tag},
                idempotency_key=f"wallet:google:{wallet_pass.key}:{tag}",
            )
        )
    if not queued:
        return 0
    try:
        await Message.insert_many(queued, ordered=False)
    except BulkWriteError as error:
        # Queued before for the same tag (a round retried): the earlier messages stand.
        if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
            raise
        return len(queued) - len(error.details.get("writeErrors", []))
    return len(queued)


async def wallet_content_changed(
    project_id: str, *, code: str | None = None, card_id: str | None = None
) -> WalletPass | None:
    """The change hook: if the code or card has a pass, moves its tag and sets its push marker.
    One conditional update; only a pass moved within this very second (or whose tag is ahead of
    this process's clock) is read and moved by compare-and-set."""
    if not code and not card_id:
        return None
    subject = code_subject(code) if code else card_subject(card_id or "")
    tag = _tags.next()
    stamp = _whole_second(utc_now())
    raw = await WalletPass.get_pymongo_collection().find_one_and_update(
        {
            "project_id": project_id,
            "subject": subject,
            "last_updated": {"$lt": tag},
            # Strictly later Last-Modified: a device that fetched this second must not get 304.
            "updated_at": {"$lt": stamp},
        },
        _moved(tag, stamp),
        return_document=ReturnDocument.AFTER,
    )
    if raw is not None:
        return WalletPass.model_validate(raw)
    wallet_pass = await find_pass(project_id, code=code or "", card_id=card_id or "")
    if wallet_pass is None:
        return None
    return await _bump(wallet_pass)


async def queue_pending_updates(limit: int = PENDING_BATCH) -> int:
    """The worker's wallet step: for passes whose push marker is set, queues their updates and
    clears the marker where the tag is still the one queued for (a pass moved meanwhile keeps
    it, and is queued again for its new tag). Returns how many passes it took."""
    collection = WalletPass.get_pymongo_collection()
    raws = await collection.find({"push_pending": True}).limit(limit).to_list()
    if not raws:
        return 0
    passes = [WalletPass.model_validate(raw) for raw in raws]
    by_project: dict[str, list[WalletPass]] = {}
    for wallet_pass in passes:
        by_project.setdefault(wallet_pass.project_id, []).append(wallet_pass)
    for project_id, group in by_project.items():
        await _queue_updates(project_id, group, {p.serial: p.last_updated for p in group})
    await collection.bulk_write(
        [
            UpdateOne(
                {"_id": p.id, "last_updated": p.last_updated, "push_pending": True},
                {"$set": {"push_pending": False}},
            )
            for p in passes
        ],
        ordered=False,
    )
    return len(passes)


async def _move_all(scope: dict[str, Any], also: dict[str, Any]) -> int:
    """Every pass in `scope` moves with one update; their pushes are queued by the worker."""
    collection = WalletPass.get_pymongo_collection()
    now = _whole_second(utc_now())
    # Later than every pass's Last-Modified, so none of them can answer 304 for the new content.
    latest = await collection.find_one(
        {**scope, "updated_at": {"$gte": now}}, {"updated_at": 1}, sort=[("updated_at", -1)]
    )
    stamp = max(now, _whole_second(latest["updated_at"]) + timedelta(seconds=1)) if latest else now
    moved = await collection.update_many(
        scope,
        {
            "$max": {"last_updated": _tags.next()},
            "$set": {"updated_at": stamp, "content_digest": "", "push_pending": True, **also},
        },
    )
    return int(moved.matched_count)


async def campaign_passes_changed(
    project_id: str, campaign_id: str, *, starts_at: datetime | None, ends_at: datetime | None
) -> int:
    """A campaign edited, paused, resumed or ended: every pass of its codes (or cards) moves,
    with the campaign's window copied. Returns how many passes moved."""
    return await _move_all(
        {"project_id": project_id, "campaign_id": campaign_id},
        {"starts_at": starts_at, "ends_at": ends_at},
    )


async def project_passes_changed(project_id: str) -> int:
    """The brand changed: every pass of the project shows it. Returns how many moved."""
    return await _move_all({"project_id": project_id}, {})


async def customer_passes_changed(project_id: str, customer_id: str) -> int:
    """The customer's name changed or was erased: it shows on their cards' passes."""
    if not customer_id:
        return 0
    return await _move_all({"project_id": project_id, "customer_id": customer_id}, {})


def content_digest(pass_json: bytes) -> str:
    return hashlib.sha256(pass_json).hexdigest()


class TimePhase(StrEnum):
    """Where a moment falls in the pass's campaign window: all that time alone changes."""

    BEFORE = "BEFORE"
    DURING = "DURING"
    AFTER = "AFTER"


def time_phase(wallet_pass: WalletPass, now: datetime) -> TimePhase:
    # The same comparisons as codes.code_status, on the window copied onto the pass.
    if wallet_pass.ends_at is not None and now >= as_utc(wallet_pass.ends_at):
        return TimePhase.AFTER
    if wallet_pass.starts_at is not None and now < as_utc(wallet_pass.starts_at):
        return TimePhase.BEFORE
    return TimePhase.DURING


async def record_window(
    wallet_pass: WalletPass, *, starts_at: datetime | None, ends_at: datetime | None
) -> WalletPass:
    """Copies the campaign's window onto a pass made before passes held it."""
    if _same_moment(wallet_pass.starts_at, starts_at) and _same_moment(
        wallet_pass.ends_at, ends_at
    ):
        return wallet_pass
    await WalletPass.get_pymongo_collection().update_one(
        {"_id": wallet_pass.id}, {"$set": {"starts_at": starts_at, "ends_at": ends_at}}
    )
    return wallet_pass.model_copy(update={"starts_at": starts_at, "ends_at": ends_at})


def _same_moment(first: datetime | None, second: datetime | None) -> bool:
    if first is None or second is None:
        return first is second
    # Stored dates keep milliseconds.
    return abs(as_utc(first) - as_utc(second)) < timedelta(milliseconds=1)


async def record_served_content(wallet_pass: WalletPass, digest: str) -> WalletPass:
    """Called with the digest of the pass.json just built: content that changed without moving
    the tag (time passing the campaign's window, or a write outside the hooks) moves it now,
    and its pushes are queued by the worker."""
    if wallet_pass.content_digest == digest:
        return wallet_pass
    collection = WalletPass.get_pymongo_collection()
    if not wallet_pass.content_digest:
        # The first build since the pass was made or its tag moved: its change is known.
        await collection.update_one(
            {"_id": wallet_pass.id, "content_digest": ""}, {"$set": {"content_digest": digest}}
        )
        wallet_pass.content_digest = digest
        return wallet_pass
    claimed = await collection.update_one(
        {"_id": wallet_pass.id, "content_digest": wallet_pass.content_digest},
        {"$set": {"content_digest": digest}},
    )
    if not claimed.modified_count:
        # Another request recorded it (and moved the tag) first.
        return await WalletPass.get(wallet_pass.id) or wallet_pass
    return await _bump(wallet_pass, digest)


async def register_device(
    wallet_pass: WalletPass, device_library_id: str, pass_type_id: str, push_token: str
) -> bool:
    """PassKit request 1: True when newly registered, False when it already was (the push
    token is updated: a restored device may come back with a new one)."""
    collection = PassRegistration.get_pymongo_collection()
    now = utc_now()
    owner = {
        "project_id": wallet_pass.project_id,
        "device_library_id": device_library_id,
        "pass_type_id": pass_type_id,
        "serial": wallet_pass.serial,
    }
    try:
        result = await collection.update_one(
            owner,
            {
                "$set": {"push_token": push_token, "updated_at": now},
                "$setOnInsert": {"campaign_id": wallet_pass.campaign_id, "created_at": now},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        # A concurrent registration of the same device created it.
        await collection.update_one(owner, {"$set": {"push_token": push_token, "updated_at": now}})
        return False
    return result.upserted_id is not None


async def unregister_device(
    wallet_pass: WalletPass, device_library_id: str, pass_type_id: str
) -> bool:
    result = await PassRegistration.get_pymongo_collection().delete_one(
        {
            "project_id": wallet_pass.project_id,
            "device_library_id": device_library_id,
            "pass_type_id": pass_type_id,
            "serial": wallet_pass.serial,
        }
    )
    return bool(result.deleted_count)


async def remove_registration(project_id: str, registration_id: str, push_token: str) -> bool:
    """APNs answered 410 for the token: the device no longer takes pushes for the pass."""
    result = await PassRegistration.get_pymongo_collection().delete_one(
        {
            "_id": object_id(registration_id, "registration"),
            "project_id": project_id,
            "push_token": push_token,
        }
    )
    return bool(result.deleted_count)


async def serials_updated_since(
    device_library_id: str, pass_type_id: str, since: int | None
) -> tuple[list[str], int]:
    """PassKit request 2: the device's serials whose tag is after `since` (all of them when
    None), and the tag to send next time."""
    registrations = await PassRegistration.find(
        {"device_library_id": device_library_id, "pass_type_id": pass_type_id}
    ).to_list()
    if not registrations:
        return [], since or 0
    serials = sorted({registration.serial for registration in registrations})
    owners = {(r.serial, r.project_id) for r in registrations}
    passes = await WalletPass.find({"serial": {"$in": serials}}).to_list()
    changed = [
        p
        for p in passes
        # The registration's project must be the pass's: serials never cross tenants.
        if (p.serial, p.project_id) in owners and (since is None or p.last_updated > since)
    ]
    if not changed:
        return [], since or 0
    return sorted(p.serial for p in changed), max(p.last_updated for p in changed)


async def record_device_logs(lines: list[Any]) -> int:
    kept = [
        single_line(str(line)[:MAX_LOG_LINE]) for line in lines[:MAX_LOG_LINES] if str(line).strip()
    ]
    if kept:
        await PassLog.insert_many([PassLog(line=line) for line in kept])
    return len(kept)


async def registrations_of(project_id: str, serial: str) -> list[PassRegistration]:
    return await PassRegistration.find({"project_id": project_id, "serial": serial}).to_list()
