"""History import: rows validated and reported, history dates kept, idempotent files, metrics
moved once, no effects unless asked, and a job resumed after a crash that duplicates nothing."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import imports, webhooks
from domain.bulk import insert_new
from domain.common import utc_now
from domain.customers import Customer
from domain.errors import DomainError
from domain.event_models import CUSTOMER_CREATED, ORDER_RECORDED
from domain.events import CustomerEvent
from domain.import_files import (
    ImportChunk,
    decode,
    delete_file,
    load_file,
    read_records,
    store_file,
)
from domain.imports import ImportRowError, import_customers, import_orders
from domain.jobs import MAX_ATTEMPTS, Job, JobRunner, JobStatus, run_pending_jobs
from domain.orders import Order, OrderStatus
from domain.rfm import recompute_rfm
from tests.domain.test_loyalty import card_of
from tests.domain.test_rfm import AS_OF, BUYERS, EXPECTED
from tests.factories import Tenant, make_loyalty_program

LIMIT = 10 * 1024 * 1024


def jsonl(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


async def finished(job: Job) -> Job:
    await run_pending_jobs()
    fresh = await Job.get(job.id)
    assert fresh is not None
    assert fresh.status == JobStatus.SUCCEEDED, fresh.errors
    return fresh


async def row_errors(job: Job) -> list[tuple[int, str | None, str]]:
    found = await ImportRowError.find({"job_id": job.key}).sort("row", "seq").to_list()
    return [(e.row, e.field, e.code) for e in found]


async def listen_to_customers_created(project_id: str) -> None:
    await webhooks.create_webhook(
        secret_key="k" * 40,
        project_id=project_id,
        url="https://hooks.example.com/customers",
        events=[webhooks.CUSTOMER_CREATED],
        secret=None,
        allow_private=False,
    )


async def customer(project_id: str, source_id: str) -> Customer:
    found = await Customer.find_one({"project_id": project_id, "source_id": source_id})
    assert found is not None
    return found


CUSTOMERS = jsonl(
    {"sourceId": "c-1", "email": "Ada@Example.com", "createdAt": "2021-03-04T05:06:07.891Z"},
    {"sourceId": "c-2", "name": "Bob", "tags": ["vip"], "consents": {"email": True}},
    {"sourceId": "c-3", "email": "not an email", "createdAt": "yesterday", "colour": "red"},
    {"email": "nobody@example.com"},
)


async def test_customers_keep_their_history_and_bad_rows_are_reported(tenant: Tenant) -> None:
    await listen_to_customers_created(tenant.project_id)
    job = await finished(await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT))

    assert (job.total, job.done) == (4, 4)
    assert imports.counts_of(job) == imports.ImportCounts(imported=2, unchanged=0, failed=2)
    assert await row_errors(job) == [
        (3, "colour", "UNKNOWN_FIELD"),
        (3, "createdAt", "INVALID_DATE"),
        (3, "email", "INVALID_EMAIL"),
        (4, "sourceId", "REQUIRED"),
    ]
    ada = await customer(tenant.project_id, "c-1")
    assert ada.email == "ada@example.com"
    assert ada.created_at == datetime(2021, 3, 4, 5, 6, 7, 891_000, tzinfo=UTC)
    bob = await customer(tenant.project_id, "c-2")
    assert bob.tags == ["vip"] and bob.consents.email
    assert await Customer.find({"project_id": tenant.project_id}).count() == 2
    # The file is not kept once imported, and no automation heard of these customers.
    assert await ImportChunk.find({"job_id": job.key}).count() == 0
    assert await CustomerEvent.find({"name": CUSTOMER_CREATED}).count() == 0
    assert await webhooks.WebhookDelivery.find({"project_id": tenant.project_id}).count() == 0


async def test_importing_the_same_customers_twice_changes_nothing(tenant: Tenant) -> None:
    await finished(await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT))
    before = await customer(tenant.project_id, "c-1")

    again = await finished(await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT))

    assert imports.counts_of(again) == imports.ImportCounts(imported=0, unchanged=2, failed=2)
    assert await Customer.find({"project_id": tenant.project_id}).count() == 2
    after = await customer(tenant.project_id, "c-1")
    assert after.model_dump() == before.model_dump()


async def test_customers_created_event_only_when_asked(tenant: Tenant) -> None:
    await listen_to_customers_created(tenant.project_id)
    job = await import_customers(tenant.project_id, CUSTOMERS, apply_effects=True, max_bytes=LIMIT)
    await finished(job)

    created = await CustomerEvent.find({"name": CUSTOMER_CREATED}).to_list()
    ada = await customer(tenant.project_id, "c-1")
    assert len(created) == 2
    assert ada.key in {event.customer_id for event in created}
    # The webhook event too, under the id createCustomer would have given it.
    told = await webhooks.WebhookDelivery.find({"project_id": tenant.project_id}).to_list()
    assert {(d.event_type, d.object_key) for d in told} >= {
        (webhooks.CUSTOMER_CREATED, f"customer:{ada.key}")
    }
    assert len(told) == 2
    assert webhooks.event_id_for(
        project_id=tenant.project_id, dedupe_key=f"customer.created:{ada.key}"
    ) in {d.event_id for d in told}


async def test_csv_with_unknown_columns_is_refused_whole(tenant: Tenant) -> None:
    data = b"sourceId,email,shoeSize\nc-1,a@example.com,42\n"
    try:
        await import_customers(tenant.project_id, data, max_bytes=LIMIT)
    except DomainError as error:
        assert [(p.code, p.field) for p in error.problems] == [("UNKNOWN_COLUMN", "file.shoeSize")]
    else:
        raise AssertionError("the file was accepted")
    assert await Job.find({"project_id": tenant.project_id}).count() == 0
    assert await ImportChunk.find({"project_id": tenant.project_id}).count() == 0


async def test_files_too_large_empty_or_not_text_are_refused(tenant: Tenant) -> None:
    for data, code in (
        (CUSTOMERS, "FILE_TOO_LARGE"),
        (b"\n\n", "EMPTY_FILE"),
        (b"\xff\xfe\x00", "INVALID_FILE"),
    ):
        try:
            await import_customers(tenant.project_id, data, max_bytes=100)
        except DomainError as error:
            assert error.code == code
        else:
            raise AssertionError(f"{data!r} was accepted")
    assert await Job.find({"project_id": tenant.project_id}).count() == 0


ORDERS_CSV = (
    b"id,customerSourceId,customerEmail,amount,currency,status,createdAt,items,codes\n"
    b"o-1,c-1,,5000,EUR,PAID,2022-01-10T10:00:00Z,,\n"
    b'o-2,,ada@example.com,,EUR,PAID,2023-06-01T12:30:00.250Z,"[{""sku"": ""tea"", '
    b'""quantity"": 2, ""price"": 1500}]",SUMMER|WINTER\n'
    b"o-3,c-1,,9900,EUR,REFUNDED,2023-07-01T00:00:00Z,,\n"
    b"o-4,c-404,,100,EUR,PAID,2023-07-02T00:00:00Z,,\n"
    b"o-5,c-2,,-5,EUR,PAID,2023-07-03T00:00:00Z,,\n"
    b"o-6,c-2,,700,EUR,SHIPPED,2999-01-01T00:00:00Z,,\n"
    b"o-7,,,1200,EUR,PAID,2020-02-02T02:02:02Z,,\n"
)


async def import_history(tenant: Tenant, **options: Any) -> Job:
    await finished(await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT))
    job = await import_orders(tenant.project_id, ORDERS_CSV, max_bytes=LIMIT, **options)
    return await finished(job)


async def test_orders_take_their_dates_and_move_metrics_without_effects(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, points_per_unit=1)

    job = await import_history(tenant)

    assert imports.counts_of(job) == imports.ImportCounts(imported=4, unchanged=0, failed=3)
    assert await row_errors(job) == [
        (5, "customerSourceId", "UNKNOWN_CUSTOMER"),
        (6, "amount", "INVALID"),
        (7, "status", "INVALID_STATUS"),
        (7, "createdAt", "INVALID_DATE"),
    ]
    second = await Order.find_one({"project_id": tenant.project_id, "order_id": "o-2"})
    assert second is not None
    assert second.created_at == datetime(2023, 6, 1, 12, 30, 0, 250_000, tzinfo=UTC)
    assert second.amount.amount == 3000 and second.items[0].sku == "tea"
    assert second.codes == ["SUMMER", "WINTER"]
    refunded = await Order.find_one({"project_id": tenant.project_id, "order_id": "o-3"})
    assert refunded is not None and refunded.status == OrderStatus.REFUNDED
    anonymous = await Order.find_one({"project_id": tenant.project_id, "order_id": "o-7"})
    assert anonymous is not None and anonymous.customer_id == ""

    ada = await customer(tenant.project_id, "c-1")
    # The refunded order counts nowhere; the paid ones at their own dates.
    assert ada.metrics.orders_count == 2
    assert ada.metrics.total_spent == 8000
    assert ada.metrics.first_order_at == datetime(2022, 1, 10, 10, tzinfo=UTC)
    assert ada.metrics.last_order_at == datetime(2023, 6, 1, 12, 30, 0, 250_000, tzinfo=UTC)
    # No points, no events: history is not a purchase made today.
    assert (await card_of(program, ada)).balance == 0
    assert await CustomerEvent.find({"name": ORDER_RECORDED}).count() == 0
    assert await Order.find({"effects_pending": True}).count() == 0


async def test_importing_the_same_orders_twice_changes_nothing(tenant: Tenant) -> None:
    await import_history(tenant)
    before = await customer(tenant.project_id, "c-1")

    again = await finished(await import_orders(tenant.project_id, ORDERS_CSV, max_bytes=LIMIT))

    assert imports.counts_of(again) == imports.ImportCounts(imported=0, unchanged=4, failed=3)
    assert await Order.find({"project_id": tenant.project_id}).count() == 4
    after = await customer(tenant.project_id, "c-1")
    assert after.metrics == before.metrics


async def test_orders_earn_points_and_emit_events_when_asked(tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, points_per_unit=1)

    await import_history(tenant, apply_effects=True)

    ada = await customer(tenant.project_id, "c-1")
    assert (await card_of(program, ada)).balance == 80
    assert ada.metrics.orders_count == 2 and ada.metrics.total_spent == 8000
    assert await CustomerEvent.find({"name": ORDER_RECORDED}).count() == 2


async def test_a_job_resumed_after_a_crash_duplicates_nothing(tenant: Tenant) -> None:
    """The first runner stores one batch, then dies after inserting the next one's orders
    but before counting them; the next runner finishes with exact counts and metrics."""
    await finished(await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT))
    rows = [
        {
            "id": f"r-{n}",
            "customerSourceId": "c-2",
            "amount": 100,
            "currency": "EUR",
            "createdAt": (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n)).isoformat(),
        }
        for n in range(10)
    ]
    rows.insert(5, {"id": "bad", "amount": "lots"})
    job = await import_orders(tenant.project_id, jsonl(*rows), max_bytes=LIMIT)
    await Job.get_pymongo_collection().update_one({"_id": job.id}, {"$set": {"batch_size": 4}})

    doomed = JobRunner(owner="doomed", lease=timedelta(seconds=30))
    leased = await doomed.lease_next()
    assert leased is not None
    records = list(read_records(decode(await load_file(job.project_id, job.key)), "JSONL"))
    await imports._import_batch(doomed, leased, records[0:4])
    # The second batch: its report and orders are written, the job is not moved on.
    await doomed.renew(leased, started_batch=leased.batch)
    half = await imports._order_batch(leased, records[4:8])
    await imports._report(leased, half.problems)
    await insert_new(Order.get_pymongo_collection(), half.documents)
    # Its lease runs out.
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id}, {"$set": {"lease_until": utc_now() - timedelta(seconds=1)}}
    )

    done = await finished(job)

    assert done.attempts == 2
    assert imports.counts_of(done) == imports.ImportCounts(imported=10, unchanged=0, failed=1)
    # Row 6 (its amount is not a number, and so it has none; no date) is reported once.
    assert await row_errors(done) == [
        (6, "amount", "INVALID"),
        (6, "createdAt", "REQUIRED"),
        (6, "amount", "INVALID"),
    ]
    assert await Order.find({"project_id": tenant.project_id}).count() == 10
    bob = await customer(tenant.project_id, "c-2")
    assert bob.metrics.orders_count == 10 and bob.metrics.total_spent == 1000
    assert bob.metrics.last_order_at == datetime(2024, 1, 10, tzinfo=UTC)

    # Counting the metrics again (a runner dying after them) adds nothing.
    rerun = JobRunner(owner="again")
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id}, {"$set": {"status": "RUNNING", "lease_owner": "again"}}
    )
    await imports._count_in_metrics(rerun, done)
    assert (await customer(tenant.project_id, "c-2")).metrics == bob.metrics


async def test_values_the_database_cannot_hold_are_reported(tenant: Tenant) -> None:
    rows = jsonl(
        {"id": "big", "amount": 2**70, "currency": "EUR", "createdAt": "2022-01-01T00:00:00Z"},
        {"id": "nul\u0000", "amount": 1, "currency": "EUR", "createdAt": "2022-01-01T00:00:00Z"},
        {
            "id": "none",
            "currency": "EUR",
            "createdAt": "2022-01-01T00:00:00Z",
            "items": [{"sku": "tea", "quantity": 0, "price": 100}],
        },
        {"id": "fine", "amount": 1, "currency": "EUR", "createdAt": "2022-01-01T00:00:00Z"},
    )

    job = await finished(await import_orders(tenant.project_id, rows, max_bytes=LIMIT))

    assert await row_errors(job) == [
        (1, "amount", "INVALID_VALUE"),
        (2, "id", "INVALID_CHARACTERS"),
        (3, "items[0].quantity", "INVALID"),
    ]
    assert imports.counts_of(job) == imports.ImportCounts(imported=1, unchanged=0, failed=3)


async def test_imports_stay_in_their_project(tenant: Tenant, other_tenant: Tenant) -> None:
    await finished(await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT))
    orders = jsonl(
        {
            "id": "x-1",
            "customerSourceId": "c-1",
            "amount": 10,
            "currency": "EUR",
            "createdAt": "2022-01-01T00:00:00Z",
        }
    )

    job = await finished(await import_orders(other_tenant.project_id, orders, max_bytes=LIMIT))

    assert await row_errors(job) == [(1, "customerSourceId", "UNKNOWN_CUSTOMER")]
    assert (await customer(tenant.project_id, "c-1")).metrics.orders_count == 0


async def test_five_thousand_orders_in_batches_count_exactly(tenant: Tenant) -> None:
    """The suite's size; bench/import.py imports 100,000 and checks the same (32 s at rest,
    minutes on a busy machine)."""
    customers = jsonl(*({"sourceId": f"s-{n}", "createdAt": "2019-01-01"} for n in range(200)))
    await finished(await import_customers(tenant.project_id, customers, max_bytes=LIMIT))
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": f"o-{n}",
            "customerSourceId": f"s-{n % 200}",
            "amount": 100 + n,
            "currency": "EUR",
            "createdAt": (start + timedelta(hours=n)).isoformat(),
        }
        for n in range(5_000)
    ]

    job = await finished(await import_orders(tenant.project_id, jsonl(*rows), max_bytes=LIMIT))

    assert job.batch == 3 and job.done == 5_000
    assert imports.counts_of(job) == imports.ImportCounts(imported=5_000, unchanged=0, failed=0)
    assert await Order.find({"project_id": tenant.project_id}).count() == 5_000
    seventh = await customer(tenant.project_id, "s-7")
    mine = range(7, 5_000, 200)
    assert seventh.metrics.orders_count == len(mine) == 25
    assert seventh.metrics.total_spent == sum(100 + n for n in mine)
    assert seventh.metrics.first_order_at == start + timedelta(hours=7)
    assert seventh.metrics.last_order_at == start + timedelta(hours=mine[-1])


async def test_a_job_that_fails_for_good_deletes_its_file(tenant: Tenant) -> None:
    job = await import_customers(tenant.project_id, CUSTOMERS, max_bytes=LIMIT)
    # A damaged file on the last attempt the runner allows.
    await delete_file(tenant.project_id, job.key)
    await store_file(tenant.project_id, job.key, b"\xff\xfe")
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id}, {"$set": {"attempts": MAX_ATTEMPTS - 1}}
    )

    await run_pending_jobs()

    failed = await Job.get(job.id)
    assert failed is not None and failed.status == JobStatus.FAILED
    assert "not UTF-8" in failed.errors[0]
    assert await ImportChunk.find({"job_id": job.key}).count() == 0
    assert await Customer.find({"project_id": tenant.project_id}).count() == 0


async def test_imported_history_is_what_rfm_scores(tenant: Tenant) -> None:
    """The hand-worked RFM example, brought as a shop's history instead of written metrics."""
    people = jsonl(*({"sourceId": name, "createdAt": "2020-01-01"} for name in EXPECTED))
    await finished(await import_customers(tenant.project_id, people, max_bytes=LIMIT))
    orders: list[dict[str, Any]] = []
    for name, (days, count, spent) in BUYERS.items():
        for n in range(count):
            orders.append(
                {
                    "id": f"{name}-{n}",
                    "customerSourceId": name,
                    "amount": spent // count + (spent % count if n == 0 else 0),
                    "currency": "EUR",
                    "createdAt": (AS_OF - timedelta(days=days + 7 * n)).isoformat(),
                }
            )
    await finished(await import_orders(tenant.project_id, jsonl(*orders), max_bytes=LIMIT))

    await recompute_rfm(tenant.project_id, now=AS_OF)
    await run_pending_jobs()

    for name, (recency, frequency, monetary, group) in EXPECTED.items():
        rfm = (await customer(tenant.project_id, name)).rfm
        assert (rfm.recency, rfm.frequency, rfm.monetary, rfm.group) == (
            recency,
            frequency,
            monetary,
            group,
        ), name
