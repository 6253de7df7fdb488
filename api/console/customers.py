"""Customers: search, a customer's page with everything about them, erasure."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    Visit,
    console_page,
    form_errors,
    format_money,
    redirect,
    render,
)
from api.pages import STATUS_LABELS
from domain.console import ConsoleRole
from domain.customer_lifecycle import erase_customer
from domain.customer_profile import customer_profile, search_customers
from domain.customers import Customer, CustomerError, get_customer
from domain.errors import CommonError, DomainError, Problem

PAGE_SIZE = 50
COUPON_LABELS = {status.value: label for status, label in STATUS_LABELS.items()}
# Labels of the ways a search matched, for the line above the results.
MATCHED_BY = {"email": "email", "phone": "phone number", "sourceId": "sourceId", "name": "name"}


def display_name(customer: Customer) -> str:
    if customer.erased:
        return "Erased customer"
    return customer.name or customer.email or customer.phone or customer.source_id or customer.key


def erase_confirmation(customer: Customer) -> tuple[str, str]:
    """What must be typed to erase, and what it is called: the email, else the sourceId, else
    the id, exactly as shown."""
    if customer.email:
        return customer.email, "email address"
    if customer.source_id:
        return customer.source_id, "sourceId"
    return customer.key, "id"


@console_page()
async def customers(request: Request, visit: Visit) -> Response:
    query = request.query_params.get("q", "")[:200]
    before = request.query_params.get("before", "")[:40]
    found = await search_customers(
        project_id=visit.project_id, query=query, limit=PAGE_SIZE, before=before
    )
    exact = found.matched_by in ("email", "phone", "sourceId")
    if exact and len(found.customers) == 1:
        return redirect(request, "customer", customer_id=found.customers[0].key)
    return render(
        request,
        "console/customers.html",
        {
            "title": f"Customers matching “{query}”" if query else "Customers",
            "area": "customers",
            # The page's own search form is the same search.
            "hide_header_search": True,
            "query": query,
            "before": before,
            "found": found,
            "matched_by": MATCHED_BY.get(found.matched_by, ""),
            "display_name": display_name,
        },
    )


DONE = {"erased": "The customer was erased: their personal data is gone, the record stays."}


@console_page()
async def customer(request: Request, visit: Visit) -> Response:
    profile = await customer_profile(
        project_id=visit.project_id, customer_id=request.path_params["customer_id"]
    )
    return render(
        request,
        "console/customer.html",
        {
            "title": display_name(profile.customer),
            "area": "customers",
            "profile": profile,
            "c": profile.customer,
            "name": display_name(profile.customer),
            "done": DONE.get(request.query_params.get("done", ""), ""),
            "format_money": format_money,
            "coupon_labels": COUPON_LABELS,
        },
    )


def _erase_page(
    request: Request, target: Customer, typed: str = "", errors: DomainError | None = None
) -> Response:
    expected, what = erase_confirmation(target)
    return render(
        request,
        "console/customer_erase.html",
        {
            "title": f"Erase {display_name(target)}",
            "area": "customers",
            "c": target,
            "name": display_name(target),
            "expected": expected,
            "what": what,
            "typed": typed,
            "errors": form_errors(errors) if errors else form_errors([]),
        },
        400 if errors else 200,
    )


@console_page(ConsoleRole.OWNER)
async def erase_form(request: Request, visit: Visit) -> Response:
    target = await get_customer(visit.project_id, request.path_params["customer_id"])
    if target.erased:
        return redirect(request, "customer", customer_id=target.key)
    return _erase_page(request, target)


@console_page(ConsoleRole.OWNER)
async def erase(request: Request, visit: Visit) -> Response:
    target = await get_customer(visit.project_id, request.path_params["customer_id"])
    typed = str((await request.form()).get("confirm") or "")
    expected, what = erase_confirmation(target)
    if typed.strip() != expected:
        problem = Problem(
            CommonError.INVALID,
            f"type the customer's {what} exactly as shown to erase them",
            "confirm",
        )
        return _erase_page(request, target, typed, DomainError.of([problem]))
    try:
        await erase_customer(visit.project_id, target.key, actor=f"console:{visit.user.email}")
    except DomainError as error:
        if error.code != CustomerError.ALREADY_ERASED:
            return _erase_page(request, target, typed, error)
    return redirect(request, "customer", query="done=erased", customer_id=target.key)


TEMPLATES = ("customers.html", "customer.html", "customer_erase.html")
routes: list[BaseRoute] = [
    Route("/customers", customers, methods=["GET"], name="customers"),
    Route("/customers/{customer_id}", customer, methods=["GET"], name="customer"),
    Route("/customers/{customer_id}/erase", erase_form, methods=["GET"], name="customer_erase"),
    Route("/customers/{customer_id}/erase", erase, methods=["POST"], name="customer_erase_post"),
]
