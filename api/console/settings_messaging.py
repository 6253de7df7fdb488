"""Settings, messaging: senders, the SMS quiet hours, the project's own SMTP server and Twilio
account (saved through the same domain function as updateMessaging; their secrets are written
here and never shown back), and the test message of testMessaging with the provider's answer."""

from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
    settings_of,
)
from delivery import provider_check, providers
from domain import console, projects
from domain.errors import CommonError, DomainError
from domain.messages import MessageChannel
from domain.providers import SmtpChanges, TwilioChanges

# The API's field paths and the form's names for them.
API_FIELDS = {
    "emailFrom": "email_from",
    "smsFrom": "sms_from",
    "quietStart": "quiet_start",
    "quietEnd": "quiet_end",
    "smtp": "smtp_host",
    "smtp.host": "smtp_host",
    "smtp.port": "smtp_port",
    "smtp.security": "smtp_security",
    "smtp.username": "smtp_username",
    "smtp.password": "smtp_password",
    "smtp.fromAddress": "smtp_from_address",
    "twilio": "twilio_account_sid",
    "twilio.accountSid": "twilio_account_sid",
    "twilio.authToken": "twilio_auth_token",
    "twilio.from": "twilio_from",
}
TEST_FIELDS = {"channel": "test_channel", "to": "test_to"}
SECURITY_OPTIONS = [
    ("starttls", "STARTTLS (usually port 587)"),
    ("tls", "TLS from the start (usually port 465)"),
    ("none", "None (only on a trusted network)"),
]
CHANNEL_OPTIONS = [("EMAIL", "Email"), ("SMS", "SMS")]
# Text fields echoed back into the form after an error; secrets never are.
TEXT_FIELDS = (
    "email_from",
    "sms_from",
    "timezone",
    "quiet_start",
    "quiet_end",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_from_address",
    "twilio_account_sid",
    "twilio_from",
)


@dataclass(frozen=True)
class TestOutcome:
    """What the test form sent and what came back: the provider's answer, or typed errors."""

    channel: str
    to: str
    answer: provider_check.ProviderAnswer | None = None


def _routes(request: Request, project: projects.Project) -> list[tuple[str, str]]:
    """Where each channel's messages go now, in words: what a test message would go through."""
    settings = settings_of(request)
    found = []
    for label, channel in (("Email", MessageChannel.EMAIL), ("SMS", MessageChannel.SMS)):
        reason = providers.sink_reason(settings, project, channel)
        source = providers.provider_source(settings, project, channel)
        if reason is not None:
            said = providers.SINK_MESSAGES[reason]
        elif source == providers.ProviderSource.PROJECT:
            said = "sent through this project's own " + (
                "SMTP server" if channel == MessageChannel.EMAIL else "Twilio account"
            )
        else:
            said = "sent through the installation's provider (set by whoever runs Engage)"
        found.append((label, said))
    return found


def _saved_values(project: projects.Project) -> dict[str, str]:
    messaging = project.messaging
    smtp, twilio = messaging.smtp, messaging.twilio
    return {
        "email_from": messaging.email_from,
        "sms_from": messaging.sms_from,
        "timezone": messaging.timezone,
        "quiet_start": messaging.quiet_start,
        "quiet_end": messaging.quiet_end,
        "smtp_host": smtp.host if smtp else "",
        "smtp_port": str(smtp.port) if smtp else "587",
        "smtp_security": smtp.security if smtp else "starttls",
        "smtp_username": smtp.username if smtp else "",
        "smtp_from_address": smtp.from_address if smtp else "",
        "twilio_account_sid": twilio.account_sid if twilio else "",
        "twilio_from": twilio.sender if twilio else "",
    }


def _page(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, str] | None = None,
    quiet_hours: bool | None = None,
    errors: DomainError | None = None,
    test: TestOutcome | None = None,
    test_errors: DomainError | None = None,
) -> Response:
    project = visit.project
    smtp, twilio = project.messaging.smtp, project.messaging.twilio
    saved = request.query_params.get("done") == "saved"
    return render(
        request,
        "console/settings/messaging.html",
        {
            "title": "Messaging",
            "area": "settings",
            "values": values or _saved_values(project),
            "quiet_hours": project.messaging.quiet_hours if quiet_hours is None else quiet_hours,
            "routes": _routes(request, project),
            "smtp": smtp,
            "twilio": twilio,
            "security_options": SECURITY_OPTIONS,
            "channel_options": CHANNEL_OPTIONS,
            "errors": form_errors(errors or test_errors or [], API_FIELDS | TEST_FIELDS),
            "test": test,
            "done": "The messaging settings were saved." if saved else "",
        },
        400 if errors or test_errors else 200,
    )


