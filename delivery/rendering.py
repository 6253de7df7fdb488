"""Renders email and SMS from built-in and stored templates in a Jinja2 sandbox.

A template is checked when it is saved (check_template): parsed, walked for unsafe or unknown
names, and rendered with sample data. What passes renders at send time for every customer:
every variable has the same type for every customer (strings, or an int for loyalty points),
and `customer.attributes.<name>` is the attribute as a string, "" when the customer lacks it
(JSON for objects and lists), so no customer can be missing something the check render had.
"""

import dataclasses
import json
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from delivery.sms_text import SmsInfo, check_sms_length, sms_info
from domain import links
from domain.campaigns import Campaign, CampaignKind, get_campaign
from domain.codes import Code, coupon_url, offer_text, uses_left
from domain.customers import Customer
from domain.errors import DomainError, NotFound, Problem
from domain.loyalty import LoyaltyCard
from domain.messages import MessageChannel
from domain.projects import Brand, Project
from domain.referrals import ReferralCode, referral_url
from domain.templates import (
    BUILTIN_PREFIX,
    TEMPLATE_CHANNELS,
    CheckedTemplate,
    TemplateCheck,
    TemplateContent,
    get_template,
    is_builtin_ref,
)
from templates import MissingTemplateFile, TemplateFiles

__all__ = [
    "BUILTIN_NAMES",
    "CompiledTemplate",
    "ContextPrefix",
    "Rendered",
    "SmsInfo",
    "builtin_sms_info",
    "builtin_template",
    "builtin_templates",
    "check_builtin_templates",
    "check_template",
    "compile_template",
    "context_prefix",
    "customer_extras",
    "html_to_text",
    "message_context",
    "render",
    "render_for",
    "render_message",
    "resolve_template",
    "sample_context",
    "sample_unsubscribe_url",
    "template_check",
    "use_template_files",
]

BUILTIN_NAMES = (
    "coupon",
    "welcome",
    "referral_invitation",
    "referral_reward",
    "points",
    "reactivation",
)
# Rendered output above these sizes is refused at save time (a loop can multiply a body).
MAX_RENDERED = {"subject": 1_000, "html": 500_000, "text": 100_000}
# range() in templates, and strings or lists repeated with *, stay this small.
MAX_RANGE = 1_000
MAX_REPEAT = 100_000
COMPILED_CACHE_SIZE = 512
SAMPLE_BASE_URL = "https://engage.example.com"
# Templates using any of these cannot be rendered without a code.
CODE_VARIABLES = frozenset({"code", "offer", "wallet"})
# Names Jinja itself provides inside loops and macros.
_JINJA_LOCALS = frozenset({"loop", "varargs", "kwargs", "caller"})
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_DEFAULT_BRAND = Brand()


# The variables a template sees. Frozen slotted classes: fast attribute access, nothing to
# mutate, and no attribute a sandboxed template could use to reach Python internals.


class Attributes:
    """A customer's attributes as strings; an attribute the customer lacks reads as ""."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    def __getitem__(self, name: object) -> str:
        return self.get(str(name))

    def __contains__(self, name: object) -> bool:
        return str(name) in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._raw))

    def __str__(self) -> str:
        return ""

    def get(self, name: str, default: str = "") -> str:
        if name not in self._raw:
            return default
        return _as_text(self._raw[name])


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class CustomerVars:
    name: str
    first_name: str
    email: str
    phone: str
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class CodeVars:
    code: str
    display: str
    url: str
    # "" when the campaign has no end, or no per-code limit.
    expires_at: str
    uses_left: str


@dataclass(frozen=True, slots=True)
class OfferVars:
    text: str
    campaign: str


@dataclass(frozen=True, slots=True)
class CampaignVars:
    name: str
    description: str
    terms: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class WalletVars:
    apple_url: str
    google_url: str


@dataclass(frozen=True, slots=True)
class LoyaltyVars:
    points: int
    tier: str


@dataclass(frozen=True, slots=True)
class BrandVars:
    name: str
    primary_color: str
    accent_color: str
    logo_url: str
    shop_url: str


@dataclass(frozen=True, slots=True)
class ProjectVars:
    name: str


def _fields(kind: type) -> frozenset[str]:
    return frozenset(field.name for field in dataclasses.fields(kind))


# Every top-level variable, with the fields a template may read (None: a plain string).
VARIABLES: dict[str, frozenset[str] | None] = {
    "customer": _fields(CustomerVars),
    "code": _fields(CodeVars),
    "offer": _fields(OfferVars),
    "campaign": _fields(CampaignVars),
    "wallet": _fields(WalletVars),
    "loyalty": _fields(LoyaltyVars),
    "brand": _fields(BrandVars),
    "project": _fields(ProjectVars),
    "referral_link": None,
    "unsubscribe_url": None,
}


# The sandbox.


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() in a template gives at most {MAX_RANGE} numbers")
    return numbers


class _Sandbox(ImmutableSandboxedEnvironment):
    """Also refuses ** and repeating a string or list into something huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        for sequence, times in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and len(sequence) * times > MAX_REPEAT
            ):
                raise SecurityError("a repeated string or list would be too long")
        return left * right


