"""The REST checkout API's handlers: parse the body, call the domain functions the GraphQL
resolvers call, map the result. Auth, roles, input checks and errors are in operations."""

from api.rest import models
from api.rest.operations import Call, Refused, Reply
from domain import analytics, codes, customer_lifecycle, customers, loyalty, orders, redemptions
from domain.callers import CallerKind
from domain.campaigns import campaigns_by_id
from domain.common import utc_now
from domain.customers import ContactLookup
from domain.discounts import Order, OrderItemInput
from domain.errors import CommonError, DomainError, NotFound
from domain.guessing import code_attempt, customer_id_argument
from domain.rate_limits import RateLimited

IDEMPOTENCY_KEY = "Idempotency-Key"


async def _customer_of(call: Call, attempt: models.CodeAttempt) -> str | None:
    lookup = ContactLookup(
        attempt.customer_email, attempt.customer_phone, attempt.customer_source_id
    )
    return await customer_id_argument(call.attempter(), attempt.customer_id, lookup)


def _redemption(doc: redemptions.Redemption) -> models.Redemption:
    return models.Redemption(
        id=doc.key,
        code=doc.code,
        campaign_id=doc.campaign_id,
        customer_id=doc.customer_id or None,
        discount=models.Money.of(doc.discount),
        order=models.CheckoutOrder.of(doc.order),
        status=doc.status.value,
        channel=doc.channel.value,
        created_at=doc.created_at,
        rolled_back_at=doc.rolled_back_at,
        rollback_reason=doc.rollback_reason or None,
    )


async def validate_code(call: Call) -> Reply:
    attempt: models.ValidateRequest = call.body
    invalid = models.Validation(valid=False, reasons=[], discount=None, amount_to_pay=None)
    try:
        customer_id = await _customer_of(call, attempt)
        order = attempt.order.to_domain() if attempt.order else None
        result = await code_attempt(
            call.attempter(),
            lambda: analytics.validate_and_count(
                project_id=call.project_id,
                raw_code=attempt.code,
                customer_id=customer_id,
                order=order,
            ),
            lambda found: redemptions.Reason.NOT_FOUND in found.reasons,
        )
    except RateLimited:
        raise
    except DomainError as error:
        # A malformed order, or a customer not found, is one more reason the code cannot be
        # redeemed against it, as in GraphQL's validateCode.
        invalid.reasons = [str(p.code) for p in error.problems]
        return Reply(200, invalid)
    return Reply(
        200,
        models.Validation(
            valid=result.valid,
            reasons=[reason.value for reason in result.reasons],
            discount=models.Money.of(result.discount),
            amount_to_pay=_amount_to_pay(order, result) if result.valid else None,
        ),
    )


def _amount_to_pay(order: Order | None, result: redemptions.Validation) -> models.Money | None:
    if order is None:
        return None
    off = result.discount.amount if result.discount is not None else 0
    return models.Money(amount=max(0, order.amount.amount - off), currency=order.currency)


async def redeem_code(call: Call) -> Reply:
    attempt: models.RedeemRequest = call.body
    caller = call.caller
    customer_id = await _customer_of(call, attempt)
    order = attempt.order.to_domain() if attempt.order else None
    redemption = await code_attempt(
        call.attempter(),
        lambda: redemptions.redeem_code(
            project_id=call.project_id,
            raw_code=attempt.code,
            customer_id=customer_id,
            order=order,
            idempotency_key=call.header(IDEMPOTENCY_KEY),
            channel=redemptions.RedemptionChannel.POS
            if caller.kind == CallerKind.POS
            else redemptions.RedemptionChannel.ONLINE,
            api_key_id=caller.api_key_id or "",
        ),
        lambda _: False,
    )
    return Reply(201, _redemption(redemption))


async def rollback_redemption(call: Call) -> Reply:
    body: models.RollbackRequest = call.body
    redemption = await redemptions.rollback_redemption(
        project_id=call.project_id, redemption_id=call.path("id"), reason=body.reason or ""
    )
    return Reply(200, _redemption(redemption))


async def _customer_id_by_source(call: Call, source_id: str, field: str) -> str:
    try:
        return (await customers.get_customer_by_source_id(call.project_id, source_id)).key
    except NotFound:
        raise NotFound("customer", field) from None


