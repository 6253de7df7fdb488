"""importCustomers and importOrders over HTTP: multipart uploads and inline data, the job's row
report, admin keys only, and the upload's own size bound."""

import json
from typing import Any

import httpx
import pytest

from api.settings import Settings
from domain.customers import Customer
from domain.jobs import Job, run_pending_jobs
from tests.factories import Tenant

UPLOAD_LIMIT = 4096


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "graphql_max_body_bytes": 2048,
            "graphql_max_query_length": 1000,
            "import_max_bytes": UPLOAD_LIMIT,
        }
    )


IMPORT_CUSTOMERS = """
mutation($file: Upload, $data: String, $effects: Boolean! = false) {
  importCustomers(file: $file, data: $data, applyEffects: $effects) {
    job { id status total }
    errors { code field message }
  }
}"""
IMPORT_ORDERS = IMPORT_CUSTOMERS.replace("importCustomers", "importOrders")
JOB = """
query($id: ID!) {
  job(id: $id) {
    status total done rowsImported rowsUnchanged rowsFailed
    rowErrors(first: 10) { totalCount edges { node { row field code message } } }
  }
}"""


async def upload(
    http: httpx.AsyncClient, token: str, query: str, content: bytes, name: str = "file.csv"
) -> httpx.Response:
    operations = {"query": query, "variables": {"file": None}}
    return await http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
    )


async def job_report(tenant: Tenant, job_id: str) -> Any:
    await run_pending_jobs()
    return (await tenant.gql(JOB, {"id": job_id}))["job"]


CUSTOMERS_CSV = (
    b"sourceId,email,name,createdAt\n"
    b"c-1,ada@example.com,Ada,2020-05-01T08:00:00Z\n"
    b"c-2,bob@,Bob,2020-06-01T08:00:00Z\n"
)


async def test_an_uploaded_file_is_imported_and_its_bad_rows_listed(
    tenant: Tenant, http: httpx.AsyncClient
) -> None:
    response = await upload(http, tenant.admin_key, IMPORT_CUSTOMERS, CUSTOMERS_CSV)

    body = response.json()
    assert response.status_code == 200, body
    started = body["data"]["importCustomers"]
    assert started["errors"] == []
    assert started["job"]["status"] == "QUEUED" and started["job"]["total"] == 2
    report = await job_report(tenant, started["job"]["id"])
    assert report["status"] == "SUCCEEDED"
    assert (report["rowsImported"], report["rowsUnchanged"], report["rowsFailed"]) == (1, 0, 1)
    assert report["rowErrors"]["totalCount"] == 1
    problem = report["rowErrors"]["edges"][0]["node"]
    assert (problem["row"], problem["field"], problem["code"]) == (3, "email", "INVALID_EMAIL")
    ada = await Customer.find_one({"project_id": tenant.project_id, "source_id": "c-1"})
    assert ada is not None and ada.created_at.year == 2020


async def test_inline_orders_move_metrics_and_a_second_import_changes_nothing(
    tenant: Tenant,
) -> None:
    await tenant.gql(IMPORT_CUSTOMERS, {"data": CUSTOMERS_CSV.decode()})
    await run_pending_jobs()
    orders = (
        '{"id": "o-1", "customerSourceId": "c-1", "amount": 2500, "currency": "EUR",'
        ' "placedAt": "2021-01-01T00:00:00Z"}\n'
    )

    for imported, unchanged in ((1, 0), (0, 1)):
        started = (await tenant.gql(IMPORT_ORDERS, {"data": orders}))["importOrders"]
        report = await job_report(tenant, started["job"]["id"])
        assert (report["rowsImported"], report["rowsUnchanged"]) == (imported, unchanged)

    ada = await Customer.find_one({"project_id": tenant.project_id, "source_id": "c-1"})
    assert ada is not None
    assert (ada.metrics.orders_count, ada.metrics.total_spent) == (1, 2500)


