"""Console users and sessions: creating and removing users, checking passwords, sessions."""

import asyncio
import re
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo.errors import DuplicateKeyError

from domain.common import hash_secret, object_id, utc_now
from domain.console.errors import ConsoleError
from domain.console.models import ConsoleRole, ConsoleSession, ConsoleUser
from domain.customers import CustomerError
from domain.errors import CommonError, DomainError, NotFound

SESSION_LIFETIME = timedelta(hours=12)
# Letters and digits without look-alikes: a one-time password is read off a terminal.
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_lowercase + string.digits if c not in "ilo01")
# An email shared by more accounts than this is not looked through at sign-in.
MAX_ACCOUNTS_PER_EMAIL = 20
MAX_EMAIL_LENGTH = 254
_USER_EMAIL = re.compile(r"^[^@\s]+@[^@\s.][^@\s]*$")

# argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): a guess costs
# real memory while a sign-in stays well under a second on a small server.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Checked when no account has the email, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class IssuedUser:
    user: ConsoleUser
    # Shown once, to whoever created the user; only its argon2 hash is stored.
    password: str


def new_password() -> str:
    """Four groups of five: about 103 bits, easy to type from a terminal."""
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(5)) for _ in range(4))
    return "-".join(groups)


async def hash_password(password: str) -> str:
    # argon2 spends tens of milliseconds of CPU on purpose: off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def parse_role(value: str, field: str = "role") -> ConsoleRole:
    try:
        return ConsoleRole(value.strip().upper())
    except ValueError:
        raise DomainError(
            ConsoleError.INVALID_ROLE, "role is OWNER, MARKETER or VIEWER", field
        ) from None


def normalize_user_email(raw: str) -> str:
    """A sign-in name shaped like an address. Nothing is sent to it, so local names such as
    owner@demo.local are allowed (email_validator refuses special-use domains)."""
    address = raw.strip().lower()
    if not address:
        raise DomainError(CommonError.REQUIRED, "enter an email address", "email")
    if len(address) > MAX_EMAIL_LENGTH or not _USER_EMAIL.match(address):
        raise DomainError(
            CustomerError.INVALID_EMAIL, "enter an email address like name@example.com", "email"
        )
    return address


async def create_user(
    *, project_id: str, email: str, role: ConsoleRole | str, created_by: str = ""
) -> IssuedUser:
    """A user of the project with a new random password; USER_EXISTS when the email has one."""
    address = normalize_user_email(email)
    chosen = role if isinstance(role, ConsoleRole) else parse_role(role)
    password = new_password()
    user = ConsoleUser(
        project_id=project_id,
        email=address,
        role=chosen,
        password_hash=await hash_password(password),
        created_by=created_by,
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise DomainError(
            ConsoleError.USER_EXISTS, "this email already has a user in this project", "email"
        ) from None
    return IssuedUser(user=user, password=password)


async def reset_password(*, project_id: str, user_id: str) -> str:
    """A new random password for the user; its sessions end."""
    user = await get_user(project_id=project_id, user_id=user_id)
    password = new_password()
    await ConsoleUser.get_pymongo_collection().update_one(
        {"_id": user.id, "project_id": project_id},
        {"$set": {"password_hash": await hash_password(password)}},
    )
    await end_user_sessions(project_id=project_id, user_id=user_id)
    return password


async def password_matches(*, user: ConsoleUser, password: str) -> bool:
    return await asyncio.to_thread(_matches, user.password_hash, password)


async def check_password(*, email: str, password: str) -> ConsoleUser:
    """The account with this email whose password this is, or WRONG_PASSWORD. One email may
    have an account in several projects; each has its own generated password."""
    wrong = DomainError(ConsoleError.WRONG_PASSWORD, "the email or password is not right", "email")
    try:
        address = normalize_user_email(email)
    except DomainError:
        await asyncio.to_thread(_matches, _DUMMY_HASH, password)
        raise wrong from None
    accounts = (
        await ConsoleUser.find({"email": address})
        .sort("created_at")
        .limit(MAX_ACCOUNTS_PER_EMAIL)
        .to_list()
    )
    if not accounts:
        await asyncio.to_thread(_matches, _DUMMY_HASH, password)
    for account in accounts:
        if await password_matches(user=account, password=password):
            return account
    raise wrong


async def start_session(*, user: ConsoleUser) -> tuple[str, ConsoleSession]:
    """A new session for the user: returns the session id for the cookie (stored hashed)."""
    session_id = secrets.token_urlsafe(32)
    now = utc_now()
    session = ConsoleSession(
        id_hash=hash_secret(session_id),
        project_id=user.project_id,
        user_id=user.key,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    await session.insert()
    await ConsoleUser.get_pymongo_collection().update_one(
        {"_id": user.id}, {"$set": {"last_sign_in_at": now}}
    )
    return session_id, session


async def find_session(session_id: str) -> tuple[ConsoleSession, ConsoleUser] | None:
    """The live session and its user; None once it expired, ended or its user was removed."""
    session = await ConsoleSession.find_one({"id_hash": hash_secret(session_id)})
    if session is None or session.expires_at <= utc_now():
        return None
    user = await ConsoleUser.find_one(
        {"_id": object_id(session.user_id, "user"), "project_id": session.project_id}
    )
    if user is None:
        return None
    return session, user


async def end_session(session_id: str) -> None:
    await ConsoleSession.get_pymongo_collection().delete_one({"id_hash": hash_secret(session_id)})


async def end_user_sessions(*, project_id: str, user_id: str) -> int:
    result = await ConsoleSession.get_pymongo_collection().delete_many(
        {"project_id": project_id, "user_id": user_id}
    )
    return int(result.deleted_count)


async def get_user(*, project_id: str, user_id: str) -> ConsoleUser:
    user = await ConsoleUser.find_one({"_id": object_id(user_id, "user"), "project_id": project_id})
    if user is None:
        raise NotFound("user")
    return user


async def find_user_by_email(*, project_id: str, email: str) -> ConsoleUser | None:
    return await ConsoleUser.find_one(
        {"project_id": project_id, "email": normalize_user_email(email)}
    )


async def list_users(*, project_id: str) -> list[ConsoleUser]:
    return await ConsoleUser.find({"project_id": project_id}).sort("created_at").to_list()


async def remove_user(*, project_id: str, user_id: str, removed_by: str) -> ConsoleUser:
    """Deletes the user and ends every session of theirs. A user cannot remove themselves, so a
    project keeps the owner who is removing others."""
    if user_id == removed_by:
        raise DomainError(ConsoleError.CANNOT_REMOVE_SELF, "you cannot remove yourself", "id")
    user = await get_user(project_id=project_id, user_id=user_id)
    result = await ConsoleUser.get_pymongo_collection().delete_one(
        {"_id": user.id, "project_id": project_id}
    )
    if result.deleted_count == 0:
        raise NotFound("user")
    await end_user_sessions(project_id=project_id, user_id=user_id)
    return user