async def record_order(call: Call) -> Reply:
    body: models.OrderRequest = call.body
    customer_id = body.customer_id or ""
    if body.customer_source_id is not None:
        if customer_id:
            raise DomainError(
                CommonError.INVALID,
                "give customerId or customerSourceId, not both",
                "customerSourceId",
            )
        customer_id = await _customer_id_by_source(
            call, body.customer_source_id, "customerSourceId"
        )
    recorded = await orders.record_order(
        call.project_id,
        orders.OrderInput(
            order_id=body.id,
            amount=body.amount.to_domain("amount") if body.amount else None,
            customer_id=customer_id,
            items=[
                OrderItemInput(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=item.price.to_domain(f"items[{index}].price"),
                    category=item.category,
                )
                for index, item in enumerate(body.items)
            ],
            codes=body.codes,
        ),
    )
    order = recorded.order
    return Reply(
        201 if recorded.created else 200,
        models.RecordedOrder(
            id=order.order_id,
            customer_id=order.customer_id or None,
            amount=models.Money(amount=order.amount.amount, currency=order.amount.currency),
            items=[
                models.OrderItem(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=models.Money(amount=item.price.amount, currency=item.price.currency),
                    category=item.category,
                )
                for item in order.items
            ],
            codes=order.codes,
            status=order.status.value,
            created_at=order.created_at,
        ),
    )


async def upsert_customer(call: Call) -> Reply:
    body: models.CustomerUpsert = call.body
    consents = None
    if body.consents is not None:
        consents = customers.ConsentsInput(email=body.consents.email, sms=body.consents.sms)
    customer, created = await customer_lifecycle.upsert_customer_by_source_id(
        call.project_id,
        call.path("sourceId"),
        customers.CustomerInput(
            email=body.email,
            phone=body.phone,
            name=body.name,
            attributes=body.attributes,
            tags=body.tags,
            consents=consents,
        ),
        source=call.caller.actor,
    )
    return Reply(
        201 if created else 200,
        models.Customer(
            id=customer.key,
            source_id=customer.source_id,
            email=customer.email,
            phone=customer.phone,
            name=customer.name,
            attributes=customer.attributes,
            tags=customer.tags,
            consents=models.Consents(email=customer.consents.email, sms=customer.consents.sms),
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        ),
    )


async def _readable_customer(call: Call) -> str:
    """The customer the path names, by shop id. A customer token reads only itself: any other
    id, known or not, is refused alike so the token learns nothing about who else exists."""
    source_id = call.path("sourceId")
    if call.caller.kind == CallerKind.CUSTOMER:
        try:
            found = await customers.get_customer_by_source_id(call.project_id, source_id)
        except NotFound:
            found = None
        if found is None or found.key != call.caller.customer_id:
            raise Refused(403, "FORBIDDEN", "a customer token reads only its own customer")
        return found.key
    return await _customer_id_by_source(call, source_id, "sourceId")


async def customer_coupons(call: Call) -> Reply:
    customer_id = await _readable_customer(call)
    found = await codes.customer_codes(call.project_id, customer_id)
    campaigns = await campaigns_by_id(
        project_id=call.project_id, campaign_ids=sorted({code.campaign_id for code in found})
    )
    now = utc_now()
    base_url = call.settings.public_base_url
    coupons = [
        models.Coupon(
            code=code.code,
            display=code.display,
            campaign_id=code.campaign_id,
            status=codes.code_status(code, campaign, now).value,
            offer=codes.offer_text(campaign.discount),
            uses_left=codes.uses_left(code, campaign),
            expires_at=campaign.ends_at,
            url=codes.coupon_url(base_url, code),
        )
        for code in found
        if (campaign := campaigns.get(code.campaign_id)) is not None
    ]
    return Reply(200, models.CustomerCoupons(customer_id=customer_id, coupons=coupons))


async def customer_loyalty(call: Call) -> Reply:
    customer_id = await _readable_customer(call)
    cards = await loyalty.customer_cards(project_id=call.project_id, customer_id=customer_id)
    return Reply(
        200,
        models.LoyaltyBalance(
            customer_id=customer_id,
            cards=[
                models.LoyaltyCard(
                    campaign_id=card.campaign_id,
                    points=card.balance,
                    earned_total=card.earned_total,
                    tier=card.tier,
                )
                for card in cards
            ],
        ),
    )
