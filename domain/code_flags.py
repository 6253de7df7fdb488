"""Sets `Code.carried` and `Code.wallet_pass` on codes whose messages were sent, or whose passes
were made, before codes carried these flags: once per database, at start."""

from typing import Any

from domain.code_models import Code
from domain.messages import Message, MessageStatus
from domain.wallet import WalletPass

MARKER = "code-flags-1"
BATCH = 1000
_SENT = [MessageStatus.SENT.value, MessageStatus.DELIVERED.value, MessageStatus.UNDELIVERED.value]


async def flag_codes_once() -> None:
    database = Code.get_pymongo_collection().database
    migrations = database["migrations"]
    if await migrations.find_one({"_id": MARKER}) is not None:
        return
    await _flag(Message.get_pymongo_collection(), {"status": {"$in": _SENT}}, "carried")
    await _flag(WalletPass.get_pymongo_collection(), {}, "wallet_pass")
    await migrations.update_one({"_id": MARKER}, {"$set": {"done": True}}, upsert=True)


async def _flag(source: Any, selector: dict[str, Any], flag: str) -> None:
    codes = Code.get_pymongo_collection()
    pending: dict[str, list[str]] = {}

    async def flush(project_id: str) -> None:
        values = pending.pop(project_id, [])
        if values:
            await codes.update_many(
                {"project_id": project_id, "code": {"$in": values}}, {"$set": {flag: True}}
            )

    cursor = source.find({**selector, "code": {"$nin": ["", None]}}, {"project_id": 1, "code": 1})
    async for row in cursor:
        project_id = str(row["project_id"])
        pending.setdefault(project_id, []).append(str(row["code"]))
        if len(pending[project_id]) >= BATCH:
            await flush(project_id)
    for project_id in list(pending):
        await flush(project_id)
