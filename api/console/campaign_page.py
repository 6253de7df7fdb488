"""The console's page of one campaign: its figures, stats over time as SVG charts, delivery by
channel, its latest redemptions, and rolling a redemption back after a confirmation."""

from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.console.campaign_views import (
    CHANNEL_NAMES,
    STATUS_CHANGES,
    campaign_of,
    code_shape,
    count_of,
    limit_text,
    moneys,
    rules_text,
    status_of,
)
from api.console.charts import Bar, Series, bar_chart, line_chart
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    format_money,
    redirect,
    render,
    zone_of,
)
from domain import analytics
from domain.analytics.campaign_totals import campaign_totals
from domain.code_listing import (
    codes_by_id,
)
from domain.codes import offer_text
from domain.common import Money, utc_now
from domain.console import ConsoleRole
from domain.customers import Customer, customers_by_id
from domain.errors import DomainError, NotFound, Problem
from domain.redemptions import get_redemption, latest_redemptions, rollback_redemption

LATEST_REDEMPTIONS = 20
RANGES = (7, 30, 90)
DEFAULT_RANGE = 30


# --- the campaign page -----------------------------------------------------------------------


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def _major(value: float, currency: str) -> str:
    return format_money(Money(amount=round(value), currency=currency))


@console_page()
async def campaign_page(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    days_text = request.query_params.get("days", "")
    days = int(days_text) if days_text.isdigit() and int(days_text) in RANGES else DEFAULT_RANGE
    now = utc_now()
    zone = zone_of(campaign.timezone)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), zone)
    stats = await analytics.campaign_stats(
        project_id=visit.project_id, campaign_id=campaign.key, start=since
    )
    by_day = {entry.day: entry for entry in stats.daily}
    labels = [f"{d.day} {d:%b}" for d in _days(first_day, today)]
    daily = [by_day.get(d) for d in _days(first_day, today)]
    redeemed = [float(entry.redeemed if entry else 0) for entry in daily]
    revenue = [float(entry.revenue.amount if entry else 0) for entry in daily]
    discounts = [float(entry.discount_cost.amount if entry else 0) for entry in daily]
    currency = stats.currency
    # A campaign with no money anywhere yet (no amount in its offer, no order, no discount
    # given) has no currency to show amounts in.
    known = currency != analytics.NO_CURRENCY

    def shown(value: Money) -> str:
        return format_money(value) if known else "—"

    zero = Money(amount=0, currency=currency)

    peak = max(range(len(redeemed)), key=lambda i: redeemed[i]) if any(redeemed) else None
    period = f"the last {days} days ({labels[0]} to {labels[-1]}, {zone.key})"
    redemptions_chart = line_chart(
        title=f"Redemptions per day, {period}",
        description=f"{stats.redeemed:,} redemption{'' if stats.redeemed == 1 else 's'} in all"
        + (f"; most on {labels[peak]} ({int(redeemed[peak]):,})" if peak is not None else ""),
        labels=labels,
        series=[Series("Redemptions", redeemed)],
        y_title="Redemptions",
    )
    money_chart = line_chart(
        title=f"Revenue and discount cost per day, {period}",
        description=f"Revenue {shown(stats.revenue)}, discount cost {shown(stats.discount_cost)}",
        labels=labels,
        series=[Series("Revenue", revenue), Series("Discount cost", discounts)],
        y_title=f"Amount ({currency})" if known else "Amount",
        value_format=lambda value: _major(value, currency) if known else f"{value:,.0f}",
    )
    direct = max(0, stats.redeemed - sum(channel.redeemed for channel in stats.channels))
    channel_bars = [
        Bar(CHANNEL_NAMES[channel.channel.value], float(channel.redeemed))
        for channel in stats.channels
    ] + [Bar("No message", float(direct))]
    channels_chart = bar_chart(
        title=f"Redemptions by the channel that delivered the code, {period}",
        description=", ".join(f"{bar.label}: {int(bar.value):,}" for bar in channel_bars),
        bars=channel_bars,
        value_title="Redemptions",
        label_title="Channel",
    )
    totals = (await campaign_totals(project_id=visit.project_id, campaign_ids=[campaign.key]))[
        campaign.key
    ]
    latest = await latest_redemptions(
        project_id=visit.project_id, campaign_id=campaign.key, limit=LATEST_REDEMPTIONS
    )
    people: dict[str, Customer] = await customers_by_id(
        visit.project_id, [r.customer_id for r in latest if r.customer_id]
    )
    printed = await codes_by_id(project_id=visit.project_id, code_ids=[r.code_id for r in latest])
    word, hint, css = status_of(campaign, now)
    saved = request.query_params.get("saved", "")
    count = count_of(request.query_params.get("count", ""))
    return render(
        request,
        "console/campaigns/campaign.html",
        {
            "title": campaign.name,
            "area": "campaigns",
            "campaign": campaign,
            "status": word,
            "hint": hint,
            "css": css,
            "offer": offer_text(campaign.discount),
            "shape": code_shape(campaign),
            "who": rules_text(campaign),
            "stats": stats,
            "totals": totals,
            "revenue_all": moneys(totals.revenue) if totals.revenue else shown(zero),
            "discount_all": moneys(totals.discount_cost) if totals.discount_cost else shown(zero),
            "revenue_window": shown(stats.revenue),
            "discount_window": shown(stats.discount_cost),
            "redemptions_chart": redemptions_chart,
            "money_chart": money_chart,
            "channels_chart": channels_chart,
            "days": days,
            "ranges": RANGES,
            "zone": zone.key,
            "latest": latest,
            "people": people,
            "printed": {key: code.display or code.code for key, code in printed.items()},
            "channel_names": CHANNEL_NAMES,
            "show_personal": visit.can(ConsoleRole.MARKETER),
            "limit_total": limit_text(campaign.limits.total),
            "notice": {
                "created": "Campaign created.",
                "updated": "Changes saved.",
                "pause": "Campaign paused.",
                "resume": "Campaign resumed.",
                "end": "Campaign ended.",
                "rolled-back": "Redemption rolled back.",
            }.get(saved, ""),
            "planned": count,
            "actions": [
                change
                for change in STATUS_CHANGES.values()
                if campaign.status in change.allowed_from
            ],
        },
    )


