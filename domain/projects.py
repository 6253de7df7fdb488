"""Projects (tenants) and their API keys."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beanie import Document
from bson import ObjectId
from pydantic import BaseModel, Field
from pymongo import IndexModel

from domain import messages, snapshot_registry, wallet
from domain.campaigns.models import Campaign
from domain.common import hash_secret, new_secret, object_id, utc_now
from domain.errors import CommonError, DomainError, ErrorCode, NotFound, Problem
from domain.providers import (
    SmtpChanges,
    SmtpServer,
    TwilioAccount,
    TwilioChanges,
    changed_smtp,
    changed_twilio,
)
from domain.quiet_hours import parse_clock


class ProjectError(ErrorCode):
    """Returned by createApiKey, revokeApiKey and the project mutations."""

    ALREADY_REVOKED = "ALREADY_REVOKED"


API_KEY_PREFIX = "ek"
# last_used_at is a hint, not an audit trail: writing it on every request would double the
# cost of the hottest path, so it moves at most once per interval.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Role(StrEnum):
    ADMIN = "ADMIN"
    POS = "POS"


class Brand(BaseModel):
    """White-label look of a project's pages, messages and passes."""

    name: str = ""
    primary_color: str = "#1f2937"
    accent_color: str = "#f59e0b"
    logo_url: str = ""
    # Where a customer uses a coupon online; the coupon page links here with `code=<CODE>`.
    shop_url: str = ""


def display_name(project: "Project") -> str:
    """The brand's name, else the project's name made presentable: "demo-shop" -> "Demo Shop".
    A new project's brand starts with the project's name, which counts as no brand name."""
    chosen = project.brand.name.strip()
    if chosen and chosen != project.name:
        return chosen
    words = project.name.replace("_", " ").replace("-", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words) or project.name


class Messaging(BaseModel):
    """How a project's messages go out: senders, and the hours SMS must not arrive."""

    # Empty: the service's ENGAGE_EMAIL_FROM / ENGAGE_TWILIO_FROM.
    email_from: str = ""
    sms_from: str = ""
    # Customers without a `timezone` attribute are taken to live here.
    timezone: str = "UTC"
    quiet_hours: bool = True
    # Local times, "HH:MM"; the quiet period may span midnight.
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    # The project's own providers; None: the installation's (ENGAGE_SMTP_*, ENGAGE_TWILIO_*).
    smtp: SmtpServer | None = None
    twilio: TwilioAccount | None = None


