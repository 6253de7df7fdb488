"""Signing in and out of the console, with wrong passwords counted by the API's limiter."""

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    clear_cookie,
    csrf_ok,
    csrf_refused,
    current_visit,
    form_errors,
    render,
    safe_next,
    set_cookie,
    settings_of,
    sign_in_csrf,
    url,
)
from api.rate_limits import address_subject
from api.settings import Settings
from domain.common import hash_secret
from domain.console import SESSION_LIFETIME, check_password, end_session, start_session
from domain.errors import CommonError, DomainError, Problem
from domain.rate_limits import SERVICE_WIDE, Bucket, RateLimited, give_back, parse_rates, take

SIGN_IN_CSRF_AGE = 60 * 60 * 24


def _buckets(request: Request, settings: Settings, email: str) -> list[Bucket]:
    # The email as a hash: counters must not keep who tried to sign in.
    subject = hash_secret(email.strip().lower() + "\0" + settings.secret_key)
    return [
        Bucket(
            SERVICE_WIDE,
            "console-sign-in-email",
            subject,
            parse_rates(settings.rate_limit_console_sign_in_per_email),
        ),
        Bucket(
            SERVICE_WIDE,
            "console-sign-in-address",
            address_subject(request, settings),
            parse_rates(settings.rate_limit_console_sign_in_per_address),
        ),
    ]


def _wait(seconds: int) -> str:
    minutes = (seconds + 59) // 60
    return f"{seconds} seconds" if seconds < 120 else f"{minutes} minutes"


def _form(
    request: Request, *, email: str = "", problems: list[Problem] | None = None, status: int = 200
) -> Response:
    token, fresh = sign_in_csrf(request)
    response = render(
        request,
        "console/sign_in.html",
        {
            "title": "Sign in",
            "email": email,
            "next": safe_next(request.query_params.get("next")),
            "sign_in_token": token,
            "errors": form_errors(problems or []),
        },
        status,
    )
    if fresh:
        set_cookie(response, settings_of(request), SIGN_IN_CSRF_COOKIE, token, SIGN_IN_CSRF_AGE)
    return response


async def sign_in_page(request: Request) -> Response:
    if await current_visit(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    return _form(request)


async def sign_in(request: Request) -> Response:
    settings = settings_of(request)
    expected, fresh = sign_in_csrf(request)
    if fresh or not await csrf_ok(request, expected):
        return csrf_refused(request)
    form = await request.form()
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    if not email.strip() or not password:
        problems = []
        if not email.strip():
            problems.append(Problem(CommonError.REQUIRED, "enter your email address", "email"))
        if not password:
            problems.append(Problem(CommonError.REQUIRED, "enter your password", "password"))
        return _form(request, email=email, problems=problems, status=400)
    taken = None
    if settings.rate_limit_enabled:
        try:
            # Charged before the check, so parallel guesses cannot overrun the limit.
            taken = await take(_buckets(request, settings, email), 1)
        except RateLimited as refused:
            problem = Problem(
                CommonError.RATE_LIMITED,
                "too many wrong passwords: signing in is locked for this account or address. "
                f"Try again in {_wait(refused.retry_after)}",
                "email",
            )
            response = _form(request, email=email, problems=[problem], status=429)
            response.headers["Retry-After"] = str(refused.retry_after)
            return response
    try:
        user = await check_password(email=email, password=password)
    except DomainError as wrong:
        return _form(request, email=email, problems=wrong.problems, status=400)
    if taken is not None:
        await give_back(taken, 1)
    session_id, _ = await start_session(user=user)
    response = RedirectResponse(target, status_code=303)
    set_cookie(
        response, settings, SESSION_COOKIE, session_id, int(SESSION_LIFETIME.total_seconds())
    )
    clear_cookie(response, settings, SIGN_IN_CSRF_COOKIE)
    return response


async def sign_out(request: Request) -> Response:
    """Viewers sign out too, so this is not a console_page (which needs MARKETER to POST)."""
    visit = await current_visit(request)
    if visit is not None:
        if not await csrf_ok(request, visit.csrf_token):
            request.state.console_visit = visit
            return csrf_refused(request)
        await end_session(visit.session_id)
    response = RedirectResponse(url(request, "sign_in") + "?signed_out=1", status_code=303)
    clear_cookie(response, settings_of(request), SESSION_COOKIE)
    return response


TEMPLATES = ("sign_in.html",)
routes: list[BaseRoute] = [
    Route("/sign-in", sign_in_page, methods=["GET"], name="sign_in"),
    Route("/sign-in", sign_in, methods=["POST"], name="sign_in_post"),
    Route("/sign-out", sign_out, methods=["POST"], name="sign_out"),
]
