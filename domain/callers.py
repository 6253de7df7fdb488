"""Who is calling: the kind of caller (an ADMIN or POS API key, a customer) and its project."""

from dataclasses import dataclass
from enum import StrEnum


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
