"""Orders as the shop records them: idempotent on the shop's order id, feeding customer metrics
and loyalty, and reversed once when cancelled or refunded. Side effects run from the stored
order and are retried by apply_pending_order_effects, so a crash never loses or repeats one."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from bson import ObjectId
from bson.errors import InvalidId
from pydantic import Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain import events, loyalty, referrals, webhooks
from domain.campaigns import Campaign
from domain.codes import Code, normalize_code
from domain.common import Money, as_utc, utc_now
from domain.customers import Customer
from domain.discounts import OrderItem, OrderItemInput, make_order, order_currency_problems
from domain.errors import CommonError, DomainError, ErrorCode, NotFound, Problem
from domain.redemptions import Redemption, RedemptionStatus, rollback_redemption


class OrderError(ErrorCode):
    """Returned by recordOrder and updateOrderStatus."""

    INVALID_STATUS = "INVALID_STATUS"
    # updateOrderStatus refused: ORDER_ALREADY_<status>.
    ORDER_ALREADY_PAID = "ORDER_ALREADY_PAID"
    ORDER_ALREADY_CANCELLED = "ORDER_ALREADY_CANCELLED"
    ORDER_ALREADY_REFUNDED = "ORDER_ALREADY_REFUNDED"


MAX_ORDER_ID = 200
MAX_CODES = 20
MAX_ITEMS = 500
# An order whose effects are still pending after this long was left by a process that died.
PENDING_EFFECTS_AGE = timedelta(seconds=10)
# How many applied effects a customer remembers; a retry comes long before this many others.
REMEMBERED_EFFECTS = 200
# Compare-and-set attempts on a customer's metrics before giving up to the retry sweep.
METRICS_ATTEMPTS = 50


class OrderStatus(StrEnum):
    PAID = "PAID"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class Order(Document):
    project_id: str
    # The shop's own id for the order.
    order_id: str
    # "" for an anonymous order: the embedded server cannot match null reliably.
    customer_id: str = ""
    amount: Money
    items: list[OrderItem] = Field(default_factory=list)
    # Normalized codes used on the order.
    codes: list[str] = Field(default_factory=list)
    # The campaigns of those codes, so campaign analytics match orders without a join.
    campaign_ids: list[str] = Field(default_factory=list)
    status: OrderStatus = OrderStatus.PAID
    created_at: datetime = Field(default_factory=utc_now)
    status_changed_at: datetime | None = None
    # True from the insert until metrics and loyalty have taken the order into account.
    effects_pending: bool = True
    # True from a cancellation or refund until everything the order gave is reversed.
    reversal_pending: bool = False
    # The import job and batch that stored this order ("" when recorded otherwise).
    import_job: str = ""
    import_batch: int = 0

    class Settings:
        name = "orders"
        indexes = [
            IndexModel(
                [("project_id", 1), ("order_id", 1)], unique=True, name="project_order_id_unique"
            ),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
            IndexModel([("project_id", 1), ("campaign_ids", 1)]),
            IndexModel([("effects_pending", 1), ("created_at", 1)]),
            IndexModel([("reversal_pending", 1), ("status_changed_at", 1)]),
            IndexModel([("project_id", 1), ("import_job", 1), ("import_batch", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


@dataclass
class OrderInput:
    order_id: str
    amount: Money | None = None
    customer_id: str = ""
    items: list[OrderItemInput] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


@dataclass
class Recorded:
    order: Order
    # False when the order id was already recorded: the first order is returned unchanged.
    created: bool


def checked_order(project_id: str, data: OrderInput) -> Order:
    """The order recordOrder would store, every field checked (DomainError lists every problem);
    the customer is not looked up and nothing is written."""
    return _validated(project_id, data)


async def apply_order_effects(order: Order) -> None:
    """What recordOrder does after storing an order: metrics, points, referrals, events; each
    applied once however often this runs."""
    if order.effects_pending:
        await _apply_effects(order)


def _validated(project_id: str, data: OrderInput) -> Order:
    """Every field checked, every problem collected; nothing is written."""
    problems: list[Problem] = []
    order_id = data.order_id.strip()
    if not order_id or len(order_id) > MAX_ORDER_ID:
        problems.append(
            Problem(CommonError.INVALID, f"id must be 1 to {MAX_ORDER_ID} characters", "id")
        )
    if len(data.items) > MAX_ITEMS:
        problems.append(
            Problem(CommonError.INVALID, f"an order has at most {MAX_ITEMS} items", "items")
        )
    codes = sorted({normalize_code(code) for code in data.codes} - {""})
    if len(codes) > MAX_CODES:
        problems.append(
            Problem(CommonError.INVALID, f"an order has at most {MAX_CODES} codes", "codes")
        )
    try:
        checked = make_order(order_id, data.amount, data.items, None)
    except DomainError as error:
        # make_order names fields for redeemCode's `order` argument; here they are top-level.
        problems += [
            Problem(p.code, p.message, (p.field or "").removeprefix("order.") or None)
            for p in error.problems
        ]
        checked = None
    if checked is not None and order_currency_problems(checked):
        problems.append(
            Problem(
                CommonError.CURRENCY_MISMATCH,
                f"every item is priced in the order's currency ({checked.currency})",
                "items",
            )
        )
    if problems or checked is None:
        raise DomainError.of(problems)
    return Order(
        project_id=project_id,
        order_id=order_id,
        customer_id=data.customer_id.strip(),
        amount=checked.amount,
        items=checked.items,
        codes=codes,
    )


async def _check_customer(project_id: str, customer_id: str) -> None:
    try:
        oid = ObjectId(customer_id)
    except (InvalidId, TypeError):
        raise NotFound("customer", "customerId") from None
    found = await Customer.get_pymongo_collection().find_one(
        {"_id": oid, "project_id": project_id, "erased": False}, {"_id": 1}
    )
    if found is None:
        raise NotFound("customer", "customerId")


async def _campaigns_of(project_id: str, codes: list[str]) -> list[str]:
    """The campaigns of the order's known codes (unknown codes attribute it to nothing)."""
    if not codes:
        return []
    found = (
        await Code.get_pymongo_collection()
        .find({"project_id": project_id, "code": {"$in": codes}}, {"campaign_id": 1})
        .to_list()
    )
    return sorted({str(doc["campaign_id"]) for doc in found})


