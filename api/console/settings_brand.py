"""Settings, brand: the project's name, colours, logo and shop link on its pages, messages and
passes, saved through the same domain function as updateBrand, with a preview of the coupon
page drawn by its own template with the draft brand and a sample code (saving nothing)."""

import secrets
from datetime import timedelta
from urllib.parse import urlencode

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    SECURITY_HEADERS,
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
    settings_of,
    url,
)
from api.pages import coupon_html
from domain import console, projects
from domain.campaigns import Campaign, Discount, DiscountType
from domain.codes import Code
from domain.common import utc_now
from domain.errors import DomainError

# The form's names, in the order of the page, and the API's names for the same fields.
FIELDS = ("name", "primary_color", "accent_color", "logo_url", "shop_url")
API_FIELDS = {
    "name": "name",
    "primaryColor": "primary_color",
    "accentColor": "accent_color",
    "logoUrl": "logo_url",
    "shopUrl": "shop_url",
}
SAMPLE_CODE = "SPRING-15-SAMPLE"
# The preview page may be framed by the console only, and runs nothing even if asked to.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'none'; img-src https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)
# The brand page frames its own preview; everything else stays as on every console page.
PAGE_POLICY = SECURITY_HEADERS["Content-Security-Policy"] + "; frame-src 'self'"


def _draft_values(source: FormData | QueryParams) -> dict[str, str]:
    return {name: str(source.get(name) or "") for name in FIELDS if name in source}


def _changes(values: dict[str, str]) -> projects.BrandChanges:
    return projects.BrandChanges(**{name: values[name] for name in FIELDS if name in values})


def _saved_values(project: projects.Project) -> dict[str, str]:
    brand = project.brand
    return {name: str(getattr(brand, name)) for name in FIELDS}


def _preview_src(request: Request, values: dict[str, str]) -> str:
    return f"{url(request, 'brand_preview')}?{urlencode(values)}"


def _brand_page(
    request: Request,
    visit: Visit,
    values: dict[str, str],
    *,
    errors: DomainError | None = None,
    done: str = "",
) -> Response:
    response = render(
        request,
        "console/settings/brand.html",
        {
            "title": "Brand",
            "area": "settings",
            "values": values,
            "display_name": projects.display_name(visit.project),
            "errors": form_errors(errors or [], API_FIELDS),
            "preview_src": _preview_src(request, values),
            "done": done,
        },
        400 if errors else 200,
    )
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


@console_page(console.ConsoleRole.OWNER)
async def brand(request: Request, visit: Visit) -> Response:
    saved = request.query_params.get("done") == "saved"
    done = "The brand was saved: coupon pages, messages and passes use it from now on."
    return _brand_page(request, visit, _saved_values(visit.project), done=done if saved else "")


@console_page(console.ConsoleRole.OWNER)
async def save_brand(request: Request, visit: Visit) -> Response:
    """Saves the form, or with the "Preview" button (for browsers without scripts) only shows
    the coupon page with it."""
    form = await request.form()
    values = {**_saved_values(visit.project), **_draft_values(form)}
    changes = _changes(values)
    try:
        if form.get("action") == "preview":
            projects.draft_brand(visit.project, changes)
            return _brand_page(request, visit, values)
        await projects.update_brand(visit.project_id, changes)
    except DomainError as error:
        return _brand_page(request, visit, values, errors=error)
    return redirect(request, "brand", query="done=saved")


def _previewed_brand(project: projects.Project, values: dict[str, str]) -> projects.Brand:
    """The draft brand, each field that does not pass the domain's checks kept as saved (the
    form shows why when it is sent)."""
    try:
        return projects.draft_brand(project, _changes(values))
    except DomainError:
        kept: dict[str, str] = {}
        for name, value in values.items():
            try:
                projects.draft_brand(project, _changes({name: value}))
            except DomainError:
                continue
            kept[name] = value
        return projects.draft_brand(project, _changes(kept))


def _sample(project: projects.Project) -> tuple[Code, Campaign]:
    """A coupon that exists only for the preview: never saved, never redeemable."""
    campaign = Campaign(
        project_id=project.key,
        name="Spring sale",
        description="A sample offer: your coupon pages look like this.",
        discount=Discount(type=DiscountType.PERCENT, percent_off=15),
        ends_at=utc_now() + timedelta(days=14),
        timezone=project.messaging.timezone,
    )
    code = Code(
        project_id=project.key,
        code=SAMPLE_CODE.replace("-", ""),
        display=SAMPLE_CODE,
        campaign_id="sample",
    )
    return code, campaign


@console_page(console.ConsoleRole.OWNER)
async def brand_preview(request: Request, visit: Visit) -> Response:
    values = _draft_values(request.query_params)
    draft = visit.project.model_copy(update={"brand": _previewed_brand(visit.project, values)})
    code, campaign = _sample(draft)
    nonce = secrets.token_urlsafe(16)
    html = coupon_html(settings_of(request), code, campaign, draft, nonce=nonce)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": PREVIEW_POLICY.format(nonce=nonce)}
    return HTMLResponse(html, headers=headers)


TEMPLATES = ("settings/brand.html",)
routes: list[BaseRoute] = [
    Route("/settings/brand", brand, methods=["GET"], name="brand"),
    Route("/settings/brand", save_brand, methods=["POST"], name="brand_post"),
    Route("/settings/brand/preview", brand_preview, methods=["GET"], name="brand_preview"),
]
