"""History import: customers and orders from JSON lines or CSV, run as resumable jobs that skip
bad rows (reported per row), store each customer or order once, and move customer metrics."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import Document
from bson import ObjectId
from pydantic import Field
from pymongo import IndexModel, UpdateOne

from domain import events, jobs, webhooks
from domain.bulk import count_matching, insert_new
from domain.codes import Code
from domain.common import as_utc, utc_now
from domain.customers import Customer
from domain.errors import CommonError, DomainError, Problem
from domain.import_errors import DataImportError
from domain.import_files import (
    CSV,
    Record,
    csv_header,
    decode,
    delete_file,
    detect_format,
    load_file,
    read_records,
    store_file,
)
from domain.import_rows import CUSTOMER_FIELDS, ORDER_FIELDS, OrderRow, customer_row, order_row
from domain.jobs import Job, JobRunner, LeaseLost
from domain.orders import Order, OrderStatus, apply_order_effects
from domain.pagination import Page, paginate

IMPORT_CUSTOMERS = "import_customers"
IMPORT_ORDERS = "import_orders"
MAX_ROWS = 1_000_000
BATCH_SIZE = 2_000
# Rows whose problems are kept for the report; later bad rows are only counted.
MAX_REPORTED_ROWS = 10_000
# Customers whose metrics are read and written in one round trip.
METRICS_BATCH = 500
METRICS_ATTEMPTS = 50


class ImportRowError(Document):
    """A problem with one row of an import; the row was skipped."""

    project_id: str
    job_id: str
    row: int
    # Orders the problems of one row, so a resumed batch writes each once.
    seq: int
    field: str | None = None
    code: str
    message: str
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "import_row_errors"
        indexes = [
            IndexModel(
                [("project_id", 1), ("job_id", 1), ("row", 1), ("seq", 1)],
                unique=True,
                name="project_job_row_seq_unique",
            ),
        ]


@dataclass(frozen=True)
class ImportCounts:
    """Rows stored, rows already there (by sourceId or order id), rows skipped for errors."""

    imported: int
    unchanged: int
    failed: int


def counts_of(job: Job) -> ImportCounts:
    return ImportCounts(
        imported=int(job.params.get("imported", 0)),
        unchanged=int(job.params.get("unchanged", 0)),
        failed=int(job.params.get("failed", 0)),
    )


def _check_columns(text: str, kind: str) -> None:
    """A CSV header names known fields only, and the one that identifies a row."""
    header = csv_header(text)
    known = CUSTOMER_FIELDS if kind == IMPORT_CUSTOMERS else ORDER_FIELDS
    required = "sourceId" if kind == IMPORT_CUSTOMERS else "id"
    problems = [
        Problem(
            DataImportError.UNKNOWN_COLUMN,
            f"{name!r} is not a field of this import",
            f"file.{name}",
        )
        for name in header
        if name not in known
    ]
    if required not in header:
        problems.append(
            Problem(CommonError.REQUIRED, f"the header needs a {required} column", "file")
        )
    if problems:
        raise DomainError.of(problems)


async def queue_import(
    project_id: str, kind: str, data: bytes, *, apply_effects: bool = False, max_bytes: int
) -> Job:
    """Checks the file as a whole, stores it, and queues the job that imports its rows.
    Refused files (too large, not UTF-8, unknown CSV columns, no rows) leave nothing behind."""
    if len(data) > max_bytes:
        raise DomainError(
            DataImportError.FILE_TOO_LARGE, f"the file is larger than {max_bytes} bytes", "file"
        )
    text = decode(data)
    if not text.strip():
        raise DomainError(DataImportError.EMPTY_FILE, "the file holds no rows", "file")
    file_format = detect_format(text)
    if file_format == CSV:
        _check_columns(text, kind)
    total = sum(1 for _ in read_records(text, file_format))
    if total == 0:
        raise DomainError(DataImportError.EMPTY_FILE, "the file holds no rows", "file")
    if total > MAX_ROWS:
        raise DomainError(
            DataImportError.TOO_MANY_ROWS, f"an import holds at most {MAX_ROWS:,} rows", "file"
        )
    job_id = ObjectId()
    # The file is stored before the job exists, so a job never runs without it.
    await store_file(project_id, str(job_id), data)
    job = Job(
        id=job_id,
        project_id=project_id,
        kind=kind,
        params={"format": file_format, "apply_effects": apply_effects, "bytes": len(data)},
        total=total,
        batch_size=BATCH_SIZE,
    )
    await job.insert()
    return job


async def import_customers(
    project_id: str, data: bytes, *, apply_effects: bool = False, max_bytes: int
) -> Job:
    return await queue_import(
        project_id, IMPORT_CUSTOMERS, data, apply_effects=apply_effects, max_bytes=max_bytes
    )


async def import_orders(
    project_id: str, data: bytes, *, apply_effects: bool = False, max_bytes: int
) -> Job:
    return await queue_import(
        project_id, IMPORT_ORDERS, data, apply_effects=apply_effects, max_bytes=max_bytes
    )


async def list_row_errors(
    project_id: str, job_id: str, first: int, after: str | None
) -> Page[ImportRowError]:
    return await paginate(
        ImportRowError, {"project_id": project_id, "job_id": job_id}, first, after
    )


@dataclass
class _Batch:
    """What one batch of rows made: documents to insert and problems by row."""

    documents: list[dict[str, Any]]
    problems: dict[int, list[Problem]]


def _unreadable(record: Record) -> list[Problem]:
    return [Problem(DataImportError.UNREADABLE, record.unreadable, None)]


def _customer_batch(job: Job, records: list[Record]) -> _Batch:
    made = _Batch([], {})
    for record in records:
        if record.values is None:
            made.problems[record.row] = _unreadable(record)
            continue
        try:
            customer = customer_row(job.project_id, record.values, job.created_at)
        except DomainError as error:
            made.problems[record.row] = error.problems
            continue
        document = customer.model_dump(exclude={"id", "revision_id"})
        document.update(import_job=job.key, import_batch=job.batch)
        made.documents.append(document)
    return made


async def _customers_named(project_id: str, field: str, values: set[str]) -> dict[str, list[str]]:
    """Live customers by sourceId or email: each value with the ids of those holding it."""
    if not values:
        return {}
    found: dict[str, list[str]] = {}
    rows = (
        await Customer.get_pymongo_collection()
        .find(
            {"project_id": project_id, field: {"$in": sorted(values)}, "erased": False},
            {field: 1},
        )
        .to_list()
    )
    for row in rows:
        found.setdefault(str(row[field]), []).append(str(row["_id"]))
    return found


async def _campaigns_by_code(project_id: str, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    query = {"project_id": project_id, "code": {"$in": sorted(codes)}}
    rows = await Code.get_pymongo_collection().find(query, {"code": 1, "campaign_id": 1}).to_list()
    return {str(row["code"]): str(row["campaign_id"]) for row in rows}


def _customer_of(
    row: OrderRow, by_source: dict[str, list[str]], by_email: dict[str, list[str]]
) -> tuple[str, Problem | None]:
    if row.customer_source_id:
        ids = by_source.get(row.customer_source_id, [])
        if not ids:
            return "", Problem(
                DataImportError.UNKNOWN_CUSTOMER,
                "no customer has this sourceId",
                "customerSourceId",
            )
        return ids[0], None
    if row.customer_email:
        ids = by_email.get(row.customer_email, [])
        if len(ids) != 1:
            message = "no customer has this email" if not ids else "several customers share it"
            code = (
                DataImportError.UNKNOWN_CUSTOMER if not ids else DataImportError.AMBIGUOUS_CUSTOMER
            )
            return "", Problem(code, message, "customerEmail")
        return ids[0], None
    # Neither given: an anonymous order, as recordOrder allows.
    return "", None


async def _order_batch(job: Job, records: list[Record]) -> _Batch:
    made = _Batch([], {})
    rows: list[tuple[int, OrderRow]] = []
    for record in records:
        if record.values is None:
            made.problems[record.row] = _unreadable(record)
            continue
        try:
            rows.append((record.row, order_row(job.project_id, record.values, job.created_at)))
        except DomainError as error:
            made.problems[record.row] = error.problems
    by_source = await _customers_named(
        job.project_id, "source_id", {r.customer_source_id for _, r in rows} - {""}
    )
    by_email = await _customers_named(
        job.project_id, "email", {r.customer_email for _, r in rows if not r.customer_source_id}
    )
    campaigns = await _campaigns_by_code(
        job.project_id, {code for _, r in rows for code in r.order.codes}
    )
    apply_effects = bool(job.params.get("apply_effects"))
    for number, row in rows:
        customer_id, problem = _customer_of(row, by_source, by_email)
        if problem is not None:
            made.problems[number] = [problem]
            continue
        order = row.order
        order.customer_id = customer_id
        order.campaign_ids = sorted({campaigns[c] for c in order.codes if c in campaigns})
        # Effects run through recordOrder's own path, and only for paid orders when asked.
        order.effects_pending = apply_effects and order.status == OrderStatus.PAID
        document = order.model_dump(exclude={"id", "revision_id"})
        document.update(import_job=job.key, import_batch=job.batch)
        made.documents.append(document)
    return made


async def _report(job: Job, problems: dict[int, list[Problem]]) -> None:
    failed_before = int(job.params.get("failed", 0))
    room = max(0, MAX_REPORTED_ROWS - failed_before)
    documents = [
        ImportRowError(
            project_id=job.project_id,
            job_id=job.key,
            row=row,
            seq=seq,
            field=problem.field,
            code=problem.code,
            message=problem.message,
        ).model_dump(exclude={"id", "revision_id"})
        for row in sorted(problems)[:room]
        for seq, problem in enumerate(problems[row])
    ]
    if documents:
        await insert_new(ImportRowError.get_pymongo_collection(), documents)


async def _apply_batch_effects(job: Job) -> None:
    """Opted in: each new customer's creation event, or each paid order's recordOrder effects."""
    mine = {"project_id": job.project_id, "import_job": job.key, "import_batch": job.batch}
    if job.kind == IMPORT_CUSTOMERS:
        # The webhook event under createCustomer's event id: this step runs again when a dead
        # process's batch is resumed, and a repeat is stored once.
        listening = await webhooks.listens(
            project_id=job.project_id, event_type=webhooks.CUSTOMER_CREATED
        )
        fields = None if listening else {"created_at": 1}
        for row in await Customer.get_pymongo_collection().find(mine, fields).to_list():
            await events.emit(
                job.project_id,
                str(row["_id"]),
                events.CUSTOMER_CREATED,
                at=as_utc(row["created_at"]),
                dedupe_key=f"customer.created:{row['_id']}",
            )
            if listening:
                customer = Customer.model_validate(row)
                await webhooks.emit(
                    project_id=job.project_id,
                    event_type=webhooks.CUSTOMER_CREATED,
                    object_key=f"customer:{customer.id}",
                    data=webhooks.objects.customer(customer),
                    dedupe_key=f"{webhooks.CUSTOMER_CREATED}:{customer.id}",
                )
        return
    for order in await Order.find({**mine, "effects_pending": True}).to_list():
        await apply_order_effects(order)


async def _import_batch(runner: JobRunner, job: Job, records: list[Record]) -> None:
    """Stores a batch's good rows (those already there are left alone), reports the bad ones,
    and moves the job on; a batch resumed after a crash stores and reports nothing twice."""
    resumed = job.started_batch >= job.batch
    await runner.renew(job, started_batch=job.batch)
    if job.kind == IMPORT_CUSTOMERS:
        made = _customer_batch(job, records)
        collection = Customer.get_pymongo_collection()
    else:
        made = await _order_batch(job, records)
        collection = Order.get_pymongo_collection()
    await _report(job, made.problems)
    inserted = await insert_new(collection, made.documents) if made.documents else 0
    if resumed:
        # What the dead attempt stored was refused as a duplicate just now, yet is this job's.
        inserted = await count_matching(
            collection,
            {"project_id": job.project_id, "import_job": job.key, "import_batch": job.batch},
        )
    if job.params.get("apply_effects"):
        await _apply_batch_effects(job)
    params = dict(job.params)
    params["imported"] = int(params.get("imported", 0)) + inserted
    params["unchanged"] = int(params.get("unchanged", 0)) + len(made.documents) - inserted
    params["failed"] = int(params.get("failed", 0)) + len(made.problems)
    now = utc_now()
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job.id, "lease_owner": runner.owner, "batch": job.batch},
        {
            "$set": {
                "batch": job.batch + 1,
                "done": job.done + len(records),
                "params": params,
                "lease_until": now + runner.lease,
                "updated_at": now,
            }
        },
    )
    if result.matched_count == 0:
        raise LeaseLost(job.key)
    job.batch += 1
    job.done += len(records)
    job.params = params


def _grouped_date(value: datetime | str) -> datetime:
    """nx-27017 answers $min/$max of dates in $group with extended-JSON text; MongoDB with a
    date."""
    if isinstance(value, str):
        value = datetime.fromisoformat(json.loads(value)["$date"])
    return as_utc(value)


def _with_imported(metrics: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
    moments = [group["first"], group["last"], metrics.get("first_order_at")]
    moments.append(metrics.get("last_order_at"))
    known = [as_utc(m) for m in moments if m is not None]
    return {
        "metrics.orders_count": int(metrics.get("orders_count", 0)) + int(group["orders"]),
        "metrics.total_spent": int(metrics.get("total_spent", 0)) + int(group["spent"]),
        "metrics.first_order_at": min(known),
        "metrics.last_order_at": max(known),
    }


def _metrics_update(doc: dict[str, Any], group: dict[str, Any], job_id: str) -> UpdateOne:
    """Adds the job's paid orders to the customer's metrics by compare-and-set on its version,
    recording the job so it is added once."""
    version = doc.get("metrics_version")
    return UpdateOne(
        {
            "_id": doc["_id"],
            # Customers stored before metrics_version existed have none.
            "metrics_version": {"$exists": False} if version is None else version,
        },
        {
            "$set": {
                **_with_imported(doc.get("metrics") or {}, group),
                "metrics_version": (version or 0) + 1,
                "metrics_imports": [*(doc.get("metrics_imports") or []), job_id],
            }
        },
    )


async def _count_group(job: Job, groups: dict[str, dict[str, Any]]) -> None:
    customers = Customer.get_pymongo_collection()
    pending = dict(groups)
    for _ in range(METRICS_ATTEMPTS):
        docs = await customers.find(
            {"_id": {"$in": [ObjectId(key) for key in pending]}, "project_id": job.project_id},
            {"metrics": 1, "metrics_version": 1, "metrics_imports": 1},
        ).to_list()
        updates = {
            str(doc["_id"]): _metrics_update(doc, pending[str(doc["_id"])], job.key)
            for doc in docs
            if job.key not in (doc.get("metrics_imports") or [])
        }
        if not updates:
            return
        await customers.bulk_write(list(updates.values()), ordered=False)
        # Those whose version moved under us (a live order, say) are read and tried again.
        pending = {key: pending[key] for key in updates}
    raise RuntimeError(f"customer metrics kept changing while counting import {job.key}")


async def _count_in_metrics(runner: JobRunner, job: Job) -> None:
    """Adds the job's paid orders to their customers' metrics, once per customer and job."""
    pipeline: list[dict[str, Any]] = [
        {
            "$match": {
                "project_id": job.project_id,
                "import_job": job.key,
                "status": OrderStatus.PAID.value,
            }
        },
        {
            "$group": {
                "_id": "$customer_id",
                "orders": {"$sum": 1},
                "spent": {"$sum": "$amount.amount"},
                "first": {"$min": "$created_at"},
                "last": {"$max": "$created_at"},
            }
        },
    ]
    cursor = await Order.get_pymongo_collection().aggregate(pipeline)
    groups = {
        str(row["_id"]): {
            **row,
            "first": _grouped_date(row["first"]),
            "last": _grouped_date(row["last"]),
        }
        for row in await cursor.to_list()
        if row["_id"]
    }
    keys = sorted(groups)
    for start in range(0, len(keys), METRICS_BATCH):
        await runner.renew(job)
        await _count_group(job, {key: groups[key] for key in keys[start : start + METRICS_BATCH]})


async def _run_import(runner: JobRunner, job: Job) -> None:
    try:
        await _import_rows(runner, job)
    except Exception:
        if job.attempts >= jobs.MAX_ATTEMPTS:
            # The runner ends the job as FAILED: its file, personal data, goes with it.
            await delete_file(job.project_id, job.key)
        raise


async def _import_rows(runner: JobRunner, job: Job) -> None:
    text = decode(await load_file(job.project_id, job.key))
    skip = job.batch * job.batch_size
    batch: list[Record] = []
    for index, record in enumerate(read_records(text, str(job.params["format"]))):
        if index < skip:
            continue
        batch.append(record)
        if len(batch) >= job.batch_size:
            await _import_batch(runner, job, batch)
            batch = []
    if batch:
        await _import_batch(runner, job, batch)
    if job.kind == IMPORT_ORDERS and not job.params.get("apply_effects"):
        await _count_in_metrics(runner, job)
    # The file held personal data and is needed no longer.
    await delete_file(job.project_id, job.key)


jobs.HANDLERS[IMPORT_CUSTOMERS] = _run_import
jobs.HANDLERS[IMPORT_ORDERS] = _run_import
