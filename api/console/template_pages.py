"""Console pages for message templates: the list (built-ins and the project's own), and an
editor whose preview renders the draft with sample data through delivery.rendering (the sandbox
the sends use) and shows the typed problems createTemplate and updateTemplate would give. Saving
goes through domain.templates with the same check as the mutations."""

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    FormErrors,
    Visit,
    capitalised,
    console_page,
    form_errors,
    redirect,
    render,
    settings_of,
    url,
)
from delivery import rendering
from domain import templates
from domain.console import ConsoleRole
from domain.errors import DomainError, NotFound, Problem
from domain.messages import MessageChannel

TEMPLATES = ("messages/templates.html", "messages/template.html", "messages/tabs.html")
CHANNELS = [("EMAIL", "Email"), ("SMS", "SMS")]
FIELDS = ("name", "channel", "subject", "html", "text")
# The preview frame shows the email as sent: its inline styles and remote images (a logo) are
# allowed on these pages only; scripts stay limited to our own files, and the frame's sandbox
# runs none.
EDITOR_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "img-src 'self' data: https:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class PreviewView:
    """A rendered draft for the page: the parts, the SMS length, and the problems."""

    subject: str
    html: str
    text: str
    sms_encoding: str
    sms_characters: int
    sms_segments: int
    rendered: bool
    problems: tuple[Problem, ...]


def _channel(value: str) -> MessageChannel:
    return MessageChannel.SMS if value == MessageChannel.SMS.value else MessageChannel.EMAIL


def content_of(values: dict[str, str]) -> templates.TemplateContent:
    channel = _channel(values.get("channel", ""))
    sms = channel == MessageChannel.SMS
    return templates.TemplateContent(
        name=values.get("name", ""),
        channel=channel,
        # An SMS has a text only: the email parts left in the form are not sent along.
        subject="" if sms else values.get("subject", ""),
        html="" if sms else values.get("html", ""),
        text=values.get("text", ""),
    )


def read_values(form: FormData) -> dict[str, str]:
    # Browsers send textarea line breaks as CRLF; templates are stored with LF.
    return {name: str(form.get(name) or "").replace("\r\n", "\n") for name in FIELDS}


def preview_of(request: Request, visit: Visit, values: dict[str, str]) -> PreviewView:
    settings = settings_of(request)
    found = rendering.preview_content(
        content=content_of(values),
        max_sms_segments=settings.sms_max_segments,
        base_url=settings.public_base_url,
        brand=visit.project.brand,
    )
    shown = found.rendered
    sms = shown.sms if shown else None
    return PreviewView(
        subject=shown.subject if shown else "",
        html=shown.html if shown else "",
        text=shown.text if shown else "",
        sms_encoding=sms.encoding if sms else "",
        sms_characters=sms.characters if sms else 0,
        sms_segments=sms.segments if sms else 0,
        rendered=shown is not None,
        problems=found.problems,
    )


def _check(request: Request, visit: Visit) -> templates.TemplateCheck:
    settings = settings_of(request)
    return rendering.template_check(
        max_sms_segments=settings.sms_max_segments,
        base_url=settings.public_base_url,
        brand=visit.project.brand,
    )


def _with_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = EDITOR_POLICY
    return response


# --- list ------------------------------------------------------------------------------------


@console_page()
async def template_list(request: Request, visit: Visit) -> Response:
    stored = await templates.list_templates(visit.project_id)
    builtins = [
        (compiled, rendering.builtin_sms_info(name=compiled.name))
        for compiled in rendering.builtin_templates(channel=MessageChannel.SMS)
    ]
    return render(
        request,
        "console/messages/templates.html",
        {"title": "Templates", "area": "messages", "stored": stored, "builtins": builtins},
    )


# --- editor ----------------------------------------------------------------------------------


