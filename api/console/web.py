"""What every console page shares: the signed-in visit, role checks, CSRF, rendering, errors."""

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, PrefixLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import NoMatchFound

import api.console.charts as charts
from api.settings import Settings
from domain.analytics import NO_CURRENCY
from domain.common import Money, minor_unit_digits, same_secret
from domain.console import (
    ConsoleRole,
    ConsoleSession,
    ConsoleUser,
    find_session,
    role_allows,
)
from domain.errors import DomainError, NotFound, Problem
from domain.projects import Project, display_name, get_project
from templates import TemplateFiles

SESSION_COOKIE = "engage_console"
# Before sign-in there is no session: the sign-in form's token is checked against this cookie.
SIGN_IN_CSRF_COOKIE = "engage_console_csrf"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD"})

Handler = Callable[[Request, "Visit"], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Visit:
    """A request from a signed-in console user: who, in which project, with which session."""

    user: ConsoleUser
    project: Project
    session: ConsoleSession
    session_id: str

    @property
    def project_id(self) -> str:
        return self.project.key

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    @property
    def timezone(self) -> str:
        return self.project.messaging.timezone

    def can(self, minimum: ConsoleRole | str) -> bool:
        """Whether the user's role reaches `minimum` (templates hide controls with it)."""
        return role_allows(self.user.role, ConsoleRole(minimum))


# --- signed cookies -------------------------------------------------------------------------


def _signature(secret_key: str, value: str) -> str:
    key = hashlib.sha256(b"engage console cookie\0" + secret_key.encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def signed(secret_key: str, value: str) -> str:
    return f"{value}.{_signature(secret_key, value)}"


def unsigned(secret_key: str, cookie: str | None) -> str | None:
    """The value of a cookie made by `signed`, or None when it was not made with our key."""
    if not cookie or "." not in cookie:
        return None
    value, _, signature = cookie.rpartition(".")
    return value if same_secret(signature, _signature(secret_key, value)) else None


def set_cookie(response: Response, settings: Settings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        signed(settings.secret_key, value),
        max_age=age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def session_id_of(request: Request) -> str | None:
    return unsigned(settings_of(request).secret_key, request.cookies.get(SESSION_COOKIE))


async def current_visit(request: Request) -> Visit | None:
    """The signed-in visit, or None: no cookie, a forged one, or an ended session."""
    session_id = session_id_of(request)
    if session_id is None:
        return None
    found = await find_session(session_id)
    if found is None:
        return None
    session, user = found
    try:
        project = await get_project(session.project_id)
    except NotFound:
        return None
    return Visit(user=user, project=project, session=session, session_id=session_id)


# --- CSRF ------------------------------------------------------------------------------------


async def form_token(request: Request) -> str:
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


async def csrf_ok(request: Request, expected: str) -> bool:
    presented = await form_token(request)
    return bool(presented) and bool(expected) and same_secret(presented, expected)


def sign_in_csrf(request: Request) -> tuple[str, bool]:
    """The pre-session token for the sign-in form and whether it must be (re)set as a cookie."""
    current = unsigned(settings_of(request).secret_key, request.cookies.get(SIGN_IN_CSRF_COOKIE))
    if current:
        return current, False
    return secrets.token_urlsafe(32), True


# --- pages -----------------------------------------------------------------------------------


def console_page(minimum: ConsoleRole = ConsoleRole.VIEWER) -> Callable[[Handler], Endpoint]:
    """Wraps a handler(request, visit): sends strangers to sign-in, refuses roles below
    `minimum` with 403, and for every POST requires at least MARKETER and a valid CSRF token,
    whatever `minimum` says (viewers never write)."""

    def wrap(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            visit = await current_visit(request)
            if visit is None:
                return redirect_to_sign_in(request)
            request.state.console_visit = visit
            needed = minimum
            writes = request.method not in SAFE_METHODS
            if writes and not role_allows(needed, ConsoleRole.MARKETER):
                needed = ConsoleRole.MARKETER
            if not role_allows(visit.user.role, needed):
                return message_page(
                    request,
                    status=403,
                    title="You cannot do this",
                    text="Your role does not allow this page or action. "
                    "Ask an owner of the project if you need it.",
                )
            if writes and not await csrf_ok(request, visit.csrf_token):
                return csrf_refused(request)
            try:
                return await handler(request, visit)
            except NotFound as missing:
                return message_page(
                    request,
                    status=404,
                    title="Not found",
                    text=f"{str(missing)[:1].upper()}{str(missing)[1:]} in this project.",
                )

        return endpoint

    return wrap


def csrf_refused(request: Request) -> Response:
    return message_page(
        request,
        status=403,
        title="This form has expired",
        text="The form was sent without a valid security token (it may have been open for "
        "too long, or sent from another site). Go back, reload the page and try again.",
    )


def redirect_to_sign_in(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method not in SAFE_METHODS:
        target = request.url.path
    return RedirectResponse(f"{url(request, 'sign_in')}?next={quote(target, safe='/')}", 303)


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site after sign-in."""
    if not target:
        return COOKIE_PATH + "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(COOKIE_PATH) or "\\" in target:
        return COOKIE_PATH + "/"
    return target


def url(request: Request, name: str, **params: Any) -> str:
    """The path of a console route by name ("dashboard", "customer", ...)."""
    return str(request.app.url_path_for(f"console:{name}", **params))


def has_route(request: Request, name: str) -> bool:
    try:
        url(request, name)
    except NoMatchFound:
        return False
    return True


def redirect(request: Request, name: str, query: str = "", **params: Any) -> Response:
    """The answer to a POST that worked: a 303 to a page (POST/redirect/GET)."""
    target = url(request, name, **params)
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=303)


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    area: str
    minimum: ConsoleRole = ConsoleRole.VIEWER


NAV = (
    NavItem("Dashboard", "dashboard", "dashboard"),
    NavItem("Campaigns", "campaigns", "campaigns"),
    NavItem("Customers", "customers", "customers"),
    NavItem("Segments", "segments", "segments"),
    NavItem("Messages", "templates", "messages"),
    NavItem("Experiments", "experiments", "experiments"),
    NavItem("Automations", "automations", "automations"),
    NavItem("Loyalty", "loyalty", "loyalty"),
    NavItem("Referrals", "referrals", "referrals"),
    NavItem("Settings", "settings", "settings", ConsoleRole.OWNER),
)


def nav_for(request: Request, visit: Visit) -> list[dict[str, str]]:
    """The areas this user may open and that this installation serves, in order."""
    return [
        {"label": item.label, "href": url(request, item.route), "area": item.area}
        for item in NAV
        if visit.can(item.minimum) and has_route(request, item.route)
    ]


@lru_cache(maxsize=4)
def environment(files: TemplateFiles) -> Environment:
    env = Environment(
        loader=PrefixLoader({"console": FileSystemLoader(files.folders("console"))}),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        line_chart=charts.line_chart,
        bar_chart=charts.bar_chart,
        Series=charts.Series,
        Bar=charts.Bar,
    )
    env.filters.update(
        money=format_money,
        number=format_number,
        percent=format_percent,
        plural=plural,
        sentence=capitalised,
    )
    return env


CONSOLE_TEMPLATES = ("base.html", "forms.html", "message.html", "confirm.html")
STATIC_FILES = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "campaigns.css": "text/css",
    "campaigns.js": "text/javascript",
    "segments.css": "text/css",
    "segments.js": "text/javascript",
    "messages.css": "text/css",
    "messages.js": "text/javascript",
    "settings.css": "text/css",
    "settings.js": "text/javascript",
}


def check_console_templates(files: TemplateFiles, pages: Iterable[str] = ()) -> None:
    """Raises MissingTemplateFile at start rather than a 500 on the first visit: the shared
    templates, the static files and `pages` (each area's TEMPLATES)."""
    for name in (*CONSOLE_TEMPLATES, *pages):
        files.path(f"console/{name}")
    for name in STATIC_FILES:
        files.path(f"console/static/{name}")


SECURITY_HEADERS = {
    # Pages show personal data and change with every write.
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Renders templates/console/<name> ("console/x.html") with the visit's user, project,
    CSRF token, nav and helpers added to `context`."""
    settings = settings_of(request)
    visit: Visit | None = getattr(request.state, "console_visit", None)
    values: dict[str, Any] = {
        "request": request,
        "visit": visit,
        "user": visit.user if visit else None,
        "project": visit.project if visit else None,
        "project_name": display_name(visit.project) if visit else "",
        "csrf_token": visit.csrf_token if visit else "",
        "csrf_field": CSRF_FIELD,
        "nav": nav_for(request, visit) if visit else [],
        "area": "",
        "errors": FormErrors(),
        "url": lambda route, **params: url(request, route, **params),
        "has_route": lambda route: has_route(request, route),
        "static": lambda file: str(request.app.url_path_for("console:static", name=file)),
        "when": lambda moment, zone=None: format_time(
            moment, zone or (visit.timezone if visit else "UTC")
        ),
        "timezone": visit.timezone if visit else "UTC",
        "Role": ConsoleRole,
    }
    values.update(context or {})
    html = environment(settings.template_files).get_template(name).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(SECURITY_HEADERS))


def message_page(request: Request, *, status: int, title: str, text: str) -> HTMLResponse:
    return render(request, "console/message.html", {"title": title, "text": text}, status)


# --- typed errors next to fields -------------------------------------------------------------


@dataclass
class FormErrors:
    """Problems of one form, keyed by the form's field names. `summary` lists every problem
    once (GOV.UK error summary), each linking to its field when it has one."""

    by_field: dict[str, list[Problem]] = field(default_factory=dict)
    general: list[Problem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def of(self, name: str) -> list[Problem]:
        return self.by_field.get(name, [])

    def message(self, name: str) -> str:
        return " ".join(capitalised(problem.message) for problem in self.of(name))

    @property
    def summary(self) -> list[tuple[str | None, Problem]]:
        items: list[tuple[str | None, Problem]] = [(None, p) for p in self.general]
        for name, problems in self.by_field.items():
            items += [(name, problem) for problem in problems]
        return items


def capitalised(text: str) -> str:
    """The message as a sentence; one starting with an API field name (endsAt, codes.pattern)
    keeps it as written, so it still names the field the API names."""
    first = text.split(" ", 1)[0]
    if any(char.isupper() or char == "." for char in first[1:]):
        return text
    return text[:1].upper() + text[1:]


def form_errors(
    error: DomainError | Iterable[Problem], fields: Mapping[str, str] | None = None
) -> FormErrors:
    """The domain's typed problems placed on form fields. `fields` maps the API's field
    paths ("discount.percentOff") to the form's names ("percent_off"); a path not listed is
    used as the form name itself, and a problem without a field goes to the summary only."""
    problems = error.problems if isinstance(error, DomainError) else list(error)
    mapping = fields or {}
    found = FormErrors()
    for problem in problems:
        if problem.field is None:
            found.general.append(problem)
            continue
        name = mapping.get(problem.field, problem.field)
        found.by_field.setdefault(name, []).append(problem)
    return found


# --- formatting ------------------------------------------------------------------------------


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_time(moment: datetime | None, zone: str) -> Markup:
    """`3 Dec 2026, 14:00 CET` in a <time> carrying the UTC instant."""
    if moment is None:
        return Markup("—")
    local = moment.astimezone(zone_of(zone))
    text = f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or zone}"
    iso = moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}">{}</time>').format(iso, text)


_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def format_money(value: Money | None) -> str:
    """Minor units shown in the major unit: "€1,234.50", "12.00 CHF"; "—" without money (no
    value, or ISO 4217's XXX: a figure with no currency yet)."""
    if value is None or value.currency == NO_CURRENCY:
        return "—"
    digits = minor_unit_digits(value.currency)
    sign = "-" if value.amount < 0 else ""
    whole, part = divmod(abs(value.amount), 10**digits)
    number = f"{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    symbol = _SYMBOLS.get(value.currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {value.currency}"


def plural(count: int, word: str, words: str = "") -> str:
    """ "1 redemption", "2 redemptions"."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def format_number(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def format_percent(value: float) -> str:
    return f"{value * 100:.1f} %"
