"""Google Wallet offer and loyalty classes and objects, as the walletobjects API wants them."""

import re
from datetime import UTC, datetime
from typing import Any

from domain import codes
from domain.campaigns import Campaign, CampaignStatus
from domain.codes import Code, CodeStatus
from domain.common import utc_now
from domain.customers import Customer
from domain.loyalty import LoyaltyCard
from domain.projects import Project

OFFER_OBJECT = "offerObject"
LOYALTY_OBJECT = "loyaltyObject"
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def _id(issuer_id: str, suffix: str) -> str:
    return f"{issuer_id}.{_SAFE_ID.sub('_', suffix)}"


def offer_class_id(*, issuer_id: str, campaign: Campaign) -> str:
    return _id(issuer_id, f"offer-{campaign.key}")


def offer_object_id(*, issuer_id: str, code: Code) -> str:
    return _id(issuer_id, f"code-{code.id}")


def loyalty_class_id(*, issuer_id: str, campaign: Campaign) -> str:
    return _id(issuer_id, f"program-{campaign.key}")


def loyalty_object_id(*, issuer_id: str, card: LoyaltyCard) -> str:
    return _id(issuer_id, f"card-{card.key}")


def _compact(value: Any) -> Any:
    """Drops None, empty strings, empty dicts: Google refuses or mis-shows them."""
    if isinstance(value, dict):
        kept = {key: _compact(inner) for key, inner in value.items()}
        return {key: inner for key, inner in kept.items() if inner not in (None, "", {})}
    if isinstance(value, list):
        return [_compact(inner) for inner in value if inner not in (None, "", {})]
    return value


def _hex_color(value: str) -> str | None:
    if not _HEX.match(value):
        return None
    if len(value) == 4:
        value = "#" + "".join(digit * 2 for digit in value[1:])
    return value.lower()


def _image(uri: str) -> dict[str, Any] | None:
    if not uri.startswith("https://") and not uri.startswith("http://"):
        return None
    return {"sourceUri": {"uri": uri}}


def _brand_name(project: Project) -> str:
    return project.brand.name or project.name


def _logo_url(project: Project) -> str:
    logo = project.brand.logo_url
    return logo if logo.startswith("https://") else ""


def _date(moment: datetime) -> dict[str, str]:
    return {"date": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def offer_class(*, issuer_id: str, campaign: Campaign, project: Project) -> dict[str, Any]:
    name = _brand_name(project)
    data: dict[str, Any] = {
        "id": offer_class_id(issuer_id=issuer_id, campaign=campaign),
        "issuerName": name,
        "provider": name,
        "title": codes.offer_text(campaign.discount) or campaign.name,
        # Campaigns do not say where they are redeemed, and codes work at tills and online.
        "redemptionChannel": "BOTH",
        "reviewStatus": "UNDER_REVIEW",
        "hexBackgroundColor": _hex_color(project.brand.primary_color),
        "titleImage": _image(_logo_url(project)),
        "details": campaign.description,
        "finePrint": campaign.terms,
        "homepageUri": {"uri": project.brand.shop_url},
    }
    return _compact(data)


def offer_state(*, code: Code, campaign: Campaign, now: datetime | None = None) -> str:
    status = codes.code_status(code, campaign, now or utc_now())
    if status == CodeStatus.REDEEMED:
        return "COMPLETED"
    if status == CodeStatus.EXPIRED:
        return "EXPIRED"
    if status == CodeStatus.PAUSED:
        return "INACTIVE"
    # Not started yet: shown as active, and validTimeInterval says from when.
    return "ACTIVE"


def offer_object(
    *,
    issuer_id: str,
    code: Code,
    campaign: Campaign,
    coupon_url: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """`coupon_url` adds a link to the coupon page; leave it out for a shorter object."""
    interval: dict[str, Any] = {}
    if campaign.starts_at is not None:
        interval["start"] = _date(campaign.starts_at)
    if campaign.ends_at is not None:
        interval["end"] = _date(campaign.ends_at)
    data = {
        "id": offer_object_id(issuer_id=issuer_id, code=code),
        "classId": offer_class_id(issuer_id=issuer_id, campaign=campaign),
        "state": offer_state(code=code, campaign=campaign, now=now),
        "barcode": {
            "type": "QR_CODE",
            "value": code.code,
            "alternateText": code.display or code.code,
        },
        "validTimeInterval": interval,
    }
    if coupon_url:
        data["linksModuleData"] = {
            "uris": [{"id": "coupon", "uri": coupon_url, "description": "Coupon page"}]
        }
    return _compact(data)


def default_logo_url(*, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/passes/google/logo.png"


def loyalty_class(
    *, issuer_id: str, campaign: Campaign, project: Project, base_url: str
) -> dict[str, Any]:
    name = _brand_name(project)
    return _compact(
        {
            "id": loyalty_class_id(issuer_id=issuer_id, campaign=campaign),
            "issuerName": name,
            "programName": campaign.name,
            # Required: the brand's logo, else the service's default.
            "programLogo": _image(_logo_url(project) or default_logo_url(base_url=base_url)),
            "reviewStatus": "UNDER_REVIEW",
            "hexBackgroundColor": _hex_color(project.brand.primary_color),
            "accountIdLabel": "Member",
        }
    )


def loyalty_state(*, campaign: Campaign, now: datetime | None = None) -> str:
    if campaign.status == CampaignStatus.ENDED or (
        campaign.ends_at is not None and (now or utc_now()) >= campaign.ends_at
    ):
        return "EXPIRED"
    if campaign.status == CampaignStatus.PAUSED:
        return "INACTIVE"
    return "ACTIVE"


def loyalty_points(*, card: LoyaltyCard) -> dict[str, Any]:
    return {"label": "Points", "balance": {"int": card.balance}}


def tier_modules(*, card: LoyaltyCard) -> list[dict[str, str]]:
    """The tier as a text module; an empty list clears it from a saved pass."""
    return [{"id": "tier", "header": "Tier", "body": card.tier}] if card.tier else []


def loyalty_object(
    *,
    issuer_id: str,
    card: LoyaltyCard,
    campaign: Campaign,
    customer: Customer | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    member_id = card.customer_id
    return _compact(
        {
            "id": loyalty_object_id(issuer_id=issuer_id, card=card),
            "classId": loyalty_class_id(issuer_id=issuer_id, campaign=campaign),
            "state": loyalty_state(campaign=campaign, now=now),
            "accountId": member_id,
            "accountName": customer.name if customer is not None and not customer.erased else "",
            "loyaltyPoints": loyalty_points(card=card),
            "barcode": {"type": "QR_CODE", "value": member_id, "alternateText": member_id},
            "textModulesData": tier_modules(card=card) or None,
        }
    )
