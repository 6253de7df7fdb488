"""One imported row checked and turned into what createCustomer or recordOrder would store; every
problem is reported with the row's field name."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.common import money
from domain.customers import ConsentsInput, Customer, CustomerInput, new_customer, normalize_email
from domain.discounts import OrderItemInput
from domain.errors import CommonError, DomainError, ErrorCode, Problem
from domain.import_errors import DataImportError
from domain.orders import Order, OrderError, OrderInput, OrderStatus, checked_order
from domain.storable import text_problem, value_problems

CUSTOMER_FIELDS = frozenset(
    {
        "sourceId",
        "email",
        "phone",
        "name",
        "tags",
        "attributes",
        "consents",
        "consentEmail",
        "consentSms",
        "createdAt",
    }
)
ORDER_FIELDS = frozenset(
    {
        "id",
        "customerSourceId",
        "customerEmail",
        "amount",
        "currency",
        "items",
        "codes",
        "status",
        "createdAt",
        "placedAt",
    }
)
# History cannot be in the future; a day allows for clocks and time zones written as UTC.
FUTURE_SLACK = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
IMPORT_SOURCE = "import"


@dataclass
class OrderRow:
    """A checked order and how its customer is named (sourceId first, else email)."""

    order: Order
    customer_source_id: str = ""
    customer_email: str = ""


@dataclass
class Checked:
    problems: list[Problem] = field(default_factory=list)

    def run(self, make: Any) -> Any:
        try:
            return make()
        except DomainError as error:
            self.problems.extend(error.problems)
            return None

    def add(self, code: ErrorCode, message: str, name: str) -> None:
        self.problems.append(Problem(code, message, name))


def _unknown_fields(values: dict[str, Any], known: frozenset[str], checked: Checked) -> None:
    for name in sorted(set(values) - known):
        checked.add(DataImportError.UNKNOWN_FIELD, f"{name!r} is not a field of this import", name)


def _text(values: dict[str, Any], name: str, checked: Checked) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        checked.add(CommonError.INVALID, f"{name} must be text", name)
        return None
    return str(value)


def _integer(values: dict[str, Any], name: str, checked: Checked) -> int | None:
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    checked.add(CommonError.INVALID, f"{name} must be a whole number (money in minor units)", name)
    return None


def _boolean(values: dict[str, Any], name: str, checked: Checked) -> bool | None:
    value = values.get(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    checked.add(CommonError.INVALID, f"{name} must be true or false", name)
    return None


def _structured(values: dict[str, Any], name: str, kind: type, checked: Checked) -> Any:
    """A list or object given as such in JSON lines, or as JSON text in a CSV cell."""
    value = values.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            checked.add(CommonError.INVALID, f"{name} must be JSON", name)
            return None
    if value is not None and not isinstance(value, kind):
        checked.add(CommonError.INVALID, f"{name} must be a JSON {kind.__name__}", name)
        return None
    return value


def _list_of_text(values: dict[str, Any], name: str, checked: Checked) -> list[str] | None:
    """A JSON list of strings, or in a CSV cell the values separated by `|`."""
    value = values.get(name)
    if isinstance(value, str) and not value.lstrip().startswith("["):
        return [part for part in value.split("|") if part.strip()]
    found = _structured(values, name, list, checked)
    if found is not None and not all(isinstance(item, str) for item in found):
        checked.add(CommonError.INVALID, f"{name} must be a list of text", name)
        return None
    return found


def parse_moment(value: Any, name: str, now: datetime) -> datetime:
    """ISO 8601; without an offset the time is taken as UTC."""
    if not isinstance(value, str):
        raise DomainError(
            DataImportError.INVALID_DATE, f"{name} must be an ISO 8601 date and time", name
        )
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DomainError(
            DataImportError.INVALID_DATE, f"{name} must be an ISO 8601 date and time", name
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # Millisecond precision, as stored, so the value reads back as written.
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if moment > now + FUTURE_SLACK:
        raise DomainError(DataImportError.INVALID_DATE, f"{name} is in the future", name)
    if moment < EARLIEST:
        raise DomainError(DataImportError.INVALID_DATE, f"{name} is before 1970", name)
    return moment


def customer_row(project_id: str, values: dict[str, Any], now: datetime) -> Customer:
    """The customer createCustomer would store, created at the row's createdAt."""
    checked = Checked()
    _unknown_fields(values, CUSTOMER_FIELDS, checked)
    source_id = _text(values, "sourceId", checked)
    if source_id is None or not source_id.strip():
        checked.add(
            CommonError.REQUIRED, "sourceId is required: it makes the import repeatable", "sourceId"
        )
    consents = _structured(values, "consents", dict, checked) or {}
    email_consent = _boolean({"consentEmail": consents.get("email")}, "consentEmail", checked)
    sms_consent = _boolean({"consentSms": consents.get("sms")}, "consentSms", checked)
    if "consentEmail" in values:
        email_consent = _boolean(values, "consentEmail", checked)
    if "consentSms" in values:
        sms_consent = _boolean(values, "consentSms", checked)
    data = CustomerInput(
        source_id=source_id,
        email=_text(values, "email", checked),
        phone=_text(values, "phone", checked),
        name=_text(values, "name", checked),
        attributes=_structured(values, "attributes", dict, checked),
        tags=_list_of_text(values, "tags", checked),
        consents=ConsentsInput(email=email_consent, sms=sms_consent),
    )
    created_at = None
    if "createdAt" in values:
        created_at = checked.run(lambda: parse_moment(values["createdAt"], "createdAt", now))
    customer = checked.run(lambda: new_customer(project_id, data, IMPORT_SOURCE, created_at))
    if checked.problems or customer is None:
        raise DomainError.of(checked.problems)
    # Consent given in the shop's history dates from when the customer was created there.
    for change in customer.consent_log:
        change.at = customer.created_at
    return customer