def _editor(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, str],
    template: templates.MessageTemplate | None,
    errors: FormErrors | None = None,
    status: int = 200,
    builtin: bool = False,
) -> Response:
    if builtin:
        title = f"Built-in template {values['name']}"
    elif template is not None:
        title = f"Edit {template.name}"
    else:
        title = "New template"
    action = (
        url(request, "template", template_id=template.key)
        if template is not None
        else url(request, "template_new")
    )
    response = render(
        request,
        "console/messages/template.html",
        {
            "title": title,
            "area": "messages",
            "template": template,
            "builtin": builtin,
            "v": values,
            "errors": errors or FormErrors(),
            "preview": preview_of(request, visit, values),
            "channels": CHANNELS,
            "action": action,
            "editable": visit.can(ConsoleRole.MARKETER) and not builtin,
        },
        status,
    )
    return _with_policy(response)


def _values_of(template: templates.MessageTemplate) -> dict[str, str]:
    return {
        "name": template.name,
        "channel": template.channel.value,
        "subject": template.subject,
        "html": template.html,
        "text": template.text,
    }


@console_page(ConsoleRole.MARKETER)
async def template_new(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        channel = _channel(request.query_params.get("channel", ""))
        values = {"name": "", "channel": channel.value, "subject": "", "html": "", "text": ""}
        return _editor(request, visit, values=values, template=None)
    values = read_values(await request.form())
    try:
        created = await templates.create_template(
            visit.project_id, content_of(values), _check(request, visit)
        )
    except DomainError as error:
        return _editor(
            request, visit, values=values, template=None, errors=form_errors(error), status=400
        )
    return redirect(request, "template", query="saved=created", template_id=created.key)


async def _builtin_page(request: Request, visit: Visit, ref: str) -> Response:
    name = ref.removeprefix(templates.BUILTIN_PREFIX)
    if name not in rendering.BUILTIN_NAMES:
        raise NotFound("template")
    channel = _channel(request.query_params.get("channel", ""))
    compiled = rendering.builtin_template(name=name, channel=channel)
    values = {
        "name": name,
        "channel": channel.value,
        "subject": compiled.subject_source,
        "html": compiled.html_source,
        "text": compiled.text_source,
    }
    return _editor(request, visit, values=values, template=None, builtin=True)


@console_page()
async def template_page(request: Request, visit: Visit) -> Response:
    ref = str(request.path_params["template_id"])
    if templates.is_builtin_ref(ref):
        if request.method != "GET":
            raise NotFound("template")
        return await _builtin_page(request, visit, ref)
    template = await templates.get_template(visit.project_id, ref)
    if request.method == "GET":
        return _editor(request, visit, values=_values_of(template), template=template)
    values = read_values(await request.form())
    content = content_of(values)
    changes = templates.TemplateChanges(
        name=content.name,
        channel=content.channel,
        subject=content.subject,
        html=content.html,
        text=content.text,
    )
    try:
        await templates.update_template(
            visit.project_id, template.key, changes, _check(request, visit)
        )
    except DomainError as error:
        return _editor(
            request, visit, values=values, template=template, errors=form_errors(error), status=400
        )
    return redirect(request, "template", query="saved=updated", template_id=template.key)


@console_page(ConsoleRole.MARKETER)
async def template_preview(request: Request, visit: Visit) -> Response:
    """The editor's draft rendered with sample data, for its script (a POST: drafts are long)."""
    preview = preview_of(request, visit, read_values(await request.form()))
    return JSONResponse(
        {
            "rendered": preview.rendered,
            "subject": preview.subject,
            "html": preview.html,
            "text": preview.text,
            "sms": {
                "encoding": preview.sms_encoding,
                "characters": preview.sms_characters,
                "segments": preview.sms_segments,
            },
            "problems": [problem_json(problem) for problem in preview.problems],
        },
        headers={"Cache-Control": "no-store"},
    )


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "code": problem.code.value,
        "field": problem.field,
        "message": capitalised(problem.message),
    }


routes: list[BaseRoute] = [
    Route("/templates", template_list, methods=["GET"], name="templates"),
    Route("/templates/new", template_new, methods=["GET", "POST"], name="template_new"),
    Route("/templates/preview", template_preview, methods=["POST"], name="template_preview"),
    Route("/templates/{template_id}", template_page, methods=["GET", "POST"], name="template"),
]
