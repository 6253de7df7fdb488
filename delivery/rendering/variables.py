"""The variables a template sees, as frozen slotted classes."""

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# The variables a template sees. Frozen slotted classes: fast attribute access, nothing to
# mutate, and no attribute a sandboxed template could use to reach Python internals.


class Attributes:
    """A customer's attributes as strings; an attribute the customer lacks reads as ""."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    def __getitem__(self, name: object) -> str:
        return self.get(str(name))

    def __contains__(self, name: object) -> bool:
        return str(name) in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._raw))

    def __str__(self) -> str:
        return ""

    def get(self, name: str, default: str = "") -> str:
        if name not in self._raw:
            return default
        return _as_text(self._raw[name])


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class CustomerVars:
    name: str
    first_name: str
    email: str
    phone: str
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class CodeVars:
    code: str
    display: str
    url: str
    # "" when the campaign has no end, or no per-code limit.
    expires_at: str
    uses_left: str


@dataclass(frozen=True, slots=True)
class OfferVars:
    text: str
    campaign: str


@dataclass(frozen=True, slots=True)
class CampaignVars:
    name: str
    description: str
    terms: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class WalletVars:
    apple_url: str
    google_url: str


@dataclass(frozen=True, slots=True)
class LoyaltyVars:
    points: int
    tier: str


@dataclass(frozen=True, slots=True)
class BrandVars:
    name: str
    primary_color: str
    accent_color: str
    logo_url: str
    shop_url: str


@dataclass(frozen=True, slots=True)
class ProjectVars:
    name: str


def _fields(kind: type) -> frozenset[str]:
    return frozenset(field.name for field in dataclasses.fields(kind))


# The fields of each variable class, by class: the sandbox reads these without its generic checks.
PLAIN_FIELDS: dict[type, frozenset[str]] = {
    kind: _fields(kind)
    for kind in (
        CustomerVars,
        CodeVars,
        OfferVars,
        CampaignVars,
        WalletVars,
        LoyaltyVars,
        BrandVars,
        ProjectVars,
    )
}

# Every top-level variable, with the fields a template may read (None: a plain string).
VARIABLES: dict[str, frozenset[str] | None] = {
    "customer": _fields(CustomerVars),
    "code": _fields(CodeVars),
    "offer": _fields(OfferVars),
    "campaign": _fields(CampaignVars),
    "wallet": _fields(WalletVars),
    "loyalty": _fields(LoyaltyVars),
    "brand": _fields(BrandVars),
    "project": _fields(ProjectVars),
    "referral_link": None,
    "unsubscribe_url": None,
}
