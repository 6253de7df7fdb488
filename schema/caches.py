"""Parse and validation caches that only keep short documents, so they stay small in memory."""

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension

# Entries in each cache. A cached document costs about 12 KB for a typical operation and up to
# about 310 KB for a 2,000-character query packed with tokens (the AST keeps every token).
CACHE_ENTRIES = 128


class ShortQueryParserCache(ParserCache):
    """Caches the parse of queries up to `max_length` characters in Strawberry's module-level
    LRU; longer ones (up to the request bound) are parsed each time."""

    def __init__(self, max_length: int) -> None:
        super().__init__(maxsize=CACHE_ENTRIES)
        self.max_length = max_length

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) <= self.max_length:
            yield from super().on_parse()
        else:
            yield


@dataclass
class ValidatedQueries:
    """Which (schema, query, rules) passed validation. Keyed by the query text, not the
    document, and holding no errors (which point into their document), so an entry costs
    its text only."""

    maxsize: int
    hits: int = 0
    misses: int = 0
    _entries: OrderedDict[Hashable, None] = field(default_factory=OrderedDict)

    def __contains__(self, key: Hashable) -> bool:
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return True
        self.misses += 1
        return False

    def add(self, key: Hashable) -> None:
        self._entries[key] = None
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


VALIDATED = ValidatedQueries(maxsize=CACHE_ENTRIES)


class ShortQueryValidationCache(SchemaExtension):
    """Skips validating a query up to `max_length` characters that passed before with the same
    rules; a query that failed is validated again (failures are rare and hold their document)."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def on_validate(self) -> Iterator[None]:
        # Imported here as Strawberry's ValidationCache does: the module imports extensions.
        from strawberry.schema.schema import validate_document

        context = self.execution_context
        query = context.query or ""
        if len(query) > self.max_length:
            yield
            return
        schema = context.schema._schema
        key = (schema, query, context.validation_rules)
        if key in VALIDATED:
            context.pre_execution_errors = []
        else:
            assert context.graphql_document is not None
            errors: list[GraphQLError] = validate_document(
                schema, context.graphql_document, context.validation_rules
            )
            if not errors:
                VALIDATED.add(key)
            context.pre_execution_errors = errors
        yield
