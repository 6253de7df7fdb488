"""Provider webhooks (Twilio status and inbound SMS) and the customers' unsubscribe links."""

import contextlib
import logging
from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from api.pages import _color, _render
from api.rate_limits import HOOKS, PUBLIC, limited
from api.request_limits import LimitedBody
from api.settings import Settings
from domain import consent
from domain.customers import Channel, Customer, normalize_phone
from domain.errors import DomainError, NotFound
from domain.links import read_unsubscribe_token
from domain.messages import MessageChannel, ProviderStatus, record_provider_status
from domain.projects import get_project
from domain.twilio_accounts import project_auth_tokens

log = logging.getLogger("engage.hooks")

# Twilio's standard opt-out and opt-in keywords, matched on the whole trimmed body.
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
STOP_REPLY = (
    "You are unsubscribed and will receive no more messages. Reply START to subscribe again."
)
START_REPLY = "You are subscribed again. Reply STOP to unsubscribe, HELP for help."
HELP_REPLY = (
    "Reply STOP to unsubscribe, START to subscribe again. Message and data rates may apply."
)
# Twilio's MessageStatus values that end a message's journey.
_FINAL_STATUSES = {
    "delivered": ProviderStatus.DELIVERED,
    "undelivered": ProviderStatus.UNDELIVERED,
    "failed": ProviderStatus.UNDELIVERED,
}


async def _signed_by_twilio(request: Request, form: FormData) -> bool:
    """X-Twilio-Signature over the public URL Twilio called and the posted form, under the
    installation's auth token or that of a project whose own account the form names."""
    settings: Settings = request.app.state.settings
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        return False
    url = settings.public_base_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    tokens = [settings.twilio_auth_token] if settings.twilio_auth_token else []
    account_sid = _field(form, "AccountSid")
    if account_sid and account_sid != settings.twilio_account_sid:
        keys = (settings.secret_key, settings.previous_secret_key)
        tokens += await project_auth_tokens(account_sid, keys)
    return any(RequestValidator(token).validate(url, form, signature) for token in tokens)


def _field(form: FormData, *names: str) -> str:
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


async def twilio_status(request: Request) -> Response:
    form = await request.form()
    if not await _signed_by_twilio(request, form):
        return Response(status_code=403)
    sid = _field(form, "MessageSid", "SmsSid")
    twilio_status = _field(form, "MessageStatus", "SmsStatus").lower()
    status = _FINAL_STATUSES.get(twilio_status)
    # queued, sending, sent and the like are steps on the way: acknowledged, nothing to record.
    if status is not None and sid:
        error = ""
        if status == ProviderStatus.UNDELIVERED:
            code = _field(form, "ErrorCode")
            error = f"Twilio {twilio_status}" + (f", error {code}" if code else "")
        # The worker names the message in the callback URL it gives Twilio (signed above).
        message_id = request.query_params.get("message", "")
        recorded = await record_provider_status(sid, status, error, message_id)
        if not recorded:
            log.info("status %s for %s matched no sent message", twilio_status, sid)
    return Response(status_code=204)


def _twiml(reply: str = "") -> Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), media_type="application/xml")


def _keyword(body: str) -> str:
    return body.strip().rstrip(".!").strip().upper()


async def twilio_inbound(request: Request) -> Response:
    form = await request.form()
    if not await _signed_by_twilio(request, form):
        return Response(status_code=403)
    keyword = _keyword(_field(form, "Body"))
    if keyword in HELP_KEYWORDS:
        return _twiml(HELP_REPLY)
    if keyword not in STOP_KEYWORDS | START_KEYWORDS:
        return _twiml()
    try:
        phone = normalize_phone(_field(form, "From"))
    except DomainError:
        # A short code or an alphanumeric sender: no customer can have it.
        return _twiml()
    source = f"sms:{keyword}"
    if keyword in STOP_KEYWORDS:
        await consent.withdraw_phone(phone, source)
        return _twiml(STOP_REPLY)
    await consent.grant_phone(phone, source)
    return _twiml(START_REPLY)


def _invalid_link(request: Request) -> HTMLResponse:
    return _render(request, "unsubscribe_invalid.html", {}, status=404)


def _masked(customer: Customer | None, channel: Channel) -> str:
    """Enough of the address to recognise it, not enough to learn it from a forwarded link."""
    if customer is None:
        return ""
    if channel == Channel.EMAIL and customer.email:
        local, _, domain = customer.email.partition("@")
        return f"{local[:1]}***@{domain}"
    if channel == Channel.SMS and customer.phone:
        return f"••• {customer.phone[-4:]}"
    return ""


async def unsubscribe(request: Request) -> Response:
    """GET from the link in a message, POST from a mail client's one-click (RFC 8058)."""
    settings: Settings = request.app.state.settings
    opt_out = read_unsubscribe_token(settings.secret_key, request.path_params["token"])
    if opt_out is None or opt_out.channel not in (MessageChannel.EMAIL, MessageChannel.SMS):
        return _invalid_link(request)
    try:
        project = await get_project(opt_out.project_id)
    except NotFound:
        return _invalid_link(request)
    if request.method == "HEAD":
        # Link checkers probe with HEAD: answering must not opt anyone out.
        return Response(status_code=200, media_type="text/html")
    channel = Channel(opt_out.channel.value)
    one_click = request.method == "POST"
    customer: Customer | None = None
    # A customer who is gone has nothing left to opt out of: the page says done all the same.
    with contextlib.suppress(NotFound):
        customer = await consent.withdraw_consent(
            opt_out.project_id,
            opt_out.customer_id,
            channel,
            "unsubscribe:one-click" if one_click else "unsubscribe:link",
        )
    if one_click:
        return PlainTextResponse("Unsubscribed.", headers={"Cache-Control": "no-store"})
    brand = project.brand
    return _render(
        request,
        "unsubscribe.html",
        {
            "brand_name": brand.name or project.name,
            "primary_color": _color(brand.primary_color, "#1f2937"),
            "accent_color": _color(brand.accent_color, "#f59e0b"),
            "logo_url": brand.logo_url if brand.logo_url.startswith("https://") else "",
            "channel": channel.value,
            "address": _masked(customer, channel),
        },
    )


def _bounded(endpoint: Callable[[Request], Awaitable[Response]]) -> LimitedBody:
    """Twilio posts a small form: a larger body is refused before it is parsed."""
    return LimitedBody(request_response(endpoint), lambda settings: settings.hook_max_body_bytes)


routes: list[BaseRoute] = [
    Route("/hooks/twilio/status", _bounded(limited(HOOKS, twilio_status)), methods=["POST"]),
    Route("/hooks/twilio/inbound", _bounded(limited(HOOKS, twilio_inbound)), methods=["POST"]),
    Route("/unsubscribe/{token}", limited(PUBLIC, unsubscribe), methods=["GET", "POST"]),
]
