"""Console users (people who sign in to /console) and their sessions."""

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now


class ConsoleRole(StrEnum):
    """OWNER manages users, API keys and erasure; MARKETER runs campaigns; VIEWER only reads."""

    OWNER = "OWNER"
    MARKETER = "MARKETER"
    VIEWER = "VIEWER"


_RANK = {ConsoleRole.VIEWER: 0, ConsoleRole.MARKETER: 1, ConsoleRole.OWNER: 2}


def role_allows(role: ConsoleRole, minimum: ConsoleRole) -> bool:
    """Whether `role` may do what needs at least `minimum`."""
    return _RANK[role] >= _RANK[minimum]


class ConsoleUser(Document):
    project_id: str
    # Normalised (lower-case); unique within a project, so one person may sign in to several.
    email: str
    role: ConsoleRole
    password_hash: str
    created_at: datetime = Field(default_factory=utc_now)
    created_by: str = ""
    last_sign_in_at: datetime | None = None

    class Settings:
        name = "console_users"
        indexes = [
            IndexModel([("project_id", 1), ("email", 1)], unique=True),
            IndexModel([("email", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class ConsoleSession(Document):
    """One signed-in browser. Only a hash of the session id is stored: a leaked database does
    not sign anyone in. Deleting the document ends the session."""

    id_hash: str
    project_id: str
    user_id: str
    # Sent back in every form; a POST whose token differs is refused.
    csrf_token: str
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime

    class Settings:
        name = "console_sessions"
        indexes = [
            IndexModel([("id_hash", 1)], unique=True),
            IndexModel([("project_id", 1), ("user_id", 1)]),
            IndexModel([("expires_at", 1)], expireAfterSeconds=0),
        ]
