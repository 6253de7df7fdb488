"""Rendering: the sandbox and save-time checks, escaping per channel, the context a send gets."""

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from delivery import rendering
from delivery.rendering import check_template, render_message, resolve_template
from domain.campaigns import Campaign, Discount, DiscountType, Limits
from domain.codes import Code, publish_code
from domain.customers import Customer
from domain.errors import DomainError
from domain.loyalty import LoyaltyCard
from domain.messages import MessageChannel
from domain.referrals import ReferralCode
from domain.templates import (
    MessageTemplate,
    TemplateChanges,
    TemplateContent,
    create_template,
    update_template,
)
from tests.factories import Tenant

EMAIL, SMS = MessageChannel.EMAIL, MessageChannel.SMS
BASE_URL = "https://engage.test"
SECRET = "rendering-test-secret"
FOOTER = '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'


def email(html: str, subject: str = "Hello", text: str = "") -> TemplateContent:
    return TemplateContent(name="t", channel=EMAIL, subject=subject, html=html, text=text)


def sms(text: str) -> TemplateContent:
    return TemplateContent(name="t", channel=SMS, text=text)


def refusal(content: TemplateContent, max_sms_segments: int = 3) -> list[tuple[str, str | None]]:
    with pytest.raises(DomainError) as refused:
        check_template(content=content, max_sms_segments=max_sms_segments)
    return [(problem.code, problem.field) for problem in refused.value.problems]


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ range.__self__ }}",
        "{{ self }}",
        "{{ self._TemplateReference__context }}",
        "{{ customer['__class__'] }}",
        "{{ customer.attributes._raw }}",
        "{{ customer.__init__.__globals__ }}",
        "{% if false %}{{ brand.__class__ }}{% endif %}",
        "{% include 'base.html' %}",
        "{{ range(1000000) | list }}",
        "{{ 'x' * 10000000 }}",
        "{{ 9 ** 999999 }}",
    ],
)
def test_sandbox_escapes_are_refused_at_save_time(body: str) -> None:
    for content in (email(body + FOOTER), email(FOOTER, subject=body), sms(body + " STOP")):
        problems = refusal(content)
        # cycler is also unknown: there are no Jinja globals but range().
        assert "UNSAFE_TEMPLATE" in {code for code, _ in problems}, problems


def test_format_strings_cannot_reach_internals() -> None:
    problems = refusal(email("{{ '{0.__class__.__mro__}'.format(customer) }}" + FOOTER))
    assert problems == [("UNSAFE_TEMPLATE", "html")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (email("{{ nope }}" + FOOTER), [("UNKNOWN_VARIABLE", "html")]),
        (email(FOOTER, subject="Hi {{ customer.nme }}"), [("UNKNOWN_VARIABLE", "subject")]),
        # Never rendered at check time, yet it would fail for some customer at send time.
        (
            email("{% if customer.attributes.vip == 'yes' %}{{ code.secret }}{% endif %}" + FOOTER),
            [("UNKNOWN_VARIABLE", "html")],
        ),
        (sms("{{ customer.items }} STOP"), [("UNKNOWN_VARIABLE", "text")]),
        (email("{% if %}" + FOOTER), [("TEMPLATE_SYNTAX", "html")]),
        (email(FOOTER, text="{{ customer.name "), [("TEMPLATE_SYNTAX", "text")]),
        (email("{{ loyalty.points / 0 }}" + FOOTER), [("TEMPLATE_ERROR", "html")]),
        # Fails for a customer without the attribute, so it is refused.
        (email("{{ customer.attributes.tier[0] }}" + FOOTER), [("UNKNOWN_VARIABLE", "html")]),
        (email("<p>no way out</p>"), [("MISSING_UNSUBSCRIBE", "html")]),
        (sms("Hi {{ customer.first_name }}"), [("MISSING_OPT_OUT", "text")]),
    ],
)
def test_template_mistakes_are_typed(
    content: TemplateContent, expected: list[tuple[str, str]]
) -> None:
    assert refusal(content) == expected