# --- rollback --------------------------------------------------------------------------------


@console_page(ConsoleRole.MARKETER)
async def redemption_rollback(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    redemption = await get_redemption(
        project_id=visit.project_id, redemption_id=str(request.path_params["redemption_id"])
    )
    if redemption.campaign_id != campaign.key:
        raise NotFound("redemption")
    errors = FormErrors()
    reason = ""
    if request.method == "POST":
        reason = str((await request.form()).get("reason") or "").strip()
        try:
            await rollback_redemption(
                project_id=visit.project_id, redemption_id=redemption.key, reason=reason
            )
        except DomainError as error:
            errors = form_errors([Problem(p.code, p.message, None) for p in error.problems])
        else:
            return redirect(
                request, "campaign", query="saved=rolled-back", campaign_id=campaign.key
            )
    printed = await codes_by_id(project_id=visit.project_id, code_ids=[redemption.code_id])
    code = printed[redemption.code_id].display if redemption.code_id in printed else redemption.code
    return render(
        request,
        "console/campaigns/rollback.html",
        {
            "title": f"Roll back the redemption of {code}?",
            "code": code,
            "area": "campaigns",
            "campaign": campaign,
            "redemption": redemption,
            "reason": reason,
            "errors": errors,
        },
        400 if errors else 200,
    )


routes: list[BaseRoute] = [
    Route("/campaigns/{campaign_id}", campaign_page, methods=["GET"], name="campaign"),
    Route(
        "/campaigns/{campaign_id}/redemptions/{redemption_id}/rollback",
        redemption_rollback,
        methods=["GET", "POST"],
        name="redemption_rollback",
    ),
]
