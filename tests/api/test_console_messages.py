"""Template and message pages of the console over HTTP: the editor previews drafts with the
checks the mutations run and shows their typed errors by the field, the log filters and pages,
and distributing a campaign starts the distributeCampaign job and shows its figures; viewers
change nothing and another project's ids are not found."""

import contextlib
import re
from collections.abc import AsyncIterator
from html import unescape

import httpx
from starlette.applications import Starlette

from delivery.distribution import job_handlers
from delivery.outbox import Links
from domain.jobs import run_pending_jobs
from domain.messages import Message, MessageChannel, MessageStatus
from domain.templates import MessageTemplate
from tests.console import make_console_user, seed_shop, signed_in_as
from tests.factories import Tenant

ERROR = re.compile(
    r'<p class="field-error" id="([^"]+)-error">\s*<span[^>]*>Error:</span>\s*([^<]+)</p>'
)
LINKS = Links(base_url="https://engage.test", secret_key="console-messages")
EMAIL_HTML = '<h1>Hi {{ customer.first_name }}</h1><a href="{{ unsubscribe_url }}">Unsubscribe</a>'


def shown_errors(html: str) -> dict[str, str]:
    return {name: unescape(message).strip() for name, message in ERROR.findall(html)}


@contextlib.asynccontextmanager
async def console_client(
    app: Starlette, tenant: Tenant, role: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser of its own, signed in with `role`; yields it and its CSRF token."""
    account = await make_console_user(
        project_id=tenant.project_id, email=f"{role.lower()}@shop.test", role=role
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, await signed_in_as(client, account)


async def test_the_editor_previews_drafts_and_saves_through_the_template_checks(
    app: Starlette, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with (
        console_client(app, tenant, "MARKETER") as (http, csrf),
        console_client(app, tenant, "VIEWER") as (viewer, viewer_csrf),
    ):
        listed = await http.get("/console/templates")
        assert listed.status_code == 200 and "builtin:coupon" in listed.text
        assert 'href="/console/templates/new?channel=SMS"' in listed.text

        # The live preview: an SMS with an accent and an emoji is UCS-2, and the missing
        # opt-out is the typed problem saving would report.
        sms = {"csrf_token": csrf, "name": "Flash", "channel": "SMS"}
        text = "Hé {{ customer.first_name }} 🎉 " + "x" * 70
        preview = await http.post("/console/templates/preview", data={**sms, "text": text})
        answer = preview.json()
        assert answer["sms"] == {"encoding": "UCS-2", "characters": 86, "segments": 2}
        assert answer["text"].startswith("Hé Alexandra 🎉")
        assert [(p["code"], p["field"]) for p in answer["problems"]] == [
            ("MISSING_OPT_OUT", "text")
        ]
        email = {"csrf_token": csrf, "name": "Welcome", "channel": "EMAIL"}
        broken = await http.post(
            "/console/templates/preview",
            data={**email, "subject": "{{ nope }}", "html": "<p>{% if %}</p>"},
        )
        assert [(p["code"], p["field"]) for p in broken.json()["problems"]] == [
            ("UNKNOWN_VARIABLE", "subject"),
            ("TEMPLATE_SYNTAX", "html"),
        ]

        # Saving refuses the same way, by the field, and writes nothing.
        refused = await http.post(
            "/console/templates/new", data={**email, "subject": "Hi", "html": "<p>{{ nope }}</p>"}
        )
        assert refused.status_code == 400
        assert "'nope' is not a template variable" in shown_errors(refused.text)["html"]
        assert "UNKNOWN_VARIABLE" in refused.text
        assert await MessageTemplate.count() == 0

        created = await http.post(
            "/console/templates/new",
            data={**email, "subject": "Hello {{ customer.first_name }}", "html": EMAIL_HTML},
        )
        assert created.status_code == 303
        template = await MessageTemplate.find_one()
        assert template is not None and template.project_id == tenant.project_id
        page = await http.get(created.headers["location"])
        # The rendered email sits in a frame that runs no script.
        assert 'sandbox=""' in page.text and 'srcdoc="&lt;h1&gt;Hi Alexandra' in page.text
        assert "Hello Alexandra" in page.text

        path = f"/console/templates/{template.key}"
        changed = await http.post(
            path,
            data={**email, "name": "Welcome 2", "subject": "Hey", "html": EMAIL_HTML, "text": ""},
        )
        assert changed.status_code == 303
        updated = await MessageTemplate.get(template.id)
        assert updated is not None and (updated.name, updated.version) == ("Welcome 2", 2)

        builtin = await http.get("/console/templates/builtin:coupon?channel=SMS")
        assert "cannot be changed" in builtin.text and "Save template" not in builtin.text

        # A viewer reads, with no save button, and cannot write.
        seen = await viewer.get(path)
        assert seen.status_code == 200 and "Save template" not in seen.text
        assert (await viewer.get("/console/templates/new")).status_code == 403
        posted = await viewer.post(path, data={**email, "csrf_token": viewer_csrf, "name": "X"})
        assert posted.status_code == 403
        assert (await viewer.get("/console/templates")).status_code == 200

    async with console_client(app, other_tenant, "OWNER") as (stranger, _):
        assert (await stranger.get(path)).status_code == 404


async def test_the_log_filters_and_pages_and_a_distribution_reports_its_figures(
    app: Starlette, tenant: Tenant, other_tenant: Tenant
) -> None:
    shop = await seed_shop(tenant.gql)
    # 50 newer SMS of the campaign, so the log has a second page.
    await Message.get_pymongo_collection().insert_many(
        [
            Message(
                project_id=tenant.project_id,
                channel=MessageChannel.SMS,
                status=MessageStatus.FAILED,
                to=f"+3361234{n:04d}",
                campaign_id=shop.campaign_id,
                body_text=f"SMS {n}",
            ).model_dump(exclude={"id", "revision_id"})
            for n in range(50)
        ]
    )
    async with (
        console_client(app, tenant, "MARKETER") as (http, csrf),
        console_client(app, tenant, "VIEWER") as (viewer, _),
    ):
        log = await viewer.get("/console/messages")
        assert "51 messages, newest first" in log.text
        older = re.search(r'href="([^"]+)" rel="next">Older messages', log.text)
        assert older is not None and "ada@example.com" not in log.text
        second = await viewer.get(unescape(older.group(1)))
        # Ada's email, the oldest, ends the log; console users of the project see addresses.
        assert "Newest" in second.text and "ada@example.com" in second.text
        emails = await viewer.get("/console/messages", params={"channel": "EMAIL"})
        assert "1 message matching the filters" in emails.text
        failed = await viewer.get(
            "/console/messages", params={"status": "FAILED", "campaign": shop.campaign_id}
        )
        assert "50 messages matching the filters" in failed.text
        assert "ada@example.com" not in failed.text
        assert (await viewer.get("/console/distribute")).status_code == 403

        form = await http.get("/console/distribute", params={"campaign": shop.campaign_id})
        assert f'<option value="{shop.campaign_id}" selected>' in form.text
        none = await http.post(
            "/console/distribute", data={"csrf_token": csrf, "campaign_id": shop.campaign_id}
        )
        assert none.status_code == 400
        assert shown_errors(none.text)["channels"] == "Give EMAIL, SMS or both, each once"
        assert "INVALID_CHANNELS" in none.text
        started = await http.post(
            "/console/distribute",
            data={
                "csrf_token": csrf,
                "campaign_id": shop.campaign_id,
                "channels": "EMAIL",
                "consented": "1",
            },
        )
        assert started.status_code == 303
        page = started.headers["location"]
        waiting = await http.get(page)
        assert 'http-equiv="refresh"' in waiting.text and "Job details" in waiting.text
        assert await run_pending_jobs(handlers=job_handlers(links=LINKS)) == 1
        figures = (await http.get(page + ".json")).json()
        assert (figures["status"], figures["published"], figures["queued"]) == (
            "SUCCEEDED",
            1,
            1,
        )
        done = await http.get(page)
        assert 'id="count-queued">1<' in done.text and 'http-equiv="refresh"' not in done.text

    async with console_client(app, other_tenant, "OWNER") as (stranger, _):
        assert (await stranger.get(page)).status_code == 404
        assert (await stranger.get(page + ".json")).status_code == 404