def test_every_problem_is_reported_with_its_field() -> None:
    problems = refusal(email("{{ nope }}" + FOOTER, subject="{{ '' .__class__ }}", text="{% x %}"))
    assert set(problems) == {
        ("UNKNOWN_VARIABLE", "html"),
        ("UNSAFE_TEMPLATE", "subject"),
        ("TEMPLATE_SYNTAX", "text"),
    }


def test_sms_over_the_segment_limit_is_refused() -> None:
    body = "{{ brand.name }} " + "x" * 300 + " Reply STOP to opt out"
    assert check_template(content=sms(body), max_sms_segments=3).sms_segments == 3
    assert refusal(sms(body), max_sms_segments=2) == [("SMS_TOO_LONG", "text")]
    checked = check_template(
        content=sms("Привет {{ customer.first_name }}! STOP"), max_sms_segments=1
    )
    assert (checked.sms_encoding, checked.sms_segments) == ("UCS-2", 1)


def test_needs_code_follows_the_variables_used() -> None:
    assert check_template(
        content=email("{{ code.display }}" + FOOTER), max_sms_segments=3
    ).needs_code
    assert check_template(content=sms("{{ offer.text }} STOP"), max_sms_segments=3).needs_code
    assert check_template(content=sms("{{ wallet.apple_url }} STOP"), max_sms_segments=3).needs_code
    assert not check_template(
        content=email("{{ loyalty.points }} {{ referral_link }}" + FOOTER), max_sms_segments=3
    ).needs_code


def test_every_builtin_passes_its_own_check() -> None:
    for channel in (EMAIL, SMS):
        for template in rendering.builtin_templates(channel=channel):
            content = TemplateContent(
                name=template.name,
                channel=channel,
                subject=template.subject_source,
                html=template.html_source,
                text=template.text_source,
            )
            checked = check_template(content=content, max_sms_segments=3)
            assert checked.needs_code == (template.name not in {"referral_invitation", "points"}), (
                template.name
            )


def test_builtin_email_footer_keeps_its_words_apart() -> None:
    sample = rendering.sample_context()
    without_shop = {**sample, "brand": dataclasses.replace(sample["brand"], shop_url="")}
    for name in rendering.BUILTIN_NAMES:
        template = rendering.builtin_template(name=name, channel=EMAIL)
        for context, between in ((sample, "Visit the shop &middot; "), (without_shop, "")):
            html = rendering.render(template=template, context=context).html
            # As a mail client shows the HTML: tags gone, white space folded.
            shown = " ".join(re.sub(r"<[^>]+>", " ", html).split())
            assert f"from Sample Shop. {between}Unsubscribe" in shown, name
            assert "Shop.<a" not in html, name


def test_html_body_without_text_gets_a_plain_text_part() -> None:
    template = rendering.compile_template(
        ref="x",
        name="x",
        channel=EMAIL,
        subject="S",
        html="<html><head><style>p{}</style></head><body><p>Hi {{ customer.first_name }}</p>"
        '<p><a href="{{ code.url }}">Open</a></p>' + FOOTER + "</body></html>",
    )
    rendered = rendering.render(template=template, context=rendering.sample_context())
    assert rendered.text.splitlines()[0] == "Hi Alexandra"
    assert "Open (https://engage.example.com/c/SUMMER7KQ29XZP)" in rendered.text
    assert "p{}" not in rendered.text


# With the database: real projects, customers, codes.


async def published(tenant: Tenant, name: str = '<b>Zoë</b> & "Co"') -> tuple[Customer, Code]:
    campaign = Campaign(
        project_id=tenant.project_id,
        name="Spring <Sale>",
        discount=Discount(type=DiscountType.PERCENT, percent_off=15),
        ends_at=datetime(2099, 3, 31, 21, 59, tzinfo=UTC),
        timezone="Europe/Paris",
        limits=Limits(per_code=2),
    )
    await campaign.insert()
    customer = Customer(
        project_id=tenant.project_id,
        name=name,
        email="zoe@example.com",
        phone="+33612345678",
        attributes={"tier": "gold", "kids": 2, "prefs": {"color": "blue"}},
    )
    await customer.insert()
    code = await publish_code(tenant.project_id, campaign.key, customer.key)
    return customer, code


