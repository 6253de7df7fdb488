"""The console's SVG charts: named for screen readers, axes from zero, the same numbers in a
table."""

import re

from api.console.charts import Bar, Series, bar_chart, line_chart, nice_ticks


def test_a_line_chart_has_a_title_a_description_ticks_and_a_table_of_every_day() -> None:
    labels = [f"{day} Nov" for day in range(1, 31)]
    html = str(
        line_chart(
            title="Redemptions per day",
            description="45 redemptions in 30 days",
            labels=labels,
            series=[
                Series("Last 30 days", [day % 4 for day in range(30)]),
                Series("30 days before", [1] * 30, dashed=True),
            ],
            y_title="Redemptions",
        )
    )
    ident = re.search(r'aria-labelledby="(chart-\d+)-t \1-d"', html)
    assert ident and 'role="img"' in html
    assert f'<title id="{ident.group(1)}-t">Redemptions per day</title>' in html
    assert "45 redemptions in 30 days</desc>" in html
    assert 'stroke-dasharray="6 4"' in html  # the previous period differs by dash, not colour only
    assert ">30 Nov</text>" in html  # the last day is always labelled
    assert html.count('<tr><th scope="row">') == 30
    assert "<summary>Show data table</summary>" in html
    assert nice_ticks(0) == [0.0, 1.0] and nice_ticks(3) == [0.0, 1.0, 2.0, 3.0]
    assert nice_ticks(8_000) == [0.0, 2_000.0, 4_000.0, 6_000.0, 8_000.0]


def test_a_bar_chart_sorts_bars_prints_values_and_links_rows() -> None:
    html = str(
        bar_chart(
            title="Email by status",
            description="Sent 3, Failed 9",
            bars=[Bar("Sent", 3), Bar("Failed <script>", 9, href="/console/x?a=1&b=2")],
            value_title="Messages",
            label_title="Status",
        )
    )
    assert html.index("Failed &lt;script&gt;") < html.index(">Sent<")
    assert '<a href="/console/x?a=1&amp;b=2">Failed &lt;script&gt;</a>' in html
    assert ">9</text>" in html and ">3</text>" in html
    assert "<script>" not in html
