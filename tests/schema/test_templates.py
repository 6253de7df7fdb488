"""Templates over GraphQL: create and update with save-time checks, listing, previews, tenancy."""

from typing import Any

import pytest

from domain.projects import Role, create_api_key
from domain.templates import MessageTemplate
from tests.factories import Tenant

FIELDS = "id builtIn name channel subject html text needsCode smsEncoding smsSegments version"
CREATE = (
    "mutation ($input: TemplateInput!) { createTemplate(input: $input) { template { "
    + FIELDS
    + " } errors { code field message } } }"
)
UPDATE = (
    "mutation ($id: ID!, $input: TemplateChangesInput!) { updateTemplate(id: $id, input: $input)"
    " { template { " + FIELDS + " } errors { code field message } } }"
)
LIST = "query ($channel: MessageChannel) { templates(channel: $channel) { " + FIELDS + " } }"
PREVIEW = """
query ($templateId: ID!, $customerId: ID!, $code: String, $channel: MessageChannel) {
  previewTemplate(templateId: $templateId, customerId: $customerId, code: $code,
                  channel: $channel) {
    subject text html smsEncoding smsSegments errors { code field message }
  }
}"""
BUILTINS = [
    "coupon",
    "welcome",
    "referral_invitation",
    "referral_reward",
    "points",
    "reactivation",
]
FOOTER = '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
EMAIL_INPUT = {
    "name": "Spring",
    "channel": "EMAIL",
    "subject": "{{ offer.text }} for {{ customer.first_name }}",
    "html": "<p>{{ code.display }}</p>" + FOOTER,
}


async def create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    data = await tenant.gql(CREATE, {"input": {**EMAIL_INPUT, **fields}})
    return dict(data["createTemplate"])


async def stored_count() -> int:
    return int(await MessageTemplate.get_pymongo_collection().count_documents({}))


async def customer_with_code(tenant: Tenant, name: str = "Zoé <Martin>") -> tuple[str, str]:
    """A real campaign, customer and published code; returns (customer id, code)."""
    campaign = await tenant.gql(
        """mutation { createCampaign(input: {name: "Spring", discount: {type: PERCENT,
             percentOff: 20}, endsAt: "2099-06-30T21:59:00Z", timezone: "Europe/Paris",
             limits: {perCode: 1}}) { campaign { id } errors { code } } }"""
    )
    campaign_id = campaign["createCampaign"]["campaign"]["id"]
    customer = await tenant.gql(
        """mutation ($name: String!) { createCustomer(input: {name: $name,
             email: "zoe@example.com", phone: "+33612345678"}) {
             customer { id } errors { code } } }""",
        {"name": name},
    )
    customer_id = customer["createCustomer"]["customer"]["id"]
    published = await tenant.gql(
        """mutation ($c: ID!, $u: ID!) { publishCode(campaignId: $c, customerId: $u) {
             code { code } errors { code } } }""",
        {"c": campaign_id, "u": customer_id},
    )
    return customer_id, published["publishCode"]["code"]["code"]


async def test_create_checks_and_stores(tenant: Tenant) -> None:
    payload = await create(tenant)
    assert payload["errors"] == []
    template = payload["template"]
    assert template["builtIn"] is False and template["channel"] == "EMAIL"
    assert template["needsCode"] is True and template["version"] == 1
    assert template["smsEncoding"] is None

    sms = await create(
        tenant,
        channel="SMS",
        subject="",
        html="",
        text="{{ brand.name }}: {{ loyalty.points }} points. Reply STOP to opt out",
    )
    assert sms["errors"] == []
    assert sms["template"]["needsCode"] is False
    assert (sms["template"]["smsEncoding"], sms["template"]["smsSegments"]) == ("GSM-7", 1)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"html": "{{ ''.__class__.__mro__ }}" + FOOTER}, ("UNSAFE_TEMPLATE", "html")),
        ({"html": "{{ cycler.__init__.__globals__ }}" + FOOTER}, ("UNSAFE_TEMPLATE", "html")),
        ({"subject": "{{ self }}"}, ("UNSAFE_TEMPLATE", "subject")),
        ({"html": "{{ customer.password }}" + FOOTER}, ("UNKNOWN_VARIABLE", "html")),
        ({"text": "{{ total }}"}, ("UNKNOWN_VARIABLE", "text")),
        ({"html": "{% for %}" + FOOTER}, ("TEMPLATE_SYNTAX", "html")),
        ({"html": "<p>hi</p>"}, ("MISSING_UNSUBSCRIBE", "html")),
        ({"html": "x" * 100_001}, ("TOO_LARGE", "html")),
        ({"name": " "}, ("INVALID", "name")),
        (
            {"channel": "SMS", "subject": "", "html": "", "text": "x" * 460 + " STOP"},
            ("SMS_TOO_LONG", "text"),
        ),
    ],
)
async def test_refused_templates_are_not_stored(
    tenant: Tenant, fields: dict[str, Any], expected: tuple[str, str]
) -> None:
    payload = await create(tenant, **fields)
    assert payload["template"] is None
    assert expected in [(e["code"], e["field"]) for e in payload["errors"]]
    assert await stored_count() == 0


