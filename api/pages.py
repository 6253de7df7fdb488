"""Plain HTML pages: the coupon page and the till screen."""

import re
import secrets
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api import wallet_badges
from api.client_address import client_address
from api.rate_limits import PUBLIC, limited
from api.settings import Settings
from domain import codes, links, referrals
from domain.campaigns import Campaign, get_campaign
from domain.common import utc_now
from domain.errors import NotFound
from domain.projects import Project, display_name, get_project
from templates import TemplateFiles

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
STATUS_LABELS = {
    codes.CodeStatus.ACTIVE: "Valid",
    codes.CodeStatus.REDEEMED: "Already used",
    codes.CodeStatus.PAUSED: "Paused",
    codes.CodeStatus.NOT_STARTED: "Not started yet",
    codes.CodeStatus.EXPIRED: "Expired",
}


PAGE_TEMPLATES = (
    "base.html",
    "coupon.html",
    "graphiql.html",
    "not_found.html",
    "pos.html",
    "unsubscribe.html",
    "unsubscribe_invalid.html",
)


@lru_cache(maxsize=4)
def templates(files: TemplateFiles) -> Environment:
    return Environment(loader=FileSystemLoader(files.folders("pages")), autoescape=True)


def check_page_templates(files: TemplateFiles) -> None:
    """Raises MissingTemplateFile at start rather than a 500 on the first visitor."""
    for name in PAGE_TEMPLATES:
        files.path(f"pages/{name}")


def _render(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    # Inline styles and scripts run only with this request's nonce, so injected markup cannot.
    nonce = secrets.token_urlsafe(16)
    html = templates(settings.template_files).get_template(name).render(nonce=nonce, **context)
    policy = (
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self' https: data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            # Coupon state changes with every redemption; the till page must never be stale.
            "Cache-Control": "no-store",
            "Content-Security-Policy": policy,
            # A coupon's URL is its code: it must not leak to other sites.
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Robots-Tag": "noindex",
        },
    )


def not_found(request: Request) -> HTMLResponse:
    return _render(request, "not_found.html", {}, status=404)


def _color(value: str, default: str) -> str:
    return value if _COLOR.match(value) else default


def _local(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y, %H:%M} ({timezone})"


def _code_groups(display: str) -> list[tuple[str, str]]:
    """The code as printed, as (separator before, group) pairs split at its dashes or spaces:
    the page may wrap between groups, never inside one."""
    parts = re.split(r"([-\s]+)", display.strip())
    groups = [("", parts[0])] + [
        (" " if separator.isspace() else separator, group)
        for separator, group in zip(parts[1::2], parts[2::2], strict=True)
    ]
    return [(separator, group) for separator, group in groups if group] or [("", display)]


def _code_width(groups: list[tuple[str, str]]) -> int:
    """Characters the code's font is sized for: the whole code on one line while that stays
    readable, and never less than its longest group, so a group never breaks."""
    longest = max(len(group) for _, group in groups)
    whole = sum(len(separator) + len(group) for separator, group in groups)
    return max(longest, min(whole, 16))


def _state_date(
    status: codes.CodeStatus, code: codes.Code, campaign: Campaign, now: datetime
) -> datetime | None:
    """When the coupon came into a state it cannot be used in: what its holder asks first."""
    if status == codes.CodeStatus.REDEEMED:
        return code.last_redeemed_at
    if status == codes.CodeStatus.EXPIRED:
        if campaign.ends_at is not None and campaign.ends_at <= now:
            return campaign.ends_at
        return campaign.status_changed_at
    if status == codes.CodeStatus.PAUSED:
        return campaign.status_changed_at
    if status == codes.CodeStatus.NOT_STARTED:
        return campaign.starts_at
    return None


