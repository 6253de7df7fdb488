"""Secrets stored encrypted at rest: AES-GCM under a key derived from ENGAGE_SECRET_KEY."""

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

# Bumped when the scheme changes (cipher, derivation); stored with every secret.
SCHEME = "v1"
_HKDF_INFO = b"engage provider secrets v1"
_NONCE_BYTES = 12


class SecretKeyMismatch(Exception):
    """A stored secret cannot be opened with the installation's current secret key."""


class SealedSecret(BaseModel):
    """A secret as stored: ciphertext, which key sealed it, and the last four characters."""

    scheme: str = SCHEME
    # Names the derived key (not the key itself): a secret sealed under another key is
    # recognised as such instead of failing as corrupt, so the key can rotate.
    key_id: str
    # base64 of nonce + AES-GCM ciphertext and tag.
    ciphertext: str
    last4: str


def _derived_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )


def key_id(secret_key: str) -> str:
    """A short public name for the key derived from `secret_key`."""
    return hashlib.sha256(b"key id:" + _derived_key(secret_key)).hexdigest()[:12]


def last4(secret: str) -> str:
    """What the API may show of a secret: its last four characters, none of a short one."""
    return secret[-4:] if len(secret) >= 12 else ""


def seal(secret_key: str, plaintext: str, context: str) -> SealedSecret:
    """Encrypts `plaintext`; `context` (project and field) is bound to it, so a ciphertext
    copied to another project or field does not open."""
    if not secret_key:
        raise ValueError("sealing a secret needs ENGAGE_SECRET_KEY")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_derived_key(secret_key)).encrypt(nonce, plaintext.encode(), context.encode())
    return SealedSecret(
        key_id=key_id(secret_key),
        ciphertext=base64.b64encode(nonce + sealed).decode(),
        last4=last4(plaintext),
    )


def open_sealed(secret_keys: str | Sequence[str], secret: SealedSecret, context: str) -> str:
    """The plaintext, opened with whichever of `secret_keys` (the current one, then previous
    ones) sealed it; SecretKeyMismatch when none did or it does not open."""
    keys = [secret_keys] if isinstance(secret_keys, str) else [k for k in secret_keys if k]
    sealing_key = next((key for key in keys if key_id(key) == secret.key_id), None)
    if secret.scheme != SCHEME or sealing_key is None:
        known = ", ".join(key_id(key) for key in keys)
        raise SecretKeyMismatch(
            f"sealed under key {secret.key_id} ({secret.scheme}), but ENGAGE_SECRET_KEY and "
            f"ENGAGE_PREVIOUS_SECRET_KEY give keys {known}: set the secret again"
        )
    raw = base64.b64decode(secret.ciphertext)
    try:
        plain = AESGCM(_derived_key(sealing_key)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()
        )
    except InvalidTag as error:
        raise SecretKeyMismatch("the stored secret does not open: set it again") from error
    return plain.decode()
