"""`engage import customers|orders FILE`: queues the import in the service's database and runs
it in this process (or follows it while a running service's runner holds it)."""

import asyncio
from collections.abc import Callable
from pathlib import Path

from bson import ObjectId
from bson.errors import InvalidId

from api.database import init_database, make_client
from api.settings import Settings
from domain import imports
from domain.errors import DomainError
from domain.jobs import Job, JobRunner, JobStatus
from domain.projects import Project

KINDS = {"customers": imports.import_customers, "orders": imports.import_orders}
Echo = Callable[[str], object]
# Row problems printed at the end; job(id) { rowErrors } lists them all.
PRINTED_ROW_ERRORS = 20
# How often progress is printed while another runner holds the job.
POLL_SECONDS = 1.0


class ImportCommandError(Exception):
    """Why the command did nothing, in one line for the terminal."""


def read_file(path: Path, limit: int) -> bytes:
    """The file, refused before reading when it is larger than an import may be."""
    try:
        if path.stat().st_size > limit:
            raise ImportCommandError(
                f"{path} is larger than {limit:,} bytes (ENGAGE_IMPORT_MAX_BYTES)"
            )
        return path.read_bytes()
    except OSError as error:
        raise ImportCommandError(f"cannot read {path}: {error.strerror}") from None


async def find_project(given: str) -> Project:
    """A project by id, or by a name exactly one project has."""
    try:
        found = await Project.get(ObjectId(given))
    except (InvalidId, TypeError):
        found = None
    if found is not None:
        return found
    named = await Project.find({"name": given}).to_list(2)
    if len(named) != 1:
        problem = "no project has" if not named else "several projects have"
        raise ImportCommandError(f"{problem} the id or name {given!r}; give its id")
    return named[0]


def describe(job: Job) -> str:
    counts = imports.counts_of(job)
    return (
        f"{job.done:,} of {job.total:,} rows: {counts.imported:,} imported, "
        f"{counts.unchanged:,} already there, {counts.failed:,} skipped"
    )


async def _follow(job: Job, echo: Echo) -> Job:
    runner = JobRunner()
    while True:
        leased = await runner.lease_next(only=job.id)
        if leased is not None:
            await runner.run_job(leased)
        current = await Job.get(job.id)
        assert current is not None
        if current.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return current
        echo(describe(current))
        await asyncio.sleep(POLL_SECONDS)


async def run_import(
    uri: str,
    settings: Settings,
    kind: str,
    path: Path,
    project: str,
    apply_effects: bool,
    echo: Echo = print,
) -> Job:
    data = await asyncio.to_thread(read_file, path, settings.import_max_bytes)
    client = make_client(uri)
    try:
        await init_database(client, settings.database)
        target = await find_project(project)
        try:
            job = await KINDS[kind](
                target.key, data, apply_effects=apply_effects, max_bytes=settings.import_max_bytes
            )
        except DomainError as error:
            raise ImportCommandError(
                "; ".join(f"{p.message} ({p.code})" for p in error.problems)
            ) from None
        echo(f"import {job.key}: {job.total:,} rows from {path.name} into {target.name}")
        finished = await _follow(job, echo)
        page = await imports.list_row_errors(target.key, job.key, PRINTED_ROW_ERRORS, None)
        for problem in page.items:
            echo(f"row {problem.row}: {problem.field or '-'}: {problem.message} ({problem.code})")
        echo(f"{finished.status.value}: {describe(finished)}")
        for failure in finished.errors:
            echo(f"failed: {failure}")
        return finished
    finally:
        await client.close()