def _sandbox(autoescape: bool) -> _Sandbox:
    environment = _Sandbox(
        undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True
    )
    # No lipsum, cycler, joiner, namespace or dict: templates get their context and range().
    environment.globals.clear()
    environment.globals["range"] = _capped_range
    return environment


# HTML bodies are escaped; subjects, text and SMS bodies are sent as plain text, not escaped.
HTML_ENV = _sandbox(autoescape=True)
TEXT_ENV = _sandbox(autoescape=False)
GLOBALS = frozenset(HTML_ENV.globals)


# Compiling and checking.


@dataclass(frozen=True)
class CompiledTemplate:
    ref: str
    name: str
    channel: MessageChannel
    builtin: bool
    version: int
    # The sources, as stored (for listing), and their compiled forms (None when empty).
    subject_source: str
    html_source: str
    text_source: str
    subject: Template | None
    html: Template | None
    text: Template | None
    # The top-level variables the template reads: decides what is loaded for it.
    uses: frozenset[str]

    @property
    def needs_code(self) -> bool:
        return bool(self.uses & CODE_VARIABLES)


def _static_problems(tree: nodes.Template, field: str) -> tuple[list[Problem], set[str]]:
    """Unsafe constructs and unknown names, found in every branch, taken or not at check time."""
    problems: list[Problem] = []
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    for loader in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        problems.append(
            Problem("UNSAFE_TEMPLATE", f"line {loader.lineno}: templates cannot load others", field)
        )
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        attribute = _constant_attribute(node)
        if attribute is not None and attribute.startswith("_"):
            problems.append(
                Problem(
                    "UNSAFE_TEMPLATE",
                    f"line {node.lineno}: '{attribute}' cannot be used in a template",
                    field,
                )
            )
            continue
        owner = node.node
        if (
            attribute is not None
            and isinstance(owner, nodes.Name)
            and owner.ctx == "load"
            and owner.name not in assigned
        ):
            fields = VARIABLES.get(owner.name)
            if fields is not None and attribute not in fields:
                problems.append(
                    Problem(
                        "UNKNOWN_VARIABLE",
                        f"line {node.lineno}: {owner.name} has no '{attribute}'; it has "
                        + ", ".join(sorted(fields)),
                        field,
                    )
                )
    used: set[str] = set()
    for name in tree.find_all(nodes.Name):
        assert isinstance(name, nodes.Name)
        if name.ctx != "load" or name.name in assigned or name.name in _JINJA_LOCALS:
            continue
        if name.name == "self":
            problems.append(
                Problem("UNSAFE_TEMPLATE", f"line {name.lineno}: 'self' cannot be used", field)
            )
        elif name.name in VARIABLES:
            used.add(name.name)
        elif name.name not in GLOBALS:
            problems.append(
                Problem(
                    "UNKNOWN_VARIABLE",
                    f"line {name.lineno}: '{name.name}' is not a template variable; use "
                    + ", ".join(sorted(VARIABLES)),
                    field,
                )
            )
    return problems, used


