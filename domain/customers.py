"""Customers: profile, consent per channel with its ledger, tokens, erasure."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers
from beanie import Document
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain import wallet
from domain.common import hash_secret, new_secret, object_id, object_ids, utc_now
from domain.errors import CommonError, DomainError, ErrorCode, NotFound, Problem
from domain.pagination import Page, paginate
from domain.storable import document_key_problems, text_problem, value_problems


class CustomerError(ErrorCode):
    """Returned by createCustomer, updateCustomer, eraseCustomer and customer lookups."""

    ALREADY_ERASED = "ALREADY_ERASED"
    CUSTOMER_AMBIGUOUS = "CUSTOMER_AMBIGUOUS"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    DUPLICATE_SOURCE_ID = "DUPLICATE_SOURCE_ID"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"


CUSTOMER_TOKEN_PREFIX = "ect"  # noqa: S105
CUSTOMER_TOKEN_LIFETIME = timedelta(days=30)
MAX_TAGS = 50
MAX_ATTRIBUTES_BYTES = 16_000


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"


class Consents(BaseModel):
    email: bool = False
    sms: bool = False


class ConsentChange(BaseModel):
    channel: Channel
    granted: bool
    at: datetime
    source: str


class OrderMetrics(BaseModel):
    """Kept up to date by orders; read by rules and segments."""

    orders_count: int = 0
    total_spent: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None


class Rfm(BaseModel):
    """Scores 1-5 and the RFM group as of `computed_at`, written by the RFM job (domain.rfm);
    zeros and no group until it first runs."""

    recency: int = 0
    frequency: int = 0
    monetary: int = 0
    group: str = ""
    computed_at: datetime | None = None


class Customer(Document):
    project_id: str
    # Absent (None) source ids are outside the partial unique index.
    source_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    consents: Consents = Field(default_factory=Consents)
    consent_log: list[ConsentChange] = Field(default_factory=list)
    metrics: OrderMetrics = Field(default_factory=OrderMetrics)
    # Bumped by every metrics change: orders move metrics by compare-and-set on it.
    metrics_version: int = 0
    # The latest order effects applied to metrics, so a retried effect is not counted twice.
    metrics_effects: list[str] = Field(default_factory=list)
    # The import jobs whose orders are counted in metrics, so a resumed job counts them once.
    metrics_imports: list[str] = Field(default_factory=list)
    # The import job and batch that stored this customer ("" when created otherwise).
    import_job: str = ""
    import_batch: int = 0
    rfm: Rfm = Field(default_factory=Rfm)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    erased: bool = False
    erased_at: datetime | None = None

    class Settings:
        name = "customers"
        indexes = [
            IndexModel(
                [("project_id", 1), ("source_id", 1)],
                unique=True,
                partialFilterExpression={"source_id": {"$type": "string"}},
                name="project_source_id_unique",
            ),
            IndexModel([("project_id", 1), ("email", 1)]),
            IndexModel([("project_id", 1), ("phone", 1)]),
            IndexModel([("project_id", 1), ("tags", 1)]),
            IndexModel([("project_id", 1), ("created_at", 1)]),
            IndexModel([("project_id", 1), ("rfm.group", 1)]),
            IndexModel([("project_id", 1), ("import_job", 1), ("import_batch", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class CustomerToken(Document):
    project_id: str
    customer_id: str
    hash: str
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime

    class Settings:
        name = "customer_tokens"
        indexes = [
            IndexModel([("hash", 1)], unique=True),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
            IndexModel([("expires_at", 1)], expireAfterSeconds=0),
        ]


@dataclass
class ConsentsInput:
    email: bool | None = None
    sms: bool | None = None


@dataclass
class CustomerInput:
    """Fields left as None are not changed on update."""

    source_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = None
    consents: ConsentsInput | None = None


@dataclass
class CustomerFilter:
    email: str | None = None
    phone: str | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    include_erased: bool = False


def normalize_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise DomainError(
            CustomerError.INVALID_EMAIL, f"email is not valid: {error}", "email"
        ) from None


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164; numbers without a country code need the project's default region."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise DomainError(
            CustomerError.INVALID_PHONE,
            "phone must be a valid number in international format, such as +33612345678",
            "phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({tag.strip().lower() for tag in tags if tag.strip()})
    if len(cleaned) > MAX_TAGS:
        raise DomainError(CommonError.INVALID, f"a customer has at most {MAX_TAGS} tags", "tags")
    return cleaned


def _validated_fields(data: CustomerInput) -> dict[str, Any]:
    """Checks every field, collecting all problems, and returns the values to store."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []

    def check(name: str, make: Any) -> None:
        try:
            values[name] = make()
        except DomainError as error:
            problems.extend(error.problems)

    for name, text in (
        ("sourceId", data.source_id),
        ("email", data.email),
        ("phone", data.phone),
        ("name", data.name),
        *((f"tags.{index}", tag) for index, tag in enumerate(data.tags or [])),
    ):
        if text is not None and (problem := text_problem(text, name)) is not None:
            problems.append(problem)
    if problems:
        raise DomainError.of(problems)
    if data.source_id is not None:
        source_id = data.source_id.strip()
        if not source_id or len(source_id) > 200:
            problems.append(
                Problem(CommonError.INVALID, "sourceId must be 1 to 200 characters", "sourceId")
            )
        values["source_id"] = source_id
    if data.email is not None:
        check("email", lambda: normalize_email(data.email) if data.email.strip() else None)
    if data.phone is not None:
        check("phone", lambda: normalize_phone(data.phone) if data.phone.strip() else None)
    if data.name is not None:
        values["name"] = data.name.strip()[:200]
    if data.attributes is not None:
        if not isinstance(data.attributes, dict):
            problems.append(
                Problem(CommonError.INVALID, "attributes must be an object", "attributes")
            )
        elif len(repr(data.attributes)) > MAX_ATTRIBUTES_BYTES:
            problems.append(Problem(CommonError.INVALID, "attributes are too large", "attributes"))
        elif stored_problems := [
            *value_problems(data.attributes, "attributes"),
            *document_key_problems(data.attributes, "attributes"),
        ]:
            problems.extend(stored_problems)
        else:
            values["attributes"] = data.attributes
    if data.tags is not None:
        check("tags", lambda: _clean_tags(data.tags))
    if problems:
        raise DomainError.of(problems)
    return values


