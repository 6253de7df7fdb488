"""Sample values of every template variable, for check renders."""

from typing import Any

from delivery.rendering.context import DEFAULT_BRAND, brand_color
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
from domain.messages import MessageChannel
from domain.projects import Brand

SAMPLE_BASE_URL = "https://engage.example.com"


class _SampleAttributes(Attributes):
    """Every attribute present with the same value, or every attribute absent."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        super().__init__({})
        self._value = value

    def __contains__(self, name: object) -> bool:
        return self._value is not None

    def get(self, name: str, default: str = "") -> str:
        return default if self._value is None else self._value


SAMPLE_PROJECT_ID = "000000000000000000000000"
SAMPLE_CUSTOMER_ID = "000000000000000000000001"


def sample_context(
    *,
    channel: MessageChannel = MessageChannel.EMAIL,
    base_url: str = SAMPLE_BASE_URL,
    secret_key: str = "sample",  # noqa: S107
    brand: Brand | None = None,
    project_name: str = "Sample Shop",
    attributes: str | None = "sample",
) -> dict[str, Any]:
    """Realistic values of every variable, for check renders. `attributes` is the value every
    attribute reads as, or None for a customer with no attributes at all."""
    base_url = base_url.rstrip("/")
    brand = brand or Brand(name=project_name)
    code = "SUMMER-7KQ2-9XZP"
    normalized = code.replace("-", "")
    return {
        "customer": CustomerVars(
            name="Alexandra Martin",
            first_name="Alexandra",
            email="alexandra.martin@example.com",
            phone="+33612345678",
            attributes=_SampleAttributes(attributes),
        ),
        "code": CodeVars(
            code=normalized,
            display=code,
            url=f"{base_url}/c/{normalized}",
            expires_at="31 Dec 2025, 23:59 CET",
            uses_left="1",
        ),
        "offer": OfferVars(text="15% off (up to €50.00)", campaign="Summer Sale"),
        "campaign": CampaignVars(
            name="Summer Sale",
            description="Fifteen percent off everything in the shop.",
            terms="One use per customer.",
            expires_at="31 Dec 2025, 23:59 CET",
        ),
        "wallet": WalletVars(
            apple_url=links.apple_wallet_url(base_url, secret_key, SAMPLE_PROJECT_ID, normalized),
            google_url=links.google_wallet_url(base_url, secret_key, SAMPLE_PROJECT_ID, normalized),
        ),
        "referral_link": f"{base_url}/r/FRIEND7KQ2",
        "loyalty": LoyaltyVars(points=1250, tier="Gold"),
        "unsubscribe_url": sample_unsubscribe_url(
            channel=channel, base_url=base_url, secret_key=secret_key
        ),
        "brand": BrandVars(
            name=brand.name or project_name,
            primary_color=brand_color(
                value=brand.primary_color, default=DEFAULT_BRAND.primary_color
            ),
            accent_color=brand_color(value=brand.accent_color, default=DEFAULT_BRAND.accent_color),
            logo_url=brand.logo_url,
            shop_url=brand.shop_url or "https://shop.example.com",
        ),
        "project": ProjectVars(name=project_name),
    }


def sample_unsubscribe_url(
    *,
    channel: MessageChannel,
    base_url: str = SAMPLE_BASE_URL,
    secret_key: str = "sample",  # noqa: S107
) -> str:
    return links.unsubscribe_url(
        base_url.rstrip("/"), secret_key, SAMPLE_PROJECT_ID, SAMPLE_CUSTOMER_ID, channel
    )
