"""Events counted per hour by aggregation, and windows cut exactly with find."""

# Every figure comes from a `$match` on plain equality fields followed by one `$group` on a key
# built in a `$project` stage (the embedded server cannot group on expressions). Events are
# bucketed per hour, and the few hundred hourly rows are folded into days and windows in Python.
#
# The embedded server (nx-27017) compares dates wrongly inside an aggregation `$match`, ignores
# `$dateToString`'s `timezone`, and runs any `$cond` or comparison a hundred times slower than a
# plain `$group`. So windows are not matched in the pipeline: rows are per UTC hour (shifted by a
# zone's odd minutes, so local midnights fall on a bucket's edge), whole hours inside the window
# are kept, and the at most two hours the window's ends cut are recounted exactly with `find`,
# whose date comparisons are right. This is the one place that works around those gaps.

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.common import as_utc

HOUR = timedelta(hours=1)


_LABEL = "%Y-%m-%dT%H"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; None for an open end."""

    start: datetime | None = None
    end: datetime | None = None

    def covers(self, bucket: datetime) -> bool:
        """Whether the whole hour starting at `bucket` lies inside."""
        return (self.start is None or self.start <= bucket) and (
            self.end is None or bucket + HOUR <= self.end
        )

    def touches(self, bucket: datetime) -> bool:
        return (self.start is None or self.start < bucket + HOUR) and (
            self.end is None or bucket < self.end
        )


@dataclass(frozen=True)
class Buckets:
    """Hourly buckets shifted by `shift` minutes, so that a zone's midnights start a bucket."""

    zone: ZoneInfo
    shift: int

    @classmethod
    def for_zone(cls, name: str, moment: datetime) -> "Buckets":
        zone = _zone(name)
        offset = as_utc(moment).astimezone(zone).utcoffset() or timedelta(0)
        return cls(zone=zone, shift=int(offset.total_seconds() // 60) % 60)

    def expression(self, time_field: str) -> dict[str, Any]:
        moment: Any = f"${time_field}"
        if self.shift:
            moment = {"$dateAdd": {"startDate": moment, "unit": "minute", "amount": self.shift}}
        return {"$dateToString": {"format": _LABEL, "date": moment}}

    def start_of(self, label: str) -> datetime:
        shifted = datetime.strptime(label, _LABEL).replace(tzinfo=UTC)
        return shifted - timedelta(minutes=self.shift)

    def bucket_of(self, moment: datetime) -> datetime:
        label = (as_utc(moment) + timedelta(minutes=self.shift)).strftime(_LABEL)
        return self.start_of(label)

    def day_of(self, bucket: datetime) -> date:
        return bucket.astimezone(self.zone).date()


@dataclass(frozen=True)
class Source:
    """Events of one kind: what to match, when each happened, what splits and what sums them."""

    collection: Any
    match: dict[str, Any]
    time_field: str
    parts: tuple[str, ...] = ()
    amount: str = ""
    # Conditions the window implies, which only narrow the pipeline's scan.
    narrowing: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    bucket: datetime
    parts: tuple[str, ...]
    count: int
    amount: int


def _dig(doc: Any, path: str) -> Any:
    for name in path.split("."):
        doc = doc.get(name) if isinstance(doc, dict) else None
    return doc


def _text(value: Any) -> str:
    return "" if value is None else str(value)


async def _grouped_rows(source: Source, buckets: Buckets) -> list[Row]:
    key: list[Any] = [buckets.expression(source.time_field)]
    for part in source.parts:
        key += ["|", {"$ifNull": [f"${part}", ""]}]
    projected: dict[str, Any] = {"_id": 0, "k": {"$concat": key}}
    sums: dict[str, Any] = {"n": {"$sum": 1}}
    if source.amount:
        projected["a"] = f"${source.amount}"
        sums["a"] = {"$sum": "$a"}
    cursor = await source.collection.aggregate(
        [
            {"$match": {**source.match, **source.narrowing}},
            {"$project": projected},
            {"$group": {"_id": "$k", **sums}},
        ]
    )
    rows = []
    async for row in cursor:
        if not isinstance(row["_id"], str):
            continue  # the event has no time (a message never sent): nothing to bucket
        label, *parts = row["_id"].split("|")
        rows.append(
            Row(buckets.start_of(label), tuple(parts), int(row["n"]), int(row.get("a") or 0))
        )
    return rows


def _equalities(match: dict[str, Any]) -> list[dict[str, Any]]:
    """The match as plain equalities, one query per `$in` value: the embedded server scans a
    `find` with `$in` beside a date range in Python, twenty times slower. Every `$in` here is
    on a scalar field or has one value (an array field), so no document matches twice."""
    queries: list[dict[str, Any]] = [{}]
    for name, wanted in match.items():
        values = wanted["$in"] if isinstance(wanted, dict) and "$in" in wanted else [wanted]
        queries = [{**query, name: value} for query in queries for value in values]
    return queries


async def _exact_rows(
    source: Source, buckets: Buckets, start: datetime, end: datetime
) -> list[Row]:
    """The events of one cut hour, read with find: bounded by an hour's events."""
    # Whole top-level fields: the embedded server leaves dotted projections out.
    paths = [source.time_field, *source.parts, *([source.amount] if source.amount else [])]
    fields = {path.split(".")[0]: 1 for path in paths}
    totals: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for match in _equalities(source.match):
        query = {**match, source.time_field: {"$gte": start, "$lt": end}}
        async for doc in source.collection.find(query, fields):
            parts = tuple(_text(_dig(doc, part)) for part in source.parts)
            totals[parts][0] += 1
            totals[parts][1] += int(_dig(doc, source.amount) or 0) if source.amount else 0
    bucket = buckets.bucket_of(start)
    return [Row(bucket, parts, n, amount) for parts, (n, amount) in totals.items()]


async def event_rows(*, source: Source, buckets: Buckets, window: Window) -> list[Row]:
    """Hourly rows of the events inside the window, exact at its ends."""
    kept = []
    cut: set[datetime] = set()
    for row in await _grouped_rows(source, buckets):
        if window.covers(row.bucket):
            kept.append(row)
        elif window.touches(row.bucket):
            cut.add(row.bucket)
    for bucket in sorted(cut):
        start = max(bucket, window.start) if window.start else bucket
        end = min(bucket + HOUR, window.end) if window.end else bucket + HOUR
        kept += await _exact_rows(source, buckets, start, end)
    return kept
