"""Error codes of console sign-in and user management."""

from domain.errors import ErrorCode


class ConsoleError(ErrorCode):
    WRONG_PASSWORD = "WRONG_PASSWORD"  # noqa: S105 (an error code)
    USER_EXISTS = "USER_EXISTS"
    CANNOT_REMOVE_SELF = "CANNOT_REMOVE_SELF"
    INVALID_ROLE = "INVALID_ROLE"
