"""Error codes of the automations feature."""

from domain.errors import ErrorCode


class AutomationError(ErrorCode):
    """Returned by the automation mutations."""

    INVALID_ACTION = "INVALID_ACTION"
    INVALID_CONDITIONS = "INVALID_CONDITIONS"
    INVALID_DELAY = "INVALID_DELAY"