def _constant_attribute(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        value = node.arg.value
        return value if isinstance(value, str) else None
    return None


def _compile_field(
    source: str, field: str, html: bool, problems: list[Problem], used: set[str]
) -> Template | None:
    if not source:
        return None
    environment = HTML_ENV if html else TEXT_ENV
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as error:
        problems.append(Problem("TEMPLATE_SYNTAX", f"line {error.lineno}: {error.message}", field))
        return None
    found, names = _static_problems(tree, field)
    problems.extend(found)
    used |= names
    if found:
        return None
    try:
        return environment.from_string(tree)
    except TemplateError as error:
        problems.append(Problem("TEMPLATE_SYNTAX", str(error), field))
        return None


def compile_template(
    *,
    ref: str,
    name: str,
    channel: MessageChannel,
    subject: str = "",
    html: str = "",
    text: str = "",
    version: int = 0,
    builtin: bool = False,
) -> CompiledTemplate:
    """Parses and checks statically; raises DomainError listing every problem found."""
    problems: list[Problem] = []
    used: set[str] = set()
    is_email = channel == MessageChannel.EMAIL
    compiled = CompiledTemplate(
        ref=ref,
        name=name,
        channel=channel,
        builtin=builtin,
        version=version,
        subject_source=subject if is_email else "",
        html_source=html if is_email else "",
        text_source=text,
        subject=_compile_field(subject, "subject", False, problems, used) if is_email else None,
        html=_compile_field(html, "html", True, problems, used) if is_email else None,
        text=_compile_field(text, "text", False, problems, used),
        uses=frozenset(used),
    )
    if problems:
        raise DomainError.of(problems)
    return compiled


# Context.


def _color(value: str, default: str) -> str:
    return value if _COLOR.match(value) else default


def _local_time(moment: datetime | None, timezone: str) -> str:
    """Short enough for an SMS: "31 Dec 2025, 23:59 CET"."""
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or timezone}"


@dataclass(frozen=True)
class ContextPrefix:
    """What every message of a project (and campaign) shares: built once per batch."""

    base_url: str
    secret_key: str
    project_id: str
    brand: BrandVars
    project: ProjectVars
    campaign_id: str
    campaign: CampaignVars
    offer: OfferVars
    campaign_doc: Campaign | None


_NO_CAMPAIGN = CampaignVars(name="", description="", terms="", expires_at="")
_NO_OFFER = OfferVars(text="", campaign="")
_NO_CODE = CodeVars(code="", display="", url="", expires_at="", uses_left="")
_NO_WALLET = WalletVars(apple_url="", google_url="")
_NO_LOYALTY = LoyaltyVars(points=0, tier="")


def _campaign_vars(campaign: Campaign | None) -> tuple[CampaignVars, OfferVars]:
    if campaign is None:
        return _NO_CAMPAIGN, _NO_OFFER
    expires = _local_time(campaign.ends_at, campaign.timezone)
    return (
        CampaignVars(
            name=campaign.name,
            description=campaign.description,
            terms=campaign.terms,
            expires_at=expires,
        ),
        OfferVars(text=offer_text(campaign.discount), campaign=campaign.name),
    )


def context_prefix(
    *, base_url: str, secret_key: str, project: Project, campaign: Campaign | None = None
) -> ContextPrefix:
    brand = project.brand
    campaign_vars, offer = _campaign_vars(campaign)
    return ContextPrefix(
        base_url=base_url.rstrip("/"),
        secret_key=secret_key,
        project_id=project.key,
        brand=BrandVars(
            name=brand.name or project.name,
            primary_color=_color(brand.primary_color, _DEFAULT_BRAND.primary_color),
            accent_color=_color(brand.accent_color, _DEFAULT_BRAND.accent_color),
            logo_url=brand.logo_url if brand.logo_url.startswith("https://") else "",
            shop_url=brand.shop_url,
        ),
        project=ProjectVars(name=project.name),
        campaign_id=campaign.key if campaign is not None else "",
        campaign=campaign_vars,
        offer=offer,
        campaign_doc=campaign,
    )


def _customer_vars(customer: Customer) -> CustomerVars:
    name = customer.name.strip()
    return CustomerVars(
        name=name,
        first_name=name.split()[0] if name else "",
        email=customer.email or "",
        phone=customer.phone or "",
        attributes=Attributes(customer.attributes),
    )


