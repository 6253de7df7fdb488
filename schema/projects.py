"""GraphQL for the caller's project and its API keys."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import projects
from schema.context import Info
from schema.described_enums import described_enum
from schema.errors import payload
from schema.permissions import IsAdmin, IsStaff
from schema.providers import SmtpServerType, TwilioAccountType
from schema.types import UserError


@described_enum(
    description="What an API key may do.",
    values={
        "ADMIN": "Everything in its project: setup, customers, campaigns, messages, statistics.",
        "POS": (
            "The till: look codes up, validate and redeem them, roll redemptions back, read the "
            "brand. Sees customer ids only."
        ),
    },
)
class ApiKeyRole(Enum):
    ADMIN = "ADMIN"
    POS = "POS"


@strawberry.type(
    name="Brand",
    description="The project's look on its pages, messages and passes.",
)
class BrandType:
    name: str = strawberry.field(description="The brand's name; \"\" to use the project's name.")
    primary_color: str = strawberry.field(description="The main color, #RGB or #RRGGBB.")
    accent_color: str = strawberry.field(description="The accent color, #RGB or #RRGGBB.")
    logo_url: str = strawberry.field(description='An https address of the logo image; "" for none.')
    shop_url: str = strawberry.field(
        description=(
            "Where coupons are used online (the coupon page links here with "
            '`code=<CODE>`); "" for none.'
        )
    )
    display_name: str = strawberry.field(
        default="", description="The name pages show: `name`, else the project's name tidied."
    )

    @classmethod
    def from_project(cls, doc: projects.Project) -> "BrandType":
        return cls(**doc.brand.model_dump(), display_name=projects.display_name(doc))


@strawberry.input(
    description="Changes to the brand; left-out fields keep their value.",
)
class BrandInput:
    name: str | None = strawberry.field(
        default=None,
        description="The brand's name, 1 to 100 characters; \"\" uses the project's name.",
    )
    primary_color: str | None = strawberry.field(
        default=None, description="The main color, #RGB or #RRGGBB."
    )
    accent_color: str | None = strawberry.field(
        default=None, description="The accent color, #RGB or #RRGGBB."
    )
    logo_url: str | None = strawberry.field(default=None, description='https only; "" clears.')
    shop_url: str | None = strawberry.field(
        default=None, description='Where coupons are used online; "" clears.'
    )


@strawberry.type(
    name="Messaging",
    description=(
        "How the project's messages are sent: senders, quiet hours and its own providers."
    ),
)
class MessagingType:
    email_from: str = strawberry.field(description='"" means the service default.')
    sms_from: str = strawberry.field(description='"" means the service default.')
    timezone: str = strawberry.field(
        description=(
            "The IANA time zone of quiet hours for customers without a `timezone` attribute."
        )
    )
    quiet_hours: bool = strawberry.field(
        description="No SMS arrives between quietStart and quietEnd."
    )
    quiet_start: str = strawberry.field(description="When the quiet hours start, HH:MM local time.")
    quiet_end: str = strawberry.field(
        description="When the quiet hours end, HH:MM local time; may be past midnight."
    )
    smtp: SmtpServerType | None = strawberry.field(
        default=None, description="The project's own SMTP server; null: the installation's."
    )
    twilio: TwilioAccountType | None = strawberry.field(
        default=None, description="The project's own Twilio account; null: the installation's."
    )

    @classmethod
    def of(cls, messaging: projects.Messaging) -> "MessagingType":
        smtp, twilio = messaging.smtp, messaging.twilio
        return cls(
            **messaging.model_dump(exclude={"smtp", "twilio"}),
            smtp=SmtpServerType.of(smtp) if smtp is not None else None,
            twilio=TwilioAccountType.of(twilio) if twilio is not None else None,
        )


@strawberry.type(
    name="Project",
    description="The caller's project. Readable by admin keys.",
)
class ProjectType:
    id: strawberry.ID = strawberry.field(description="The project's id.")
    name: str = strawberry.field(
        description="The project's name (as given to `engage create-project`)."
    )
    sandbox: bool = strawberry.field(
        description=(
            "Whether the project is a sandbox: its messages are recorded in the sink, never sent."
        )
    )
    brand: BrandType = strawberry.field(description="The project's look.")
    messaging: MessagingType = strawberry.field(description="How its messages are sent.")
    created_at: datetime = strawberry.field(
        description="When the project was created, UTC ISO 8601."
    )

    @classmethod
    def from_doc(cls, doc: projects.Project) -> "ProjectType":
        return cls(
            id=strawberry.ID(doc.key),
            name=doc.name,
            sandbox=doc.sandbox,
            brand=BrandType.from_project(doc),
            messaging=MessagingType.of(doc.messaging),
            created_at=doc.created_at,
        )


@strawberry.type(
    description="The result of a project settings mutation: the project, or what was wrong.",
)
class ProjectPayload:
    project: ProjectType | None = strawberry.field(
        default=None, description="The project after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    name="ApiKey",
    description="An API key of the project (never the key itself). Readable by admin keys.",
)
class ApiKeyType:
    id: strawberry.ID = strawberry.field(description="The key's id.")
    role: ApiKeyRole = strawberry.field(description="What the key may do.")
    name: str = strawberry.field(
        description=('A name to tell keys apart (such as "Till 3"); "" when none.')
    )
    prefix: str = strawberry.field(description="The key's first characters, to recognize it.")
    created_at: datetime = strawberry.field(description="When the key was created, UTC ISO 8601.")
    revoked_at: datetime | None = strawberry.field(
        description="When the key was revoked, UTC ISO 8601; null while it works."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When the key was last used, UTC ISO 8601, to the minute; null if never."
    )

    @classmethod
    def from_doc(cls, doc: projects.ApiKey) -> "ApiKeyType":
        return cls(
            id=strawberry.ID(str(doc.id)),
            role=ApiKeyRole(doc.role.value),
            name=doc.name,
            prefix=doc.prefix,
            created_at=doc.created_at,
            revoked_at=doc.revoked_at,
            last_used_at=doc.last_used_at,
        )


@strawberry.type(
    description="The result of createApiKey: the key and its secret, or what was wrong.",
)
class CreateApiKeyPayload:
    api_key: ApiKeyType | None = strawberry.field(
        default=None, description="The new key; null when `errors` is not empty."
    )
    secret: str | None = strawberry.field(
        default=None, description="The key itself: shown once, stored only as a hash."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the request; empty on success."
    )


@strawberry.type(
    description="The result of revokeApiKey: the revoked key, or what was wrong.",
)
class RevokeApiKeyPayload:
    api_key: ApiKeyType | None = strawberry.field(
        default=None, description="The key as revoked; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the request; empty on success."
    )


@strawberry.type
class ProjectQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The caller's project and its settings.",
    )
    async def project(self, info: Info) -> ProjectType:
        return ProjectType.from_doc(await projects.get_project(info.context.project_id))

    @strawberry.field(
        permission_classes=[IsStaff],
        description="The project's brand, as its pages show it.",
    )
    async def brand(self, info: Info) -> BrandType:
        return BrandType.from_project(await projects.get_project(info.context.project_id))

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The project's API keys, oldest first, revoked ones included.",
    )
    async def api_keys(self, info: Info) -> list[ApiKeyType]:
        keys = await projects.list_api_keys(info.context.project_id)
        return [ApiKeyType.from_doc(k) for k in keys]


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Creates an API key; its secret is returned once.",
    )
    @payload
    async def create_api_key(
        self,
        info: Info,
        role: Annotated[ApiKeyRole, strawberry.argument(description="ADMIN or POS.")],
        name: Annotated[
            str, strawberry.argument(description='A name to tell keys apart, such as "Till 3".')
        ] = "",
    ) -> CreateApiKeyPayload:
        issued = await projects.create_api_key(
            info.context.project_id, projects.Role(role.value), name
        )
        return CreateApiKeyPayload(
            api_key=ApiKeyType.from_doc(issued.api_key), secret=issued.secret
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Changes the look of the project's pages, messages and passes.",
    )
    @payload
    async def update_brand(
        self,
        info: Info,
        input: Annotated[BrandInput, strawberry.argument(description="The changes.")],
    ) -> ProjectPayload:
        changes = projects.BrandChanges(
            name=input.name,
            primary_color=input.primary_color,
            accent_color=input.accent_color,
            logo_url=input.logo_url,
            shop_url=input.shop_url,
        )
        project = await projects.update_brand(info.context.project_id, changes)
        return ProjectPayload(project=ProjectType.from_doc(project))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Revokes an API key for good; requests with it are refused from then on.",
    )
    @payload
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's id.")],
    ) -> RevokeApiKeyPayload:
        api_key = await projects.revoke_api_key(info.context.project_id, str(id))
        return RevokeApiKeyPayload(api_key=ApiKeyType.from_doc(api_key))