# Fields that are one line of text; others may hold line breaks (none do today but JSON text).
SINGLE_LINE_ORDER_FIELDS = ("id", "customerSourceId", "customerEmail", "currency", "status")


def _storable(values: dict[str, Any], checked: Checked) -> None:
    """No control characters, and integers that fit in 64 bits, as GraphQL input is checked."""
    checked.problems.extend(value_problems(values, None))
    for name in SINGLE_LINE_ORDER_FIELDS:
        value = values.get(name)
        if isinstance(value, str) and (problem := text_problem(value, name)) is not None:
            checked.problems.append(problem)


def _items(values: dict[str, Any], currency: str | None, checked: Checked) -> list[OrderItemInput]:
    raw = _structured(values, "items", list, checked) or []
    items: list[OrderItemInput] = []
    for index, item in enumerate(raw):
        where = f"items.{index}"
        if not isinstance(item, dict):
            checked.add(CommonError.INVALID, "an item must be an object", where)
            continue
        sku = _text(item, "sku", checked) or ""
        quantity = _integer(item, "quantity", checked)
        price = _integer(item, "price", checked)
        item_currency = _text(item, "currency", checked) or currency
        if price is None or item_currency is None:
            checked.add(
                CommonError.REQUIRED, "an item needs a price and a currency", f"{where}.price"
            )
            continue
        made = checked.run(lambda: money(price, item_currency, f"{where}.currency"))  # noqa: B023
        if made is not None:
            category = _text(item, "category", checked) or ""
            # An item without a quantity is one of it; a given quantity is checked as given.
            count = 1 if quantity is None else quantity
            items.append(OrderItemInput(sku=sku, quantity=count, price=made, category=category))
    return items


def order_row(project_id: str, values: dict[str, Any], now: datetime) -> OrderRow:
    """The order recordOrder would store, placed at the row's createdAt (or placedAt)."""
    checked = Checked()
    _unknown_fields(values, ORDER_FIELDS, checked)
    _storable(values, checked)
    order_id = _text(values, "id", checked) or ""
    currency = _text(values, "currency", checked)
    amount_value = _integer(values, "amount", checked)
    amount = None
    if amount_value is not None:
        if currency is None:
            checked.add(CommonError.REQUIRED, "an amount needs a currency", "currency")
        else:
            amount = checked.run(lambda: money(amount_value, currency, "currency"))
    items = _items(values, currency, checked)
    codes = _list_of_text(values, "codes", checked) or []
    status_text = (_text(values, "status", checked) or OrderStatus.PAID.value).strip().upper()
    if status_text not in OrderStatus.__members__:
        checked.add(
            OrderError.INVALID_STATUS, "status must be PAID, CANCELLED or REFUNDED", "status"
        )
    moment_field = "createdAt" if "createdAt" in values else "placedAt"
    placed_at = None
    if moment_field in values:
        placed_at = checked.run(lambda: parse_moment(values[moment_field], moment_field, now))
    else:
        checked.add(CommonError.REQUIRED, "createdAt (or placedAt) is required", "createdAt")
    source_id = (_text(values, "customerSourceId", checked) or "").strip()
    email = (_text(values, "customerEmail", checked) or "").strip()
    if email and not source_id:
        try:
            email = normalize_email(email)
        except DomainError as error:
            named = [Problem(p.code, p.message, "customerEmail") for p in error.problems]
            checked.problems += named
    order = checked.run(
        lambda: checked_order(
            project_id, OrderInput(order_id=order_id, amount=amount, items=items, codes=codes)
        )
    )
    if checked.problems or order is None or placed_at is None:
        # A value can fail more than one check in the same way (a NUL in the id, say).
        raise DomainError.of(list(dict.fromkeys(checked.problems)))
    order.created_at = placed_at
    order.status = OrderStatus(status_text)
    order.effects_pending = False
    if order.status != OrderStatus.PAID:
        # When it was cancelled is not in the history: the moment it was placed stands in.
        order.status_changed_at = placed_at
    return OrderRow(order=order, customer_source_id=source_id, customer_email=email)
