"""Error codes of the segments feature."""

from domain.errors import ErrorCode


class SegmentError(ErrorCode):
    """Returned by the segment mutations and queries."""

    DUPLICATE_NAME = "DUPLICATE_NAME"
    FILTER_ON_STATIC = "FILTER_ON_STATIC"
    INVALID_FILTER = "INVALID_FILTER"
    NOT_STATIC = "NOT_STATIC"
    SEGMENT_FULL = "SEGMENT_FULL"
    SEGMENT_IN_USE = "SEGMENT_IN_USE"
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
