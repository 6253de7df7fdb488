"""Console sign-in over HTTP: sessions, lockout, CSRF, roles and project scoping."""

import httpx

from domain import console
from tests.console import csrf_of, make_console_user, sign_in
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
