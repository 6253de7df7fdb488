"""Per-request GraphQL context: the caller, its project and the request's DataLoaders."""

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from domain.callers import Caller
from domain.customers import Customer
from schema.config import SchemaSettings


@dataclass
class Loaders:
    project_id: str
    customer: DataLoader[str, Customer | None] = field(init=False)

    def __post_init__(self) -> None:
        self.customer = DataLoader(load_fn=self._load_customers)

    async def _load_customers(self, keys: list[str]) -> list[Customer | None]:
        from bson import ObjectId

        ids = [ObjectId(k) for k in keys if ObjectId.is_valid(k)]
        found = await Customer.find({"_id": {"$in": ids}, "project_id": self.project_id}).to_list()
        by_id = {str(c.id): c for c in found}
        return [by_id.get(k) for k in keys]


@dataclass
class Context:
    request: Request
    response: Response | None
    caller: Caller
    settings: SchemaSettings
    loaders: Loaders
    # Who is counted by the per-address guessing limits (api.client_address).
    client_address: str = ""

    @property
    def project_id(self) -> str:
        return self.caller.project_id


Info = StrawberryInfo[Context, Any]