async def test_update_bumps_the_version_and_checks_again(tenant: Tenant) -> None:
    template_id = (await create(tenant))["template"]["id"]

    changed = (
        await tenant.gql(UPDATE, {"id": template_id, "input": {"subject": "Hi {{ brand.name }}"}})
    )["updateTemplate"]
    assert changed["errors"] == []
    assert changed["template"]["version"] == 2
    assert changed["template"]["subject"] == "Hi {{ brand.name }}"
    assert changed["template"]["html"] == EMAIL_INPUT["html"]

    refused = (
        await tenant.gql(UPDATE, {"id": template_id, "input": {"html": "{{ code.nope }}" + FOOTER}})
    )["updateTemplate"]
    assert refused["template"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("UNKNOWN_VARIABLE", "html")]
    # Moving an email template to SMS checks it as an SMS: it has an html body.
    to_sms = (await tenant.gql(UPDATE, {"id": template_id, "input": {"channel": "SMS"}}))[
        "updateTemplate"
    ]
    assert ("INVALID", "html") in [(e["code"], e["field"]) for e in to_sms["errors"]]

    listed = (await tenant.gql(LIST))["templates"]
    mine = [t for t in listed if t["id"] == template_id]
    assert mine[0]["version"] == 2 and mine[0]["html"] == EMAIL_INPUT["html"]

    builtin = (await tenant.gql(UPDATE, {"id": "builtin:coupon", "input": {"name": "x"}}))[
        "updateTemplate"
    ]
    assert [e["code"] for e in builtin["errors"]] == ["BUILT_IN_TEMPLATE"]


async def test_templates_lists_builtins_then_the_projects(tenant: Tenant) -> None:
    email_id = (await create(tenant))["template"]["id"]
    sms_id = (
        await create(tenant, channel="SMS", subject="", html="", text="{{ brand.name }} STOP")
    )["template"]["id"]

    every = (await tenant.gql(LIST))["templates"]
    assert [t["id"] for t in every] == [f"builtin:{n}" for n in BUILTINS] + [email_id, sms_id]
    assert all(t["builtIn"] and t["channel"] is None for t in every[:6])
    assert "{{ unsubscribe_url }}" in every[0]["html"]

    sms = (await tenant.gql(LIST, {"channel": "SMS"}))["templates"]
    assert [t["id"] for t in sms] == [f"builtin:{n}" for n in BUILTINS] + [sms_id]
    assert all(t["smsEncoding"] == "GSM-7" and t["smsSegments"] <= 3 for t in sms)
    assert all(t["html"] == "" and "STOP" in t["text"] for t in sms[:6])


