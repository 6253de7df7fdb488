"""Codes as stored: the Code and CodeAssignment documents, their kinds and statuses, and the
normalized form codes are stored and looked up in. Campaigns and experiments read these without
depending on how codes are published."""

import re
from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now

_IGNORED = re.compile(r"[\s\-]+")


def normalize_code(raw: str) -> str:
    """What a till or a customer types, as the code is stored: case, spaces, dashes ignored."""
    return _IGNORED.sub("", raw).upper()


class CodeKind(StrEnum):
    UNIQUE = "UNIQUE"
    STANDALONE = "STANDALONE"


class CodeStatus(StrEnum):
    ACTIVE = "ACTIVE"
    REDEEMED = "REDEEMED"
    PAUSED = "PAUSED"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"


class Code(Document):
    project_id: str
    # The lookup key: normalize_code(display).
    code: str
    # As generated or given, dashes kept, for printing.
    display: str
    campaign_id: str
    kind: CodeKind = CodeKind.UNIQUE
    # "" when unassigned: the embedded server cannot match null reliably.
    customer_id: str = ""
    assigned: bool = False
    # The campaign id while the code waits to be handed out, "" after: a single-field key, since
    # the embedded server looks compound indexes up by scanning.
    pool: str = ""
    published_at: datetime | None = None
    # Live counter, moved only by conditional atomic updates.
    redeemed_count: int = 0
    last_redeemed_at: datetime | None = None
    # Published in an experiment: its id and the variant's key ("" outside any experiment).
    experiment_id: str = ""
    variant: str = ""
    # Set once a message carrying the code was sent, and once it has a wallet pass: only such
    # a code makes a redemption look for the carrying message or touch the pass.
    carried: bool = False
    wallet_pass: bool = False
    # Set by the write that publishes the code while a webhook listens, cleared once its event
    # is stored: a process dying in between leaves it to the sweep (domain.webhooks.pending).
    webhook_pending: bool = False
    # Generation bookkeeping: which job and batch made the code, so a resumed job is exact.
    job_id: str = ""
    batch: int = -1
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "codes"
        indexes = [
            IndexModel([("project_id", 1), ("code", 1)], unique=True),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("assigned", 1)]),
            IndexModel([("pool", 1)]),
            IndexModel([("customer_id", 1)]),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("customer_id", 1)]),
            IndexModel([("project_id", 1), ("job_id", 1), ("batch", 1)]),
            # The public coupon page knows the code only, not its project.
            IndexModel([("code", 1)], name="code_any_project"),
            # The sweep that emits events a dead writer left (domain.webhooks.pending).
            IndexModel(
                [("webhook_pending", 1), ("published_at", 1)],
                partialFilterExpression={"webhook_pending": True},
                name="webhook_pending",
            ),
        ]


class CodeAssignment(Document):
    """How many codes of a campaign one customer has claimed: the limit publishCode enforces."""

    project_id: str
    campaign_id: str
    customer_id: str
    claimed: int = 0
    # Changes with every claim, so a stalled claim can be taken over exactly once.
    claim: str = ""
    claimed_at: datetime = Field(default_factory=utc_now)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "code_assignments"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_campaign_customer_unique",
            ),
            # The lookup the embedded server can answer from an index (see Code.pool).
            IndexModel([("customer_id", 1)]),
        ]
