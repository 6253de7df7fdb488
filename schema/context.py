"""Per-request GraphQL context: the caller, its project and the request's DataLoaders."""

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from domain.automation import (
    ActionStatus,
    AutomationStats,
    ScheduledAction,
    automations_stats,
    scheduled_action_pages,
)
from domain.callers import Caller
from domain.campaigns import Campaign, campaigns_by_id
from domain.customers import Customer, customers_by_id
from domain.errors import DomainError, NotFound
from domain.experiments import Experiment
from domain.experiments.results import ExperimentResults, experiments_results
from domain.loyalty import (
    Expiring,
    LedgerEntry,
    LoyaltyCard,
    expiring_soon_by_card,
    ledger_pages,
)
from domain.pagination import Page
from domain.redemptions import Redemption, redemptions_by_message
from domain.segments import Segment, segment_samples, segment_sizes
from domain.snapshots import Snapshots
from schema.config import SchemaSettings

K = TypeVar("K")
V = TypeVar("V")
P = TypeVar("P")
A = TypeVar("A", bound=Hashable)

# A page of a list under each parent: (first, after), and the status for scheduled actions.
PageArguments = tuple[int, str | None]
ActionPageArguments = tuple[ActionStatus | None, int, str | None]


def in_order(
    keys: list[K], key_of: Callable[[K], str], found: Mapping[str, V], missing: V
) -> list[V]:
    """A DataLoader answer: the value found for each key, in the keys' order."""
    return [found.get(key_of(key), missing) for key in keys]


async def by_arguments(
    keys: list[tuple[P, A]],
    load: Callable[[list[P], A], Awaitable[Mapping[str, V]]],
    key_of: Callable[[P], str],
) -> list[V | BaseException]:
    """Keys of (parent, field arguments): one load per distinct arguments. Arguments refused
    (a bad `first` or cursor) fail only the fields that carried them."""
    groups: dict[A, list[P]] = {}
    for parent, arguments in keys:
        groups.setdefault(arguments, []).append(parent)
    answers: dict[A, Mapping[str, V] | DomainError] = {}
    for arguments, parents in groups.items():
        try:
            answers[arguments] = await load(parents, arguments)
        except DomainError as refused:
            answers[arguments] = refused
    results: list[V | BaseException] = []
    for parent, arguments in keys:
        answer = answers[arguments]
        results.append(answer if isinstance(answer, DomainError) else answer[key_of(parent)])
    return results


def _same(key: str) -> str:
    return key


