"""Per-arm figures of experiments, read from assignments, codes, redemptions and orders."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.common import as_utc
from domain.experiments.models import Experiment, ExperimentAssignment
from domain.orders import Order, OrderStatus

# Customers per orders query when joining assignments to orders (no $lookup on the embedded server).
ORDER_QUERY_CHUNK = 1_000


# One experiment's arm: (experiment id, arm key).
ArmOf = tuple[str, str]


def _arm_keys(experiment: Experiment) -> list[str]:
    return [key for key, _ in experiment.arms]


async def arm_sums(
    *,
    collection: Any,
    match: dict[str, Any],
    experiments: list[Experiment],
    sum_of: str | int,
    also: Callable[[Experiment], list[dict[str, Any]]] = lambda _: [],
) -> dict[ArmOf, int]:
    """$sum per arm of every experiment over documents matching `match` whose experiment_id
    and variant name that arm (and that pass `also` for the experiment), in one aggregation.
    One conditional sum per arm: the embedded server cannot group on a compound key."""
    arms: dict[str, ArmOf] = {}
    sums: dict[str, Any] = {}
    for experiment in experiments:
        for key in _arm_keys(experiment):
            name = f"a{len(arms)}"
            arms[name] = (experiment.key, key)
            condition = [
                {"$eq": ["$experiment_id", experiment.key]},
                {"$eq": ["$variant", key]},
                *also(experiment),
            ]
            sums[name] = {"$sum": {"$cond": [{"$and": condition}, sum_of, 0]}}
    wanted = [experiment.key for experiment in experiments]
    cursor = await collection.aggregate(
        [
            {"$match": {**match, "experiment_id": {"$in": wanted}}},
            {"$group": {"_id": None, **sums}},
        ]
    )
    found = await cursor.to_list(None)
    row = found[0] if found else {}
    return {arm: int(row.get(name) or 0) for name, arm in arms.items()}


@dataclass
class ConversionWindow:
    start: datetime
    end: datetime


async def arm_conversions(
    *, project_id: str, windows: dict[str, ConversionWindow], currencies: dict[str, str]
) -> tuple[dict[ArmOf, dict[str, int]], dict[str, str]]:
    """Per experiment arm: converted customers, orders and revenue; and each experiment's
    currency (its campaign's, else the one most of its converted orders were in). Orders are
    grouped per customer by a pipeline over the assigned customers (the embedded server has no
    $lookup), then each customer's orders outside their assignment to the window's end are
    left out."""
    assignments = (
        await ExperimentAssignment.get_pymongo_collection()
        .find(
            {"project_id": project_id, "experiment_id": {"$in": list(windows)}},
            {"experiment_id": 1, "customer_id": 1, "variant": 1, "assigned_at": 1},
        )
        .to_list()
    )
    assigned: dict[str, dict[str, tuple[str, datetime]]] = {key: {} for key in windows}
    for row in assignments:
        assigned[row["experiment_id"]][row["customer_id"]] = (
            row["variant"],
            as_utc(row["assigned_at"]),
        )
    customer_ids = list(dict.fromkeys(c for by_customer in assigned.values() for c in by_customer))
    earliest = min(window.start for window in windows.values())
    per_customer: dict[str, list[tuple[datetime, int, str]]] = {}
    for offset in range(0, len(customer_ids), ORDER_QUERY_CHUNK):
        chunk = customer_ids[offset : offset + ORDER_QUERY_CHUNK]
        cursor = await Order.get_pymongo_collection().aggregate(
            [
                {
                    "$match": {
                        "project_id": project_id,
                        "customer_id": {"$in": chunk},
                        "status": OrderStatus.PAID.value,
                        # nx-27017 matches nothing with $lt on a date inside $match: the end
                        # of the window is applied below, with each customer's assignment.
                        "created_at": {"$gte": earliest},
                    }
                },
                {
                    "$group": {
                        "_id": "$customer_id",
                        "at": {"$push": "$created_at"},
                        "amount": {"$push": "$amount.amount"},
                        "currency": {"$push": "$amount.currency"},
                    }
                },
            ]
        )
        async for row in cursor:
            per_customer[str(row["_id"])] = list(
                zip(row["at"], row["amount"], row["currency"], strict=True)
            )
    totals: dict[ArmOf, dict[str, int]] = {}
    chosen: dict[str, str] = {}
    for experiment_id, window in windows.items():
        after: dict[str, list[tuple[str, int, str]]] = {}
        for customer_id, (variant, assigned_at) in assigned[experiment_id].items():
            kept = [
                (variant, int(amount), cur)
                for at, amount, cur in per_customer.get(customer_id, [])
                if window.start <= as_utc(at) and assigned_at <= as_utc(at) < window.end
            ]
            if kept:
                after[customer_id] = kept
        currency = currencies[experiment_id]
        if not currency:
            seen = Counter(cur for converted in after.values() for _, _, cur in converted)
            currency = min(seen, key=lambda c: (-seen[c], c)) if seen else ""
        chosen[experiment_id] = currency
        for converted in after.values():
            arm = totals.setdefault(
                (experiment_id, converted[0][0]), {"converted": 0, "orders": 0, "revenue": 0}
            )
            arm["converted"] += 1
            arm["orders"] += len(converted)
            arm["revenue"] += sum(amount for _, amount, cur in converted if cur == currency)
    return totals, chosen
