"""Console helpers the tests share: users, signing in over HTTP, reading form tokens."""

import re
from dataclasses import dataclass

import httpx

from domain import console

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class ConsoleUser:
    email: str
    password: str
    user: console.ConsoleUser


async def make_console_user(
    *, project_id: str, email: str = "owner@shop.test", role: str = "OWNER"
) -> ConsoleUser:
    issued = await console.create_user(project_id=project_id, email=email, role=role)
    return ConsoleUser(email=issued.user.email, password=issued.password, user=issued.user)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Opens the sign-in page and sends the form; returns the answer to the POST."""
    page = await http.get("/console/sign-in")
    return await http.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
    )


async def signed_in_as(http: httpx.AsyncClient, account: ConsoleUser) -> str:
    """Signs in and returns the session's CSRF token for forms."""
    answer = await sign_in(http, account.email, account.password)
    assert answer.status_code == 303, answer.text
    return csrf_of((await http.get("/console/")).text)
