"""Error codes of customer and order imports."""

from domain.errors import ErrorCode


class DataImportError(ErrorCode):
    """Returned by importCustomers and importOrders, and in an import's row problems."""

    AMBIGUOUS_CUSTOMER = "AMBIGUOUS_CUSTOMER"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    INVALID_DATE = "INVALID_DATE"
    INVALID_FILE = "INVALID_FILE"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"
    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNREADABLE = "UNREADABLE"
