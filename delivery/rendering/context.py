"""The context a message renders with: what a batch shares, and each customer's own."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from delivery.rendering.compile import CompiledTemplate
from delivery.rendering.variables import (
    Attributes,
    BrandVars,
    CampaignVars,
    CodeVars,
    CustomerVars,
    LoyaltyVars,
    OfferVars,
    ProjectVars,
    WalletVars,
)
from domain import links
from domain.campaigns import Campaign, CampaignKind
from domain.codes import Code, coupon_url, offer_text, uses_left
from domain.customers import Customer
from domain.loyalty import LoyaltyCard
from domain.messages import MessageChannel
from domain.projects import Brand, Project
from domain.referrals import ReferralCode, referral_url

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
DEFAULT_BRAND = Brand()


def brand_color(*, value: str, default: str) -> str:
    """The brand's color when it is a CSS hex color, else the default."""
    return value if _COLOR.match(value) else default


def _local_time(moment: datetime | None, timezone: str) -> str:
    """Short enough for an SMS: "31 Dec 2025, 23:59 CET"."""
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or timezone}"


@dataclass(frozen=True)
class ContextPrefix:
    """What every message of a project (and campaign) shares: built once per batch."""

    base_url: str
    secret_key: str
    project_id: str
    brand: BrandVars
    project: ProjectVars
    campaign_id: str
    campaign: CampaignVars
    offer: OfferVars
    campaign_doc: Campaign | None


_NO_CAMPAIGN = CampaignVars(name="", description="", terms="", expires_at="")
_NO_OFFER = OfferVars(text="", campaign="")
_NO_CODE = CodeVars(code="", display="", url="", expires_at="", uses_left="")
_NO_WALLET = WalletVars(apple_url="", google_url="")
_NO_LOYALTY = LoyaltyVars(points=0, tier="")


def _campaign_vars(campaign: Campaign | None) -> tuple[CampaignVars, OfferVars]:
    if campaign is None:
        return _NO_CAMPAIGN, _NO_OFFER
    expires = _local_time(campaign.ends_at, campaign.timezone)
    return (
        CampaignVars(
            name=campaign.name,
            description=campaign.description,
            terms=campaign.terms,
            expires_at=expires,
        ),
        OfferVars(text=offer_text(campaign.discount), campaign=campaign.name),
    )


def context_prefix(
    *, base_url: str, secret_key: str, project: Project, campaign: Campaign | None = None
) -> ContextPrefix:
    brand = project.brand
    campaign_vars, offer = _campaign_vars(campaign)
    return ContextPrefix(
        base_url=base_url.rstrip("/"),
        secret_key=secret_key,
        project_id=project.key,
        brand=BrandVars(
            name=brand.name or project.name,
            primary_color=brand_color(
                value=brand.primary_color, default=DEFAULT_BRAND.primary_color
            ),
            accent_color=brand_color(value=brand.accent_color, default=DEFAULT_BRAND.accent_color),
            logo_url=brand.logo_url if brand.logo_url.startswith("https://") else "",
            shop_url=brand.shop_url,
        ),
        project=ProjectVars(name=project.name),
        campaign_id=campaign.key if campaign is not None else "",
        campaign=campaign_vars,
        offer=offer,
        campaign_doc=campaign,
    )


def _customer_vars(customer: Customer) -> CustomerVars:
    name = customer.name.strip()
    return CustomerVars(
        name=name,
        first_name=name.split()[0] if name else "",
        email=customer.email or "",
        phone=customer.phone or "",
        attributes=Attributes(customer.attributes),
    )


def message_context(
    *,
    prefix: ContextPrefix,
    channel: MessageChannel,
    customer: Customer,
    code: Code | None,
    campaign: Campaign | None = None,
    referral_link: str = "",
    loyalty: LoyaltyCard | None = None,
) -> dict[str, Any]:
    """One message's variables. `campaign` is the code's campaign (or, without a code, the
    campaign the message is about) when it is not the prefix's."""
    source = campaign if campaign is not None else prefix.campaign_doc
    if source is not None and source.key == prefix.campaign_id:
        campaign_vars, offer = prefix.campaign, prefix.offer
    else:
        campaign_vars, offer = _campaign_vars(source)
    code_vars, wallet = _NO_CODE, _NO_WALLET
    if code is not None:
        if source is None or source.key != code.campaign_id:
            raise ValueError("message_context needs the code's campaign")
        left = uses_left(code, source)
        code_vars = CodeVars(
            code=code.code,
            display=code.display or code.code,
            url=coupon_url(prefix.base_url, code),
            expires_at=campaign_vars.expires_at,
            uses_left="" if left is None else str(left),
        )
        wallet = WalletVars(
            apple_url=links.apple_wallet_url(
                prefix.base_url, prefix.secret_key, prefix.project_id, code.code
            ),
            google_url=links.google_wallet_url(
                prefix.base_url, prefix.secret_key, prefix.project_id, code.code
            ),
        )
    return {
        "customer": _customer_vars(customer),
        "code": code_vars,
        "offer": offer,
        "campaign": campaign_vars,
        "wallet": wallet,
        "referral_link": referral_link,
        "loyalty": _NO_LOYALTY
        if loyalty is None
        else LoyaltyVars(points=loyalty.balance, tier=loyalty.tier),
        "unsubscribe_url": links.unsubscribe_url(
            prefix.base_url, prefix.secret_key, prefix.project_id, customer.key, channel
        ),
        "brand": prefix.brand,
        "project": prefix.project,
    }


async def customer_extras(
    *,
    template: CompiledTemplate,
    prefix: ContextPrefix,
    customer_id: str,
    campaign: Campaign | None = None,
) -> tuple[str, LoyaltyCard | None]:
    """The referral link and loyalty card, read only when the template uses them. A referral or
    loyalty campaign picks its own link or card; otherwise the newest link, the oldest card."""
    link, card = "", None
    owner = {"project_id": prefix.project_id}
    if "referral_link" in template.uses:
        query = {**owner, "referrer_id": customer_id}
        if campaign is not None and campaign.kind == CampaignKind.REFERRAL:
            query["campaign_id"] = campaign.key
        found = await ReferralCode.find(query).sort("-created_at").limit(1).to_list()
        link = referral_url(base_url=prefix.base_url, code=found[0]) if found else ""
    if "loyalty" in template.uses:
        query = {**owner, "customer_id": customer_id}
        if campaign is not None and campaign.kind == CampaignKind.LOYALTY:
            query["campaign_id"] = campaign.key
        cards = await LoyaltyCard.find(query).sort("created_at").limit(1).to_list()
        card = cards[0] if cards else None
    return link, card