async def get_order(project_id: str, order_id: str) -> Order:
    order = await Order.find_one({"project_id": project_id, "order_id": order_id.strip()})
    if order is None:
        raise NotFound("order")
    return order


async def record_order(project_id: str, data: OrderInput) -> Recorded:
    """Stores the order once per order id, then applies its effects. The unique index decides
    which of several concurrent calls stores it; the others return that order untouched."""
    order = _validated(project_id, data)
    if order.customer_id:
        await _check_customer(project_id, order.customer_id)
    order.campaign_ids = await _campaigns_of(project_id, order.codes)
    try:
        await order.insert()
    except DuplicateKeyError:
        return Recorded(order=await get_order(project_id, order.order_id), created=False)
    await _apply_effects(order)
    return Recorded(order=order, created=True)


def _already_reversed(status: OrderStatus) -> DomainError:
    return DomainError(
        OrderError(f"ORDER_ALREADY_{status.value}"),
        f"this order is already {status.value.lower()}",
        "id",
    )


async def set_order_status(project_id: str, order_id: str, status: OrderStatus | str) -> Order:
    """PAID becomes CANCELLED or REFUNDED once, by a conditional update on the status; what the
    order gave is then reversed."""
    try:
        wanted = OrderStatus(status)
    except ValueError:
        wanted = OrderStatus.PAID
    if wanted == OrderStatus.PAID:
        raise DomainError(
            OrderError.INVALID_STATUS, "an order can only become CANCELLED or REFUNDED", "status"
        )
    order = await get_order(project_id, order_id)
    if order.status != OrderStatus.PAID:
        raise _already_reversed(order.status)
    # A reversal must never run before what it reverses.
    if order.effects_pending:
        await _apply_effects(order)
    now = utc_now()
    flipped = await Order.get_pymongo_collection().update_one(
        {"_id": order.id, "status": OrderStatus.PAID.value},
        {"$set": {"status": wanted.value, "status_changed_at": now, "reversal_pending": True}},
    )
    if flipped.modified_count == 0:
        raise _already_reversed((await get_order(project_id, order_id)).status)
    order.status, order.status_changed_at, order.reversal_pending = wanted, now, True
    await _apply_reversal(order)
    return order


async def apply_pending_order_effects(
    project_id: str | None = None,
    now: datetime | None = None,
    older_than: timedelta = PENDING_EFFECTS_AGE,
) -> int:
    """Finishes the effects and reversals a crashed process left; returns how many orders it
    finished. Safe to run at any time: every effect is applied at most once."""
    cutoff = (now or utc_now()) - older_than
    scope: dict[str, Any] = {"project_id": project_id} if project_id else {}
    finished = 0
    pending = {**scope, "effects_pending": True, "created_at": {"$lt": cutoff}}
    for order in await Order.find(pending).to_list():
        await _apply_effects(order)
        finished += 1
    reversing = {**scope, "reversal_pending": True, "status_changed_at": {"$lt": cutoff}}
    for order in await Order.find(reversing).to_list():
        await _apply_reversal(order)
        finished += 1
    return finished