def message_context(
    prefix: ContextPrefix,
    *,
    channel: MessageChannel,
    customer: Customer,
    code: Code | None,
    campaign: Campaign | None = None,
    referral_link: str = "",
    loyalty: LoyaltyCard | None = None,
) -> dict[str, Any]:
    """One message's variables. `campaign` is the code's campaign (or, without a code, the
    campaign the message is about) when it is not the prefix's."""
    source = campaign if campaign is not None else prefix.campaign_doc
    if source is not None and source.key == prefix.campaign_id:
        campaign_vars, offer = prefix.campaign, prefix.offer
    else:
        campaign_vars, offer = _campaign_vars(source)
    code_vars, wallet = _NO_CODE, _NO_WALLET
    if code is not None:
        if source is None or source.key != code.campaign_id:
            raise ValueError("message_context needs the code's campaign")
        left = uses_left(code, source)
        code_vars = CodeVars(
            code=code.code,
            display=code.display or code.code,
            url=coupon_url(prefix.base_url, code),
            expires_at=campaign_vars.expires_at,
            uses_left="" if left is None else str(left),
        )
        wallet = WalletVars(
            apple_url=links.apple_wallet_url(
                prefix.base_url, prefix.secret_key, prefix.project_id, code.code
            ),
            google_url=links.google_wallet_url(
                prefix.base_url, prefix.secret_key, prefix.project_id, code.code
            ),
        )
    return {
        "customer": _customer_vars(customer),
        "code": code_vars,
        "offer": offer,
        "campaign": campaign_vars,
        "wallet": wallet,
        "referral_link": referral_link,
        "loyalty": _NO_LOYALTY
        if loyalty is None
        else LoyaltyVars(points=loyalty.balance, tier=loyalty.tier),
        "unsubscribe_url": links.unsubscribe_url(
            prefix.base_url, prefix.secret_key, prefix.project_id, customer.key, channel
        ),
        "brand": prefix.brand,
        "project": prefix.project,
    }


async def customer_extras(
    template: CompiledTemplate,
    prefix: ContextPrefix,
    customer_id: str,
    campaign: Campaign | None = None,
) -> tuple[str, LoyaltyCard | None]:
    """The referral link and loyalty card, read only when the template uses them. A referral or
    loyalty campaign picks its own link or card; otherwise the newest link, the oldest card."""
    link, card = "", None
    owner = {"project_id": prefix.project_id}
    if "referral_link" in template.uses:
        query = {**owner, "referrer_id": customer_id}
        if campaign is not None and campaign.kind == CampaignKind.REFERRAL:
            query["campaign_id"] = campaign.key
        found = await ReferralCode.find(query).sort("-created_at").limit(1).to_list()
        link = referral_url(base_url=prefix.base_url, code=found[0]) if found else ""
    if "loyalty" in template.uses:
        query = {**owner, "customer_id": customer_id}
        if campaign is not None and campaign.kind == CampaignKind.LOYALTY:
            query["campaign_id"] = campaign.key
        cards = await LoyaltyCard.find(query).sort("created_at").limit(1).to_list()
        card = cards[0] if cards else None
    return link, card


# Rendering.


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    # SMS only.
    sms: SmsInfo | None


class _HtmlText(HTMLParser):
    """Plain text of an HTML body: paragraphs on their own lines, links followed by their URL."""

    BLOCKS = frozenset(
        {"p", "div", "br", "tr", "table", "h1", "h2", "h3", "h4", "li", "ul", "ol", "hr"}
    )
    HIDDEN = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith("#"):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _render_field(template: Template | None, context: Mapping[str, Any]) -> str:
    return "" if template is None else template.render(context)


def _render_unchecked(template: CompiledTemplate, context: Mapping[str, Any]) -> Rendered:
    if template.channel == MessageChannel.SMS:
        text = _render_field(template.text, context).strip()
        return Rendered(subject="", text=text, html="", sms=sms_info(text))
    # A subject is one header line: newlines in it would inject headers.
    subject = " ".join(_render_field(template.subject, context).split())
    html = _render_field(template.html, context)
    text = (
        _render_field(template.text, context).strip()
        if template.text is not None
        else html_to_text(html)
    )
    return Rendered(subject=subject, text=text, html=html, sms=None)


_RENDER_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError)


