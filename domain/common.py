"""Shared value types and helpers: time, money, ids and secrets."""

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel, field_validator

from domain.errors import CommonError, DomainError, NotFound

CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# ISO 4217 currencies whose minor unit is not the cent.
_ZERO_DIGIT_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND"}
    | {"VUV", "XAF", "XOF", "XPF"}
)
_THREE_DIGIT_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def utc_now() -> datetime:
    """Now, at the millisecond precision MongoDB stores, so a value reads back as written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Money(BaseModel):
    """Integer minor units plus an ISO 4217 currency code."""

    amount: int
    currency: str

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        value = value.upper()
        if not CURRENCY_PATTERN.match(value):
            raise ValueError("currency must be a three-letter ISO 4217 code")
        return value


def minor_unit_digits(currency: str) -> int:
    """Digits after the decimal point in the currency's major unit: 2 for EUR, 0 for JPY."""
    if currency in _ZERO_DIGIT_CURRENCIES:
        return 0
    return 3 if currency in _THREE_DIGIT_CURRENCIES else 2


def money(amount: int, currency: str, field: str = "amount") -> Money:
    """Builds Money from caller input, raising a DomainError instead of a ValidationError."""
    currency = currency.upper()
    if not CURRENCY_PATTERN.match(currency):
        raise DomainError(CommonError.INVALID_CURRENCY, "currency must be an ISO 4217 code", field)
    return Money(amount=amount, currency=currency)


def object_id(value: str, what: str, field: str = "id") -> ObjectId:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise NotFound(what, field) from None


def object_ids(values: Iterable[str]) -> list[ObjectId]:
    """The values that can be ids, as ObjectIds, without repeats; the others name no document."""
    return [ObjectId(value) for value in dict.fromkeys(values) if ObjectId.is_valid(value)]


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A random secret shown once; only its hash is stored."""
    token = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode()
    return f"{prefix}_{token}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of bytes: compare_digest refuses str with non-ASCII characters,
    and anyone can put those in a link."""
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
