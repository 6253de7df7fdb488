"""Opt-out and opt-in: customer consent with its ledger, and addresses kept suppressed."""

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.common import utc_now
from domain.customers import (
    Channel,
    ConsentChange,
    Customer,
    contact_address,
    get_customer,
    normalize_email,
    normalize_phone,
)
from domain.errors import CommonError, DomainError
from domain.messages import Message, MessageChannel, MessageStatus

# The project of a suppression that holds in every project: an SMS STOP sent to the shared number.
ALL_PROJECTS = "*"
# Messages that reached the number: the projects whose customers START gives consent back to.
_REACHED = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED]


class Suppression(Document):
    """An address that opted out: it stays suppressed for any customer who has it, even later."""

    project_id: str
    channel: Channel
    address: str
    source: str
    at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "suppressions"
        indexes = [
            IndexModel([("project_id", 1), ("channel", 1), ("address", 1)], unique=True),
            IndexModel([("address", 1), ("channel", 1)]),
        ]


def _channel(channel: Channel | MessageChannel | str) -> Channel:
    try:
        return Channel(str(channel))
    except ValueError:
        raise DomainError(
            CommonError.INVALID_CHANNEL, f"{channel} has no consent", "channel"
        ) from None


def normalize_address(channel: Channel | MessageChannel | str, address: str) -> str:
    """Addresses are compared in the form customers store them; a malformed one stays as typed."""
    address = address.strip()
    try:
        if _channel(channel) == Channel.EMAIL:
            return normalize_email(address)
        return normalize_phone(address)
    except DomainError:
        return address.lower()


def _consent_field(channel: Channel) -> str:
    return f"consents.{channel.value.lower()}"


async def _set_consent(query: dict[str, Any], channel: Channel, granted: bool, source: str) -> int:
    """Flips consent on every customer matching `query` whose flag differs, with a ledger entry."""
    now = utc_now()
    change = ConsentChange(channel=channel, granted=granted, at=now, source=source)
    result = await Customer.get_pymongo_collection().update_many(
        # Only customers whose flag changes: a repeated opt-out adds nothing to the ledger.
        {**query, _consent_field(channel): not granted},
        {
            "$set": {_consent_field(channel): granted, "updated_at": now},
            "$push": {"consent_log": change.model_dump()},
        },
    )
    return int(result.modified_count)


async def suppress(
    project_id: str, channel: Channel | MessageChannel | str, address: str, source: str
) -> bool:
    """Keeps `address` from receiving `channel` messages; True when it was not suppressed yet."""
    kind = _channel(channel)
    try:
        result = await Suppression.get_pymongo_collection().update_one(
            {
                "project_id": project_id,
                "channel": kind.value,
                "address": normalize_address(kind, address),
            },
            {"$setOnInsert": {"source": source, "at": utc_now()}},
            upsert=True,
        )
    except DuplicateKeyError:
        # A concurrent opt-out of the same address inserted it first.
        return False
    return result.upserted_id is not None


async def lift_suppression(
    project_id: str, channel: Channel | MessageChannel | str, address: str
) -> bool:
    kind = _channel(channel)
    result = await Suppression.get_pymongo_collection().delete_many(
        {
            "project_id": project_id,
            "channel": kind.value,
            "address": normalize_address(kind, address),
        }
    )
    return bool(result.deleted_count)


async def is_suppressed(
    project_id: str, channel: Channel | MessageChannel | str, address: str
) -> bool:
    """True when the address opted out of the channel in this project (or everywhere, for SMS)."""
    if not address:
        return False
    kind = _channel(channel)
    found = await Suppression.get_pymongo_collection().find_one(
        {
            "project_id": {"$in": [project_id, ALL_PROJECTS]},
            "channel": kind.value,
            "address": normalize_address(kind, address),
        },
        {"_id": 1},
    )
    return found is not None


async def suppressed_addresses(
    project_id: str, channel: Channel | MessageChannel | str, normalized: set[str]
) -> set[str]:
    """Of these addresses (normalize_address's), the ones is_suppressed refuses, in one query."""
    kind = _channel(channel)
    wanted = sorted(address for address in normalized if address)
    if not wanted:
        return set()
    found = (
        await Suppression.get_pymongo_collection()
        .find(
            {
                "project_id": {"$in": [project_id, ALL_PROJECTS]},
                "channel": kind.value,
                "address": {"$in": wanted},
            },
            {"address": 1},
        )
        .to_list()
    )
    return {str(row["address"]) for row in found}


