"""Runs the embedded nx-27017 server with fixes to NeoSQLite's writes and date comparisons.

1. Types. The embedded server's SQL update path stores a scalar datetime given to $set/$max/$min
   as a string and a sub-document given to $push as a JSON string, so dates stop comparing and
   ledgers stop being documents. Its Python update path stores both as MongoDB does at the same
   speed (measured: about 1,100 conditional find_one_and_update per second either way). Only the
   update path is switched: NeoSQLite's global fallback switch would also move queries to Python,
   which is a hundred times slower.
2. Indexes. A find turns `{field: value}` on an indexed field into `field = ?`, which SQLite
   answers from the index. Updates, upserts, deletes and find_one_and_update translate the same
   filter with MongoDB's array-containment clause (`field = ? OR EXISTS (… json_each …)`),
   which no index can answer: every write scanned the collection up to its document, and an
   upsert or a write matching nothing scanned all of it (30 ms at 30,000 documents, growing).
   The write path now reads indexed equalities as finds do, as `{field: {"$eq": value}}`.
3. Dates. NeoSQLite stores a date as `{"$date": "<ISO 8601 with microseconds>"}`. Find, count,
   update and delete filters compare dates through SQLite's `datetime()`, which keeps whole
   seconds (12:00:51.115 is not $lt 12:00:51.600), and the two fast SQL paths of aggregation
   `$match` compare the stored `{"$date": …}` object's text with the date, which is never right.
   Filters now compare `strftime('%Y-%m-%d %H:%M:%f', …)`, milliseconds as BSON dates carry, and
   an aggregation `$match` holding a date skips both fast paths for the temporary-table tier,
   which uses the filters' translation (or Python).

This module is the one place that works around these gaps, and Engage always starts the
embedded server through it.
"""

import sys
from datetime import datetime
from typing import Any

from neosqlite.collection._stage_builders import StageBuildersMixin
from neosqlite.collection.query_engine import QueryEngine
from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin
from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin
from neosqlite.collection.sql_translator_unified import SQLOperatorTranslator
from nx_27017.nx_27017 import main

_LOGICAL = ("$and", "$or", "$nor")
_SCALARS = (str, int, float)
# SQLite's datetime() drops the fraction of a second; this keeps milliseconds, in UTC.
_MILLISECOND_TIME = "strftime('%Y-%m-%d %H:%M:%f', "


def _python_updates_only(*args: Any, **kwargs: Any) -> bool:
    return False


def _index_names(collection: Any) -> set[str]:
    """The names of the collection's indexes: `idx_<collection>_<fields joined by _>`. Kept on
    the collection while SQLite's schema version stands: listing them on every write cost a
    tenth of the server's time, and creating or dropping any index moves the version."""
    version = collection.db.execute("PRAGMA schema_version").fetchone()[0]
    known: tuple[int, set[str]] | None = getattr(collection, "_engage_index_names", None)
    if known is not None and known[0] == version:
        return known[1]
    names = {name for name in collection.list_indexes() if isinstance(name, str)}
    collection._engage_index_names = (version, names)
    return names


def _has_index(index_names: set[str], field: str) -> bool:
    suffix = f"_{field.replace('.', '_')}"
    return any(name.endswith(suffix) for name in index_names)


def indexed_equalities_as_eq(query: Any, index_names: set[str]) -> Any:
    """`{field: scalar}` becomes `{field: {"$eq": scalar}}` where an index names the field,
    inside $and/$or/$nor too; everything else is left as given."""
    if not isinstance(query, dict):
        return query
    rewritten: dict[str, Any] = {}
    for field, value in query.items():
        if field in _LOGICAL and isinstance(value, list):
            rewritten[field] = [indexed_equalities_as_eq(part, index_names) for part in value]
        elif (
            not field.startswith("$")
            and field != "_id"
            and isinstance(value, _SCALARS)
            and _has_index(index_names, field)
        ):
            rewritten[field] = {"$eq": value}
        else:
            rewritten[field] = value
    return rewritten


def index_aware_write_filters() -> None:
    """Patches NeoSQLite's QueryEngine (once) so that writes translate filters as above."""
    original_init = QueryEngine.__init__
    if getattr(original_init, "index_aware", False):
        return

    def init(self: QueryEngine, collection: Any) -> None:
        original_init(self, collection)
        translate = self.sql_translator.translate_match

        def translate_match(match_spec: Any, context: str = "direct") -> Any:
            names = _index_names(collection)
            return translate(indexed_equalities_as_eq(match_spec, names), context)

        self.sql_translator.translate_match = translate_match

    init.index_aware = True  # type: ignore[attr-defined]
    QueryEngine.__init__ = init


def holds_date(value: Any) -> bool:
    """Whether a filter value holds a date, at any depth."""
    if isinstance(value, datetime):
        return True
    if isinstance(value, dict):
        return any(holds_date(part) for part in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_date(part) for part in value)
    return False


def millisecond_date_comparisons() -> None:
    """Patches NeoSQLite (once) so that every date comparison it makes in SQL keeps milliseconds."""
    original_translate = SQLOperatorTranslator.translate_operator
    if getattr(original_translate, "milliseconds", False):
        return

    def translate_operator(
        self: SQLOperatorTranslator, field_access: str, operator: str, value: Any
    ) -> tuple[str | None, list[Any]]:
        sql, params = original_translate(self, field_access, operator, value)
        if sql is not None and "datetime(" in sql:
            sql = sql.replace("datetime(", _MILLISECOND_TIME)
        return sql, params

    original_match = StageBuildersMixin._build_match_sql

    def build_match_sql(self: Any, spec: Any, prev_stage: Any, context: Any) -> Any:
        if holds_date(spec):
            return None, []
        return original_match(self, spec, prev_stage, context)

    original_simple_where = SqlQueryBuilderMixin._build_simple_where_clause

    def build_simple_where_clause(self: Any, query: dict[str, Any]) -> Any:
        if holds_date(query):
            return None
        return original_simple_where(self, query)

    translate_operator.milliseconds = True  # type: ignore[attr-defined]
    SQLOperatorTranslator.translate_operator = translate_operator
    StageBuildersMixin._build_match_sql = build_match_sql
    SqlQueryBuilderMixin._build_simple_where_clause = build_simple_where_clause


if __name__ == "__main__":
    SqlUpdatesMixin._can_use_sql_updates = _python_updates_only
    index_aware_write_filters()
    millisecond_date_comparisons()
    sys.argv[0] = "nx_27017"
    sys.exit(main())
