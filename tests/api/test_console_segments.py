"""Segment pages of the console over HTTP: the filter builder gives the API's typed errors on
its rows and previews a bounded count, static segments take pasted or uploaded ids and emails
through addSegmentMembers' function, deletion asks first, the RFM grid links each cell to its
customers, a viewer changes nothing and another project's segment is not found."""

import contextlib
import re
from collections.abc import AsyncIterator
from html import unescape

import httpx
from starlette.applications import Starlette

from domain.campaigns.models import Rules
from domain.customers import Consents, Customer, Rfm
from domain.segments import Segment, SegmentKind, SegmentMember, segment_size_within
from tests.console import make_console_user, signed_in_as
from tests.factories import Tenant, make_campaign, make_customer

ERROR = re.compile(
    r'<p class="field-error" id="([^"]+)-error">\s*<span[^>]*>Error:</span>\s*([^<]+)</p>'
)


def shown_errors(html: str) -> dict[str, str]:
    return {name: unescape(message).strip() for name, message in ERROR.findall(html)}


@contextlib.asynccontextmanager
async def console_client(
    app: Starlette, tenant: Tenant, role: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    account = await make_console_user(
        project_id=tenant.project_id, email=f"{role.lower()}@shop.test", role=role
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, await signed_in_as(client, account)


async def shoppers(project_id: str) -> list[Customer]:
    """Ada (3 orders, email consent, R5 F4), Bea (1 order, R2 F1) and Cy (no order)."""
    ada = await make_customer(
        project_id=project_id,
        name="Ada",
        email="ada@example.com",
        consents=Consents(email=True),
        metrics={"orders_count": 3, "total_spent": 9000},
        rfm=Rfm(recency=5, frequency=4, monetary=5, group="champions"),
    )
    bea = await make_customer(
        project_id=project_id,
        name="Bea",
        email="bea@example.com",
        metrics={"orders_count": 1, "total_spent": 1000},
        rfm=Rfm(recency=2, frequency=1, monetary=1, group="hibernating"),
    )
    cy = await make_customer(project_id=project_id, name="Cy", email="cy@example.com")
    return [ada, bea, cy]


def builder(csrf: str, name: str, *rows: tuple[str, str, str], **extra: str) -> dict[str, str]:
    values = {"csrf_token": csrf, "name": name, "kind": "DYNAMIC", "match": "all", **extra}
    for i, (field, op, value) in enumerate(rows):
        values |= {f"row{i}.field": field, f"row{i}.op": op, f"row{i}.value": value}
    return values


async def test_the_builder_shows_typed_errors_previews_creates_and_edits(
    app: Starlette, tenant: Tenant
) -> None:
    ada, _, _ = await shoppers(tenant.project_id)
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        refused = await http.post(
            "/console/segments/new",
            data=builder(
                csrf,
                "Buyers",
                ("metrics.orders_count", "gte", "many"),
                ("created_at", "within_days", "soon"),
            ),
        )
        assert refused.status_code == 400 and "There is a problem" in refused.text
        assert shown_errors(refused.text) == {
            "row0.value": "metrics.orders_count takes a number",
            "row1.value": "Within_days takes a whole number of days from 0 to 36500",
        }
        assert await Segment.find_all().count() == 0

        # The live preview's endpoint: problems by row, then a count and the first members.
        query = {"match": "all", "row0.field": "metrics.orders_count", "row0.op": "gte"}
        wrong = await http.get("/console/segments/preview", params=query | {"row0.value": "x"})
        assert wrong.json()["errors"][0]["field"] == "row0.value"
        found = (
            await http.get(
                "/console/segments/preview",
                params=query
                | {"row0.value": "2", "row1.field": "consents.email", "row1.op": "eq"}
                | {"row1.value": "true"},
            )
        ).json()
        assert found["errors"] == [] and found["text"] == "1 customer"
        assert found["sample"] == [
            {"name": "Ada", "email": ada.email, "href": f"/console/customers/{ada.key}"}
        ]
        # Without the script, "Update count" shows the same preview in the page.
        counted = await http.post(
            "/console/segments/new",
            data=builder(csrf, "Buyers", ("metrics.orders_count", "gte", "1"), action="preview"),
        )
        assert counted.status_code == 200 and "2 customers" in counted.text
        assert await Segment.find_all().count() == 0

        created = await http.post(
            "/console/segments/new",
            data=builder(csrf, "Buyers", ("metrics.orders_count", "gte", "1")),
        )
        assert created.status_code == 303
        segment = await Segment.find_one()
        assert segment is not None and segment.filter == {
            "all": [{"field": "metrics.orders_count", "op": "gte", "value": 1}]
        }
        page = await http.get(created.headers["location"])
        assert "2 customers" in page.text and "Orders count is at least 1" in page.text

        again = await http.post(
            "/console/segments/new", data=builder(csrf, "Buyers", ("tags", "contains", "vip"))
        )
        assert shown_errors(again.text) == {"name": "A segment with this name already exists"}

        edit = await http.get(f"/console/segments/{segment.key}/edit")
        assert 'value="metrics.orders_count" selected' in edit.text
        edited = await http.post(
            f"/console/segments/{segment.key}/edit",
            data=builder(
                csrf,
                "Loyal buyers",
                ("metrics.orders_count", "gte", "2"),
                ("attributes", "eq", "gold"),
            )
            | {"row1.key": "tier"},
        )
        assert edited.status_code == 303
        stored = await Segment.get(segment.id)
        assert stored is not None and stored.name == "Loyal buyers"
        assert stored.filter["all"][1] == {"field": "attributes.tier", "op": "eq", "value": "gold"}
        nested = {"any": [{"all": [{"field": "tags", "op": "contains", "value": "vip"}]}]}
        await http.post(
            f"/console/segments/{segment.key}/edit",
            data=builder(
                csrf,
                "Loyal buyers",
                filter_json='{"any": [{"all": [{"field": "tags", '
                '"op": "contains", "value": "VIP"}]}]}',
            ),
        )
        stored = await Segment.get(segment.id)
        assert stored is not None and stored.filter == nested
        assert "&#34;any&#34;" in (await http.get(f"/console/segments/{segment.key}/edit")).text

        # A count cut short says so.
        estimate = await segment_size_within(segment=stored, limit=0, max_time_ms=2_000)
        assert (estimate.count, estimate.complete) == (0, True)
        assert (await segment_size_within(segment=segment, limit=1, max_time_ms=2_000)) == (
            type(estimate)(count=1, complete=False)
        )


async def test_static_members_by_paste_and_upload_then_delete_viewer_and_other_project(
    app: Starlette, tenant: Tenant, other_tenant: Tenant
) -> None:
    ada, bea, cy = await shoppers(tenant.project_id)
    stranger = await make_customer(project_id=other_tenant.project_id, email="zoe@example.com")
    async with (
        console_client(app, tenant, "MARKETER") as (http, csrf),
        console_client(app, tenant, "VIEWER") as (viewer, viewer_csrf),
    ):
        created = await http.post(
            "/console/segments/new", data={"csrf_token": csrf, "name": "VIP", "kind": "STATIC"}
        )
        base = created.headers["location"].split("?")[0]
        segment = await Segment.find_one()
        assert segment is not None and segment.kind == SegmentKind.STATIC

        unmatched = await http.post(
            f"{base}/members",
            data={"csrf_token": csrf, "lines": f"{ada.key}\nnobody@example.com\n{stranger.key}"},
        )
        assert unmatched.status_code == 400
        assert shown_errors(unmatched.text) == {
            "lines": "2 lines match no customer: nothing was added"
        }
        assert "<code>nobody@example.com</code>" in unmatched.text
        assert f"<code>{stranger.key}</code>" in unmatched.text
        assert await SegmentMember.find_all().count() == 0

        pasted = await http.post(
            f"{base}/members", data={"csrf_token": csrf, "lines": f"{ada.key}, BEA@example.com"}
        )
        assert pasted.status_code == 303
        page = await http.get(pasted.headers["location"])
        assert "2 customers added; 0 were members already." in page.text
        uploaded = await http.post(
            f"{base}/members",
            data={"csrf_token": csrf},
            files={"file": ("list.csv", f"cy@example.com\n{ada.key}\n".encode(), "text/csv")},
        )
        page = await http.get(uploaded.headers["location"])
        assert "1 customer added; 1 were members already." in page.text
        assert ">3 customers<" in page.text
        assert {m.customer_id async for m in SegmentMember.find_all()} == {ada.key, bea.key, cy.key}

        # A viewer reads only; another project's segment is not found.
        seen = await viewer.get(base)
        assert (
            seen.status_code == 200
            and "Add customers" not in seen.text
            and "/edit" not in seen.text
        )
        for path in (f"{base}/members", f"{base}/delete", f"{base}/edit", "/console/segments/new"):
            refused = await viewer.post(path, data={"csrf_token": viewer_csrf, "lines": cy.key})
            assert refused.status_code == 403
        async with console_client(app, other_tenant, "OWNER") as (other, _):
            assert (await other.get(base)).status_code == 404
            assert (await other.get(f"{base}/edit")).status_code == 404

        ask = await http.get(f"{base}/delete")
        assert "Delete VIP?" in ask.text and await Segment.find_all().count() == 1
        spring = await make_campaign(
            project_id=tenant.project_id, name="Spring", rules=Rules(segment_ids=[segment.key])
        )
        in_use = await http.post(f"{base}/delete", data={"csrf_token": csrf})
        assert in_use.status_code == 400 and "SEGMENT_IN_USE" in in_use.text
        assert "Campaigns target this segment: Spring; end them first" in in_use.text
        await spring.delete()
        deleted = await http.post(f"{base}/delete", data={"csrf_token": csrf})
        assert deleted.status_code == 303
        assert await Segment.find_all().count() == 0 and await SegmentMember.find_all().count() == 0
        assert "The segment was deleted." in (await http.get(deleted.headers["location"])).text


async def test_the_rfm_grid_counts_each_cell_and_lists_its_customers(
    app: Starlette, tenant: Tenant
) -> None:
    ada, bea, cy = await shoppers(tenant.project_id)
    async with console_client(app, tenant, "VIEWER") as (viewer, _):
        grid = (await viewer.get("/console/segments/rfm")).text
        assert 'aria-label="Recency 5, frequency 4: 1 customer (champions)"' in grid
        assert 'aria-label="Recency 2, frequency 1: 1 customer (hibernating)"' in grid
        assert 'aria-label="Recency 1, frequency 1: 0 customers (lost)"' in grid
        cell = await viewer.get("/console/segments/rfm/5/4")
        assert f'href="/console/customers/{ada.key}"' in cell.text
        assert bea.key not in cell.text and cy.key not in cell.text
        assert "Save as a segment" not in cell.text
        assert (await viewer.get("/console/segments/rfm/6/1")).status_code == 404