async def all_suppressed(
    project_id: str, channels: set[Channel], limit: int
) -> dict[Channel, set[str]] | None:
    """Every address is_suppressed refuses in the project for these channels, by channel, in
    one query; None when there are more than `limit` of them (ask suppressed_addresses)."""
    found = (
        await Suppression.get_pymongo_collection()
        .find(
            {
                "project_id": {"$in": [project_id, ALL_PROJECTS]},
                "channel": {"$in": sorted(channel.value for channel in channels)},
            },
            {"channel": 1, "address": 1},
        )
        .limit(limit + 1)
        .to_list()
    )
    if len(found) > limit:
        return None
    addresses: dict[Channel, set[str]] = {channel: set() for channel in channels}
    for row in found:
        addresses[Channel(row["channel"])].add(str(row["address"]))
    return addresses


def _field(channel: Channel) -> str:
    return "email" if channel == Channel.EMAIL else "phone"


async def withdraw_consent(
    project_id: str, customer_id: str, channel: Channel | MessageChannel | str, source: str
) -> Customer:
    """The customer opts out of a channel; their address is suppressed in the project too."""
    kind = _channel(channel)
    customer = await get_customer(project_id, customer_id)
    await _set_consent({"_id": customer.id, "project_id": project_id}, kind, False, source)
    address = contact_address(customer, kind)
    if address:
        await suppress(project_id, kind, address, source)
        # Other customers of the project with the same address: one person, one opt-out.
        await _set_consent({"project_id": project_id, _field(kind): address}, kind, False, source)
    return await get_customer(project_id, customer_id)


async def grant_consent(
    project_id: str, customer_id: str, channel: Channel | MessageChannel | str, source: str
) -> Customer:
    """An explicit opt-in: consent is given and the address's suppression in the project lifted."""
    kind = _channel(channel)
    customer = await get_customer(project_id, customer_id)
    if customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", "customerId")
    await _set_consent({"_id": customer.id, "project_id": project_id}, kind, True, source)
    address = contact_address(customer, kind)
    if address:
        await lift_suppression(project_id, kind, address)
    return await get_customer(project_id, customer_id)


async def withdraw_email(project_id: str, email: str, source: str) -> int:
    """Opts an address out of email in a project; returns how many customers changed."""
    address = normalize_email(email)
    await suppress(project_id, Channel.EMAIL, address, source)
    return await _set_consent(
        {"project_id": project_id, "email": address}, Channel.EMAIL, False, source
    )


async def _projects_that_messaged(phone: str, statuses: list[MessageStatus] | None) -> list[str]:
    match: dict[str, Any] = {"to": phone, "channel": MessageChannel.SMS.value}
    if statuses is not None:
        match["status"] = {"$in": [status.value for status in statuses]}
    rows = await Message.get_pymongo_collection().aggregate(
        [{"$match": match}, {"$group": {"_id": "$project_id"}}]
    )
    return sorted([str(row["_id"]) async for row in rows])


async def withdraw_phone(phone: str, source: str) -> list[str]:
    """STOP sent to the shared Twilio number: the number is suppressed in every project.

    The sending number is shared by all projects and Twilio itself blocks a number that sent
    STOP, so the suppression holds everywhere (ALL_PROJECTS). Customer consent flags and
    ledgers change in the projects that have messaged the number (found through the indexed
    `to` of the outbox), since those are the senders the person is answering. Returns them.
    """
    address = normalize_phone(phone)
    await suppress(ALL_PROJECTS, Channel.SMS, address, source)
    projects = await _projects_that_messaged(address, None)
    for project_id in projects:
        await _set_consent({"project_id": project_id, "phone": address}, Channel.SMS, False, source)
    return projects


async def grant_phone(phone: str, source: str) -> list[str]:
    """START: lifts the number's SMS suppressions and gives consent back where messages reached it.

    Only projects that did send this number a message get consent back: those had it before.
    """
    address = normalize_phone(phone)
    await Suppression.get_pymongo_collection().delete_many(
        {"channel": Channel.SMS.value, "address": address}
    )
    projects = await _projects_that_messaged(address, _REACHED)
    for project_id in projects:
        await _set_consent(
            {"project_id": project_id, "phone": address, "erased": False}, Channel.SMS, True, source
        )
    return projects
