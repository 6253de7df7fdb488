"""Error codes of code generation and publishing."""

from domain.errors import ErrorCode


class CodeError(ErrorCode):
    """Returned by generateCodes, publishCode, createCampaign (code patterns) and job queries."""

    CODE_SPACE_TOO_SMALL = "CODE_SPACE_TOO_SMALL"
    INVALID_CHARSET = "INVALID_CHARSET"
    INVALID_COUNT = "INVALID_COUNT"
    NO_CODE = "NO_CODE"
    STANDALONE_CAMPAIGN = "STANDALONE_CAMPAIGN"
    STANDALONE_CODE_TAKEN = "STANDALONE_CODE_TAKEN"
