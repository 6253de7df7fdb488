"""Reading redemptions: one by id, a page of them, a campaign's latest, the ones attributed to
messages."""

from typing import Any

from domain.codes import normalize_code
from domain.common import object_id
from domain.errors import NotFound
from domain.pagination import Page, paginate
from domain.redemptions.models import Redemption, RedemptionStatus


async def get_redemption(*, project_id: str, redemption_id: str) -> Redemption:
    redemption = await Redemption.find_one(
        {"_id": object_id(redemption_id, "redemption"), "project_id": project_id}
    )
    if redemption is None:
        raise NotFound("redemption")
    return redemption


async def redemptions_by_message(
    *, project_id: str, message_ids: list[str]
) -> dict[str, Redemption]:
    """The redemption attributed to each message, in one query; the first made when several
    were (a code usable more than once); messages without one are left out."""
    found = (
        await Redemption.find(
            {"project_id": project_id, "message_id": {"$in": list(dict.fromkeys(message_ids))}}
        )
        .sort("_id")
        .to_list()
    )
    first: dict[str, Redemption] = {}
    for redemption in found:
        first.setdefault(redemption.message_id, redemption)
    return first


async def list_redemptions(
    *,
    project_id: str,
    first: int,
    after: str | None,
    campaign_id: str | None = None,
    customer_id: str | None = None,
    code: str | None = None,
    code_id: str | None = None,
) -> Page[Redemption]:
    query: dict[str, Any] = {"project_id": project_id}
    if code_id:
        query["code_id"] = code_id
    if campaign_id:
        query["campaign_id"] = campaign_id
    if customer_id:
        query["customer_id"] = customer_id
    if code:
        query["code"] = normalize_code(code)
    return await paginate(Redemption, query, first, after)


async def latest_redemptions(*, project_id: str, campaign_id: str, limit: int) -> list[Redemption]:
    """The campaign's most recent redemptions, newest first (PENDING claims left out)."""
    return (
        await Redemption.find(
            {
                "project_id": project_id,
                "campaign_id": campaign_id,
                "status": {
                    "$in": [RedemptionStatus.SUCCEEDED.value, RedemptionStatus.ROLLED_BACK.value]
                },
            }
        )
        .sort("-_id")
        .limit(limit)
        .to_list()
    )
