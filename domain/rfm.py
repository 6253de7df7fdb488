"""RFM: recency, frequency and monetary scores 1-5 by quintiles, named groups, the job.

Scores are ranked over the project's customers who have ordered (erased ones left out):
recency on the days since the last order (fewer days score higher), frequency on the orders
count, monetary on the total spent. Each value counts `c`, how many of the `n` values are
equal to it or below (so equal values share the best position of their tie), and
score = ceil(5 * c / n): equal values always get the same score, the best values always score 5
(when everyone ordered today, everyone is R5) and each score holds about a fifth of the
customers. Customers without orders get 0, 0, 0 and the group "prospect".
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import Document
from bson import ObjectId
from pymongo import IndexModel, UpdateOne
from pymongo.errors import DuplicateKeyError

from domain import jobs
from domain.common import as_utc, utc_now
from domain.customers import Customer, Rfm
from domain.jobs import Job, JobRunner, JobStatus
from domain.projects import Project

COMPUTE_RFM = "compute_rfm"
RFM_BATCH_SIZE = 1_000
RFM_EVERY = timedelta(days=1)
DAY_SECONDS = 86_400
PROSPECT = "prospect"

# (R scores, F scores, group), first match wins: the usual RFM segment map on R and F.
GROUP_MAP: tuple[tuple[range, range, str], ...] = (
    (range(5, 6), range(4, 6), "champions"),
    (range(3, 5), range(4, 6), "loyal"),
    (range(5, 6), range(1, 2), "new"),
    (range(4, 5), range(1, 2), "promising"),
    (range(4, 6), range(2, 4), "potential_loyalists"),
    (range(3, 4), range(3, 4), "needs_attention"),
    (range(3, 4), range(1, 3), "about_to_sleep"),
    (range(1, 3), range(5, 6), "cannot_lose_them"),
    (range(1, 3), range(3, 5), "at_risk"),
    (range(1, 2), range(1, 2), "lost"),
    (range(1, 3), range(1, 3), "hibernating"),
)
GROUPS: tuple[str, ...] = (*dict.fromkeys(name for _, _, name in GROUP_MAP), PROSPECT)


class RfmSchedule(Document):
    """When each project's RFM is due again; claimed by a conditional update, so one process
    queues each daily run."""

    project_id: str
    next_run_at: datetime

    class Settings:
        name = "rfm_schedules"
        indexes = [IndexModel([("project_id", 1)], unique=True, name="project_unique")]


def group_of(recency: int, frequency: int) -> str:
    if recency == 0 or frequency == 0:
        return PROSPECT
    for recencies, frequencies, name in GROUP_MAP:
        if recency in recencies and frequency in frequencies:
            return name
    raise ValueError(f"no RFM group for R={recency} F={frequency}")


def quintile_cuts(values: list[float]) -> list[float]:
    """The smallest value scoring 2, 3, 4 and 5 (infinity when no value does).

    A value's score is 1 plus the number of cuts it reaches: scores grow with the value, so four
    numbers carry the whole ranking to the customers scored later, in batches.
    """
    ordered = sorted(values)
    n = len(ordered)
    cuts = [float("inf")] * 4
    i = 0
    while i < n:
        j = i
        while j + 1 < n and ordered[j + 1] == ordered[i]:
            j += 1
        # The tied run i..j counts j + 1 values at or below it, the best position of the tie.
        score = -(-5 * (j + 1) // n)
        for s in range(2, score + 1):
            cuts[s - 2] = min(cuts[s - 2], ordered[i])
        i = j + 1
    return cuts


def score(value: float, cuts: list[float]) -> int:
    return 1 + sum(1 for cut in cuts if value >= cut)


def days_since(moment: datetime | None, as_of: datetime) -> int:
    if moment is None:
        # Orders counted but no date known: ranked as the oldest.
        return 1_000_000
    return max(0, int((as_of - as_utc(moment)).total_seconds() // DAY_SECONDS))


@dataclass
class RfmValues:
    """One customer's raw figures: days since the last order, orders, total spent."""

    days: int
    orders: int
    spent: int

    @classmethod
    def of(cls, metrics: dict[str, Any], as_of: datetime) -> "RfmValues":
        return cls(
            days=days_since(metrics.get("last_order_at"), as_of),
            orders=int(metrics.get("orders_count") or 0),
            spent=int(metrics.get("total_spent") or 0),
        )


