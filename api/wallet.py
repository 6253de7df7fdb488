"""Apple Wallet routes: .pkpass downloads for codes and loyalty cards, and the PassKit web
service (`/wallet/v1/...`) devices use to register, list updates and fetch the latest pass."""

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, request_response

from api.auth import authenticate, bearer_token
from api.pass_access import MAX_SAME_CODE, card_in_path, code_in_path, may_open
from api.rate_limits import PUBLIC, WALLET_LOG, limited
from api.request_limits import LimitedBody
from api.settings import Settings
from delivery.wallet import apple
from delivery.wallet.certificates import SigningChain, loaded_signing_chain, signing_chain
from delivery.wallet.signed_passes import SignedPassCache, chain_identity
from domain import codes, links, wallet
from domain.batches import ValueReads
from domain.campaigns import Campaign
from domain.codes import Code
from domain.common import object_id, utc_now
from domain.customers import Customer
from domain.errors import DomainError
from domain.loyalty import LoyaltyCard
from domain.projects import Project
from domain.wallet import PassKind, WalletPass

log = logging.getLogger("engage.wallet.apple")
MAX_PUSH_TOKEN = 200
MAX_DEVICE_ID = 200
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _answer(status: int, text: str = "") -> Response:
    return PlainTextResponse(text, status_code=status, headers=_HEADERS)


class Unavailable(Exception):
    """What the pass is made of (code, campaign, project, card) no longer exists."""


async def _project(project_id: str) -> Project:
    project = await Project.get(object_id(project_id, "project"))
    if project is None:
        raise Unavailable
    return project


async def _campaign(project_id: str, campaign_id: str) -> Campaign:
    campaign = await Campaign.find_one(
        {"_id": object_id(campaign_id, "campaign"), "project_id": project_id}
    )
    if campaign is None:
        raise Unavailable
    return campaign


def _context(settings: Settings, wallet_pass: WalletPass) -> apple.PassContext:
    return apple.PassContext(
        pass_type_id=settings.apple_pass_type_id,
        team_id=settings.apple_team_id,
        public_base_url=settings.public_base_url,
        serial=wallet_pass.serial,
        authentication_token=wallet.authentication_token(settings.secret_key, wallet_pass.serial),
    )


@dataclass(frozen=True)
class Built:
    pass_json: bytes
    # The campaign's window (a coupon's), copied onto the pass record.
    window: tuple[datetime | None, datetime | None] | None


async def _pass_json(
    settings: Settings,
    wallet_pass: WalletPass,
    now: datetime,
    coupon: tuple[Code, Campaign] | None = None,
) -> Built:
    """pass.json built from the current state of the pass's code or card; `coupon` is the
    code and its campaign when the caller has just read them."""
    project = await _project(wallet_pass.project_id)
    context = _context(settings, wallet_pass)
    if wallet_pass.kind == PassKind.COUPON:
        if coupon is None:
            code = await Code.find_one(
                {"project_id": wallet_pass.project_id, "code": wallet_pass.code}
            )
            if code is None:
                raise Unavailable
            campaign = await _campaign(code.project_id, code.campaign_id)
        else:
            code, campaign = coupon
        built = apple.coupon_pass(context, code, campaign, project, now).json_bytes()
        return Built(built, (campaign.starts_at, campaign.ends_at))
    card = await LoyaltyCard.find_one(
        {"_id": object_id(wallet_pass.card_id, "card"), "project_id": wallet_pass.project_id}
    )
    if card is None:
        raise Unavailable
    program = await _campaign(card.project_id, card.campaign_id)
    customer = await Customer.find_one(
        {"_id": object_id(card.customer_id, "customer"), "project_id": card.project_id}
    )
    return Built(
        apple.store_card_pass(context, card, program, customer, project).json_bytes(), None
    )


def _last_modified(wallet_pass: WalletPass) -> str:
    moment = wallet_pass.updated_at
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return format_datetime(aware.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _unchanged_since(request: Request, wallet_pass: WalletPass) -> bool:
    header = request.headers.get("if-modified-since", "")
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    moment = wallet_pass.updated_at
    current = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).replace(microsecond=0)
    return since >= current


def _content_key(
    settings: Settings, wallet_pass: WalletPass, now: datetime, chain: SigningChain
) -> str:
    """What decides a pass's content, as far as its record tells: the tag (every change moves
    it), where now falls in the campaign's window, the brand images and the certificates."""
    return "|".join(
        (
            str(wallet_pass.last_updated),
            wallet.time_phase(wallet_pass, now).value,
            apple.brand_images_stamp(wallet_pass.project_id, settings.data_dir),
            chain_identity(chain).hex(),
        )
    )


