"""The client's address: the socket peer, or what the operator's trusted proxies say it was."""

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection, trusted_proxy_hops: int) -> str:
    """With N trusted proxies, each appended the address it saw to X-Forwarded-For, so the
    N-th entry from the right is the one the outermost trusted proxy saw: the client. Entries
    further left are whatever the client sent, and are never read."""
    peer = connection.client.host if connection.client else ""
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [
        entry.strip()
        for header in connection.headers.getlist("x-forwarded-for")
        for entry in header.split(",")
        if entry.strip()
    ]
    if len(forwarded) < trusted_proxy_hops:
        # Fewer entries than proxies: the request did not come through them all.
        return peer
    return forwarded[-trusted_proxy_hops]