def render(template: CompiledTemplate, context: Mapping[str, Any]) -> Rendered:
    """Renders a ready context (sync: a batch builds contexts from one ContextPrefix)."""
    try:
        return _render_unchecked(template, context)
    except (*_RENDER_ERRORS, RecursionError) as error:
        # A template that passed its check should not get here; the message fails, typed.
        raise DomainError(
            "RENDER_FAILED", f"template {template.name!r} failed to render: {error}", "templateId"
        ) from None


async def render_for(
    template: CompiledTemplate,
    prefix: ContextPrefix,
    *,
    customer: Customer,
    code: Code | None,
    campaign: Campaign | None = None,
) -> Rendered:
    """One message of a batch: `campaign` is the code's when the prefix's is another one."""
    if template.needs_code and code is None:
        raise DomainError(
            "CODE_REQUIRED", f"template {template.name!r} needs a code to send", "code"
        )
    if code is not None:
        if prefix.campaign_doc is not None and code.campaign_id == prefix.campaign_id:
            campaign = prefix.campaign_doc
        elif campaign is None or campaign.key != code.campaign_id:
            campaign = await get_campaign(prefix.project_id, code.campaign_id, "code")
    referral, card = await customer_extras(template, prefix, customer.key, campaign)
    context = message_context(
        prefix,
        channel=template.channel,
        customer=customer,
        code=code,
        campaign=campaign,
        referral_link=referral,
        loyalty=card,
    )
    return render(template, context)


async def render_message(
    *,
    base_url: str,
    secret_key: str,
    project: Project,
    template_ref: str,
    channel: MessageChannel,
    customer: Customer,
    code: Code | None,
    campaign: Campaign | None = None,
) -> Rendered:
    """What a send of `template_ref` to `customer` carries. `campaign` spares a read when it
    is the code's campaign (or, without a code, picks the referral link or loyalty card)."""
    template = await resolve_template(project.key, template_ref, channel)
    prefix = context_prefix(
        base_url=base_url, secret_key=secret_key, project=project, campaign=campaign
    )
    return await render_for(template, prefix, customer=customer, code=code, campaign=campaign)


# Resolving template references.


# Where built-ins are read from: the installed package, or ENGAGE_TEMPLATES_DIR's files over
# them; the process's settings choose once at start (use_template_files).
_template_files = TemplateFiles()


def use_template_files(files: TemplateFiles) -> None:
    global _template_files
    _template_files = files
    builtin_template.cache_clear()


# The built-in emails share one frame (brand header, footer with the unsubscribe link); each
# file holds only its own content, put in the frame before compiling.
EMAIL_LAYOUT = "email/layout.html"
LAYOUT_BODY = "<!-- body -->\n"


def _builtin_email_html(name: str) -> str:
    layout = _template_files.read_text(EMAIL_LAYOUT)
    if LAYOUT_BODY not in layout:
        raise MissingTemplateFile(f"{EMAIL_LAYOUT} has no {LAYOUT_BODY.strip()} placeholder")
    return layout.replace(LAYOUT_BODY, _template_files.read_text(f"email/{name}.html"), 1)


@cache
def builtin_template(name: str, channel: MessageChannel) -> CompiledTemplate:
    """Raises NOT_FOUND for a name that is not a built-in, and MissingTemplateFile when one of
    its files is missing: a message is never sent with an empty body."""
    if name not in BUILTIN_NAMES or channel not in TEMPLATE_CHANNELS:
        raise NotFound("template", "templateId")
    ref = BUILTIN_PREFIX + name
    if channel == MessageChannel.SMS:
        text = _template_files.read_text(f"sms/{name}.txt")
        return compile_template(ref=ref, name=name, channel=channel, text=text, builtin=True)
    return compile_template(
        ref=ref,
        name=name,
        channel=channel,
        subject=_template_files.read_text(f"email/{name}.subject.txt").strip(),
        html=_builtin_email_html(name),
        text=_template_files.read_text(f"email/{name}.txt"),
        builtin=True,
    )


