"""Signed .pkpass archives kept in memory, one per pass, until the pass's content changes.

A repeat download is a lookup and a copy: the pass record's tag (which every change to the
content moves), the part of the content only time changes, the brand images' file stamps and
the certificates make the key the archive is found by, without building pass.json again.

Signing is the costly part of a download (an RSA signature, then a ZIP), and an unchanged pass
is downloaded again and again (the coupon page, a retry, PassKit's request 3 after a push that
changed nothing on this pass). The archive is keyed by what it signs: the manifest holds the
SHA-1 of pass.json and of every image, so the same manifest means the same files, and any
change to the code, campaign, brand, images or signing certificate gives a new version.

In memory rather than in the database: on the embedded server every command is a serialized
round trip, and reading an archive of tens of kilobytes from it costs about as much as signing
it again. Each process signs a version once, so `engage serve --workers N` signs it at most N
times; the bound is on archives held and their bytes, least recently used first out.
"""

import asyncio
import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from delivery.wallet import apple
from delivery.wallet.certificates import SigningChain

DEFAULT_MAX_ENTRIES = 2_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SignedPass:
    version: str
    body: bytes
    # What the pass record said when the content was read (its tag, what time changes, the
    # images and certificates): a download whose pass record says the same is served this.
    content_key: str = ""


def chain_identity(chain: SigningChain) -> bytes:
    """The signing and intermediate certificates: a new certificate signs every pass again."""
    return _certificate_identity(chain.certificate) + _certificate_identity(chain.wwdr)


@functools.lru_cache(maxsize=16)
def _certificate_identity(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


class SignedPassCache:
    """Archives by pass serial, each with the version it was signed for. Used from one event
    loop; the signing itself runs in a thread."""

    def __init__(
        self, *, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a signed pass cache holds at least one archive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # Archives this cache has signed since it was made: the work it exists to save.
        self.signings = 0
        self._entries: OrderedDict[str, SignedPass] = OrderedDict()
        self._bytes = 0
        # One signing per (serial, version) at a time: concurrent first downloads share it.
        self._pending: dict[tuple[str, str], asyncio.Task[bytes]] = {}

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def held(self, serial: str, content_key: str) -> bytes | None:
        """The archive signed for the pass's content as its record now describes it, without
        building pass.json; None when the record has moved on (or nothing is held)."""
        held = self._entries.get(serial)
        if held is None or not content_key or held.content_key != content_key:
            return None
        self._entries.move_to_end(serial)
        return held.body

    async def pkpass(
        self,
        *,
        serial: str,
        pass_json: bytes,
        images: dict[str, bytes],
        chain: SigningChain,
        content_key: str = "",
    ) -> bytes:
        """The signed archive of this content: from the cache when this version is held,
        else signed (once, however many ask at the same time) and kept under `content_key`."""
        files = {"pass.json": pass_json, **images}
        manifest_bytes = apple.manifest(files)
        version = hashlib.sha256(manifest_bytes + chain_identity(chain)).hexdigest()
        held = self._entries.get(serial)
        if held is not None and held.version == version:
            if content_key and held.content_key != content_key:
                # The same content under a record that moved on (a change that changed nothing).
                self._entries[serial] = SignedPass(version, held.body, content_key)
            self._entries.move_to_end(serial)
            return held.body
        key = (serial, version)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.create_task(
                self._sign(serial, version, files, manifest_bytes, chain, content_key)
            )
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: a client that disconnects does not cancel the signing others wait for.
        return await asyncio.shield(pending)

    async def _sign(
        self,
        serial: str,
        version: str,
        files: dict[str, bytes],
        manifest_bytes: bytes,
        chain: SigningChain,
        content_key: str,
    ) -> bytes:
        # CPU work (RSA, deflate): off the event loop, so other requests are not held up.
        body = await asyncio.to_thread(apple.archive, files, manifest_bytes, chain)
        self.signings += 1
        self._store(serial, SignedPass(version, body, content_key))
        return body

    def _store(self, serial: str, signed: SignedPass) -> None:
        replaced = self._entries.pop(serial, None)
        if replaced is not None:
            self._bytes -= len(replaced.body)
        if len(signed.body) > self.max_bytes:
            return
        self._entries[serial] = signed
        self._bytes += len(signed.body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.body)
