"""Per-request GraphQL context: the caller, its project and the request's DataLoaders."""

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from api.auth import Caller
from api.settings import Settings
from domain.automation import AutomationStats, automations_stats
from domain.campaigns import Campaign, campaigns_by_id
from domain.customers import Customer, customers_by_id
from domain.loyalty import Expiring, LoyaltyCard, expiring_soon_by_card
from domain.redemptions import Redemption, redemptions_by_message
from domain.segments import Segment, segment_sizes

K = TypeVar("K")
V = TypeVar("V")


def in_order(
    keys: list[K], key_of: Callable[[K], str], found: Mapping[str, V], missing: V
) -> list[V]:
    """A DataLoader answer: the value found for each key, in the keys' order."""
    return [found.get(key_of(key), missing) for key in keys]


def _same(key: str) -> str:
    return key


def _document_key(document: Segment | LoyaltyCard) -> Hashable:
    return str(document.id)


@dataclass
class Loaders:
    """One set per request; every batch is one query filtered on the caller's project."""

    project_id: str
    customer: DataLoader[str, Customer | None] = field(init=False)
    campaign: DataLoader[str, Campaign | None] = field(init=False)
    # Keyed by message id: the redemption attributed to the message.
    message_redemption: DataLoader[str, Redemption | None] = field(init=False)
    segment_size: DataLoader[Segment, int] = field(init=False)
    automation_stats: DataLoader[str, AutomationStats] = field(init=False)
    # Stored cards only: one not stored yet has nothing to expire.
    expiring_points: DataLoader[LoyaltyCard, list[Expiring]] = field(init=False)

    def __post_init__(self) -> None:
        self.customer = DataLoader(load_fn=self._customers)
        self.campaign = DataLoader(load_fn=self._campaigns)
        self.message_redemption = DataLoader(load_fn=self._message_redemptions)
        self.segment_size = DataLoader(load_fn=self._segment_sizes, cache_key_fn=_document_key)
        self.automation_stats = DataLoader(load_fn=self._automation_stats)
        self.expiring_points = DataLoader(load_fn=self._expiring_points, cache_key_fn=_document_key)

    async def _customers(self, ids: list[str]) -> list[Customer | None]:
        return in_order(ids, _same, await customers_by_id(self.project_id, ids), None)

    async def _campaigns(self, ids: list[str]) -> list[Campaign | None]:
        return in_order(ids, _same, await campaigns_by_id(self.project_id, ids), None)

    async def _message_redemptions(self, message_ids: list[str]) -> list[Redemption | None]:
        found = await redemptions_by_message(self.project_id, message_ids)
        return in_order(message_ids, _same, found, None)

    async def _segment_sizes(self, segments: list[Segment]) -> list[int]:
        found = await segment_sizes(self.project_id, segments)
        return in_order(segments, lambda segment: segment.key, found, 0)

    async def _automation_stats(self, ids: list[str]) -> list[AutomationStats]:
        found = await automations_stats(self.project_id, ids)
        return in_order(ids, _same, found, AutomationStats())

    async def _expiring_points(self, cards: list[LoyaltyCard]) -> list[list[Expiring]]:
        found = await expiring_soon_by_card(self.project_id, cards)
        return [found.get(card.key, []) for card in cards]


@dataclass
class Context:
    request: Request
    response: Response | None
    caller: Caller
    settings: Settings
    loaders: Loaders
    # Who is counted by the per-address guessing limits (api.client_address).
    client_address: str = ""

    @property
    def project_id(self) -> str:
        return self.caller.project_id


Info = StrawberryInfo[Context, Any]
