"""Settings pages over HTTP: the brand (typed errors, a coupon page preview that saves nothing)
and messaging (senders, quiet hours, the project's own SMTP server and Twilio account with
write-only secrets, and the test message's answer); only owners, each in their own project."""

import re
from collections.abc import Iterator
from html import escape

import httpx
import pytest
from starlette.applications import Starlette

from domain.projects import Project, get_project
from tests.console import make_console_user, signed_in_as
from tests.delivery.fakes import FakeSmtpServer
from tests.factories import Tenant

SMTP_PASSWORD = "smtp-secret-Password-4242"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
FIELD_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">')


def field_errors(html: str) -> set[str]:
    return set(FIELD_ERROR.findall(html))


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(credentials=("shop", SMTP_PASSWORD)) as server:
        yield server


async def stored(tenant: Tenant) -> Project:
    return await get_project(tenant.project_id)


BRAND = {
    "name": "Maison Lune",
    "primary_color": "#123456",
    "accent_color": "#FFAA00",
    "logo_url": "https://cdn.example.com/logo.png",
    "shop_url": "https://shop.example.com/cart?lang=fr",
}


async def test_the_brand_form_previews_without_saving_shows_typed_errors_and_saves(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    token = await signed_in_as(http, owner)
    page = await http.get("/console/settings/brand")
    assert page.status_code == 200 and 'value="#1f2937"' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]

    bad = {**BRAND, "primary_color": "navy", "logo_url": "http://cdn.example.com/logo.png"}
    refused = await http.post(
        "/console/settings/brand", data={"csrf_token": token, "action": "save", **bad}
    )
    assert refused.status_code == 400
    assert field_errors(refused.text) == {"primary_color", "logo_url"}
    assert "A color is written #RGB or #RRGGBB" in refused.text and "INVALID" in refused.text
    assert 'value="navy"' in refused.text  # what was typed stays in the form

    # The no-script "Preview" button: the page frames the draft; nothing is written.
    previewed = await http.post(
        "/console/settings/brand", data={"csrf_token": token, "action": "preview", **BRAND}
    )
    assert previewed.status_code == 200 and not field_errors(previewed.text)
    [src] = re.findall(r'<iframe id="brand-preview"[^>]* src="([^"]+)"', previewed.text)
    preview = await http.get(src.replace("&amp;", "&"))
    assert preview.status_code == 200
    assert "--primary: #123456;" in preview.text and "--accent: #ffaa00;" in preview.text
    assert (
        "Maison Lune" in preview.text and 'src="https://cdn.example.com/logo.png"' in preview.text
    )
    assert "SPRING-15-SAMPLE" in preview.text and "15% off" in preview.text.lower()
    assert "https://shop.example.com/cart?lang=fr&amp;code=SPRING15SAMPLE" in preview.text
    policy = preview.headers["content-security-policy"]
    assert "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src 'none'" in policy
    # A field the domain refuses is previewed as saved, the others as typed.
    mixed = await http.get(
        "/console/settings/brand/preview", params={"primary_color": "navy", "name": "Lune"}
    )
    assert "--primary: #1f2937;" in mixed.text and "<span>Lune</span>" in mixed.text
    untouched = await stored(tenant)
    assert untouched.settings_version == 0 and untouched.brand.primary_color == "#1f2937"

    saved = await http.post(
        "/console/settings/brand", data={"csrf_token": token, "action": "save", **BRAND}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/settings/brand?done=saved"
    brand = (await tenant.gql("{ brand { name primaryColor accentColor shopUrl } }"))["brand"]
    assert brand == {
        "name": "Maison Lune",
        "primaryColor": "#123456",
        "accentColor": "#ffaa00",
        "shopUrl": "https://shop.example.com/cart?lang=fr",
    }
    again = (await http.get(saved.headers["location"])).text
    assert "The brand was saved" in again and 'value="Maison Lune"' in again


async def test_only_owners_open_settings_and_each_sees_their_own_project(
    app: Starlette, http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for role in ("VIEWER", "MARKETER"):
        account = await make_console_user(
            project_id=tenant.project_id, email=f"{role.lower()}@shop.test", role=role
        )
        http.cookies.clear()
        token = await signed_in_as(http, account)
        for path in ("/console/settings/brand", "/console/settings/messaging"):
            assert (await http.get(path)).status_code == 403
        assert (await http.get("/console/settings/brand/preview")).status_code == 403
        writes = {
            "/console/settings/brand": {"action": "save", **BRAND},
            "/console/settings/messaging": {"email_from": "x@shop.test"},
            "/console/settings/messaging/test": {"test_channel": "EMAIL", "test_to": "a@b.co"},
        }
        for path, data in writes.items():
            assert (await http.post(path, data={"csrf_token": token, **data})).status_code == 403
    assert (await stored(tenant)).settings_version == 0

    # Another project's owner sees and changes that project only.
    await other_tenant.gql(
        'mutation { updateBrand(input: {name: "Other Shop"}) { errors { code } } }'
    )
    other_owner = await make_console_user(project_id=other_tenant.project_id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        token = await signed_in_as(other, other_owner)
        assert 'value="Other Shop"' in (await other.get("/console/settings/brand")).text
        preview = await other.get("/console/settings/brand/preview")
        assert "<span>Other Shop</span>" in preview.text
        answer = await other.post(
            "/console/settings/brand",
            data={"csrf_token": token, "action": "save", "name": "Renamed"},
        )
        assert answer.status_code == 303
    assert (await stored(other_tenant)).brand.name == "Renamed"
    assert (await stored(tenant)).brand.name == "shop-a"


def messaging_form(token: str, smtp: FakeSmtpServer, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "email_from": "Maison Lune <hello@shop.example>",
        "sms_from": "MaisonLune",
        "quiet_hours": "1",
        "quiet_start": "22:00",
        "quiet_end": "07:30",
        "timezone": "Europe/Paris",
        "smtp_host": smtp.host,
        "smtp_port": str(smtp.port),
        "smtp_security": "none",
        "smtp_username": "shop",
        "smtp_password": SMTP_PASSWORD,
        "smtp_from_address": "bounces@shop.example",
        "twilio_account_sid": "",
        "twilio_auth_token": "",
        "twilio_from": "",
        **changes,
    }


async def test_messaging_saves_senders_and_providers_keeps_secrets_hidden_and_tests_smtp(
    http: httpx.AsyncClient, tenant: Tenant, smtp: FakeSmtpServer
) -> None:
    owner = await make_console_user(project_id=tenant.project_id)
    token = await signed_in_as(http, owner)
    page = (await http.get("/console/settings/messaging")).text
    assert "No SMTP server is set for this project" in page and 'value="21:00"' in page

    bad = messaging_form(
        token,
        smtp,
        email_from="not an address",
        quiet_start="25:00",
        smtp_port="x",
        twilio_account_sid="AC123",
        twilio_from="+15005550006",
    )
    refused = await http.post("/console/settings/messaging", data=bad)
    assert refused.status_code == 400
    assert field_errors(refused.text) == {
        "email_from",
        "quiet_start",
        "smtp_port",
        "twilio_account_sid",
        "twilio_auth_token",
    }
    assert "Port is between 1 and 65535" in refused.text
    assert SMTP_PASSWORD not in refused.text  # never echoed, not even after an error
    assert (await stored(tenant)).settings_version == 0

    saved = await http.post("/console/settings/messaging", data=messaging_form(token, smtp))
    assert saved.status_code == 303
    messaging = (await stored(tenant)).messaging
    assert messaging.email_from == "Maison Lune <hello@shop.example>"
    assert (messaging.quiet_start, messaging.quiet_end) == ("22:00", "07:30")
    assert messaging.smtp is not None and messaging.smtp.password is not None
    page = (await http.get(saved.headers["location"])).text
    assert SMTP_PASSWORD not in page and "SMTP server" in page
    assert re.search(r'id="smtp_password-state">Stored: <span class="status status-ok">set', page)
    assert "not set" in page  # the Twilio token

    # An empty password box keeps the stored password; the test goes through the server.
    kept = messaging_form(token, smtp, smtp_password="", quiet_hours="")
    assert (await http.post("/console/settings/messaging", data=kept)).status_code == 303
    after = (await stored(tenant)).messaging
    assert after.smtp is not None and after.smtp.password == messaging.smtp.password
    assert after.quiet_hours is False

    tested = await http.post(
        "/console/settings/messaging/test",
        data={"csrf_token": token, "test_channel": "EMAIL", "test_to": "me@shop.example"},
    )
    [received] = smtp.wait_for(1)
    assert tested.status_code == 200 and "Accepted" in tested.text
    assert escape(received.message["Message-ID"]) in tested.text
    assert received.mail_from == "bounces@shop.example"
    smtp.fail(550, stage="RCPT")
    refusal = await http.post(
        "/console/settings/messaging/test",
        data={"csrf_token": token, "test_channel": "EMAIL", "test_to": "nobody@shop.example"},
    )
    assert "Refused" in refusal.text and "<dd>550</dd>" in refusal.text
    wrong = await http.post(
        "/console/settings/messaging/test",
        data={"csrf_token": token, "test_channel": "SMS", "test_to": "me@shop.example"},
    )
    assert wrong.status_code == 400 and field_errors(wrong.text) == {"test_to"}
    # No Twilio account here nor in the installation: the typed reason, next to the channel.
    no_sms = await http.post(
        "/console/settings/messaging/test",
        data={"csrf_token": token, "test_channel": "SMS", "test_to": "+33612345678"},
    )
    assert no_sms.status_code == 400 and "NO_SMS_PROVIDER" in no_sms.text
    assert field_errors(no_sms.text) == {"test_channel"}

    # Setting Twilio and leaving the SMTP server for the installation's.
    twilio = messaging_form(
        token,
        smtp,
        smtp_clear="1",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from="+15005550006",
    )
    assert (await http.post("/console/settings/messaging", data=twilio)).status_code == 303
    final = (await stored(tenant)).messaging
    assert final.smtp is None and final.twilio is not None
    page = (await http.get("/console/settings/messaging")).text
    assert TWILIO_TOKEN not in page
    assert re.search(
        r'id="twilio_auth_token-state">Stored: <span class="status status-ok">set', page
    )
