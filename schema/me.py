"""GraphQL for `me`: what a customer token reads of its own customer (profile, coupons,
loyalty cards, referral link). Above customers, codes and loyalty, whose types it returns."""

from typing import Annotated

import strawberry

from domain import codes, customers, loyalty, referrals
from schema.codes import CodeType
from schema.context import Info
from schema.customers import CustomerType
from schema.loyalty import LoyaltyCardType
from schema.permissions import IsCustomer


@strawberry.type(
    description="What a customer token reads of its own customer.",
)
class Me:
    customer_id: strawberry.Private[str]

    @strawberry.field(description="The customer's own profile.")
    async def customer(self, info: Info) -> CustomerType:
        customer = await customers.get_customer(info.context.project_id, self.customer_id)
        return CustomerType.from_doc(customer)

    @strawberry.field(
        description="The codes published to the customer, newest first (100 at most)."
    )
    async def coupons(self, info: Info) -> list[CodeType]:
        found = await codes.customer_codes(info.context.project_id, self.customer_id)
        return [CodeType.from_doc(code) for code in found]

    @strawberry.field(
        description="The customer's card in each loyalty program: those they have points in, "
        "and an empty one for each active program."
    )
    async def loyalty_cards(self, info: Info) -> list[LoyaltyCardType]:
        cards = await loyalty.customer_cards(
            project_id=info.context.project_id, customer_id=self.customer_id
        )
        return [LoyaltyCardType.from_doc(card) for card in cards]

    @strawberry.field(
        description="The customer's link to share (`<base>/r/<code>`) in the given referral "
        "program, or in the project's newest running one; made on first ask. Null when no "
        "program runs."
    )
    async def referral_link(
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="The REFERRAL campaign; null picks the project's newest running one."
            ),
        ] = None,
    ) -> str | None:
        code = await referrals.my_referral_link(
            project_id=info.context.project_id,
            customer_id=self.customer_id,
            campaign_id=str(campaign_id) if campaign_id is not None else None,
        )
        return (
            None
            if code is None
            else referrals.referral_url(base_url=info.context.settings.public_base_url, code=code)
        )


@strawberry.type
class MeQuery:
    @strawberry.field(
        permission_classes=[IsCustomer],
        description=(
            "The caller's own customer; needs a customer token (from issueCustomerToken)."
        ),
    )
    def me(self, info: Info) -> Me:
        assert info.context.caller.customer_id is not None
        return Me(customer_id=info.context.caller.customer_id)
