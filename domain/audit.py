"""An append-only audit log of sensitive actions (erasure, key changes)."""

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now


class AuditEntry(Document):
    project_id: str
    action: str
    target_id: str
    actor: str
    at: datetime = Field(default_factory=utc_now)
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "audit_log"
        indexes = [IndexModel([("project_id", 1), ("target_id", 1), ("at", 1)])]


async def record(
    project_id: str, action: str, target_id: str, actor: str, **details: Any
) -> AuditEntry:
    entry = AuditEntry(
        project_id=project_id, action=action, target_id=target_id, actor=actor, details=details
    )
    await entry.insert()
    return entry


async def entries_for(project_id: str, target_id: str) -> list[AuditEntry]:
    return await AuditEntry.find({"project_id": project_id, "target_id": target_id}).to_list()