class Project(Document):
    name: str
    sandbox: bool = False
    brand: Brand = Field(default_factory=Brand)
    messaging: Messaging = Field(default_factory=Messaging)
    # Raised by every change of brand or messaging: workers in any process compare it with the
    # copy they hold.
    settings_version: int = 0
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "projects"
        indexes = [IndexModel([("name", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)


class ApiKey(Document):
    project_id: str
    role: Role
    name: str = ""
    hash: str
    prefix: str
    created_at: datetime = Field(default_factory=utc_now)
    revoked: bool = False
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    class Settings:
        name = "api_keys"
        indexes = [
            IndexModel([("hash", 1)], unique=True),
            IndexModel([("project_id", 1), ("created_at", 1)]),
        ]


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str


async def create_project(name: str, sandbox: bool = False) -> tuple[Project, IssuedKey]:
    name = name.strip()
    if not name:
        raise DomainError(CommonError.INVALID, "a project needs a name", "name")
    project = Project(name=name, sandbox=sandbox, brand=Brand(name=name))
    await project.insert()
    issued = await create_api_key(project.key, Role.ADMIN, name="initial admin key")
    return project, issued


_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


@dataclass(frozen=True)
class BrandChanges:
    """New values for the brand; None leaves a field as it is, "" clears a URL."""

    name: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None
    logo_url: str | None = None
    shop_url: str | None = None


def _brand_changes(changes: BrandChanges) -> dict[str, str]:
    values: dict[str, str] = {}
    problems: list[Problem] = []
    if changes.name is not None:
        name = changes.name.strip()
        if not 1 <= len(name) <= 100:
            problems.append(
                Problem(CommonError.INVALID, "a brand name has 1 to 100 characters", "name")
            )
        values["name"] = name
    for field, value in (
        ("primaryColor", changes.primary_color),
        ("accentColor", changes.accent_color),
    ):
        if value is None:
            continue
        if not _COLOR.match(value.strip()):
            problems.append(
                Problem(CommonError.INVALID, "a color is written #RGB or #RRGGBB", field)
            )
        values[_snake(field)] = value.strip().lower()
    for field, value, secure_only in (
        ("logoUrl", changes.logo_url, True),
        ("shopUrl", changes.shop_url, False),
    ):
        if value is None:
            continue
        url = value.strip()
        scheme_ok = url.startswith("https://") or (not secure_only and url.startswith("http://"))
        if url and (len(url) > 2000 or not _URL.match(url) or not scheme_ok):
            wanted = "an https:// URL" if secure_only else "an http(s):// URL"
            problems.append(Problem(CommonError.INVALID, f"{field} must be {wanted}", field))
        values[_snake(field)] = url
    if problems:
        raise DomainError.of(problems)
    return values


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def draft_brand(project: Project, changes: BrandChanges) -> Brand:
    """The brand `changes` would give the project, checked as update_brand checks them, and
    not saved: what a preview shows."""
    return project.brand.model_copy(update=_brand_changes(changes))


async def update_brand(project_id: str, changes: BrandChanges) -> Project:
    """Sets the given brand fields together, or none of them when any is invalid."""
    values = _brand_changes(changes)
    if values:
        await Project.get_pymongo_collection().update_one(
            {"_id": object_id(project_id, "project")},
            {
                "$set": {f"brand.{name}": value for name, value in values.items()},
                "$inc": {"settings_version": 1},
            },
        )
        # The name and colours show on every wallet pass of the project.
        await wallet.project_passes_changed(project_id)
    return await get_project(project_id)


@dataclass(frozen=True)
class MessagingChanges:
    """New messaging settings; None leaves a field as it is, "" resets a sender to the default."""

    email_from: str | None = None
    sms_from: str | None = None
    timezone: str | None = None
    quiet_hours: bool | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    smtp: SmtpChanges | None = None
    twilio: TwilioChanges | None = None
    # Removes the project's own provider: its messages go through the installation's again.
    clear_smtp: bool = False
    clear_twilio: bool = False


# An E.164 number, or an alphanumeric sender id (up to 11 characters, not all digits).
_SMS_SENDER = re.compile(r"^(\+[1-9]\d{6,14}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$")


def _messaging_changes(changes: MessagingChanges) -> dict[str, object]:
    values: dict[str, object] = {}
    problems: list[Problem] = []
    if changes.email_from is not None:
        sender = changes.email_from.strip()
        if sender and not _looks_like_sender(sender):
            problems.append(
                Problem(
                    CommonError.INVALID, 'emailFrom is "Name <address>" or an address', "emailFrom"
                )
            )
        values["email_from"] = sender
    if changes.sms_from is not None:
        sender = changes.sms_from.strip()
        if sender and not _SMS_SENDER.match(sender):
            problems.append(
                Problem(
                    CommonError.INVALID,
                    "smsFrom is an E.164 number or a sender id of up to 11 letters and digits",
                    "smsFrom",
                )
            )
        values["sms_from"] = sender
    if changes.timezone is not None:
        try:
            ZoneInfo(changes.timezone.strip())
            values["timezone"] = changes.timezone.strip()
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                Problem(CommonError.INVALID_TIMEZONE, "timezone must be an IANA zone", "timezone")
            )
    if changes.quiet_hours is not None:
        values["quiet_hours"] = changes.quiet_hours
    for field, value in (("quietStart", changes.quiet_start), ("quietEnd", changes.quiet_end)):
        if value is None:
            continue
        try:
            values[_snake(field)] = parse_clock(value, field).strftime("%H:%M")
        except DomainError as error:
            problems.extend(error.problems)
    if problems:
        raise DomainError.of(problems)
    return values


def _looks_like_sender(value: str) -> bool:
    name, address = parseaddr(value)
    return "@" in address and (bool(name) or address == value) and " " not in address


def _provider_changes(
    project: Project, changes: MessagingChanges, secret_key: str
) -> dict[str, object]:
    values: dict[str, object] = {}
    problems: list[Problem] = []
    for clear, given, field in (
        (changes.clear_smtp, changes.smtp, "smtp"),
        (changes.clear_twilio, changes.twilio, "twilio"),
    ):
        if clear and given is not None:
            problems.append(
                Problem(CommonError.INVALID, f"{field} cannot be set and cleared at once", field)
            )
        elif clear:
            values[field] = None
    try:
        if changes.smtp is not None:
            server = changed_smtp(secret_key, project.key, project.messaging.smtp, changes.smtp)
            values["smtp"] = server.model_dump()
    except DomainError as error:
        problems.extend(error.problems)
    try:
        if changes.twilio is not None:
            current = project.messaging.twilio
            account = changed_twilio(secret_key, project.key, current, changes.twilio)
            values["twilio"] = account.model_dump()
    except DomainError as error:
        problems.extend(error.problems)
    if problems:
        raise DomainError.of(problems)
    return values


async def update_messaging(
    project_id: str, changes: MessagingChanges, secret_key: str = ""
) -> Project:
    """Sets the given messaging fields together, or none of them when any is invalid;
    provider secrets are sealed with `secret_key`."""
    project = await get_project(project_id)
    problems: list[Problem] = []
    values: dict[str, object] = {}
    for part in (
        lambda: _messaging_changes(changes),
        lambda: _provider_changes(project, changes, secret_key),
    ):
        try:
            values.update(part())
        except DomainError as error:
            problems.extend(error.problems)
    if problems:
        raise DomainError.of(problems)
    if values:
        await Project.get_pymongo_collection().update_one(
            {"_id": object_id(project_id, "project")},
            {
                "$set": {f"messaging.{name}": value for name, value in values.items()},
                "$inc": {"settings_version": 1},
            },
        )
        # Held SMS are judged again under the new rules (quiet hours switched off: sent now).
        await messages.wake_quiet_held(project_id)
    return await get_project(project_id)


async def settings_version(project_id: str) -> int | None:
    """The project's settings version, one indexed read; None when it does not exist."""
    found = await Project.get_pymongo_collection().find_one(
        {"_id": object_id(project_id, "project")}, {"settings_version": 1}
    )
    return None if found is None else int(found.get("settings_version", 0))


async def get_project(project_id: str) -> Project:
    project = await Project.get(object_id(project_id, "project"))
    if project is None:
        raise NotFound("project")
    return project


async def create_api_key(project_id: str, role: Role, name: str = "") -> IssuedKey:
    secret = new_secret(API_KEY_PREFIX)
    api_key = ApiKey(
        project_id=project_id,
        role=role,
        name=name.strip()[:100],
        hash=hash_secret(secret),
        prefix=secret[: len(API_KEY_PREFIX) + 7],
    )
    await api_key.insert()
    return IssuedKey(api_key=api_key, secret=secret)


async def revoke_api_key(project_id: str, key_id: str) -> ApiKey:
    oid = object_id(key_id, "API key")
    collection = ApiKey.get_pymongo_collection()
    result = await collection.update_one(
        {"_id": oid, "project_id": project_id, "revoked": False},
        {"$set": {"revoked": True, "revoked_at": utc_now()}},
    )
    api_key = await ApiKey.find_one({"_id": oid, "project_id": project_id})
    if api_key is None:
        raise NotFound("API key")
    if result.modified_count == 0:
        raise DomainError(ProjectError.ALREADY_REVOKED, "this API key was already revoked", "id")
    # Apps keep copies of keys for a few seconds; a redemption's write on the campaign notices
    # the moved revision and checks its key again, so the revocation holds there at once.
    await Campaign.get_pymongo_collection().update_many(
        {"project_id": project_id}, {"$inc": {"revision": 1}}
    )
    snapshot_registry.key_revoked(project_id=project_id, key_id=str(oid))
    return api_key


async def list_api_keys(project_id: str) -> list[ApiKey]:
    return await ApiKey.find({"project_id": project_id}).sort("created_at").to_list()


async def find_active_key(secret: str) -> ApiKey | None:
    if not secret.startswith(API_KEY_PREFIX + "_"):
        return None
    api_key = await ApiKey.find_one({"hash": hash_secret(secret), "revoked": False})
    if api_key is None:
        return None
    now = utc_now()
    last = api_key.last_used_at
    if last is None or now - last > LAST_USED_RESOLUTION:
        await ApiKey.get_pymongo_collection().update_one(
            {"_id": api_key.id}, {"$set": {"last_used_at": now}}
        )
    return api_key


async def key_is_active(*, project_id: str, key_id: str) -> bool:
    """Read afresh: whether the project's key is still unrevoked."""
    if not ObjectId.is_valid(key_id):
        return False
    found = await ApiKey.get_pymongo_collection().find_one(
        {"_id": ObjectId(key_id), "project_id": project_id, "revoked": False}, {"_id": 1}
    )
    return found is not None
