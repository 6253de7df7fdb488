"""Who is calling: an API key (ADMIN or POS) or a customer token, read from the bearer header."""

from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from domain.customers import find_customer_token
from domain.projects import Role, find_active_key


class CallerKind(StrEnum):
    ADMIN = "ADMIN"
    POS = "POS"
    CUSTOMER = "CUSTOMER"


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    project_id: str
    api_key_id: str | None = None
    customer_id: str | None = None

    @property
    def actor(self) -> str:
        """How audit entries name the caller."""
        if self.api_key_id:
            return f"api_key:{self.api_key_id}"
        return f"customer:{self.customer_id}"

    @property
    def log_name(self) -> str:
        """How logs name the caller: kind, project and key or customer id, never a secret."""
        return f"{self.kind.value} project={self.project_id} {self.actor}"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(token: str | None) -> Caller | None:
    if not token:
        return None
    api_key = await find_active_key(token)
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