def _send(request: Request, wallet_pass: WalletPass, conditional: bool, body: bytes) -> Response:
    headers = {**_HEADERS, "Last-Modified": _last_modified(wallet_pass)}
    if conditional and _unchanged_since(request, wallet_pass):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=apple.MEDIA_TYPE, headers=headers)


async def _serve(
    request: Request,
    wallet_pass: WalletPass,
    conditional: bool,
    coupon: tuple[Code, Campaign] | None = None,
) -> Response:
    """The archive signed for the content the pass record describes, when one is held (a
    lookup and a copy); else the pass built from the current state and signed. A build whose
    content changed without moving the tag moves it first, so Last-Modified (and a 304)
    always describe what is sent."""
    settings: Settings = request.app.state.settings
    cache: SignedPassCache = request.app.state.signed_passes
    now = utc_now()
    chain = loaded_signing_chain(settings)
    if chain is not None:
        body = cache.held(wallet_pass.serial, _content_key(settings, wallet_pass, now, chain))
        if body is not None:
            return _send(request, wallet_pass, conditional, body)
    try:
        built = await _pass_json(settings, wallet_pass, now, coupon)
    except (Unavailable, DomainError):
        return _answer(404, "no such pass")
    if built.window is not None:
        starts_at, ends_at = built.window
        wallet_pass = await wallet.record_window(wallet_pass, starts_at=starts_at, ends_at=ends_at)
    digest = wallet.content_digest(built.pass_json)
    wallet_pass = await wallet.record_served_content(wallet_pass, digest)
    if conditional and _unchanged_since(request, wallet_pass):
        # The device has this content: nothing to sign.
        return _send(request, wallet_pass, conditional, b"")
    images = apple.pass_images(settings.template_files, wallet_pass.project_id, settings.data_dir)
    # Loaded once per process; the first load reads files, so off the event loop.
    if chain is None:
        chain = await asyncio.to_thread(signing_chain, settings)
    body = await cache.pkpass(
        serial=wallet_pass.serial,
        pass_json=built.pass_json,
        images=images,
        chain=chain,
        content_key=_content_key(settings, wallet_pass, now, chain),
    )
    return _send(request, wallet_pass, conditional, body)


# Downloads of concurrent requests find their passes in one read (domain/batches.py).
_passes_by_code = ValueReads(WalletPass.get_pymongo_collection, "code", MAX_SAME_CODE)


async def _linked_pass(request: Request, raw: str, token: str) -> WalletPass | None:
    """The pass of the code a link names, found by the code alone: the link's token says which
    project's pass it opens (codes are unique per project only)."""
    settings: Settings = request.app.state.settings
    normalized = codes.normalize_code(raw)
    if not normalized or len(normalized) > codes.MAX_CODE_LENGTH:
        return None
    for document in await _passes_by_code.find(normalized):
        if links.check_pass_link_token(
            settings.secret_key, document["project_id"], normalized, token
        ):
            return WalletPass.model_validate(document)
    return None


async def download_code_pass(request: Request) -> Response:
    """`GET /passes/apple/{code}.pkpass?token=`: the code's coupon pass. A link whose pass
    exists reads the pass record alone when the archive for its content is held."""
    raw, token = request.path_params["code"], request.query_params.get("token", "")
    if token and not request.headers.get("authorization"):
        linked = await _linked_pass(request, raw, token)
        if linked is not None:
            return await _serve(request, linked, conditional=False)
    caller = await authenticate(bearer_token(request))
    code, exists = await code_in_path(request, raw, caller)
    if code is None:
        return _answer(403 if exists else 404, "no such code" if not exists else "forbidden")
    try:
        campaign = await _campaign(code.project_id, code.campaign_id)
    except (Unavailable, DomainError):
        return _answer(404, "no such code")
    wallet_pass = await wallet.ensure_pass(
        code.project_id,
        PassKind.COUPON,
        campaign_id=campaign.key,
        code=code.code,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
    )
    return await _serve(request, wallet_pass, conditional=False, coupon=(code, campaign))