@dataclass
class RfmCuts:
    recency: list[float]
    frequency: list[float]
    monetary: list[float]

    @classmethod
    def of(cls, rows: list[RfmValues]) -> "RfmCuts":
        # Recency is ranked on minus the days, so the most recent buyers score highest.
        return cls(
            recency=quintile_cuts([-row.days for row in rows]),
            frequency=quintile_cuts([row.orders for row in rows]),
            monetary=quintile_cuts([row.spent for row in rows]),
        )

    def as_params(self) -> dict[str, list[float | None]]:
        # Infinity is not JSON: None stands for "no value reaches this score".
        return {
            name: [None if cut == float("inf") else cut for cut in getattr(self, name)]
            for name in ("recency", "frequency", "monetary")
        }

    @classmethod
    def from_params(cls, params: dict[str, list[float | None]]) -> "RfmCuts":
        def cuts(name: str) -> list[float]:
            return [float("inf") if cut is None else float(cut) for cut in params[name]]

        return cls(recency=cuts("recency"), frequency=cuts("frequency"), monetary=cuts("monetary"))

    def rfm(self, values: RfmValues, computed_at: datetime) -> Rfm:
        if values.orders <= 0:
            return Rfm(group=PROSPECT, computed_at=computed_at)
        recency = score(-values.days, self.recency)
        frequency = score(values.orders, self.frequency)
        return Rfm(
            recency=recency,
            frequency=frequency,
            monetary=score(values.spent, self.monetary),
            group=group_of(recency, frequency),
            computed_at=computed_at,
        )


def _customers() -> Any:
    return Customer.get_pymongo_collection()


async def measure(project_id: str, as_of: datetime) -> tuple[RfmCuts, int]:
    """The cuts over the project's buyers, and how many customers the job will score."""
    buyers: list[RfmValues] = []
    total = 0
    cursor = _customers().find(
        {"project_id": project_id, "erased": False}, {"metrics": 1}, batch_size=5_000
    )
    async for row in cursor:
        total += 1
        values = RfmValues.of(row.get("metrics") or {}, as_of)
        if values.orders > 0:
            buyers.append(values)
    return RfmCuts.of(buyers), total


async def score_batch(
    project_id: str, cuts: RfmCuts, as_of: datetime, after: str | None, limit: int
) -> tuple[int, str | None]:
    """Scores the next `limit` customers after the id `after`; returns how many and the last id."""
    query: dict[str, Any] = {"project_id": project_id, "erased": False}
    if after:
        query["_id"] = {"$gt": ObjectId(after)}
    rows = await _customers().find(query, {"metrics": 1}).sort("_id", 1).limit(limit).to_list()
    if not rows:
        return 0, None
    updates = [
        UpdateOne(
            {"_id": row["_id"], "project_id": project_id},
            # The whole sub-document: the embedded server mishandles some dotted-path updates.
            {
                "$set": {
                    "rfm": cuts.rfm(
                        RfmValues.of(row.get("metrics") or {}, as_of), as_of
                    ).model_dump()
                }
            },
        )
        for row in rows
    ]
    await _customers().bulk_write(updates, ordered=False)
    return len(rows), str(rows[-1]["_id"])


async def recompute_rfm(project_id: str, now: datetime | None = None) -> Job:
    """Queues the RFM job for the project, or returns the one already waiting or running."""
    pending = await Job.find_one(
        {
            "project_id": project_id,
            "kind": COMPUTE_RFM,
            "status": {"$in": [JobStatus.QUEUED.value, JobStatus.RUNNING.value]},
        }
    )
    if pending is not None:
        return pending
    as_of = now or utc_now()
    job = Job(
        project_id=project_id,
        kind=COMPUTE_RFM,
        params={"as_of": as_of.isoformat()},
        batch_size=RFM_BATCH_SIZE,
    )
    await job.insert()
    return job


async def _run_rfm(runner: JobRunner, job: Job) -> None:
    """Measures once (the cuts are kept on the job), then scores in batches from the last id
    written: a resumed job neither measures again nor rescores what is done."""
    as_of = as_utc(datetime.fromisoformat(str(job.params["as_of"])))
    if "cuts" not in job.params:
        cuts, total = await measure(job.project_id, as_of)
        await runner.renew(job, **{"params.cuts": cuts.as_params(), "total": total})
        job.params["cuts"] = cuts.as_params()
        job.total = total
    cuts = RfmCuts.from_params(job.params["cuts"])
    after: str | None = job.params.get("after")
    done = job.done
    while True:
        scored, last = await score_batch(job.project_id, cuts, as_of, after, job.batch_size)
        if last is None:
            return
        after, done = last, done + scored
        await runner.renew(job, **{"params.after": after, "done": done})


async def queue_due_rfm(now: datetime | None = None) -> int:
    """Queues the RFM job of every project whose daily run is due; returns how many."""
    moment = now or utc_now()
    schedules = RfmSchedule.get_pymongo_collection()
    queued = 0
    async for project in Project.get_pymongo_collection().find({}, {"_id": 1}):
        project_id = str(project["_id"])
        try:
            # Matches a due schedule, or inserts the first one; a schedule not yet due makes
            # the upsert collide with it, which is how this run learns it has nothing to do.
            await schedules.update_one(
                {"project_id": project_id, "next_run_at": {"$lte": moment}},
                {"$set": {"next_run_at": moment + RFM_EVERY}},
                upsert=True,
            )
        except DuplicateKeyError:
            continue
        await recompute_rfm(project_id, moment)
        queued += 1
    return queued


jobs.HANDLERS[COMPUTE_RFM] = _run_rfm
