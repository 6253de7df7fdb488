"""Parse and validation caches that only keep short documents, so they stay small in memory."""

from collections.abc import Iterator

from strawberry.extensions import ParserCache, ValidationCache

# Entries per cache; the caches live at module level in Strawberry, shared by every request.
CACHE_ENTRIES = 256


class ShortQueryParserCache(ParserCache):
    """Caches the parse of queries up to `max_length` characters; longer ones parse each time
    (the request bounds already cap how long that can be)."""

    def __init__(self, max_length: int) -> None:
        super().__init__(maxsize=CACHE_ENTRIES)
        self.max_length = max_length

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) <= self.max_length:
            yield from super().on_parse()
        else:
            yield


class ShortQueryValidationCache(ValidationCache):
    """Caches validation of documents from queries up to `max_length` characters."""

    def __init__(self, max_length: int) -> None:
        super().__init__(maxsize=CACHE_ENTRIES)
        self.max_length = max_length

    def on_validate(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) <= self.max_length:
            yield from super().on_validate()
        else:
            yield