def check_builtin_templates() -> None:
    """Compiles every built-in on every channel (called at start): raises MissingTemplateFile
    for a missing or empty file, DomainError for one that does not compile."""
    for channel in TEMPLATE_CHANNELS:
        for template in builtin_templates(channel):
            parts = {"text": template.text}
            if channel == MessageChannel.EMAIL:
                parts |= {"subject": template.subject, "html": template.html}
            for part, compiled in parts.items():
                if compiled is None:
                    raise MissingTemplateFile(
                        f"built-in {template.name} {channel.value} {part} is empty"
                    )


def builtin_templates(channel: MessageChannel) -> list[CompiledTemplate]:
    return [builtin_template(name, channel) for name in BUILTIN_NAMES]


_compiled: OrderedDict[tuple[str, int], CompiledTemplate] = OrderedDict()


def _check_channel(channel: MessageChannel) -> None:
    if channel not in TEMPLATE_CHANNELS:
        raise DomainError("INVALID_CHANNEL", "templates are for EMAIL or SMS", "channel")


async def resolve_template(
    project_id: str, template_ref: str, channel: MessageChannel
) -> CompiledTemplate:
    """`builtin:<name>` (any channel) or the id of one of the project's templates, compiled
    once per version."""
    _check_channel(channel)
    if is_builtin_ref(template_ref):
        return builtin_template(template_ref.removeprefix(BUILTIN_PREFIX), channel)
    try:
        stored = await get_template(project_id, template_ref, "templateId")
    except NotFound:
        raise NotFound("template", "templateId") from None
    if stored.channel != channel:
        raise DomainError(
            "CHANNEL_MISMATCH",
            f"template {stored.name!r} is for {stored.channel.value}, not {channel.value}",
            "channel",
        )
    key = (stored.key, stored.version)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = compile_template(
            ref=stored.key,
            name=stored.name,
            channel=stored.channel,
            subject=stored.subject,
            html=stored.html,
            text=stored.text,
            version=stored.version,
        )
        _compiled[key] = compiled
        if len(_compiled) > COMPILED_CACHE_SIZE:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(key)
    return compiled


# Save-time checks.