def _consent_changes(
    current: Consents, wanted: ConsentsInput | None, source: str
) -> tuple[dict[str, bool], list[ConsentChange]]:
    if wanted is None:
        return {}, []
    now = utc_now()
    updates: dict[str, bool] = {}
    changes: list[ConsentChange] = []
    for channel in Channel:
        name = channel.value.lower()
        value = getattr(wanted, name)
        if value is not None and value != getattr(current, name):
            updates[f"consents.{name}"] = value
            changes.append(ConsentChange(channel=channel, granted=value, at=now, source=source))
    return updates, changes


def new_customer(
    project_id: str, data: CustomerInput, source: str, created_at: datetime | None = None
) -> Customer:
    """A customer checked field by field (DomainError listing every problem), not yet stored."""
    values = _validated_fields(data)
    _, changes = _consent_changes(Consents(), data.consents, source)
    consents = Consents(**{c.channel.value.lower(): c.granted for c in changes})
    customer = Customer(project_id=project_id, consents=consents, consent_log=changes, **values)
    if created_at is not None:
        customer.created_at = customer.updated_at = created_at
    return customer


async def store_customer(customer: Customer) -> Customer:
    """Inserts a customer made by new_customer; a taken sourceId is DUPLICATE_SOURCE_ID.
    domain.customer_lifecycle.create_customer also emits its events."""
    try:
        await customer.insert()
    except DuplicateKeyError:
        raise DomainError(
            CustomerError.DUPLICATE_SOURCE_ID,
            "a customer with this sourceId already exists",
            "sourceId",
        ) from None
    return customer


async def get_customer(project_id: str, customer_id: str) -> Customer:
    customer = await Customer.find_one(
        {"_id": object_id(customer_id, "customer"), "project_id": project_id}
    )
    if customer is None:
        raise NotFound("customer")
    return customer


async def customers_by_id(project_id: str, customer_ids: list[str]) -> dict[str, Customer]:
    """The project's customers among the ids, in one query, by id; unknown ids are left out."""
    found = await Customer.find(
        {"_id": {"$in": object_ids(customer_ids)}, "project_id": project_id}
    ).to_list()
    return {customer.key: customer for customer in found}


def contact_address(customer: Customer, channel: str) -> str:
    """Where a message by `channel` (EMAIL or SMS) reaches the customer; "" when nowhere."""
    return (customer.email if channel == Channel.EMAIL else customer.phone) or ""


async def get_live_customer(
    project_id: str, customer_id: str, field: str = "customerId"
) -> Customer:
    """A customer a request names, for acting on: NOT_FOUND or ERASED, on `field`, otherwise."""
    try:
        customer = await get_customer(project_id, customer_id)
    except NotFound:
        raise NotFound("customer", field) from None
    if customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", field)
    return customer


async def get_customer_by_source_id(project_id: str, source_id: str) -> Customer:
    customer = await Customer.find_one({"project_id": project_id, "source_id": source_id})
    if customer is None:
        raise NotFound("customer", "sourceId")
    return customer


async def update_customer(
    project_id: str, customer_id: str, data: CustomerInput, source: str
) -> Customer:
    customer = await get_customer(project_id, customer_id)
    if customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", "id")
    values = _validated_fields(data)
    consent_updates, changes = _consent_changes(customer.consents, data.consents, source)
    update: dict[str, Any] = {"$set": {**values, **consent_updates, "updated_at": utc_now()}}
    if changes:
        update["$push"] = {"consent_log": {"$each": [c.model_dump() for c in changes]}}
    try:
        await Customer.get_pymongo_collection().update_one(
            {"_id": customer.id, "project_id": project_id}, update
        )
    except DuplicateKeyError:
        raise DomainError(
            CustomerError.DUPLICATE_SOURCE_ID,
            "a customer with this sourceId already exists",
            "sourceId",
        ) from None
    if "name" in values and values["name"] != customer.name:
        # The holder's name shows on their loyalty cards' wallet passes.
        await wallet.customer_passes_changed(project_id, customer_id)
    return await get_customer(project_id, customer_id)