@dataclass
class Loaders:
    """One set per request; every batch is one query filtered on the caller's project."""

    project_id: str

    # Made when first used: a request uses one or two of them. Batching only, no cache:
    # mutation fields run one after another in a request, and a cached answer would hide
    # what the one before changed.
    @cached_property
    def customer(self) -> DataLoader[str, Customer | None]:
        return DataLoader(load_fn=self._customers, cache=False)

    @cached_property
    def campaign(self) -> DataLoader[str, Campaign | None]:
        return DataLoader(load_fn=self._campaigns, cache=False)

    # Keyed by message id: the redemption attributed to the message.
    @cached_property
    def message_redemption(self) -> DataLoader[str, Redemption | None]:
        return DataLoader(load_fn=self._message_redemptions, cache=False)

    @cached_property
    def segment_size(self) -> DataLoader[Segment, int]:
        return DataLoader(load_fn=self._segment_sizes, cache=False)

    # Keyed by segment and the sample's `first`.
    @cached_property
    def segment_sample(self) -> DataLoader[tuple[Segment, int], list[Customer]]:
        return DataLoader(load_fn=self._segment_samples, cache=False)

    @cached_property
    def automation_stats(self) -> DataLoader[str, AutomationStats]:
        return DataLoader(load_fn=self._automation_stats, cache=False)

    @cached_property
    def experiment_results(self) -> DataLoader[Experiment, ExperimentResults]:
        return DataLoader(load_fn=self._experiment_results, cache=False)

    # Stored cards only: one not stored yet has nothing to expire.
    @cached_property
    def expiring_points(self) -> DataLoader[LoyaltyCard, list[Expiring]]:
        return DataLoader(load_fn=self._expiring_points, cache=False)

    @cached_property
    def ledger(self) -> DataLoader[tuple[LoyaltyCard, PageArguments], Page[LedgerEntry]]:
        return DataLoader(load_fn=self._ledgers, cache=False)

    @cached_property
    def scheduled_actions(
        self,
    ) -> DataLoader[tuple[str, ActionPageArguments], Page[ScheduledAction]]:
        return DataLoader(load_fn=self._scheduled_actions, cache=False)

    async def _customers(self, ids: list[str]) -> list[Customer | None]:
        return in_order(ids, _same, await customers_by_id(self.project_id, ids), None)

    async def _campaigns(self, ids: list[str]) -> list[Campaign | None]:
        return in_order(
            ids, _same, await campaigns_by_id(project_id=self.project_id, campaign_ids=ids), None
        )

    async def _message_redemptions(self, message_ids: list[str]) -> list[Redemption | None]:
        found = await redemptions_by_message(project_id=self.project_id, message_ids=message_ids)
        return in_order(message_ids, _same, found, None)

    async def _segment_sizes(self, segments: list[Segment]) -> list[int]:
        found = await segment_sizes(project_id=self.project_id, segments=segments)
        return in_order(segments, lambda segment: segment.key, found, 0)

    async def _segment_samples(
        self, keys: list[tuple[Segment, int]]
    ) -> list[list[Customer] | BaseException]:
        async def load(segments: list[Segment], first: int) -> Mapping[str, Any]:
            return await segment_samples(project_id=self.project_id, segments=segments, first=first)

        return await by_arguments(keys, load, lambda segment: segment.key)

    async def _automation_stats(self, ids: list[str]) -> list[AutomationStats]:
        found = await automations_stats(project_id=self.project_id, automation_ids=ids)
        return in_order(ids, _same, found, AutomationStats())

    async def _experiment_results(
        self, experiments: list[Experiment]
    ) -> list[ExperimentResults | BaseException]:
        found = await experiments_results(project_id=self.project_id, experiments=experiments)
        # Left out: an experiment whose campaign cannot be found, refused as when alone.
        return [found.get(e.key) or NotFound("campaign", "campaignId") for e in experiments]

    async def _expiring_points(self, cards: list[LoyaltyCard]) -> list[list[Expiring]]:
        found = await expiring_soon_by_card(project_id=self.project_id, cards=cards)
        return [found.get(card.key, []) for card in cards]

    async def _ledgers(
        self, keys: list[tuple[LoyaltyCard, PageArguments]]
    ) -> list[Page[LedgerEntry] | BaseException]:
        async def load(cards: list[LoyaltyCard], page: PageArguments) -> Mapping[str, Any]:
            first, after = page
            return await ledger_pages(
                project_id=self.project_id, cards=cards, first=first, after=after
            )

        return await by_arguments(keys, load, lambda card: card.key)

    async def _scheduled_actions(
        self, keys: list[tuple[str, ActionPageArguments]]
    ) -> list[Page[ScheduledAction] | BaseException]:
        async def load(ids: list[str], page: ActionPageArguments) -> Mapping[str, Any]:
            status, first, after = page
            return await scheduled_action_pages(
                project_id=self.project_id,
                automation_ids=ids,
                status=status,
                first=first,
                after=after,
            )

        return await by_arguments(keys, load, _same)


@dataclass
class Context:
    request: Request
    response: Response | None
    caller: Caller
    settings: SchemaSettings
    loaders: Loaders
    # The app's short-lived copies of keys and campaigns; changes made here forget them.
    snapshots: Snapshots
    # Who is counted by the per-address guessing limits (api.client_address).
    client_address: str = ""

    @property
    def project_id(self) -> str:
        return self.caller.project_id


Info = StrawberryInfo[Context, Any]
