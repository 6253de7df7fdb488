"""Segment documents: static member lists and dynamic filters, and their members."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now


class SegmentKind(StrEnum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


class Segment(Document):
    project_id: str
    name: str
    kind: SegmentKind
    # The dynamic segment's filter as checked and normalized; {} for a static segment.
    filter: dict[str, Any] = Field(default_factory=dict)
    # Static segments: kept by $inc of what was really inserted or deleted.
    members_count: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "segments"
        indexes = [
            IndexModel([("project_id", 1), ("name", 1)], unique=True, name="project_name_unique"),
            IndexModel([("project_id", 1), ("created_at", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class SegmentMember(Document):
    project_id: str
    segment_id: str
    customer_id: str
    added_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "segment_members"
        indexes = [
            IndexModel(
                [("project_id", 1), ("segment_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_segment_customer_unique",
            ),
            # Erasure's lookup. (Walks use the unique index, in customer id order: the embedded
            # server cannot build an index that holds _id.)
            IndexModel([("project_id", 1), ("customer_id", 1)]),
        ]
