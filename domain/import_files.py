"""Uploaded import files: kept as chunks in the database so any runner can resume the job, and
read back as numbered records from JSON lines or CSV."""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import Document
from bson import Binary
from pydantic import Field
from pymongo import IndexModel

from domain.bulk import insert_new
from domain.common import utc_now
from domain.errors import DomainError
from domain.import_errors import DataImportError

# Well under MongoDB's 16 MB document limit, and small enough to insert in one round trip.
CHUNK_BYTES = 1024 * 1024
JSONL = "JSONL"
CSV = "CSV"


class ImportChunk(Document):
    """One slice of an uploaded file; `seq` orders them."""

    project_id: str
    job_id: str
    seq: int
    data: bytes
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "import_chunks"
        indexes = [
            IndexModel(
                [("project_id", 1), ("job_id", 1), ("seq", 1)],
                unique=True,
                name="project_job_seq_unique",
            ),
        ]


@dataclass(frozen=True)
class Record:
    """One record of a file: `row` is the line it starts on (a CSV header is line 1)."""

    row: int
    values: dict[str, Any] | None
    # Why the line could not be read as a record; the record is then None.
    unreadable: str = ""


def detect_format(text: str) -> str:
    """JSON lines when the first thing in the file is an object, CSV otherwise."""
    return JSONL if text.lstrip().startswith("{") else CSV


def decode(data: bytes) -> str:
    try:
        # A byte order mark is what spreadsheet programs put before a CSV export.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(
            DataImportError.INVALID_FILE, "the file is not UTF-8 text", "file"
        ) from None


def read_records(text: str, file_format: str) -> Iterator[Record]:
    """Every record of the file in order, blank lines skipped."""
    if file_format == JSONL:
        yield from _json_lines(text)
    else:
        yield from _csv_rows(text)


def _json_lines(text: str) -> Iterator[Record]:
    for number, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            yield Record(number, None, "the line is not valid JSON")
            continue
        if not isinstance(value, dict):
            yield Record(number, None, "the line is not a JSON object")
            continue
        yield Record(number, value)


def csv_header(text: str) -> list[str]:
    reader = csv.reader(io.StringIO(text))
    try:
        return [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error):
        return []


def _csv_rows(text: str) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error):
        return
    started = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Record(started, None, f"the line is not valid CSV: {error}")
            started = reader.line_num + 1
            continue
        row, started = started, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield Record(row, None, f"the row has {len(cells)} cells, the header {len(header)}")
            continue
        # An empty cell means the field is absent, as a missing key does in JSON lines.
        yield Record(row, {name: cell for name, cell in zip(header, cells, strict=True) if cell})


async def store_file(project_id: str, job_id: str, data: bytes) -> None:
    """Writes the file's chunks; a retried store inserts only what is missing."""
    chunks = [
        ImportChunk(
            project_id=project_id, job_id=job_id, seq=seq, data=data[start : start + CHUNK_BYTES]
        ).model_dump(exclude={"id", "revision_id"})
        for seq, start in enumerate(range(0, max(len(data), 1), CHUNK_BYTES))
    ]
    for chunk in chunks:
        chunk["data"] = Binary(chunk["data"])
    await insert_new(ImportChunk.get_pymongo_collection(), chunks)


async def load_file(project_id: str, job_id: str) -> bytes:
    rows = (
        await ImportChunk.get_pymongo_collection()
        .find({"project_id": project_id, "job_id": job_id})
        .sort("seq", 1)
        .to_list()
    )
    return b"".join(bytes(row["data"]) for row in rows)


async def delete_file(project_id: str, job_id: str) -> None:
    await ImportChunk.get_pymongo_collection().delete_many(
        {"project_id": project_id, "job_id": job_id}
    )
