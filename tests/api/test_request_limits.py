"""Request bounds on POST /graphql, checked before Strawberry parses anything, and malformed
bodies answered with a 4xx and a typed error, never a 500."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from api.settings import Settings
from tests.factories import Tenant

TYPENAME = "{ __typename }"


def auth(tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.admin_key}", "Content-Type": "application/json"}


def error_code(response: httpx.Response) -> str:
    [error] = response.json()["errors"]
    code: str = error["extensions"]["code"]
    return code


async def test_a_body_over_the_limit_is_refused_with_413(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    comment = "#" + "x" * settings.graphql_max_body_bytes + "\n"
    body = json.dumps({"query": comment + TYPENAME})
    response = await http.post("/graphql", content=body, headers=auth(tenant))
    assert response.status_code == 413
    assert error_code(response) == "REQUEST_TOO_LARGE"
    assert response.json()["data"] is None


async def test_a_streamed_body_without_length_is_counted(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    chunk = b"#" + b"x" * 65_535

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "'
        for _ in range(settings.graphql_max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b'\\n{ __typename }"}'

    response = await http.post("/graphql", content=chunks(), headers=auth(tenant))
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_code(response) == "REQUEST_TOO_LARGE"


async def test_an_anonymous_large_body_is_refused_before_authentication(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    body = b"x" * (settings.graphql_max_body_bytes + 1)
    response = await http.post("/graphql", content=body)
    assert response.status_code == 413


async def test_a_query_over_the_length_limit_is_refused_before_parsing(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    # Not even valid GraphQL: were it parsed, the answer would be a syntax error instead.
    query = "{ " + "(" * settings.graphql_max_query_length
    response = await http.post("/graphql", json={"query": query}, headers=auth(tenant))
    assert response.status_code == 400
    assert error_code(response) == "QUERY_TOO_LONG"
    get = await http.get(
        "/graphql", params={"query": query}, headers={"Authorization": f"Bearer {tenant.admin_key}"}
    )
    assert get.status_code == 400
    assert error_code(get) == "QUERY_TOO_LONG"


async def test_a_query_within_the_limits_still_runs(tenant: Tenant, settings: Settings) -> None:
    padding = "#" + "x" * (settings.graphql_max_query_length - 100) + "\n"
    assert (await tenant.gql(padding + TYPENAME)) == {"__typename": "Query"}


@pytest.mark.parametrize("depth", [25, 1_000, 100_000])
async def test_deeply_nested_variables_are_refused(
    http: httpx.AsyncClient, tenant: Tenant, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    body = '{"query": "{ __typename }", "variables": {"deep": ' + nested + "}}"
    response = await http.post("/graphql", content=body, headers=auth(tenant))
    assert response.status_code == 400
    assert error_code(response) == "VARIABLES_TOO_DEEP"


async def test_get_requests_have_the_same_bounds(http: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {"Authorization": f"Bearer {tenant.admin_key}"}
    deep = await http.get(
        "/graphql",
        params={"query": TYPENAME, "variables": "[" * 5000 + "]" * 5000},
        headers=headers,
    )
    assert deep.status_code == 400
    assert error_code(deep) == "VARIABLES_TOO_DEEP"
    not_json = await http.get(
        "/graphql", params={"query": TYPENAME, "variables": "{"}, headers=headers
    )
    assert not_json.status_code == 400
    assert error_code(not_json) == "BAD_REQUEST"
    for variables in ("null", "{}", '{"a": [1, {"b": 2}]}'):
        fine = await http.get(
            "/graphql", params={"query": TYPENAME, "variables": variables}, headers=headers
        )
        assert fine.status_code == 200, fine.text
        assert fine.json() == {"data": {"__typename": "Query"}}


async def test_variables_nested_within_the_limit_are_accepted(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    nested: object = {"leaf": 1}
    for _ in range(10):
        nested = {"inner": nested}
    query = "mutation ($a: JSON) { createCustomer(input: {attributes: $a}) { errors { code } } }"
    response = await http.post(
        "/graphql", json={"query": query, "variables": {"a": nested}}, headers=auth(tenant)
    )
    assert response.status_code == 200
    assert response.json()["data"]["createCustomer"]["errors"] == []


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[]",
        b'[{"query": "{ __typename }"}]',
        b'"{ __typename }"',
        b"42",
        b"\xff\xfe{}",
        b'{"query": "{ __typename }", "variables": "not an object"}',
        b'{"query": 42}',
        b'{"query": "{ __typename }", "operationName": []}',
        b"{not json",
    ],
)
async def test_a_malformed_body_gets_a_typed_400(
    http: httpx.AsyncClient, tenant: Tenant, body: bytes
) -> None:
    response = await http.post("/graphql", content=body, headers=auth(tenant))
    assert response.status_code == 400
    assert error_code(response) == "BAD_REQUEST"


async def test_health_answers_while_abusive_requests_are_refused(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    huge = json.dumps({"query": "#" + "x" * 5_000_000 + "\n" + TYPENAME})
    long_query = json.dumps({"query": "#" + "x" * settings.graphql_max_query_length + TYPENAME})
    deep = '{"query": "{ __typename }", "variables": {"v": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    abusive = [
        http.post("/graphql", content=payload, headers=auth(tenant))
        for payload in (huge, huge, long_query, long_query, deep, deep)
    ]
    *refused, health = await asyncio.gather(*abusive, http.get("/health"))
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert all(400 <= response.status_code < 500 for response in refused)
    assert [response.status_code for response in refused] == [413, 413, 400, 400, 400, 400]
