"""Which customers a distribution reaches: its filter, its channels, and their query."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from delivery.errors import DeliveryError
from domain.customers import normalize_email
from domain.errors import CommonError, DomainError, Problem
from domain.messages import MessageChannel

DISTRIBUTION_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)


@dataclass(frozen=True)
class DistributionFilter:
    """Which customers a distribution reaches; erased customers never are."""

    # Customers having every one of these tags.
    tags: tuple[str, ...] = ()
    email: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # Only customers who consented to at least one of the distribution's channels; otherwise
    # those who did not get a SUPPRESSED message, recorded but never sent.
    consented: bool = False

    def to_params(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "email": self.email or "",
            "created_after": self.created_after,
            "created_before": self.created_before,
            "consented": self.consented,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "DistributionFilter":
        return cls(
            tags=tuple(params.get("tags") or ()),
            email=params.get("email") or None,
            created_after=aware(moment=params.get("created_after")),
            created_before=aware(moment=params.get("created_before")),
            consented=bool(params.get("consented")),
        )


def aware(*, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def checked_filter(*, where: DistributionFilter) -> DistributionFilter:
    problems: list[Problem] = []
    tags = tuple(sorted({tag.strip().lower() for tag in where.tags if tag.strip()}))
    email = where.email
    if email is not None and email.strip():
        try:
            email = normalize_email(email)
        except DomainError as error:
            problems.extend(Problem(p.code, p.message, "filter.email") for p in error.problems)
    else:
        email = None
    after, before = aware(moment=where.created_after), aware(moment=where.created_before)
    if after is not None and before is not None and after >= before:
        problems.append(
            Problem(
                CommonError.INVALID,
                "createdAfter must be before createdBefore",
                "filter.createdAfter",
            )
        )
    if problems:
        raise DomainError.of(problems)
    return DistributionFilter(
        tags=tags,
        email=email,
        created_after=after,
        created_before=before,
        consented=where.consented,
    )


def checked_channels(*, channels: Sequence[MessageChannel]) -> list[MessageChannel]:
    distinct = list(dict.fromkeys(channels))
    if (
        not 1 <= len(channels) <= len(DISTRIBUTION_CHANNELS)
        or len(distinct) != len(channels)
        or any(channel not in DISTRIBUTION_CHANNELS for channel in distinct)
    ):
        raise DomainError(
            DeliveryError.INVALID_CHANNELS, "give EMAIL, SMS or both, each once", "channels"
        )
    return distinct


def audience_match(
    *, project_id: str, where: DistributionFilter, channels: Sequence[MessageChannel]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The customers' query, and the consent condition apart: the embedded server drops the
    other conditions of a $match that also holds an $or."""
    query: dict[str, Any] = {"project_id": project_id, "erased": False}
    if where.email:
        query["email"] = where.email
    if where.tags:
        # $all: equality on an indexed array field finds nothing on the embedded server.
        query["tags"] = {"$all": list(where.tags)}
    created: dict[str, datetime] = {}
    if where.created_after:
        created["$gte"] = where.created_after
    if where.created_before:
        created["$lt"] = where.created_before
    if created:
        query["created_at"] = created
    if not where.consented:
        return query, None
    granted = [{f"consents.{channel.value.lower()}": True} for channel in channels]
    return query, granted[0] if len(granted) == 1 else {"$or": granted}


def all_of(query: dict[str, Any], *more: dict[str, Any] | None) -> dict[str, Any]:
    # $and: an $or beside other conditions loses them on the embedded server.
    parts = [query, *(part for part in more if part is not None)]
    return parts[0] if len(parts) == 1 else {"$and": parts}