async def test_a_request_gives_a_file_or_data_and_a_file_that_can_be_read(
    tenant: Tenant,
) -> None:
    neither = (await tenant.gql(IMPORT_CUSTOMERS))["importCustomers"]
    unknown = (await tenant.gql(IMPORT_CUSTOMERS, {"data": "sourceId,shoe\nc-1,42\n"}))[
        "importCustomers"
    ]

    assert neither["job"] is None and neither["errors"][0]["code"] == "INVALID"
    assert unknown["job"] is None
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("UNKNOWN_COLUMN", "file.shoe")]
    assert await Job.find({"project_id": tenant.project_id}).count() == 0


async def test_only_admin_keys_import(tenant: Tenant, http: httpx.AsyncClient) -> None:
    created = await tenant.gql(
        'mutation { createApiKey(role: POS, name: "till") { secret errors { code } } }'
    )
    pos = created["createApiKey"]["secret"]

    response = await upload(http, pos, IMPORT_CUSTOMERS, CUSTOMERS_CSV)
    inline = await tenant.gql.as_token(pos).raw(IMPORT_CUSTOMERS, {"data": "sourceId\nc-9\n"})

    # An upload is refused before Strawberry reads it; inline data by the schema's permission.
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert inline.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Job.find({"project_id": tenant.project_id}).count() == 0


async def test_uploads_have_their_own_bound_and_only_for_admin_keys(
    tenant: Tenant, http: httpx.AsyncClient
) -> None:
    created = await tenant.gql(
        'mutation { createApiKey(role: POS, name: "till") { secret errors { code } } }'
    )
    pos = created["createApiKey"]["secret"]
    # Larger than the usual body bound, within the upload's.
    rows = b"".join(b"c-%d,c%d@example.com,,\n" % (n, n) for n in range(120))
    bigger = b"sourceId,email,name,createdAt\n" + rows
    assert 2048 < len(bigger) < UPLOAD_LIMIT

    as_admin = await upload(http, tenant.admin_key, IMPORT_CUSTOMERS, bigger)
    as_pos = await upload(http, pos, IMPORT_CUSTOMERS, bigger)
    too_big = await upload(http, tenant.admin_key, IMPORT_CUSTOMERS, bigger * 2)

    assert as_admin.status_code == 200 and as_admin.json()["data"]["importCustomers"]["job"]
    assert as_pos.status_code == 413
    assert too_big.status_code == 413
    assert await Job.find({"project_id": tenant.project_id}).count() == 1


async def test_an_upload_without_a_length_is_counted_as_it_arrives(
    tenant: Tenant, http: httpx.AsyncClient
) -> None:
    operations = {"query": IMPORT_CUSTOMERS, "variables": {"file": None}}
    rows = b"".join(b"c-%d,c%d@example.com,,\n" % (n, n) for n in range(400))
    built = httpx.Request(
        "POST",
        "http://testserver/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("big.csv", b"sourceId,email,name,createdAt\n" + rows, "text/csv")},
    )
    body = built.read()
    assert len(body) > UPLOAD_LIMIT + 2048

    async def pieces() -> Any:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await http.post(
        "/graphql",
        content=pieces(),
        headers={
            "Authorization": f"Bearer {tenant.admin_key}",
            "Content-Type": built.headers["content-type"],
        },
    )

    assert response.status_code == 413
    assert await Job.find({"project_id": tenant.project_id}).count() == 0


async def test_an_upload_operation_is_bounded_as_a_json_body_is(
    tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    padded = IMPORT_CUSTOMERS + "#" * settings.graphql_max_query_length

    too_long = await upload(http, tenant.admin_key, padded, CUSTOMERS_CSV)
    two_files = await http.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": IMPORT_CUSTOMERS, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"], "1": ["variables.data"]}),
        },
        files={"0": ("a.csv", CUSTOMERS_CSV, "text/csv"), "1": ("b.csv", b"x", "text/csv")},
        headers={"Authorization": f"Bearer {tenant.admin_key}"},
    )

    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_LONG"
    assert two_files.status_code == 400
    assert two_files.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await Job.find({"project_id": tenant.project_id}).count() == 0
