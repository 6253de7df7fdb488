"""Console pages over HTTP: the dashboard's figures, customers, users and API keys, and the
create-user command."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from api.settings import Settings
from domain import console
from domain.customers import Customer
from domain.projects import list_api_keys
from tests.console import ConsoleUser, make_console_user, seed_shop, signed_in_as
from tests.factories import Tenant

ENGAGE = str(Path(sys.executable).parent / "engage")
KEY_QUERY = "{ campaigns(first: 1) { totalCount } }"


async def test_dashboard_and_customer_pages_show_what_the_api_recorded(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    shop = await seed_shop(tenant.gql)
    owner = await make_console_user(project_id=tenant.project_id)
    token = await signed_in_as(http, owner)

    dashboard = (await http.get("/console/")).text
    assert "Redemptions per day" in dashboard and "<svg" in dashboard
    assert "1 redemption in 30 days" in dashboard  # the chart's <desc>
    assert "€80.00" in dashboard and "Spring sale" in dashboard
    assert "Email by status" in dashboard and "Email: 1 message" in dashboard

    # An exact email, phone or sourceId goes straight to the customer; a name lists them.
    for query in ("ADA@example.com", "+33 6 12 34 56 78", "shop-42"):
        found = await http.get("/console/customers", params={"q": query})
        assert found.headers["location"] == f"/console/customers/{shop.customer_id}"
    listed = (await http.get("/console/customers", params={"q": "lovelace"})).text
    assert f"/console/customers/{shop.customer_id}" in listed
    page = (await http.get(f"/console/customers/{shop.customer_id}")).text
    for shown in ("Ada Lovelace", shop.code, "Spring sale", "Club points", "web-1", "VIP"):
        assert shown in page, shown
    assert "Granted" in page and "Erase customer" in page

    wrong = await http.post(
        f"/console/customers/{shop.customer_id}/erase",
        data={"csrf_token": token, "confirm": "ada@example"},
    )
    assert wrong.status_code == 400 and 'id="confirm-error"' in wrong.text
    erased = await http.post(
        f"/console/customers/{shop.customer_id}/erase",
        data={"csrf_token": token, "confirm": "ada@example.com"},
    )
    assert erased.status_code == 303
    customer = await Customer.get(shop.customer_id)
    assert customer is not None and customer.erased and customer.email is None


async def test_owners_create_and_revoke_api_keys_and_marketers_cannot(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    token = await signed_in_as(http, owner)
    created = await http.post(
        "/console/settings/api-keys", data={"csrf_token": token, "name": "Till 3", "role": "POS"}
    )
    assert created.status_code == 200 and "shown only now" in created.text
    secret = created.text.split('<code id="new-key">')[1].split("</code>")[0]
    assert secret.startswith("ek_")
    key = next(k for k in await list_api_keys(tenant.project_id) if k.name == "Till 3")
    assert secret not in (await http.get("/console/settings/api-keys")).text

    pos = tenant.gql.as_token(secret)
    assert (await pos.raw(KEY_QUERY)).status_code == 200
    revoked = await http.post(
        f"/console/settings/api-keys/{key.id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 303
    answer = (await pos.raw(KEY_QUERY)).json()
    assert answer.get("errors"), answer

    missing_name = await http.post(
        "/console/settings/api-keys", data={"csrf_token": token, "name": "", "role": "ADMIN"}
    )
    assert missing_name.status_code == 400 and 'id="name-error"' in missing_name.text

    marketer = await make_console_user(
        project_id=tenant.project_id, email="m@shop.test", role="MARKETER"
    )
    http.cookies.clear()
    marketer_token = await signed_in_as(http, marketer)
    refused = await http.post(
        "/console/settings/api-keys",
        data={"csrf_token": marketer_token, "name": "x", "role": "ADMIN"},
    )
    assert refused.status_code == 403
    assert "Settings" not in (await http.get("/console/")).text.split("<main")[0]


async def test_create_user_prints_a_one_time_password_that_signs_in(
    http: httpx.AsyncClient, settings: Settings, tenant: Tenant
) -> None:
    assert settings.mongodb_uri is not None
    env = {
        **os.environ,
        "ENGAGE_MONGODB_URI": settings.mongodb_uri,
        "ENGAGE_DATABASE": settings.database,
        "ENGAGE_DATA_DIR": str(settings.data_dir),
    }
    made = await asyncio.to_thread(
        subprocess.run,
        [ENGAGE, "create-user", tenant.project.name, "Boss@Shop.test", "--role", "owner"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert "console user boss@shop.test (OWNER) of project shop-a" in made.stdout
    password = made.stdout.strip().splitlines()[-1]
    user = await console.ConsoleUser.find_one({"email": "boss@shop.test"})
    assert user is not None and password not in user.password_hash
    token = await signed_in_as(http, ConsoleUser("boss@shop.test", password, user))

    # The same email again, from the Users page: the domain's typed error beside the field.
    again = await http.post(
        "/console/settings/users",
        data={"csrf_token": token, "email": "BOSS@shop.test", "role": "VIEWER"},
    )
    assert again.status_code == 400 and "USER_EXISTS" in again.text
    assert 'id="email-error"' in again.text and 'value="BOSS@shop.test"' in again.text