async def send(tenant: Tenant, ref: str, channel: MessageChannel, **fields: Any) -> Any:
    return await render_message(
        base_url=BASE_URL,
        secret_key=SECRET,
        project=tenant.project,
        template_ref=ref,
        channel=channel,
        **fields,
    )


async def store(tenant: Tenant, content: TemplateContent) -> MessageTemplate:
    check = rendering.template_check(max_sms_segments=3)
    return await create_template(tenant.project_id, content, check)


async def test_html_in_a_name_is_escaped_in_email_html_only(tenant: Tenant) -> None:
    customer, code = await published(tenant)
    body = "<p>Hi {{ customer.name }}, {{ offer.campaign }}</p>" + FOOTER
    mail = await store(
        tenant, email(body, subject="For {{ customer.name }}", text="{{ customer.name }}")
    )
    text = await store(tenant, sms("Hi {{ customer.name }}, {{ offer.campaign }}. STOP"))

    rendered = await send(tenant, mail.key, EMAIL, customer=customer, code=code)
    assert "Hi &lt;b&gt;Zoë&lt;/b&gt; &amp; &#34;Co&#34;, Spring &lt;Sale&gt;" in rendered.html
    assert "<b>Zoë" not in rendered.html
    assert rendered.subject == 'For <b>Zoë</b> & "Co"'
    assert rendered.text == '<b>Zoë</b> & "Co"'

    message = await send(tenant, text.key, SMS, customer=customer, code=code)
    assert message.text == 'Hi <b>Zoë</b> & "Co", Spring <Sale>. STOP'
    # ë is not in the GSM alphabet.
    assert message.sms is not None and message.sms.encoding == "UCS-2"


async def test_the_context_carries_code_links_and_brand(tenant: Tenant) -> None:
    customer, code = await published(tenant, name="Zoë Martin")
    body = (
        "{{ customer.first_name }}|{{ code.display }}|{{ code.url }}|{{ code.expires_at }}|"
        "{{ code.uses_left }}|{{ offer.text }}|{{ wallet.apple_url }}|{{ wallet.google_url }}|"
        "{{ brand.name }}|{{ brand.primary_color }}|{{ project.name }}|"
        "{{ customer.attributes.tier }}|"
        "{{ customer.attributes.kids }}|{{ customer.attributes.prefs }}|"
        "[{{ customer.attributes.missing }}]|{{ customer.attributes.get('x', 'none') }}|"
        "{{ loyalty.points }}|[{{ referral_link }}]|{{ unsubscribe_url }}"
    )
    template = await store(tenant, email(body))
    rendered = await send(tenant, template.key, EMAIL, customer=customer, code=code)
    parts = rendered.html.split("|")
    token_url = f"{BASE_URL}/passes/apple/{code.code}.pkpass?token="
    assert parts[:6] == [
        "Zoë",
        code.display,
        f"{BASE_URL}/c/{code.code}",
        "31 Mar 2099, 23:59 CEST",
        "2",
        "15% off",
    ]
    assert parts[6].startswith(token_url)
    assert parts[7].startswith(f"{BASE_URL}/passes/google/{code.code}?token=")
    assert parts[8:16] == [
        "shop-a",
        "#1f2937",
        "shop-a",
        "gold",
        "2",
        "{&#34;color&#34;:&#34;blue&#34;}",
        "[]",
        "none",
    ]
    assert parts[16:18] == ["0", "[]"]
    assert parts[18].startswith(f"{BASE_URL}/unsubscribe/")


