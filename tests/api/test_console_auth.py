"""Console sign-in over HTTP: sessions, lockout, CSRF, roles and project scoping."""

import httpx
from starlette.applications import Starlette

from domain import console
from domain.customers import Customer, CustomerInput, insert_customer
from domain.projects import ApiKey, list_api_keys
from tests.console import csrf_of, make_console_user, sign_in, signed_in_as
from tests.factories import Tenant


async def test_signing_in_opens_the_dashboard_and_signing_out_ends_the_session(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    assert (await http.get("/console/")).headers["location"].startswith("/console/sign-in")

    answer = await sign_in(http, owner.email.upper(), owner.password)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development serves http://
    dashboard = await http.get("/console/")
    assert dashboard.status_code == 200 and "Dashboard" in dashboard.text
    stolen = http.cookies.get("engage_console")

    signed_out = await http.post("/console/sign-out", data={"csrf_token": csrf_of(dashboard.text)})
    assert signed_out.status_code == 303
    assert (await http.get("/console/")).status_code == 303
    # The old cookie, replayed, no longer opens anything: the session document is gone.
    http.cookies.set("engage_console", stolen or "", path="/console")
    assert (await http.get("/console/")).status_code == 303
    assert await console.ConsoleSession.find_all().count() == 0


async def test_wrong_passwords_lock_the_account_out_even_for_the_right_password(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    right = await sign_in(http, owner.email, owner.password, next="//evil.example/x")
    assert right.status_code == 303  # a right password costs nothing
    assert right.headers["location"] == "/console/"  # never another site after sign-in
    http.cookies.clear()
    for _ in range(5):
        wrong = await sign_in(http, owner.email, "not-the-password")
        assert wrong.status_code == 400
        assert "The email or password is not right" in wrong.text
        assert "WRONG_PASSWORD" in wrong.text
    locked = await sign_in(http, owner.email, owner.password)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "RATE_LIMITED" in locked.text and "locked" in locked.text
    assert "engage_console=" not in locked.headers.get("set-cookie", "")
    # Another account at the same address is not locked by this one's failures.
    other = await make_console_user(project_id=tenant.project_id, email="m@shop.test")
    assert (await sign_in(http, other.email, other.password)).status_code == 303


async def test_removing_a_user_ends_their_sessions_and_viewers_cannot_write(
    http: httpx.AsyncClient, app: Starlette, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    viewer = await make_console_user(
        project_id=tenant.project_id, email="v@shop.test", role="VIEWER"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
        viewer_token = await signed_in_as(second, viewer)
        # A viewer reads, but no POST goes through, not even with a valid token.
        assert (await second.get("/console/customers")).status_code == 200
        refused = await second.post(
            "/console/settings/api-keys",
            data={"csrf_token": viewer_token, "name": "x", "role": "ADMIN"},
        )
        assert refused.status_code == 403
        assert (await second.get("/console/settings/users")).status_code == 403
        assert len(await projects_keys(tenant.project_id)) == 1

        owner_token = await signed_in_as(http, owner)
        users_page = await http.get("/console/settings/users")
        assert "v@shop.test" in users_page.text
        removed = await http.post(
            f"/console/settings/users/{viewer.user.key}/remove",
            data={"csrf_token": owner_token},
        )
        assert removed.status_code == 303
        assert removed.headers["location"] == "/console/settings/users?done=user-removed"
        after = await second.get("/console/customers")
        assert after.status_code == 303 and "/console/sign-in" in after.headers["location"]
    assert await console.ConsoleUser.find({"project_id": tenant.project_id}).count() == 1


async def projects_keys(project_id: str) -> list[ApiKey]:
    return await list_api_keys(project_id)


async def test_a_post_without_the_session_token_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    token = await signed_in_as(http, owner)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token + "x"}):
        answer = await http.post(
            "/console/settings/users", data={**data, "email": "x@shop.test", "role": "OWNER"}
        )
        assert answer.status_code == 403 and "expired" in answer.text
    assert await console.ConsoleUser.find({"project_id": tenant.project_id}).count() == 1
    # The sign-in form has its own token, tied to a cookie.
    http.cookies.clear()
    forged = await http.post(
        "/console/sign-in", data={"email": owner.email, "password": owner.password}
    )
    assert forged.status_code == 403 and "engage_console=" not in forged.headers.get(
        "set-cookie", ""
    )

    added = await http.post(
        "/console/settings/users",
        data={"csrf_token": await signed_in_as(http, owner), "email": "m@shop.test"},
    )
    # The typed error the domain gives, next to the field.
    assert added.status_code == 400 and "INVALID_ROLE" in added.text
    assert 'id="role-error"' in added.text


async def test_a_user_sees_only_their_own_project(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await insert_customer(
        tenant.project_id, CustomerInput(email="ada@example.com", name="Ada Ours"), "test"
    )
    theirs = await insert_customer(
        other_tenant.project_id, CustomerInput(email="bob@example.com", name="Bob Theirs"), "t"
    )
    owner = await make_console_user(project_id=tenant.project_id)
    token = await signed_in_as(http, owner)
    assert "Ada Ours" in (await http.get(f"/console/customers/{ours.key}")).text
    foreign = await http.get(f"/console/customers/{theirs.key}")
    assert foreign.status_code == 404 and "Bob" not in foreign.text
    listed = await http.get("/console/customers?q=Theirs")
    assert "Bob" not in listed.text and "No customer" in listed.text
    erase = await http.post(
        f"/console/customers/{theirs.key}/erase",
        data={"csrf_token": token, "confirm": "bob@example.com"},
    )
    assert erase.status_code == 404
    assert (await Customer.get(theirs.id)).erased is False  # type: ignore[union-attr]
