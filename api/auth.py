"""Who is calling: an API key (ADMIN or POS) or a customer token, read from the bearer header."""

from starlette.requests import Request

from domain.callers import Caller, CallerKind
from domain.customers import find_customer_token
from domain.projects import Role, find_active_key
from domain.snapshots import Snapshots

__all__ = ["Caller", "CallerKind", "authenticate", "bearer_token"]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(token: str | None, snapshots: Snapshots | None = None) -> Caller | None:
    """With `snapshots`, API keys are read through its short-lived copies (GraphQL)."""
    if not token:
        return None
    api_key = await (snapshots.active_key(token) if snapshots else find_active_key(token))
    if api_key is not None:
        kind = CallerKind.ADMIN if api_key.role == Role.ADMIN else CallerKind.POS
        return Caller(kind=kind, project_id=api_key.project_id, api_key_id=str(api_key.id))
    customer_token = await find_customer_token(token)
    if customer_token is not None:
        return Caller(
            kind=CallerKind.CUSTOMER,
            project_id=customer_token.project_id,
            customer_id=customer_token.customer_id,
        )
    return None
