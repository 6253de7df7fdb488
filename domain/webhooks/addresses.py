"""Where a webhook may point: an http(s) URL, and in production never a private address."""

import ipaddress
from urllib.parse import urlsplit

from domain.errors import DomainError
from domain.webhooks.models import WebhookError

MAX_URL = 2000
# Names that always mean this machine or its network, whatever DNS says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def is_private_ip(address: str) -> bool:
    """Loopback, private (RFC 1918, unique local), link-local, shared (CGNAT), multicast,
    reserved or unspecified: anything that is not a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def is_private_host(host: str) -> bool:
    """A literal private address, or a name that can only mean a local one."""
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return True
    return is_private_ip(name)


def check_url(raw: str, *, allow_private: bool, field: str = "url") -> str:
    """The URL as stored, or a DomainError saying what is wrong with it."""
    url = (raw or "").strip()
    if not url or len(url) > MAX_URL:
        raise DomainError(
            WebhookError.INVALID_URL, f"a webhook URL has 1 to {MAX_URL} characters", field
        )
    parts = urlsplit(url)
    try:
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError:
        host = ""
    if parts.scheme not in ("http", "https") or not host:
        raise DomainError(
            WebhookError.INVALID_URL, "a webhook URL is an http:// or https:// address", field
        )
    if parts.username or parts.password:
        raise DomainError(
            WebhookError.INVALID_URL, "a webhook URL carries no user name or password", field
        )
    if not allow_private and is_private_host(host):
        raise DomainError(
            WebhookError.PRIVATE_ADDRESS,
            "webhooks cannot go to loopback or private addresses in production",
            field,
        )
    return url
