"""Signed Google Wallet save links, kept under the length browsers and mail clients keep."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from delivery.config import DeliverySettings
from delivery.wallet.google.accounts import ServiceAccount, service_account
from delivery.wallet.google.objects import loyalty_class, loyalty_object, offer_class, offer_object
from domain import codes
from domain.campaigns import Campaign
from domain.codes import Code
from domain.common import utc_now
from domain.customers import Customer
from domain.loyalty import LoyaltyCard
from domain.projects import Project
from domain.wallet import PassKind, WalletPass, ensure_pass

SAVE_URL = "https://pay.google.com/gp/v/save/"
# Longer links are cut by some browsers and mail clients; Google asks to stay below this.
MAX_LINK_LENGTH = 1800


def origins(*, settings: DeliverySettings) -> list[str]:
    if settings.google_wallet_origins:
        return list(settings.google_wallet_origins)
    parts = urlsplit(settings.public_base_url)
    return [f"{parts.scheme}://{parts.netloc}"]


def _save_claims(
    account: ServiceAccount, wallet_origins: list[str], payload: dict[str, Any]
) -> bytes:
    claims = {
        "iss": account.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(utc_now().timestamp()),
        "origins": wallet_origins,
        "payload": payload,
    }
    # Compact UTF-8 JSON keeps links short: names in any script cost bytes, not \u escapes.
    return json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()


def _save_header(account: ServiceAccount) -> dict[str, str]:
    return {"alg": "RS256", "kid": account.private_key_id, "typ": "JWT"}


def sign_save_jwt(
    *, account: ServiceAccount, wallet_origins: list[str], payload: dict[str, Any]
) -> str:
    return jwt.api_jws.encode(
        _save_claims(account, wallet_origins, payload),
        account.signing_key,
        algorithm="RS256",
        headers=_save_header(account),
    )


@dataclass(frozen=True)
class SaveLink:
    url: str
    payload: dict[str, Any]
    # The class that is not inside the JWT: it must be inserted over REST before the link works.
    class_to_insert: dict[str, Any] | None


def _b64_length(size: int) -> int:
    return (size * 4 + 2) // 3


def _link_length(
    account: ServiceAccount, wallet_origins: list[str], payload: dict[str, Any]
) -> int:
    """The save link's exact length, without signing: an RS256 signature is as long as the key."""
    header = json.dumps(_save_header(account), separators=(",", ":")).encode()
    claims = _save_claims(account, wallet_origins, payload)
    signature = account.signing_key.key_size // 8
    return len(SAVE_URL) + sum(map(_b64_length, (len(header), len(claims), signature))) + 2


def _choose_link(
    account: ServiceAccount,
    wallet_origins: list[str],
    keys: tuple[str, str],
    klass: dict[str, Any],
    item: dict[str, Any],
    optional: list[tuple[str, str]],
) -> SaveLink:
    """The richest payload whose link stays under MAX_LINK_LENGTH: optional fields are dropped
    in the order given ("class" or "object", field), then the class is left out of the JWT
    (it then has to be inserted over REST before the link is followed)."""
    classes_key, objects_key = keys
    parts = {"class": dict(klass), "object": dict(item)}
    candidates: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
        ({classes_key: [dict(parts["class"])], objects_key: [dict(parts["object"])]}, None)
    ]
    for owner, field in optional:
        if field in parts[owner]:
            del parts[owner][field]
            candidates.append(
                ({classes_key: [dict(parts["class"])], objects_key: [dict(parts["object"])]}, None)
            )
    candidates.append(({objects_key: [item]}, klass))
    candidates.append(({objects_key: [parts["object"]]}, klass))
    for payload, missing_class in candidates:
        if _link_length(account, wallet_origins, payload) < MAX_LINK_LENGTH:
            url = SAVE_URL + sign_save_jwt(
                account=account, wallet_origins=wallet_origins, payload=payload
            )
            return SaveLink(url=url, payload=payload, class_to_insert=missing_class)
    raise ValueError("even the smallest Google Wallet object makes a link too long")


# Dropped first when a save link would be too long: long texts before the look of the pass.
OFFER_OPTIONAL = [
    ("class", "finePrint"),
    ("class", "details"),
    ("object", "linksModuleData"),
    ("class", "homepageUri"),
    ("class", "titleImage"),
]
LOYALTY_OPTIONAL = [("class", "accountIdLabel"), ("object", "textModulesData")]


def offer_save_link(
    *, settings: DeliverySettings, code: Code, campaign: Campaign, project: Project
) -> SaveLink:
    issuer = settings.google_issuer_id
    coupon_url = codes.coupon_url(settings.public_base_url, code)
    return _choose_link(
        service_account(settings=settings),
        origins(settings=settings),
        ("offerClasses", "offerObjects"),
        offer_class(issuer_id=issuer, campaign=campaign, project=project),
        offer_object(issuer_id=issuer, code=code, campaign=campaign, coupon_url=coupon_url),
        OFFER_OPTIONAL,
    )


def loyalty_save_link(
    *,
    settings: DeliverySettings,
    card: LoyaltyCard,
    campaign: Campaign,
    project: Project,
    customer: Customer | None,
) -> SaveLink:
    issuer = settings.google_issuer_id
    return _choose_link(
        service_account(settings=settings),
        origins(settings=settings),
        ("loyaltyClasses", "loyaltyObjects"),
        loyalty_class(
            issuer_id=issuer, campaign=campaign, project=project, base_url=settings.public_base_url
        ),
        loyalty_object(issuer_id=issuer, card=card, campaign=campaign, customer=customer),
        LOYALTY_OPTIONAL,
    )


async def mark_issued(
    *,
    project_id: str,
    kind: PassKind,
    campaign_id: str,
    wallet_object_id: str,
    code: str = "",
    card_id: str = "",
) -> WalletPass:
    """Records that a save link went out, before it does: from then on every change of the
    code or card queues a GOOGLE_UPDATE (a PATCH of an object nobody saved yet is a no-op)."""
    wallet_pass = await ensure_pass(
        project_id, kind, campaign_id=campaign_id, code=code, card_id=card_id
    )
    if not wallet_pass.google_issued or wallet_pass.google_object_id != wallet_object_id:
        await WalletPass.get_pymongo_collection().update_one(
            {"_id": wallet_pass.id},
            {"$set": {"google_issued": True, "google_object_id": wallet_object_id}},
        )
        wallet_pass.google_issued, wallet_pass.google_object_id = True, wallet_object_id
    return wallet_pass
