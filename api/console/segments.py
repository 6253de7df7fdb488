"""Console pages for segments: the list, a segment's page with its size and first members,
the create and edit form with the filter builder and its live preview (the same checks and
typed errors as createSegment and updateSegment), members of static segments pasted or
uploaded (through addSegmentMembers' function), deletion after a confirmation, and the RFM
grid of recency by frequency whose cells list their customers."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bson import ObjectId
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import api.console.segment_form as segment_form
from api.console.customers import display_name
from api.console.web import (
    Visit,
    console_page,
    form_errors,
    format_number,
    redirect,
    render,
    url,
)
from domain import segments
from domain.console import ConsoleRole
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.rfm import group_of
from domain.segments import Segment, SegmentKind, SizeEstimate
from domain.segments.errors import SegmentError

LIST_PAGE = 50
SAMPLE = 10
RFM_SAMPLE = 100
# A preview counts at most this many matches for at most this long; beyond, it says so.
PREVIEW_LIMIT = 10_000
PREVIEW_TIME_MS = 2_000
PAGE_LIMIT = 1_000_000
PAGE_TIME_MS = 5_000
# An uploaded list is read up to this size (10,000 lines of ids or emails fit).
MAX_UPLOAD_BYTES = 400_000
SCORES = range(1, 6)
KIND_LABELS = {SegmentKind.STATIC: "Static", SegmentKind.DYNAMIC: "Dynamic"}


def size_text(size: SizeEstimate) -> str:
    if size.count is None:
        return "Not counted: the count took longer than the time allowed"
    if size.complete:
        return f"{format_number(size.count)} {'customer' if size.count == 1 else 'customers'}"
    return f"At least {format_number(size.count)} customers (estimate: counting stopped there)"


def transient_segment(project_id: str, filter: dict[str, Any]) -> Segment:
    """A dynamic segment that is not saved, to count and sample a filter as a saved one is."""
    return Segment(
        id=ObjectId(),
        project_id=project_id,
        name="preview",
        kind=SegmentKind.DYNAMIC,
        filter=segments.check_filter(filter),
    )


def sample_rows(request: Request, customers: list[Any]) -> list[dict[str, str]]:
    return [
        {
            "name": display_name(customer),
            "email": customer.email or "",
            "href": url(request, "customer", customer_id=customer.key),
        }
        for customer in customers
    ]


@dataclass
class Preview:
    text: str
    sample: list[dict[str, str]]


async def preview_of(
    request: Request, visit: Visit, filter: Any, places: dict[str, str]
) -> tuple[Preview | None, list[Problem]]:
    """The bounded count and first members of a filter, or its problems on the form."""
    if filter is None:
        return None, []
    try:
        segment = transient_segment(visit.project_id, filter)
    except DomainError as error:
        return None, segment_form.place_problems(error.problems, places)
    size = await segments.segment_size_within(
        segment=segment, limit=PREVIEW_LIMIT, max_time_ms=PREVIEW_TIME_MS
    )
    sample = await segments.segment_sample(segment=segment, first=SAMPLE)
    return Preview(text=size_text(size), sample=sample_rows(request, sample)), []


# --- list and page -----------------------------------------------------------------------------


@console_page()
async def segment_list(request: Request, visit: Visit) -> Response:
    after = request.query_params.get("after") or None
    page = await segments.list_segments(
        project_id=visit.project_id, first=LIST_PAGE, after=after[:100] if after else None
    )
    sizes = await segments.segment_sizes(project_id=visit.project_id, segments=page.items)
    rows = [
        {
            "segment": segment,
            "kind": KIND_LABELS[segment.kind],
            "size": sizes.get(segment.key, 0),
            "definition": segment_form.describe(segment.filter)
            if segment.kind == SegmentKind.DYNAMIC
            else "A list of customers",
        }
        for segment in page.items
    ]
    next_link = (
        url(request, "segments") + "?" + urlencode({"after": page.cursor(page.items[-1])})
        if page.has_next and page.items
        else ""
    )
    return render(
        request,
        "console/segments/list.html",
        {
            "title": "Segments",
            "area": "segments",
            "rows": rows,
            "next_link": next_link,
            "first_page": after is None,
        },
    )


async def _segment_page(
    request: Request, visit: Visit, segment: Segment, context: Mapping[str, Any], status: int
) -> Response:
    size = await segments.segment_size_within(
        segment=segment, limit=PAGE_LIMIT, max_time_ms=PAGE_TIME_MS
    )
    sample = await segments.segment_sample(segment=segment, first=SAMPLE)
    return render(
        request,
        "console/segments/segment.html",
        {
            "title": segment.name,
            "area": "segments",
            "segment": segment,
            "kind": KIND_LABELS[segment.kind],
            "size": size_text(size),
            "definition": segment_form.describe(segment.filter),
            "sample": sample_rows(request, sample),
            "done": request.query_params.get("done", ""),
            "lines": "",
            "unmatched": [],
            "max_lines": segments.MAX_IDS_PER_CALL,
            **context,
        },
        status,
    )


@console_page()
async def segment_page(request: Request, visit: Visit) -> Response:
    segment = await segments.get_segment(
        project_id=visit.project_id, segment_id=request.path_params["segment_id"]
    )
    return await _segment_page(request, visit, segment, {}, 200)


# --- create and edit ---------------------------------------------------------------------------


def _form_context(
    request: Request,
    *,
    segment: Segment | None,
    name: str,
    kind: str,
    builder: segment_form.Builder,
) -> dict[str, Any]:
    return {
        "area": "segments",
        "segment": segment,
        "name": name,
        "kind": kind,
        "builder": builder,
        "field_options": segment_form.field_options(),
        "op_labels": segment_form.OP_LABELS,
        "ops_by_field": segment_form.ops_by_field(),
        "value_hint": segment_form.VALUE_HINT,
        "preview": None,
        "preview_url": url(request, "segment_preview"),
        "action": url(request, "segment_edit", segment_id=segment.key)
        if segment
        else url(request, "segment_new"),
    }


async def _first_preview(
    request: Request, visit: Visit, builder: segment_form.Builder
) -> Preview | None:
    """The preview a form opens with, so a filter already there shows its count without the
    script; a filter with problems shows none until it is changed."""
    read = segment_form.filter_of(builder)
    if read.problems:
        return None
    found, _ = await preview_of(request, visit, read.filter, read.places)
    return found


@console_page(minimum=ConsoleRole.MARKETER)
async def new_form(request: Request, visit: Visit) -> Response:
    # Prefilled from the query (the RFM grid's "save as a segment" link).
    builder = segment_form.read_builder(request.query_params)
    context = _form_context(
        request,
        segment=None,
        name=request.query_params.get("name", "")[:200],
        kind=SegmentKind.DYNAMIC.value,
        builder=builder,
    )
    context["preview"] = await _first_preview(request, visit, builder)
    return render(request, "console/segments/form.html", {"title": "New segment", **context})


async def _save(request: Request, visit: Visit, segment: Segment | None) -> Response:
    values = {key: str(value) for key, value in (await request.form()).items()}
    builder = segment_form.read_builder(values)
    name = values.get("name", "")
    kind_text = segment.kind.value if segment else values.get("kind", SegmentKind.DYNAMIC.value)
    kind = SegmentKind.STATIC if kind_text == SegmentKind.STATIC.value else SegmentKind.DYNAMIC
    title = f"Edit {segment.name}" if segment else "New segment"
    context = _form_context(request, segment=segment, name=name, kind=kind.value, builder=builder)
    read = segment_form.filter_of(builder)
    if kind == SegmentKind.DYNAMIC and values.get("action") == "preview":
        # Without the script: the "Update count" button shows the same preview in the page.
        problems = read.problems
        preview = None
        if not problems:
            preview, problems = await preview_of(request, visit, read.filter, read.places)
        return render(
            request,
            "console/segments/form.html",
            {"title": title, **context, "preview": preview, "errors": form_errors(problems)},
            400 if problems else 200,
        )
    if read.problems and kind == SegmentKind.DYNAMIC:
        return render(
            request,
            "console/segments/form.html",
            {"title": f"Error: {title}", **context, "errors": form_errors(read.problems)},
            400,
        )
    filter = read.filter if kind == SegmentKind.DYNAMIC else None
    try:
        if segment is not None and kind == SegmentKind.DYNAMIC and filter is None:
            # update_segment keeps a filter it is not given; an emptied builder is an error.
            raise DomainError(
                SegmentError.INVALID_FILTER, "a dynamic segment needs a filter", "filter"
            )
        if segment is None:
            saved = await segments.create_segment(
                project_id=visit.project_id, name=name, kind=kind, filter=filter
            )
            done = "created"
        else:
            saved = await segments.update_segment(
                project_id=visit.project_id,
                segment_id=segment.key,
                name=name,
                filter=filter if kind == SegmentKind.DYNAMIC else None,
            )
            done = "saved"
    except DomainError as error:
        problems = segment_form.place_problems(error.problems, read.places)
        return render(
            request,
            "console/segments/form.html",
            {"title": f"Error: {title}", **context, "errors": form_errors(problems)},
            400,
        )
    return redirect(request, "segment", query=f"done={done}", segment_id=saved.key)


@console_page(minimum=ConsoleRole.MARKETER)
async def create(request: Request, visit: Visit) -> Response:
    return await _save(request, visit, None)


@console_page(minimum=ConsoleRole.MARKETER)
async def edit_form(request: Request, visit: Visit) -> Response:
    segment = await segments.get_segment(
        project_id=visit.project_id, segment_id=request.path_params["segment_id"]
    )
    builder = (
        segment_form.builder_of(segment.filter)
        if segment.kind == SegmentKind.DYNAMIC
        else segment_form.Builder()
    )
    context = _form_context(
        request, segment=segment, name=segment.name, kind=segment.kind.value, builder=builder
    )
    context["preview"] = await _first_preview(request, visit, builder)
    return render(
        request, "console/segments/form.html", {"title": f"Edit {segment.name}", **context}
    )


@console_page(minimum=ConsoleRole.MARKETER)
async def update(request: Request, visit: Visit) -> Response:
    segment = await segments.get_segment(
        project_id=visit.project_id, segment_id=request.path_params["segment_id"]
    )
    return await _save(request, visit, segment)


@console_page(minimum=ConsoleRole.MARKETER)
async def preview(request: Request, visit: Visit) -> Response:
    """The live preview's JSON: the bounded size and first members of the filter the form
    holds, or its problems by form field."""
    builder = segment_form.read_builder(request.query_params)
    read = segment_form.filter_of(builder)
    problems = read.problems
    found = None
    if not problems:
        found, problems = await preview_of(request, visit, read.filter, read.places)
    return JSONResponse(
        {
            "text": found.text if found else "",
            "sample": found.sample if found else [],
            "empty": read.filter is None and not problems,
            "errors": [
                {
                    "field": problem.field or "filter",
                    "code": problem.code,
                    "message": problem.message,
                }
                for problem in problems
            ],
        }
    )


# --- members of static segments ----------------------------------------------------------------


async def _member_lines(form: Mapping[str, Any]) -> tuple[list[str], Problem | None]:
    text = str(form.get("lines") or "")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            return [], Problem(
                CommonError.INVALID,
                f"the file is larger than {MAX_UPLOAD_BYTES // 1000} kB: split it",
                "file",
            )
        try:
            text += "\n" + content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], Problem(CommonError.INVALID, "the file is not UTF-8 text", "file")
    lines = [part for line in text.splitlines() for part in line.replace(";", ",").split(",")]
    if not any(line.strip() for line in lines):
        return [], Problem(
            CommonError.INVALID, "paste or upload at least one customer id or email", "lines"
        )
    return lines, None


@console_page(minimum=ConsoleRole.MARKETER)
async def add_members(request: Request, visit: Visit) -> Response:
    segment = await segments.get_segment(
        project_id=visit.project_id, segment_id=request.path_params["segment_id"]
    )
    async with request.form(max_files=1, max_fields=10) as form:
        lines, problem = await _member_lines(form)
    pasted = str(form.get("lines") or "")[:200_000]
    if problem is not None:
        context = {"errors": form_errors([problem]), "lines": pasted}
        return await _segment_page(request, visit, segment, context, 400)
    try:
        resolved = await segments.resolve_member_lines(project_id=visit.project_id, lines=lines)
        if resolved.unmatched:
            context = {
                "errors": form_errors(
                    [
                        Problem(
                            SegmentError.UNKNOWN_CUSTOMER,
                            f"{len(resolved.unmatched):,} lines match no customer: "
                            "nothing was added",
                            "lines",
                        )
                    ]
                ),
                "lines": pasted,
                "unmatched": resolved.unmatched[: segments.MAX_LISTED_UNKNOWN],
            }
            return await _segment_page(request, visit, segment, context, 400)
        change = await segments.add_members(
            project_id=visit.project_id,
            segment_id=segment.key,
            customer_ids=resolved.customer_ids,
        )
    except DomainError as error:
        fields = {"customerIds": "lines", "segmentId": "lines"}
        problems = [
            Problem(p.code, p.message, "lines" if p.field else None)
            if p.field not in fields
            else Problem(p.code, p.message, fields[p.field])
            for p in error.problems
        ]
        context = {"errors": form_errors(problems), "lines": pasted}
        return await _segment_page(request, visit, segment, context, 400)
    query = urlencode({"done": "added", "added": change.changed, "already": change.unchanged})
    return redirect(request, "segment", query=query, segment_id=segment.key)


# --- delete ------------------------------------------------------------------------------------


def _delete_context(request: Request, segment: Segment) -> dict[str, Any]:
    return {
        "title": f"Delete {segment.name}?",
        "area": "segments",
        "text": "The segment and its member list are deleted. Campaigns that have ended keep "
        "their codes; a campaign still running that targets it must end first.",
        "action": url(request, "segment_delete", segment_id=segment.key),
        "confirm_label": "Delete segment",
        "back_href": url(request, "segment", segment_id=segment.key),
        "back_label": "Keep it",
    }


@console_page(minimum=ConsoleRole.MARKETER)
async def delete_form(request: Request, visit: Visit) -> Response:
    segment = await segments.get_segment(
        project_id=visit.project_id, segment_id=request.path_params["segment_id"]
    )
    return render(request, "console/confirm.html", _delete_context(request, segment))


@console_page(minimum=ConsoleRole.MARKETER)
async def delete(request: Request, visit: Visit) -> Response:
    segment = await segments.get_segment(
        project_id=visit.project_id, segment_id=request.path_params["segment_id"]
    )
    try:
        await segments.delete_segment(project_id=visit.project_id, segment_id=segment.key)
    except DomainError as error:
        context = _delete_context(request, segment)
        return render(
            request,
            "console/confirm.html",
            {
                **context,
                "title": f"Error: {context['title']}",
                "errors": form_errors([Problem(p.code, p.message) for p in error.problems]),
            },
            400,
        )
    return redirect(request, "segments", query="done=deleted")


# --- RFM ---------------------------------------------------------------------------------------


def rfm_filter(recency: int, frequency: int) -> dict[str, Any]:
    return {
        "all": [
            {"field": "rfm.recency", "op": "eq", "value": recency},
            {"field": "rfm.frequency", "op": "eq", "value": frequency},
        ]
    }


def rfm_cell_href(request: Request, recency: int, frequency: int) -> str:
    return url(request, "segments_rfm_cell", recency=recency, frequency=frequency)


@console_page()
async def rfm_grid(request: Request, visit: Visit) -> Response:
    """Customers by recency score (columns) and frequency score (rows), counted in one read
    of the project's customers by the segments' own matching."""
    cells = {
        (r, f): transient_segment(visit.project_id, rfm_filter(r, f))
        for r in SCORES
        for f in SCORES
    }
    prospects = transient_segment(
        visit.project_id, {"field": "rfm.recency", "op": "eq", "value": 0}
    )
    sizes = await segments.segment_sizes(
        project_id=visit.project_id, segments=[*cells.values(), prospects]
    )
    counts = {key: sizes.get(segment.key, 0) for key, segment in cells.items()}
    most = max(counts.values(), default=0)
    grid = [
        {
            "frequency": f,
            "cells": [
                {
                    "recency": r,
                    "count": counts[(r, f)],
                    "group": group_of(r, f).replace("_", " "),
                    # Darker for fuller cells; empty cells stay pale.
                    "shade": round(0.08 + 0.82 * counts[(r, f)] / most, 2) if most else 0.08,
                    "href": rfm_cell_href(request, r, f),
                }
                for r in SCORES
            ],
        }
        for f in reversed(SCORES)
    ]
    return render(
        request,
        "console/segments/rfm.html",
        {
            "title": "RFM grid",
            "area": "segments",
            "grid": grid,
            "scored": sum(counts.values()),
            "prospects": sizes.get(prospects.key, 0),
        },
    )


@console_page()
async def rfm_cell(request: Request, visit: Visit) -> Response:
    recency = int(request.path_params["recency"])
    frequency = int(request.path_params["frequency"])
    if recency not in SCORES or frequency not in SCORES:
        raise NotFound("RFM cell")
    segment = transient_segment(visit.project_id, rfm_filter(recency, frequency))
    size = await segments.segment_size_within(
        segment=segment, limit=PAGE_LIMIT, max_time_ms=PAGE_TIME_MS
    )
    sample = await segments.segment_sample(segment=segment, first=RFM_SAMPLE)
    prefill = {
        "name": f"RFM R{recency} F{frequency}",
        "match": "all",
        "row0.field": "rfm.recency",
        "row0.op": "eq",
        "row0.value": str(recency),
        "row1.field": "rfm.frequency",
        "row1.op": "eq",
        "row1.value": str(frequency),
    }
    return render(
        request,
        "console/segments/rfm_cell.html",
        {
            "title": f"RFM recency {recency}, frequency {frequency}",
            "area": "segments",
            "recency": recency,
            "frequency": frequency,
            "group": group_of(recency, frequency).replace("_", " "),
            "size": size_text(size),
            "customers": sample_rows(request, sample),
            "shown": len(sample),
            "save_href": url(request, "segment_new") + "?" + urlencode(prefill),
        },
    )


TEMPLATES = (
    "segments/list.html",
    "segments/segment.html",
    "segments/form.html",
    "segments/rfm.html",
    "segments/rfm_cell.html",
)

routes: list[BaseRoute] = [
    Route("/segments", segment_list, methods=["GET"], name="segments"),
    Route("/segments/new", new_form, methods=["GET"], name="segment_new"),
    Route("/segments/new", create, methods=["POST"], name="segment_create"),
    Route("/segments/preview", preview, methods=["GET"], name="segment_preview"),
    Route("/segments/rfm", rfm_grid, methods=["GET"], name="segments_rfm"),
    Route(
        "/segments/rfm/{recency:int}/{frequency:int}",
        rfm_cell,
        methods=["GET"],
        name="segments_rfm_cell",
    ),
    Route("/segments/{segment_id}", segment_page, methods=["GET"], name="segment"),
    Route("/segments/{segment_id}/edit", edit_form, methods=["GET"], name="segment_edit"),
    Route("/segments/{segment_id}/edit", update, methods=["POST"], name="segment_update"),
    Route("/segments/{segment_id}/members", add_members, methods=["POST"], name="segment_members"),
    Route("/segments/{segment_id}/delete", delete_form, methods=["GET"], name="segment_delete"),
    Route("/segments/{segment_id}/delete", delete, methods=["POST"], name="segment_delete_post"),
]
