"""Error codes of template checking and rendering."""

from domain.errors import ErrorCode


class RenderingError(ErrorCode):
    """Returned by the template mutations, previews and sendMessage when rendering fails."""

    CHANNEL_MISMATCH = "CHANNEL_MISMATCH"
    CODE_REQUIRED = "CODE_REQUIRED"
    MISSING_OPT_OUT = "MISSING_OPT_OUT"
    MISSING_UNSUBSCRIBE = "MISSING_UNSUBSCRIBE"
    RENDER_FAILED = "RENDER_FAILED"
    TEMPLATE_ERROR = "TEMPLATE_ERROR"
    TEMPLATE_SYNTAX = "TEMPLATE_SYNTAX"
    UNKNOWN_VARIABLE = "UNKNOWN_VARIABLE"
    UNSAFE_TEMPLATE = "UNSAFE_TEMPLATE"
