"""The REST checkout API's operations under /v1, with who may call each, and the routes made
from them."""

from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from api.rest import endpoints, models
from api.rest.openapi import PREFIX, openapi_document
from api.rest.operations import ADMIN, ADMIN_OR_CUSTOMER, STAFF, Operation, Parameter

SOURCE_ID = Parameter("sourceId", "path", "The customer's id in the shop's own system.")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        method="POST",
        path="/codes/validate",
        operation_id="validateCode",
        summary="Check a code against a customer and an order, without redeeming it",
        description="Every reason the code cannot be redeemed now comes back in `reasons`; an "
        "invalid code is still a 200. Counted against the guessing limits per key and per "
        "address: an unknown code costs more than a known one.",
        roles=STAFF,
        handler=endpoints.validate_code,
        request=models.ValidateRequest,
        responses={200: (models.Validation, "Whether the code can be redeemed, and for what.")},
        problems={429: "Too many attempts from this key or address; see Retry-After."},
    ),
    Operation(
        method="POST",
        path="/redemptions",
        operation_id="redeemCode",
        summary="Redeem a code once",
        description="Send an Idempotency-Key header: a retry with the same key returns the "
        "first redemption instead of redeeming again. A refusal carries every reason (as "
        "validate gives them) in `errors` and writes nothing.",
        roles=STAFF,
        handler=endpoints.redeem_code,
        request=models.RedeemRequest,
        parameters=(
            Parameter(
                endpoints.IDEMPOTENCY_KEY,
                "header",
                "Up to 200 characters, unique per redemption the till means to make.",
                required=False,
            ),
        ),
        responses={201: (models.Redemption, "The redemption (the first one, on a retry).")},
        problems={
            404: "No such code (NOT_FOUND).",
            409: "A limit is reached (CODE_LIMIT_REACHED, ...) or the first request with this "
            "Idempotency-Key is still in progress.",
            429: "Too many attempts from this key or address; see Retry-After.",
        },
    ),
    Operation(
        method="POST",
        path="/redemptions/{id}/rollback",
        operation_id="rollbackRedemption",
        summary="Undo a redemption once and give back every limit it used",
        description="A second rollback is refused with ALREADY_ROLLED_BACK.",
        roles=STAFF,
        handler=endpoints.rollback_redemption,
        request=models.RollbackRequest,
        parameters=(Parameter("id", "path", "The redemption's id."),),
        responses={200: (models.Redemption, "The redemption, now ROLLED_BACK.")},
        problems={404: "No such redemption.", 409: "Already rolled back."},
    ),
    Operation(
        method="POST",
        path="/orders",
        operation_id="recordOrder",
        summary="Record an order once per id",
        description="Updates the customer's metrics, earns loyalty points, completes referrals "
        "and attributes the codes' redemptions. Recording the same id again returns the first "
        "order with 200.",
        roles=ADMIN,
        handler=endpoints.record_order,
        request=models.OrderRequest,
        responses={
            201: (models.RecordedOrder, "The order, recorded now."),
            200: (models.RecordedOrder, "The order as first recorded; nothing changed."),
        },
        problems={404: "No such customer."},
    ),
    Operation(
        method="PUT",
        path="/customers/{sourceId}",
        operation_id="upsertCustomer",
        summary="Create or update the customer with this shop id",
        description="Fields left out keep their values on update.",
        roles=ADMIN,
        handler=endpoints.upsert_customer,
        request=models.CustomerUpsert,
        parameters=(SOURCE_ID,),
        responses={
            201: (models.Customer, "The customer, created now."),
            200: (models.Customer, "The customer, updated."),
        },
        problems={409: "The customer is being changed by another request; retry."},
    ),
    Operation(
        method="GET",
        path="/customers/{sourceId}/coupons",
        operation_id="customerCoupons",
        summary="The codes published to a customer",
        description="Admin keys read any customer; a customer token only its own.",
        roles=ADMIN_OR_CUSTOMER,
        handler=endpoints.customer_coupons,
        parameters=(SOURCE_ID,),
        responses={200: (models.CustomerCoupons, "The customer's coupons.")},
        problems={404: "No such customer."},
    ),
    Operation(
        method="GET",
        path="/customers/{sourceId}/loyalty",
        operation_id="customerLoyalty",
        summary="A customer's loyalty balance in each program",
        description="Admin keys read any customer; a customer token only its own.",
        roles=ADMIN_OR_CUSTOMER,
        handler=endpoints.customer_loyalty,
        parameters=(SOURCE_ID,),
        responses={200: (models.LoyaltyBalance, "The customer's cards.")},
        problems={404: "No such customer."},
    ),
)


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return openapi_document(OPERATIONS)


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(document())


routes = [
    Mount(
        PREFIX,
        routes=[
            Route("/openapi.json", openapi_json, methods=["GET"]),
            *(operation.route() for operation in OPERATIONS),
        ],
    )
]
