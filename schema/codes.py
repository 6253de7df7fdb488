"""GraphQL for codes: the Code type, looking a code up, publishing codes to customers."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from delivery import outbox
from domain import codes, links
from domain.campaigns import Campaign
from domain.common import utc_now
from domain.errors import NotFound
from domain.messages import MessageChannel
from domain.redemptions import list_redemptions
from schema.campaigns import CampaignType
from schema.context import Info
from schema.customers import CustomerType
from schema.described_enums import described_enum
from schema.errors import payload
from schema.guessing import code_attempt
from schema.messages import MessageChannelEnum, MessageType, message_links
from schema.permissions import IsAdmin, IsAdminOrCustomer, IsStaff
from schema.providers import DeliveryWarning, channel_warnings
from schema.redemptions import RedemptionType
from schema.types import Connection, UserError, connection


@described_enum(
    name="CodeKind",
    description="Whether a code belongs to one holder or is shared.",
    values={
        "UNIQUE": "A generated code, used by one holder (published to at most one customer).",
        "STANDALONE": "The campaign's one code shared by everyone (such as SUMMER20).",
    },
)
class CodeKindEnum(Enum):
    UNIQUE = "UNIQUE"
    STANDALONE = "STANDALONE"


@described_enum(
    name="CodeStatus",
    description="Whether a code can be redeemed now; a used-up code says REDEEMED first.",
    values={
        "ACTIVE": "Redeemable now (the campaign's other rules still apply at redemption).",
        "REDEEMED": "Used up: redeemed as often as the campaign's per-code limit allows.",
        "PAUSED": "The campaign is paused.",
        "NOT_STARTED": "The campaign starts later (startsAt is in the future).",
        "EXPIRED": "The campaign has ended (ENDED, or endsAt has passed).",
    },
)
class CodeStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    REDEEMED = "REDEEMED"
    PAUSED = "PAUSED"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"


@strawberry.type(
    name="Code",
    description=(
        "A coupon code of a DISCOUNT campaign. Readable by admin and POS keys, and by a customer "
        "token for its own codes."
    ),
)
class CodeType:
    id: strawberry.ID = strawberry.field(description="The code's id.")
    code: str = strawberry.field(description="Normalized: upper-case, no spaces or dashes.")
    display: str = strawberry.field(description="As printed, dashes kept.")
    kind: CodeKindEnum = strawberry.field(
        description="UNIQUE (one holder) or STANDALONE (shared by everyone)."
    )
    redeemed_count: int = strawberry.field(
        description=(
            "How many completed redemptions the code has (rolled back ones are given back)."
        )
    )
    published_at: datetime | None = strawberry.field(
        description="When the code was given to a customer, UTC ISO 8601; null while unpublished."
    )
    last_redeemed_at: datetime | None = strawberry.field(
        description="When the code was last redeemed, UTC ISO 8601; null if never."
    )
    variant: str = strawberry.field(
        description="The experiment variant the code was published in; empty outside one."
    )
    doc: strawberry.Private[codes.Code]
    known_campaign: strawberry.Private[Campaign | None] = None

    @classmethod
    def from_doc(cls, doc: codes.Code, campaign: Campaign | None = None) -> "CodeType":
        """Pass the campaign when the caller has it already, to spare a lookup."""
        return cls(
            id=strawberry.ID(str(doc.id)),
            code=doc.code,
            display=doc.display,
            kind=CodeKindEnum(doc.kind.value),
            redeemed_count=doc.redeemed_count,
            published_at=doc.published_at,
            last_redeemed_at=doc.last_redeemed_at,
            variant=doc.variant,
            doc=doc,
            known_campaign=campaign,
        )

    async def campaign_doc(self, info: Info) -> Campaign:
        """Through the request's loader: the campaigns of a list of codes are read at once."""
        if self.known_campaign is not None:
            return self.known_campaign
        found = await info.context.loaders.campaign.load(self.doc.campaign_id)
        if found is None:
            raise NotFound("campaign", "campaignId")
        return found

    @strawberry.field(description="The campaign the code belongs to.")
    async def campaign(self, info: Info) -> CampaignType:
        return CampaignType.from_doc(await self.campaign_doc(info))

    @strawberry.field(description="Whether the code can be redeemed now.")
    async def status(self, info: Info) -> CodeStatusEnum:
        status = codes.code_status(self.doc, await self.campaign_doc(info), utc_now())
        return CodeStatusEnum(status.value)

    @strawberry.field(description='The offer in a few words: "15% off", "Free shipping".')
    async def offer(self, info: Info) -> str:
        return codes.offer_text((await self.campaign_doc(info)).discount)

    @strawberry.field(description="Null when the campaign does not limit uses per code.")
    async def uses_left(self, info: Info) -> int | None:
        return codes.uses_left(self.doc, await self.campaign_doc(info))

    @strawberry.field(description="When the campaign ends, UTC ISO 8601; null: no end.")
    async def expires_at(self, info: Info) -> datetime | None:
        return (await self.campaign_doc(info)).ends_at

    @strawberry.field(
        permission_classes=[IsAdminOrCustomer],
        description="Who the code was published to; a customer sees only themselves.",
    )
    async def customer(self, info: Info) -> CustomerType | None:
        # Another customer's code is refused by the personal data policy, not here.
        return await CustomerType.load(info, self.doc.customer_id)

    @strawberry.field(
        permission_classes=[IsStaff], description="The code's redemptions, oldest first."
    )
    async def redemptions(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many redemptions to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[RedemptionType]:
        page = await list_redemptions(
            project_id=info.context.project_id, first=first, after=after, code_id=str(self.doc.id)
        )
        return connection(page, RedemptionType.from_doc)

    @strawberry.field(description="The coupon's own page.")
    def url(self, info: Info) -> str:
        return codes.coupon_url(info.context.settings.public_base_url, self.doc)

    @strawberry.field(description="The QR code of `url`, as an inline SVG.")
    def qr_svg(self, info: Info) -> str:
        return codes.qr_svg(codes.coupon_url(info.context.settings.public_base_url, self.doc))

    @strawberry.field(
        description="Downloads the code's Apple Wallet pass; the link carries its own token."
    )
    def apple_wallet_url(self, info: Info) -> str:
        settings = info.context.settings
        return links.apple_wallet_url(
            settings.public_base_url, settings.secret_key, self.doc.project_id, self.doc.code
        )

    @strawberry.field(
        description="Redirects to the code's Google Wallet save link; carries its own token."
    )
    def google_wallet_url(self, info: Info) -> str:
        settings = info.context.settings
        return links.google_wallet_url(
            settings.public_base_url, settings.secret_key, self.doc.project_id, self.doc.code
        )


@strawberry.type(
    description=(
        "The result of publishCode: the customer's code (and its message), or what was wrong."
    ),
)
class PublishCodePayload:
    code: CodeType | None = strawberry.field(
        default=None,
        description="The code published to the customer; null when `errors` is not empty.",
    )
    message: MessageType | None = strawberry.field(
        default=None, description="The coupon message, when a channel was given."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )
    warnings: list[DeliveryWarning] = strawberry.field(
        default_factory=list,
        description="Set when the message will be recorded in the sink, not sent.",
    )


@strawberry.type
class CodeQuery:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="Case, spaces and dashes are ignored. Null when the project has no such code.",
    )
    async def code(
        self,
        info: Info,
        code: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The code as printed or typed; case, spaces and dashes are ignored. Counts as "
                    "one guessing attempt of the caller."
                )
            ),
        ],
    ) -> CodeType | None:
        found = await code_attempt(
            info, lambda: codes.find_code(info.context.project_id, code), lambda f: f is None
        )
        return None if found is None else CodeType.from_doc(found)


@strawberry.type
class CodeMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Gives the customer a code of the campaign; calling again returns the same "
        "code until the campaign's codesPerCustomer allows another. With a channel, the code "
        "is also sent (template builtin:coupon), once.",
    )
    @payload
    async def publish_code(
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The DISCOUNT campaign to give a code of."),
        ],
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer who gets the code.")
        ],
        channel: Annotated[
            MessageChannelEnum | None,
            strawberry.argument(
                description="EMAIL or SMS to send the code by; null sends nothing."
            ),
        ] = None,
    ) -> PublishCodePayload:
        code, message = await outbox.publish_and_queue(
            message_links(info),
            info.context.project_id,
            str(campaign_id),
            str(customer_id),
            MessageChannel(channel.value) if channel else None,
        )
        warnings = await channel_warnings(info, [message.channel] if message else [])
        return PublishCodePayload(
            code=CodeType.from_doc(code),
            message=MessageType(doc=message) if message else None,
            warnings=warnings,
        )
