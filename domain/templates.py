"""Message templates authored per project: stored only after a check render accepts them."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import IndexModel, ReturnDocument

from domain.common import object_id, utc_now
from domain.errors import CommonError, DomainError, ErrorCode, NotFound, Problem
from domain.messages import MessageChannel
from domain.storable import text_problem


class TemplateError(ErrorCode):
    """Returned by the template mutations."""

    BUILT_IN_TEMPLATE = "BUILT_IN_TEMPLATE"
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"


BUILTIN_PREFIX = "builtin:"
MAX_NAME = 100
MAX_SUBJECT = 500
MAX_HTML = 100_000
MAX_TEXT = 20_000
MAX_SMS = 2_000
MAX_TEMPLATES_LISTED = 1_000
# A concurrent update between our read and our write makes us check the merged content again.
UPDATE_ATTEMPTS = 5
TEMPLATE_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)


class MessageTemplate(Document):
    project_id: str
    name: str
    channel: MessageChannel
    subject: str = ""
    html: str = ""
    text: str = ""
    # Uses the code or its offer or wallet links: it cannot be sent without a code.
    needs_code: bool = False
    # SMS only, from the check render: "GSM-7" or "UCS-2" and the segments it takes.
    sms_encoding: str = ""
    sms_segments: int = 0
    # Starts at 1, bumped by every update; compiled templates are cached by (id, version).
    version: int = 1
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "templates"
        indexes = [IndexModel([("project_id", 1), ("channel", 1), ("created_at", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)


@dataclass(frozen=True)
class TemplateContent:
    name: str
    channel: MessageChannel
    subject: str = ""
    html: str = ""
    text: str = ""


@dataclass(frozen=True)
class TemplateChanges:
    """New values; None leaves a field as it is."""

    name: str | None = None
    channel: MessageChannel | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class CheckedTemplate:
    """What a check render found: the content passed, and the facts stored with it."""

    needs_code: bool
    sms_encoding: str = ""
    sms_segments: int = 0


# Renders the content with sample data and raises DomainError when it would fail at send time.
# Lives in delivery/rendering/checks.py (check_template); domain only calls it.
TemplateCheck = Callable[[TemplateContent], CheckedTemplate]


def validated_content(content: TemplateContent) -> TemplateContent:
    """Trimmed content within the size limits, with the fields its channel uses."""
    problems: list[Problem] = [
        problem
        for field, text, multiline in (
            ("name", content.name, False),
            # The subject becomes a mail header: a line break there would start another header.
            ("subject", content.subject, False),
            ("html", content.html, True),
            ("text", content.text, True),
        )
        if (problem := text_problem(text, field, multiline)) is not None
    ]
    name = content.name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        problems.append(
            Problem(CommonError.INVALID, f"a name has 1 to {MAX_NAME} characters", "name")
        )
    if content.channel not in TEMPLATE_CHANNELS:
        problems.append(Problem(CommonError.INVALID, "a template is for EMAIL or SMS", "channel"))
    subject = content.subject.strip()
    if content.channel == MessageChannel.SMS:
        if subject or content.html.strip():
            problems.append(
                Problem(
                    CommonError.INVALID,
                    "an SMS template has a text only, no subject or html",
                    "html",
                )
            )
        if not content.text.strip():
            problems.append(Problem(CommonError.REQUIRED, "an SMS template needs a text", "text"))
        elif len(content.text) > MAX_SMS:
            problems.append(
                Problem(
                    CommonError.TOO_LARGE,
                    f"an SMS template has at most {MAX_SMS} characters",
                    "text",
                )
            )
    else:
        if not subject:
            problems.append(
                Problem(CommonError.REQUIRED, "an email template needs a subject", "subject")
            )
        elif len(subject) > MAX_SUBJECT:
            problems.append(
                Problem(
                    CommonError.TOO_LARGE,
                    f"a subject has at most {MAX_SUBJECT} characters",
                    "subject",
                )
            )
        if not content.html.strip():
            problems.append(
                Problem(CommonError.REQUIRED, "an email template needs an html body", "html")
            )
        elif len(content.html) > MAX_HTML:
            problems.append(
                Problem(
                    CommonError.TOO_LARGE, f"an html body has at most {MAX_HTML} characters", "html"
                )
            )
        if len(content.text) > MAX_TEXT:
            problems.append(
                Problem(
                    CommonError.TOO_LARGE, f"a text body has at most {MAX_TEXT} characters", "text"
                )
            )
    if problems:
        raise DomainError.of(problems)
    return replace(content, name=name, subject=subject)


def _stored_fields(content: TemplateContent, checked: CheckedTemplate) -> dict[str, object]:
    return {
        "name": content.name,
        "channel": content.channel.value,
        "subject": content.subject,
        "html": content.html,
        "text": content.text,
        "needs_code": checked.needs_code,
        "sms_encoding": checked.sms_encoding,
        "sms_segments": checked.sms_segments,
    }


async def create_template(
    project_id: str, content: TemplateContent, check: TemplateCheck
) -> MessageTemplate:
    """Stores the template once `check` accepts it; a refused template writes nothing."""
    content = validated_content(content)
    checked = check(content)
    template = MessageTemplate(
        project_id=project_id,
        name=content.name,
        channel=content.channel,
        subject=content.subject,
        html=content.html,
        text=content.text,
        needs_code=checked.needs_code,
        sms_encoding=checked.sms_encoding,
        sms_segments=checked.sms_segments,
    )
    await template.insert()
    return template


def _merged(current: MessageTemplate, changes: TemplateChanges) -> TemplateContent:
    return TemplateContent(
        name=current.name if changes.name is None else changes.name,
        channel=current.channel if changes.channel is None else changes.channel,
        subject=current.subject if changes.subject is None else changes.subject,
        html=current.html if changes.html is None else changes.html,
        text=current.text if changes.text is None else changes.text,
    )


async def update_template(
    project_id: str, template_id: str, changes: TemplateChanges, check: TemplateCheck
) -> MessageTemplate:
    """Checks the changed template as a whole and writes it with its version bumped, only
    over the version that was checked, so two concurrent updates cannot mix their fields."""
    for _ in range(UPDATE_ATTEMPTS):
        current = await get_template(project_id, template_id)
        content = validated_content(_merged(current, changes))
        checked = check(content)
        raw = await MessageTemplate.get_pymongo_collection().find_one_and_update(
            {"_id": current.id, "project_id": project_id, "version": current.version},
            {
                "$set": {**_stored_fields(content, checked), "updated_at": utc_now()},
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is not None:
            return MessageTemplate.model_validate(raw)
    raise DomainError(
        TemplateError.CONCURRENT_UPDATE,
        "the template kept changing while this update was checked",
        "id",
    )


def is_builtin_ref(template_ref: str) -> bool:
    return template_ref.startswith(BUILTIN_PREFIX)


async def get_template(project_id: str, template_id: str, field: str = "id") -> MessageTemplate:
    if is_builtin_ref(template_id):
        raise DomainError(
            TemplateError.BUILT_IN_TEMPLATE,
            "built-in templates cannot be changed: create your own",
            field,
        )
    template = await MessageTemplate.find_one(
        {"_id": object_id(template_id, "template", field), "project_id": project_id}
    )
    if template is None:
        raise NotFound("template", field)
    return template


async def list_templates(
    project_id: str, channel: MessageChannel | None = None
) -> list[MessageTemplate]:
    """The project's templates, oldest first."""
    query: dict[str, str] = {"project_id": project_id}
    if channel is not None:
        query["channel"] = channel.value
    return (
        await MessageTemplate.find(query)
        .sort("created_at", "_id")
        .limit(MAX_TEMPLATES_LISTED)
        .to_list()
    )
