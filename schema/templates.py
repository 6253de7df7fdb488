"""GraphQL for message templates: the built-ins, the project's own, and previews."""

from datetime import datetime
from typing import Annotated

import strawberry

from delivery import rendering
from domain import codes, customers, templates
from domain.errors import NotFound
from domain.messages import MessageChannel
from domain.projects import get_project
from schema.context import Info
from schema.errors import payload
from schema.messages import MessageChannelEnum
from schema.permissions import IsAdmin
from schema.types import UserError


@strawberry.type(
    name="Template",
    description=(
        "A message template: a built-in (builtin:<name>) or one of the project's own, in "
        "Jinja. Readable by admin keys."
    ),
)
class TemplateType:
    id: strawberry.ID = strawberry.field(
        description='A stored template\'s id, or "builtin:<name>" for a built-in.'
    )
    built_in: bool = strawberry.field(
        description="Whether it is a built-in, which cannot be changed."
    )
    name: str = strawberry.field(description="The template's name, 1 to 100 characters.")
    channel: MessageChannelEnum | None = strawberry.field(
        description="Null for built-ins: they are usable on both channels."
    )
    subject: str = strawberry.field(
        description='EMAIL: the subject\'s template source; "" for SMS.'
    )
    html: str = strawberry.field(
        description=(
            "EMAIL: the HTML body's template source (it links to {{ unsubscribe_url "
            '}}); "" for SMS.'
        )
    )
    text: str = strawberry.field(
        description="The plain-text template source: the SMS text, or the email's text part."
    )
    needs_code: bool = strawberry.field(
        description="Uses the code, its offer or wallet links: sending it needs a code."
    )
    sms_encoding: str | None = strawberry.field(
        description='SMS: "GSM-7" or "UCS-2" for the body rendered with sample data; '
        "null for EMAIL."
    )
    sms_segments: int | None = strawberry.field(
        description=(
            "SMS: how many segments the body rendered with sample data needs; null for EMAIL."
        )
    )
    version: int = strawberry.field(description="Bumped by each update; 0 for built-ins.")
    created_at: datetime | None = strawberry.field(
        description="When the template was created, UTC ISO 8601; null for built-ins."
    )
    updated_at: datetime | None = strawberry.field(
        description="When the template last changed, UTC ISO 8601; null for built-ins."
    )

    @classmethod
    def from_doc(cls, doc: templates.MessageTemplate) -> "TemplateType":
        is_sms = doc.channel == MessageChannel.SMS
        return cls(
            id=strawberry.ID(doc.key),
            built_in=False,
            name=doc.name,
            channel=MessageChannelEnum(doc.channel.value),
            subject=doc.subject,
            html=doc.html,
            text=doc.text,
            needs_code=doc.needs_code,
            sms_encoding=doc.sms_encoding if is_sms else None,
            sms_segments=doc.sms_segments if is_sms else None,
            version=doc.version,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        )

    @classmethod
    def from_builtin(cls, compiled: rendering.CompiledTemplate) -> "TemplateType":
        sms = (
            rendering.builtin_sms_info(name=compiled.name)
            if compiled.channel == MessageChannel.SMS
            else None
        )
        return cls(
            id=strawberry.ID(compiled.ref),
            built_in=True,
            name=compiled.name,
            channel=None,
            subject=compiled.subject_source,
            html=compiled.html_source,
            text=compiled.text_source,
            needs_code=compiled.needs_code,
            sms_encoding=sms.encoding if sms else None,
            sms_segments=sms.segments if sms else None,
            version=0,
            created_at=None,
            updated_at=None,
        )


@strawberry.input(
    description="A new template of the project.",
)
class TemplateInput:
    name: str = strawberry.field(description="1 to 100 characters.")
    channel: MessageChannelEnum = strawberry.field(description="EMAIL or SMS.")
    subject: str = strawberry.field(
        default="", description="EMAIL (required): the subject, at most 500 characters."
    )
    html: str = strawberry.field(
        default="",
        description=(
            "EMAIL (required): the HTML body, at most 100,000 characters; it must "
            "link to {{ unsubscribe_url }}."
        ),
    )
    text: str = strawberry.field(
        default="",
        description=(
            "The plain text: the SMS (required, at most 2,000 characters, ending with "
            "how to opt out) or the email's text part (at most 20,000)."
        ),
    )


@strawberry.input(
    description="Changes to a template; left-out fields keep their value.",
)
class TemplateChangesInput:
    name: str | None = strawberry.field(default=None, description="1 to 100 characters.")
    channel: MessageChannelEnum | None = strawberry.field(default=None, description="EMAIL or SMS.")
    subject: str | None = strawberry.field(
        default=None, description="EMAIL: the subject, at most 500 characters."
    )
    html: str | None = strawberry.field(
        default=None,
        description=(
            "EMAIL: the HTML body, at most 100,000 characters; it must link to {{ "
            "unsubscribe_url }}."
        ),
    )
    text: str | None = strawberry.field(
        default=None,
        description=(
            "The plain text: the SMS (at most 2,000 characters) or the email's text "
            "part (at most 20,000)."
        ),
    )


