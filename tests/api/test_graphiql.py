"""GraphiQL: the first query runs with the demo key on this machine, and an offline browser
is told what is missing instead of "Loading..." forever."""

import json
import re

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from api.demo import DEMO_KEY_FILE
from api.graphql import FIRST_QUERY, demo_key_for
from api.settings import Settings
from tests.factories import make_tenant


def page_settings(html: str) -> dict:
    found = re.search(r'<script nonce="[^"]+" id="graphiql-settings"[^>]*>(.*?)</script>', html)
    assert found, html
    return json.loads(found.group(1))


async def open_graphiql(
    app: Starlette, client_host: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get("/graphql", headers={"Accept": "text/html", **(headers or {})})


async def test_development_page_carries_the_demo_key_and_its_first_query_runs(
    app: Starlette, http: httpx.AsyncClient, settings: Settings
) -> None:
    tenant = await make_tenant(http=http, name="demo")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / DEMO_KEY_FILE).write_text(tenant.admin_key + "\n")

    response = await open_graphiql(app, "127.0.0.1")
    assert response.status_code == 200
    shown = page_settings(response.text)
    assert shown["headers"] == {"Authorization": f"Bearer {tenant.admin_key}"}
    assert shown["query"] == FIRST_QUERY
    assert shown["endpoint"] == "/graphql"

    # What the page sends is what GraphiQL's Docs panel and the first run need.
    data = await tenant.gql.as_token(shown["headers"]["Authorization"].removeprefix("Bearer "))(
        shown["query"]
    )
    assert data["project"]["name"] == "demo"
    assert data["campaigns"]["totalCount"] == 0
    introspection = await tenant.gql("{ __schema { queryType { name } } }")
    assert introspection["__schema"]["queryType"]["name"] == "Query"


async def test_the_key_is_never_shown_to_another_machine(
    app: Starlette, http: httpx.AsyncClient, settings: Settings
) -> None:
    tenant = await make_tenant(http=http, name="demo")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / DEMO_KEY_FILE).write_text(tenant.admin_key + "\n")

    response = await open_graphiql(app, "203.0.113.9")
    assert response.status_code == 200
    assert page_settings(response.text)["headers"] == {}
    assert tenant.admin_key not in response.text
    assert "YOUR-ADMIN-KEY" in response.text

    # Through a proxy on this machine every visitor would look local.
    for header in ("X-Forwarded-For", "Forwarded"):
        proxied = await open_graphiql(app, "127.0.0.1", {header: "for=203.0.113.9"})
        assert page_settings(proxied.text)["headers"] == {}
        assert tenant.admin_key not in proxied.text


async def test_offline_page_explains_and_gives_a_curl_command(app: Starlette) -> None:
    response = await open_graphiql(app, "127.0.0.1")
    html = response.text
    shown = page_settings(html)
    # The scripts come from the CDN only through the loader, which gives up after a timeout
    # or an error and shows the explanation.
    assert 0 < shown["timeoutMs"] <= 10000
    assert 'id="unavailable" hidden' in html
    assert "GraphiQL could not load" in html
    assert "curl -s http://testserver/graphql" in html
    assert "setTimeout(unavailable, settings.timeoutMs)" in html
    assert "element.onerror = unavailable" in html
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'nonce="{nonce.group(1)}"' in html
    assert "script-src 'nonce-" in policy and "https://unpkg.com" in policy
    assert response.headers["cache-control"] == "no-store"


def test_production_never_fills_in_a_key(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / DEMO_KEY_FILE).write_text("ek_some-key\n")
    request = Request({"type": "http", "client": ("127.0.0.1", 50000), "headers": []})
    assert demo_key_for(request, settings) == "ek_some-key"
    production = Settings(
        env="production",
        secret_key="p" * 40,
        mongodb_uri=settings.mongodb_uri,
        base_url="https://engage.example.com",
        data_dir=settings.data_dir,
    )
    assert demo_key_for(request, production) == ""
