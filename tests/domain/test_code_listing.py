"""The console's reading of codes: the searchable page, the CSV export read in batches, the
pattern preview, and the money figures of a page of campaigns."""

import csv
import io

from domain.analytics.campaign_totals import campaign_totals
from domain.campaigns import CodeConfigInput, Limits
from domain.code_examples import preview_codes
from domain.code_listing import (
    EXPORT_COLUMNS,
    CodeState,
    ExportLinks,
    export_codes_csv,
    list_campaign_codes,
)
from domain.common import Money
from domain.orders import Order, OrderStatus
from domain.redemptions import Redemption, RedemptionStatus
from tests.factories import Tenant, eur, make_campaign, make_code, make_customer

LINKS = ExportLinks(base_url="https://shop.example", secret_key="k" * 32)


async def test_the_export_streams_one_chunk_per_batch_with_every_code_right(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=2))
    ada = await make_customer(
        project_id=tenant.project_id, source_id="=ada", email="ada@example.com"
    )
    displays = [f"CODE-{n:03d}" for n in range(9)] + ["-BAD"]
    for n, display in enumerate(displays):
        await make_code(
            campaign=campaign,
            display=display,
            customer_id=ada.key if n == 0 else "",
            assigned=n == 0,
            redeemed_count=2 if n == 1 else 0,
        )
    other = await make_campaign(project_id=tenant.project_id, name="Other")
    await make_code(campaign=other, display="NOT-MINE")

    chunks = [
        chunk
        async for chunk in export_codes_csv(
            campaign=campaign, export=LINKS, with_email=True, batch_size=4
        )
    ]
    # The header, then batches of 4, 4 and 2 codes: never more than a batch at once.
    assert [len(list(csv.reader(io.StringIO(c)))) for c in chunks] == [1, 4, 4, 2]
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [r["code"] for r in rows] == [*displays[:9], "'-BAD"]
    first, used = rows[0], rows[1]
    assert (first["customer_source_id"], first["customer_email"]) == ("'=ada", "ada@example.com")
    assert (first["status"], first["uses_allowed"], first["uses_left"]) == ("ACTIVE", "2", "2")
    assert (used["status"], used["uses_count"], used["uses_left"]) == ("REDEEMED", "2", "0")
    assert first["campaign_name"] == "Summer" and first["campaign_id"] == campaign.key
    assert first["created_at"].endswith("Z") and first["expires_at"] == ""
    assert first["url"] == "https://shop.example/c/CODE000"
    assert first["apple_wallet_url"].startswith("https://shop.example/passes/apple/CODE000")

    without = "".join(
        [c async for c in export_codes_csv(campaign=campaign, export=LINKS, with_email=False)]
    )
    assert "ada@example.com" not in without and "'=ada" in without


async def test_the_codes_page_finds_the_exact_code_and_narrows_by_state(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    for n in range(5):
        await make_code(
            campaign=campaign, display=f"AB-{n}", assigned=n < 2, redeemed_count=int(n == 0)
        )

    async def shown(**wanted: object) -> list[str]:
        page = await list_campaign_codes(
            project_id=tenant.project_id,
            campaign_id=campaign.key,
            first=3,
            after=None,
            **wanted,  # type: ignore[arg-type]
        )
        return [code.display for code in page.items]

    assert await shown() == ["AB-0", "AB-1", "AB-2"]
    assert await shown(search=" ab 3 ") == ["AB-3"]
    assert await shown(state=CodeState.UNASSIGNED) == ["AB-2", "AB-3", "AB-4"]
    assert await shown(state=CodeState.REDEEMED) == ["AB-0"]


def test_the_preview_gives_examples_and_the_advice_generate_codes_would_give() -> None:
    fits = preview_codes(given=CodeConfigInput(pattern="SPRING-####"), planned=100)
    assert len(fits.examples) == 3 and all(e.startswith("SPRING-") for e in fits.examples)
    assert (fits.space, fits.most, fits.advice) == (31**4, 31**4 // 100, "")

    small = preview_codes(given=CodeConfigInput(pattern="SPRING-###"), planned=1_000)
    assert "use a pattern with at least 4 '#' characters" in small.advice

    wrong = preview_codes(given=CodeConfigInput(pattern="SPRING"))
    assert [(p.code, p.field) for p in wrong.problems] == [("INVALID_PATTERN", "codes.pattern")]


async def test_totals_give_each_campaign_its_revenue_and_discounts_per_currency(
    tenant: Tenant,
) -> None:
    spring = await make_campaign(project_id=tenant.project_id, name="Spring")
    fall = await make_campaign(project_id=tenant.project_id, name="Fall")
    for amount, currency, campaign_ids, status in (
        (5000, "EUR", [spring.key], OrderStatus.PAID),
        (2000, "EUR", [spring.key, fall.key], OrderStatus.PAID),
        (900, "USD", [spring.key], OrderStatus.PAID),
        (7000, "EUR", [spring.key], OrderStatus.CANCELLED),
    ):
        await Order(
            project_id=tenant.project_id,
            order_id=f"o-{amount}",
            amount=Money(amount=amount, currency=currency),
            campaign_ids=campaign_ids,
            status=status,
        ).insert()
    for discount, status in ((eur(500), RedemptionStatus.SUCCEEDED), (eur(300), None)):
        await Redemption(
            project_id=tenant.project_id,
            code="X",
            code_id="c",
            campaign_id=spring.key,
            discount=discount,
            status=status or RedemptionStatus.ROLLED_BACK,
            day="2026-12-01",
        ).insert()

    totals = await campaign_totals(
        project_id=tenant.project_id, campaign_ids=[spring.key, fall.key]
    )
    assert totals[spring.key].revenue == [eur(7000), Money(amount=900, currency="USD")]
    assert totals[spring.key].discount_cost == [eur(500)]
    assert (totals[fall.key].revenue, totals[fall.key].discount_cost) == ([eur(2000)], [])