@console_page(console.ConsoleRole.OWNER)
async def messaging(request: Request, visit: Visit) -> Response:
    return _page(request, visit)


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _port(text: str) -> int | None:
    """The port as typed; one that is not a number is sent as 0 so that the domain's own check
    ("between 1 and 65535") names it."""
    if not text:
        return None
    return int(text) if text.isdigit() else 0


def _smtp_changes(form: FormData, project: projects.Project) -> SmtpChanges | None:
    """None when the project has no server and the form leaves the server empty."""
    password = str(form.get("smtp_password") or "")
    typed = [_text(form, name) for name in ("smtp_host", "smtp_username", "smtp_from_address")]
    if project.messaging.smtp is None and not any(typed) and not password:
        return None
    return SmtpChanges(
        host=_text(form, "smtp_host"),
        port=_port(_text(form, "smtp_port")),
        security=_text(form, "smtp_security") or None,
        username=_text(form, "smtp_username"),
        # An empty box keeps the stored password; only the tick removes it.
        password=password or ("" if form.get("smtp_password_remove") else None),
        from_address=_text(form, "smtp_from_address"),
    )


def _twilio_changes(form: FormData, project: projects.Project) -> TwilioChanges | None:
    """None when the project has no account and the form leaves the account empty."""
    typed = [_text(form, name) for name in ("twilio_account_sid", "twilio_auth_token")]
    if project.messaging.twilio is None and not any(typed) and not _text(form, "twilio_from"):
        return None
    return TwilioChanges(
        account_sid=_text(form, "twilio_account_sid"),
        # An empty box keeps the stored token.
        auth_token=_text(form, "twilio_auth_token") or None,
        sender=_text(form, "twilio_from"),
    )


@console_page(console.ConsoleRole.OWNER)
async def save_messaging(request: Request, visit: Visit) -> Response:
    form = await request.form()
    project = visit.project
    clear_smtp = bool(form.get("smtp_clear")) and project.messaging.smtp is not None
    clear_twilio = bool(form.get("twilio_clear")) and project.messaging.twilio is not None
    quiet_hours = bool(form.get("quiet_hours"))
    changes = projects.MessagingChanges(
        email_from=_text(form, "email_from"),
        sms_from=_text(form, "sms_from"),
        timezone=_text(form, "timezone"),
        quiet_hours=quiet_hours,
        quiet_start=_text(form, "quiet_start"),
        quiet_end=_text(form, "quiet_end"),
        smtp=None if clear_smtp else _smtp_changes(form, project),
        twilio=None if clear_twilio else _twilio_changes(form, project),
        clear_smtp=clear_smtp,
        clear_twilio=clear_twilio,
    )
    try:
        await projects.update_messaging(visit.project_id, changes, settings_of(request).secret_key)
    except DomainError as error:
        values = {name: _text(form, name) for name in TEXT_FIELDS}
        return _page(request, visit, values=values, quiet_hours=quiet_hours, errors=error)
    return redirect(request, "messaging", query="done=saved")


@console_page(console.ConsoleRole.OWNER)
async def test_messaging(request: Request, visit: Visit) -> Response:
    """Sends the test message now through the provider the project's messages use."""
    form = await request.form()
    channel, to = _text(form, "test_channel"), _text(form, "test_to")
    outcome = TestOutcome(channel=channel, to=to)
    try:
        if channel not in MessageChannel.__members__:
            raise DomainError(CommonError.INVALID, "channel is EMAIL or SMS", "channel")
        answer = await provider_check.check_provider(
            settings_of(request), visit.project, MessageChannel(channel), to
        )
    except DomainError as error:
        return _page(request, visit, test=outcome, test_errors=error)
    return _page(request, visit, test=TestOutcome(channel=channel, to=to, answer=answer))


TEMPLATES = ("settings/messaging.html",)
routes: list[BaseRoute] = [
    Route("/settings/messaging", messaging, methods=["GET"], name="messaging"),
    Route("/settings/messaging", save_messaging, methods=["POST"], name="messaging_post"),
    Route("/settings/messaging/test", test_messaging, methods=["POST"], name="messaging_test_post"),
]