@strawberry.type(
    description="The result of a template mutation: the template, or what was wrong.",
)
class TemplatePayload:
    template: TemplateType | None = strawberry.field(
        default=None, description="The template as stored; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong (TemplateError, RenderingError or CommonError codes); "
            "empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    description=(
        "A template rendered for one customer, as a send would carry it; nothing is sent. "
        "Readable by admin keys."
    ),
)
class TemplatePreview:
    subject: str | None = strawberry.field(
        default=None, description="EMAIL: the rendered subject; null for SMS or on errors."
    )
    text: str | None = strawberry.field(
        default=None,
        description="The rendered plain text: the SMS, or the email's text part; null on errors.",
    )
    html: str | None = strawberry.field(
        default=None, description="EMAIL: the rendered HTML; null for SMS or on errors."
    )
    sms_encoding: str | None = strawberry.field(
        default=None, description='SMS: "GSM-7" or "UCS-2"; null for EMAIL.'
    )
    sms_segments: int | None = strawberry.field(
        default=None, description="SMS: how many segments the text needs; null for EMAIL."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why the template could not be rendered; empty on success.",
    )
    customer_id: strawberry.Private[str] = ""

    def personal_data_owner(self) -> str:
        return self.customer_id


def _channel(value: MessageChannelEnum | None) -> MessageChannel | None:
    return None if value is None else MessageChannel(value.value)


async def _check(info: Info) -> templates.TemplateCheck:
    """The save-time check with this service's limits and the project's brand."""
    settings = info.context.settings
    project = await get_project(info.context.project_id)
    return rendering.template_check(
        max_sms_segments=settings.sms_max_segments,
        base_url=settings.public_base_url,
        brand=project.brand,
    )


@strawberry.type
class TemplateQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The built-ins (bodies for `channel`, EMAIL when not given), then the "
        "project's templates, oldest first.",
    )
    async def templates(
        self,
        info: Info,
        channel: Annotated[
            MessageChannelEnum | None,
            strawberry.argument(
                description=(
                    "Which channel's built-in bodies and stored templates; null: built-ins "
                    "for EMAIL and every stored template."
                )
            ),
        ] = None,
    ) -> list[TemplateType]:
        wanted = _channel(channel)
        builtins = rendering.builtin_templates(channel=wanted or MessageChannel.EMAIL)
        stored = await templates.list_templates(info.context.project_id, wanted)
        return [TemplateType.from_builtin(t) for t in builtins] + [
            TemplateType.from_doc(t) for t in stored
        ]

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="What a send of the template to the customer with the code would carry. "
        "The channel defaults to the template's (EMAIL for built-ins).",
    )
    @payload
    async def preview_template(
        self,
        info: Info,
        template_id: Annotated[
            strawberry.ID, strawberry.argument(description="The template's id or builtin:<name>.")
        ],
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer it is rendered for.")
        ],
        code: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "A code of the project to render with (case, spaces and dashes ignored); "
                    "needed by templates that show a code."
                )
            ),
        ] = None,
        channel: Annotated[
            MessageChannelEnum | None,
            strawberry.argument(description="EMAIL or SMS; null for the template's own."),
        ] = None,
    ) -> TemplatePreview:
        project_id = info.context.project_id
        ref = str(template_id)
        wanted = _channel(channel)
        if wanted is None:
            wanted = (
                MessageChannel.EMAIL
                if templates.is_builtin_ref(ref)
                else (await templates.get_template(project_id, ref, "templateId")).channel
            )
        try:
            customer = await customers.get_customer(project_id, str(customer_id))
        except NotFound:
            raise NotFound("customer", "customerId") from None
        found = None
        if code is not None:
            found = await codes.find_code(project_id, code)
            if found is None:
                raise NotFound("code", "code")
        settings = info.context.settings
        rendered = await rendering.render_message(
            base_url=settings.public_base_url,
            secret_key=settings.secret_key,
            project=await get_project(project_id),
            template_ref=ref,
            channel=wanted,
            customer=customer,
            code=found,
        )
        return TemplatePreview(
            subject=rendered.subject if wanted == MessageChannel.EMAIL else None,
            text=rendered.text,
            html=rendered.html if wanted == MessageChannel.EMAIL else None,
            sms_encoding=rendered.sms.encoding if rendered.sms else None,
            sms_segments=rendered.sms.segments if rendered.sms else None,
            customer_id=customer.key,
        )


@strawberry.type
class TemplateMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Stored only once a render with sample data passes: unknown variables, "
        "unsafe constructs, a missing opt-out or an SMS over the segment limit are refused.",
    )
    @payload
    async def create_template(
        self,
        info: Info,
        input: Annotated[TemplateInput, strawberry.argument(description="The template.")],
    ) -> TemplatePayload:
        content = templates.TemplateContent(
            name=input.name,
            channel=MessageChannel(input.channel.value),
            subject=input.subject,
            html=input.html,
            text=input.text,
        )
        created = await templates.create_template(
            info.context.project_id, content, await _check(info)
        )
        return TemplatePayload(template=TemplateType.from_doc(created))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Checks the changed template as a whole, like createTemplate, and bumps "
        "its version.",
    )
    @payload
    async def update_template(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The template's id (not a built-in).")
        ],
        input: Annotated[TemplateChangesInput, strawberry.argument(description="The changes.")],
    ) -> TemplatePayload:
        changes = templates.TemplateChanges(
            name=input.name,
            channel=_channel(input.channel),
            subject=input.subject,
            html=input.html,
            text=input.text,
        )
        updated = await templates.update_template(
            info.context.project_id, str(id), changes, await _check(info)
        )
        return TemplatePayload(template=TemplateType.from_doc(updated))