class _SampleAttributes(Attributes):
    """Every attribute present with the same value, or every attribute absent."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        super().__init__({})
        self._value = value

    def __contains__(self, name: object) -> bool:
        return self._value is not None

    def get(self, name: str, default: str = "") -> str:
        return default if self._value is None else self._value


SAMPLE_PROJECT_ID = "000000000000000000000000"
SAMPLE_CUSTOMER_ID = "000000000000000000000001"


def sample_context(
    *,
    channel: MessageChannel = MessageChannel.EMAIL,
    base_url: str = SAMPLE_BASE_URL,
    secret_key: str = "sample",  # noqa: S107
    brand: Brand | None = None,
    project_name: str = "Sample Shop",
    attributes: str | None = "sample",
) -> dict[str, Any]:
    """Realistic values of every variable, for check renders. `attributes` is the value every
    attribute reads as, or None for a customer with no attributes at all."""
    base_url = base_url.rstrip("/")
    brand = brand or Brand(name=project_name)
    code = "SUMMER-7KQ2-9XZP"
    normalized = code.replace("-", "")
    return {
        "customer": CustomerVars(
            name="Alexandra Martin",
            first_name="Alexandra",
            email="alexandra.martin@example.com",
            phone="+33612345678",
            attributes=_SampleAttributes(attributes),
        ),
        "code": CodeVars(
            code=normalized,
            display=code,
            url=f"{base_url}/c/{normalized}",
            expires_at="31 Dec 2025, 23:59 CET",
            uses_left="1",
        ),
        "offer": OfferVars(text="15% off (up to €50.00)", campaign="Summer Sale"),
        "campaign": CampaignVars(
            name="Summer Sale",
            description="Fifteen percent off everything in the shop.",
            terms="One use per customer.",
            expires_at="31 Dec 2025, 23:59 CET",
        ),
        "wallet": WalletVars(
            apple_url=links.apple_wallet_url(base_url, secret_key, SAMPLE_PROJECT_ID, normalized),
            google_url=links.google_wallet_url(base_url, secret_key, SAMPLE_PROJECT_ID, normalized),
        ),
        "referral_link": f"{base_url}/r/FRIEND7KQ2",
        "loyalty": LoyaltyVars(points=1250, tier="Gold"),
        "unsubscribe_url": sample_unsubscribe_url(channel, base_url, secret_key),
        "brand": BrandVars(
            name=brand.name or project_name,
            primary_color=_color(brand.primary_color, _DEFAULT_BRAND.primary_color),
            accent_color=_color(brand.accent_color, _DEFAULT_BRAND.accent_color),
            logo_url=brand.logo_url,
            shop_url=brand.shop_url or "https://shop.example.com",
        ),
        "project": ProjectVars(name=project_name),
    }


def sample_unsubscribe_url(
    channel: MessageChannel,
    base_url: str = SAMPLE_BASE_URL,
    secret_key: str = "sample",  # noqa: S107
) -> str:
    return links.unsubscribe_url(
        base_url.rstrip("/"), secret_key, SAMPLE_PROJECT_ID, SAMPLE_CUSTOMER_ID, channel
    )


def _check_field(
    template: Template | None, field: str, context: Mapping[str, Any], problems: list[Problem]
) -> str:
    try:
        output = _render_field(template, context)
    except SecurityError as error:
        problems.append(Problem("UNSAFE_TEMPLATE", str(error), field))
    except UndefinedError as error:
        problems.append(Problem("UNKNOWN_VARIABLE", str(error), field))
    except (*_RENDER_ERRORS, RecursionError) as error:
        problems.append(Problem("TEMPLATE_ERROR", f"{type(error).__name__}: {error}", field))
    else:
        if len(output) > MAX_RENDERED[field]:
            problems.append(
                Problem(
                    "TOO_LARGE",
                    f"the rendered {field} has more than {MAX_RENDERED[field]} characters",
                    field,
                )
            )
        return output
    return ""


def check_template(
    content: TemplateContent,
    *,
    max_sms_segments: int,
    base_url: str = SAMPLE_BASE_URL,
    brand: Brand | None = None,
) -> CheckedTemplate:
    """Compiles and renders the content with sample data, for a customer with every attribute
    and for one with none; raises DomainError with every problem found (nothing is stored)."""
    compiled = compile_template(
        ref="check",
        name=content.name,
        channel=content.channel,
        subject=content.subject,
        html=content.html,
        text=content.text,
    )
    problems: list[Problem] = []
    outputs: dict[str, str] = {}
    for attributes in (None, "sample"):
        context = sample_context(
            channel=content.channel, base_url=base_url, brand=brand, attributes=attributes
        )
        for field, template in (
            ("subject", compiled.subject),
            ("html", compiled.html),
            ("text", compiled.text),
        ):
            field_problems: list[Problem] = []
            outputs[field] = _check_field(template, field, context, field_problems)
            problems.extend(p for p in field_problems if p not in problems)
    if problems:
        raise DomainError.of(problems)
    unsubscribe = sample_unsubscribe_url(content.channel, base_url)
    if content.channel == MessageChannel.SMS:
        text = outputs["text"].strip()
        if "STOP" not in text.upper():
            raise DomainError(
                "MISSING_OPT_OUT",
                'an SMS ends with how to opt out, such as "Reply STOP to opt out"',
                "text",
            )
        info = check_sms_length(text, max_sms_segments)
        return CheckedTemplate(
            needs_code=compiled.needs_code, sms_encoding=info.encoding, sms_segments=info.segments
        )
    if unsubscribe not in outputs["html"]:
        raise DomainError(
            "MISSING_UNSUBSCRIBE",
            "an email's html links to {{ unsubscribe_url }} so the customer can opt out",
            "html",
        )
    return CheckedTemplate(needs_code=compiled.needs_code)


def template_check(
    *, max_sms_segments: int, base_url: str = SAMPLE_BASE_URL, brand: Brand | None = None
) -> TemplateCheck:
    """check_template with the project's settings, as domain.templates wants it."""

    def check(content: TemplateContent) -> CheckedTemplate:
        return check_template(
            content, max_sms_segments=max_sms_segments, base_url=base_url, brand=brand
        )

    return check


@cache
def builtin_sms_info(name: str) -> SmsInfo:
    """A built-in SMS's length with sample data, as listed beside the project's templates."""
    template = builtin_template(name, MessageChannel.SMS)
    text = _render_unchecked(template, sample_context(channel=MessageChannel.SMS)).text
    return sms_info(text)
