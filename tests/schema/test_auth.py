"""Authentication and roles: no key, bad key, revoked key, POS vs ADMIN, customer tokens."""

import httpx

from tests.factories import Tenant

CREATE_CUSTOMER = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id email } errors { code field message } }
}"""
CREATE_KEY = """
mutation ($role: ApiKeyRole!) {
  createApiKey(role: $role, name: "till 1") {
    secret apiKey { id role prefix revokedAt } errors { code }
  }
}"""


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code", "") for e in body.get("errors") or []]


async def test_missing_or_unknown_key_is_401(tenant: Tenant) -> None:
    for token in (None, "ek_not-a-real-key", "garbage", tenant.admin_key + "x"):
        response = await tenant.gql.as_token(token).raw("{ apiKeys { id } }")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_non_bearer_scheme_is_401(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ apiKeys { id } }"},
        headers={"Authorization": f"Basic {tenant.admin_key}"},
    )
    assert response.status_code == 401


async def test_graphiql_page_needs_no_key(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_revoked_key_is_401(tenant: Tenant) -> None:
    created = (await tenant.gql(CREATE_KEY, {"role": "ADMIN"}))["createApiKey"]
    secret = created["secret"]
    assert secret.startswith(created["apiKey"]["prefix"])
    second = tenant.gql.as_token(secret)
    assert (await second.raw("{ apiKeys { id } }")).status_code == 200

    revoke = """mutation ($id: ID!) { revokeApiKey(id: $id) {
      apiKey { revokedAt } errors { code } } }"""
    revoked = (await tenant.gql(revoke, {"id": created["apiKey"]["id"]}))["revokeApiKey"]
    assert revoked["errors"] == [] and revoked["apiKey"]["revokedAt"]
    assert (await second.raw("{ apiKeys { id } }")).status_code == 401

    again = (await tenant.gql(revoke, {"id": created["apiKey"]["id"]}))["revokeApiKey"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_REVOKED"]


async def test_key_secret_is_shown_once_and_stored_hashed(tenant: Tenant) -> None:
    from domain.projects import ApiKey

    created = (await tenant.gql(CREATE_KEY, {"role": "POS"}))["createApiKey"]
    listed = (await tenant.gql("{ apiKeys { id role prefix } }"))["apiKeys"]
    assert {
        "id": created["apiKey"]["id"],
        "role": "POS",
        "prefix": created["apiKey"]["prefix"],
    } in (listed)
    stored = await ApiKey.get(created["apiKey"]["id"])
    assert stored is not None
    assert created["secret"] not in stored.model_dump_json()
    assert len(stored.hash) == 64


async def test_pos_key_cannot_call_admin_operations(tenant: Tenant) -> None:
    pos_secret = (await tenant.gql(CREATE_KEY, {"role": "POS"}))["createApiKey"]["secret"]
    pos = tenant.gql.as_token(pos_secret)
    for query, variables in (
        ("{ customers { totalCount } }", {}),
        ("{ apiKeys { id } }", {}),
        (CREATE_CUSTOMER, {"input": {"email": "a@example.com"}}),
        (CREATE_KEY, {"role": "ADMIN"}),
    ):
        response = await pos.raw(query, variables)
        assert response.status_code == 200
        assert "FORBIDDEN" in error_codes(response.json()), response.json()
    assert (await tenant.gql("{ customers { totalCount } }"))["customers"]["totalCount"] == 0


async def test_customer_token_reaches_me_only(tenant: Tenant) -> None:
    created = await tenant.gql(CREATE_CUSTOMER, {"input": {"email": "Ann@Example.com"}})
    customer_id = created["createCustomer"]["customer"]["id"]
    issue = (
        """mutation ($id: ID!) { issueCustomerToken(customerId: $id) { token errors { code } } }"""
    )
    token = (await tenant.gql(issue, {"id": customer_id}))["issueCustomerToken"]["token"]
    me = tenant.gql.as_token(token)
    data = await me("{ me { customer { id email } } }")
    assert data["me"]["customer"] == {"id": customer_id, "email": "ann@example.com"}
    forbidden = await me.raw("{ customers { totalCount } }")
    assert "FORBIDDEN" in error_codes(forbidden.json())
    admin_me = await tenant.gql.raw("{ me { customer { id } } }")
    assert "FORBIDDEN" in error_codes(admin_me.json())


async def test_query_limits_reject_abusive_queries(tenant: Tenant) -> None:
    aliases = " ".join(f"a{i}: apiKeys {{ id }}" for i in range(40))
    response = await tenant.gql.raw("{ " + aliases + " }")
    assert response.json()["errors"]
    tokens = "{ apiKeys { " + " ".join(["id"] * 3000) + " } }"
    response = await tenant.gql.raw(tokens)
    assert response.json()["errors"]
