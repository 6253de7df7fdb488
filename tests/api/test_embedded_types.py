"""The database keeps types through update operators (see api/nx_server.py for the gap)."""

import uuid
from datetime import UTC, datetime, timedelta

from api.database import make_client


async def test_update_operators_keep_dates_and_documents(mongodb_uri: str) -> None:
    client = make_client(mongodb_uri)
    name = f"types_{uuid.uuid4().hex[:8]}"
    collection = client[name]["items"]
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    try:
        await collection.insert_one({"k": 1, "log": [], "maybe": None})
        await collection.update_one({"k": 1}, {"$set": {"at": moment, "maybe": moment}})
        await collection.update_one({"k": 1}, {"$push": {"log": {"at": moment, "n": 1}}})
        await collection.update_one({"k": 1}, {"$max": {"latest": moment}})
        stored = await collection.find_one({"k": 1})
        assert stored is not None
        assert stored["at"] == moment and stored["maybe"] == moment
        assert stored["latest"] == moment
        assert stored["log"] == [{"at": moment, "n": 1}]
        later = {"$gt": moment - timedelta(seconds=1)}
        assert await collection.count_documents({"at": later}) == 1
    finally:
        await client.drop_database(name)
        await client.close()
