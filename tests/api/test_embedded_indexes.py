"""Writes on the embedded server find their document through an index (see api/nx_server.py)."""

import re
import uuid
from collections.abc import Iterator

import neosqlite
import pytest

from api.database import make_client
from api.nx_server import index_aware_write_filters, indexed_equalities_as_eq

PLANS = pytest.mark.embedded_only(
    reason="reads the query plans of SQLite under our nx-27017 launcher"
)
FILTER_LOOKUP = re.compile(r"SELECT id\b.* FROM codes WHERE (?!id = )")


@PLANS
def test_indexed_scalar_equalities_become_eq() -> None:
    names = {"idx_codes_project_id_code", "idx_codes_pool", "idx_codes_customer_id"}
    query = {
        "_id": "x",
        "project_id": "p",
        "code": "ABC",
        "pool": "",
        "customer_id": {"$in": ["a", "b"]},
        "tags": "vip",
        "$and": [{"pool": "c"}, {"redeemed_count": 2}],
        "$or": [{"code": "D"}, {"code": None}],
    }
    assert indexed_equalities_as_eq(query, names) == {
        "_id": "x",
        # Not an index's last field: its index name does not end with it.
        "project_id": "p",
        "code": {"$eq": "ABC"},
        "pool": {"$eq": ""},
        "customer_id": {"$in": ["a", "b"]},
        "tags": "vip",
        "$and": [{"pool": {"$eq": "c"}}, {"redeemed_count": 2}],
        "$or": [{"code": {"$eq": "D"}}, {"code": None}],
    }


@pytest.fixture
def codes() -> Iterator[neosqlite.Collection]:
    index_aware_write_filters()
    database = neosqlite.Connection(":memory:")
    collection = database["codes"]
    collection.create_index([("project_id", 1), ("code", 1)], unique=True)
    collection.create_index("pool")
    collection.create_index("assigned")
    collection.insert_many(
        [{"project_id": "p", "code": f"C{i}", "pool": "", "assigned": True} for i in range(500)]
    )
    collection.insert_many(
        [{"project_id": "p", "code": f"F{i}", "pool": "c", "assigned": False} for i in range(5)]
    )
    yield collection
    database.close()


@PLANS
def test_writes_on_an_indexed_field_are_answered_from_the_index(
    codes: neosqlite.Collection,
) -> None:
    statements: list[str] = []
    sqlite = codes.db
    sqlite.set_trace_callback(statements.append)
    try:
        taken = codes.find_one_and_update(
            {"project_id": "p", "pool": "c", "assigned": False},
            {"$set": {"pool": "", "assigned": True}},
        )
        codes.update_one({"pool": "c"}, {"$set": {"seen": True}})
        codes.update_one({"pool": "new", "project_id": "p"}, {"$set": {"n": 1}}, upsert=True)
        codes.delete_one({"pool": "c", "assigned": False})
    finally:
        sqlite.set_trace_callback(None)
    # How each write finds its document; the write itself then goes by row id.
    lookups = [s for s in statements if FILTER_LOOKUP.match(s)]
    assert len(lookups) == 4
    for lookup in lookups:
        plan = " ".join(str(row[3]) for row in sqlite.execute("EXPLAIN QUERY PLAN " + lookup))
        assert "USING INDEX idx_codes_" in plan, (lookup, plan)
    assert taken is not None and taken["code"] == "F0"
    assert codes.count_documents({"pool": "c"}) == 3
    upserted = codes.find_one({"pool": "new"})
    assert upserted is not None and upserted["project_id"] == "p" and upserted["n"] == 1


async def test_write_filters_keep_their_meaning(mongodb_uri: str) -> None:
    client = make_client(mongodb_uri)
    name = f"indexes_{uuid.uuid4().hex[:8]}"
    collection = client[name]["items"]
    try:
        await collection.create_index("pool")
        await collection.create_index("assigned")
        await collection.insert_many(
            [
                {"pool": "a", "assigned": True, "tags": ["vip", "new"], "n": 0},
                {"pool": "a", "assigned": False, "tags": [], "n": 0},
            ]
        )
        updated = await collection.update_one({"pool": "a", "assigned": False}, {"$inc": {"n": 1}})
        assert updated.modified_count == 1
        # An unindexed array field still matches an element.
        tagged = await collection.find_one_and_update({"tags": "vip"}, {"$set": {"n": 5}})
        assert tagged is not None and tagged["assigned"] is True
        nothing = await collection.update_one({"pool": "b"}, {"$set": {"n": 9}})
        assert nothing.matched_count == 0
        await collection.update_one(
            {"pool": "b", "assigned": True}, {"$set": {"n": 7}}, upsert=True
        )
        inserted = await collection.find_one({"pool": "b"})
        assert inserted is not None and inserted["assigned"] is True and inserted["n"] == 7
        deleted = await collection.delete_many({"$and": [{"pool": "a"}, {"assigned": True}]})
        assert deleted.deleted_count == 1
        left = [doc["n"] async for doc in collection.find({}, {"_id": 0, "n": 1})]
        assert sorted(left) == [1, 7]
    finally:
        await client.drop_database(name)
        await client.close()
