"""Runs the embedded nx-27017 server with two fixes to NeoSQLite's write path.

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

This module is the one place that works around these gaps, and Engage always starts the
embedded server through it.
"""

import sys
from typing import Any

from neosqlite.collection.query_engine import QueryEngine
from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin
from nx_27017.nx_27017 import main

_LOGICAL = ("$and", "$or", "$nor")
_SCALARS = (str, int, float)


def _python_updates_only(*args: Any, **kwargs: Any) -> bool:
    return False


def _index_names(collection: Any) -> set[str]:
    """The names of the collection's indexes: `idx_<collection>_<fields joined by _>`."""
    return {name for name in collection.list_indexes() if isinstance(name, str)}


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


if __name__ == "__main__":
    SqlUpdatesMixin._can_use_sql_updates = _python_updates_only
    index_aware_write_filters()
    sys.argv[0] = "nx_27017"
    sys.exit(main())