async def download_card_pass(request: Request) -> Response:
    """`GET /passes/apple/cards/{cardId}.pkpass?token=`: the loyalty card's store card."""
    card = await card_in_path(request)
    if card is None:
        return _answer(404, "no such card")
    caller = await authenticate(bearer_token(request))
    subject = links.card_pass_subject(card.key)
    if not may_open(request, caller, card.project_id, subject, card.customer_id):
        return _answer(403, "forbidden")
    wallet_pass = await wallet.ensure_pass(
        card.project_id,
        PassKind.STORE_CARD,
        campaign_id=card.campaign_id,
        card_id=card.key,
        customer_id=card.customer_id,
    )
    return await _serve(request, wallet_pass, conditional=False)


# --- the PassKit web service -------------------------------------------------------------


def _authorized(request: Request, wallet_pass: WalletPass) -> bool:
    settings: Settings = request.app.state.settings
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme == "ApplePass" and wallet.check_authentication_token(
        settings.secret_key, wallet_pass.serial, token.strip()
    )


async def _authorized_pass(request: Request) -> WalletPass | Response:
    """The pass named by the path, when the request carries its token; 401 otherwise (an
    unknown serial answers 401 too, so serials cannot be probed)."""
    settings: Settings = request.app.state.settings
    if request.path_params["pass_type_id"] != settings.apple_pass_type_id:
        return _answer(401)
    wallet_pass = await wallet.pass_by_serial(request.path_params["serial"])
    if wallet_pass is None or not _authorized(request, wallet_pass):
        return _answer(401)
    return wallet_pass


async def register_device(request: Request) -> Response:
    found = await _authorized_pass(request)
    if isinstance(found, Response):
        return found
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _answer(400, "the body is not JSON")
    push_token = body.get("pushToken") if isinstance(body, dict) else None
    device = request.path_params["device_id"]
    if (
        not isinstance(push_token, str)
        or not push_token
        or len(push_token) > MAX_PUSH_TOKEN
        or len(device) > MAX_DEVICE_ID
    ):
        return _answer(400, "pushToken is required")
    created = await wallet.register_device(
        found, device, request.path_params["pass_type_id"], push_token
    )
    return _answer(201 if created else 200)


async def unregister_device(request: Request) -> Response:
    found = await _authorized_pass(request)
    if isinstance(found, Response):
        return found
    await wallet.unregister_device(
        found, request.path_params["device_id"], request.path_params["pass_type_id"]
    )
    return _answer(200)


async def updated_serials(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if request.path_params["pass_type_id"] != settings.apple_pass_type_id:
        return _answer(204)
    raw_since = request.query_params.get("passesUpdatedSince", "")
    since = int(raw_since) if raw_since.isdigit() else None
    serials, last = await wallet.serials_updated_since(
        request.path_params["device_id"], request.path_params["pass_type_id"], since
    )
    if not serials:
        return Response(status_code=204, headers=_HEADERS)
    return JSONResponse({"serialNumbers": serials, "lastUpdated": str(last)}, headers=_HEADERS)


async def latest_pass(request: Request) -> Response:
    found = await _authorized_pass(request)
    if isinstance(found, Response):
        return found
    return await _serve(request, found, conditional=True)


async def device_log(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _answer(400, "the body is not JSON")
    lines = body.get("logs") if isinstance(body, dict) else None
    if isinstance(lines, list):
        for line in lines[: wallet.MAX_LOG_LINES]:
            # repr: a line break in a device's text cannot forge another log record.
            log.info("wallet device log: %r", str(line)[: wallet.MAX_LOG_LINE])
        await wallet.record_device_logs(lines)
    return _answer(200)


_DEVICE = "/wallet/v1/devices/{device_id}/registrations/{pass_type_id}"
routes: list[BaseRoute] = [
    Route(
        "/passes/apple/cards/{card_id}.pkpass",
        limited(PUBLIC, download_card_pass),
        methods=["GET"],
    ),
    Route("/passes/apple/{code}.pkpass", limited(PUBLIC, download_code_pass), methods=["GET"]),
    Route(_DEVICE + "/{serial}", register_device, methods=["POST"]),
    Route(_DEVICE + "/{serial}", unregister_device, methods=["DELETE"]),
    Route(_DEVICE, updated_serials, methods=["GET"]),
    Route("/wallet/v1/passes/{pass_type_id}/{serial}", latest_pass, methods=["GET"]),
    Route(
        "/wallet/v1/log",
        # Devices post a few lines of errors: a larger body is refused before it is read.
        LimitedBody(
            request_response(limited(WALLET_LOG, device_log)),
            lambda settings: settings.hook_max_body_bytes,
        ),
        methods=["POST"],
    ),
]
