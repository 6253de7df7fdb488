"""A campaign's codes for people: a searchable page of them, and every one of them as CSV,
read in batches so that a million codes never sit in memory at once."""

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain import links
from domain.campaigns import Campaign
from domain.codes import Code, code_status, coupon_url, normalize_code, uses_left
from domain.common import object_ids, utc_now
from domain.customers import Customer, customers_by_id
from domain.pagination import Page, paginate

EXPORT_BATCH = 1_000
EXPORT_COLUMNS = (
    "code",
    "campaign_id",
    "campaign_name",
    "status",
    "uses_allowed",
    "uses_count",
    "uses_left",
    "customer_source_id",
    "customer_email",
    "created_at",
    "starts_at",
    "expires_at",
    "last_redeemed_at",
    "url",
    "apple_wallet_url",
    "google_wallet_url",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CodeState(StrEnum):
    """What the codes table can be narrowed to."""

    ALL = "all"
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    REDEEMED = "redeemed"


def codes_query(
    *, project_id: str, campaign_id: str, search: str = "", state: CodeState = CodeState.ALL
) -> dict[str, Any]:
    query: dict[str, Any] = {"project_id": project_id, "campaign_id": campaign_id}
    wanted = normalize_code(search)
    if wanted:
        # Codes are random: only the exact code (case, spaces and dashes ignored) finds one.
        query["code"] = wanted
    if state == CodeState.UNASSIGNED:
        query["assigned"] = False
    elif state == CodeState.ASSIGNED:
        query["assigned"] = True
    elif state == CodeState.REDEEMED:
        query["redeemed_count"] = {"$gt": 0}
    return query


async def list_campaign_codes(
    *,
    project_id: str,
    campaign_id: str,
    first: int,
    after: str | None,
    search: str = "",
    state: CodeState = CodeState.ALL,
) -> Page[Code]:
    """Oldest first, by cursor."""
    query = codes_query(project_id=project_id, campaign_id=campaign_id, search=search, state=state)
    return await paginate(Code, query, first, after)


@dataclass(frozen=True)
class ExportLinks:
    """What the coupon and wallet links in the file are built from."""

    base_url: str
    secret_key: str


def export_file_name(campaign: Campaign, now: datetime) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", campaign.name.lower()).strip("-")[:40] or "campaign"
    return f"codes-{slug}-{now.astimezone(UTC).strftime('%Y%m%dT%H%MZ')}.csv"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _time(value: datetime | None) -> str:
    if value is None:
        return ""
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(
    code: Code,
    campaign: Campaign,
    customer: Customer | None,
    export: ExportLinks,
    with_email: bool,
    now: datetime,
) -> list[str]:
    left = uses_left(code, campaign)
    return [
        _cell(value)
        for value in (
            code.display or code.code,
            campaign.key,
            campaign.name,
            code_status(code, campaign, now).value,
            campaign.limits.per_code,
            code.redeemed_count,
            left,
            customer.source_id if customer else "",
            (customer.email if customer and with_email and not customer.erased else ""),
            _time(code.created_at),
            _time(campaign.starts_at),
            _time(campaign.ends_at),
            _time(code.last_redeemed_at),
            coupon_url(export.base_url, code),
            links.apple_wallet_url(
                export.base_url.rstrip("/"), export.secret_key, code.project_id, code.code
            ),
            links.google_wallet_url(
                export.base_url.rstrip("/"), export.secret_key, code.project_id, code.code
            ),
        )
    ]


async def code_batches(
    *, project_id: str, campaign_id: str, batch_size: int = EXPORT_BATCH
) -> AsyncIterator[list[Code]]:
    """The campaign's codes in _id order from one cursor, `batch_size` documents per round trip:
    memory holds one batch, however many codes there are. (Paging with `_id > last` instead
    would make the embedded server scan the campaign's codes again for every batch.)"""
    cursor = (
        Code.get_pymongo_collection()
        .find({"project_id": project_id, "campaign_id": campaign_id})
        .sort("_id", 1)
        .batch_size(batch_size)
    )
    batch: list[Code] = []
    try:
        async for raw in cursor:
            batch.append(Code.model_validate(raw))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        # A client that stops downloading leaves no cursor open on the server.
        await cursor.close()


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def export_codes_csv(
    *,
    campaign: Campaign,
    export: ExportLinks,
    with_email: bool,
    batch_size: int = EXPORT_BATCH,
) -> AsyncIterator[str]:
    """The header, then one chunk of CSV text per batch of codes. `with_email` is False for
    roles that may not read personal data beyond ids (the column stays, empty)."""
    yield _csv_text([list(EXPORT_COLUMNS)])
    now = utc_now()
    async for batch in code_batches(
        project_id=campaign.project_id, campaign_id=campaign.key, batch_size=batch_size
    ):
        owner_ids = [code.customer_id for code in batch if code.customer_id]
        owners = await customers_by_id(campaign.project_id, owner_ids) if owner_ids else {}
        yield _csv_text(
            [
                _row(code, campaign, owners.get(code.customer_id), export, with_email, now)
                for code in batch
            ]
        )


async def codes_by_id(*, project_id: str, code_ids: list[str]) -> dict[str, Code]:
    """The project's codes among the ids, in one query, by id (to show them as printed)."""
    found = await Code.find(
        {"_id": {"$in": object_ids(list(dict.fromkeys(code_ids)))}, "project_id": project_id}
    ).to_list()
    return {str(code.id): code for code in found}
