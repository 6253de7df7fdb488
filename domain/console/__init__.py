"""Console users, their roles, passwords and sessions."""

from domain.console.errors import ConsoleError
from domain.console.models import ConsoleRole, ConsoleSession, ConsoleUser, role_allows
from domain.console.service import (
    SESSION_LIFETIME,
    IssuedUser,
    check_password,
    create_user,
    end_session,
    end_user_sessions,
    find_session,
    find_user_by_email,
    get_user,
    list_users,
    new_password,
    normalize_user_email,
    parse_role,
    password_matches,
    remove_user,
    reset_password,
    start_session,
)

__all__ = [
    "SESSION_LIFETIME",
    "ConsoleError",
    "ConsoleRole",
    "ConsoleSession",
    "ConsoleUser",
    "IssuedUser",
    "check_password",
    "create_user",
    "end_session",
    "end_user_sessions",
    "find_session",
    "find_user_by_email",
    "get_user",
    "list_users",
    "new_password",
    "normalize_user_email",
    "parse_role",
    "password_matches",
    "remove_user",
    "reset_password",
    "role_allows",
    "start_session",
]
