"""Refused calls leave one log line naming who and why; only bugs leave a traceback."""

import logging

import pytest
import strawberry

from domain.callers import Caller, CallerKind
from schema.build import EngageSchema
from tests.factories import Tenant

CREATE_KEY = 'mutation { createApiKey(role: POS, name: "till") { secret apiKey { id } } }'


def engage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("engage", "strawberry"))]


async def test_a_forbidden_call_logs_one_line_without_a_traceback(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    created = (await tenant.gql(CREATE_KEY))["createApiKey"]
    pos = tenant.gql.as_token(created["secret"])
    caplog.clear()
    with caplog.at_level(logging.INFO):
        body = (
            await pos.raw('mutation Purge { eraseCustomer(id: "x") { errors { code } } }')
        ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [record] = engage_records(caplog)
    line = record.getMessage()
    assert "\n" not in line
    assert record.exc_info is None
    assert "Traceback" not in caplog.text
    assert "FORBIDDEN" in line
    assert "mutation Purge" in line
    assert "eraseCustomer" in line
    assert f"POS project={tenant.project_id} api_key:{created['apiKey']['id']}" in line
    assert created["secret"] not in caplog.text


async def test_an_unauthenticated_call_logs_one_line(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await tenant.gql.as_token("ek_wrong-secret").raw("{ apiKeys { id } }")
    assert response.status_code == 401
    [record] = engage_records(caplog)
    assert "UNAUTHENTICATED" in record.getMessage()
    assert record.exc_info is None
    assert "ek_wrong-secret" not in caplog.text


async def test_validation_and_domain_refusals_log_one_line(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    for query, code in (
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ customer(id: ", "GRAPHQL_PARSE_FAILED"),
        ('query Page { customers(after: "not-a-cursor") { totalCount } }', "INVALID_CURSOR"),
        ("query ($n: Int!) { campaigns(first: $n) { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
    ):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            body = (await tenant.gql.raw(query, {"n": "many"})).json()
        assert body["errors"], query
        [record] = engage_records(caplog)
        assert code in record.getMessage(), (query, record.getMessage())
        assert record.exc_info is None
        assert "Traceback" not in caplog.text


@strawberry.type
class BrokenQuery:
    @strawberry.field
    def broken(self) -> int:
        return {}["missing"]  # type: ignore[no-any-return]


async def test_an_unexpected_exception_still_logs_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bugs are the reason logs keep tracebacks: the schema's error handling keeps them."""
    schema = EngageSchema(query=BrokenQuery)
    caller = Caller(kind=CallerKind.ADMIN, project_id="p1", api_key_id="k1")
    with caplog.at_level(logging.INFO):
        result = await schema.execute("{ broken }", context_value=type("C", (), {"caller": caller}))
    assert result.errors
    [record] = engage_records(caplog)
    assert record.exc_info is not None
    assert "Traceback" in caplog.text
    assert "KeyError" in caplog.text
