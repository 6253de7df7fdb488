"""The dashboard: the project's last 30 days at a glance."""

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import api.console.charts as charts
from api.console.web import Visit, console_page, format_money, has_route, plural, render, url
from domain import analytics
from domain.common import Money, minor_unit_digits

DAYS = 30
CHANNEL_LABELS = {"EMAIL": "Email", "SMS": "SMS"}
STATUS_LABELS = {
    "QUEUED": "Queued",
    "SENDING": "Sending",
    "SENT": "Sent",
    "DELIVERED": "Delivered",
    "UNDELIVERED": "Undelivered",
    "FAILED": "Failed",
    "SUPPRESSED": "Suppressed (no consent)",
}


def day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def change(current: int, previous: int) -> str:
    """ "+12 % vs the 30 days before", or a plain sentence when there is nothing to compare."""
    if previous == 0:
        return "nothing in the 30 days before" if current == 0 else "none in the 30 days before"
    percent = round((current - previous) * 100 / previous)
    return f"{percent:+d} % vs the 30 days before"


def money_formatter(currency: str) -> charts.Formatter:
    def shown(value: float) -> str:
        return format_money(Money(amount=round(value), currency=currency))

    return shown


def axis_money_formatter(currency: str) -> charts.Formatter:
    """Tick labels in whole major units: the axis needs no cents."""
    digits = minor_unit_digits(currency)

    def shown(value: float) -> str:
        return f"{round(value / 10**digits):,}"

    return shown


@console_page()
async def dashboard(request: Request, visit: Visit) -> Response:
    activity = await analytics.project_activity(project_id=visit.project_id, days=DAYS)
    overview = await analytics.project_overview(project_id=visit.project_id, top=5)
    labels = [day_label(day) for day in activity.days]
    period = (
        f"{day_label(activity.days[0])} to {day_label(activity.days[-1])} ({activity.timezone})"
    )
    busiest = max(range(len(activity.redeemed)), key=lambda i: activity.redeemed[i])
    peak = (
        f"busiest day {labels[busiest]} with {activity.redeemed[busiest]:,}. "
        if activity.redeemed_total
        else ""
    )
    redemptions_chart = charts.line_chart(
        title=f"Redemptions per day, {period}",
        description=(
            f"{plural(activity.redeemed_total, 'redemption')} in {DAYS} days, "
            f"{change(activity.redeemed_total, sum(activity.previous_redeemed))}; {peak}"
            "The dashed line is the 30 days before."
        ),
        labels=labels,
        series=[
            charts.Series("Last 30 days", activity.redeemed),
            charts.Series("30 days before", activity.previous_redeemed, dashed=True),
        ],
        y_title="Redemptions",
    )
    currency = activity.currency
    revenue_chart = charts.line_chart(
        title=f"Revenue per day ({currency}), {period}",
        description=(
            f"{format_money(activity.revenue_total)} from paid orders in {DAYS} days, "
            f"{change(sum(activity.revenue), sum(activity.previous_revenue))}. "
            "The dashed line is the 30 days before."
        ),
        labels=labels,
        series=[
            charts.Series("Last 30 days", activity.revenue),
            charts.Series("30 days before", activity.previous_revenue, dashed=True),
        ],
        y_title=f"Revenue ({currency})",
        value_format=money_formatter(currency),
        tick_format=axis_money_formatter(currency),
    )
    by_channel: dict[str, list[charts.Bar]] = {}
    for row in activity.messages:
        by_channel.setdefault(row.channel, []).append(
            charts.Bar(STATUS_LABELS.get(row.status, row.status), row.count)
        )
    message_charts = [
        (
            CHANNEL_LABELS.get(channel, channel),
            sum(bar.value for bar in bars),
            charts.bar_chart(
                title=f"{CHANNEL_LABELS.get(channel, channel)} by status, last {DAYS} days",
                description=", ".join(f"{bar.label}: {bar.value:,}" for bar in bars),
                bars=bars,
                value_title="Messages",
                label_title="Status",
            ),
        )
        for channel, bars in sorted(by_channel.items())
    ]
    top = []
    for entry in overview.top_campaigns[:5]:
        campaign = entry.campaign
        top.append(
            {
                "name": campaign.name,
                "href": url(request, "campaign", campaign_id=campaign.key)
                if has_route(request, "campaign")
                else "",
                "status": campaign.status.value,
                "redeemed": entry.redeemed,
                "revenue": format_money(await entry.revenue()),
            }
        )
    return render(
        request,
        "console/dashboard.html",
        {
            "title": "Dashboard",
            "area": "dashboard",
            "activity": activity,
            "overview": overview,
            "period": period,
            "redemptions_change": change(activity.redeemed_total, sum(activity.previous_redeemed)),
            "revenue_change": change(sum(activity.revenue), sum(activity.previous_revenue)),
            "revenue_total": format_money(activity.revenue_total),
            "other_currencies": [
                format_money(m) for m in activity.revenue_by_currency if m.currency != currency
            ],
            "redemptions_chart": redemptions_chart,
            "revenue_chart": revenue_chart,
            "message_charts": message_charts,
            "top_campaigns": top,
        },
    )


TEMPLATES = ("dashboard.html",)
routes: list[BaseRoute] = [Route("/", dashboard, methods=["GET"], name="dashboard")]
