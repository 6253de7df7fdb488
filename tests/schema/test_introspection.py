"""Introspection and GraphiQL: open in development, admin keys only in production."""

from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from domain import customer_lifecycle, customers
from domain.customers import CustomerInput
from tests.factories import GraphQLClient, Tenant, make_tenant

SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Customer") { name } }'
CREATE_KEY = 'mutation { createApiKey(role: POS, name: "till") { secret errors { code } } }'


def production(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"env": "production", "secret_key": "s" * 40, **changes})


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def production_http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(production(settings)):
        yield client


async def tokens(tenant: Tenant) -> dict[str, str]:
    pos = (await tenant.gql(CREATE_KEY))["createApiKey"]["secret"]
    customer = await customer_lifecycle.create_customer(
        tenant.project_id, CustomerInput(name="Ada"), "t"
    )
    token = await customers.issue_customer_token(tenant.project_id, customer.key)
    return {"ADMIN": tenant.admin_key, "POS": pos, "CUSTOMER": token}


async def test_production_refuses_introspection_to_pos_keys_and_customers(
    production_http: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant(http=production_http, name="shop")
    by_role = await tokens(tenant)
    for role in ("POS", "CUSTOMER"):
        gql = GraphQLClient(production_http, by_role[role])
        for query in (SCHEMA, TYPE):
            response = await gql.raw(query)
            body = response.json()
            assert body["data"] is None, (role, body)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        # __typename is not introspection: clients ask for it everywhere.
        assert await gql("{ __typename }") == {"__typename": "Query"}
    admin = GraphQLClient(production_http, by_role["ADMIN"])
    assert (await admin(SCHEMA))["__schema"]["queryType"]["name"] == "Query"
    assert (await admin(TYPE))["__type"]["name"] == "Customer"
    # The admin's validated document is cached; the POS key's rules are not the admin's.
    again = await GraphQLClient(production_http, by_role["POS"]).raw(SCHEMA)
    assert again.json()["data"] is None


async def test_development_keeps_introspection_open(tenant: Tenant) -> None:
    by_role = await tokens(tenant)
    for token in by_role.values():
        gql = tenant.gql.as_token(token)
        assert (await gql(SCHEMA))["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_is_off_in_production_unless_turned_on(
    production_http: httpx.AsyncClient, http: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await production_http.get("/graphql")).status_code == 404
    assert "graphiql" in (await http.get("/graphql")).text.lower()
    async for turned_on in client_for(production(settings, graphiql=True)):
        page = await turned_on.get("/graphql")
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
    async for turned_off in client_for(settings.model_copy(update={"graphiql": False})):
        assert (await turned_off.get("/graphql")).status_code == 404


def test_graphiql_setting_defaults_follow_the_environment() -> None:
    assert Settings().graphiql_enabled
    assert not production(Settings()).graphiql_enabled
    assert production(Settings(), graphiql=True).graphiql_enabled