async def test_referral_link_and_loyalty_are_the_customers(tenant: Tenant) -> None:
    customer, _ = await published(tenant)
    await LoyaltyCard(
        project_id=tenant.project_id,
        campaign_id="c1",
        customer_id=customer.key,
        balance=320,
        tier="Silver",
    ).insert()
    await ReferralCode(
        project_id=tenant.project_id, campaign_id="c2", referrer_id=customer.key, code="FRIEND42"
    ).insert()
    points = await send(tenant, "builtin:points", SMS, customer=customer, code=None)
    assert points.text.startswith("shop-a: you have 320 points (Silver).")
    invite = await send(tenant, "builtin:referral_invitation", EMAIL, customer=customer, code=None)
    assert f'href="{BASE_URL}/r/FRIEND42"' in invite.html


async def test_send_time_errors_are_typed(tenant: Tenant, other_tenant: Tenant) -> None:
    customer, code = await published(tenant)
    mail = await store(tenant, email("{{ code.display }}" + FOOTER))
    theirs = await store(other_tenant, email("{{ customer.name }}" + FOOTER))

    async def error_of(
        ref: str, channel: MessageChannel, with_code: bool = True
    ) -> tuple[str, str | None]:
        with pytest.raises(DomainError) as refused:
            await send(tenant, ref, channel, customer=customer, code=code if with_code else None)
        return refused.value.code, refused.value.problems[0].field

    assert await error_of(mail.key, SMS) == ("CHANNEL_MISMATCH", "channel")
    assert await error_of(mail.key, EMAIL, with_code=False) == ("CODE_REQUIRED", "code")
    assert await error_of("builtin:coupon", SMS, with_code=False) == ("CODE_REQUIRED", "code")
    assert await error_of(theirs.key, EMAIL) == ("NOT_FOUND", "templateId")
    assert await error_of("builtin:nope", EMAIL) == ("NOT_FOUND", "templateId")
    assert await error_of("not-an-id", EMAIL) == ("NOT_FOUND", "templateId")


async def test_compiled_once_per_version(tenant: Tenant) -> None:
    template = await store(tenant, email("one" + FOOTER))
    first = await resolve_template(
        project_id=tenant.project_id, template_ref=template.key, channel=EMAIL
    )
    assert (
        await resolve_template(
            project_id=tenant.project_id, template_ref=template.key, channel=EMAIL
        )
        is first
    )

    check = rendering.template_check(max_sms_segments=3)
    changed = await update_template(
        tenant.project_id, template.key, TemplateChanges(html="two" + FOOTER), check
    )
    assert changed.version == 2
    second = await resolve_template(
        project_id=tenant.project_id, template_ref=template.key, channel=EMAIL
    )
    assert second is not first and second.html_source.startswith("two")


async def test_a_refused_update_changes_nothing(tenant: Tenant) -> None:
    template = await store(tenant, email("one" + FOOTER))
    check = rendering.template_check(max_sms_segments=3)
    with pytest.raises(DomainError) as refused:
        await update_template(
            tenant.project_id,
            template.key,
            TemplateChanges(html="{{ ''.__class__ }}" + FOOTER),
            check,
        )
    assert refused.value.code == "UNSAFE_TEMPLATE"
    stored = await MessageTemplate.get(template.id)
    assert stored is not None and stored.version == 1 and stored.html == "one" + FOOTER


async def test_a_batch_renders_from_one_prefix(tenant: Tenant) -> None:
    customer, code = await published(tenant, name="Ann")
    template = await resolve_template(
        project_id=tenant.project_id, template_ref="builtin:coupon", channel=EMAIL
    )
    campaign = await Campaign.get(code.campaign_id)
    assert campaign is not None
    prefix = rendering.context_prefix(
        base_url=BASE_URL, secret_key=SECRET, project=tenant.project, campaign=campaign
    )
    context = rendering.message_context(prefix=prefix, channel=EMAIL, customer=customer, code=code)
    batch = rendering.render(template=template, context=context)
    single = await send(tenant, "builtin:coupon", EMAIL, customer=customer, code=code)
    assert batch == single
