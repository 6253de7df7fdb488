"""Who may open a wallet pass link: the link's own token, or the owner's customer token."""

from starlette.requests import Request

from api.settings import Settings
from domain import codes, links
from domain.callers import Caller, CallerKind
from domain.codes import Code
from domain.common import object_id
from domain.errors import DomainError
from domain.loyalty import LoyaltyCard

# Codes are looked up without their project; the link's token tells same-named codes apart.
MAX_SAME_CODE = 20


def owned_by_caller(caller: Caller | None, project_id: str, owner_id: str) -> bool:
    return (
        caller is not None
        and caller.kind == CallerKind.CUSTOMER
        and caller.project_id == project_id
        and bool(owner_id)
        and caller.customer_id == owner_id
    )


def may_open(
    request: Request, caller: Caller | None, project_id: str, subject: str, owner_id: str
) -> bool:
    """The link's token signed for this subject, or the bearer token of its customer."""
    settings: Settings = request.app.state.settings
    token = request.query_params.get("token", "")
    if token and links.check_pass_link_token(settings.secret_key, project_id, subject, token):
        return True
    return owned_by_caller(caller, project_id, owner_id)


async def card_in_path(request: Request) -> LoyaltyCard | None:
    """The loyalty card the path's `card_id` names, or None."""
    try:
        return await LoyaltyCard.get(object_id(request.path_params["card_id"], "card"))
    except DomainError:
        return None


async def code_in_path(
    request: Request, raw: str, caller: Caller | None
) -> tuple[Code | None, bool]:
    """The code a pass link or its customer may open, and whether any code by that name exists
    (so a refused request can answer 403 rather than 404)."""
    settings: Settings = request.app.state.settings
    if caller is not None and caller.kind == CallerKind.CUSTOMER:
        own = await codes.find_code(caller.project_id, raw)
        if own is not None and owned_by_caller(caller, own.project_id, own.customer_id):
            return own, True
    normalized = codes.normalize_code(raw)
    if not normalized or len(normalized) > codes.MAX_CODE_LENGTH:
        return None, False
    # Straight from the collection: Beanie's list parsing builds a validator per call.
    found = [
        Code.model_validate(raw)
        for raw in await Code.get_pymongo_collection()
        .find({"code": normalized})
        .limit(MAX_SAME_CODE)
        .to_list()
    ]
    token = request.query_params.get("token", "")
    for code in found:
        if token and links.check_pass_link_token(
            settings.secret_key, code.project_id, code.code, token
        ):
            return code, True
    return None, bool(found)