async def _apply_effects(order: Order) -> None:
    if order.customer_id:
        await _move_metrics(order, "order", 1)
        await loyalty.earn_for_order(
            project_id=order.project_id,
            customer_id=order.customer_id,
            order_id=order.order_id,
            amount=order.amount,
        )
        await referrals.on_order_recorded(order=order)
        # Keyed by the order: a retried effect emits nothing twice.
        await events.emit(
            order.project_id,
            order.customer_id,
            events.ORDER_RECORDED,
            {
                "orderId": order.order_id,
                "amount": order.amount.amount,
                "currency": order.amount.currency,
                "codes": order.codes,
                "items": len(order.items),
            },
            at=order.created_at,
            dedupe_key=f"order.recorded:{order.key}",
        )
    # Before the effects are marked done: a process that dies first leaves them to the sweep,
    # which emits again under the same event id.
    await _emit(order, webhooks.ORDER_RECORDED)
    await Order.get_pymongo_collection().update_one(
        {"_id": order.id, "effects_pending": True}, {"$set": {"effects_pending": False}}
    )
    order.effects_pending = False


async def _emit(order: Order, event_type: str) -> None:
    await webhooks.emit(
        project_id=order.project_id,
        event_type=event_type,
        object_key=f"order:{order.order_id}",
        data=webhooks.objects.order(order),
        dedupe_key=f"{event_type}:{order.key}",
    )


async def _apply_reversal(order: Order) -> None:
    if order.customer_id:
        await _move_metrics(order, "reversal", -1)
        await loyalty.reverse_for_order(
            project_id=order.project_id, customer_id=order.customer_id, order_id=order.order_id
        )
        await referrals.on_order_reversed(order=order)
    await _release_limits(order)
    reversed_as = (
        webhooks.ORDER_REFUNDED
        if order.status == OrderStatus.REFUNDED
        else webhooks.ORDER_CANCELLED
    )
    await _emit(order, reversed_as)
    await Order.get_pymongo_collection().update_one(
        {"_id": order.id, "reversal_pending": True}, {"$set": {"reversal_pending": False}}
    )
    order.reversal_pending = False


async def _release_limits(order: Order) -> None:
    """Rolls back the order's redemptions of campaigns that release their limits on refund;
    rollback_redemption flips each one once, so a retry gives nothing back twice."""
    if not order.codes:
        return
    redeemed = await Redemption.find(
        {
            "project_id": order.project_id,
            "order.id": order.order_id,
            "status": RedemptionStatus.SUCCEEDED.value,
        }
    ).to_list()
    releases: dict[str, bool] = {}
    for redemption in redeemed:
        if redemption.code not in order.codes:
            continue
        if redemption.campaign_id not in releases:
            campaign = await Campaign.find_one(
                {"_id": ObjectId(redemption.campaign_id), "project_id": order.project_id}
            )
            releases[redemption.campaign_id] = (
                campaign is not None and campaign.release_limits_on_refund
            )
        if not releases[redemption.campaign_id]:
            continue
        try:
            await rollback_redemption(
                project_id=order.project_id,
                redemption_id=redemption.key,
                reason=f"order {order.order_id} {order.status.value}",
            )
        except DomainError as error:
            # Another reversal of this order rolled it back first.
            if error.code != "ALREADY_ROLLED_BACK":
                raise


async def _move_metrics(order: Order, effect: str, sign: int) -> None:
    """Adds (sign 1) or removes (sign -1) the order in its customer's metrics exactly once: the
    effect's marker is written in the same compare-and-set as the metrics it moves.
    nx-27017 turns $inc/$min/$max on a dotted path into a new top-level key, hence no $inc."""
    marker = f"{effect}:{order.key}"
    customers = Customer.get_pymongo_collection()
    for _ in range(METRICS_ATTEMPTS):
        doc = await customers.find_one(
            {"_id": ObjectId(order.customer_id), "project_id": order.project_id}
        )
        if doc is None:
            return
        effects: list[str] = doc.get("metrics_effects") or []
        if marker in effects:
            return
        metrics = doc.get("metrics") or {}
        values: dict[str, Any] = {
            "metrics.orders_count": max(0, int(metrics.get("orders_count", 0)) + sign),
            "metrics.total_spent": max(
                0, int(metrics.get("total_spent", 0)) + sign * order.amount.amount
            ),
        }
        if sign > 0:
            moments = [
                order.created_at,
                metrics.get("first_order_at"),
                metrics.get("last_order_at"),
            ]
            known = [as_utc(m) for m in moments if m is not None]
            values["metrics.first_order_at"] = min(known)
            values["metrics.last_order_at"] = max(known)
        version = doc.get("metrics_version")
        moved = await customers.update_one(
            {
                "_id": doc["_id"],
                # Customers stored before metrics_version existed have none.
                "metrics_version": {"$exists": False} if version is None else version,
            },
            {
                "$set": {
                    **values,
                    "metrics_version": (version or 0) + 1,
                    "metrics_effects": [*effects, marker][-REMEMBERED_EFFECTS:],
                }
            },
        )
        if moved.modified_count == 1:
            return
    raise RuntimeError(f"customer metrics kept changing while applying {marker}")
