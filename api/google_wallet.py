"""Google Wallet routes: save links for codes and loyalty cards, and the default program logo."""

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api.auth import authenticate, bearer_token
from api.pass_access import card_in_path, code_in_path, may_open
from api.rate_limits import PUBLIC, limited
from api.settings import Settings
from delivery.channels import SendError
from delivery.wallet import apple, google
from domain import links
from domain.campaigns import Campaign
from domain.common import object_id
from domain.customers import Customer
from domain.errors import DomainError
from domain.projects import Project
from domain.wallet import PassKind

log = logging.getLogger("engage.wallet.google")
# Square, as Google crops program logos to a circle.
DEFAULT_LOGO = "icon@3x.png"
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _answer(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status, headers=_HEADERS)


async def _redirect(settings: Settings, link: google.SaveLink) -> Response:
    if link.class_to_insert is not None and settings.google_configured:
        # The class did not fit in the link: Google must know it before the object is saved.
        try:
            await asyncio.to_thread(
                google.insert_class, settings=settings, klass=link.class_to_insert
            )
        except SendError as error:
            log.warning("Google Wallet class %s: %s", link.class_to_insert["id"], error)
            return _answer(503, "Google Wallet is unavailable, try again later")
    return RedirectResponse(link.url, status_code=302, headers=_HEADERS)


async def _project_and_campaign(project_id: str, campaign_id: str) -> tuple[Project, Campaign]:
    project = await Project.get(object_id(project_id, "project"))
    campaign = await Campaign.find_one(
        {"_id": object_id(campaign_id, "campaign"), "project_id": project_id}
    )
    if project is None or campaign is None:
        raise LookupError
    return project, campaign


async def save_code(request: Request) -> Response:
    """`/passes/google/{code}?token=`: 302 to the code's Google Wallet save link."""
    raw = request.path_params["code"]
    caller = await authenticate(bearer_token(request))
    code, exists = await code_in_path(request, raw, caller)
    if code is None:
        if exists:
            return _answer(403, "this link's token does not open this pass")
        return _answer(404, "no such code")
    try:
        project, campaign = await _project_and_campaign(code.project_id, code.campaign_id)
    except (LookupError, DomainError):
        return _answer(404, "no such code")
    settings: Settings = request.app.state.settings
    link = google.offer_save_link(settings=settings, code=code, campaign=campaign, project=project)
    await google.mark_issued(
        project_id=code.project_id,
        kind=PassKind.COUPON,
        campaign_id=campaign.key,
        wallet_object_id=google.offer_object_id(issuer_id=settings.google_issuer_id, code=code),
        code=code.code,
    )
    return await _redirect(settings, link)


async def save_card(request: Request) -> Response:
    """`/passes/google/cards/{cardId}?token=`: 302 to the loyalty card's save link."""
    card = await card_in_path(request)
    if card is None:
        return _answer(404, "no such card")
    caller = await authenticate(bearer_token(request))
    if not may_open(
        request, caller, card.project_id, links.card_pass_subject(card.key), card.customer_id
    ):
        return _answer(403, "this link's token does not open this pass")
    try:
        project, campaign = await _project_and_campaign(card.project_id, card.campaign_id)
    except (LookupError, DomainError):
        return _answer(404, "no such card")
    customer = await Customer.find_one(
        {"_id": object_id(card.customer_id, "customer"), "project_id": card.project_id}
    )
    settings: Settings = request.app.state.settings
    link = google.loyalty_save_link(
        settings=settings, card=card, campaign=campaign, project=project, customer=customer
    )
    await google.mark_issued(
        project_id=card.project_id,
        kind=PassKind.STORE_CARD,
        campaign_id=campaign.key,
        wallet_object_id=google.loyalty_object_id(issuer_id=settings.google_issuer_id, card=card),
        card_id=card.key,
    )
    return await _redirect(settings, link)


async def program_logo(request: Request) -> Response:
    """The logo loyalty classes show when the brand has none (Google requires one)."""
    settings: Settings = request.app.state.settings
    images = apple.default_images(settings.template_files)
    return Response(
        images[DEFAULT_LOGO],
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=86400"},
    )


routes: list[BaseRoute] = [
    Route("/passes/google/logo.png", program_logo, methods=["GET"]),
    Route("/passes/google/cards/{card_id}", limited(PUBLIC, save_card), methods=["GET"]),
    Route("/passes/google/{code:path}", limited(PUBLIC, save_code), methods=["GET"]),
]
