"""Signed links sent to customers: one-click unsubscribe and wallet pass downloads."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from domain.common import same_secret
from domain.messages import MessageChannel

# Separates the signed parts; none of them (ids, channel names) can contain it.
_SEP = "|"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret_key: str, purpose: str, payload: str) -> str:
    # The purpose is signed too, so a token made for one link never opens another.
    digest = hmac.new(secret_key.encode(), f"{purpose}{_SEP}{payload}".encode(), hashlib.sha256)
    return _b64(digest.digest()[:20])


@dataclass(frozen=True)
class Unsubscribe:
    project_id: str
    customer_id: str
    channel: MessageChannel


def unsubscribe_token(
    secret_key: str, project_id: str, customer_id: str, channel: MessageChannel
) -> str:
    payload = _SEP.join((project_id, customer_id, channel.value))
    return f"{_b64(payload.encode())}.{_mac(secret_key, 'unsubscribe', payload)}"


def read_unsubscribe_token(secret_key: str, token: str) -> Unsubscribe | None:
    """The opt-out a token stands for, or None when it was not made with this key."""
    encoded, _, signature = token.partition(".")
    try:
        payload = _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not same_secret(signature, _mac(secret_key, "unsubscribe", payload)):
        return None
    parts = payload.split(_SEP)
    if len(parts) != 3 or parts[2] not in MessageChannel.__members__:
        return None
    return Unsubscribe(parts[0], parts[1], MessageChannel(parts[2]))


def unsubscribe_url(
    base_url: str, secret_key: str, project_id: str, customer_id: str, channel: MessageChannel
) -> str:
    token = unsubscribe_token(secret_key, project_id, customer_id, channel)
    return f"{base_url}/unsubscribe/{token}"


def pass_link_token(secret_key: str, project_id: str, code: str) -> str:
    """Opens a code's wallet pass links: whoever was sent the code may add it to a wallet."""
    return _mac(secret_key, "pass", _SEP.join((project_id, code)))


def check_pass_link_token(secret_key: str, project_id: str, code: str, token: str) -> bool:
    return same_secret(token, pass_link_token(secret_key, project_id, code))


def apple_wallet_url(base_url: str, secret_key: str, project_id: str, code: str) -> str:
    token = pass_link_token(secret_key, project_id, code)
    return f"{base_url}/passes/apple/{quote(code)}.pkpass?token={token}"


def google_wallet_url(base_url: str, secret_key: str, project_id: str, code: str) -> str:
    token = pass_link_token(secret_key, project_id, code)
    return f"{base_url}/passes/google/{quote(code)}?token={token}"


def card_pass_subject(card_id: str) -> str:
    """What a loyalty card's pass link token signs: no code can contain the colon."""
    return f"card:{card_id}"


def google_card_wallet_url(base_url: str, secret_key: str, project_id: str, card_id: str) -> str:
    token = pass_link_token(secret_key, project_id, card_pass_subject(card_id))
    return f"{base_url}/passes/google/cards/{quote(card_id)}?token={token}"