async def list_customers(
    project_id: str, filters: CustomerFilter, first: int, after: str | None
) -> Page[Customer]:
    query: dict[str, Any] = {"project_id": project_id}
    if not filters.include_erased:
        query["erased"] = False
    if filters.email:
        query["email"] = normalize_email(filters.email)
    if filters.phone:
        query["phone"] = normalize_phone(filters.phone)
    if filters.tag:
        query["tags"] = filters.tag.strip().lower()
    created: dict[str, datetime] = {}
    if filters.created_after:
        created["$gte"] = filters.created_after
    if filters.created_before:
        created["$lt"] = filters.created_before
    if created:
        query["created_at"] = created
    return await paginate(Customer, query, first, after)


async def erase_customer_record(project_id: str, customer_id: str) -> None:
    """Leaves a tombstone of the customer and revokes its tokens; the rest of the erasure is
    domain.customer_lifecycle.erase_customer."""
    customer = await get_customer(project_id, customer_id)
    result = await Customer.get_pymongo_collection().update_one(
        {"_id": customer.id, "project_id": project_id, "erased": False},
        {
            "$set": {
                "source_id": None,
                "email": None,
                "phone": None,
                "name": "",
                "attributes": {},
                "tags": [],
                "consents": Consents().model_dump(),
                "erased": True,
                "erased_at": utc_now(),
                "updated_at": utc_now(),
            }
        },
    )
    # Their name leaves their cards' wallet passes; moved on a repeated erasure too, so one
    # that died before this line is completed by a retry.
    await wallet.customer_passes_changed(project_id, customer_id)
    if result.modified_count == 0:
        raise DomainError(CustomerError.ALREADY_ERASED, "this customer was already erased", "id")
    await CustomerToken.get_pymongo_collection().delete_many(
        {"project_id": project_id, "customer_id": customer_id}
    )


async def issue_customer_token(project_id: str, customer_id: str) -> str:
    customer = await get_customer(project_id, customer_id)
    if customer.erased:
        raise DomainError(CommonError.ERASED, "this customer was erased", "customerId")
    secret = new_secret(CUSTOMER_TOKEN_PREFIX)
    await CustomerToken(
        project_id=project_id,
        customer_id=customer_id,
        hash=hash_secret(secret),
        expires_at=utc_now() + CUSTOMER_TOKEN_LIFETIME,
    ).insert()
    return secret


async def find_customer_token(secret: str) -> CustomerToken | None:
    if not secret.startswith(CUSTOMER_TOKEN_PREFIX + "_"):
        return None
    # The TTL monitor removes expired tokens eventually; the filter makes expiry exact.
    return await CustomerToken.find_one(
        {"hash": hash_secret(secret), "expires_at": {"$gt": utc_now()}}
    )


@dataclass(frozen=True)
class ContactLookup:
    """What a till knows of a customer: exactly one of an email, a phone number or a shop id."""

    email: str | None = None
    phone: str | None = None
    source_id: str | None = None

    def given(self) -> list[tuple[str, str]]:
        """(argument name, trimmed value) of each part given."""
        named = (
            ("customerEmail", self.email),
            ("customerPhone", self.phone),
            ("customerSourceId", self.source_id),
        )
        return [(field, value.strip()) for field, value in named if value and value.strip()]


async def find_customer_id_by_contact(project_id: str, lookup: ContactLookup) -> str:
    """The id of the one live customer with exactly this email, phone or shop id. Tills may not
    read customers, so this answers an id or an error, never the customer."""
    given = lookup.given()
    if len(given) != 1:
        raise DomainError(
            CommonError.INVALID,
            "give one of customerEmail, customerPhone or customerSourceId",
            given[1][0] if len(given) > 1 else "customerEmail",
        )
    field, value = given[0]
    query: dict[str, Any] = {"project_id": project_id, "erased": False}
    if field == "customerEmail":
        query["email"] = _for_field(lambda: normalize_email(value), field)
    elif field == "customerPhone":
        query["phone"] = _for_field(lambda: normalize_phone(value), field)
    else:
        query["source_id"] = value
    found = await Customer.get_pymongo_collection().find(query, {"_id": 1}).limit(2).to_list()
    if not found:
        raise DomainError(
            CustomerError.CUSTOMER_NOT_FOUND, "no customer has this " + _WHAT[field], field
        )
    if len(found) > 1:
        raise DomainError(
            CustomerError.CUSTOMER_AMBIGUOUS,
            f"several customers have this {_WHAT[field]}: use the shop's customer id",
            field,
        )
    return str(found[0]["_id"])


_WHAT = {"customerEmail": "email", "customerPhone": "phone number", "customerSourceId": "shop id"}


def _for_field(normalize: Callable[[], str], field: str) -> str:
    """Normalizes, naming the lookup's argument rather than the customer's field in errors."""
    try:
        return normalize()
    except DomainError as error:
        raise DomainError(error.code, str(error), field) from None
