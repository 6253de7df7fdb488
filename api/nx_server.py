"""Runs the embedded nx-27017 server with NeoSQLite's Python update path.

The embedded server's SQL update path stores a scalar datetime given to $set/$max/$min as a
string and a sub-document given to $push as a JSON string, so dates stop comparing and ledgers
stop being documents. Its Python update path stores both as MongoDB does at the same speed
(measured: about 1,100 conditional find_one_and_update per second either way). Only the
update path is switched: NeoSQLite's global fallback switch would also move queries to Python,
which is a hundred times slower. This module is the one place that works around the gap, and
Engage always starts the embedded server through it.
"""

import sys
from typing import Any

from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin
from nx_27017.nx_27017 import main


def _python_updates_only(*args: Any, **kwargs: Any) -> bool:
    return False


if __name__ == "__main__":
    SqlUpdatesMixin._can_use_sql_updates = _python_updates_only
    sys.argv[0] = "nx_27017"
    sys.exit(main())