def _coupon_context(
    settings: Settings, code: codes.Code, campaign: Campaign, project: Project
) -> dict[str, Any]:
    now = utc_now()
    status = codes.code_status(code, campaign, now)
    active = status == codes.CodeStatus.ACTIVE
    brand = project.brand
    url = codes.coupon_url(settings.public_base_url, code)
    groups = _code_groups(code.display or code.code)
    # A pass signed with development credentials fails on every phone: no button for it.
    wallets_shown = status in (codes.CodeStatus.ACTIVE, codes.CodeStatus.NOT_STARTED)
    apple = wallets_shown and settings.apple_certificates_configured
    google = wallets_shown and settings.google_configured
    return {
        "brand_name": display_name(project),
        "primary_color": _color(brand.primary_color, "#1f2937"),
        "accent_color": _color(brand.accent_color, "#f59e0b"),
        "logo_url": brand.logo_url if brand.logo_url.startswith("https://") else "",
        "offer": codes.offer_text(campaign.discount),
        "campaign_name": campaign.name,
        "description": campaign.description,
        "terms": campaign.terms,
        "code_display": code.display or code.code,
        "code_groups": groups,
        "code_width": _code_width(groups),
        # segno's own SVG markup: it carries no caller-provided text.
        "qr_svg": Markup(codes.qr_svg(url)) if active else "",  # noqa: S704
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "state_date_text": _local(_state_date(status, code, campaign, now), campaign.timezone),
        "uses_left": codes.uses_left(code, campaign),
        "starts_at_text": _local(campaign.starts_at, campaign.timezone),
        "ends_at_text": _local(campaign.ends_at, campaign.timezone),
        "ends_at_iso": campaign.ends_at.isoformat() if campaign.ends_at else "",
        "shop_link": _shop_link(brand.shop_url, code.code) if active else "",
        # Whoever has the coupon page has the code: the links carry its pass token.
        "apple_wallet_url": links.apple_wallet_url(
            settings.public_base_url, settings.secret_key, code.project_id, code.code
        )
        if apple
        else "",
        "google_wallet_url": links.google_wallet_url(
            settings.public_base_url, settings.secret_key, code.project_id, code.code
        )
        if google
        else "",
        "apple_badge": wallet_badges.installed(settings.badges_dir, "apple") if apple else "",
        "google_badge": wallet_badges.installed(settings.badges_dir, "google") if google else "",
    }


def coupon_html(
    settings: Settings, code: codes.Code, campaign: Campaign, project: Project, *, nonce: str
) -> str:
    """The coupon page's markup as the code's holder sees it; the console's brand preview
    draws it with a draft brand and a sample code."""
    context = _coupon_context(settings, code, campaign, project)
    return (
        templates(settings.template_files)
        .get_template("coupon.html")
        .render(nonce=nonce, **context)
    )


def _shop_link(shop_url: str, code: str) -> str:
    """The shop's address with `code=<CODE>` added, so checkout can fill the code in."""
    if not shop_url:
        return ""
    parts = urlsplit(shop_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("code", code)]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def coupon_page(request: Request) -> HTMLResponse:
    """Every failure answers the same 404 page, so the page tells nothing about other codes."""
    code = await codes.find_public_code(request.path_params["code"])
    if code is None:
        return not_found(request)
    try:
        campaign = await get_campaign(code.project_id, code.campaign_id)
        project = await get_project(code.project_id)
    except NotFound:
        return not_found(request)
    return _render(
        request, "coupon.html", _coupon_context(request.app.state.settings, code, campaign, project)
    )


async def referral_redirect(request: Request) -> Response:
    """Records the click and sends the visitor on to the program's landing page."""
    code = await referrals.find_public_referral_code(raw=request.path_params["code"])
    settings: Settings = request.app.state.settings
    if code is None:
        # An unknown code names no program, so no landing page but the configured one.
        if settings.referral_fallback_url:
            return RedirectResponse(
                settings.referral_fallback_url,
                status_code=302,
                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            )
        return not_found(request)
    try:
        target = await referrals.record_click(
            code=code,
            ip=client_address(request, settings.trusted_proxy_hops),
            user_agent=request.headers.get("user-agent", ""),
            secret_key=settings.secret_key,
        )
    except NotFound:
        return not_found(request)
    # Every visit must reach the service to be counted; the link carries the referrer's code.
    return RedirectResponse(
        target,
        status_code=302,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def pos_page(request: Request) -> HTMLResponse:
    return _render(request, "pos.html", {})


routes: list[BaseRoute] = [
    # `path`: a code that decodes to something with "/" still gets the same 404 page.
    Route("/c/{code:path}", limited(PUBLIC, coupon_page), methods=["GET"]),
    Route("/r/{code:path}", limited(PUBLIC, referral_redirect), methods=["GET"]),
    Route("/pos", pos_page, methods=["GET"]),
    *wallet_badges.routes,
]
