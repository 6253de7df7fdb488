"""GraphQL for the caller's project and its API keys."""

from datetime import datetime
from enum import Enum

import strawberry

from domain import projects
from schema.context import Info
from schema.errors import payload
from schema.permissions import IsAdmin, IsStaff
from schema.providers import SmtpServerType, TwilioAccountType
from schema.types import UserError


@strawberry.enum
class ApiKeyRole(Enum):
    ADMIN = "ADMIN"
    POS = "POS"


@strawberry.type(name="Brand")
class BrandType:
    name: str
    primary_color: str
    accent_color: str
    logo_url: str
    shop_url: str
    display_name: str = strawberry.field(
        default="", description="The name pages show: `name`, else the project's name tidied."
    )

    @classmethod
    def from_project(cls, doc: projects.Project) -> "BrandType":
        return cls(**doc.brand.model_dump(), display_name=projects.display_name(doc))


@strawberry.input
class BrandInput:
    name: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None
    logo_url: str | None = strawberry.field(default=None, description='https only; "" clears.')
    shop_url: str | None = strawberry.field(
        default=None, description='Where coupons are used online; "" clears.'
    )


@strawberry.type(name="Messaging")
class MessagingType:
    email_from: str = strawberry.field(description='"" means the service default.')
    sms_from: str = strawberry.field(description='"" means the service default.')
    timezone: str
    quiet_hours: bool = strawberry.field(
        description="No SMS arrives between quietStart and quietEnd."
    )
    quiet_start: str
    quiet_end: str
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


@strawberry.type(name="Project")
class ProjectType:
    id: strawberry.ID
    name: str
    sandbox: bool
    brand: BrandType
    messaging: MessagingType
    created_at: datetime

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


@strawberry.type
class ProjectPayload:
    project: ProjectType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(name="ApiKey")
class ApiKeyType:
    id: strawberry.ID
    role: ApiKeyRole
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

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


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKeyType | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key itself: shown once, stored only as a hash."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeApiKeyPayload:
    api_key: ApiKeyType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProjectQuery:
    @strawberry.field(permission_classes=[IsAdmin])
    async def project(self, info: Info) -> ProjectType:
        return ProjectType.from_doc(await projects.get_project(info.context.project_id))

    @strawberry.field(
        permission_classes=[IsStaff],
        description="The project's brand, as its pages show it; readable with a till key.",
    )
    async def brand(self, info: Info) -> BrandType:
        return BrandType.from_project(await projects.get_project(info.context.project_id))

    @strawberry.field(permission_classes=[IsAdmin])
    async def api_keys(self, info: Info) -> list[ApiKeyType]:
        keys = await projects.list_api_keys(info.context.project_id)
        return [ApiKeyType.from_doc(k) for k in keys]


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_api_key(
        self, info: Info, role: ApiKeyRole, name: str = ""
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
    async def update_brand(self, info: Info, input: BrandInput) -> ProjectPayload:
        changes = projects.BrandChanges(
            name=input.name,
            primary_color=input.primary_color,
            accent_color=input.accent_color,
            logo_url=input.logo_url,
            shop_url=input.shop_url,
        )
        project = await projects.update_brand(info.context.project_id, changes)
        return ProjectPayload(project=ProjectType.from_doc(project))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> RevokeApiKeyPayload:
        api_key = await projects.revoke_api_key(info.context.project_id, str(id))
        return RevokeApiKeyPayload(api_key=ApiKeyType.from_doc(api_key))