@pytest.mark.parametrize("name", BUILTINS)
async def test_preview_of_every_builtin_on_both_channels(tenant: Tenant, name: str) -> None:
    customer_id, code = await customer_with_code(tenant)
    coupon_url = f"http://testserver/c/{code}"
    variables = {"templateId": f"builtin:{name}", "customerId": customer_id, "code": code}

    mail = (await tenant.gql(PREVIEW, {**variables, "channel": "EMAIL"}))["previewTemplate"]
    assert mail["errors"] == []
    assert 'href="http://testserver/unsubscribe/' in mail["html"]
    assert "Unsubscribe: http://testserver/unsubscribe/" in mail["text"]
    assert "Zoé &lt;Martin&gt;" not in mail["html"]  # first name only
    assert "Hi Zoé," in mail["html"] and "Hi Zoé," in mail["text"]
    text = (await tenant.gql(PREVIEW, {**variables, "channel": "SMS"}))["previewTemplate"]
    assert text["errors"] == [] and text["html"] is None and text["subject"] is None
    assert text["text"].endswith("Reply STOP to opt out")
    assert text["smsEncoding"] == "GSM-7" and 1 <= text["smsSegments"] <= 3

    if name in {"referral_invitation", "points"}:
        return
    for body in (mail["html"], mail["text"], mail["subject"] + text["text"]):
        assert code in body
    assert "20% off" in mail["html"] and "20% off" in text["text"]
    for body in (mail["html"], mail["text"], text["text"]):
        assert coupon_url in body
    for wallet in (f"/passes/apple/{code}.pkpass?token=", f"/passes/google/{code}?token="):
        assert f"http://testserver{wallet}" in mail["html"]
        assert f"http://testserver{wallet}" in mail["text"]
        if name == "coupon":
            assert f"http://testserver{wallet}" in text["text"]
    assert "30 Jun 2099, 23:59 CEST" in mail["html"]


async def test_preview_renders_a_stored_template_as_sent(tenant: Tenant) -> None:
    customer_id, code = await customer_with_code(tenant, name='<script>alert("x")</script>')
    template_id = (
        await create(
            tenant,
            channel="SMS",
            subject="",
            html="",
            text="{{ customer.name }} {{ code.display }} STOP",
        )
    )["template"]["id"]
    preview = (
        await tenant.gql(
            PREVIEW, {"templateId": template_id, "customerId": customer_id, "code": code}
        )
    )["previewTemplate"]
    assert preview["text"] == f'<script>alert("x")</script> {code} STOP'
    missing = (await tenant.gql(PREVIEW, {"templateId": template_id, "customerId": customer_id}))[
        "previewTemplate"
    ]
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("CODE_REQUIRED", "code")]
    mismatch = (
        await tenant.gql(
            PREVIEW,
            {
                "templateId": template_id,
                "customerId": customer_id,
                "code": code,
                "channel": "EMAIL",
            },
        )
    )["previewTemplate"]
    assert [e["code"] for e in mismatch["errors"]] == ["CHANNEL_MISMATCH"]
    unknown_code = (
        await tenant.gql(
            PREVIEW, {"templateId": template_id, "customerId": customer_id, "code": "NOPE"}
        )
    )["previewTemplate"]
    assert [(e["code"], e["field"]) for e in unknown_code["errors"]] == [("NOT_FOUND", "code")]


async def test_another_projects_templates_are_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = (await create(other_tenant))["template"]["id"]
    customer_id, code = await customer_with_code(tenant)

    listed = (await tenant.gql(LIST))["templates"]
    assert theirs not in [t["id"] for t in listed]
    update = (await tenant.gql(UPDATE, {"id": theirs, "input": {"name": "mine"}}))["updateTemplate"]
    assert [(e["code"], e["field"]) for e in update["errors"]] == [("NOT_FOUND", "id")]
    preview = (
        await tenant.gql(PREVIEW, {"templateId": theirs, "customerId": customer_id, "code": code})
    )["previewTemplate"]
    assert [(e["code"], e["field"]) for e in preview["errors"]] == [("NOT_FOUND", "templateId")]
    stranger = (
        await other_tenant.gql(
            PREVIEW, {"templateId": "builtin:coupon", "customerId": customer_id, "code": code}
        )
    )["previewTemplate"]
    assert [(e["code"], e["field"]) for e in stranger["errors"]] == [("NOT_FOUND", "customerId")]
    untouched = await MessageTemplate.find_one({"name": "Spring"})
    assert untouched is not None and untouched.version == 1


async def test_templates_are_for_admins_only(tenant: Tenant) -> None:
    pos = await create_api_key(tenant.project_id, Role.POS)
    as_pos = tenant.gql.as_token(pos.secret)
    for query, variables in (
        (LIST, {}),
        (CREATE, {"input": EMAIL_INPUT}),
        (PREVIEW, {"templateId": "builtin:coupon", "customerId": "x"}),
    ):
        body = (await as_pos.raw(query, variables)).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await stored_count() == 0
